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

/// The data of each chunk of a chunked body in turn, borrowed from it. A size line that does
/// not parse, or chunk data not followed by a line end, yields one `Err` and ends the walk; a
/// body cut short mid-chunk (truncated records are common) yields what arrived.
struct Chunks<'a> {
    body: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> Chunks<'a> {
    fn new(body: &'a [u8]) -> Self {
        Chunks {
            body,
            pos: 0,
            done: false,
        }
    }
}

impl<'a> Iterator for Chunks<'a> {
    type Item = Result<&'a [u8], ()>;

    fn next(&mut self) -> Option<Self::Item> {
        let body = self.body;
        if self.done || self.pos >= body.len() {
            return None;
        }
        let nl = memchr::memchr(b'\n', &body[self.pos..]).map_or(body.len(), |i| self.pos + i);
        let size_text = body[self.pos..nl].split(|&b| b == b';').next().unwrap_or(b"");
        let size = std::str::from_utf8(size_text)
            .ok()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .and_then(|t| usize::from_str_radix(t, 16).ok());
        self.done = true; // until this chunk proves good
        let size = match size {
            None => return Some(Err(())),
            Some(0) => return None,
            Some(size) => size,
        };
        let start = (nl + 1).min(body.len());
        let end = start.saturating_add(size).min(body.len());
        // Chunk data is followed by CRLF (a bare LF is tolerated); anything else means the sizes
        // do not describe this body.
        let rest = &body[end..];
        self.pos = if rest.starts_with(b"\r\n") {
            end + 2
        } else if rest.starts_with(b"\n") {
            end + 1
        } else if rest.is_empty() {
            end
        } else {
            return Some(Err(()));
        };
        self.done = false;
        Some(Ok(&body[start..end]))
    }
}

/// A chunked body read as its data, chunk after chunk, without copying it whole first.
struct ChunkedReader<'a> {
    chunks: Chunks<'a>,
    current: &'a [u8],
}

impl Read for ChunkedReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.chunks.next() {
                Some(Ok(chunk)) => self.current = chunk,
                _ => return Ok(0),
            }
        }
        let n = self.current.len().min(out.len());
        out[..n].copy_from_slice(&self.current[..n]);
        self.current = &self.current[n..];
        Ok(n)
    }
}

/// A message body as it travels: as is, or chunked (its sizes checked to describe it).
/// Each `reader()` reads it from the start, so a failed decoding can be retried.
#[derive(Clone, Copy)]
enum Framing<'a> {
    Plain(&'a [u8]),
    Chunked(&'a [u8]),
}

impl<'a> Framing<'a> {
    /// Chunked when `chunked` is declared and every chunk size parses; else the body as is.
    fn of(body: &'a [u8], chunked: bool) -> Self {
        if chunked && Chunks::new(body).all(|c| c.is_ok()) {
            Framing::Chunked(body)
        } else {
            Framing::Plain(body)
        }
    }

    fn reader(self) -> Box<dyn Read + 'a> {
        match self {
            Framing::Plain(b) => Box::new(b),
            Framing::Chunked(b) => Box::new(ChunkedReader {
                chunks: Chunks::new(b),
                current: &[],
            }),
        }
    }
}

/// Read `decoder` to its end or to `limit` bytes, whichever comes first: a decompression bomb
/// costs `limit`, never its full size. Output that arrived before an error (a truncated
/// stream) is kept; `None` only when nothing could be read.
fn inflate<R: Read>(decoder: R, limit: usize) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    match decoder.take(limit as u64).read_to_end(&mut out) {
        Ok(_) => Some(out),
        Err(_) if !out.is_empty() => Some(out),
        Err(_) => None,
    }
}

