//! Record headers: a WARC header block or an ARC v1 header line, parsed from a peeked slice.
//! ARC records are converted as warcio's arc2warc does (a `filedesc://` record becomes
//! warcinfo, every other record a response).

/// A header block longer than this is not a header.
pub const MAX_HEADER_BYTES: usize = 256 * 1024;

/// Versions accepted on the first line of a WARC record (as warcio does).
const WARC_VERSIONS: [&[u8]; 4] = [b"WARC/1.1", b"WARC/1.0", b"WARC/0.17", b"WARC/0.18"];

/// What a record header says about the record.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RecordHeader {
    /// True for an ARC record (its id is derived from its position).
    pub arc: bool,
    /// WARC-Type; "response" or "warcinfo" for ARC records.
    pub rec_type: String,
    pub target_uri: Option<String>,
    pub date: Option<String>,
    pub record_id: Option<String>,
    /// Bytes of record content that follow the header (0 when the length is missing or bad).
    pub length: u64,
    /// A WARC record whose Content-Length is missing or not a length (an ARC record with a bad
    /// length is read as empty, as warcio's arc2warc does).
    pub bad_length: bool,
    /// Bytes of the header itself (consumed before the content).
    pub header_len: usize,
}

/// Why the bytes at a record start are not a record header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderError {
    NotARecord,
    Unterminated,
}

impl HeaderError {
    pub fn reason(self) -> &'static str {
        match self {
            HeaderError::NotARecord => "not a WARC/ARC record",
            HeaderError::Unterminated => "unterminated WARC header",
        }
    }
}

/// The line starting at `pos` (without its LF) and where the next one starts; `None` when the
/// line is not terminated within `buf` (unless `eof`: then the rest is the last line).
fn line_at(buf: &[u8], pos: usize, eof: bool) -> Option<(&[u8], usize)> {
    match memchr::memchr(b'\n', &buf[pos..]) {
        Some(i) => Some((&buf[pos..pos + i], pos + i + 1)),
        None if eof && pos < buf.len() => Some((&buf[pos..], buf.len())),
        None => None,
    }
}

fn rstrip(line: &[u8]) -> &[u8] {
    let end = line
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    &line[..end]
}

/// Header text as warcio decodes it: UTF-8, else ISO-8859-1.
fn decode(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => bytes.iter().map(|&b| b as char).collect(),
    }
}

/// Parse the record header at the start of `buf` (blank lines already skipped). `eof`: `buf`
/// holds everything left in the stream; otherwise it holds at least `MAX_HEADER_BYTES`.
pub fn parse_header(buf: &[u8], eof: bool) -> Result<RecordHeader, HeaderError> {
    let Some((first, next)) = line_at(buf, 0, eof) else {
        return Err(HeaderError::NotARecord);
    };
    let first = rstrip(first);
    let is_warc = WARC_VERSIONS.iter().any(|v| {
        first.len() >= v.len() && first[..v.len()].eq_ignore_ascii_case(v)
    });
    if is_warc {
        parse_warc(buf, next, eof)
    } else {
        parse_arc(buf, first, next, eof)
    }
}

fn parse_warc(buf: &[u8], mut pos: usize, eof: bool) -> Result<RecordHeader, HeaderError> {
    let mut fields: Vec<(String, String)> = Vec::new();
    loop {
        if pos > MAX_HEADER_BYTES {
            return Err(HeaderError::Unterminated);
        }
        let Some((line, next)) = line_at(buf, pos, eof) else {
            if eof {
                break; // the stream ends inside the header: what arrived is the header
            }
            return Err(HeaderError::Unterminated);
        };
        pos = next;
        let line = rstrip(line);
        if line.is_empty() {
            break;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            if let Some((_, value)) = fields.last_mut() {
                value.push_str(&decode(line));
            }
        } else if let Some(colon) = memchr::memchr(b':', line) {
            let name = decode(&line[..colon]).trim_end().to_string();
            let value = decode(&line[colon + 1..]).trim_start().to_string();
            fields.push((name, value));
        }
    }
    let get = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let declared = get("Content-Length").and_then(|v| v.trim().parse::<u64>().ok());
    Ok(RecordHeader {
        arc: false,
        rec_type: get("WARC-Type").unwrap_or_default(),
        target_uri: get("WARC-Target-URI").map(|u| clean_uri(&u)),
        date: get("WARC-Date"),
        record_id: get("WARC-Record-ID"),
        length: declared.unwrap_or(0),
        bad_length: declared.is_none(),
        header_len: pos,
    })
}

/// Wget 1.19 wraps target URIs in <>; spaces are not valid in a URI (warcio fixes both).
fn clean_uri(uri: &str) -> String {
    let uri = uri
        .strip_prefix('<')
        .and_then(|u| u.strip_suffix('>'))
        .unwrap_or(uri);
    uri.replace(' ', "%20")
}

