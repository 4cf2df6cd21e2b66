//! fastText supervised-model inference (e.g. language identification with lid.176), bit-identical
//! to fastText 0.9.2 / fasttext-predict's `predict(text + "\n", k=1)` on text whose newlines are
//! replaced by spaces (FineWeb's and datatrove's convention), over whole Arrow batches.

mod model;
mod predict;

use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, StringArray, StructArray};
use arrow::datatypes::{DataType, Field};
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use rayon::prelude::*;

use crate::arrow_io::{to_py, PyArray, StrColumn};
use crate::threads;
use model::Model;
use predict::{predict, Scratch};

const LABEL_PREFIX: &str = "__label__";

/// A fastText supervised model loaded from its `.bin`/`.ftz` file; `predict` labels a batch of
/// texts with the GIL released, rows spread over rayon's pool.
#[pyclass(frozen, module = "mdfql._native", name = "FastText")]
pub struct FastText {
    model: Arc<Model>,
    /// Labels without their `__label__` prefix.
    labels: Vec<String>,
}

#[pymethods]
impl FastText {
    #[new]
    fn new(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let bytes = py
            .detach(|| std::fs::read(&path))
            .map_err(|e| PyOSError::new_err(format!("{}: {e}", path.display())))?;
        let model = py
            .detach(|| Model::from_bytes(&bytes))
            .map_err(|e| PyValueError::new_err(format!("{}: {e}", path.display())))?;
        let labels = (0..model.nlabels())
            .map(|i| {
                let l = String::from_utf8_lossy(model.label(i));
                l.strip_prefix(LABEL_PREFIX).unwrap_or(&l).to_string()
            })
            .collect();
        Ok(FastText {
            model: Arc::new(model),
            labels,
        })
    }

    /// Top label per text: struct {lang: utf8 (label without `__label__`), score: float64
    /// (fastText's probability, at most 1.0)}. Null texts give null fields.
    fn predict(&self, py: Python<'_>, texts: PyArray) -> PyResult<PyArray> {
        let col = StrColumn::from_data(texts.0)?;
        let model = &self.model;
        let preds: Vec<Option<(usize, f32)>> = threads::detach(py, || {
            (0..col.len())
                .into_par_iter()
                .map_init(
                    || Scratch::new(model),
                    |s, i| col.get(i).and_then(|t| predict(model, t.as_bytes(), s)),
                )
                .collect()
        })?;
        let langs: StringArray = preds
            .iter()
            .map(|p| p.map(|(l, _)| self.labels[l].as_str()))
            .collect();
        // fastText adds 1e-5 inside its logs, so a sure prediction can exceed 1 by a hair.
        let scores: Float64Array = (0..col.len())
            .map(|i| match (col.get(i), preds[i]) {
                (None, _) => None,
                (Some(_), None) => Some(0.0),
                (Some(_), Some((_, p))) => Some((p as f64).min(1.0)),
            })
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

    /// The model's labels, without their `__label__` prefix.
    #[getter]
    fn labels(&self) -> Vec<String> {
        self.labels.clone()
    }

    fn __repr__(&self) -> String {
        let m = &self.model;
        format!(
            "FastText(labels={}, dim={}, loss={:?}, minn={}, maxn={}, word_ngrams={})",
            self.labels.len(),
            m.dim,
            m.loss,
            m.minn,
            m.maxn,
            m.word_ngrams
        )
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<FastText>()
}