/// Undo `Content-Encoding` (gzip, deflate, br), at most `limit` output bytes; `None` for
/// unknown encodings and bodies that do not decode (the caller keeps the input bytes).
fn decompress(body: Framing<'_>, content_encoding: Option<&str>, limit: usize) -> Option<Vec<u8>> {
    let enc = content_encoding?.trim().to_ascii_lowercase();
    match enc.as_str() {
        "gzip" | "x-gzip" => inflate(MultiGzDecoder::new(body.reader()), limit),
        // "deflate" is meant to be zlib-wrapped, but many servers send raw deflate.
        "deflate" => inflate(ZlibDecoder::new(body.reader()), limit)
            .or_else(|| inflate(DeflateDecoder::new(body.reader()), limit)),
        "br" => inflate(
            brotli_decompressor::Decompressor::new(body.reader(), 64 * 1024),
            limit,
        ),
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

/// How a body's bytes become text: a WHATWG encoding, or UTF-32, which the WHATWG set lacks
/// but which some pages are served in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Charset {
    Web(&'static Encoding),
    Utf32Le,
    Utf32Be,
}

impl Charset {
    /// The lowercased name (`charset` column): the WHATWG name, or utf-32le / utf-32be.
    pub fn name(self) -> String {
        match self {
            Charset::Web(enc) => enc.name().to_ascii_lowercase(),
            Charset::Utf32Le => "utf-32le".into(),
            Charset::Utf32Be => "utf-32be".into(),
        }
    }

    /// Decode `bytes` (BOM already skipped); malformed sequences become U+FFFD.
    pub fn decode(self, bytes: &[u8]) -> String {
        let from = match self {
            Charset::Web(enc) => return enc.decode_without_bom_handling(bytes).0.into_owned(),
            Charset::Utf32Le => u32::from_le_bytes,
            Charset::Utf32Be => u32::from_be_bytes,
        };
        let unit = |q: &[u8]| match <[u8; 4]>::try_from(q) {
            Ok(q) => char::from_u32(from(q)).unwrap_or('\u{fffd}'),
            Err(_) => '\u{fffd}', // a unit cut off at the end
        };
        bytes.chunks(4).map(unit).collect()
    }
}

/// A byte-order mark and its length: UTF-32's first (its LE mark starts like UTF-16LE's).
fn bom(body: &[u8]) -> Option<(Charset, usize)> {
    if body.starts_with(&[0, 0, 0xfe, 0xff]) {
        return Some((Charset::Utf32Be, 4));
    }
    if body.starts_with(&[0xff, 0xfe, 0, 0]) {
        return Some((Charset::Utf32Le, 4));
    }
    Encoding::for_bom(body).map(|(enc, len)| (Charset::Web(enc), len))
}

/// Bytes looked at to recognise UTF-16/32 without a BOM.
const WIDE_SNIFF_BYTES: usize = 4096;

/// UTF-16 or UTF-32 without a BOM, recognised by where its zero bytes fall. Markup and Latin
/// text put a zero byte in every code unit, always at the same place in it; ASCII-compatible
/// encodings have (almost) no zero bytes at all.
fn sniff_wide(body: &[u8]) -> Option<Charset> {
    let head = &body[..body.len().min(WIDE_SNIFF_BYTES) / 4 * 4];
    if head.is_empty() {
        return None;
    }
    // UTF-32: every unit is at most U+10FFFF (one zero byte and one <= 0x10 at the high end),
    // and at least half are not zero.
    let n = head.len() / 4;
    let utf32 = |high: usize, next: usize, low: [usize; 2]| {
        let mut nonzero = 0;
        for u in head.chunks_exact(4) {
            if u[high] != 0 || u[next] > 0x10 {
                return false;
            }
            nonzero += usize::from(u[low[0]] != 0 || u[low[1]] != 0);
        }
        nonzero * 2 >= n
    };
    if utf32(0, 1, [2, 3]) {
        return Some(Charset::Utf32Be);
    }
    if utf32(3, 2, [0, 1]) {
        return Some(Charset::Utf32Le);
    }
    // UTF-16: zero bytes in at least 30% of the units' high halves, (almost) none in the low.
    let pairs = head.len() / 2;
    let zeros = |at: usize| head.iter().skip(at).step_by(2).filter(|&&b| b == 0).count();
    let (even, odd) = (zeros(0), zeros(1));
    let wide = |high: usize, low: usize| high * 10 >= pairs * 3 && low * 20 <= pairs;
    if wide(even, odd) {
        Some(Charset::Web(encoding_rs::UTF_16BE))
    } else if wide(odd, even) {
        Some(Charset::Web(encoding_rs::UTF_16LE))
    } else {
        None
    }
}

/// What a body looks like as UTF-8, for checking a declared charset against it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Utf8Shape {
    /// Valid and all ASCII (every ASCII-compatible charset decodes it the same).
    Ascii,
    /// Valid, with multi-byte sequences: almost surely UTF-8 whatever is declared (a legacy
    /// text that happens to be valid UTF-8 throughout is vanishingly rare).
    Valid,
    /// Invalid, but with valid multi-byte sequences: UTF-8 with some damage.
    Damaged,
    /// Invalid and no multi-byte sequence at all: not UTF-8.
    Foreign,
}

fn utf8_shape(body: &[u8]) -> Utf8Shape {
    if body.is_ascii() {
        return Utf8Shape::Ascii; // the common case, and the cheapest scan
    }
    // A sequence cut off at the very end (by max_bytes) does not make a body invalid.
    let whole = match std::str::from_utf8(body) {
        Ok(_) => Some(body),
        Err(e) if e.error_len().is_none() => Some(&body[..e.valid_up_to()]),
        Err(_) => None,
    };
    match whole {
        Some(b) if b.is_ascii() => Utf8Shape::Ascii,
        Some(_) => Utf8Shape::Valid,
        None if body.utf8_chunks().any(|c| !c.valid().is_ascii()) => Utf8Shape::Damaged,
        None => Utf8Shape::Foreign,
    }
}

/// A declared encoding checked against the bytes: `None` when they contradict it (the next
/// source of the charset decides), else the encoding to use.
fn check_declared(declared: &'static Encoding, shape: Utf8Shape) -> Option<&'static Encoding> {
    if declared == encoding_rs::UTF_16LE || declared == encoding_rs::UTF_16BE {
        // No BOM and no UTF-16 zero-byte pattern (`sniff_wide` runs first): not UTF-16.
        return None;
    }
    match shape {
        Utf8Shape::Foreign if declared == UTF_8 => None,
        Utf8Shape::Valid => Some(UTF_8),
        _ => Some(declared),
    }
}

/// Resolve the body's encoding: BOM > UTF-16/32 zero-byte pattern > HTTP charset > meta
/// prescan > detection (UTF-8 if valid). A declaration the bytes contradict is skipped: UTF-8
/// declared over bytes with no valid multi-byte sequence, UTF-16 declared over bytes without
/// its pattern; and a body that is valid UTF-8 with multi-byte sequences is read as UTF-8
/// whatever is declared (legacy labels on UTF-8 pages are common; trafilatura, FineWeb's
/// extractor, tries UTF-8 first too). Returns the charset and how many BOM bytes to skip.
pub fn resolve_encoding(body: &[u8], content_type: Option<&str>) -> (Charset, usize) {
    if let Some(found) = bom(body) {
        return found;
    }
    if let Some(wide) = sniff_wide(body) {
        return (wide, 0);
    }
    let shape = utf8_shape(body);
    let declared = content_type
        .and_then(charset_param)
        .and_then(|l| Encoding::for_label(l.as_bytes()))
        .and_then(|enc| check_declared(enc, shape))
        .or_else(|| meta_charset(body).and_then(|enc| check_declared(enc, shape)));
    if let Some(enc) = declared {
        return (Charset::Web(enc), 0);
    }
    // Valid UTF-8 (ASCII included) is what detection would answer; checking it is much cheaper.
    if matches!(shape, Utf8Shape::Ascii | Utf8Shape::Valid) {
        return (Charset::Web(UTF_8), 0);
    }
    let mut detector = EncodingDetector::new(Iso2022JpDetection::Deny);
    detector.feed(body, true);
    let allow = if shape == Utf8Shape::Foreign {
        Utf8Detection::Deny
    } else {
        Utf8Detection::Allow
    };
    (Charset::Web(detector.guess(None, allow)), 0)
}

/// Parse one raw HTTP response (status line + headers + blank line + body) and decode its body.
/// The decoded body is cut to at most `max_bytes` of (decompressed) input bytes; the body is
/// never copied or inflated past that, however large it is or claims to be. Control
/// characters are removed (`crate::controls`).
pub fn parse_http_response(raw: &[u8], max_bytes: usize) -> Result<HttpResponse, String> {
    let (head, raw_body) = split_head(raw)?;
    let chunked = head
        .get("transfer-encoding")
        .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
    let framing = Framing::of(raw_body, chunked);
    let decoded = match decompress(framing, head.get("content-encoding"), max_bytes) {
        Some(inflated) => Some(inflated),
        None => match framing {
            Framing::Chunked(_) => inflate(framing.reader(), max_bytes),
            Framing::Plain(_) => None,
        },
    };
    let body = decoded.as_deref().unwrap_or(raw_body);
    let body = &body[..body.len().min(max_bytes)];

    let content_type_header = head.get("content-type");
    let (charset, bom_len) = resolve_encoding(body, content_type_header);
    let html = crate::controls::strip_controls_owned(charset.decode(&body[bom_len..]));
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
        charset: charset.name(),
        html,
    })
}

