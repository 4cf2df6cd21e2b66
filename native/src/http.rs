//! HTTP response parsing for WARC `response` payloads: status line, headers, chunked transfer
//! encoding, gzip/deflate content encoding and charset resolution + decoding to UTF-8.
//!
//! Real crawls are messy, so every step degrades instead of failing: bad chunk sizes fall back to
//! the raw body, undecodable compression keeps the raw (or partially inflated) bytes, and decoding
//! replaces malformed sequences. Only an unusable status line or header block is an error.

use std::io::Read;
use std::sync::Arc;

use arrow::array::{ArrayRef, Int32Builder, LargeStringBuilder, StructArray};
use arrow::datatypes::{DataType, Field};
use chardetng::{EncodingDetector, Iso2022JpDetection, Utf8Detection};
use encoding_rs::{Encoding, UTF_8, WINDOWS_1252};
use flate2::read::{DeflateDecoder, MultiGzDecoder, ZlibDecoder};
use pyo3::prelude::*;
use regex::bytes::Regex;

use crate::arrow_io::{to_py, BytesColumn, PyArray};

/// How far into the body a `<meta>` charset declaration is looked for (as browsers' prescan).
const META_PRESCAN_BYTES: usize = 4096;
/// A header block larger than this is treated as garbage rather than scanned further.
const MAX_HEADER_BYTES: usize = 256 * 1024;

/// A successfully parsed and decoded HTTP response.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpResponse {
    pub status: i32,
    /// Mime type without parameters, lowercased; `None` when the header is absent or empty.
    pub content_type: Option<String>,
    /// WHATWG name (lowercased) of the encoding used to decode the body.
    pub charset: String,
    pub html: String,
}

/// Header block of a response: status code and (lowercased name, value) pairs in order.
#[derive(Debug)]
struct Head {
    status: i32,
    headers: Vec<(String, String)>,
}

impl Head {
    fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Parse `HTTP/x[.y] NNN [reason]` (leading blank lines tolerated), returning the status code.
fn parse_status_line(line: &[u8]) -> Result<i32, String> {
    let text = String::from_utf8_lossy(line);
    let text = text.trim();
    let rest = text
        .get(..5)
        .filter(|p| p.eq_ignore_ascii_case("HTTP/"))
        .map(|_| &text[5..])
        .ok_or_else(|| format!("bad status line: {:?}", truncate_for_msg(text)))?;
    let mut parts = rest.split_ascii_whitespace();
    let version = parts.next().unwrap_or("");
    let version_ok = !version.is_empty()
        && version.split('.').count() <= 2
        && version
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let code = parts.next().unwrap_or("");
    if !version_ok || code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("bad status line: {:?}", truncate_for_msg(text)));
    }
    Ok(code.parse().expect("three ascii digits"))
}

fn truncate_for_msg(s: &str) -> &str {
    let mut end = s.len().min(80);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Split the raw response into its parsed head and the body bytes that follow the blank line.
fn split_head(raw: &[u8]) -> Result<(Head, &[u8]), String> {
    // Lines end in LF; a preceding CR is dropped. Leading blank lines are skipped (some
    // archivers leave the CRLF of a previous message in front of the status line).
    let mut pos = 0;
    let mut status = None;
    let mut headers: Vec<(String, String)> = Vec::new();
    loop {
        if pos > MAX_HEADER_BYTES {
            return Err("header block too large or unterminated".into());
        }
        let Some(nl) = memchr::memchr(b'\n', &raw[pos..]) else {
            return Err(
                if status.is_none() && raw[pos..].iter().all(u8::is_ascii_whitespace) {
                    "empty response".into()
                } else {
                    "unterminated header block".into()
                },
            );
        };
        let mut line = &raw[pos..pos + nl];
        pos += nl + 1;
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        match status {
            None if line.iter().all(u8::is_ascii_whitespace) => continue,
            None => status = Some(parse_status_line(line)?),
            Some(_) if line.is_empty() => break,
            Some(_) => {
                let text = String::from_utf8_lossy(line);
                if text.starts_with([' ', '\t']) {
                    // Obsolete line folding: continuation of the previous header's value.
                    if let Some((_, v)) = headers.last_mut() {
                        v.push(' ');
                        v.push_str(text.trim());
                    }
                } else if let Some((name, value)) = text.split_once(':') {
                    headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
                }
                // A header line without a colon is noise; skip it rather than reject the response.
            }
        }
    }
    let status = status.expect("loop exits only after the status line");
    Ok((Head { status, headers }, &raw[pos..]))
}

/// Where the body of a raw HTTP response starts, and the Content-Length its head declares.
/// `None` when the head does not parse (or does not end within `raw`).
pub fn head_extent(raw: &[u8]) -> Option<(usize, Option<u64>)> {
    let (head, body) = split_head(raw).ok()?;
    let declared = head
        .get("content-length")
        .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|v| v.parse().ok());
    Some((raw.len() - body.len(), declared))
}

