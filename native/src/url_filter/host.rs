//! The parts of a URL the filter compares: its host (lowercase IDNA ASCII) and the rest.

use std::borrow::Cow;

/// The parts of a URL the filter looks at.
#[derive(Debug, PartialEq, Eq)]
pub struct UrlParts<'a> {
    /// Lowercase IDNA-ASCII host without trailing dot (IPv6 without brackets); borrowed from
    /// the URL when it is written that way already (the common case: no allocation).
    pub host: Cow<'a, str>,
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
            host: Cow::Owned(ip.to_ascii_lowercase()),
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
pub fn normalize_host(host: &str) -> Option<Cow<'_, str>> {
    fn host_byte(b: u8) -> bool {
        b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_')
    }
    let host = host.strip_suffix('.').unwrap_or(host);
    let plain = host.bytes().all(host_byte);
    let ascii: Cow<'_, str> = if !plain {
        Cow::Owned(idna::domain_to_ascii(host).ok()?)
    } else if host.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(host.to_ascii_lowercase())
    } else {
        Cow::Borrowed(host)
    };
    let ascii = match ascii {
        Cow::Borrowed(h) => Cow::Borrowed(h.strip_suffix('.').unwrap_or(h)),
        Cow::Owned(mut h) => {
            if h.ends_with('.') {
                h.pop();
            }
            Cow::Owned(h)
        }
    };
    // IDNA lets some ASCII through (spaces, `<`, ...) that no real host name contains.
    let valid = ascii.split('.').all(|l| !l.is_empty()) && (plain || ascii.bytes().all(host_byte));
    valid.then_some(ascii)
}

/// IP literals: IPv6, or a last label that is all digits (never a TLD; WHATWG parses such
/// hosts as IPv4).
pub fn is_ip(host: &str) -> bool {
    host.contains(':')
        || host
            .rsplit('.')
            .next()
            .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()))
}

/// The host and each of its parent domains, longest first (`a.b.c`, `b.c`, `c`). IP literals
/// only match themselves.
pub fn host_suffixes(host: &str) -> impl Iterator<Item = &str> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn suffixes_and_keys() {
        let all: Vec<&str> = host_suffixes("a.b.example.com").collect();
        assert_eq!(
            all,
            ["a.b.example.com", "b.example.com", "example.com", "com"]
        );
        assert_eq!(host_suffixes("10.0.0.1").count(), 1);
        assert_eq!(
            url_key("https://u@Shady.Example:443/PATH/x/#top").as_deref(),
            Some("shady.example/path/x")
        );
    }
}
