//! fastText supervised-model inference (language identification with lid.176, quality
//! classifiers such as DCLM's), bit-identical to fastText 0.9.2 / fasttext-predict's
//! `predict(text + "\n", k, threshold)` on text whose newlines are replaced by spaces (FineWeb's,
//! DCLM's and datatrove's convention), over whole Arrow batches.

mod model;
mod predict;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, LargeListArray, StringArray, StructArray};
use arrow::buffer::{NullBuffer, OffsetBuffer};
use arrow::datatypes::{DataType, Field, Fields};
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use rayon::prelude::*;

use crate::arrow_io::{to_py, PyArray, StrColumn};
use crate::threads;
use model::{Bytes, Model};
use predict::{label_log_prob, predict, Scratch};

const LABEL_PREFIX: &str = "__label__";

/// The file at `path` mapped, or an OSError naming it.
fn map(path: &Path) -> PyResult<Bytes> {
    Bytes::map(path).map_err(|e| PyOSError::new_err(format!("{}: {e}", path.display())))
}

fn invalid(path: &Path, e: String) -> PyErr {
    PyValueError::new_err(format!("{}: {e}", path.display()))
}

/// A supervised fastText model loaded from its `.bin`/`.ftz` file (memory-mapped); its methods
/// label a batch of texts with the GIL released, rows spread over rayon's pool.
#[pyclass(frozen, module = "mdfql._native", name = "FastText")]
pub struct FastText {
    model: Arc<Model>,
    /// Labels as stored, e.g. `__label__en`.
    labels: Vec<String>,
}

impl FastText {
    /// `f(model, text, scratch)` per row with the GIL released; None for null texts.
    fn map_rows<T: Send>(
        &self,
        py: Python<'_>,
        texts: PyArray,
        f: impl Fn(&Model, &[u8], &mut Scratch) -> T + Send + Sync,
    ) -> PyResult<Vec<Option<T>>> {
        let col = StrColumn::from_data(texts.0)?;
        let model = &*self.model;
        threads::detach(py, || {
            (0..col.len())
                .into_par_iter()
                .map_init(
                    || Scratch::new(model),
                    |s, i| col.get(i).map(|t| f(model, t.as_bytes(), s)),
                )
                .collect()
        })
    }
}

#[pymethods]
impl FastText {
    #[new]
    fn new(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let bytes = py.detach(|| map(&path))?;
        let model = py
            .detach(|| Model::new(bytes))
            .map_err(|e| invalid(&path, e))?;
        let labels = (0..model.nlabels())
            .map(|i| String::from_utf8_lossy(model.header.label(i)).into_owned())
            .collect();
        Ok(FastText {
            model: Arc::new(model),
            labels,
        })
    }

    /// Top label per text: struct {lang: utf8 (label without `__label__`), score: float64
    /// (fastText's probability, at most 1.0)}. Null texts give null fields.
    fn predict(&self, py: Python<'_>, texts: PyArray) -> PyResult<PyArray> {
        let preds = self.map_rows(py, texts, |m, t, s| {
            predict(m, t, 1, 0.0, s).first().copied()
        })?;
        let langs: StringArray = preds
            .iter()
            .map(|p| {
                let l = self.labels[p.flatten()?.1].as_str();
                Some(l.strip_prefix(LABEL_PREFIX).unwrap_or(l))
            })
            .collect();
        // fastText adds 1e-5 inside its logs, so a sure prediction can exceed 1 by a hair.
        let scores: Float64Array = preds
            .iter()
            .map(|p| p.map(|p| p.map_or(0.0, |(lp, _)| (lp.exp() as f64).min(1.0))))
            .collect();
        let out = StructArray::from(vec![
            (
                Arc::new(Field::new("lang", DataType::Utf8, true)),
                Arc::new(langs) as ArrayRef,
            ),
            (
                Arc::new(Field::new("score", DataType::Float64, true)),
                Arc::new(scores) as ArrayRef,
            ),
        ]);
        Ok(to_py(Arc::new(out)))
    }

    /// Up to `k` labels per text, best first, as fastText's `predict(text, k, threshold)`
    /// returns them: list<struct {label: utf8 (as stored, `__label__` included), score: float64
    /// (fastText's probability: exp of its log(p + 1e-5))}>. Null texts give null lists.
    fn predict_top(
        &self,
        py: Python<'_>,
        texts: PyArray,
        k: usize,
        threshold: f32,
    ) -> PyResult<PyArray> {
        let preds = self.map_rows(py, texts, |m, t, s| predict(m, t, k, threshold, s).to_vec())?;
        let valid = NullBuffer::from(preds.iter().map(Option::is_some).collect::<Vec<_>>());
        let flat = || preds.iter().flatten().flatten();
        let labels: StringArray = flat()
            .map(|&(_, l)| Some(self.labels[l].as_str()))
            .collect();
        let scores: Float64Array = flat().map(|&(lp, _)| Some(lp.exp() as f64)).collect();
        let fields = Fields::from(vec![
            Field::new("label", DataType::Utf8, true),
            Field::new("score", DataType::Float64, true),
        ]);
        let items = StructArray::new(
            fields.clone(),
            vec![Arc::new(labels) as ArrayRef, Arc::new(scores) as ArrayRef],
            None,
        );
        let lengths = preds.iter().map(|p| p.as_ref().map_or(0, Vec::len));
        let out = LargeListArray::new(
            Arc::new(Field::new("item", DataType::Struct(fields), true)),
            OffsetBuffer::from_lengths(lengths),
            Arc::new(items),
            Some(valid),
        );
        Ok(to_py(Arc::new(out)))
    }

    /// Label `label`'s probability per text (float64), as fastText's `predict(text, k=-1)`
    /// reports it; 0.0 where that omits the label. Null texts give nulls.
    fn label_score(&self, py: Python<'_>, texts: PyArray, label: &str) -> PyResult<PyArray> {
        let id = self
            .model
            .header
            .label_id(label.as_bytes())
            .ok_or_else(|| {
                PyValueError::new_err(format!(
                    "label {label:?} is not in the model (its labels: {})",
                    self.labels.join(", ")
                ))
            })?;
        let scores = self.map_rows(py, texts, |m, t, s| {
            label_log_prob(m, t, id, s).map_or(0.0, |lp| lp.exp() as f64)
        })?;
        Ok(to_py(Arc::new(Float64Array::from(scores))))
    }

    /// The model's labels as stored (with their `__label__` prefix).
    #[getter]
    fn labels(&self) -> Vec<String> {
        self.labels.clone()
    }

    fn __repr__(&self) -> String {
        let h = &self.model.header;
        format!(
            "FastText(labels={}, dim={}, loss={:?}, minn={}, maxn={}, word_ngrams={})",
            self.labels.len(),
            h.dim,
            h.loss,
            h.minn,
            h.maxn,
            h.word_ngrams
        )
    }
}

/// The labels of the supervised fastText model at `path`, as stored, from its header (its
/// matrices' layout is checked, not loaded): a check before planning.
#[pyfunction]
fn fasttext_labels(py: Python<'_>, path: PathBuf) -> PyResult<Vec<String>> {
    let bytes = py.detach(|| map(&path))?;
    let header = py
        .detach(|| model::check(&bytes))
        .map_err(|e| invalid(&path, e))?;
    Ok((0..header.nlabels())
        .map(|i| String::from_utf8_lossy(header.label(i)).into_owned())
        .collect())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<FastText>()?;
    m.add_function(wrap_pyfunction!(fasttext_labels, m)?)
}
