//! Telling schema statements from data statements, and grouping them into
//! transactions.
//!
//! Neo4j refuses a transaction that both changes the schema (indexes,
//! constraints) and writes data, and it runs schema changes best one per
//! transaction. `CALL { … } IN TRANSACTIONS` (and 4.x's `USING PERIODIC
//! COMMIT`) commits batches by itself and is only accepted in an auto-commit
//! transaction of its own. The engine therefore needs every statement
//! labelled before it runs anything; this module does that from the
//! statement's keywords alone (skipping a leading `CYPHER 5` / `CYPHER 25`,
//! `EXPLAIN` or `PROFILE`), so it works without a database and is cheap enough
//! to run while a plan is being printed.

use std::fmt;

/// Which kind of transaction a statement has to run in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatementKind {
    /// Creates or drops an index or constraint, or changes the graph type.
    Schema,
    /// Commits by itself, in batches (`CALL { … } IN TRANSACTIONS`): runs
    /// alone in an auto-commit transaction. A failure part-way leaves the
    /// batches before it committed; the pre-upgrade backup covers that.
    AutoCommit,
    /// Anything else: reads, writes, procedure calls.
    Data,
}

impl fmt::Display for StatementKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StatementKind::Schema => "schema",
            StatementKind::AutoCommit => "auto-commit",
            StatementKind::Data => "data",
        })
    }
}

/// One statement of a migration file, ready to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The Cypher text, without its trailing `;`.
    pub text: String,
    /// Whether it changes the schema or touches data.
    pub kind: StatementKind,
    /// 1-based line in its file where the statement starts.
    pub line: usize,
}

impl Statement {
    /// Labels `text` with its kind.
    pub fn new(text: impl Into<String>, line: usize) -> Statement {
        let text = text.into();
        let kind = classify(&text);
        Statement { text, kind, line }
    }
}

/// Statements that run together in one transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxGroup<'a> {
    /// The kind shared by every statement in the group.
    pub kind: StatementKind,
    /// The statements, in file order. A schema or auto-commit group always
    /// holds exactly one.
    pub statements: &'a [Statement],
}

/// Index kinds Neo4j accepts between `CREATE` and `INDEX`.
const INDEX_TYPES: &[&str] = &[
    "RANGE", "TEXT", "POINT", "LOOKUP", "FULLTEXT", "VECTOR", "BTREE",
];

/// Procedures of Neo4j 4.x that change the schema.
const SCHEMA_PROCEDURES: &[&str] = &[
    "db.createindex",
    "db.createuniquepropertyconstraint",
    "db.createnodekey",
    "db.index.fulltext.createnodeindex",
    "db.index.fulltext.createrelationshipindex",
    "db.index.fulltext.drop",
];

/// True when the statement holds `} IN [n] [CONCURRENT] TRANSACTIONS`
/// (outside strings, quoted names and comments): a subquery that commits in
/// batches, which Neo4j only runs in an auto-commit transaction.
fn commits_in_batches(stmt: &str) -> bool {
    let code = code_only(stmt);
    let mut rest = code.as_str();
    while let Some(i) = rest.find('}') {
        rest = &rest[i + 1..];
        let mut words = rest.split_whitespace();
        if !words.next().is_some_and(|w| w.eq_ignore_ascii_case("IN")) {
            continue;
        }
        for w in words.take(3) {
            if w.eq_ignore_ascii_case("TRANSACTIONS") {
                return true;
            }
            let batch_size = w.starts_with('$') || w.bytes().all(|b| b.is_ascii_digit());
            if !(batch_size || w.eq_ignore_ascii_case("CONCURRENT")) {
                break;
            }
        }
    }
    false
}

/// The statement with strings, quoted names and comments replaced by spaces,
/// so keywords can be searched for without finding them inside text.
fn code_only(stmt: &str) -> String {
    let mut out = String::with_capacity(stmt.len());
    let mut chars = stmt.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' | '`' => {
                let quote = c;
                while let Some(d) = chars.next() {
                    if d == '\\' && quote != '`' {
                        chars.next();
                    } else if d == quote {
                        if quote == '`' && chars.peek() == Some(&'`') {
                            chars.next();
                        } else {
                            break;
                        }
                    }
                }
                out.push(' ');
            }
            '/' if chars.peek() == Some(&'/') => {
                for d in chars.by_ref() {
                    if d == '\n' {
                        break;
                    }
                }
                out.push(' ');
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut prev = ' ';
                for d in chars.by_ref() {
                    if prev == '*' && d == '/' {
                        break;
                    }
                    prev = d;
                }
                out.push(' ');
            }
            c => out.push(c),
        }
    }
    out
}

