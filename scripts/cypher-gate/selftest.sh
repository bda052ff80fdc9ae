#!/usr/bin/env bash
# selftest.sh: proves the cypher gate can fail. It feeds gate.mjs small query
# logs and a small migrations folder and checks that it rejects exactly the
# statements it must (a syntax error, a deprecated function), ignores the
# statements of user migration files in a log, declares logged parameters,
# cuts migration files only at real `;` separators, passes a log of good
# statements, and fails on an empty log. Prints `selftest: ok` at the end.
#
#   scripts/cypher-gate/selftest.sh     (after scripts/cypher-gate/install.sh)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

fail() {
  echo "selftest: FAILED: $*" >&2
  if [ -f "$tmp/out" ]; then
    echo "--- gate output:" >&2
    cat "$tmp/out" >&2
  fi
  exit 1
}

# A query log line, as ign-setup writes it: log_line SOURCE QUERY [PARAM]...
log_line() {
  node -e '
    const [source, query, ...params] = process.argv.slice(1);
    const line = { query, params, source };
    if (source === "migration") Object.assign(line, { file: "/m/migrations/1.5.0/002_x.cypher", line: 6 });
    console.log(JSON.stringify(line));
  ' "$@"
}

# gate EXPECTED_STATUS ARGS...: runs the gate into $tmp/out, checks its status.
gate() {
  local expected="$1"
  shift
  local status=0
  node "$here/gate.mjs" "$@" >"$tmp/out" 2>&1 || status=$?
  [ "$status" -eq "$expected" ] || fail "gate $* exited $status, expected $expected"
}

# The gate's output mentions TEXT exactly COUNT times (as a fixed string).
mentions() {
  local count
  count="$(grep -cF -- "$2" "$tmp/out" || true)"
  [ "$count" -eq "$1" ] || fail "expected $1 line(s) with '$2', found $count"
}

last_line_is() {
  [ "$(tail -n 1 "$tmp/out")" = "$1" ] || fail "last line is '$(tail -n 1 "$tmp/out")', expected '$1'"
}

good='MATCH (n:Function) RETURN count(n) AS c'
with_param='UNWIND $rows AS row MERGE (f:Function {name: row.name}) RETURN count(f) AS n'
syntax_error='MATCH (n:Function RETURN n'
deprecated='MATCH (n:Function) RETURN id(n) AS i'
user_migration='MATCH (m:Broken RETURN m'

# Migrations whose `;` inside strings, names and comments must not split, one
# of them with a parameter that only the migration text declares.
mkdir -p "$tmp/migrations/9.9.0"
cat >"$tmp/migrations/9.9.0/001_tricky.cypher" <<'CYPHER'
// A comment; with a semicolon.
MATCH (f:Function)
WHERE f.name = 'a;b' OR f.name = "it\"s; fine" OR f.`odd;name` = $limit
SET f.note = 'x'; /* block; comment */
CREATE INDEX function_note IF NOT EXISTS
FOR (f:Function) ON (f.note)
CYPHER
cat >"$tmp/migrations/9.9.0/verify.cypher" <<'CYPHER'
MATCH (f:Function) RETURN count(f) >= 0 AS ok
CYPHER

# 1. Two bad tool statements among good ones: exactly those two fail, the
#    broken user migration in the log is ignored, and a duplicate counts once.
{
  log_line tool "$good"
  log_line tool "$syntax_error"
  log_line tool "$deprecated"
  log_line tool "$with_param" rows
  log_line migration "$user_migration"
  log_line tool "$good"
} >"$tmp/mixed.jsonl"
gate 1 --log "$tmp/mixed.jsonl" --migrations "$tmp/migrations"
mentions 2 'FAIL '
mentions 1 "$syntax_error"
mentions 1 "$deprecated"
mentions 0 "$good"
mentions 0 "$with_param"
mentions 0 "$user_migration"
mentions 0 'Parameter $'
mentions 0 '9.9.0'
grep -q 'Function id is deprecated' "$tmp/out" || fail "the deprecation is not reported"
grep -q "Invalid input 'RETURN'" "$tmp/out" || fail "the syntax error is not reported"
# 4 distinct tool statements + 3 migration statements, each under 2 versions.
last_line_is '10 passed, 4 failed'

# 2. Only good statements: the gate passes.
{
  log_line tool "$good"
  log_line tool "$with_param" rows
  log_line migration "$user_migration"
} >"$tmp/good.jsonl"
gate 0 --log "$tmp/good.jsonl"
mentions 0 'FAIL '
last_line_is '4 passed, 0 failed'

# 3. An empty log means the capture is broken: the gate fails.
: >"$tmp/empty.jsonl"
gate 1 --log "$tmp/empty.jsonl"
grep -q 'no tool statement' "$tmp/out" || fail "an empty log is not reported"
last_line_is '0 passed, 0 failed'

echo 'selftest: ok'