/// Decode a chunked body. `None` when a chunk size is unparseable (caller keeps the raw body).
/// A body cut short mid-chunk (truncated records are common) keeps what arrived.
pub fn dechunk(body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(body.len());
    let mut pos = 0;
    while pos < body.len() {
        let nl = memchr::memchr(b'\n', &body[pos..]).map_or(body.len(), |i| pos + i);
        let line = &body[pos..nl];
        let size_text = line.split(|&b| b == b';').next().unwrap_or(b"");
        let size_text = std::str::from_utf8(size_text).ok()?.trim();
        if size_text.is_empty() {
            return None;
        }
        let size = usize::from_str_radix(size_text, 16).ok()?;
        if size == 0 {
            break;
        }
        let start = (nl + 1).min(body.len());
        let end = start.saturating_add(size).min(body.len());
        out.extend_from_slice(&body[start..end]);
        pos = end;
        // Chunk data is followed by CRLF (a bare LF is tolerated); anything else means the sizes
        // do not describe this body.
        if body[pos..].starts_with(b"\r\n") {
            pos += 2;
        } else if body[pos..].starts_with(b"\n") {
            pos += 1;
        } else if pos < body.len() {
            return None;
        }
    }
    Some(out)
}

/// Inflate with `decoder`, reading at most `limit` bytes. Output that arrived before an error
/// (a truncated stream) is kept; `None` only when nothing could be inflated.
fn inflate<R: Read>(decoder: R, limit: usize) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    match decoder.take(limit as u64).read_to_end(&mut out) {
        Ok(_) => Some(out),
        Err(_) if !out.is_empty() => Some(out),
        Err(_) => None,
    }
}

/// Undo `Content-Encoding`; unknown encodings and failures keep the input bytes.
fn decompress(body: &[u8], content_encoding: Option<&str>, limit: usize) -> Option<Vec<u8>> {
    let enc = content_encoding?.trim().to_ascii_lowercase();
    match enc.as_str() {
        "gzip" | "x-gzip" => inflate(MultiGzDecoder::new(body), limit),
        // "deflate" is meant to be zlib-wrapped, but many servers send raw deflate.
        "deflate" => inflate(ZlibDecoder::new(body), limit)
            .or_else(|| inflate(DeflateDecoder::new(body), limit)),
        _ => None,
    }
}

/// The `charset` parameter of a Content-Type value, if any.
fn charset_param(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| v.trim().trim_matches(|c| c == '"' || c == '\''))
    })
}

fn meta_charset_regexes() -> &'static (Regex, Regex) {
    static RE: std::sync::OnceLock<(Regex, Regex)> = std::sync::OnceLock::new();
    RE.get_or_init(|| {
        (
            Regex::new(r"(?i-u)<meta[\s/][^>]*>").expect("valid regex"),
            // Matches both `charset="x"` and `content="text/html; charset=x"`.
            Regex::new(r#"(?i-u)charset\s*=\s*["']?\s*([a-z0-9_:.+\-]+)"#).expect("valid regex"),
        )
    })
}

