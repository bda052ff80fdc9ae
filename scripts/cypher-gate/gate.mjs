#!/usr/bin/env node
// cypher-gate: checks that every Cypher statement ign-setup sends is valid
// Cypher for Neo4j, by running it through Neo4j's own Cypher front-end (the
// parser and semantic analysis bundled in @neo4j-cypher/language-support)
// under both Cypher 5 and Cypher 25.
//
//   node scripts/cypher-gate/gate.mjs [--log FILE]... [--migrations DIR]...
//
// --log FILE        a query log written with IGN_SETUP_QUERY_LOG: one JSON
//                   object a line, {"query", "params", "source"}. Only
//                   "source": "tool" statements are checked; "migration" ones
//                   are user content (tests send broken ones on purpose).
//                   Identical (query, params) pairs are checked once.
// --migrations DIR  every *.cypher file under DIR, cut into statements at
//                   top-level `;` the way ign-setup's migration runner cuts
//                   them; each `$name` in a statement counts as a parameter.
//
// Each statement is linted as `CYPHER 5 <text>` and as `CYPHER 25 <text>`,
// with its parameters declared and with the function and procedure registries
// the package bundles for each language version, so unknown functions and
// procedures are errors. Errors fail; warnings fail when they report a
// deprecation; other warnings are printed and do not fail. Labels,
// relationship types and property keys are not declared, so the linter does
// not check them (there is no database to compare them with).
//
// The last line printed is `N passed, M failed`, counting statement × version
// pairs. Exit status: 0 when nothing failed; 1 when something failed, when a
// log held no tool statement at all (the capture is broken), or when an input
// is unreadable; 2 for a usage error.

import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const PREFIXES = ['CYPHER 5', 'CYPHER 25'];
const SEVERITY = { 1: 'error', 2: 'warning', 3: 'info', 4: 'hint' };
const DEPRECATED_TAG = 2; // DiagnosticTag.Deprecated in the LSP types

function usage(message) {
  if (message) console.error(`cypher-gate: ${message}`);
  console.error('usage: node scripts/cypher-gate/gate.mjs [--log FILE]... [--migrations DIR]...');
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { logs: [], migrations: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) usage(`${arg} needs a value`);
      return argv[++i];
    };
    if (arg === '--log') opts.logs.push(value());
    else if (arg === '--migrations') opts.migrations.push(value());
    else if (arg.startsWith('--log=')) opts.logs.push(arg.slice(6));
    else if (arg.startsWith('--migrations=')) opts.migrations.push(arg.slice(13));
    else if (arg === '-h' || arg === '--help') usage();
    else usage(`unknown argument: ${arg}`);
  }
  if (opts.logs.length === 0 && opts.migrations.length === 0) {
    usage('give at least one --log or --migrations');
  }
  return opts;
}

// ---------------------------------------------------------------------------
// Inputs. A statement is { text, params, origin } where origin says where it
// came from for the report.

/** The tool statements of one query log, or throws on a malformed line. */
function readLog(file) {
  const statements = [];
  const lines = readFileSync(file, 'utf8').split('\n');
  lines.forEach((raw, index) => {
    if (raw.trim() === '') return;
    const where = `${file}:${index + 1}`;
    let entry;
    try {
      entry = JSON.parse(raw);
    } catch (e) {
      throw new Error(`${where}: not a JSON object: ${e.message}`);
    }
    if (entry === null || typeof entry !== 'object' || typeof entry.query !== 'string') {
      throw new Error(`${where}: a log line needs a string "query"`);
    }
    const params = entry.params ?? [];
    if (!Array.isArray(params) || !params.every((p) => typeof p === 'string')) {
      throw new Error(`${where}: "params" must be a list of names`);
    }
    if (entry.source === 'migration') return;
    if (entry.source !== 'tool') {
      throw new Error(`${where}: unknown "source" ${JSON.stringify(entry.source)}`);
    }
    statements.push({ text: entry.query, params, origin: `log ${where}` });
  });
  return statements;
}

