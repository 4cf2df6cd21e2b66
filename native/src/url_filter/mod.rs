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
//!
//! `host` parses URLs, `domains` is the compact domain set, `lists` reads list files and
//! archives, `py` is the Python binding.

mod domains;
mod host;
mod lists;
mod py;

use std::collections::HashSet;

use aho_corasick::AhoCorasick;
use xxhash_rust::xxh3::Xxh3DefaultBuilder;

use domains::{DomainSet, DomainSetBuilder};
use host::{host_suffixes, normalize_host, parse_url, url_key};
pub use lists::{read_sources, LoadError, Source};
pub use py::register;

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

/// The six lists, by the names the Python side uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    Domains,
    Urls,
    StrictWords,
    HardWords,
    SoftWords,
    ExcludedDomains,
}

impl ListKind {
    pub const ALL: [ListKind; 6] = [
        ListKind::Domains,
        ListKind::Urls,
        ListKind::StrictWords,
        ListKind::HardWords,
        ListKind::SoftWords,
        ListKind::ExcludedDomains,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ListKind::Domains => "domains",
            ListKind::Urls => "urls",
            ListKind::StrictWords => "strict_words",
            ListKind::HardWords => "hard_words",
            ListKind::SoftWords => "soft_words",
            ListKind::ExcludedDomains => "excluded_domains",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// Collects list entries (one line of a list file each) into [`UrlLists`]. Blank lines and
/// `#` comments are skipped, domains are normalised like hosts (entries that are no host name
/// are skipped), URLs keyed like [`url_key`], words normalised like [`normalize_word`].
#[derive(Default)]
pub struct ListsBuilder {
    domains: DomainSetBuilder,
    urls: Set,
    excluded: DomainSetBuilder,
    strict: Vec<String>,
    strict_seen: HashSet<String>,
    hard: Set,
    soft: Set,
}

impl ListsBuilder {
    pub fn add(&mut self, kind: ListKind, entry: &str) -> Result<(), String> {
        let entry = entry.trim();
        if entry.is_empty() || entry.starts_with('#') {
            return Ok(());
        }
        match kind {
            ListKind::Domains | ListKind::ExcludedDomains => {
                let set = if kind == ListKind::Domains {
                    &mut self.domains
                } else {
                    &mut self.excluded
                };
                if let Some(host) =
                    normalize_host(entry.trim_start_matches("*.").trim_start_matches('.'))
                {
                    set.push(&host)?;
                }
            }
            ListKind::Urls => {
                if let Some(key) = url_key(entry) {
                    self.urls.insert(key.into_boxed_str());
                }
            }
            ListKind::StrictWords | ListKind::HardWords | ListKind::SoftWords => {
                let word = normalize_word(entry);
                if word.is_empty() {
                    return Ok(());
                }
                match kind {
                    ListKind::StrictWords => {
                        if self.strict_seen.insert(word.clone()) {
                            self.strict.push(word);
                        }
                    }
                    ListKind::HardWords => {
                        self.hard.insert(word.into_boxed_str());
                    }
                    _ => {
                        self.soft.insert(word.into_boxed_str());
                    }
                }
            }
        }
        Ok(())
    }

    pub fn build(self, soft_threshold: usize) -> Result<UrlLists, String> {
        let strict = if self.strict.is_empty() {
            None
        } else {
            Some(AhoCorasick::new(&self.strict).map_err(|e| e.to_string())?)
        };
        Ok(UrlLists {
            domains: self.domains.build(),
            urls: self.urls,
            excluded: self.excluded.build(),
            hard: self.hard,
            soft: self.soft,
            strict_words: self.strict,
            strict,
            soft_threshold: soft_threshold.max(1),
        })
    }
}

/// The compiled lists. Built once, shared read-only across threads.
pub struct UrlLists {
    domains: DomainSet,
    urls: Set,
    excluded: DomainSet,
    hard: Set,
    soft: Set,
    strict_words: Vec<String>,
    strict: Option<AhoCorasick>,
    soft_threshold: usize,
}

impl UrlLists {
    /// Lists from in-memory entries (one list file line each).
    pub fn new<'a>(
        blocked_domains: impl IntoIterator<Item = &'a str>,
        blocked_urls: impl IntoIterator<Item = &'a str>,
        strict_words: impl IntoIterator<Item = &'a str>,
        hard_words: impl IntoIterator<Item = &'a str>,
        soft_words: impl IntoIterator<Item = &'a str>,
        excluded_domains: impl IntoIterator<Item = &'a str>,
        soft_threshold: usize,
    ) -> Result<Self, String> {
        fn add_all<'a>(
            b: &mut ListsBuilder,
            kind: ListKind,
            entries: impl IntoIterator<Item = &'a str>,
        ) -> Result<(), String> {
            entries.into_iter().try_for_each(|e| b.add(kind, e))
        }
        let mut b = ListsBuilder::default();
        add_all(&mut b, ListKind::Domains, blocked_domains)?;
        add_all(&mut b, ListKind::Urls, blocked_urls)?;
        add_all(&mut b, ListKind::StrictWords, strict_words)?;
        add_all(&mut b, ListKind::HardWords, hard_words)?;
        add_all(&mut b, ListKind::SoftWords, soft_words)?;
        add_all(&mut b, ListKind::ExcludedDomains, excluded_domains)?;
        b.build(soft_threshold)
    }