/// Encoding declared by `<meta charset>` / `<meta http-equiv=content-type>` near the start.
fn meta_charset(body: &[u8]) -> Option<&'static Encoding> {
    let head = &body[..body.len().min(META_PRESCAN_BYTES)];
    let (tag_re, charset_re) = meta_charset_regexes();
    tag_re.find_iter(head).find_map(|tag| {
        let label = charset_re.captures(tag.as_bytes())?.get(1)?.as_bytes();
        let enc = Encoding::for_label(label)?;
        // WHATWG prescan: a meta cannot really declare UTF-16 (the bytes were ASCII-compatible
        // to be read), and x-user-defined means windows-1252.
        Some(
            if enc == encoding_rs::UTF_16LE || enc == encoding_rs::UTF_16BE {
                UTF_8
            } else if enc == encoding_rs::X_USER_DEFINED {
                WINDOWS_1252
            } else {
                enc
            },
        )
    })
}

/// Resolve the body's encoding: BOM > HTTP charset > meta prescan > detection (UTF-8 if valid).
/// Returns the encoding and how many BOM bytes to skip.
pub fn resolve_encoding(body: &[u8], content_type: Option<&str>) -> (&'static Encoding, usize) {
    if let Some((enc, bom_len)) = Encoding::for_bom(body) {
        return (enc, bom_len);
    }
    if let Some(enc) = content_type
        .and_then(charset_param)
        .and_then(|l| Encoding::for_label(l.as_bytes()))
    {
        return (enc, 0);
    }
    if let Some(enc) = meta_charset(body) {
        return (enc, 0);
    }
    // Valid UTF-8 (ASCII included) is what detection would answer; checking it is much cheaper.
    if std::str::from_utf8(body).is_ok() {
        return (UTF_8, 0);
    }
    let mut detector = EncodingDetector::new(Iso2022JpDetection::Deny);
    detector.feed(body, true);
    (detector.guess(None, Utf8Detection::Allow), 0)
}

