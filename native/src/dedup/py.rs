//! Python binding: `UnionFind` (a pyclass the caller feeds band by band) and
//! `signature_agreement`. Arguments are checked here so the kernels never index out of range.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, FixedSizeListArray, Float64Array, LargeListArray,
    ListArray, UInt32Array, UInt64Array,
};
use arrow::datatypes::{DataType, Int64Type, UInt32Type, UInt64Type};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

use super::buckets::{agreement, star_candidates, star_union};
use super::hamming::hamming_union;
use super::union_find::UnionFind as Sets;
use crate::arrow_io::{to_py, PyArray};
use crate::threads;

/// A uint32 array (no nulls) whose values are below `n`.
fn ranks_of(arr: PyArray, n: usize) -> PyResult<UInt32Array> {
    let arr = arrow::array::make_array(arr.0);
    let ranks = arr
        .as_primitive_opt::<UInt32Type>()
        .ok_or_else(|| {
            PyTypeError::new_err(format!("ranks must be uint32, got {}", arr.data_type()))
        })?
        .clone();
    if ranks.null_count() > 0 {
        return Err(PyValueError::new_err("ranks must not be null"));
    }
    if ranks.values().iter().any(|&r| r as usize >= n) {
        return Err(PyValueError::new_err(format!("a rank is not below {n}")));
    }
    Ok(ranks)
}

fn u64s(arr: &ArrayRef, what: &str) -> PyResult<UInt64Array> {
    arr.as_primitive_opt::<UInt64Type>()
        .cloned()
        .ok_or_else(|| {
            PyTypeError::new_err(format!("{what} must be uint64, got {}", arr.data_type()))
        })
}

/// `(key, rank)` of the non-null keys of one band given in chunks aligned with `ranks`.
fn band_pairs(keys: Vec<PyArray>, ranks: &UInt32Array) -> PyResult<Vec<(u64, u32)>> {
    let chunks = keys
        .into_iter()
        .map(|k| u64s(&arrow::array::make_array(k.0), "band keys"))
        .collect::<PyResult<Vec<_>>>()?;
    if chunks.iter().map(Array::len).sum::<usize>() != ranks.len() {
        return Err(PyValueError::new_err(
            "band keys and ranks differ in length",
        ));
    }
    let ranks = ranks.values();
    let mut pairs = Vec::with_capacity(ranks.len());
    let mut offset = 0;
    for chunk in &chunks {
        let r = &ranks[offset..offset + chunk.len()];
        match chunk.nulls() {
            None => pairs.extend(chunk.values().iter().copied().zip(r.iter().copied())),
            Some(nulls) => pairs.extend(nulls.valid_indices().map(|i| (chunk.value(i), r[i]))),
        }
        offset += chunk.len();
    }
    Ok(pairs)
}

/// Disjoint sets over ranks `0..n`; every set's root is its smallest rank.
#[pyclass(module = "mdfql._native", name = "UnionFind")]
pub struct UnionFind {
    sets: Sets,
}

impl UnionFind {
    /// Two aligned rank arrays.
    fn pairs_of(&self, a: PyArray, b: PyArray) -> PyResult<(UInt32Array, UInt32Array)> {
        let n = self.sets.len();
        let (a, b) = (ranks_of(a, n)?, ranks_of(b, n)?);
        if a.len() != b.len() {
            return Err(PyValueError::new_err("pair arrays differ in length"));
        }
        Ok((a, b))
    }
}

#[pymethods]
impl UnionFind {
    #[new]
    fn new(n: u64) -> PyResult<Self> {
        let n = u32::try_from(n)
            .map_err(|_| PyValueError::new_err("UnionFind holds at most 2^32 - 1 ranks"))?;
        Ok(UnionFind { sets: Sets::new(n) })
    }

    fn __len__(&self) -> usize {
        self.sets.len()
    }

    /// Unions each LSH bucket of one band with its smallest rank. `keys`: uint64 chunks (null =
    /// no bucket) whose concatenation is aligned with `ranks`. Returns how many sets merged.
    fn union_buckets(
        &mut self,
        py: Python<'_>,
        keys: Vec<PyArray>,
        ranks: PyArray,
    ) -> PyResult<usize> {
        let ranks = ranks_of(ranks, self.sets.len())?;
        let sets = &mut self.sets;
        threads::detach(py, || {
            let mut pairs = band_pairs(keys, &ranks)?;
            Ok(star_union(&mut pairs, sets))
        })?
    }

    /// The star edges `(member, root)` of one band (as `union_buckets`) whose ends are not
    /// connected yet, as two uint32 arrays.
    fn bucket_candidates(
        &mut self,
        py: Python<'_>,
        keys: Vec<PyArray>,
        ranks: PyArray,
    ) -> PyResult<(PyArray, PyArray)> {
        let ranks = ranks_of(ranks, self.sets.len())?;
        let sets = &mut self.sets;
        let edges = threads::detach(py, || {
            let mut pairs = band_pairs(keys, &ranks)?;
            PyResult::Ok(star_candidates(&mut pairs, sets))
        })??;
        let (a, b): (Vec<u32>, Vec<u32>) = edges.into_iter().unzip();
        Ok((
            to_py(Arc::new(UInt32Array::from(a))),
            to_py(Arc::new(UInt32Array::from(b))),
        ))
    }

