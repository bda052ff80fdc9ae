//! Text from files and flags on its way to a terminal: control characters
//! (escape sequences, carriage returns, bells) are shown escaped, so a
//! backup's reason or a file name can never move the cursor, retitle the
//! window or hide what is printed after it.

/// `s` made safe to print for people: control characters (an escape
/// sequence, a carriage return that hides what came before, a newline that
/// forges a line) and bidirectional overrides are shown as `\u{..}` escapes.
/// JSON output carries the text as it is.
pub fn printable(s: &str) -> String {
    let unsafe_char = |c: char| {
        c.is_control()
            || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !s.chars().any(unsafe_char) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if unsafe_char(c) {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// `1245` as `1,245`: counts in human output.
pub fn thousands(n: impl Into<u64>) -> String {
    let digits = n.into().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn thousands_groups_digits_by_three() {
        for (n, text) in [
            (0u64, "0"),
            (999, "999"),
            (1000, "1,000"),
            (1245, "1,245"),
            (1_000_000, "1,000,000"),
            (u64::MAX, "18,446,744,073,709,551,615"),
        ] {
            assert_eq!(super::thousands(n), text);
        }
    }

    #[test]
    fn control_characters_are_escaped_and_the_rest_is_kept() {
        assert_eq!(
            super::printable("Manual backup – 1.5.0"),
            "Manual backup – 1.5.0"
        );
        assert_eq!(
            super::printable("a\u{1b}]0;owned\u{7}b\r\n"),
            "a\\u{1b}]0;owned\\u{7}b\\u{d}\\u{a}"
        );
        assert_eq!(
            super::printable("a\u{1b}[2Jb\rc\nd\u{202e}"),
            "a\\u{1b}[2Jb\\u{d}c\\u{a}d\\u{202e}"
        );
    }
}
