//! The record reader: walks a WARC/ARC file (plain, one gzip member per record, or one gzip
//! stream over many records) and emits its HTTP responses and its defects.
//!
//! A defect costs only the records it touches. It is reported as a [`Failure`] and reading
//! resynchronises at the next place a record can start: the next gzip member (found by its
//! magic bytes) or the next WARC version line / ARC header line in uncompressed data. A resync
//! candidate that fails at once was a false match, not a new defect, so it is not reported.
//! Memory is bounded: a record's content is read only up to the HTTP head plus `max_bytes` and
//! the rest skipped; a header is looked for in at most `MAX_HEADER_BYTES`.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::OnceLock;

use flate2::bufread::GzDecoder;
use regex::bytes::Regex;

use super::header::{arc_record_id, parse_header, parse_iso_date, MAX_HEADER_BYTES};
use super::stream::ByteStream;
use crate::http::head_extent;

/// A byte source positioned somewhere in the file.
pub type Input = Box<dyn Read + Send>;
type Raw = ByteStream<Input>;
type Member = ByteStream<GzDecoder<Raw>>;

const GZIP_MAGIC: [u8; 3] = [0x1f, 0x8b, 0x08];
/// Look-ahead used while skipping blank lines and scanning for a record start.
const SCAN_BLOCK: usize = 64 * 1024;
/// Bytes kept between scan windows, so that a marker split by a window edge is still found.
const SCAN_OVERLAP: usize = 256;

/// Opens the file at a byte offset: resynchronising sometimes needs to go back.
pub trait Opener: Send {
    fn open(&mut self, offset: u64) -> io::Result<Input>;
}

/// A local file.
pub struct FileOpener(pub PathBuf);

impl Opener for FileOpener {
    fn open(&mut self, offset: u64) -> io::Result<Input> {
        let mut file = File::open(&self.0)?;
        file.seek(SeekFrom::Start(offset))?;
        Ok(Box::new(file))
    }
}

/// An HTTP response record, its HTTP message cut to the head plus `max_bytes` of body.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub record_id: Option<String>,
    pub url: String,
    /// WARC-Date in microseconds since the epoch (UTC); `None` when malformed.
    pub date: Option<i64>,
    pub payload: Vec<u8>,
}

/// A record that could not be read, at `offset` of the file (of its gzip member if compressed).
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub offset: u64,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Response(Response),
    Failure(Failure),
}

/// How a record's content ended.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Cut {
    /// As long as its header says and followed by a blank line.
    No,
    /// The data ended first (`header_end`: where its content started).
    Short { header_end: u64 },
    /// Not followed by a blank line: its length is wrong, the next record is somewhere ahead.
    Junk,
    /// The data could not be read (a corrupt gzip member).
    Broken,
}

enum Outcome {
    /// Only blank lines were left.
    End,
    /// No record header at `offset`; nothing was consumed.
    Bad { offset: u64, reason: &'static str },
    /// Reading failed before a header was parsed.
    Io { offset: u64 },
    Record { event: Option<Event>, cut: Cut },
}

enum State {
    Start,
    /// Uncompressed data; `scan`: first look for a record start (`Some(at a line start)`).
    Plain { s: Raw, scan: Option<bool> },
    /// At the start of a gzip member (or of junk where one should be).
    MemberStart(Raw),
    /// Looking for gzip magic bytes.
    GzScan(Raw),
    /// Inside the gzip member that starts at `start`, after `records` records.
    InMember { dec: Box<Member>, start: u64, records: u32, scan: Option<bool> },
    Done,
}

/// Pull-based reader of one file's events (responses and failures).
pub struct RecordReader {
    opener: Box<dyn Opener>,
    file_name: String,
    max_bytes: usize,
    state: State,
    pending: VecDeque<Event>,
    /// Set after a resync until a record header parses: failures then are false matches.
    resyncing: bool,
    spans_reported: bool,
    /// The decompression buffer, handed from one gzip member to the next.
    spare: Vec<u8>,
}

impl RecordReader {
    /// `file_name` (the path's last component) names ARC record ids; `max_bytes` caps bodies.
    pub fn new(opener: Box<dyn Opener>, file_name: &str, max_bytes: usize) -> Self {
        RecordReader {
            opener,
            file_name: file_name.to_string(),
            max_bytes,
            state: State::Start,
            pending: VecDeque::new(),
            resyncing: false,
            spans_reported: false,
            spare: Vec::new(),
        }
    }

    fn fail(&mut self, offset: u64, reason: impl Into<String>) {
        if !self.resyncing {
            self.pending.push_back(Event::Failure(Failure {
                offset,
                reason: reason.into(),
            }));
        }
    }