/// ARC v1: `URL IP-address Archive-date Content-type Archive-length`, split from the right
/// (URLs may hold spaces). The date must be digits, so that stray text is not read as a record.
fn parse_arc(buf: &[u8], line: &[u8], next: usize, eof: bool) -> Result<RecordHeader, HeaderError> {
    let text = decode(line);
    let parts: Vec<&str> = text.rsplitn(5, ' ').collect();
    if parts.len() != 5 {
        return Err(HeaderError::NotARecord);
    }
    let (url, date, length) = (parts[4], parts[2], parts[0]);
    if url.is_empty() || date.len() < 12 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HeaderError::NotARecord);
    }
    let mut header_len = next;
    let mut consumed_in_length = 0usize;
    let filedesc = url.starts_with("filedesc://");
    if filedesc {
        // The version and field-spec lines follow; they count in the record's length.
        for _ in 0..2 {
            if let Some((_, after)) = line_at(buf, header_len, eof) {
                consumed_in_length += after - header_len;
                header_len = after;
            }
        }
    }
    let declared = length.trim().parse::<i64>().unwrap_or(-1);
    let length = if declared >= consumed_in_length as i64 {
        declared as u64 - consumed_in_length as u64
    } else {
        0
    };
    Ok(RecordHeader {
        arc: true,
        rec_type: if filedesc { "warcinfo" } else { "response" }.to_string(),
        target_uri: (!filedesc).then(|| clean_uri(url)),
        date: Some(arc_date_to_iso(date)),
        record_id: None,
        length,
        bad_length: false,
        header_len,
    })
}

/// `YYYYMMDDhhmmss` (longer: cut; shorter: padded as warcio does) as an ISO 8601 UTC date.
fn arc_date_to_iso(ts: &str) -> String {
    const PAD: &str = "29991231235959";
    let mut digits: String = ts.chars().take(14).collect();
    digits.push_str(&PAD[digits.len()..]);
    let d = &digits;
    format!(
        "{}-{}-{}T{}:{}:{}Z",
        &d[0..4],
        &d[4..6],
        &d[6..8],
        &d[8..10],
        &d[10..12],
        &d[12..14]
    )
}

/// Microseconds since the epoch of an ISO 8601 date (`YYYY-MM-DD[Thh:mm[:ss[.frac]]][Z|±hh:mm]`);
/// a date without a zone is UTC. `None` when malformed.
pub fn parse_iso_date(value: &str) -> Option<i64> {
    let s = value.trim().as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| std::str::from_utf8(part).ok()?.parse().ok())?
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if s.get(4) != Some(&b'-') || s.get(7) != Some(&b'-') {
        return None;
    }
    let (mut hour, mut minute, mut second, mut micros) = (0, 0, 0, 0i64);
    let mut pos = 10;
    if matches!(s.get(pos), Some(b'T') | Some(b't') | Some(b' ')) {
        hour = num(pos + 1..pos + 3)?;
        if s.get(pos + 3) != Some(&b':') {
            return None;
        }
        minute = num(pos + 4..pos + 6)?;
        pos += 6;
        if s.get(pos) == Some(&b':') {
            second = num(pos + 1..pos + 3)?;
            pos += 3;
            if matches!(s.get(pos), Some(b'.') | Some(b',')) {
                let digits = s[pos + 1..].iter().take_while(|b| b.is_ascii_digit()).count();
                if digits == 0 {
                    return None;
                }
                let frac = &s[pos + 1..pos + 1 + digits];
                micros = frac
                    .iter()
                    .take(6)
                    .chain(std::iter::repeat(&b'0'))
                    .take(6)
                    .fold(0, |acc, b| acc * 10 + (b - b'0') as i64);
                pos += 1 + digits;
            }
        }
    }
    let offset_s = match s.get(pos) {
        None => 0,
        Some(b'Z') | Some(b'z') if pos + 1 == s.len() => 0,
        Some(&sign @ (b'+' | b'-')) => {
            let h = num(pos + 1..pos + 3)?;
            let m_start = if s.get(pos + 3) == Some(&b':') { pos + 4 } else { pos + 3 };
            let m = num(m_start..m_start + 2)?;
            if m_start + 2 != s.len() {
                return None;
            }
            let off = h * 3600 + m * 60;
            if sign == b'+' {
                off
            } else {
                -off
            }
        }
        _ => return None,
    };
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_s;
    Some(secs * 1_000_000 + micros)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Stable id of an ARC record (it has none): uuid5(NAMESPACE_URL, "{file name}#{offset}").
