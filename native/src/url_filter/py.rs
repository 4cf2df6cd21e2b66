//! Python binding: `UrlFilter` (lists in, verdicts over pyarrow string arrays out) and
//! `read_url_list` (one list file or archive member as a pyarrow array).

use std::collections::{BTreeMap, HashMap};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{Float64Array, LargeStringBuilder, StringArray};
use pyo3::exceptions::{PyFileNotFoundError, PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;

use super::{read_sources, ListKind, LoadError, Reason, Source, UrlLists};
use crate::arrow_io::{to_py, PyArray, StrColumn};

fn load_error(e: LoadError) -> PyErr {
    match e {
        LoadError::NotFound(m) => PyFileNotFoundError::new_err(m),
        LoadError::Io(m) => PyOSError::new_err(m),
        LoadError::Invalid(m) => PyValueError::new_err(m),
    }
}

/// Run a loader over files that may be anything, keeping a panic on the Rust side.
fn guarded<T>(what: &str, f: impl FnOnce() -> Result<T, LoadError>) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result.map_err(load_error),
        Err(_) => Err(PyRuntimeError::new_err(format!("{what}: internal error"))),
    }
}

/// A list file, or `(archive, member)` read from a tar archive.
type PySource = (PathBuf, Option<String>);

/// RefinedWeb URL filter over pyarrow string arrays. Built once from the lists (see
/// `mdfql.text.load_url_filter`), then applied to batches with the GIL released.
#[pyclass(frozen, module = "mdfql._native", name = "UrlFilter")]
pub struct UrlFilter {
    lists: Arc<UrlLists>,
}

#[pymethods]
impl UrlFilter {
    /// From in-memory lists, one list-file line per entry (small or custom lists, tests).
    #[new]
    #[pyo3(signature = (blocked_domains, blocked_urls, strict_words, hard_words, soft_words,
                        excluded_domains, soft_word_threshold = 2))]
    #[allow(clippy::too_many_arguments)] // PyO3: one argument per list of the constructor
    fn new(
        py: Python<'_>,
        blocked_domains: Vec<String>,
        blocked_urls: Vec<String>,
        strict_words: Vec<String>,
        hard_words: Vec<String>,
        soft_words: Vec<String>,
        excluded_domains: Vec<String>,
        soft_word_threshold: usize,
    ) -> PyResult<Self> {
        let lists = py
            .detach(|| {
                UrlLists::new(
                    blocked_domains.iter().map(String::as_str),
                    blocked_urls.iter().map(String::as_str),
                    strict_words.iter().map(String::as_str),
                    hard_words.iter().map(String::as_str),
                    soft_words.iter().map(String::as_str),
                    excluded_domains.iter().map(String::as_str),
                    soft_word_threshold,
                )
            })
            .map_err(PyValueError::new_err)?;
        Ok(UrlFilter {
            lists: Arc::new(lists),
        })
    }

    /// From list files, read in Rust with the GIL released (no Python string per entry):
    /// `sources` maps a list name (`domains`, `urls`, `strict_words`, `hard_words`,
    /// `soft_words`, `excluded_domains`) to its files, each a path or `(archive, member)`.
    /// Lists not named are empty.
    #[staticmethod]
    #[pyo3(signature = (sources, soft_word_threshold = 2))]
    fn from_files(
        py: Python<'_>,
        sources: HashMap<String, Vec<PySource>>,
        soft_word_threshold: usize,
    ) -> PyResult<Self> {
        let mut flat = Vec::new();
        for (name, files) in sources {
            let kind = ListKind::from_name(&name).ok_or_else(|| {
                let names: Vec<&str> = ListKind::ALL.iter().map(|k| k.name()).collect();
                PyValueError::new_err(format!("unknown URL list {name:?} (one of {names:?})"))
            })?;
            flat.extend(
                files
                    .into_iter()
                    .map(|(path, member)| (kind, Source { path, member })),
            );
        }
        let lists = py.detach(|| {
            guarded("UrlFilter.from_files", || {
                UrlLists::from_sources(&flat, soft_word_threshold)
            })
        })?;
        Ok(UrlFilter {
            lists: Arc::new(lists),
        })
    }

    /// Distinct entries per list, e.g. `{"domains": 4558939, ...}`.
    #[getter]
    fn counts(&self) -> BTreeMap<&'static str, usize> {
        self.lists
            .counts()
            .iter()
            .map(|(k, n)| (k.name(), *n))
            .collect()
    }

    /// Per URL: null to keep, else the reason it is dropped (`domain:x`, `quality_source:x`,
    /// `url`, `hard_word:w`, `soft_words:a,b`, `strict_word:w`, `unparseable`). Null URLs are
    /// `unparseable`. `quality_sources=False` keeps the curated sources (FineWeb's filter).
    #[pyo3(signature = (urls, quality_sources = true))]
    fn reasons(&self, py: Python<'_>, urls: PyArray, quality_sources: bool) -> PyResult<PyArray> {
        let col = StrColumn::from_data(urls.0)?;
        let lists = &self.lists;
        let out: StringArray = crate::arrow_io::detach_guarded(py, || {
            (0..col.len())
                .map(|i| match col.get(i) {
                    Some(u) => lists.reason(u, quality_sources).map(|r| r.to_string()),
                    None => Some(Reason::Unparseable.to_string()),
                })
                .collect()
        })?;
        Ok(to_py(Arc::new(out)))
    }

    /// Per URL: 1.0 if dropped, 0.0 if kept (`score < 0.5` keeps what the filter keeps).
    #[pyo3(signature = (urls, quality_sources = true))]
    fn scores(&self, py: Python<'_>, urls: PyArray, quality_sources: bool) -> PyResult<PyArray> {
        let col = StrColumn::from_data(urls.0)?;
        let lists = &self.lists;
        let out: Float64Array = crate::arrow_io::detach_guarded(py, || {
            (0..col.len())
                .map(|i| {
                    let blocked = col
                        .get(i)
                        .is_none_or(|u| lists.reason(u, quality_sources).is_some());
                    Some(if blocked { 1.0 } else { 0.0 })
                })
                .collect()
        })?;
        Ok(to_py(Arc::new(out)))
    }

    fn __repr__(&self) -> String {
        let counts: Vec<String> = self
            .lists
            .counts()
            .iter()
            .map(|(k, n)| format!("{}={n}", k.name()))
            .collect();
        format!(
            "UrlFilter({}, soft_word_threshold={})",
            counts.join(", "),
            self.lists.soft_threshold()
        )
    }
}

/// The entries of one list file or archive member as a large_utf8 array: lines trimmed, blank
/// lines and `#` comments dropped, nothing else normalised.
#[pyfunction]
#[pyo3(signature = (path, member = None))]
fn read_url_list(py: Python<'_>, path: PathBuf, member: Option<String>) -> PyResult<PyArray> {
    let out = py.detach(|| {
        guarded("read_url_list", || {
            let mut out = LargeStringBuilder::new();
            read_sources(&[((), Source { path, member })], |_, line| {
                let line = line.trim();
                if !line.is_empty() && !line.starts_with('#') {
                    out.append_value(line);
                }
                Ok(())
            })?;
            Ok(out.finish())
        })
    })?;
    Ok(to_py(Arc::new(out)))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<UrlFilter>()?;
    m.add_function(wrap_pyfunction!(read_url_list, m)?)
}
