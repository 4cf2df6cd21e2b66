//! Shared plumbing between Python (pyarrow, via the Arrow C data interface: zero-copy) and the
//! pure kernels. Kernels are written over `&str`/`&[u8]` slices; these helpers map them over
//! Arrow arrays with the GIL released.

use arrow::array::{
    Array, ArrayData, ArrayRef, BinaryArray, LargeBinaryArray, LargeStringArray, StringArray,
};
use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

use arrow::pyarrow::PyArrowType;
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;

pyo3::create_exception!(
    _native,
    KernelPanic,
    PyRuntimeError,
    "A Rust kernel panicked on a batch (a bug, never a PyO3 PanicException): the caller retries \
     the batch row by row and counts the rows that panic alone as failed."
);

/// The message of a caught panic.
pub fn panic_message(payload: Box<dyn Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// Run one row's computation; a panic becomes `Err(message)`, so that one bad row cannot fail
/// its batch. For kernels whose rows carry an error (extract_text, image hashes, HTTP parsing).
pub fn guard_row<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(panic_message)
}

/// Run a whole batch with the GIL released; a panic anywhere in it becomes a [`KernelPanic`]
/// (which Python's kernel wrapper answers by retrying the batch row by row), never a
/// `PanicException`. Every kernel entry point runs its batch through this (or
/// `threads::detach`, which adds the kernel pool).
pub fn detach_guarded<R: Send>(py: Python<'_>, f: impl FnOnce() -> R + Send) -> PyResult<R> {
    py.detach(|| catch_unwind(AssertUnwindSafe(f)))
        .map_err(|payload| KernelPanic::new_err(panic_message(payload)))
}

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
    let out: StringArray = detach_guarded(py, || {
        (0..col.len())
            .map(|i| col.get(i).and_then(&f))
            .collect::<StringArray>()
    })?;
    Ok(to_py(std::sync::Arc::new(out)))
}

/// Register what the binding layer itself exports (the `KernelPanic` exception).
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("KernelPanic", m.py().get_type::<KernelPanic>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicking_row_is_an_error_with_its_message() {
        let rows: Vec<Result<usize, String>> = (0..4usize)
            .map(|i| {
                guard_row(|| {
                    if i == 2 {
                        panic!("row {i} is hostile");
                    }
                    i * 10
                })
            })
            .collect();
        assert_eq!(
            rows,
            vec![Ok(0), Ok(10), Err("row 2 is hostile".into()), Ok(30)]
        );
        assert_eq!(guard_row(|| -> u8 { panic!("static") }), Err("static".into()));
    }

    #[test]
    fn a_panic_in_a_batch_is_a_kernel_panic_not_a_panic_exception() {
        use rayon::prelude::*;
        Python::initialize();
        Python::attach(|py| {
            let rows: Vec<u32> = (0..64).collect();
            // A kernel whose 42nd row panics, on a kernel-pool thread.
            let err = crate::threads::detach(py, || {
                rows.par_iter()
                    .map(|&r| if r == 41 { panic!("row {r} is hostile") } else { r })
                    .sum::<u32>()
            })
            .unwrap_err();
            assert!(err.is_instance_of::<KernelPanic>(py), "{err}");
            assert!(err.to_string().contains("row 41 is hostile"), "{err}");
            let err = detach_guarded(py, || -> u8 { panic!("serial") }).unwrap_err();
            assert!(err.is_instance_of::<KernelPanic>(py), "{err}");
            // The pool is still usable afterwards.
            let sum = crate::threads::detach(py, || rows.par_iter().sum::<u32>()).unwrap();
            assert_eq!(sum, 2016);
        });
    }
}
