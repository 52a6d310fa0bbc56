//! Text shown to people: on a terminal, in a denial, in an alert.

/// `s` with control characters (escape sequences, CR, LF) escaped, so
/// that a name a hostile command chose cannot rewrite or hide a line.
pub fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(
            super::printable("a\x1b[2Jb\nc\u{7f}"),
            "a\\u{1b}[2Jb\\nc\\u{7f}"
        );
        assert_eq!(super::printable("plain é"), "plain é");
    }
}