/// Classifies a statement by its first keywords, ignoring case, whitespace and
/// comments between them.
///
/// Only the keyword sequence matters: `CREATE INDEX` is schema, while
/// `CREATE (n:Index)` is data because a pattern follows `CREATE`.
pub fn classify(stmt: &str) -> StatementKind {
    let mut words = Keywords::new(stmt);
    let mut first = words.next();
    // Prefixes that do not change what the statement is.
    loop {
        match first {
            Some(w) if w.eq_ignore_ascii_case("CYPHER") => {
                words.skip_version();
                first = words.next();
            }
            Some(w) if w.eq_ignore_ascii_case("EXPLAIN") || w.eq_ignore_ascii_case("PROFILE") => {
                first = words.next();
            }
            _ => break,
        }
    }
    if first.is_some_and(|w| w.eq_ignore_ascii_case("USING"))
        && words
            .next()
            .is_some_and(|w| w.eq_ignore_ascii_case("PERIODIC"))
        && words
            .next()
            .is_some_and(|w| w.eq_ignore_ascii_case("COMMIT"))
    {
        return StatementKind::AutoCommit;
    }
    if commits_in_batches(stmt) {
        return StatementKind::AutoCommit;
    }
    let is_schema = match first {
        Some(w) if w.eq_ignore_ascii_case("CREATE") => {
            let mut w = words.next();
            if w.is_some_and(|w| w.eq_ignore_ascii_case("OR")) {
                if !words
                    .next()
                    .is_some_and(|w| w.eq_ignore_ascii_case("REPLACE"))
                {
                    return StatementKind::Data;
                }
                w = words.next();
            }
            match w {
                Some(w) if w.eq_ignore_ascii_case("CONSTRAINT") => true,
                Some(w) if w.eq_ignore_ascii_case("INDEX") => true,
                Some(w) if INDEX_TYPES.iter().any(|t| w.eq_ignore_ascii_case(t)) => words
                    .next()
                    .is_some_and(|w| w.eq_ignore_ascii_case("INDEX")),
                _ => false,
            }
        }
        Some(w) if w.eq_ignore_ascii_case("DROP") => words.next().is_some_and(|w| {
            w.eq_ignore_ascii_case("INDEX") || w.eq_ignore_ascii_case("CONSTRAINT")
        }),
        // Cypher 25 graph types: ALTER CURRENT GRAPH TYPE SET / ADD / ALTER / DROP.
        Some(w) if w.eq_ignore_ascii_case("ALTER") => {
            words
                .next()
                .is_some_and(|w| w.eq_ignore_ascii_case("CURRENT"))
                && words
                    .next()
                    .is_some_and(|w| w.eq_ignore_ascii_case("GRAPH"))
                && words.next().is_some_and(|w| w.eq_ignore_ascii_case("TYPE"))
        }
        // 4.x schema procedures (removed in 5, where the server refuses them).
        Some(w) if w.eq_ignore_ascii_case("CALL") => {
            let name = words.rest_name().to_ascii_lowercase();
            SCHEMA_PROCEDURES.iter().any(|p| name == *p)
        }
        _ => false,
    };
    if is_schema {
        StatementKind::Schema
    } else {
        StatementKind::Data
    }
}

/// Groups statements into the transactions they must run in: every schema
/// statement alone, runs of consecutive data statements together.
///
/// File order is kept, so a data statement that depends on an index created
/// just before it still runs after it.
pub fn group_into_transactions(stmts: &[Statement]) -> Vec<TxGroup<'_>> {
    let mut groups = Vec::new();
    let mut rest = stmts;
    while let Some(first) = rest.first() {
        let len = match first.kind {
            StatementKind::Schema | StatementKind::AutoCommit => 1,
            StatementKind::Data => rest
                .iter()
                .take_while(|s| s.kind == StatementKind::Data)
                .count(),
        };
        let (group, tail) = rest.split_at(len);
        groups.push(TxGroup {
            kind: first.kind,
            statements: group,
        });
        rest = tail;
    }
    groups
}

