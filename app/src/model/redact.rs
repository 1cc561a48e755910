//! What of a request target may reach the screen. Targets carry secrets in three places: the
//! query string (`?token=…`), path parameters (`;jsessionid=…`) and, in an absolute-form target,
//! the userinfo (`http://user:pass@host/`); all three are shown as `…` unless the user asks for
//! them (`--show-query`). And a target is bytes a stranger chose: control characters (an escape
//! sequence) and bidi overrides (U+202E turning text around) are always written as `\u{…}`, so
//! the terminal shows what was sent instead of obeying it.

use std::fmt::Write as _;

use super::PATH_LEN;

/// What stands in for a hidden part.
const HIDDEN: &str = "…";

/// `target` as it may be shown: secrets hidden unless `show_secrets`, control and bidi
/// characters escaped always.
pub fn shown_target(target: &str, show_secrets: bool) -> String {
    let mut shown = String::with_capacity(target.len() + 8);
    if show_secrets {
        escape_into(&mut shown, target);
        return shown;
    }
    let (path, query) = match target.find('?') {
        Some(q) => (&target[..q], Some(())),
        None => (target, None),
    };
    let path = match authority_split(path) {
        Some((scheme, authority, rest)) => {
            escape_into(&mut shown, scheme);
            escape_into(
                &mut shown,
                &hide_userinfo(authority, rest.is_empty(), target.len()),
            );
            rest
        }
        None => path,
    };
    // Each path segment up to its first ';': the parameters after it are hidden.
    let mut segments = path.split('/').peekable();
    while let Some(segment) = segments.next() {
        match segment.split_once(';') {
            Some((name, _)) => {
                escape_into(&mut shown, name);
                shown.push(';');
                shown.push_str(HIDDEN);
            }
            None => escape_into(&mut shown, segment),
        }
        if segments.peek().is_some() {
            shown.push('/');
        }
    }
    if query.is_some() {
        shown.push('?');
        shown.push_str(HIDDEN);
    }
    shown
}

/// An absolute-form target's `scheme://`, its authority, and the path after it.
fn authority_split(path: &str) -> Option<(&str, &str, &str)> {
    let scheme_end = path.find("://")? + 3;
    let scheme = &path[..scheme_end];
    if !scheme[..scheme_end - 3]
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    {
        return None;
    }
    let after = &path[scheme_end..];
    let authority_end = after.find('/').unwrap_or(after.len());
    Some((scheme, &after[..authority_end], &after[authority_end..]))
}

/// The authority without its userinfo (`user:pass@host` → `…@host`). An authority that runs
/// to the end of a target cut at the kept prefix's length may be a userinfo cut before its
/// `@`: hidden whole.
fn hide_userinfo(authority: &str, runs_to_end: bool, target_len: usize) -> String {
    match authority.rfind('@') {
        Some(at) => format!("{HIDDEN}{}", &authority[at..]),
        // A char boundary may have cut up to 3 bytes short of the prefix length.
        None if runs_to_end && target_len + 3 >= PATH_LEN => HIDDEN.to_owned(),
        None => authority.to_owned(),
    }
}

/// Appends `text` with control characters (C0, DEL, C1) and bidi controls written as
/// `\u{…}`.
fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        if c.is_control() || is_bidi_control(c) {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
}

/// The characters that change the direction text is laid out in (Unicode's bidi controls).
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
    )
}

#[cfg(test)]
mod tests {
    use super::shown_target;

    #[test]
    fn query_path_parameters_and_userinfo_are_hidden() {
        let cases = [
            ("/search?q=secret", "/search?…"),
            ("/plain", "/plain"),
            ("/a;jsessionid=SECRET/b", "/a;…/b"),
            ("/a;jsessionid=SECRET?x=1", "/a;…?…"),
            ("/a;v=1;w=2/b;c", "/a;…/b;…"),
            (
                "http://user:pass@example.com/x?y",
                "http://…@example.com/x?…",
            ),
            ("http://example.com/x", "http://example.com/x"),
            ("http://a@b@host/", "http://…@host/"),
            ("http://example.com", "http://example.com"),
            ("", ""),
            ("*", "*"),
        ];
        for (target, shown) in cases {
            assert_eq!(shown_target(target, false), shown, "{target:?}");
        }
        // Cut at the prefix length before its '@': may be a userinfo.
        let cut = format!("http://user:{}", "p".repeat(super::PATH_LEN - 12));
        assert_eq!(shown_target(&cut, false), "http://…");
        let all = "http://u:p@h/a;s=1?q=2";
        assert_eq!(shown_target(all, true), all);
    }

    #[test]
    fn control_and_bidi_characters_are_escaped_always() {
        let target = "/a\u{202e}gpj.exe\u{1b}[2J\u{7f}\u{85}\u{2066}";
        let escaped = "/a\\u{202e}gpj.exe\\u{1b}[2J\\u{7f}\\u{85}\\u{2066}";
        assert_eq!(shown_target(target, false), escaped);
        assert_eq!(shown_target(target, true), escaped);
        assert_eq!(shown_target("/x?\u{202e}", false), "/x?…");
    }
}
