//! RefinedWeb's URL filter: UT1 domain/URL blocklists, three tiers of banned URL words, and the
//! exclusion of curated "quality sources" (Wikipedia, arXiv, ...).
//!
//! Semantics follow datatrove's `URLFilter`, made case-insensitive and host-aware:
//! - a blocklisted domain blocks itself and every subdomain (suffix walk over the host's labels,
//!   which covers datatrove's registered-domain and full-host checks);
//! - a blocklisted URL matches the URL without scheme, userinfo, port, fragment or trailing `/`;
//! - hard words match whole URL tokens (split on non-ASCII-alphanumerics), one hit blocks;
//! - soft words match whole tokens, `soft_word_threshold` distinct hits block;
//! - strict words match as substrings of the URL stripped of every non-alphanumeric;
//! - hosts are compared in IDNA ASCII form, so punycode and Unicode spellings are equivalent.

use std::collections::HashSet;
use std::sync::Arc;

use aho_corasick::AhoCorasick;
use arrow::array::{Float64Array, StringArray};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use xxhash_rust::xxh3::Xxh3DefaultBuilder;

use crate::arrow_io::{to_py, PyArray, StrColumn};

type Set = HashSet<Box<str>, Xxh3DefaultBuilder>;

/// Why a URL is dropped; `None` from [`UrlLists::reason`] means keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    Unparseable,
    Domain(String),
    QualitySource(String),
    Url,
    HardWord(String),
    SoftWords(Vec<String>),
    StrictWord(String),
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::Unparseable => write!(f, "unparseable"),
            Reason::Domain(d) => write!(f, "domain:{d}"),
            Reason::QualitySource(d) => write!(f, "quality_source:{d}"),
            Reason::Url => write!(f, "url"),
            Reason::HardWord(w) => write!(f, "hard_word:{w}"),
            Reason::SoftWords(ws) => write!(f, "soft_words:{}", ws.join(",")),
            Reason::StrictWord(w) => write!(f, "strict_word:{w}"),
        }
    }
}

/// The parts of a URL the filter looks at.
#[derive(Debug, PartialEq, Eq)]
pub struct UrlParts<'a> {
    /// Lowercase IDNA-ASCII host without trailing dot (IPv6 without brackets).
    pub host: String,
    /// Path, query and fragment as written (starts with `/`, `?`, `#` or `\`, or is empty).
    pub rest: &'a str,
}

fn is_scheme(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// Split a URL into host and the rest. Accepts a missing scheme (`example.com/x`, `//example.com`),
/// userinfo, ports and IPv6 literals. `None` when no valid host can be found.
pub fn parse_url(url: &str) -> Option<UrlParts<'_>> {
    let mut s = url.trim();
    if let Some(i) = s.find("://") {
        if is_scheme(&s[..i]) {
            s = &s[i + 3..];
        }
    } else if let Some(stripped) = s.strip_prefix("//") {
        s = stripped;
    }
    let end = s.find(['/', '?', '#', '\\']).unwrap_or(s.len());
    let (authority, rest) = s.split_at(end);
    let hostport = authority.rsplit('@').next().unwrap_or(authority);
    if let Some(v6) = hostport.strip_prefix('[') {
        let close = v6.find(']')?;
        let ip = &v6[..close];
        let ok = !ip.is_empty()
            && ip
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.');
        return ok.then(|| UrlParts {
            host: ip.to_ascii_lowercase(),
            rest,
        });
    }
    let host = match hostport.rfind(':') {
        Some(i) if hostport[i + 1..].bytes().all(|b| b.is_ascii_digit()) => &hostport[..i],
        Some(_) => return None,
        None => hostport,
    };
    let host = normalize_host(host)?;
    Some(UrlParts { host, rest })
}

/// Lowercase IDNA-ASCII form of a host name, without trailing dot; `None` if it is not one.
pub fn normalize_host(host: &str) -> Option<String> {
    let host = host.strip_suffix('.').unwrap_or(host);
    let plain = host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
    let ascii = if plain {
        host.to_ascii_lowercase()
    } else {
        idna::domain_to_ascii(host).ok()?
    };
    let ascii = ascii.strip_suffix('.').map(str::to_owned).unwrap_or(ascii);
    // IDNA lets some ASCII through (spaces, `<`, ...) that no real host name contains.
    let valid = ascii.split('.').all(|l| !l.is_empty())
        && ascii
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
    valid.then_some(ascii)
}