/// The leading keywords of a statement, skipping whitespace and comments.
///
/// It stops at the first token that is not a bare word, which is all
/// classification needs: schema statements start with several bare words.
struct Keywords<'a> {
    rest: &'a str,
}

impl<'a> Keywords<'a> {
    fn new(text: &'a str) -> Self {
        Keywords { rest: text }
    }

    fn skip_blanks(&mut self) {
        loop {
            let trimmed = self.rest.trim_start();
            if let Some(after) = trimmed.strip_prefix("//") {
                self.rest = after.find('\n').map_or("", |i| &after[i + 1..]);
            } else if let Some(after) = trimmed.strip_prefix("/*") {
                self.rest = after.find("*/").map_or("", |i| &after[i + 2..]);
            } else {
                self.rest = trimmed;
                return;
            }
        }
    }
}

impl Keywords<'_> {
    /// After `CYPHER`: skips a language version such as `5` or `25`.
    fn skip_version(&mut self) {
        self.skip_blanks();
        let len = self
            .rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(self.rest.len());
        self.rest = &self.rest[len..];
    }

    /// A dotted procedure name at this point (`db.index.fulltext.drop`).
    fn rest_name(&mut self) -> &str {
        self.skip_blanks();
        let len = self
            .rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
            .unwrap_or(self.rest.len());
        &self.rest[..len]
    }
}

impl<'a> Iterator for Keywords<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        self.skip_blanks();
        let len = self
            .rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(self.rest.len());
        if len == 0 {
            // Not a bare word: a pattern, a quoted name or the end. Stop here
            // for good so no later word is mistaken for a leading keyword.
            self.rest = "";
            return None;
        }
        let (word, rest) = self.rest.split_at(len);
        self.rest = rest;
        Some(word)
    }
}

#[cfg(test)]
mod tests {
    use super::StatementKind::{AutoCommit, Data, Schema};
    use super::*;

    #[test]
    fn create_index_and_constraint_are_schema() {
        for stmt in [
            "CREATE INDEX function_category IF NOT EXISTS FOR (f:Function) ON (f.category)",
            "CREATE CONSTRAINT function_name IF NOT EXISTS FOR (f:Function) REQUIRE f.name IS UNIQUE",
            "CREATE INDEX FOR (n:A) ON (n.x)",
            "CREATE RANGE INDEX r FOR (n:A) ON (n.x)",
            "CREATE TEXT INDEX t FOR (n:A) ON (n.x)",
            "CREATE POINT INDEX p FOR (n:A) ON (n.x)",
            "CREATE LOOKUP INDEX l FOR (n) ON EACH labels(n)",
            "CREATE FULLTEXT INDEX f FOR (n:A) ON EACH [n.x]",
            "CREATE VECTOR INDEX v FOR (n:A) ON (n.embedding)",
            "CREATE BTREE INDEX b FOR (n:A) ON (n.x)",
            "CREATE OR REPLACE INDEX i FOR (n:A) ON (n.x)",
            "CREATE OR REPLACE CONSTRAINT c FOR (n:A) REQUIRE n.x IS UNIQUE",
            "DROP INDEX function_category IF EXISTS",
            "DROP CONSTRAINT function_name",
        ] {
            assert_eq!(classify(stmt), Schema, "{stmt}");
        }
    }

    #[test]
    fn case_and_whitespace_do_not_matter() {
        for stmt in [
            "create index i for (n:A) on (n.x)",
            "Create Constraint c For (n:A) Require n.x Is Unique",
            "CREATE\nINDEX i FOR (n:A) ON (n.x)",
            "  \t\n CREATE \r\n\t TEXT \n INDEX t FOR (n:A) ON (n.x)",
            "drop\nconstraint c",
            "create or\nreplace range index r for (n:A) on (n.x)",
        ] {
            assert_eq!(classify(stmt), Schema, "{stmt:?}");
        }
    }

    #[test]
    fn comments_before_and_between_keywords_are_skipped() {
        for stmt in [
            "// speeds up lookups by category\nCREATE INDEX i FOR (n:A) ON (n.x)",
            "/* why: dedupe */ CREATE CONSTRAINT c FOR (n:A) REQUIRE n.x IS UNIQUE",
            "// a\n// b\n/* c */\n  CREATE /* kind */ INDEX i FOR (n:A) ON (n.x)",
            "CREATE // note\n INDEX i FOR (n:A) ON (n.x)",
            "DROP/**/INDEX i",
        ] {
            assert_eq!(classify(stmt), Schema, "{stmt:?}");
        }
    }

