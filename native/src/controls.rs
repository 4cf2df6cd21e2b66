//! Control characters never reach curated text.
//!
//! Web pages carry NULs and other control bytes (binary junk served as text/html, UTF-16 read as
//! a single-byte charset, `&#1;` references). They are invisible, break tokenizers and
//! downstream tools, and no training corpus wants them. Policy, applied where text is decoded
//! (HTTP bodies) and where it is extracted (extract_text's output, whatever the engine, and
//! html_title):
//! - `\t`, `\n`, `\r` are kept;
//! - vertical tab and form feed become a space (both separate words; form feed is HTML
//!   whitespace);
//! - every other C0 control (U+0000-U+001F), DEL (U+007F) and the C1 controls (U+0080-U+009F,
//!   U+0085 included) are removed.

use std::borrow::Cow;

use pyo3::prelude::*;

use crate::arrow_io::{map_str_to_str, PyArray};

/// What happens to `c`: `None` to keep it, `Some(None)` to drop it, `Some(Some(r))` to replace it.
#[inline]
fn rule(c: char) -> Option<Option<char>> {
    match c {
        '\t' | '\n' | '\r' => None,
        '\x0b' | '\x0c' => Some(Some(' ')),
        '\0'..='\x1f' | '\x7f'..='\u{9f}' => Some(None),
        _ => None,
    }
}

/// A C0 control other than tab, newline and CR, or DEL: branch-free, so that the scan below
/// vectorises.
#[inline(always)]
fn c0_or_del(x: u8) -> bool {
    (x < 0x20) & (x != b'\t') & (x != b'\n') & (x != b'\r') | (x == 0x7f)
}

/// Whether `s` holds a character [`strip_controls`] would change: a vectorised scan for C0
/// controls and DEL, 64 bytes at a time, then `C2` lead bytes (memchr) followed by `80`..`9F`
/// (the C1 controls; `C2 A0`, a no-break space, is the common `C2` pair).
pub fn has_controls(s: &str) -> bool {
    let b = s.as_bytes();
    b.chunks(64)
        .any(|block| block.iter().fold(false, |any, &x| any | c0_or_del(x)))
        || memchr::memchr_iter(0xc2, b)
            .any(|i| b.get(i + 1).is_some_and(|&y| (0x80..=0x9f).contains(&y)))
}

/// `s` with control characters removed or replaced as the module describes (borrowed when it
/// has none, the common case).
pub fn strip_controls(s: &str) -> Cow<'_, str> {
    if !has_controls(s) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match rule(c) {
            None => out.push(c),
            Some(Some(r)) => out.push(r),
            Some(None) => {}
        }
    }
    Cow::Owned(out)
}

/// [`strip_controls`] of an owned string, reusing it when nothing changes.
pub fn strip_controls_owned(s: String) -> String {
    match strip_controls(&s) {
        Cow::Borrowed(_) => s,
        Cow::Owned(clean) => clean,
    }
}

/// strip_control_chars(texts) -> utf8: each text without control characters (the policy
/// above); for text that did not come through mdfql's own decoding (peer extractors' output).
#[pyfunction]
fn strip_control_chars(py: Python<'_>, texts: PyArray) -> PyResult<PyArray> {
    map_str_to_str(py, texts, |t| Some(strip_controls(t).into_owned()))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(strip_control_chars, m)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy() {
        assert_eq!(strip_controls("a\0b\x01c\x1fd\x7fe"), "abcde");
        assert_eq!(strip_controls("tab\there\nnl\r\n"), "tab\there\nnl\r\n");
        assert_eq!(strip_controls("page\x0cbreak\x0bvt"), "page break vt");
        assert_eq!(strip_controls("c1\u{80}\u{85}\u{9f}."), "c1.");
        // Neighbours of the ranges stay: U+00A0 (C2 A0), U+0100 and U+FFFD.
        assert_eq!(
            strip_controls("\u{a0}\u{100}\u{fffd} "),
            "\u{a0}\u{100}\u{fffd} "
        );
        assert!(matches!(strip_controls("plain text é"), Cow::Borrowed(_)));
    }

    #[test]
    fn byte_scan_agrees_with_the_char_rule() {
        for cp in 0u32..0x300 {
            let c = char::from_u32(cp).unwrap();
            let s = format!("x{c}y");
            assert_eq!(has_controls(&s), rule(c).is_some(), "U+{cp:04X}");
        }
    }
}