    fn reopen(&mut self, offset: u64) -> Option<Raw> {
        self.opener
            .open(offset)
            .ok()
            .map(|input| ByteStream::new(input, offset))
    }

    fn start(&mut self) -> State {
        let mut s = match self.opener.open(0) {
            Ok(input) => ByteStream::new(input, 0),
            Err(e) => {
                self.fail(0, format!("cannot open: {}", e.kind()));
                return State::Done;
            }
        };
        match s.peek(2) {
            Ok(head) if head.starts_with(&GZIP_MAGIC[..2]) => State::MemberStart(s),
            Ok(_) => State::Plain { s, scan: None },
            Err(e) => {
                self.fail(0, format!("cannot read: {}", e.kind()));
                State::Done
            }
        }
    }

    fn plain(&mut self, mut s: Raw, scan: Option<bool>) -> State {
        if let Some(line_start) = scan {
            if !matches!(scan_record_start(&mut s, line_start), Ok(true)) {
                return State::Done;
            }
        }
        match read_record(&mut s, &self.file_name, self.max_bytes, None) {
            Outcome::End => State::Done,
            Outcome::Bad { offset, reason } => {
                self.fail(offset, reason);
                self.resyncing = true;
                s.consume_buffered(1);
                State::Plain { s, scan: Some(false) }
            }
            Outcome::Io { offset } => {
                self.fail(offset, "read error");
                self.resyncing = true;
                match self.reopen(offset + 1) {
                    Some(s) => State::Plain { s, scan: Some(false) },
                    None => State::Done,
                }
            }
            Outcome::Record { event, cut } => {
                self.resyncing = false;
                self.pending.extend(event);
                match cut {
                    Cut::No => State::Plain { s, scan: None },
                    Cut::Junk => {
                        self.resyncing = true;
                        State::Plain { s, scan: Some(true) }
                    }
                    // The record claimed more than there was: records it swallowed may follow
                    // its header.
                    Cut::Short { header_end } => {
                        self.resyncing = true;
                        match self.reopen(header_end) {
                            Some(s) => State::Plain { s, scan: Some(true) },
                            None => State::Done,
                        }
                    }
                    Cut::Broken => State::Done,
                }
            }
        }
    }

    fn member_start(&mut self, mut raw: Raw) -> State {
        let start = raw.offset();
        match raw.peek(GZIP_MAGIC.len()) {
            Ok([]) => State::Done,
            Ok(head) if head.starts_with(&GZIP_MAGIC) => State::InMember {
                dec: Box::new(
                    ByteStream::with_buffer(GzDecoder::new(raw), 0, std::mem::take(&mut self.spare))
                        .deferring_errors(),
                ),
                start,
                records: 0,
                scan: None,
            },
            Ok(_) => {
                self.fail(start, "not a gzip member");
                self.resyncing = true;
                raw.consume_buffered(1);
                State::GzScan(raw)
            }
            Err(_) => {
                self.fail(start, "read error");
                State::Done
            }
        }
    }

    fn gz_scan(&mut self, mut raw: Raw) -> State {
        match scan_gzip_magic(&mut raw) {
            Ok(true) => State::MemberStart(raw),
            _ => State::Done,
        }
    }

    /// The member's data has ended: the raw stream stands at the next member, unless the data
    /// ended on a decompression error (a member cut short or corrupt: the records that
    /// inflated before it were read), which is counted and resynchronised from.
    fn next_member(&mut self, dec: Member, start: u64) -> State {
        if dec.failed() {
            self.fail(start, "bad gzip data");
            return self.skip_member(start);
        }
        let (decoder, buf) = dec.into_parts();
        self.spare = buf;
        State::MemberStart(decoder.into_inner())
    }

    /// Give up on the member at `start`: look for the next one from the byte after its start.
    fn skip_member(&mut self, start: u64) -> State {
        self.resyncing = true;
        match self.reopen(start + 1) {
            Some(raw) => State::GzScan(raw),
            None => State::Done,
        }
    }