    #[test]
    fn writes_reads_and_calls_are_data() {
        for stmt in [
            "CREATE (n:Index {name: 'x'})",
            "CREATE (n:Constraint)",
            "CREATE(n:Index)",
            "CREATE (:INDEX)-[:CONSTRAINT]->(:INDEX)",
            "create (n)",
            "MATCH (f:Function) WHERE f.module IS NULL SET f.module = 'tag'",
            "MERGE (p:Pattern {name: 'polling'})",
            "CALL db.awaitIndexes()",
            "CALL db.awaitIndexes(300)",
            "SHOW INDEXES",
            "SHOW CONSTRAINTS",
            "RETURN 1",
            "UNWIND [1,2] AS x CREATE (:N {x: x})",
            "MATCH (n) CREATE INDEX",
            "DROP DATABASE foo",
            "CREATE DATABASE foo",
            "CREATE OR REPLACE DATABASE foo",
            "CREATE OR (n)",
            "CREATE RANGE (n)",
            "CREATE TEXT CONSTRAINT c",
            "CREATE INDEXED (n)",
            "CREATE `INDEX` (n)",
            "CREATED INDEX",
            "// CREATE INDEX i FOR (n:A) ON (n.x)\nMATCH (n) RETURN n",
            "/* CREATE INDEX */ RETURN 1",
            "",
            "   ",
            "// only a comment",
            "/* unterminated",
        ] {
            assert_eq!(classify(stmt), Data, "{stmt:?}");
        }
    }

    #[test]
    fn statement_new_classifies() {
        let s = Statement::new("CREATE INDEX i FOR (n:A) ON (n.x)", 4);
        assert_eq!(s.kind, Schema);
        assert_eq!(s.line, 4);
        assert_eq!(Statement::new("RETURN 1", 1).kind, Data);
    }

    fn stmts(kinds: &[StatementKind]) -> Vec<Statement> {
        kinds
            .iter()
            .enumerate()
            .map(|(i, &kind)| Statement {
                text: format!("stmt {i}"),
                kind,
                line: i + 1,
            })
            .collect()
    }

