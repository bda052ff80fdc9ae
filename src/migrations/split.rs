//! Splitting a `.cypher` file into the statements it holds.
//!
//! Neo4j's drivers run one statement per query, so a migration file has to be
//! cut at its `;` separators before anything can run. A `;` only separates
//! statements when it is real Cypher syntax: inside a string literal, a
//! backtick-quoted name or a comment it is just text, so the splitter is a
//! small lexer that knows exactly those four constructs and nothing else.
//!
//! Each statement is trimmed of surrounding whitespace and of comments that
//! come before its first token or after its last one; comments in the middle
//! are kept because Neo4j accepts them. A piece that holds nothing but
//! comments is not a statement and is dropped.

use std::fmt;

/// A statement cut from a file, with the line it starts on so errors can
/// point the user at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitStatement {
    /// The statement text, without its `;` and without leading or trailing
    /// whitespace and comments.
    pub text: String,
    /// 1-based line of the statement's first token.
    pub line: usize,
}

/// A construct that was opened but never closed before the end of the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unterminated {
    /// A `'...'` string literal.
    SingleQuotedString,
    /// A `"..."` string literal.
    DoubleQuotedString,
    /// A `` `...` `` quoted name.
    Backtick,
    /// A `/* ... */` comment.
    BlockComment,
}

impl Unterminated {
    fn describe(self) -> &'static str {
        match self {
            Unterminated::SingleQuotedString => "string literal opened with `'`",
            Unterminated::DoubleQuotedString => "string literal opened with `\"`",
            Unterminated::Backtick => "name quoted with a backtick (`)",
            Unterminated::BlockComment => "block comment opened with `/*`",
        }
    }

    fn closer(self) -> &'static str {
        match self {
            Unterminated::SingleQuotedString => "'",
            Unterminated::DoubleQuotedString => "\"",
            Unterminated::Backtick => "`",
            Unterminated::BlockComment => "*/",
        }
    }
}

/// Why a text could not be split into statements.
///
/// The line is where the offending construct was opened, which is where the
/// user has to look; the end of the file is rarely helpful.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SplitError {
    /// What was left open.
    pub kind: Unterminated,
    /// 1-based line where it was opened.
    pub line: usize,
}

impl fmt::Display for SplitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the {} on line {} is never closed: add the closing `{}`",
            self.kind.describe(),
            self.line,
            self.kind.closer()
        )
    }
}

impl std::error::Error for SplitError {}

/// Splits Cypher text into statements, dropping empty and comment-only ones.
pub fn split_statements(text: &str) -> Result<Vec<String>, SplitError> {
    Ok(split_statements_with_lines(text)?
        .into_iter()
        .map(|s| s.text)
        .collect())
}