/** Every *.cypher file under dir, sorted, recursively. */
function cypherFiles(dir) {
  const found = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...cypherFiles(full));
    else if (entry.isFile() && entry.name.endsWith('.cypher')) found.push(full);
  }
  return found.sort();
}

/**
 * Cuts Cypher text into statements at `;` outside string literals ('..' and
 * ".." with backslash escapes), backtick names and comments (// and /* *\/).
 * Each statement is trimmed of the whitespace and comments around it; pieces
 * that hold nothing else are dropped. This is the same cut as ign-setup's
 * migration runner (src/migrations/split.rs), so what is linted is what runs.
 * Returns [{ text, line, column }]: the 1-based line and 0-based column of
 * each statement's first token. Throws when a string, name or comment is never closed.
 */
export function splitStatements(source) {
  const statements = [];
  let state = 'code'; // code | line-comment | block-comment | ' | " | `
  let openedOn = 0;
  let line = 1;
  let lineStart = 0; // index of the current line's first character
  let start = null; // { index, line, column } of the current statement's first token
  let end = 0; // just past its last token

  const push = () => {
    if (start !== null) {
      const text = source.slice(start.index, end).trim();
      if (text !== '') statements.push({ text, line: start.line, column: start.column });
    }
    start = null;
  };

  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    const next = source[i + 1];
    if (state === 'code') {
      if (c === ';') push();
      else if (c === '/' && next === '/') {
        state = 'line-comment';
        i++;
      } else if (c === '/' && next === '*') {
        state = 'block-comment';
        openedOn = line;
        i++;
      } else if (!/\s/.test(c)) {
        if (start === null) start = { index: i, line, column: i - lineStart };
        end = i + 1;
        if (c === "'" || c === '"' || c === '`') {
          state = c;
          openedOn = line;
        }
      }
    } else if (state === 'line-comment') {
      if (c === '\n') state = 'code';
    } else if (state === 'block-comment') {
      if (c === '*' && next === '/') {
        state = 'code';
        i++;
      }
    } else {
      // Inside a quoted string or name. Backslash escapes exist in strings
      // only; a doubled quote closes and reopens, which keeps us inside.
      if (c === '\\' && state !== '`') {
        if (next === '\n') {
          line++;
          lineStart = i + 2;
        }
        i++;
      } else if (c === state) {
        state = 'code';
      }
      end = Math.min(i + 1, source.length);
    }
    if (c === '\n') {
      line++;
      lineStart = i + 1;
    }
  }

  if (state !== 'code' && state !== 'line-comment') {
    const what = state === 'block-comment' ? 'block comment /*' : `${state} quote`;
    throw new Error(`the ${what} opened on line ${openedOn} is never closed`);
  }
  push();
  return statements;
}

// One token of Cypher that can hide a `$`: strings, names, comments; or a
// parameter itself: $name, $0, $`quoted name`.
const PARAM_SCAN =
  /'(?:[^'\\]|\\[\s\S])*'|"(?:[^"\\]|\\[\s\S])*"|\/\/[^\n]*|\/\*[\s\S]*?\*\/|`(?:[^`]|``)*`|\$(`(?:[^`]|``)*`|[\p{L}\p{N}_]+)/gu;

/** The parameter names a statement uses, outside strings and comments. */
export function parametersIn(text) {
  const names = new Set();
  for (const match of text.matchAll(PARAM_SCAN)) {
    const name = match[1];
    if (name === undefined) continue;
    names.add(name.startsWith('`') ? name.slice(1, -1).replaceAll('``', '`') : name);
  }
  return [...names];
}

/**
 * The statements of every *.cypher file under dir. A file that cannot be
 * split is reported in problems and the other files are still read.
 */
