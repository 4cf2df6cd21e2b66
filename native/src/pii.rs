//! PII masking as FineWeb ran it: datatrove 0.10.1's `PIIFormatter` (emails, then IPv4 addresses).
//!
//! `pii_mask(texts, **options) -> utf8`. datatrove's two regexes are used unchanged (Rust's
//! `regex` picks the same leftmost-first matches as Python's `re`); its email regex opens with
//! `\b`, checked here with Python's `str` definition of a word character (letters, numbers and
//! `_`, Unicode categories L* and N*). An IP is replaced only when Python's
//! `ipaddress.ip_address` accepts it (no leading zeros) and, with `only_remove_public_ips`, when it
//! `is_global` (Python 3.11.7's table of special-purpose IPv4 ranges). IPv6 addresses are left
//! alone: datatrove's regex matches dotted quads only.
//!
//! Replacements cycle through the given lists in order of occurrence, as datatrove does, but the
//! cycle restarts at every document: datatrove keeps one counter per formatter across all the
//! documents a worker formats, so its choice depends on document order; ours equals
//! `PIIFormatter().format(text)` with a fresh formatter, whatever the order or sharding.

use std::borrow::Cow;
use std::sync::OnceLock;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use regex::Regex;

use crate::arrow_io::{map_str_to_str, PyArray};

/// datatrove's email regex, less its leading `\b` (see `python_word_boundary`).
const EMAIL: &str = concat!(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:(?:[A-Za-z0-9](?:[",
    r"A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?|\[(?:(?:25[0-5]|2[0-4][0-9]|[",
    r"01]?[0-9][0-9]?)\.){3}(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?|[A-Za-z0-9-]*[A-Za-z0-9]:)\])",
);
pub(crate) const IPV4: &str =
    r"(?:(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)\.){3}(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)";

pub const EMAIL_REPLACEMENTS: [&str; 2] = ["email@example.com", "firstname.lastname@example.org"];
/// datatrove's list: "randomly generated ips that did not respond to ping requests".
pub const IP_REPLACEMENTS: [&str; 6] = [
    "22.214.171.124",
    "126.96.36.199",
    "188.8.131.52",
    "184.108.40.206",
    "220.127.116.11",
    "18.104.22.168",
];

fn email_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(EMAIL).expect("valid email regex"))
}

fn ipv4_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(IPV4).expect("valid IPv4 regex"))
}

/// Python `re`'s `\w` on `str`: `c.isalnum() or c == "_"`, i.e. categories L*, N* and `_`.
fn py_word(c: char) -> bool {
    static RE: OnceLock<Regex> = OnceLock::new();
    if c.is_ascii() {
        return c.is_ascii_alphanumeric() || c == '_';
    }
    let re = RE.get_or_init(|| Regex::new(r"^[\p{L}\p{N}]$").expect("valid class"));
    re.is_match(c.encode_utf8(&mut [0; 4]))
}

fn word_at(text: &str, pos: usize) -> bool {
    text[pos..].chars().next().is_some_and(py_word)
}

/// Python's `\b` at byte offset `pos`.
fn python_word_boundary(text: &str, pos: usize) -> bool {
    let before = text[..pos].chars().next_back().is_some_and(py_word);
    before != word_at(text, pos)
}

/// `ipaddress.ip_address(s)` for a dotted quad the IPv4 regex matched: octets with a leading
/// zero are refused (Python >= 3.9.5).
fn parse_ipv4(s: &str) -> Option<u32> {
    let mut ip = 0u32;
    for octet in s.split('.') {
        if octet.len() > 1 && octet.starts_with('0') {
            return None;
        }
        ip = (ip << 8) | octet.parse::<u8>().ok()? as u32;
    }
    Some(ip)
}

/// `ipaddress.IPv4Address.is_global` of CPython 3.11.7: outside 100.64.0.0/10 and the
/// `is_private` networks.
fn ipv4_is_global(ip: u32) -> bool {
    const NOT_GLOBAL: [(u32, u32); 15] = [
        (0x6440_0000, 10), // 100.64.0.0/10
        (0x0000_0000, 8),  // 0.0.0.0/8
        (0x0a00_0000, 8),  // 10.0.0.0/8
        (0x7f00_0000, 8),  // 127.0.0.0/8
        (0xa9fe_0000, 16), // 169.254.0.0/16
        (0xac10_0000, 12), // 172.16.0.0/12
        (0xc000_0000, 29), // 192.0.0.0/29
        (0xc000_00aa, 31), // 192.0.0.170/31
        (0xc000_0200, 24), // 192.0.2.0/24
        (0xc0a8_0000, 16), // 192.168.0.0/16
        (0xc612_0000, 15), // 198.18.0.0/15
        (0xc633_6400, 24), // 198.51.100.0/24
        (0xcb00_7100, 24), // 203.0.113.0/24
        (0xf000_0000, 4),  // 240.0.0.0/4
        (0xffff_ffff, 32), // 255.255.255.255/32
    ];
    !NOT_GLOBAL
        .iter()
        .any(|&(net, bits)| (ip ^ net) >> (32 - bits) == 0)
}

/// `PIIFormatter(...)` options; `Default` is datatrove's defaults.
#[derive(Debug, Clone)]
pub struct PiiParams {
    pub remove_emails: bool,
    pub remove_ips: bool,
    pub only_remove_public_ips: bool,
    pub email_replacement: Vec<String>,
    pub ip_replacement: Vec<String>,
}

