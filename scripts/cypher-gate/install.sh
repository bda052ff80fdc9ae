#!/usr/bin/env bash
# install.sh: installs the Cypher linter the cypher gate runs (the exact
# @neo4j-cypher/language-support version pinned in package-lock.json) into
# scripts/cypher-gate/node_modules. Does nothing when that install is already
# there and newer than package.json and package-lock.json, so it is safe to
# run before every use of the gate.
#
#   scripts/cypher-gate/install.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "cypher-gate: node and npm are needed: install Node.js 20+ and npm" >&2
  exit 1
fi
major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$major" -lt 20 ]; then
  echo "cypher-gate: Node.js $(node --version) is too old: install Node.js 20+ and npm" >&2
  exit 1
fi

# Written after a complete install; a failed or interrupted one leaves none.
stamp=node_modules/.cypher-gate-installed
if [ -f "$stamp" ] && [ ! package-lock.json -nt "$stamp" ] && [ ! package.json -nt "$stamp" ]; then
  exit 0
fi

echo "cypher-gate: installing the Cypher linter (npm ci)" >&2
# The package declares a newer Node in its engines field than the gate needs:
# the parts the gate uses run on Node 20, and gate.mjs checks at start that
# the linter really reports errors, so the engines warning is not fatal here.
npm ci --silent --no-audit --no-fund --engine-strict=false
touch "$stamp"