function readMigrations(dir, problems) {
  const files = cypherFiles(dir);
  if (files.length === 0) problems.push(`${dir}: no .cypher files found`);
  const statements = [];
  for (const file of files) {
    let pieces;
    try {
      pieces = splitStatements(readFileSync(file, 'utf8'));
    } catch (e) {
      problems.push(`${file}: ${e.message}`);
      continue;
    }
    for (const { text, line, column } of pieces) {
      const origin = `migration ${file}:${line}`;
      statements.push({ text, params: parametersIn(text), origin, file, line, column });
    }
  }
  return statements;
}

// ---------------------------------------------------------------------------
// Linting.

async function loadLinter() {
  try {
    return await import('@neo4j-cypher/language-support');
  } catch (e) {
    console.error(`cypher-gate: cannot load @neo4j-cypher/language-support (${e.message})`);
    console.error('cypher-gate: run scripts/cypher-gate/install.sh first');
    process.exit(1);
  }
}

/** The bundled function and procedure registries, per language version. */
function bundledRegistries(testData) {
  const schema = testData?.mockSchema;
  const functions = {};
  const procedures = {};
  for (const version of PREFIXES) {
    const fns = schema?.functions?.[version];
    const procs = schema?.procedures?.[version];
    if (!fns || !procs || Object.keys(fns).length === 0 || Object.keys(procs).length === 0) {
      throw new Error(`the package bundles no function/procedure registry for ${version}`);
    }
    functions[version] = fns;
    procedures[version] = procs;
  }
  return { functions, procedures };
}

/** Whether a diagnostic fails the gate: errors, and deprecation warnings. */
function fails(diagnostic) {
  const severity = diagnostic.severity ?? 1;
  if (severity === 1) return true;
  if (severity !== 2) return false;
  return /deprecated/i.test(diagnostic.message) || (diagnostic.tags ?? []).includes(DEPRECATED_TAG);
}

/**
 * Where a diagnostic is: line:col in the statement, or in the migration file
 * it was cut from. The linted text starts with the `CYPHER n ` prefix.
 */
function position(diagnostic, prefix, statement) {
  const { line, character } = diagnostic.range.start;
  const col = Math.max(line === 0 ? character - (prefix.length + 1) : character, 0);
  if (statement.file) {
    const fileCol = line === 0 ? statement.column + col : col;
    return `${statement.file}:${statement.line + line}:${fileCol + 1}`;
  }
  return `statement ${line + 1}:${col + 1}`;
}

function makeLinter({ lintCypherQuery, parseStatementsStrs }, registries) {
  return function lint(statement, prefix) {
    const schema = {
      ...registries,
      // Declared with any value: the linter only checks that a name is known.
      parameters: Object.fromEntries(statement.params.map((p) => [p, null])),
    };
    const { diagnostics } = lintCypherQuery(`${prefix} ${statement.text}`, schema, {
      consoleCommandsEnabled: false,
    });
    const results = diagnostics.map((d) => ({
      severity: SEVERITY[d.severity ?? 1] ?? 'error',
      message: d.message,
      where: position(d, prefix, statement),
      fails: fails(d),
    }));
    // Neo4j runs one statement per query: more than one is an error the
    // linter itself does not report.
    if (parseStatementsStrs(statement.text).length > 1) {
      results.push({
        severity: 'error',
        message: 'more than one statement in one query (Neo4j runs one statement per query)',
        where: 'statement',
        fails: true,
      });
    }
    return results;
  };
}

/**
 * The package swallows any exception of its semantic analysis and then
 * reports nothing, which would pass every statement. A statement with a known
 * semantic error and a known deprecation proves both the analysis and the
 * registries are live before anything is trusted.
 */
function checkLinterIsLive(lint) {
  const canary = { text: 'MATCH (n) RETURN id(n) AS i, undefinedVariable', params: [] };
  for (const prefix of PREFIXES) {
    const messages = lint(canary, prefix).map((d) => d.message);
    const semantic = messages.some((m) => /undefinedVariable.* not defined/.test(m));
    const registry = messages.some((m) => /^Function id is deprecated/.test(m));
    if (!semantic || !registry) {
      throw new Error(
        `the linter is not working under ${prefix}: a known-bad statement gave ` +
          `${JSON.stringify(messages)} (semantic analysis ${semantic ? 'ok' : 'silent'}, ` +
          `function registry ${registry ? 'ok' : 'silent'})`,
      );
    }
  }
}

