//! Quoting of labels, relationship types and property keys for Cypher text.
//!
//! Values always travel as query parameters, but Cypher has no parameters for
//! names: a label read from a backup file has to be written into the query
//! itself. This module is the only place where that happens, so a name taken
//! from a file (which may have been edited, or written by another tool) can
//! never change the meaning of the statement it is placed in.

use std::fmt;

/// Longest name accepted, in bytes. Neo4j itself accepts longer tokens, but no
/// real label or key comes close, and a cap keeps a corrupt file from building
/// statements of unbounded size.
pub const MAX_NAME_BYTES: usize = 16_384;

/// A label, relationship type or property key that is already quoted for
/// Cypher (for example `` `Person` ``), ready to be placed into query text.
///
/// The only way to get one is [`escape_name`], so holding a `CypherName` means
/// the quoting has been done exactly once.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CypherName(String);

impl CypherName {
    /// The quoted form, backticks included.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CypherName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a name cannot be placed into Cypher text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    #[error("an empty name cannot be used as a label, relationship type or property key")]
    Empty,
    #[error(
        "the name {name} contains a NUL character (U+0000), which Neo4j does not accept in names"
    )]
    ContainsNul { name: String },
    #[error(
        "a name of {len} bytes is longer than the {max} bytes accepted for a label, \
         relationship type or property key"
    )]
    TooLong { len: usize, max: usize },
    #[error(
        "the name {name} contains a Java unicode escape (a backslash followed by `u`); \
         Neo4j's Cypher parser decodes such escapes before it reads the quoting, so `\\u0060` \
         would turn into a backtick and end the quoted name early; rename it in the source \
         database or edit the backup file"
    )]
    UnicodeEscape { name: String },
}

/// Quotes `raw` as a Cypher identifier: wraps it in backticks and doubles every
/// backtick inside, which is how Neo4j 5 escapes a backtick in a quoted name.
///
/// Refused, with an error saying why:
/// - the empty name, which Cypher cannot express;
/// - names containing NUL (U+0000);
/// - names longer than [`MAX_NAME_BYTES`];
/// - names containing a backslash followed by `u` or `U`. Neo4j's Cypher 5
///   parser applies Java unicode escapes to the whole query before it splits it
///   into tokens, so a name holding `\u0060` would become a backtick there and
///   break out of the quoting, whatever we do to it here. Refusing every
///   `\u`/`\U`, not only well-formed escapes, keeps the rule simple enough to
///   be sure of.
pub fn escape_name(raw: &str) -> Result<CypherName, NameError> {
    if raw.is_empty() {
        return Err(NameError::Empty);
    }
    if raw.len() > MAX_NAME_BYTES {
        return Err(NameError::TooLong {
            len: raw.len(),
            max: MAX_NAME_BYTES,
        });
    }
    if raw.contains('\0') {
        return Err(NameError::ContainsNul {
            name: quote_for_message(raw),
        });
    }
    if raw.contains("\\u") || raw.contains("\\U") {
        return Err(NameError::UnicodeEscape {
            name: quote_for_message(raw),
        });
    }
    let mut quoted = String::with_capacity(raw.len() + 2);
    quoted.push('`');
    for c in raw.chars() {
        if c == '`' {
            quoted.push('`');
        }
        quoted.push(c);
    }
    quoted.push('`');
    Ok(CypherName(quoted))
}

/// A label expression for a node pattern: `` :`A`:`B` `` for `["A", "B"]`, and
/// the empty string when there are no labels.
pub fn label_expr(labels: &[impl AsRef<str>]) -> Result<String, NameError> {
    let mut expr = String::new();
    for label in labels {
        expr.push(':');
        expr.push_str(escape_name(label.as_ref())?.as_str());
    }
    Ok(expr)
}

