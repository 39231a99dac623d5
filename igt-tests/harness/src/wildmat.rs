// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Subtest selection patterns, with the semantics of the `uwildmat()` routine (from INN) that
//! IGT uses for `--run-subtest` and `--dynamic-subtest`.
//!
//! An expression is a comma-separated list of patterns. Each pattern is matched against the
//! whole name and may use `*`, `?`, `[...]` classes (`[^...]` negates, `a-z` ranges) and `\`
//! escapes. A pattern starting with `!` excludes what it matches. The patterns are tried in
//! order and the last one that matches decides, so `basic*,!basic-s3` selects every `basic*`
//! but `basic-s3`, while `!basic-s3` on its own selects nothing. Letters in the name also
//! match the same letters in lower case in the pattern. The expression `*` matches everything
//! and the empty expression matches only the empty name.

/// How one pattern matched; `Abort` means that no later position can match either.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Match {
    No,
    Yes,
    Abort,
}

/// Whether `text` is selected by the wildmat expression `expr`.
pub fn uwildmat(text: &str, expr: &str) -> bool {
    if expr == "*" {
        return true;
    }
    let (text, expr) = (text.as_bytes(), expr.as_bytes());
    if expr.is_empty() {
        return text.is_empty();
    }
    let mut matched = false;
    let mut start = 0;
    loop {
        let mut p = start;
        let reverse = expr.get(p) == Some(&b'!');
        if reverse {
            p += 1;
        }
        let split = pattern_end(expr, p);
        // A pattern that cannot change the result is not tried.
        if matched == reverse && match_pattern(text, &expr[p..split]) == Match::Yes {
            matched = !reverse;
        }
        if split >= expr.len() {
            return matched;
        }
        start = split + 1;
    }
}

/// Index of the first unescaped comma at or after `p` that is not inside a class, or the
/// length of `expr`.
fn pattern_end(expr: &[u8], mut p: usize) -> usize {
    let mut escaped = false;
    while p < expr.len() {
        if expr[p] == b'[' {
            p += 1;
            if expr.get(p) == Some(&b']') {
                p += 1;
            }
            while p < expr.len() && expr[p] != b']' {
                p += 1;
            }
            if p >= expr.len() {
                break;
            }
        }
        if expr[p] == b',' && !escaped {
            break;
        }
        escaped = expr[p] == b'\\' && !escaped;
        p += 1;
    }
    p.min(expr.len())
}

/// Matches `text` against one pattern (no commas, no leading `!`).
fn match_pattern(text: &[u8], pat: &[u8]) -> Match {
    let (mut t, mut p) = (0, 0);
    while p < pat.len() {
        if t >= text.len() && pat[p] != b'*' {
            return Match::Abort;
        }
        match pat[p] {
            b'?' => t += char_width(text, t),
            b'*' => {
                // Consecutive stars are one star; a trailing star matches the rest.
                while p < pat.len() && pat[p] == b'*' {
                    p += 1;
                }
                if p >= pat.len() {
                    return Match::Yes;
                }
                let meta = matches!(pat[p], b'[' | b'?' | b'\\');
                while t < text.len() {
                    let found = if meta {
                        let m = match_pattern(&text[t..], &pat[p..]);
                        t += char_width(text, t);
                        m
                    } else {
                        // The star must at least reach the next occurrence of the literal.
                        while t < text.len() && text[t] != pat[p] {
                            t += char_width(text, t);
                        }
                        if t >= text.len() {
                            return Match::Abort;
                        }
                        t += 1;
                        match_pattern(&text[t..], &pat[p + 1..])
                    };
                    if found != Match::No {
                        return found;
                    }
                }
                return Match::Abort;
            }
            b'[' => {
                p += 1;
                let first = p + usize::from(pat.get(p) == Some(&b'^')) + 1;
                if first >= pat.len() {
                    return Match::Abort;
                }
                // A `]` right after `[` or `[^` is a member of the class.
                let Some(close) = pat[first..].iter().position(|c| *c == b']') else {
                    return Match::Abort;
                };
                let close = first + close;
                let (c, width) = decode(text, t);
                t += width;
                if !match_class(c, &pat[p..close]) {
                    return Match::No;
                }
                p = close;
            }
            c => {
                let c = if c == b'\\' {
                    p += 1;
                    match pat.get(p) {
                        Some(c) => *c,
                        None => return Match::Abort,
                    }
                } else {
                    c
                };
                let ch = text[t];
                t += 1;
                if ch != c && ch.to_ascii_lowercase() != c {
                    return Match::No;
                }
            }
        }
        p += 1;
    }
    if t >= text.len() {
        Match::Yes
    } else {
        Match::No
    }
}

