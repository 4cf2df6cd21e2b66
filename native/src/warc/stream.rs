//! A forward-only byte stream with look-ahead: records are recognised by peeking at their header
//! before anything is consumed, so a header that does not parse costs no rewind.

use std::io::{self, BufRead, Read};

/// How much is asked of the inner reader at a time.
const BLOCK: usize = 1 << 20;

/// Buffered reader that can peek arbitrarily far ahead and knows its offset in the stream.
pub struct ByteStream<R> {
    inner: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Stream offset of `buf[start]`.
    offset: u64,
    eof: bool,
    /// Whether a read error with bytes still buffered ends the stream there instead of failing
    /// the look-ahead (see [`ByteStream::deferring_errors`]).
    defer_errors: bool,
    deferred: bool,
}

impl<R: Read> ByteStream<R> {
    /// Wrap `inner`, whose first byte sits at `offset` of the underlying stream.
    pub fn new(inner: R, offset: u64) -> Self {
        Self::with_buffer(inner, offset, Vec::new())
    }

    /// As `new`, reusing `buf`'s allocation (one per gzip member would cost a fresh
    /// zero-filled megabyte each).
    pub fn with_buffer(inner: R, offset: u64, buf: Vec<u8>) -> Self {
        ByteStream {
            inner,
            buf,
            start: 0,
            end: 0,
            offset,
            eof: false,
            defer_errors: false,
            deferred: false,
        }
    }

    /// A read error met while bytes are still buffered ends the stream at those bytes (the
    /// error is kept for [`ByteStream::failed`]): a gzip member cut short still yields the
    /// records that inflated before the cut, instead of failing the look-ahead that reached it.
    pub fn deferring_errors(mut self) -> Self {
        self.defer_errors = true;
        self
    }

    /// Whether the stream ended on a deferred read error rather than at its real end.
    pub fn failed(&self) -> bool {
        self.deferred
    }

    /// Whether every byte the stream will give has been consumed.
    pub fn exhausted(&self) -> bool {
        self.eof && self.start == self.end
    }

    /// Offset of the next unconsumed byte.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The buffered bytes, at least `want` of them unless the stream ends first.
    pub fn peek(&mut self, want: usize) -> io::Result<&[u8]> {
        while self.end - self.start < want && !self.eof {
            self.fill_more(want)?;
        }
        Ok(&self.buf[self.start..self.end])
    }

    fn fill_more(&mut self, want: usize) -> io::Result<()> {
        if self.end == self.buf.len() || self.buf.len() - self.start < want {
            // Move the unconsumed tail to the front: the buffer only grows for long look-aheads.
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            let target = want.max(self.end + BLOCK);
            if self.buf.len() < target {
                self.buf.resize(target, 0);
            }
        }
        loop {
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) if self.defer_errors && self.end > self.start => {
                    self.eof = true;
                    self.deferred = true;
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Drop `n` buffered bytes (at most what is buffered).
    pub fn consume_buffered(&mut self, n: usize) {
        let n = n.min(self.end - self.start);
        self.start += n;
        self.offset += n as u64;
    }

    /// Consume `n` bytes, appending the first `keep` of them to `out`. Returns how many were
    /// consumed (fewer than `n` when the stream ends or fails first) and whether reading failed.
    pub fn take_span(&mut self, n: u64, keep: usize, out: &mut Vec<u8>) -> (u64, io::Result<()>) {
        let mut done = 0u64;
        while done < n {
            if self.start == self.end {
                if self.eof {
                    break;
                }
                if let Err(e) = self.fill_more(1) {
                    return (done, Err(e));
                }
                continue;
            }
            let avail = (self.end - self.start) as u64;
            let step = avail.min(n - done) as usize;
            if (done as usize) < keep {
                if done == 0 {
                    out.reserve(keep.min(n as usize));
                }
                let k = step.min(keep - done as usize);
                out.extend_from_slice(&self.buf[self.start..self.start + k]);
            }
            self.consume_buffered(step);
            done += step as u64;
        }
        (done, Ok(()))
    }

    /// The wrapped reader and the buffer (for reuse); buffered bytes are dropped.
    pub fn into_parts(self) -> (R, Vec<u8>) {
        (self.inner, self.buf)
    }
}

impl<R: Read> Read for ByteStream<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let avail = self.fill_buf()?;
        let n = avail.len().min(out.len());
        out[..n].copy_from_slice(&avail[..n]);
        self.consume_buffered(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for ByteStream<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.start == self.end && !self.eof {
            self.fill_more(1)?;
        }
        Ok(&self.buf[self.start..self.end])
    }

    fn consume(&mut self, n: usize) {
        self.consume_buffered(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out at most 3 bytes per read, to exercise refills.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(out.len()).min(3);
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    /// Hands out its bytes, then fails.
    struct Failing<'a>(&'a [u8]);

    impl Read for Failing<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "cut"));
            }
            let n = self.0.len().min(out.len());
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn deferred_errors_end_the_stream_at_the_buffered_bytes() {
        let mut s = ByteStream::new(Failing(b"abc"), 0);
        assert!(s.peek(10).is_err());
        let mut s = ByteStream::new(Failing(b"abc"), 0).deferring_errors();
        assert_eq!(s.peek(10).unwrap(), b"abc");
        assert!(s.failed());
        s.consume_buffered(3);
        assert!(s.peek(1).unwrap().is_empty());
        // Nothing buffered when the error comes: it is an error, as without deferring.
        let mut s = ByteStream::new(Failing(b""), 0).deferring_errors();
        assert!(s.peek(1).is_err());
    }

    #[test]
    fn peek_take_and_offsets() {
        let data: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        let mut s = ByteStream::new(Trickle(&data), 100);
        assert_eq!(&s.peek(10).unwrap()[..10], &data[..10]);
        assert_eq!(s.offset(), 100);
        let mut out = Vec::new();
        assert_eq!(s.take_span(5000, 7, &mut out).0, 5000);
        assert_eq!(out, &data[..7]);
        assert_eq!(s.offset(), 5100);
        assert_eq!(s.peek(6000).unwrap(), &data[5000..]);
        out.clear();
        assert_eq!(s.take_span(9000, usize::MAX, &mut out).0, 5000);
        assert_eq!(out, &data[5000..]);
        assert!(s.peek(1).unwrap().is_empty());
    }
}
