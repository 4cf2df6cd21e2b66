//! Shared plumbing between Python (pyarrow, via the Arrow C data interface: zero-copy) and the
//! pure kernels. Kernels are written over `&str`/`&[u8]` slices; these helpers map them over
//! Arrow arrays with the GIL released.

use arrow::array::{
    Array, ArrayData, ArrayRef, BinaryArray, LargeBinaryArray, LargeStringArray, StringArray,
};
use arrow::pyarrow::PyArrowType;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

/// Any string-like Arrow array (utf8 or large_utf8) viewed as `Option<&str>` per row.
pub enum StrColumn {
    Small(StringArray),
    Large(LargeStringArray),
}

impl StrColumn {
    pub fn from_data(data: ArrayData) -> PyResult<Self> {
        let arr: ArrayRef = arrow::array::make_array(data);
        if let Some(a) = arr.as_any().downcast_ref::<StringArray>() {
            return Ok(StrColumn::Small(a.clone()));
        }
        if let Some(a) = arr.as_any().downcast_ref::<LargeStringArray>() {
            return Ok(StrColumn::Large(a.clone()));
        }
        Err(PyTypeError::new_err(format!(
            "expected a string array, got {}",
            arr.data_type()
        )))
    }

    pub fn len(&self) -> usize {
        match self {
            StrColumn::Small(a) => a.len(),
            StrColumn::Large(a) => a.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, i: usize) -> Option<&str> {
        match self {
            StrColumn::Small(a) => (!a.is_null(i)).then(|| a.value(i)),
            StrColumn::Large(a) => (!a.is_null(i)).then(|| a.value(i)),
        }
    }
}

/// Any binary-like Arrow array (binary, large_binary, or strings read as bytes).
pub enum BytesColumn {
    Small(BinaryArray),
    Large(LargeBinaryArray),
    Str(StrColumn),
}

impl BytesColumn {
    pub fn from_data(data: ArrayData) -> PyResult<Self> {
        let arr: ArrayRef = arrow::array::make_array(data.clone());
        if let Some(a) = arr.as_any().downcast_ref::<BinaryArray>() {
            return Ok(BytesColumn::Small(a.clone()));
        }
        if let Some(a) = arr.as_any().downcast_ref::<LargeBinaryArray>() {
            return Ok(BytesColumn::Large(a.clone()));
        }
        Ok(BytesColumn::Str(StrColumn::from_data(data)?))
    }

    pub fn len(&self) -> usize {
        match self {
            BytesColumn::Small(a) => a.len(),
            BytesColumn::Large(a) => a.len(),
            BytesColumn::Str(s) => s.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, i: usize) -> Option<&[u8]> {
        match self {
            BytesColumn::Small(a) => (!a.is_null(i)).then(|| a.value(i)),
            BytesColumn::Large(a) => (!a.is_null(i)).then(|| a.value(i)),
            BytesColumn::Str(s) => s.get(i).map(str::as_bytes),
        }
    }
}

/// Input type of every kernel entry point: a pyarrow array, imported zero-copy.
pub type PyArray = PyArrowType<ArrayData>;

/// Wrap a finished Arrow array for return to Python (zero-copy export).
pub fn to_py(arr: ArrayRef) -> PyArray {
    PyArrowType(arr.to_data())
}

/// Map a string column to a string column, row by row, with the GIL released.
/// Nulls stay null; `f` returning `None` yields null.
pub fn map_str_to_str<F>(py: Python<'_>, input: PyArray, f: F) -> PyResult<PyArray>
where
    F: Fn(&str) -> Option<String> + Send + Sync,
{
    let col = StrColumn::from_data(input.0)?;
    let out: StringArray = py.detach(|| {
        (0..col.len())
            .map(|i| col.get(i).and_then(&f))
            .collect::<StringArray>()
    });
    Ok(to_py(std::sync::Arc::new(out)))
}
