//! Python binding: `WarcBatches`, an iterator of (column arrays, failures) over one file.
//!
//! A reader thread walks the file (decompressing, GIL released unless the bytes come from a
//! Python stream) one batch ahead, while the consumer parses the previous batch: memory is a
//! few batches, whatever the file size.

use std::io::{self, Read};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Mutex;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::arrow_io::{detach_guarded, panic_message, to_py, PyArray};
use crate::threads;

use super::batch::{next_raw_batch, parse_batch, BatchLimits, RawBatch};
use super::reader::{FileOpener, Input, Opener, RecordReader};

/// Opens the file through a Python callable `open_at(offset) -> binary file-like object`.
struct PyOpener(Py<PyAny>);

impl Opener for PyOpener {
    fn open(&mut self, offset: u64) -> io::Result<Input> {
        Python::attach(|py| {
            let stream = self.0.call1(py, (offset,)).map_err(io::Error::other)?;
            Ok(Box::new(PyStream(stream)) as Input)
        })
    }
}

/// A Python binary stream read through its `read(n)`.
struct PyStream(Py<PyAny>);

impl Read for PyStream {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        Python::attach(|py| {
            let block = self
                .0
                .call_method1(py, "read", (out.len(),))
                .map_err(io::Error::other)?;
            let block = block.downcast_bound::<PyBytes>(py).map_err(|e| {
                io::Error::other(format!("read() must return bytes: {e}"))
            })?;
            let bytes = block.as_bytes();
            let n = bytes.len().min(out.len());
            out[..n].copy_from_slice(&bytes[..n]);
            Ok(n)
        })
    }
}

/// A parsed batch for Python: its columns and its row failures as (stage, source, reason).
type PyBatch = (Vec<PyArray>, Vec<(String, String, String)>);

/// Iterator over one WARC/ARC file: yields `([column arrays], [(stage, source, reason)])`.
///
/// Columns are exported one by one, not as one record batch: an exported batch is released
/// as a whole, so a consumer keeping only small columns (url, status) would keep every
/// batch's html alive with them.
///
/// `warc_path` fills the warc_path column and names ARC record ids; `source` names the file in
/// failures. The file is `local_path` when given, else opened by `open_at(offset)`.
#[pyclass(module = "mdfql._native")]
struct WarcBatches {
    rx: Mutex<Option<Receiver<RawBatch>>>,
    warc_path: String,
    source: String,
    max_bytes: usize,
}

#[pymethods]
impl WarcBatches {
    #[new]
    #[pyo3(signature = (warc_path, source, local_path=None, open_at=None, max_bytes=10_000_000,
                        batch_records=1024, batch_bytes=8 << 20))]
    fn new(
        warc_path: String,
        source: String,
        local_path: Option<PathBuf>,
        open_at: Option<Py<PyAny>>,
        max_bytes: usize,
        batch_records: usize,
        batch_bytes: usize,
    ) -> PyResult<Self> {
        let opener: Box<dyn Opener> = match (local_path, open_at) {
            (Some(path), _) => Box::new(FileOpener(path)),
            (None, Some(open_at)) => Box::new(PyOpener(open_at)),
            (None, None) => {
                return Err(PyRuntimeError::new_err("WarcBatches needs local_path or open_at"))
            }
        };
        let limits = BatchLimits {
            max_records: batch_records.max(1),
            max_payload_bytes: batch_bytes.max(1),
        };
        let file_name = warc_path.rsplit('/').next().unwrap_or_default().to_string();
        // One batch read ahead: the reader fills the next while the consumer parses this one.
        let (tx, rx) = sync_channel::<RawBatch>(1);
        std::thread::Builder::new()
            .name("mdfql-warc-reader".into())
            .spawn(move || {
                let run = catch_unwind(AssertUnwindSafe(|| {
                    let mut reader = RecordReader::new(opener, &file_name, max_bytes);
                    while let Some(batch) = next_raw_batch(&mut reader, limits) {
                        if tx.send(batch).is_err() {
                            return; // the consumer went away
                        }
                    }
                }));
                if let Err(payload) = run {
                    // A reader bug ends this file, counted as one failed read; the run goes on.
                    let failure = (0, format!("internal error: {}", panic_message(payload)));
                    let _ = tx.send(RawBatch {
                        responses: Vec::new(),
                        failures: vec![failure],
                    });
                }
            })
            .map_err(|e| PyRuntimeError::new_err(format!("cannot start the reader: {e}")))?;
        Ok(WarcBatches {
            rx: Mutex::new(Some(rx)),
            warc_path,
            source,
            max_bytes,
        })
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<PyBatch>> {
        // Each response is parsed under its own panic guard (`parse_batch`); a panic outside
        // them is a `KernelPanic` error.
        let result = detach_guarded(py, || {
            let mut guard = self.rx.lock().unwrap_or_else(|e| e.into_inner());
            // Waiting for the reader holds no kernel thread; only the parsing runs on the pool.
            let Some(Ok(raw)) = guard.as_ref().map(Receiver::recv) else {
                *guard = None; // the reader finished
                return None;
            };
            let parse = || parse_batch(raw, &self.warc_path, &self.source, self.max_bytes);
            Some(threads::install(parse))
        })?;
        match result {
            Some((batch, failures)) => {
                let failures = failures
                    .into_iter()
                    .map(|f| (f.stage.to_string(), f.source, f.reason))
                    .collect();
                let columns = batch.columns().iter().map(|c| to_py(c.clone())).collect();
                Ok(Some((columns, failures)))
            }
            None => Ok(None),
        }
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<WarcBatches>()
}