/// Matches the character `c` against the inside of a bracket expression.
fn match_class(c: u32, class: &[u8]) -> bool {
    let lc = if c < 0x80 {
        u32::from((c as u8).to_ascii_lowercase())
    } else {
        c
    };
    let reversed = class.first() == Some(&b'^');
    let mut p = usize::from(reversed);
    let mut first = 0;
    // A range may only start after a plain member, so a leading `-` is a member.
    let mut range = false;
    while p < class.len() {
        if range && class[p] == b'-' && p + 1 < class.len() {
            let (last, width) = decode(class, p + 1);
            p += 1 + width;
            if (first..=last).contains(&c) || (first..=last).contains(&lc) {
                return !reversed;
            }
            range = false;
        } else {
            let width;
            (first, width) = decode(class, p);
            p += width;
            if c == first || lc == first {
                return !reversed;
            }
            range = true;
        }
    }
    reversed
}

/// Width in bytes of the character at `i`: a valid UTF-8 sequence, or one byte.
fn char_width(s: &[u8], i: usize) -> usize {
    decode(s, i).1
}

/// Decodes the UTF-8 character at `i`; a malformed sequence is its first byte.
fn decode(s: &[u8], i: usize) -> (u32, usize) {
    let Some(&b) = s.get(i) else {
        return (0, 1);
    };
    let len = b.leading_ones() as usize;
    if !(2..=4).contains(&len) || i + len > s.len() {
        return (u32::from(b), 1);
    }
    match std::str::from_utf8(&s[i..i + len]) {
        Ok(ch) => (ch.chars().next().map_or(u32::from(b), u32::from), len),
        Err(_) => (u32::from(b), 1),
    }
}

#[cfg(test)]
mod tests {
    use super::uwildmat;

    #[test]
    fn literals_and_wildcards() {
        assert!(uwildmat("basic", "basic"));
        assert!(!uwildmat("basic", "basi"));
        assert!(!uwildmat("basic2", "basic"));
        assert!(uwildmat("bad-pointers", "bad-*"));
        assert!(uwildmat("bad-result-pointers", "*-pointers"));
        assert!(uwildmat("abc", "a?c"));
        assert!(!uwildmat("ac", "a?c"));
        assert!(uwildmat("axxbyyc", "a*b*c"));
        assert!(!uwildmat("axxbyy", "a*b*c"));
        assert!(uwildmat("anything", "*"));
        assert!(uwildmat("", "*"));
        assert!(uwildmat("x", "**"));
        assert!(uwildmat("size-4096", "size-*6"));
        assert!(!uwildmat("size-4096", "size-*5"));
        assert!(uwildmat("a*b", "a\\*b"));
        assert!(!uwildmat("axb", "a\\*b"));
    }

    #[test]
    fn classes() {
        assert!(uwildmat("size-4096", "size-[0-9]*"));
        assert!(!uwildmat("size-4096", "size-[^0-9]*"));
        assert!(uwildmat("size-x096", "size-[^0-9]*"));
        assert!(uwildmat("a-b", "a[-x]b"));
        assert!(uwildmat("a]b", "a[]]b"));
        // `!` is not a negation inside a class.
        assert!(uwildmat("a!b", "a[!]b"));
        // An unterminated class matches nothing.
        assert!(!uwildmat("a[b", "a[b"));
        // Commas inside a class do not split the expression.
        assert!(uwildmat("a,", "a[,]"));
    }

    #[test]
    fn lists_and_negation() {
        assert!(uwildmat("basic", "basic,other"));
        assert!(uwildmat("other", "basic,other"));
        assert!(!uwildmat("third", "basic,other"));
        assert!(uwildmat("bad-flags", "bad-*,!bad-pad"));
        assert!(!uwildmat("bad-pad", "bad-*,!bad-pad"));
        // The last matching pattern decides.
        assert!(uwildmat("bad-pad", "!bad-pad,bad-*"));
        // A negation alone selects nothing, as in IGT.
        assert!(!uwildmat("anything", "!anything"));
        assert!(!uwildmat("other", "!anything"));
        // Escaped commas are literal.
        assert!(uwildmat("a,b", "a\\,b"));
        // Empty patterns match only the empty name.
        assert!(!uwildmat("a", ""));
        assert!(uwildmat("", ""));
        assert!(uwildmat("a", "b,,a"));
    }

    #[test]
    fn case() {
        // Upper case in the name matches lower case in the pattern, not the reverse.
        assert!(uwildmat("Basic", "basic"));
        assert!(!uwildmat("basic", "Basic"));
        assert!(uwildmat("X", "[a-z]"));
    }
}