/// IP literals: IPv6, or a last label that is all digits (never a TLD; WHATWG parses such
/// hosts as IPv4).
fn is_ip(host: &str) -> bool {
    host.contains(':')
        || host
            .rsplit('.')
            .next()
            .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()))
}

/// The host and each of its parent domains, longest first (`a.b.c`, `b.c`, `c`). IP literals
/// only match themselves.
fn host_suffixes(host: &str) -> impl Iterator<Item = &str> {
    let ip = is_ip(host);
    std::iter::successors(Some(host), move |h| {
        if ip {
            None
        } else {
            h.find('.').map(|i| &h[i + 1..])
        }
    })
}

/// Key under which blocklisted URLs are compared: host + path/query, lowercase, no scheme,
/// userinfo, port, fragment or trailing `/`.
pub fn url_key(url: &str) -> Option<String> {
    let parts = parse_url(url)?;
    let rest = parts.rest.split('#').next().unwrap_or("");
    let rest = rest.trim_end_matches('/');
    Some(format!("{}{}", parts.host, rest.to_lowercase()))
}

/// datatrove's `normalize`: drop every non-ASCII-alphanumeric character, lowercase.
pub fn normalize_word(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// URL tokens: runs of ASCII alphanumerics (datatrove splits on `[^a-zA-Z0-9]+`). Callers pass
/// the lowercased URL.
fn tokens(url: &str) -> impl Iterator<Item = &str> {
    url.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|t| !t.is_empty())
}

/// The compiled lists. Built once, shared read-only across threads.
pub struct UrlLists {
    domains: Set,
    urls: Set,
    excluded: Set,
    hard: Set,
    soft: Set,
    strict_words: Vec<String>,
    strict: Option<AhoCorasick>,
    soft_threshold: usize,
}

fn domain_set<'a>(entries: impl IntoIterator<Item = &'a str>) -> Set {
    entries
        .into_iter()
        .filter_map(|e| {
            let e = e.trim();
            if e.is_empty() || e.starts_with('#') {
                return None;
            }
            let e = e.trim_start_matches("*.").trim_start_matches('.');
            normalize_host(e)
        })
        .map(String::into_boxed_str)
        .collect()
}

fn word_list<'a>(entries: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut seen = HashSet::new();
    entries
        .into_iter()
        .filter(|e| !e.trim().starts_with('#'))
        .map(normalize_word)
        .filter(|w| !w.is_empty() && seen.insert(w.clone()))
        .collect()
}

impl UrlLists {
    pub fn new<'a>(
        blocked_domains: impl IntoIterator<Item = &'a str>,
        blocked_urls: impl IntoIterator<Item = &'a str>,
        strict_words: impl IntoIterator<Item = &'a str>,
        hard_words: impl IntoIterator<Item = &'a str>,
        soft_words: impl IntoIterator<Item = &'a str>,
        excluded_domains: impl IntoIterator<Item = &'a str>,
        soft_threshold: usize,
    ) -> Result<Self, String> {
        let urls = blocked_urls
            .into_iter()
            .map(str::trim)
            .filter(|u| !u.is_empty() && !u.starts_with('#'))
            .filter_map(url_key)
            .map(String::into_boxed_str)
            .collect();
        let strict_words = word_list(strict_words);
        let strict = if strict_words.is_empty() {
            None
        } else {
            Some(AhoCorasick::new(&strict_words).map_err(|e| e.to_string())?)
        };
        let to_set = |ws: Vec<String>| ws.into_iter().map(String::into_boxed_str).collect();
        Ok(UrlLists {
            domains: domain_set(blocked_domains),
            urls,
            excluded: domain_set(excluded_domains),
            hard: to_set(word_list(hard_words)),
            soft: to_set(word_list(soft_words)),
            strict_words,
            strict,
            soft_threshold: soft_threshold.max(1),
        })
    }

    /// Why `url` is dropped, or `None` to keep it.
    pub fn reason(&self, url: &str) -> Option<Reason> {
        let Some(parts) = parse_url(url) else {
            return Some(Reason::Unparseable);
        };
        if let Some(d) = host_suffixes(&parts.host).find(|d| self.domains.contains(*d)) {
            return Some(Reason::Domain(d.to_owned()));
        }
        if let Some(d) = host_suffixes(&parts.host).find(|d| self.excluded.contains(*d)) {
            return Some(Reason::QualitySource(d.to_owned()));
        }
        if !self.urls.is_empty() && url_key(url).is_some_and(|k| self.urls.contains(k.as_str())) {
            return Some(Reason::Url);
        }
        let lower = url.to_ascii_lowercase();
        let mut soft_hits: Vec<&str> = Vec::new();
        for tok in tokens(&lower) {
            if self.hard.contains(tok) {
                return Some(Reason::HardWord(tok.to_owned()));
            }
            if self.soft.contains(tok) && !soft_hits.contains(&tok) {
                soft_hits.push(tok);
            }
        }
        if soft_hits.len() >= self.soft_threshold {
            return Some(Reason::SoftWords(
                soft_hits.into_iter().map(str::to_owned).collect(),
            ));
        }
        let ac = self.strict.as_ref()?;
        let m = ac.find(normalize_word(url).as_str())?;
        Some(Reason::StrictWord(
            self.strict_words[m.pattern().as_usize()].clone(),
        ))
    }
}