    fn in_member(&mut self, mut dec: Box<Member>, start: u64, records: u32, scan: Option<bool>) -> State {
        if let Some(line_start) = scan {
            match scan_record_start(&mut dec, line_start) {
                Ok(true) => {}
                Ok(false) => return self.next_member(*dec, start),
                Err(_) => {
                    self.fail(start, "bad gzip data");
                    return self.skip_member(start);
                }
            }
        }
        // The first record of a member is identified by the member's offset.
        let base = (records == 0).then_some(start);
        match read_record(&mut dec, &self.file_name, self.max_bytes, Some((start, base))) {
            Outcome::End => self.next_member(*dec, start),
            Outcome::Bad { offset, reason } if records > 0 => {
                self.fail(start + offset, reason);
                self.resyncing = true;
                dec.consume_buffered(1);
                State::InMember { dec, start, records, scan: Some(false) }
            }
            Outcome::Bad { reason, .. } => {
                self.fail(start, reason);
                self.skip_member(start)
            }
            Outcome::Io { .. } => {
                self.fail(start, "bad gzip data");
                self.skip_member(start)
            }
            Outcome::Record { event, cut } => {
                self.resyncing = false;
                if records > 0 && !self.spans_reported {
                    // Valid data, but not one gzip member per record (e.g. a gzipped WARC).
                    self.spans_reported = true;
                    self.fail(start, "gzip stream spans several records");
                }
                let counted = matches!(event, Some(Event::Failure(_)));
                self.pending.extend(event);
                if dec.failed() && dec.exhausted() {
                    // The member's data ended on a decompression error within this record (or
                    // right after it): the cut is counted once, as its failure if it has one.
                    if !counted {
                        self.fail(start, "bad gzip data");
                    }
                    return self.skip_member(start);
                }
                let records = records + 1;
                match cut {
                    Cut::No => State::InMember { dec, start, records, scan: None },
                    Cut::Junk => {
                        self.resyncing = true;
                        State::InMember { dec, start, records, scan: Some(true) }
                    }
                    // The member ended: a record never continues into the next one.
                    Cut::Short { .. } => self.next_member(*dec, start),
                    Cut::Broken => self.skip_member(start),
                }
            }
        }
    }

    /// The next response or failure; `None` at the end of the file.
    pub fn next_event(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            self.state = match std::mem::replace(&mut self.state, State::Done) {
                State::Done => return None,
                State::Start => self.start(),
                State::Plain { s, scan } => self.plain(s, scan),
                State::MemberStart(raw) => self.member_start(raw),
                State::GzScan(raw) => self.gz_scan(raw),
                State::InMember { dec, start, records, scan } => {
                    self.in_member(dec, start, records, scan)
                }
            };
        }
    }
}

impl Iterator for RecordReader {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        self.next_event()
    }
}

/// Consume whitespace-only lines. Returns false when the stream ends first.
fn skip_blank_lines<R: Read>(s: &mut ByteStream<R>) -> io::Result<bool> {
    loop {
        let buf = s.peek(SCAN_BLOCK)?;
        if buf.is_empty() {
            return Ok(false);
        }
        let mut line_start = 0;
        for (i, &b) in buf.iter().enumerate() {
            if b == b'\n' {
                line_start = i + 1;
            } else if !b.is_ascii_whitespace() {
                s.consume_buffered(line_start);
                return Ok(true);
            }
        }
        let n = buf.len();
        s.consume_buffered(n);
    }
}

fn start_patterns() -> &'static (Regex, Regex) {
    static RE: OnceLock<(Regex, Regex)> = OnceLock::new();
    RE.get_or_init(|| {
        (
            // A WARC version line may start anywhere: a record cut short runs into the next.
            Regex::new(r"(?-u)WARC/1\.[01]\r?\n").expect("valid regex"),
            // An ARC v1 header line: "URL IP-address Archive-date(12+ digits) ...".
            Regex::new(r"(?m-u)^[A-Za-z][\w+.-]*:\S* \S+ \d{12,} ").expect("valid regex"),
        )
    })
}

