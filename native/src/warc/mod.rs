//! WARC/ARC reading: files (plain or gzip) -> bounded Arrow batches of decoded HTTP responses.
//!
//! `stream` buffers bytes with look-ahead, `header` parses record headers, `reader` walks a
//! file's records and resynchronises after defects, `batch` turns records into Arrow batches
//! (HTTP parsing + charset decoding in parallel), `py` is the Python binding.

pub mod batch;
pub mod header;
mod py;
pub mod reader;
pub mod stream;

pub use py::register;

#[cfg(test)]
mod tests;