/// RefinedWeb URL filter over pyarrow string arrays. Built once from the lists (see
/// `mdfql.text.load_url_filter`), then applied to batches with the GIL released.
#[pyclass(frozen, module = "mdfql._native", name = "UrlFilter")]
pub struct UrlFilter {
    lists: Arc<UrlLists>,
}

#[pymethods]
impl UrlFilter {
    #[new]
    #[pyo3(signature = (blocked_domains, blocked_urls, strict_words, hard_words, soft_words,
                        excluded_domains, soft_word_threshold = 2))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        blocked_domains: Vec<String>,
        blocked_urls: Vec<String>,
        strict_words: Vec<String>,
        hard_words: Vec<String>,
        soft_words: Vec<String>,
        excluded_domains: Vec<String>,
        soft_word_threshold: usize,
    ) -> PyResult<Self> {
        let lists = py
            .detach(|| {
                UrlLists::new(
                    blocked_domains.iter().map(String::as_str),
                    blocked_urls.iter().map(String::as_str),
                    strict_words.iter().map(String::as_str),
                    hard_words.iter().map(String::as_str),
                    soft_words.iter().map(String::as_str),
                    excluded_domains.iter().map(String::as_str),
                    soft_word_threshold,
                )
            })
            .map_err(PyValueError::new_err)?;
        Ok(UrlFilter {
            lists: Arc::new(lists),
        })
    }

    /// Per URL: null to keep, else the reason it is dropped (`domain:x`, `quality_source:x`,
    /// `url`, `hard_word:w`, `soft_words:a,b`, `strict_word:w`, `unparseable`). Null URLs are
    /// `unparseable`.
    fn reasons(&self, py: Python<'_>, urls: PyArray) -> PyResult<PyArray> {
        let col = StrColumn::from_data(urls.0)?;
        let lists = &self.lists;
        let out: StringArray = crate::arrow_io::detach_guarded(py, || {
            (0..col.len())
                .map(|i| match col.get(i) {
                    Some(u) => lists.reason(u).map(|r| r.to_string()),
                    None => Some(Reason::Unparseable.to_string()),
                })
                .collect()
        })?;
        Ok(to_py(Arc::new(out)))
    }

    /// Per URL: 1.0 if dropped, 0.0 if kept (`score < 0.5` keeps what the filter keeps).
    fn scores(&self, py: Python<'_>, urls: PyArray) -> PyResult<PyArray> {
        let col = StrColumn::from_data(urls.0)?;
        let lists = &self.lists;
        let out: Float64Array = crate::arrow_io::detach_guarded(py, || {
            (0..col.len())
                .map(|i| {
                    let blocked = col.get(i).is_none_or(|u| lists.reason(u).is_some());
                    Some(if blocked { 1.0 } else { 0.0 })
                })
                .collect()
        })?;
        Ok(to_py(Arc::new(out)))
    }

    fn __repr__(&self) -> String {
        let l = &self.lists;
        format!(
            "UrlFilter(domains={}, urls={}, strict_words={}, hard_words={}, soft_words={}, \
             excluded_domains={}, soft_word_threshold={})",
            l.domains.len(),
            l.urls.len(),
            l.strict_words.len(),
            l.hard.len(),
            l.soft.len(),
            l.excluded.len(),
            l.soft_threshold
        )
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<UrlFilter>()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lists() -> UrlLists {
        UrlLists::new(
            [
                "bad.example",
                "# comment",
                "Evil.TEST",
                "xn--bcher-kva.example",
                "10.0.0.1",
            ],
            ["shady.example/path/page.html", "http://other.example/x?y=1"],
            ["xxxsub"],
            ["porn", "casino"],
            ["hot", "girls", "free"],
            ["en.wikipedia.org", "arxiv.org"],
            2,
        )
        .unwrap()
    }

    fn reason(url: &str) -> Option<String> {
        lists().reason(url).map(|r| r.to_string())
    }

    #[test]
    fn parses_hosts() {
        let p = parse_url("HTTP://user:pw@WWW.Example.COM.:8080/a/b?c#d").unwrap();
        assert_eq!(p.host, "www.example.com");
        assert_eq!(p.rest, "/a/b?c#d");
        assert_eq!(parse_url("example.com/x").unwrap().host, "example.com");
        assert_eq!(parse_url("//example.com").unwrap().host, "example.com");
        assert_eq!(parse_url("http://[::1]:80/").unwrap().host, "::1");
        assert_eq!(
            parse_url("http://bücher.example/").unwrap().host,
            "xn--bcher-kva.example"
        );
        assert!(parse_url("http:///nohost").is_none());
        assert!(parse_url("http://a..b/").is_none());
        assert!(parse_url("http://host:notaport/").is_none());
        assert!(parse_url("").is_none());
    }

    #[test]
    fn domains_and_subdomains() {
        assert_eq!(
            reason("http://bad.example/").as_deref(),
            Some("domain:bad.example")
        );
        assert_eq!(
            reason("https://a.b.BAD.example:443/").as_deref(),
            Some("domain:bad.example")
        );
        assert_eq!(
            reason("https://evil.test/").as_deref(),
            Some("domain:evil.test")
        );
        assert_eq!(reason("https://notbad.example/"), None);
        assert_eq!(reason("https://bad.example.org/"), None);
        assert_eq!(
            reason("http://www.bücher.example/").as_deref(),
            Some("domain:xn--bcher-kva.example")
        );
        assert_eq!(
            reason("http://10.0.0.1/x").as_deref(),
            Some("domain:10.0.0.1")
        );
        assert_eq!(reason("http://1.10.0.0.1/x"), None);
    }

    #[test]
    fn quality_sources() {
        assert_eq!(
            reason("https://en.wikipedia.org/wiki/Rust").as_deref(),
            Some("quality_source:en.wikipedia.org")
        );
        assert_eq!(reason("https://fr.wikipedia.org/wiki/Rust"), None);
        assert_eq!(
            reason("https://export.arxiv.org/abs/1").as_deref(),
            Some("quality_source:arxiv.org")
        );
    }

    #[test]
    fn urls() {
        assert_eq!(
            reason("http://shady.example/path/page.html").as_deref(),
            Some("url")
        );
        assert_eq!(
            reason("https://Shady.Example/PATH/page.html#top").as_deref(),
            Some("url")
        );
        assert_eq!(reason("http://shady.example/path/other.html"), None);
        assert_eq!(
            reason("https://other.example/x?y=1/").as_deref(),
            Some("url")
        );
    }

    #[test]
    fn words() {
        assert_eq!(
            reason("http://site.example/PORN-videos").as_deref(),
            Some("hard_word:porn")
        );
        assert_eq!(reason("http://site.example/pornography"), None);
        assert_eq!(reason("http://site.example/hot-deals"), None);
        assert_eq!(
            reason("http://site.example/hot/girls/hot").as_deref(),
            Some("soft_words:hot,girls")
        );
        assert_eq!(
            reason("http://site.example/a-xxx-sub-b").as_deref(),
            Some("strict_word:xxxsub")
        );
        assert_eq!(reason("http://site.example/clean/page"), None);
    }

    #[test]
    fn thresholds_and_empty_lists() {
        let one = UrlLists::new([], [], [], [], ["hot"], [], 1).unwrap();
        assert!(one.reason("http://x.example/hot").is_some());
        let none = UrlLists::new([], [], [], [], [], [], 2).unwrap();
        assert!(none.reason("http://x.example/porn").is_none());
        assert_eq!(none.reason("http:// /"), Some(Reason::Unparseable));
    }
}