impl Default for PiiParams {
    fn default() -> Self {
        PiiParams {
            remove_emails: true,
            remove_ips: true,
            only_remove_public_ips: true,
            email_replacement: EMAIL_REPLACEMENTS.map(String::from).to_vec(),
            ip_replacement: IP_REPLACEMENTS.map(String::from).to_vec(),
        }
    }
}

/// Replace the emails of `text`, cycling through `repl`.
fn mask_emails<'a>(text: &'a str, repl: &[String]) -> Cow<'a, str> {
    let re = email_re();
    let mut out = String::new();
    let (mut last, mut pos, mut k) = (0, 0, 0);
    while let Some(m) = re.find_at(text, pos) {
        if !python_word_boundary(text, m.start()) {
            // no `\b` before the next change between word and non-word chars: resume there
            let w = word_at(text, m.start());
            pos = text[m.start()..]
                .char_indices()
                .find(|&(_, c)| py_word(c) != w)
                .map_or(text.len(), |(i, _)| m.start() + i);
            continue;
        }
        out.push_str(&text[last..m.start()]);
        out.push_str(&repl[k % repl.len()]);
        k += 1;
        (last, pos) = (m.end(), m.end());
    }
    if k == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[last..]);
    Cow::Owned(out)
}

/// Replace the (public) IPv4 addresses of `text`, cycling through `repl`.
fn mask_ips<'a>(text: &'a str, repl: &[String], public_only: bool) -> Cow<'a, str> {
    let mut out = String::new();
    let (mut last, mut k) = (0, 0);
    for m in ipv4_re().find_iter(text) {
        let valid = parse_ipv4(m.as_str()).is_some_and(|ip| !public_only || ipv4_is_global(ip));
        if valid {
            out.push_str(&text[last..m.start()]);
            out.push_str(&repl[k % repl.len()]);
            k += 1;
            last = m.end();
        }
    }
    if k == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[last..]);
    Cow::Owned(out)
}

/// `PIIFormatter(...).format(text)` with a fresh formatter (replacement cycles start at 0).
pub fn pii_mask(text: &str, p: &PiiParams) -> String {
    let text = if p.remove_emails {
        mask_emails(text, &p.email_replacement)
    } else {
        Cow::Borrowed(text)
    };
    if p.remove_ips {
        mask_ips(&text, &p.ip_replacement, p.only_remove_public_ips).into_owned()
    } else {
        text.into_owned()
    }
}

/// `PIIFormatter(...)` per document (null text -> null).
#[pyfunction(name = "pii_mask")]
#[pyo3(signature = (texts, *, remove_emails=true, remove_ips=true, only_remove_public_ips=true,
    email_replacement=None, ip_replacement=None))]
fn pii_mask_py(
    py: Python<'_>,
    texts: PyArray,
    remove_emails: bool,
    remove_ips: bool,
    only_remove_public_ips: bool,
    email_replacement: Option<Vec<String>>,
    ip_replacement: Option<Vec<String>>,
) -> PyResult<PyArray> {
    let d = PiiParams::default();
    let p = PiiParams {
        remove_emails,
        remove_ips,
        only_remove_public_ips,
        email_replacement: email_replacement.unwrap_or(d.email_replacement),
        ip_replacement: ip_replacement.unwrap_or(d.ip_replacement),
    };
    if p.email_replacement.is_empty() || p.ip_replacement.is_empty() {
        return Err(PyValueError::new_err(
            "email_replacement and ip_replacement need at least one string",
        ));
    }
    map_str_to_str(py, texts, |t| Some(pii_mask(t, &p)))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(pii_mask_py, m)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask(t: &str) -> String {
        pii_mask(t, &PiiParams::default())
    }

    #[test]
    fn emails_cycle_through_replacements() {
        assert_eq!(
            mask("Mail john.doe@mail.co.uk or x@y.org, then z@w.net."),
            "Mail email@example.com or firstname.lastname@example.org, then email@example.com."
        );
        assert_eq!(
            mask("ip literal a@[10.0.0.1] here"),
            "ip literal email@example.com here"
        );
        assert_eq!(mask("no at sign here"), "no at sign here");
    }

    #[test]
    fn email_word_boundary_is_pythons() {
        // U+0301 (combining acute, category Mn) is no word char in Python: `\b` holds before `a`
        assert_eq!(mask("e\u{301}abc@x.com"), "e\u{301}email@example.com");
        // `é` is: no boundary anywhere in `éabc`, and `@` cannot start a match
        assert_eq!(mask("éabc@x.com"), "éabc@x.com");
        // `-` (in the local-part class) can open a match only right after a word char
        assert_eq!(mask("a -b@x.com"), "a -email@example.com");
        assert_eq!(mask("a (-b@x.com"), "a (-email@example.com");
        assert_eq!(mask("a|-b@x.com"), "email@example.com");
    }

    #[test]
    fn only_valid_public_ips() {
        assert_eq!(
            mask("8.8.8.8 10.1.2.3 192.168.1.1 100.64.1.1 1.2.3.4"),
            "22.214.171.124 10.1.2.3 192.168.1.1 100.64.1.1 126.96.36.199"
        );
        // leading zeros: `ipaddress` refuses them, the address stays
        assert_eq!(mask("8.8.08.8"), "8.8.08.8");
        // no anchors: the regex takes what it can from longer digit runs
        assert_eq!(mask("1234.5.6.7"), "122.214.171.124");
        assert_eq!(mask("::1 and 2001:db8::1"), "::1 and 2001:db8::1");
        let all = PiiParams {
            only_remove_public_ips: false,
            ..PiiParams::default()
        };
        assert_eq!(
            pii_mask("10.1.2.3 8.8.08.8", &all),
            "22.214.171.124 8.8.08.8"
        );
    }
}