/// Advance to the next place a record may start. `line_start`: the current position counts as
/// the start of a line. Returns false when the stream ends first.
fn scan_record_start<R: Read>(s: &mut ByteStream<R>, mut line_start: bool) -> io::Result<bool> {
    let (warc, arc) = start_patterns();
    loop {
        let buf = s.peek(SCAN_BLOCK)?;
        let warc_at = warc.find(buf).map(|m| m.start());
        let arc_at = arc
            .find_iter(buf)
            .map(|m| m.start())
            .find(|&i| i > 0 || line_start);
        let hit = match (warc_at, arc_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Some(i) = hit {
            s.consume_buffered(i);
            return Ok(true);
        }
        let n = buf.len();
        if n < SCAN_BLOCK {
            s.consume_buffered(n);
            return Ok(false);
        }
        let advance = n - SCAN_OVERLAP;
        line_start = buf[advance - 1] == b'\n';
        s.consume_buffered(advance);
    }
}

/// Advance to the next gzip magic bytes. Returns false when the stream ends first.
fn scan_gzip_magic<R: Read>(s: &mut ByteStream<R>) -> io::Result<bool> {
    let finder = memchr::memmem::Finder::new(&GZIP_MAGIC);
    loop {
        let buf = s.peek(SCAN_BLOCK)?;
        if let Some(i) = finder.find(buf) {
            s.consume_buffered(i);
            return Ok(true);
        }
        let n = buf.len();
        if n < SCAN_BLOCK {
            s.consume_buffered(n);
            return Ok(false);
        }
        s.consume_buffered(n - (GZIP_MAGIC.len() - 1));
    }
}

/// Whether the data right after a record's content starts with a blank line (or ends).
fn followed_by_blank_line<R: Read>(s: &mut ByteStream<R>) -> bool {
    match s.peek(SCAN_OVERLAP) {
        Ok(buf) => buf
            .iter()
            .take_while(|&&b| b != b'\n')
            .all(u8::is_ascii_whitespace),
        Err(_) => true, // the next read reports it
    }
}

/// Read one record from `s`. `member`: (offset of the gzip member, offset identifying this
/// record if it is the member's first) when `s` is the member's decompressed data.
fn read_record<R: Read>(
    s: &mut ByteStream<R>,
    file_name: &str,
    max_bytes: usize,
    member: Option<(u64, Option<u64>)>,
) -> Outcome {
    match skip_blank_lines(s) {
        Ok(true) => {}
        Ok(false) => return Outcome::End,
        Err(_) => return Outcome::Io { offset: s.offset() },
    }
    let offset = s.offset();
    let (header, left) = match s.peek(MAX_HEADER_BYTES + 1) {
        Ok(buf) => (parse_header(buf, buf.len() <= MAX_HEADER_BYTES), buf.len()),
        Err(_) => return Outcome::Io { offset },
    };
    let header = match header {
        // A header running into a decompression error was cut by it (its fields may be too).
        Ok(h) if s.failed() && h.header_len >= left => {
            return Outcome::Bad { offset, reason: "truncated record" }
        }
        Ok(h) => h,
        Err(e) => return Outcome::Bad { offset, reason: e.reason() },
    };
    s.consume_buffered(header.header_len);
    let header_end = s.offset();
    let record_offset = match member {
        None => offset,
        Some((start, first)) => first.unwrap_or(start + offset),
    };
    let url = header.target_uri.clone().unwrap_or_default();
    let http = header.rec_type == "response" && (url.starts_with("http:") || url.starts_with("https:"));
    let length = header.length;

    let mut payload = Vec::new();
    let mut complete = false;
    let (got, read_ok) = if http && length > 0 {
        // Keep the HTTP head and at most `max_bytes` of body; skip the rest unread.
        let (head_len, declared) = match s.peek(length.min(MAX_HEADER_BYTES as u64) as usize) {
            Ok(buf) => {
                let buf = &buf[..buf.len().min(length as usize)];
                head_extent(buf).unwrap_or((buf.len(), None))
            }
            Err(_) => (0, None),
        };
        let keep = (head_len as u64 + max_bytes as u64).min(length) as usize;
        let (got, result) = s.take_span(length, keep, &mut payload);
        complete = declared.is_some_and(|d| got.saturating_sub(head_len as u64) >= d);
        (got, result.is_ok())
    } else {
        let (got, result) = s.take_span(length, 0, &mut payload);
        (got, result.is_ok())
    };
    let cut = if !read_ok {
        Cut::Broken
    } else if got < length {
        Cut::Short { header_end }
    } else if followed_by_blank_line(s) {
        Cut::No
    } else {
        Cut::Junk
    };

    let failure = |reason: &str| {
        Some(Event::Failure(Failure {
            offset: record_offset,
            reason: reason.to_string(),
        }))
    };
    let event = if header.bad_length {
        failure("bad Content-Length")
    } else if !http {
        // Only a record that claims more than there is counts as a defect here: a wrong length
        // on a record not kept just moves the resync point.
        matches!(cut, Cut::Short { .. } | Cut::Broken).then(|| failure("truncated record")).flatten()
    } else if length == 0 {
        // Responses of other protocols (dns:, whois:) legitimately carry no HTTP message.
        failure("response record without HTTP headers")
    } else if cut != Cut::No && !complete {
        failure("truncated record")
    } else {
        let record_id = if header.arc {
            Some(arc_record_id(file_name, record_offset))
        } else {
            header
                .record_id
                .as_deref()
                .map(|id| id.trim_matches(|c| c == '<' || c == '>').to_string())
                .filter(|id| !id.is_empty())
        };
        Some(Event::Response(Response {
            record_id,
            url,
            date: header.date.as_deref().and_then(parse_iso_date),
            payload,
        }))
    };
    Outcome::Record { event, cut }
}