function indent(text, by = '    ') {
  return text
    .split('\n')
    .map((l) => by + l)
    .join('\n');
}

// ---------------------------------------------------------------------------

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const problems = []; // fatal input problems: reported, and the run fails

  const tool = [];
  let toolLines = 0;
  const seen = new Set();
  for (const file of opts.logs) {
    let statements;
    try {
      statements = readLog(file);
    } catch (e) {
      problems.push(e.code === 'ENOENT' ? `${file}: no such log` : e.message);
      continue;
    }
    toolLines += statements.length;
    for (const s of statements) {
      const key = JSON.stringify([s.text, [...s.params].sort()]);
      if (seen.has(key)) continue;
      seen.add(key);
      tool.push(s);
    }
  }
  if (opts.logs.length > 0 && toolLines === 0) {
    problems.push(
      `no tool statement in ${opts.logs.join(', ')}: the query log capture is broken ` +
        '(was IGN_SETUP_QUERY_LOG set for the test run?)',
    );
  }

  const migrations = [];
  for (const dir of opts.migrations) {
    try {
      if (!statSync(dir).isDirectory()) throw new Error(`${dir}: not a directory`);
      migrations.push(...readMigrations(dir, problems));
    } catch (e) {
      problems.push(e.code === 'ENOENT' ? `${dir}: no such directory` : e.message);
    }
  }

  const linter = await loadLinter();
  const lint = makeLinter(linter, bundledRegistries(linter.testData));
  checkLinterIsLive(lint);

  let passed = 0;
  let failed = 0;
  let failingStatements = 0;
  let notes = 0;
  for (const statement of [...tool, ...migrations]) {
    const failures = [];
    const remarks = [];
    for (const prefix of PREFIXES) {
      const diagnostics = lint(statement, prefix);
      if (diagnostics.some((d) => d.fails)) {
        failed++;
        failures.push({ prefix, diagnostics });
      } else {
        passed++;
        if (diagnostics.length > 0) remarks.push({ prefix, diagnostics });
      }
    }
    if (failures.length > 0) {
      failingStatements++;
      const params = statement.params.length ? ` (params: ${statement.params.join(', ')})` : '';
      console.log(`FAIL ${statement.origin}${params}`);
      console.log(indent(statement.text));
      for (const { prefix, diagnostics } of failures) {
        console.log(`  ${prefix}:`);
        for (const d of diagnostics) {
          const mark = !d.fails
            ? `${d.severity} (does not fail)`
            : d.severity === 'error'
              ? 'error'
              : `${d.severity} (deprecation)`;
          console.log(`    - ${mark} at ${d.where}: ${d.message.replace(/\n/g, '\n      ')}`);
        }
      }
      console.log('');
    }
    for (const { prefix, diagnostics } of remarks) {
      for (const d of diagnostics) {
        notes++;
        console.log(`note: ${statement.origin} under ${prefix}: ${d.severity} at ${d.where}: ${d.message}`);
      }
    }
  }

  for (const p of problems) console.log(`error: ${p}`);
  console.log(
    `cypher-gate: ${tool.length} distinct tool statements (of ${toolLines} logged), ` +
      `${migrations.length} migration statements, each under ${PREFIXES.join(' and ')}; ` +
      `failing statements: ${failingStatements}, non-failing warnings: ${notes}, ` +
      `input errors: ${problems.length}`,
  );
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed > 0 || problems.length > 0 ? 1 : 0);
}

// Run when executed, not when imported (the splitter is importable).
if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main().catch((e) => {
    console.error(`cypher-gate: ${e.message}`);
    process.exit(1);
  });
}
