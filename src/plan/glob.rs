//! Wildcard matching shared by discovery's name filters and detection's workspace globs.

/// Whether `pattern` matches the whole of `text`, where `*` matches any run of characters and `?` one character;
/// every other character matches itself, case included. Backtracks only to the last `*`, so it stays linear in
/// practice and never goes exponential.
pub fn wildcard_matches(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    let mut last_star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                last_star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == '?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match last_star {
                Some((star, matched)) => {
                    p = star + 1;
                    t = matched + 1;
                    last_star = Some((star, matched + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::wildcard_matches;

    #[test]
    fn wildcards() {
        for (pattern, text, expected) in [
            ("*", "anything", true),
            ("sandbox-*", "sandbox-alice", true),
            ("sandbox-*", "my-sandbox-alice", false),
            ("*.github.io", "acme.github.io", true),
            ("api-?", "api-1", true),
            ("api-?", "api-12", false),
            ("api-?", "api-é", true),
            ("*-svc-*", "billing-svc-eu", true),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
            ("Core", "core", false),
            ("", "", true),
            ("", "x", false),
            ("**", "", true),
        ] {
            assert_eq!(wildcard_matches(pattern, text), expected, "{pattern:?} vs {text:?}");
        }
    }

    #[test]
    fn long_patterns_stay_fast() {
        let pattern = "*a".repeat(50);
        let text = "a".repeat(40) + "b";
        assert!(!wildcard_matches(&pattern, &text));
    }
}