/// [`parse_http_response`] under a panic guard: a panic is this response's error
/// ("internal error: <message>"), not its batch's.
pub fn parse_guarded(raw: &[u8], max_bytes: usize) -> Result<HttpResponse, String> {
    crate::arrow_io::guard_row(|| parse_http_response(raw, max_bytes))
        .unwrap_or_else(|panic| Err(format!("internal error: {panic}")))
}

/// Parse a column of raw HTTP responses into `struct<status: int32, content_type, charset,
/// html, error>` (strings are large_utf8: a batch's html may pass 2 GiB).
/// Rows that cannot be parsed have only `error` set (a null payload is an error too).
#[pyfunction]
#[pyo3(signature = (payloads, max_bytes = 10_000_000))]
fn parse_http_responses(py: Python<'_>, payloads: PyArray, max_bytes: usize) -> PyResult<PyArray> {
    let col = BytesColumn::from_data(payloads.0)?;
    let out = crate::arrow_io::detach_guarded(py, || {
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
                .and_then(|raw| parse_guarded(raw, max_bytes));
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
    })?;
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

    fn dechunk(body: &[u8]) -> Option<Vec<u8>> {
        match Framing::of(body, true) {
            f @ Framing::Chunked(_) => inflate(f.reader(), usize::MAX),
            Framing::Plain(_) => None,
        }
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
            b"ok \xc3\xa9 \xff\xfe end",
        ));
        assert_eq!(r.html, "ok é \u{fffd}\u{fffd} end");
        let r = parse_http_response(&response("HTTP/1.1 200 OK\n", b"0123456789"), 4).unwrap();
        assert_eq!(r.html, "0123");
        // The cap also bounds decompression.
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(&vec![b'a'; 1 << 20]).unwrap();
        let gz = gz.finish().unwrap();
        let raw = response("HTTP/1.1 200 OK\nContent-Encoding: gzip\n", &gz);
        assert_eq!(parse_http_response(&raw, 1000).unwrap().html.len(), 1000);
    }

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// `"<html><body>compressed ünïcode</body></html>" * 20`, brotli-compressed (Python's brotli).
    const BR_TEXT: &str = "1b9703a08dd44eb5b63fa41c761bebb6b7575eb001072e2538c8820bfbb001475e302cd3becfd0972423aa5e60243d4909";
    /// 64 MiB of zero bytes in 106 bytes of brotli.
    const BR_BOMB: &str = "cbffff3ff82700e2b14020f7fe8fffff7ff04f00c4611180eefd1fffffffe09f0088c30200ddfb3ffeffffc13f0110870500baf77ffcffff837f02200e0b0074effff8ffff07ff04401c1600e8defff1ffff0ffe0980382c00d0bdffe3ffff1ffc1300715800a07bff37";

    #[test]
    fn brotli_bodies() {
        let text = "<html><body>compressed ünïcode</body></html>".repeat(20);
        let r = parse(&response("HTTP/1.1 200 OK\nContent-Encoding: br\n", &unhex(BR_TEXT)));
        assert_eq!(r.html, text);
        // Not brotli: the raw body stays.
        let r = parse(&response("HTTP/1.1 200 OK\nContent-Encoding: br\n", b"plain"));
        assert_eq!(r.html, "plain");
    }

    #[test]
    fn decompression_bombs_inflate_only_to_the_cap() {
        let zeros = vec![0u8; 64 << 20];
        let mut gz = GzEncoder::new(Vec::new(), Compression::best());
        gz.write_all(&zeros).unwrap();
        let gz = gz.finish().unwrap();
        let mut zl = ZlibEncoder::new(Vec::new(), Compression::best());
        zl.write_all(&zeros).unwrap();
        let zl = zl.finish().unwrap();
        drop(zeros);
        let br = unhex(BR_BOMB);
        for (enc, body) in [("gzip", &gz), ("deflate", &zl), ("br", &br)] {
            let out = decompress(Framing::Plain(body), Some(enc), 1000).expect(enc);
            assert_eq!(out.len(), 1000, "{enc}");
        }
        // Chunked and compressed: the chunks are read as the inflater needs them.
        let mut chunked = Vec::new();
        for piece in gz.chunks(1000) {
            chunked.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
            chunked.extend_from_slice(piece);
            chunked.extend_from_slice(b"\r\n");
        }
        chunked.extend_from_slice(b"0\r\n\r\n");
        let framing = Framing::of(&chunked, true);
        assert!(matches!(framing, Framing::Chunked(_)));
        assert_eq!(decompress(framing, Some("gzip"), 5000).unwrap().len(), 5000);
        // A plain chunked body is cut at the cap too.
        let raw = response("HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n", b"a\r\n0123456789\r\n0\r\n\r\n");
        assert_eq!(parse_http_response(&raw, 4).unwrap().html, "0123");
    }

    fn utf16(text: &str, be: bool) -> Vec<u8> {
        text.encode_utf16()
            .flat_map(|u| if be { u.to_be_bytes() } else { u.to_le_bytes() })
            .collect()
    }

    fn utf32(text: &str, be: bool) -> Vec<u8> {
        text.chars()
            .flat_map(|c| if be { (c as u32).to_be_bytes() } else { (c as u32).to_le_bytes() })
            .collect()
    }

    #[test]
    fn utf16_and_utf32_without_bom_are_recognised() {
        let text = "<html><body><p>Grüße aus Köln, 日本語 too.</p></body></html>";
        let headers = [
            "HTTP/1.1 200 OK\n",
            "HTTP/1.1 200 OK\nContent-Type: text/html; charset=utf-8\n",
            "HTTP/1.1 200 OK\nContent-Type: text/html; charset=iso-8859-1\n",
        ];
        for (charset, bytes) in [
            ("utf-16be", utf16(text, true)),
            ("utf-16le", utf16(text, false)),
            ("utf-32be", utf32(text, true)),
            ("utf-32le", utf32(text, false)),
        ] {
            for head in headers {
                let r = parse(&response(head, &bytes));
                assert_eq!((r.charset.as_str(), r.html.as_str()), (charset, text), "{head}");
            }
        }
        // UTF-32 byte-order marks (the LE one starts like UTF-16LE's).
        for (charset, bom, be) in [("utf-32le", [0xff, 0xfe, 0, 0], false), ("utf-32be", [0, 0, 0xfe, 0xff], true)] {
            let mut body = bom.to_vec();
            body.extend_from_slice(&utf32("only é", be));
            let r = parse(&response("HTTP/1.1 200 OK\n", &body));
            assert_eq!((r.charset.as_str(), r.html.as_str()), (charset, "only é"));
        }
        // A cut-off last unit is one replacement character.
        assert_eq!(Charset::Utf32Be.decode(&[0, 0, 0, 0x41, 0, 0]), "A\u{fffd}");
        // Legacy text and text with a few NULs are not mistaken for UTF-16.
        assert_eq!(sniff_wide(b"<p>a\0b\0c</p> and more text around it"), None);
        assert_eq!(sniff_wide("日本語のページ".as_bytes()), None);
    }

    #[test]
    fn declarations_the_bytes_contradict_are_overridden() {
        let text = "Le café de la gare était fermé; nous sommes allés à l'hôtel près de la \
                    rivière, où l'on mange très bien.";
        let (latin, _, _) = WINDOWS_1252.encode(text);
        // windows-1252 bytes declared UTF-8 (header or meta): detected instead.
        let r = parse(&response(
            "HTTP/1.1 200 OK\nContent-Type: text/html; charset=utf-8\n",
            &latin,
        ));
        assert_eq!((r.charset.as_str(), r.html.as_str()), ("windows-1252", text));
        let mut meta = b"<meta charset=utf-8>".to_vec();
        meta.extend_from_slice(&latin);
        let r = parse(&response("HTTP/1.1 200 OK\n", &meta));
        assert_eq!(r.charset, "windows-1252");
        assert!(r.html.ends_with(text));
        // UTF-8 bytes declared ISO-8859-1: read as UTF-8.
        let r = parse(&response(
            "HTTP/1.1 200 OK\nContent-Type: text/html; charset=iso-8859-1\n",
            text.as_bytes(),
        ));
        assert_eq!((r.charset.as_str(), r.html.as_str()), ("utf-8", text));
        // UTF-8 with a stray byte stays UTF-8, the byte replaced.
        let mut damaged = text.as_bytes().to_vec();
        damaged.push(0xff);
        let r = parse(&response(
            "HTTP/1.1 200 OK\nContent-Type: text/html; charset=utf-8\n",
            &damaged,
        ));
        assert_eq!(r.html, format!("{text}\u{fffd}"));
        // Cut mid-character by max_bytes: still UTF-8 (the cut one replaced).
        let cut = text.find('é').unwrap() + 1;
        let raw = response("HTTP/1.1 200 OK\n", text.as_bytes());
        let r = parse_http_response(&raw, cut).unwrap();
        assert_eq!(r.charset, "utf-8");
        // UTF-16 declared over ASCII bytes (no BOM, no zero bytes): not UTF-16.
        let r = parse(&response(
            "HTTP/1.1 200 OK\nContent-Type: text/html; charset=utf-16\n",
            b"<p>plain ascii</p>",
        ));
        assert_eq!((r.charset.as_str(), r.html.as_str()), ("utf-8", "<p>plain ascii</p>"));
    }

    #[test]
    fn control_characters_are_removed_from_bodies() {
        let r = parse(&response(
            "HTTP/1.1 200 OK\nContent-Type: text/html; charset=utf-8\n",
            b"<p>a\0b\x01c\x0cd\x7f\xc2\x85</p>\r\n",
        ));
        assert_eq!(r.html, "<p>abc d</p>\r\n");
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