/// Like [`split_statements`], but keeps the line each statement starts on.
pub fn split_statements_with_lines(text: &str) -> Result<Vec<SplitStatement>, SplitError> {
    #[derive(Clone, Copy)]
    enum State {
        Code,
        Quoted(Unterminated, usize),
        LineComment,
    }

    // Every delimiter the lexer cares about is ASCII, and no byte of a
    // multi-byte UTF-8 character is ASCII, so walking bytes is exact and every
    // slice boundary chosen below falls on a character boundary.
    let bytes = text.as_bytes();
    let mut statements = Vec::new();
    let mut state = State::Code;
    let mut line = 1;
    // Byte offset and line of the current statement's first token, and the
    // end of its last token; `None` while only whitespace and comments have
    // been seen since the last `;`.
    let mut start: Option<(usize, usize)> = None;
    let mut end = 0;

    let mut push = |start: &mut Option<(usize, usize)>, end: usize| {
        if let Some((from, first_line)) = start.take() {
            let piece = text[from..end].trim();
            if !piece.is_empty() {
                statements.push(SplitStatement {
                    text: piece.to_owned(),
                    line: first_line,
                });
            }
        }
    };

    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let next = bytes.get(i + 1).copied();
        match state {
            State::Code => match b {
                b';' => push(&mut start, end),
                b'/' if next == Some(b'/') => {
                    state = State::LineComment;
                    i += 1;
                }
                b'/' if next == Some(b'*') => {
                    state = State::Quoted(Unterminated::BlockComment, line);
                    i += 1;
                }
                _ if b.is_ascii_whitespace() => {}
                _ => {
                    start.get_or_insert((i, line));
                    end = i + 1;
                    let opened = match b {
                        b'\'' => Some(Unterminated::SingleQuotedString),
                        b'"' => Some(Unterminated::DoubleQuotedString),
                        b'`' => Some(Unterminated::Backtick),
                        _ => None,
                    };
                    if let Some(kind) = opened {
                        state = State::Quoted(kind, line);
                    }
                }
            },
            State::LineComment => {
                if b == b'\n' {
                    state = State::Code;
                }
            }
            State::Quoted(Unterminated::BlockComment, _) => {
                if b == b'*' && next == Some(b'/') {
                    state = State::Code;
                    i += 1;
                }
            }
            State::Quoted(kind, _) => {
                let quote = match kind {
                    Unterminated::SingleQuotedString => b'\'',
                    Unterminated::DoubleQuotedString => b'"',
                    _ => b'`',
                };
                // Backslash escapes exist in string literals only; in a
                // backtick name a backslash is an ordinary character.
                if b == b'\\' && quote != b'`' {
                    if next == Some(b'\n') {
                        line += 1;
                    }
                    i += 1;
                } else if b == quote {
                    // A doubled quote (`''`, ``` `` ```) needs no special
                    // case: closing and immediately reopening leaves the lexer
                    // inside the literal, exactly as an escaped quote would.
                    state = State::Code;
                }
                end = (i + 1).min(bytes.len());
            }
        }
        if b == b'\n' {
            line += 1;
        }
        i += 1;
    }

    if let State::Quoted(kind, opened_on) = state {
        return Err(SplitError {
            kind,
            line: opened_on,
        });
    }
    push(&mut start, end);
    Ok(statements)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn split(text: &str) -> Vec<String> {
        split_statements(text).expect("text should split")
    }

    #[test]
    fn splits_on_semicolons_and_keeps_a_last_statement_without_one() {
        assert_eq!(
            split("MATCH (n) RETURN n;\nCREATE (m:Thing);\nRETURN 1"),
            ["MATCH (n) RETURN n", "CREATE (m:Thing)", "RETURN 1"]
        );
    }

    #[test]
    fn trims_and_drops_empty_statements() {
        assert_eq!(split("  ;;\n RETURN 1 ;  ;\n\t"), ["RETURN 1"]);
        assert!(split("").is_empty());
        assert!(split(" \n\t ").is_empty());
    }

    #[test]
    fn semicolons_inside_strings_do_not_split() {
        assert_eq!(
            split("RETURN 'a;b';RETURN \"c;d\""),
            ["RETURN 'a;b'", "RETURN \"c;d\""]
        );
    }

    #[test]
    fn backslash_escapes_inside_strings() {
        assert_eq!(
            split(r"RETURN 'it\'s; fine'; RETURN 2"),
            [r"RETURN 'it\'s; fine'", "RETURN 2"]
        );
        assert_eq!(
            split(r#"RETURN "say \"hi;\""; RETURN 2"#),
            [r#"RETURN "say \"hi;\"""#, "RETURN 2"]
        );
        assert_eq!(
            split(r"RETURN 'ends with backslash\\'; RETURN 2"),
            [r"RETURN 'ends with backslash\\'", "RETURN 2"]
        );
    }

    #[test]
    fn doubled_quotes_stay_inside_the_literal() {
        assert_eq!(
            split("RETURN 'a'';b'; RETURN 2"),
            ["RETURN 'a'';b'", "RETURN 2"]
        );
        assert_eq!(
            split("RETURN \"a\"\";b\"; RETURN 2"),
            ["RETURN \"a\"\";b\"", "RETURN 2"]
        );
    }

    #[test]
    fn other_quote_kinds_inside_a_string_are_text() {
        assert_eq!(
            split("RETURN \"it's; `x\"; RETURN '\"; //'"),
            ["RETURN \"it's; `x\"", "RETURN '\"; //'"]
        );
    }

    #[test]
    fn backtick_names_hide_semicolons_and_double_backticks_escape() {
        assert_eq!(
            split("MATCH (n:`We;ird`) RETURN n; MATCH (n:`a``;b`) RETURN n"),
            ["MATCH (n:`We;ird`) RETURN n", "MATCH (n:`a``;b`) RETURN n"]
        );
        // A backslash is not an escape inside backticks.
        assert_eq!(
            split(r"MATCH (n:`a\`) RETURN n; RETURN 2"),
            [r"MATCH (n:`a\`) RETURN n", "RETURN 2"]
        );
    }

    #[test]
    fn comments_hide_semicolons_and_quotes() {
        assert_eq!(
            split("RETURN 1 // one; 'two\n + 1; /* a;b ' \" ` */ RETURN 2"),
            ["RETURN 1 // one; 'two\n + 1", "RETURN 2"]
        );
    }

    #[test]
    fn comment_only_statements_are_dropped() {
        assert_eq!(
            split("// header\n/* block */;\n// just a note;\nRETURN 1;\n// trailer"),
            ["RETURN 1"]
        );
        assert!(split("// nothing here\n/* nor; here */").is_empty());
    }

    #[test]
    fn leading_and_trailing_comments_are_trimmed_inner_ones_kept() {
        assert_eq!(
            split("/* lead */ // lead\nMATCH (n) /* inner */ RETURN n // trailing\n;"),
            ["MATCH (n) /* inner */ RETURN n"]
        );
    }

    #[test]
    fn slash_and_star_alone_are_code() {
        assert_eq!(split("RETURN 4 / 2 * 3;"), ["RETURN 4 / 2 * 3"]);
        assert_eq!(split("RETURN 1/2"), ["RETURN 1/2"]);
    }

    #[test]
    fn block_comments_do_not_nest() {
        assert_eq!(
            split("/* a /* b */ RETURN 1; */"),
            ["RETURN 1", "*/"],
            "the first `*/` closes the comment"
        );
    }

    #[test]
    fn line_comment_at_end_of_file_is_fine() {
        assert_eq!(split("RETURN 1 // done"), ["RETURN 1"]);
    }

    #[test]
    fn reports_the_line_each_statement_starts_on() {
        let text = "// header\n\nCREATE INDEX a IF NOT EXISTS FOR (n:A) ON (n.x);\n\n  MATCH (n)\n  RETURN n; RETURN 'multi\nline'; RETURN 3";
        let got = split_statements_with_lines(text).unwrap();
        let lines: Vec<usize> = got.iter().map(|s| s.line).collect();
        assert_eq!(lines, [3, 5, 6, 7]);
    }

    #[test]
    fn escaped_newline_in_a_string_still_counts_as_a_line() {
        let got = split_statements_with_lines("RETURN 'a\\\nb'; RETURN 2").unwrap();
        assert_eq!(got[1].line, 2);
    }

    #[test]
    fn unicode_text_is_kept_intact() {
        assert_eq!(
            split("RETURN 'héllo; wörld' AS ✓; RETURN '日本'"),
            ["RETURN 'héllo; wörld' AS ✓", "RETURN '日本'"]
        );
    }

    #[test]
    fn crlf_line_endings_split_cleanly() {
        assert_eq!(
            split("RETURN 1;\r\n// note\r\nRETURN 2;\r\n"),
            ["RETURN 1", "RETURN 2"]
        );
    }

    #[test]
    fn unterminated_constructs_report_where_they_opened() {
        let cases = [
            (
                "RETURN 1;\nRETURN 'oops;\n",
                Unterminated::SingleQuotedString,
                2,
            ),
            ("\n\nRETURN \"oops", Unterminated::DoubleQuotedString, 3),
            ("MATCH (n:`Bad) RETURN n", Unterminated::Backtick, 1),
            ("RETURN 1;\n/* never\nclosed", Unterminated::BlockComment, 2),
            (
                r"RETURN 'escaped at end\'",
                Unterminated::SingleQuotedString,
                1,
            ),
            ("RETURN 'x\\", Unterminated::SingleQuotedString, 1),
        ];
        for (text, kind, line) in cases {
            let err = split_statements(text).unwrap_err();
            assert_eq!(err, SplitError { kind, line }, "for {text:?}");
        }
    }

    #[test]
    fn error_message_names_the_line_and_the_fix() {
        let err = split_statements("RETURN 1;\n\nRETURN 'oops").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("line 3"), "{msg}");
        assert!(msg.contains("add the closing `'`"), "{msg}");
        let err = split_statements("/* x").unwrap_err().to_string();
        assert!(err.contains("add the closing `*/`"), "{err}");
    }

    /// One piece of a generated statement. Pieces that are not plain words
    /// carry the characters that would fool a naive splitter.
    fn piece() -> impl Strategy<Value = String> {
        let text = "[a-z ;/*'\"`\\\\]{0,8}";
        prop_oneof![
            "[A-Za-z][A-Za-z0-9_]{0,6}".prop_map(|w| w),
            text.prop_map(|t| format!("'{}'", t.replace('\\', "\\\\").replace('\'', "\\'"))),
            text.prop_map(|t| format!("\"{}\"", t.replace('\\', "\\\\").replace('"', "\"\""))),
            text.prop_map(|t| format!("`{}`", t.replace('`', "``"))),
            text.prop_map(|t| format!("/*{}*/", t.replace("*/", "* /"))),
            text.prop_map(|t| format!("//{}\n", t)),
            Just("(n)".to_owned()),
            Just("=".to_owned()),
        ]
    }

    /// A statement that begins and ends with a word, so trimming leaves it
    /// exactly as generated.
    fn statement() -> impl Strategy<Value = String> {
        let word = "[A-Za-z][A-Za-z0-9_]{0,6}";
        (word, prop::collection::vec(piece(), 0..6), word).prop_map(|(first, middle, last)| {
            let mut s = first;
            for p in middle {
                s.push(' ');
                s.push_str(&p);
            }
            s.push(' ');
            s.push_str(&last);
            s
        })
    }

    proptest! {
        #[test]
        fn joined_statements_split_back(stmts in prop::collection::vec(statement(), 0..6)) {
            let joined = stmts.join(";\n");
            let got = split_statements_with_lines(&joined).unwrap();
            let texts: Vec<&str> = got.iter().map(|s| s.text.as_str()).collect();
            prop_assert_eq!(&texts, &stmts);

            let mut expected_line = 1;
            for (s, g) in stmts.iter().zip(&got) {
                prop_assert_eq!(g.line, expected_line);
                expected_line += s.matches('\n').count() + 1;
            }
        }

        #[test]
        fn never_panics_on_arbitrary_text(text in "\\PC{0,64}") {
            let _ = split_statements(&text);
        }

        #[test]
        fn comment_noise_between_statements_is_ignored(
            stmts in prop::collection::vec(statement(), 1..5),
            noise in "[a-z ;'\"`]{0,10}",
        ) {
            let sep = format!(";\n// {noise}\n/* {} */;\n", noise.replace("*/", ""));
            let joined = stmts.join(&sep);
            prop_assert_eq!(split_statements(&joined).unwrap(), stmts);
        }
    }
}