    fn shape(groups: &[TxGroup<'_>]) -> Vec<(StatementKind, Vec<usize>)> {
        groups
            .iter()
            .map(|g| (g.kind, g.statements.iter().map(|s| s.line).collect()))
            .collect()
    }

    #[test]
    fn grouping_of_an_empty_list_is_empty() {
        assert!(group_into_transactions(&[]).is_empty());
    }

    #[test]
    fn schema_statements_each_get_their_own_transaction() {
        let s = stmts(&[Schema, Schema, Schema]);
        assert_eq!(
            shape(&group_into_transactions(&s)),
            [(Schema, vec![1]), (Schema, vec![2]), (Schema, vec![3])]
        );
    }

    #[test]
    fn consecutive_data_statements_share_a_transaction() {
        let s = stmts(&[Data, Data, Schema, Data, Schema, Schema, Data, Data, Data]);
        assert_eq!(
            shape(&group_into_transactions(&s)),
            [
                (Data, vec![1, 2]),
                (Schema, vec![3]),
                (Data, vec![4]),
                (Schema, vec![5]),
                (Schema, vec![6]),
                (Data, vec![7, 8, 9]),
            ]
        );
    }

    #[test]
    fn grouping_a_mixed_file_keeps_order() {
        let text = "\
// constraints first
CREATE CONSTRAINT c IF NOT EXISTS FOR (f:Function) REQUIRE f.name IS UNIQUE;
create index i if not exists for (f:Function) on (f.category);
CALL db.awaitIndexes();
MATCH (f:Function) SET f.seen = true;
CREATE (n:Index {name: 'not schema'});
/* and one more */
DROP INDEX old_index IF EXISTS;
";
        let statements: Vec<Statement> =
            crate::migrations::split::split_statements_with_lines(text)
                .unwrap()
                .into_iter()
                .map(|s| Statement::new(s.text, s.line))
                .collect();
        let kinds: Vec<_> = statements.iter().map(|s| s.kind).collect();
        assert_eq!(kinds, [Schema, Schema, Data, Data, Data, Schema]);
        assert_eq!(
            shape(&group_into_transactions(&statements)),
            [
                (Schema, vec![2]),
                (Schema, vec![3]),
                (Data, vec![4, 5, 6]),
                (Schema, vec![8]),
            ]
        );
    }

    #[test]
    fn version_and_explain_prefixes_are_skipped() {
        for stmt in [
            "CYPHER 5 CREATE INDEX fn_name IF NOT EXISTS FOR (f:Function) ON (f.name)",
            "CYPHER 25 CREATE CONSTRAINT c FOR (n:A) REQUIRE n.x IS UNIQUE",
            "cypher 25\nDROP INDEX i",
            "CYPHER CREATE INDEX i FOR (n:A) ON (n.x)",
            "EXPLAIN CREATE INDEX i FOR (n:A) ON (n.x)",
            "CYPHER 5 PROFILE DROP CONSTRAINT c",
            "// why\nCYPHER 25 /* x */ CREATE TEXT INDEX t FOR (n:A) ON (n.x)",
        ] {
            assert_eq!(classify(stmt), Schema, "{stmt:?}");
        }
        assert_eq!(classify("CYPHER 5 MATCH (n) RETURN n"), Data);
        assert_eq!(classify("CYPHER 25 CREATE (n:Index)"), Data);
    }

    #[test]
    fn graph_types_and_old_schema_procedures_are_schema() {
        for stmt in [
            "ALTER CURRENT GRAPH TYPE SET { (:Function => {name :: STRING NOT NULL}) }",
            "alter current graph type drop constraint c",
            "CALL db.index.fulltext.createNodeIndex('fn_ft', ['Function'], ['name'])",
            "CALL db.createIndex('i', ['A'], ['x'], 'native-btree-1.0')",
            "CALL db.index.fulltext.drop('fn_ft')",
        ] {
            assert_eq!(classify(stmt), Schema, "{stmt:?}");
        }
        assert_eq!(
            classify("CALL db.index.fulltext.queryNodes('f', 'x')"),
            Data
        );
        assert_eq!(classify("ALTER USER bob SET PASSWORD 'x'"), Data);
    }

    #[test]
    fn batched_subqueries_commit_on_their_own() {
        for stmt in [
            "MATCH (f:Function) WHERE f.module IS NULL CALL (f) { SET f.module = split(f.name, '.')[1] } IN TRANSACTIONS OF 1000 ROWS",
            "MATCH (n) CALL { WITH n DETACH DELETE n } IN TRANSACTIONS",
            "UNWIND range(1, 10) AS i CALL (i) { CREATE (:N {i: i}) } in 2 concurrent transactions of 5 rows",
            "CALL { MATCH (n) SET n.x = 1 }\n  IN\n  TRANSACTIONS OF $batch ROWS ON ERROR FAIL",
            "CYPHER 25 MATCH (n) CALL (n) { DELETE n } IN CONCURRENT TRANSACTIONS",
            "USING PERIODIC COMMIT 500 LOAD CSV FROM 'file:///f.csv' AS l CREATE (:Function {name: l[0]})",
        ] {
            assert_eq!(classify(stmt), AutoCommit, "{stmt:?}");
        }
        for stmt in [
            "MATCH (n) WHERE n.note = '} IN TRANSACTIONS' RETURN n",
            "MATCH (n) // } IN TRANSACTIONS\nRETURN n",
            "MATCH (n) WHERE n.id IN transactions RETURN n",
            "MATCH (n) CALL { WITH n RETURN n.x AS x } RETURN x IN [1]",
            "MATCH (`} IN TRANSACTIONS`) RETURN 1",
        ] {
            assert_eq!(classify(stmt), Data, "{stmt:?}");
        }
        let statements = [
            Statement::new("MATCH (n) SET n.a = 1", 1),
            Statement::new("MATCH (n) CALL (n) { SET n.b = 1 } IN TRANSACTIONS", 2),
            Statement::new("MATCH (n) SET n.c = 1", 3),
        ];
        assert_eq!(
            shape(&group_into_transactions(&statements)),
            [(Data, vec![1]), (AutoCommit, vec![2]), (Data, vec![3])]
        );
    }
}