    /// Per pair: whether `a[i]` and `b[i]` (uint32 arrays) are in one set already.
    fn connected(&mut self, py: Python<'_>, a: PyArray, b: PyArray) -> PyResult<PyArray> {
        let (a, b) = self.pairs_of(a, b)?;
        let sets = &mut self.sets;
        let out: BooleanArray = crate::arrow_io::detach_guarded(py, || {
            a.values()
                .iter()
                .zip(b.values())
                .map(|(&x, &y)| Some(sets.find(x) == sets.find(y)))
                .collect()
        })?;
        Ok(to_py(Arc::new(out)))
    }

    /// Unions `a[i]` with `b[i]` (uint32 arrays); returns how many sets merged.
    fn union_pairs(&mut self, py: Python<'_>, a: PyArray, b: PyArray) -> PyResult<usize> {
        let (a, b) = self.pairs_of(a, b)?;
        let sets = &mut self.sets;
        threads::detach(py, || {
            a.values()
                .iter()
                .zip(b.values())
                .map(|(&x, &y)| usize::from(sets.union(x, y)))
                .sum()
        })
    }

    /// Unions the hashes (uint64, no nulls) within `max_distance` bits found by multi-index
    /// hashing, row `i` being rank `ranks[i]`; returns how many sets merged.
    fn union_hamming(
        &mut self,
        py: Python<'_>,
        hashes: PyArray,
        ranks: PyArray,
        max_distance: u32,
        fanout: usize,
    ) -> PyResult<usize> {
        if max_distance >= 64 || fanout == 0 {
            return Err(PyValueError::new_err(
                "max_distance must lie in [0, 63] and fanout be positive",
            ));
        }
        let ranks = ranks_of(ranks, self.sets.len())?;
        let hashes = u64s(&arrow::array::make_array(hashes.0), "hashes")?;
        if hashes.null_count() > 0 || hashes.len() != ranks.len() {
            return Err(PyValueError::new_err(
                "hashes must be non-null and aligned with ranks",
            ));
        }
        let sets = &mut self.sets;
        threads::detach(py, || {
            hamming_union(hashes.values(), ranks.values(), max_distance, fanout, sets)
        })
    }

    /// The root (smallest rank of its set) of every rank, as uint32.
    fn roots(&mut self, py: Python<'_>) -> PyResult<PyArray> {
        let sets = &mut self.sets;
        let roots = threads::detach(py, || sets.roots())?;
        Ok(to_py(Arc::new(UInt32Array::from(roots))))
    }
}

/// Per row `(start, end)` into a list array's flat values (None: a null row).
type ListRows = Vec<Option<(usize, usize)>>;

/// Per row `(start, end)` into the flat values (None = null) of a list array of any integer
/// type, the values as u64 (signed ones reinterpreted: equality is all that is asked of them).
fn int_lists(arr: &ArrayRef) -> PyResult<(ListRows, Vec<u64>)> {
    let rows = |n: usize, o: &dyn Fn(usize) -> (usize, usize)| -> ListRows {
        (0..n).map(|i| (!arr.is_null(i)).then(|| o(i))).collect()
    };
    let (ranges, values) = if let Some(l) = arr.as_any().downcast_ref::<ListArray>() {
        let o = l.value_offsets();
        (
            rows(l.len(), &|i| (o[i] as usize, o[i + 1] as usize)),
            l.values().clone(),
        )
    } else if let Some(l) = arr.as_any().downcast_ref::<LargeListArray>() {
        let o = l.value_offsets();
        (
            rows(l.len(), &|i| (o[i] as usize, o[i + 1] as usize)),
            l.values().clone(),
        )
    } else if let Some(l) = arr.as_any().downcast_ref::<FixedSizeListArray>() {
        let n = l.value_length() as usize;
        (rows(l.len(), &|i| (i * n, (i + 1) * n)), l.values().clone())
    } else {
        return Err(PyTypeError::new_err(format!(
            "expected a list of integers, got {}",
            arr.data_type()
        )));
    };
    let cast_err =
        |e: arrow::error::ArrowError| PyTypeError::new_err(format!("signature values: {e}"));
    let flat: Vec<u64> = match values.data_type() {
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => {
            let v = arrow::compute::cast(&values, &DataType::UInt64).map_err(cast_err)?;
            v.as_primitive::<UInt64Type>().values().to_vec()
        }
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => {
            let v = arrow::compute::cast(&values, &DataType::Int64).map_err(cast_err)?;
            v.as_primitive::<Int64Type>()
                .values()
                .iter()
                .map(|&x| x as u64)
                .collect()
        }
        other => {
            return Err(PyTypeError::new_err(format!(
                "signature values must be integers, got {other}"
            )))
        }
    };
    Ok((ranges, flat))
}

/// Share of equal positions of signatures `a[i]` and `b[i]` (lists of any integer type), as
/// float64; null where either is null.
#[pyfunction]
fn signature_agreement(py: Python<'_>, a: PyArray, b: PyArray) -> PyResult<PyArray> {
    let (a, b) = (arrow::array::make_array(a.0), arrow::array::make_array(b.0));
    if a.len() != b.len() {
        return Err(PyValueError::new_err(
            "signature_agreement needs arrays of equal length",
        ));
    }
    let ((ra, va), (rb, vb)) = (int_lists(&a)?, int_lists(&b)?);
    let out: Float64Array = threads::detach(py, || {
        ra.iter()
            .zip(&rb)
            .map(|(x, y)| {
                let ((sa, ea), (sb, eb)) = ((*x)?, (*y)?);
                Some(agreement(&va[sa..ea], &vb[sb..eb]))
            })
            .collect()
    })?;
    Ok(to_py(Arc::new(out)))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<UnionFind>()?;
    m.add_function(wrap_pyfunction!(signature_agreement, m)?)?;
    Ok(())
}
