//! Reader tests over synthetic archives: plain and gzip, good and broken.

use std::io::{self, Cursor, Write};
use std::sync::Arc;

use flate2::write::GzEncoder;
use flate2::Compression;

use super::batch::{next_raw_batch, BatchLimits};
use super::reader::{Event, Failure, Input, Opener, RecordReader, Response};

struct MemOpener(Arc<Vec<u8>>);

impl Opener for MemOpener {
    fn open(&mut self, offset: u64) -> io::Result<Input> {
        let mut c = Cursor::new(self.0.clone().to_vec());
        c.set_position(offset);
        Ok(Box::new(c))
    }
}

fn warc_record(rec_type: &str, url: &str, block: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "WARC/1.0\r\nWARC-Type: {rec_type}\r\nWARC-Target-URI: {url}\r\n\
         WARC-Date: 2024-01-02T03:04:05Z\r\nWARC-Record-ID: <urn:uuid:{url}>\r\n\
         Content-Length: {}\r\n\r\n",
        block.len()
    )
    .into_bytes();
    out.extend_from_slice(block);
    out.extend_from_slice(b"\r\n\r\n");
    out
}

fn http(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn response(url: &str, body: &str) -> Vec<u8> {
    warc_record("response", url, &http(body))
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn read_all(data: Vec<u8>, max_bytes: usize) -> (Vec<Response>, Vec<Failure>) {
    let reader = RecordReader::new(Box::new(MemOpener(Arc::new(data))), "t.warc", max_bytes);
    let (mut rows, mut failures) = (Vec::new(), Vec::new());
    for event in reader {
        match event {
            Event::Response(r) => rows.push(r),
            Event::Failure(f) => failures.push(f),
        }
    }
    (rows, failures)
}

fn urls(rows: &[Response]) -> Vec<&str> {
    rows.iter().map(|r| r.url.as_str()).collect()
}

fn reasons(failures: &[Failure]) -> Vec<&str> {
    failures.iter().map(|f| f.reason.as_str()).collect()
}

#[test]
fn plain_records_and_skipped_types() {
    let mut data = warc_record("warcinfo", "", b"software: x\r\n");
    data.extend(warc_record("request", "http://a/", b"GET / HTTP/1.1\r\n\r\n"));
    data.extend(response("http://a/", "<p>a</p>"));
    data.extend(warc_record("response", "dns:a", b"20240101 a. 1 IN A 1.2.3.4"));
    data.extend(response("http://b/", "<p>b</p>"));
    let (rows, failures) = read_all(data, 1000);
    assert_eq!(urls(&rows), ["http://a/", "http://b/"]);
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(rows[0].record_id.as_deref(), Some("urn:uuid:http://a/"));
    assert_eq!(rows[0].date, Some(1_704_164_645_000_000));
    assert!(rows[0].payload.starts_with(b"HTTP/1.1 200 OK") && rows[0].payload.ends_with(b"<p>a</p>"));
}

#[test]
fn gzip_members_and_single_stream() {
    let records = [response("http://a/", "a"), response("http://b/", "b")];
    let members: Vec<u8> = records.iter().flat_map(|r| gz(r)).collect();
    let (rows, failures) = read_all(members, 1000);
    assert_eq!((urls(&rows), failures), (vec!["http://a/", "http://b/"], vec![]));

    let (rows, failures) = read_all(gz(&records.concat()), 1000);
    assert_eq!(urls(&rows), ["http://a/", "http://b/"]);
    assert_eq!(reasons(&failures), ["gzip stream spans several records"]);
}

#[test]
fn body_is_bounded_but_record_complete() {
    let body = "x".repeat(100_000);
    let mut data = response("http://big/", &body);
    data.extend(response("http://next/", "n"));
    let members: Vec<u8> = [response("http://big/", &body), response("http://next/", "n")]
        .iter()
        .flat_map(|r| gz(r))
        .collect();
    for data in [data, members] {
        let (rows, failures) = read_all(data, 1000);
        assert_eq!(urls(&rows), ["http://big/", "http://next/"]);
        assert!(failures.is_empty(), "{failures:?}");
        let head_len = http(&body).len() - body.len();
        assert!(rows[0].payload.len() <= head_len + 1000, "{}", rows[0].payload.len());
        assert!(rows[0].payload.ends_with(&[b'x'; 1000]));
    }
}

#[test]
fn truncated_and_resynced_plain() {
    let good1 = response("http://1/", "one");
    let good2 = response("http://2/", "two");
    // A record that claims more than the file holds swallows the next one.
    let mut data = good1.clone();
    data.extend(b"WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI: http://x/\r\nContent-Length: 9999\r\n\r\nHTTP/1.1 2");
    data.extend(&good2);
    let (rows, failures) = read_all(data, 1000);
    assert_eq!(urls(&rows), ["http://1/", "http://2/"]);
    assert_eq!(reasons(&failures), ["truncated record"]);
    assert_eq!(failures[0].offset, good1.len() as u64);

    // A length 2 bytes short: the record is cut, the next still read.
    let mut short = good1.clone();
    let cl = format!("Content-Length: {}", http("one").len());
    let cl2 = format!("Content-Length: {}", http("one").len() - 2);
    short = String::from_utf8(short).unwrap().replace(&cl, &cl2).into_bytes();
    short.extend(&good2);
    let (rows, failures) = read_all(short, 1000);
    assert_eq!(urls(&rows), ["http://2/"]);
    assert_eq!(reasons(&failures), ["truncated record"]);

    // A WARC length that is no number: counted, the junk after it skipped.
    let mut bad_len = good1.clone();
    bad_len.extend(b"WARC/1.0\r\nContent-Length: abc\r\n\r\njunk\r\njunk\r\n\r\n");
    bad_len.extend(&good2);
    let (rows, failures) = read_all(bad_len, 1000);
    assert_eq!(urls(&rows), ["http://1/", "http://2/"]);
    assert_eq!(reasons(&failures), ["bad Content-Length"]);

    // Garbage between records: one failure, then the next record.
    let mut junk = good1.clone();
    junk.extend(b"garbage line\r\nmore garbage WARC/1.0 not at a line end\r\n");
    junk.extend(&good2);
    let (rows, failures) = read_all(junk, 1000);
    assert_eq!(urls(&rows), ["http://1/", "http://2/"]);
    assert_eq!(reasons(&failures), ["not a WARC/ARC record"]);
}

#[test]
fn bad_gzip_member_and_inflate_bomb() {
    let good1 = gz(&response("http://1/", "one"));
    let good2 = gz(&response("http://2/", "two"));
    let mut bad = good1.clone();
    bad.extend(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03");
    bad.extend([0xff; 200]);
    bad.extend(&good2);
    let (rows, failures) = read_all(bad, 1000);
    assert_eq!(urls(&rows), ["http://1/", "http://2/"]);
    assert_eq!(reasons(&failures), ["bad gzip data"]);

    // 256 MiB of zeros in one member (about 250 KB compressed).
    let mut bomb = good1.clone();
    let mut e = GzEncoder::new(Vec::new(), Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..256 {
        e.write_all(&zeros).unwrap();
    }
    bomb.extend(e.finish().unwrap());
    bomb.extend(&good2);
    let (rows, failures) = read_all(bomb, 1000);
    assert_eq!(urls(&rows), ["http://1/", "http://2/"]);
    assert_eq!(reasons(&failures), ["not a WARC/ARC record"]);
    assert_eq!(failures[0].offset, good1.len() as u64);

    // Trailing junk after the last member.
    let mut tail = good1;
    tail.extend(b"junk");
    let (rows, failures) = read_all(tail, 1000);
    assert_eq!((rows.len(), reasons(&failures)), (1, vec!["not a gzip member"]));
}

#[test]
fn record_split_over_two_members_is_truncated() {
    let record = response("http://1/", "<html>body</html>");
    let cut = record.len() - 10;
    let mut data = gz(&record[..cut]);
    data.extend(gz(&record[cut..]));
    data.extend(gz(&response("http://2/", "two")));
    let (rows, failures) = read_all(data, 1000);
    assert_eq!(urls(&rows), ["http://2/"]);
    assert_eq!(reasons(&failures), ["truncated record", "not a WARC/ARC record"]);
}

#[test]
fn arc_records() {
    let body = http("<p>arc</p>");
    let mut data = b"filedesc://t.arc 0.0.0.0 20140216050221 text/plain 75\n1 0 LiveWeb Capture\n\
                     URL IP-address Archive-date Content-type Archive-length\n\n"
        .to_vec();
    let offset = data.len() as u64;
    data.extend(format!("http://a/ 1.2.3.4 20140216050221 text/html {}\n", body.len()).as_bytes());
    data.extend(&body);
    data.extend(b"\ndns:a 1.2.3.4 20140216050221 text/dns 3\nabc\n");
    data.extend(b"http://b/ 1.2.3.4 20140216050221 text/html -1\n\n");
    let (rows, failures) = read_all(data, 1000);
    assert_eq!(urls(&rows), ["http://a/"]);
    assert_eq!(rows[0].record_id, Some(super::header::arc_record_id("t.warc", offset)));
    assert_eq!(rows[0].date, Some(1_392_526_941_000_000));
    assert_eq!(reasons(&failures), ["response record without HTTP headers"]);
}

#[test]
fn batches_respect_limits() {
    let data: Vec<u8> = (0..10).flat_map(|i| gz(&response(&format!("http://{i}/"), "x"))).collect();
    let mut reader = RecordReader::new(Box::new(MemOpener(Arc::new(data))), "t", 100);
    let limits = BatchLimits { max_records: 4, max_payload_bytes: 1 << 20 };
    let sizes: Vec<usize> = std::iter::from_fn(|| next_raw_batch(&mut reader, limits))
        .map(|b| b.responses.len())
        .collect();
    assert_eq!(sizes, [4, 4, 2]);
}

proptest::proptest! {
    #[test]
    fn never_panics_on_damaged_archives(
        cuts in proptest::collection::vec((0usize..2000, proptest::prelude::any::<u8>()), 0..8),
        compress in proptest::prelude::any::<bool>(),
    ) {
        let records: Vec<Vec<u8>> = (0..4).map(|i| response(&format!("http://{i}/"), "body")).collect();
        let mut data: Vec<u8> = if compress {
            records.iter().flat_map(|r| gz(r)).collect()
        } else {
            records.concat()
        };
        for (pos, byte) in cuts {
            if !data.is_empty() {
                let i = pos % data.len();
                data[i] = byte;
            }
        }
        let (rows, _) = read_all(data, 64);
        proptest::prop_assert!(rows.len() <= 4);
    }
}

/// How many bytes a gzip stream cut short inflates to before the error.
fn inflated_len(gz: &[u8]) -> usize {
    use std::io::Read;
    let mut d = flate2::bufread::GzDecoder::new(gz);
    let (mut buf, mut total) = (vec![0u8; 1 << 16], 0);
    while let Ok(n @ 1..) = d.read(&mut buf) {
        total += n;
    }
    total
}

#[test]
fn gzip_cut_short_keeps_what_inflated_before_the_cut() {
    let records: Vec<Vec<u8>> = (0..4)
        .map(|i| response(&format!("http://{i}/"), &format!("<p>page {i} {}</p>", "x".repeat(300))))
        .collect();
    let ends: Vec<usize> = records
        .iter()
        .scan(0, |end, r| {
            *end += r.len();
            Some(*end - 4) // the record's content ends before its blank-line trailer
        })
        .collect();
    // One gzip stream over all records, cut at every byte: the records that inflated whole
    // before the cut are kept, and the cut is counted exactly once.
    let stream = gz(&records.concat());
    for cut in 20..stream.len() - 8 {
        let whole = ends.iter().filter(|&&e| e <= inflated_len(&stream[..cut])).count();
        let (rows, failures) = read_all(stream[..cut].to_vec(), 1000);
        let mut reasons = reasons(&failures);
        reasons.retain(|r| *r != "gzip stream spans several records");
        assert_eq!(rows.len(), whole, "cut at {cut}: {:?}", urls(&rows));
        assert_eq!(reasons.len(), 1, "cut at {cut}: {reasons:?}");
    }
    // One member per record, the last cut short: the others are kept, it is counted.
    let mut members: Vec<u8> = records[..3].iter().flat_map(|r| gz(r)).collect();
    let last = gz(&records[3]);
    members.extend_from_slice(&last[..last.len() / 2]);
    let (rows, failures) = read_all(members, 1000);
    assert_eq!(urls(&rows), ["http://0/", "http://1/", "http://2/"]);
    assert_eq!(reasons(&failures), ["truncated record"]);
    // Cut inside the record header: the header is not read as a whole one.
    for cut in 12..last.len() {
        let mut members: Vec<u8> = records[..1].iter().flat_map(|r| gz(r)).collect();
        members.extend_from_slice(&last[..cut]);
        let (rows, failures) = read_all(members, 1000);
        let whole = inflated_len(&last[..cut]) >= records[3].len() - 4;
        assert_eq!(rows.len(), 1 + usize::from(whole), "cut at {cut}");
        assert_eq!(failures.len(), 1, "cut at {cut}: {failures:?}");
        assert_ne!(failures[0].reason, "bad Content-Length", "cut at {cut}");
    }
}