/// Parse one raw HTTP response (status line + headers + blank line + body) and decode its body.
/// The decoded body is cut to at most `max_bytes` of (decompressed) input bytes.
pub fn parse_http_response(raw: &[u8], max_bytes: usize) -> Result<HttpResponse, String> {
    let (head, raw_body) = split_head(raw)?;
    let chunked = head
        .get("transfer-encoding")
        .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
    let dechunked = if chunked { dechunk(raw_body) } else { None };
    let body: &[u8] = dechunked.as_deref().unwrap_or(raw_body);
    let inflated = decompress(body, head.get("content-encoding"), max_bytes);
    let body = inflated.as_deref().unwrap_or(body);
    let body = &body[..body.len().min(max_bytes)];

    let content_type_header = head.get("content-type");
    let (encoding, bom_len) = resolve_encoding(body, content_type_header);
    let (html, _) = encoding.decode_without_bom_handling(&body[bom_len..]);
    let content_type = content_type_header
        .map(|ct| {
            ct.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|ct| !ct.is_empty());
    Ok(HttpResponse {
        status: head.status,
        content_type,
        charset: encoding.name().to_ascii_lowercase(),
        html: html.into_owned(),
    })
}

/// Parse a column of raw HTTP responses into `struct<status: int32, content_type, charset,
/// html, error>` (strings are large_utf8: a batch's html may pass 2 GiB).
/// Rows that cannot be parsed have only `error` set (a null payload is an error too).
#[pyfunction]
#[pyo3(signature = (payloads, max_bytes = 10_000_000))]
fn parse_http_responses(py: Python<'_>, payloads: PyArray, max_bytes: usize) -> PyResult<PyArray> {
    let col = BytesColumn::from_data(payloads.0)?;
    let out = py.detach(|| {
        let n = col.len();
        let mut status = Int32Builder::with_capacity(n);
        let mut content_type = LargeStringBuilder::new();
        let mut charset = LargeStringBuilder::new();
        let mut html = LargeStringBuilder::new();
        let mut error = LargeStringBuilder::new();
        for i in 0..n {
            let parsed = col
                .get(i)
                .ok_or_else(|| "null payload".to_string())
                .and_then(|raw| parse_http_response(raw, max_bytes));
            match parsed {
                Ok(r) => {
                    status.append_value(r.status);
                    content_type.append_option(r.content_type);
                    charset.append_value(r.charset);
                    html.append_value(r.html);
                    error.append_null();
                }
                Err(e) => {
                    status.append_null();
                    content_type.append_null();
                    charset.append_null();
                    html.append_null();
                    error.append_value(e);
                }
            }
        }
        let field = |name: &str, dt: DataType| Arc::new(Field::new(name, dt, true));
        StructArray::from(vec![
            (
                field("status", DataType::Int32),
                Arc::new(status.finish()) as ArrayRef,
            ),
            (
                field("content_type", DataType::LargeUtf8),
                Arc::new(content_type.finish()),
            ),
            (
                field("charset", DataType::LargeUtf8),
                Arc::new(charset.finish()),
            ),
            (field("html", DataType::LargeUtf8), Arc::new(html.finish())),
            (field("error", DataType::LargeUtf8), Arc::new(error.finish())),
        ])
    });
    Ok(to_py(Arc::new(out)))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(parse_http_responses, m)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::{GzEncoder, ZlibEncoder};
    use flate2::Compression;
    use std::io::Write;

    fn response(headers: &str, body: &[u8]) -> Vec<u8> {
        let mut raw = headers.replace('\n', "\r\n").into_bytes();
        raw.extend_from_slice(b"\r\n");
        raw.extend_from_slice(body);
        raw
    }

    fn parse(raw: &[u8]) -> HttpResponse {
        parse_http_response(raw, 10_000_000).expect("parses")
    }

    #[test]
    fn basic_http11_and_http10() {
        let r = parse(&response(
            "HTTP/1.1 200 OK\nContent-Type: Text/HTML; charset=UTF-8\n",
            b"<p>hi</p>",
        ));
        assert_eq!(r.status, 200);
        assert_eq!(r.content_type.as_deref(), Some("text/html"));
        assert_eq!(r.charset, "utf-8");
        assert_eq!(r.html, "<p>hi</p>");
        let r = parse(b"HTTP/1.0 404 Not Found\n\nmissing");
        assert_eq!((r.status, r.html.as_str()), (404, "missing"));
        assert_eq!(r.content_type, None);
        let r = parse(b"\r\nHTTP/2 301\r\nLocation: /x\r\n\r\n");
        assert_eq!((r.status, r.html.as_str()), (301, ""));
    }

    #[test]
    fn header_folding_and_junk_lines() {
        let raw = response(
            "HTTP/1.1 200 OK\nX-Long: a\n  b\nthis line has no colon\nContent-Type: text/html;\n\tcharset=windows-1252\n",
            b"caf\xe9",
        );
        let r = parse(&raw);
        assert_eq!(r.charset, "windows-1252");
        assert_eq!(r.html, "café");
    }

    #[test]
    fn garbled_or_missing_headers_are_errors() {
        for raw in [
            &b"<html>no status line</html>"[..],
            b"HTTP/1.1 OK\r\n\r\nbody",
            b"HTTP/x.y 200 OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n",
            b"",
            b"\xff\xfe\x00garbage\n\n",
        ] {
            assert!(parse_http_response(raw, 100).is_err(), "{raw:?}");
        }
    }

    #[test]
    fn chunked_bodies() {
        let body = b"4;ext=1\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\n";
        let r = parse(&response(
            "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n",
            body,
        ));
        assert_eq!(r.html, "Wikipedia in\r\n\r\nchunks.");
        // Cut mid-chunk: keep what arrived.
        assert_eq!(dechunk(b"4\r\nWiki\r\n5\r\npe").unwrap(), b"Wikipe");
        // Sizes that do not describe the body: fall back to the raw body.
        let bad = b"zz\r\n<html>raw</html>";
        let r = parse(&response(
            "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n",
            bad,
        ));
        assert_eq!(r.html.as_bytes(), bad);
        let wrong = b"3\r\n<html>raw</html>";
        let r = parse(&response(
            "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n",
            wrong,
        ));
        assert_eq!(r.html.as_bytes(), wrong);
    }

    #[test]
    fn gzip_deflate_and_broken_compression() {
        let text = "<html><body>compressed ünïcode</body></html>".repeat(20);
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(text.as_bytes()).unwrap();
        let gz = gz.finish().unwrap();
        let r = parse(&response("HTTP/1.1 200 OK\nContent-Encoding: gzip\n", &gz));
        assert_eq!(r.html, text);

        let mut zl = ZlibEncoder::new(Vec::new(), Compression::default());
        zl.write_all(text.as_bytes()).unwrap();
        let zl = zl.finish().unwrap();
        let r = parse(&response(
            "HTTP/1.1 200 OK\nContent-Encoding: deflate\n",
            &zl,
        ));
        assert_eq!(r.html, text);
        // Raw deflate (no zlib wrapper) is also accepted.
        let mut raw_deflate =
            flate2::write::DeflateEncoder::new(Vec::new(), Compression::default());
        raw_deflate.write_all(text.as_bytes()).unwrap();
        let raw_deflate = raw_deflate.finish().unwrap();
        let r = parse(&response(
            "HTTP/1.1 200 OK\nContent-Encoding: deflate\n",
            &raw_deflate,
        ));
        assert_eq!(r.html, text);

        // Chunked and gzipped together: dechunk first, then inflate.
        let mut chunked = format!("{:x}\r\n", gz.len()).into_bytes();
        chunked.extend_from_slice(&gz);
        chunked.extend_from_slice(b"\r\n0\r\n\r\n");
        let r = parse(&response(
            "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\nContent-Encoding: gzip\n",
            &chunked,
        ));
        assert_eq!(r.html, text);

        // Not gzip at all: keep the raw body.
        let r = parse(&response(
            "HTTP/1.1 200 OK\nContent-Encoding: gzip\n",
            b"plain text",
        ));
        assert_eq!(r.html, "plain text");
        // Truncated gzip: keep the part that inflated.
        let long: String = (0..5000)
            .map(|i| format!("<li>{}</li>", i * 7919 % 10007))
            .collect();
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(long.as_bytes()).unwrap();
        let gz = gz.finish().unwrap();
        let r = parse(&response(
            "HTTP/1.1 200 OK\nContent-Encoding: gzip\n",
            &gz[..gz.len() / 2],
        ));
        assert!(
            r.html.len() > 1000 && long.starts_with(&r.html),
            "{}",
            r.html
        );
    }

    #[test]
    fn charset_precedence() {
        // BOM beats the HTTP header.
        let r = parse(&response(
            "HTTP/1.1 200 OK\nContent-Type: text/html; charset=iso-8859-1\n",
            b"\xef\xbb\xbfcaf\xc3\xa9",
        ));
        assert_eq!((r.charset.as_str(), r.html.as_str()), ("utf-8", "café"));
        // HTTP header beats meta.
        let body = b"<meta charset=\"utf-8\"><p>caf\xe9</p>";
        let r = parse(&response(
            "HTTP/1.1 200 OK\nContent-Type: text/html; charset=\"ISO-8859-1\"\n",
            body,
        ));
        assert_eq!(r.charset, "windows-1252");
        assert_eq!(r.html, "<meta charset=\"utf-8\"><p>café</p>");
        // Meta (both forms) when the header has no charset; an unknown header label is ignored.
        let r = parse(&response(
            "HTTP/1.1 200 OK\nContent-Type: text/html; charset=bogus\n",
            b"<html><head><META http-equiv=\"Content-Type\" content=\"text/html; charset=Shift_JIS\"></head>\x93\xfa\x96\x7b",
        ));
        assert_eq!(r.charset, "shift_jis");
        assert!(r.html.ends_with("日本"), "{}", r.html);
        let r = parse(&response(
            "HTTP/1.1 200 OK\n",
            b"<meta charset='koi8-r'>\xf0\xd2\xc9",
        ));
        assert_eq!(
            (r.charset.as_str(), r.html.as_str()),
            ("koi8-r", "<meta charset='koi8-r'>При")
        );
        // A meta beyond the prescan window does not count.
        let mut late = vec![b' '; META_PRESCAN_BYTES];
        late.extend_from_slice(b"<meta charset=koi8-r>");
        let r = parse(&response("HTTP/1.1 200 OK\n", &late));
        assert_eq!(r.charset, "utf-8");
        // No declaration, valid UTF-8.
        let r = parse(&response("HTTP/1.1 200 OK\n", "日本語".as_bytes()));
        assert_eq!((r.charset.as_str(), r.html.as_str()), ("utf-8", "日本語"));
    }

    #[test]
    fn detects_undeclared_windows_1252() {
        let text =
            "Le café de la gare était fermé; nous sommes allés à l'hôtel près de la rivière. \
                    Über die Brücke gingen wir für ein schönes Frühstück.";
        let (bytes, _, _) = WINDOWS_1252.encode(text);
        let r = parse(&response(
            "HTTP/1.1 200 OK\nContent-Type: text/html\n",
            &bytes,
        ));
        assert_eq!(r.charset, "windows-1252");
        assert_eq!(r.html, text);
    }

    #[test]
    fn detects_undeclared_shift_jis() {
        let text = "<html><body><p>日本語のウェブページです。東京は日本の首都であり、\
                    多くの人々が住んでいます。今日はとても良い天気ですね。</p></body></html>";
        let (bytes, _, _) = encoding_rs::SHIFT_JIS.encode(text);
        let r = parse(&response(
            "HTTP/1.1 200 OK\nContent-Type: text/html\n",
            &bytes,
        ));
        assert_eq!(r.charset, "shift_jis");
        assert_eq!(r.html, text);
    }

    #[test]
    fn detects_undeclared_koi8_r() {
        // chardetng reports KOI8-U, the superset of KOI8-R that decodes Russian text identically.
        let text = "<html><body><p>Москва является столицей России. Сегодня в городе хорошая \
                    погода, и многие люди гуляют в парках и на улицах.</p></body></html>";
        let (bytes, _, _) = encoding_rs::KOI8_R.encode(text);
        let r = parse(&response(
            "HTTP/1.1 200 OK\nContent-Type: text/html\n",
            &bytes,
        ));
        assert_eq!(r.charset, "koi8-u");
        assert_eq!(r.html, text);
    }

    #[test]
    fn malformed_bytes_are_replaced_and_body_is_capped() {
        let r = parse(&response(
            "HTTP/1.1 200 OK\nContent-Type: text/html; charset=utf-8\n",
            b"ok \xff\xfe end",
        ));
        assert_eq!(r.html, "ok \u{fffd}\u{fffd} end");
        let r = parse_http_response(&response("HTTP/1.1 200 OK\n", b"0123456789"), 4).unwrap();
        assert_eq!(r.html, "0123");
        // The cap also bounds decompression.
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(&vec![b'a'; 1 << 20]).unwrap();
        let gz = gz.finish().unwrap();
        let raw = response("HTTP/1.1 200 OK\nContent-Encoding: gzip\n", &gz);
        assert_eq!(parse_http_response(&raw, 1000).unwrap().html.len(), 1000);
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_arbitrary_input(
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512),
            te in 0..3usize,
        ) {
            let head = ["", "Transfer-Encoding: chunked\n", "Content-Encoding: gzip\n"][te];
            let _ = parse_http_response(&body, 64);
            let raw = response(&format!("HTTP/1.1 200 OK\n{head}"), &body);
            let r = parse_http_response(&raw, 64).expect("valid head");
            proptest::prop_assert!(r.html.chars().count() <= 64);
        }
    }

    #[test]
    fn charset_param_parsing() {
        assert_eq!(charset_param("text/html; charset=utf-8"), Some("utf-8"));
        assert_eq!(
            charset_param("text/html;Charset='latin1' ; q=1"),
            Some("latin1")
        );
        assert_eq!(charset_param("text/html"), None);
    }
}