    /// Lists read from files and archive members (see [`lists::read_sources`]).
    pub fn from_sources(
        sources: &[(ListKind, Source)],
        soft_threshold: usize,
    ) -> Result<Self, LoadError> {
        let mut b = ListsBuilder::default();
        read_sources(sources, |kind, line| b.add(kind, line))?;
        b.build(soft_threshold).map_err(LoadError::Invalid)
    }

    /// Distinct entries per list, in [`ListKind::ALL`] order.
    pub fn counts(&self) -> [(ListKind, usize); 6] {
        ListKind::ALL.map(|k| {
            let n = match k {
                ListKind::Domains => self.domains.len(),
                ListKind::Urls => self.urls.len(),
                ListKind::StrictWords => self.strict_words.len(),
                ListKind::HardWords => self.hard.len(),
                ListKind::SoftWords => self.soft.len(),
                ListKind::ExcludedDomains => self.excluded.len(),
            };
            (k, n)
        })
    }

    pub fn soft_threshold(&self) -> usize {
        self.soft_threshold
    }

    /// Why `url` is dropped, or `None` to keep it; `quality_sources` applies the excluded
    /// domains (RefinedWeb does, FineWeb does not: one loaded filter serves both).
    pub fn reason(&self, url: &str, quality_sources: bool) -> Option<Reason> {
        let Some(parts) = parse_url(url) else {
            return Some(Reason::Unparseable);
        };
        if let Some(d) = host_suffixes(&parts.host).find(|d| self.domains.contains(d)) {
            return Some(Reason::Domain(d.to_owned()));
        }
        if quality_sources {
            if let Some(d) = host_suffixes(&parts.host).find(|d| self.excluded.contains(d)) {
                return Some(Reason::QualitySource(d.to_owned()));
            }
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
        lists().reason(url, true).map(|r| r.to_string())
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
    fn quality_sources_can_be_kept() {
        let l = lists();
        let url = "https://en.wikipedia.org/wiki/Rust";
        assert!(l.reason(url, true).is_some());
        assert_eq!(l.reason(url, false), None);
        assert!(l.reason("http://bad.example/", false).is_some());
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
    fn from_files_counts_and_normalises() {
        let dir = std::env::temp_dir().join(format!("mdfql-urllists-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let domains = dir.join("domains");
        std::fs::write(
            &domains,
            "# UT1\nBad.Example\n*.wild.example\nbad.example\nnot a host\n",
        )
        .unwrap();
        let words = dir.join("hard.txt");
        std::fs::write(&words, "#xx\nPorn\nx x x\n").unwrap();
        let src = |p: &std::path::Path| Source {
            path: p.to_path_buf(),
            member: None,
        };
        let lists = UrlLists::from_sources(
            &[
                (ListKind::Domains, src(&domains)),
                (ListKind::HardWords, src(&words)),
            ],
            2,
        )
        .unwrap();
        let counts: Vec<(&str, usize)> =
            lists.counts().iter().map(|(k, n)| (k.name(), *n)).collect();
        assert_eq!(
            counts,
            [
                ("domains", 2),
                ("urls", 0),
                ("strict_words", 0),
                ("hard_words", 2),
                ("soft_words", 0),
                ("excluded_domains", 0)
            ]
        );
        assert_eq!(
            lists
                .reason("http://a.wild.example/", true)
                .map(|r| r.to_string())
                .as_deref(),
            Some("domain:wild.example")
        );
        assert_eq!(
            lists
                .reason("http://ok.example/x-x-x/xxx", true)
                .map(|r| r.to_string())
                .as_deref(),
            Some("hard_word:xxx")
        );
        let missing = UrlLists::from_sources(&[(ListKind::Urls, src(&dir.join("none")))], 2);
        assert!(matches!(missing, Err(LoadError::NotFound(_))));
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(ListKind::from_name("soft_words"), Some(ListKind::SoftWords));
        assert_eq!(ListKind::from_name("nope"), None);
    }

    #[test]
    fn thresholds_and_empty_lists() {
        let one = UrlLists::new([], [], [], [], ["hot"], [], 1).unwrap();
        assert!(one.reason("http://x.example/hot", true).is_some());
        let none = UrlLists::new([], [], [], [], [], [], 2).unwrap();
        assert!(none.reason("http://x.example/porn", true).is_none());
        assert_eq!(none.reason("http:// /", true), Some(Reason::Unparseable));
    }
}