/// Names in error messages are shown with escapes (so control characters are
/// visible) and cut short, since the name may be the very thing that is wrong.
fn quote_for_message(raw: &str) -> String {
    const SHOWN: usize = 80;
    if raw.chars().count() <= SHOWN {
        format!("{raw:?}")
    } else {
        let head: String = raw.chars().take(SHOWN).collect();
        format!("{head:?}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn unescape(quoted: &str) -> String {
        quoted[1..quoted.len() - 1].replace("``", "`")
    }

    #[test]
    fn plain_names_are_wrapped_in_backticks() {
        assert_eq!(escape_name("Person").unwrap().to_string(), "`Person`");
        assert_eq!(escape_name("first name").unwrap().as_str(), "`first name`");
        assert_eq!(
            escape_name("Économie_日本").unwrap().as_str(),
            "`Économie_日本`"
        );
    }

    #[test]
    fn backticks_are_doubled() {
        assert_eq!(escape_name("`").unwrap().as_str(), "````");
        assert_eq!(escape_name("``").unwrap().as_str(), "``````");
        assert_eq!(escape_name("a`b").unwrap().as_str(), "`a``b`");
    }

    #[test]
    fn a_hostile_name_stays_inside_the_quotes() {
        let raw = "X`) DETACH DELETE n // ";
        let quoted = escape_name(raw).unwrap();
        assert_eq!(quoted.as_str(), "`X``) DETACH DELETE n // `");
        assert_eq!(unescape(quoted.as_str()), raw);
    }

    #[test]
    fn empty_names_are_refused() {
        assert_eq!(escape_name(""), Err(NameError::Empty));
    }

    #[test]
    fn nul_is_refused() {
        let err = escape_name("a\0b").unwrap_err();
        assert!(matches!(err, NameError::ContainsNul { .. }));
        assert!(err.to_string().contains(r#""a\0b""#), "{err}");
    }

    #[test]
    fn the_length_limit_is_inclusive() {
        let longest = "a".repeat(MAX_NAME_BYTES);
        assert_eq!(
            escape_name(&longest).unwrap().as_str().len(),
            MAX_NAME_BYTES + 2
        );
        let err = escape_name(&format!("{longest}a")).unwrap_err();
        assert_eq!(
            err,
            NameError::TooLong {
                len: MAX_NAME_BYTES + 1,
                max: MAX_NAME_BYTES
            }
        );
    }

    #[test]
    fn unicode_escapes_are_refused() {
        for raw in [r"a\u0060b", r"\U0060", r"x\uuuu0060) DELETE n", r"\u"] {
            let err = escape_name(raw).unwrap_err();
            assert!(matches!(err, NameError::UnicodeEscape { .. }), "{raw}");
            assert!(err.to_string().contains("backtick"), "{err}");
        }
        // A backslash on its own is harmless inside backticks.
        assert_eq!(escape_name(r"a\b").unwrap().as_str(), r"`a\b`");
    }

    #[test]
    fn long_names_are_cut_short_in_messages() {
        let err = escape_name(&format!("{}\0", "x".repeat(1000))).unwrap_err();
        assert!(err.to_string().len() < 300, "{err}");
    }

    #[test]
    fn label_expressions() {
        assert_eq!(label_expr(&["A", "B c"]).unwrap(), ":`A`:`B c`");
        assert_eq!(label_expr(&[] as &[&str]).unwrap(), "");
        assert_eq!(
            label_expr(&[String::from("ok"), String::new()]),
            Err(NameError::Empty)
        );
    }

    proptest! {
        #[test]
        fn escaping_round_trips(raw in "\\PC{1,40}|[`a ]{1,10}") {
            prop_assume!(!raw.contains('\0') && !raw.contains("\\u") && !raw.contains("\\U"));
            let quoted = escape_name(&raw).unwrap();
            let quoted = quoted.as_str();
            prop_assert!(quoted.len() >= 2);
            prop_assert!(quoted.starts_with('`') && quoted.ends_with('`'));
            // Every backtick inside must be doubled, or the quoting would end early.
            let inner = &quoted[1..quoted.len() - 1];
            prop_assert_eq!(inner.replace("``", "").matches('`').count(), 0);
            prop_assert_eq!(unescape(quoted), raw);
        }

        #[test]
        fn any_string_is_either_refused_or_round_trips(raw in any::<String>()) {
            match escape_name(&raw) {
                Ok(quoted) => prop_assert_eq!(unescape(quoted.as_str()), raw),
                Err(_) => prop_assert!(
                    raw.is_empty() || raw.contains('\0') || raw.contains("\\u") || raw.contains("\\U")
                ),
            }
        }
    }
}