pub fn arc_record_id(file_name: &str, offset: u64) -> String {
    let id = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, format!("{file_name}#{offset}").as_bytes());
    format!("urn:uuid:{id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warc_header_block() {
        let raw = b"WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI: <http://a.test/x y>\r\n\
                    WARC-Record-ID: <urn:uuid:1>\r\nX-Folded: a\r\n b\r\nContent-Length: 12\r\n\r\nbody";
        let h = parse_header(raw, true).unwrap();
        assert_eq!(h.rec_type, "response");
        assert_eq!(h.target_uri.as_deref(), Some("http://a.test/x%20y"));
        assert_eq!(h.record_id.as_deref(), Some("<urn:uuid:1>"));
        assert_eq!(h.length, 12);
        assert_eq!(&raw[h.header_len..], b"body");
        assert!(!h.arc);
    }

    #[test]
    fn bad_lengths_count_as_zero() {
        for cl in ["abc", "-5", ""] {
            let raw = format!("WARC/1.1\nWARC-Type: response\nContent-Length: {cl}\n\n");
            let h = parse_header(raw.as_bytes(), true).unwrap();
            assert_eq!((h.length, h.bad_length), (0, true), "{cl}");
        }
        let h = parse_header(b"WARC/1.1\nContent-Length: 7\n\n", true).unwrap();
        assert_eq!((h.length, h.bad_length), (7, false));
    }

    #[test]
    fn arc_lines() {
        let raw = b"http://a.test/a b 1.2.3.4 20140216050221 text/html 1591\nHTTP/1.1 200 OK";
        let h = parse_header(raw, true).unwrap();
        assert!(h.arc);
        assert_eq!(h.rec_type, "response");
        assert_eq!(h.target_uri.as_deref(), Some("http://a.test/a%20b"));
        assert_eq!(h.date.as_deref(), Some("2014-02-16T05:02:21Z"));
        assert_eq!((h.length, h.header_len), (1591, 56));
        let raw = b"filedesc://x.arc 0.0.0.0 20140216050221 text/plain 75\n1 0 LiveWeb Capture\n\
                    URL IP-address Archive-date Content-type Archive-length\n\n";
        let h = parse_header(raw, true).unwrap();
        assert_eq!((h.rec_type.as_str(), h.length), ("warcinfo", 0));
        assert_eq!(h.header_len, raw.len() - 1);
        // An 18-digit ARC date is cut to 14 digits; a length of -1 is 0.
        let h = parse_header(b"http://a/ 1.2.3.4 201404010000000000 text/html -1\n", true).unwrap();
        assert_eq!((h.date.as_deref(), h.length), (Some("2014-04-01T00:00:00Z"), 0));
    }

    #[test]
    fn not_headers() {
        for raw in [
            &b"HTTP/1.1 200 OK\r\n\r\n"[..],
            b"<!doctype html>\n",
            b"1 0 Bad Capture\n",
            b"a b c d e\n",
            &[0u8; 100][..],
        ] {
            assert_eq!(parse_header(raw, true), Err(HeaderError::NotARecord), "{raw:?}");
        }
        let mut long = b"WARC/1.0\r\n".to_vec();
        long.extend(std::iter::repeat_n(b"X-A: b\r\n".as_slice(), 40_000).flatten());
        assert_eq!(parse_header(&long, false), Err(HeaderError::Unterminated));
        assert_eq!(parse_header(b"WARC/1.0\r\nWARC-Type: x\r\n", false), Err(HeaderError::Unterminated));
    }

    #[test]
    fn iso_dates() {
        assert_eq!(parse_iso_date("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_iso_date("2014-02-16T05:02:21Z"), Some(1_392_526_941_000_000));
        assert_eq!(parse_iso_date("2014-02-16T05:02:21.5Z"), Some(1_392_526_941_500_000));
        assert_eq!(parse_iso_date("2014-02-16T06:02:21+01:00"), Some(1_392_526_941_000_000));
        assert_eq!(parse_iso_date("2014-02-16"), Some(1_392_508_800_000_000));
        assert_eq!(parse_iso_date("2000-02-29T00:00:00Z"), Some(951_782_400_000_000));
        for bad in ["", "2014-02-30T00:00:00Z", "2014-13-01", "yesterday", "2014-02-16T05:02:21Q"] {
            assert_eq!(parse_iso_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn arc_ids_are_uuid5_of_name_and_offset() {
        // Python: uuid.uuid5(uuid.NAMESPACE_URL, "example.arc#0").urn
        assert_eq!(arc_record_id("example.arc", 0), arc_record_id("example.arc", 0));
        assert_ne!(arc_record_id("example.arc", 0), arc_record_id("example.arc", 1));
        assert!(arc_record_id("example.arc", 0).starts_with("urn:uuid:"));
    }
}
