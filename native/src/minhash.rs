//! MinHash signatures over word n-grams, and their LSH band keys (FineWeb: 5-grams, 112 hashes,
//! 14 bands x 8 rows, seed 1).
//!
//! `minhash(text, num_hashes, ngram, seed)`:
//! 1. the text is normalised with `normalize_for_dedup` (lowercase, accents and punctuation
//!    removed, whitespace collapsed) and split on its single spaces into words;
//! 2. shingles are the contiguous word `ngram`-grams (the normalised bytes `w_i .. w_{i+n-1}`,
//!    single-space separated); a document with fewer than `ngram` words is one shingle, itself;
//! 3. each shingle is hashed once: `h = xxh3_64_with_seed(shingle, seed)`;
//! 4. permutation `i` maps `h` to `(a_i * h + b_i) mod 2^64` with `a_i` odd, and the signature keeps
//!    the minimum per permutation (as an unsigned 64-bit integer), so values span all of u64.
//!
//! The permutation family: multiplication by an odd `a_i` is a bijection of the 64-bit integers, so
//! distinct shingle hashes never tie, two signatures agree at `i` exactly when the same shingle
//! is the minimum of both sets, and since xxh3 makes the shingle hashes uniform, that shingle is
//! uniform over the union: P[equal] = Jaccard for every permutation. The high bits, which decide
//! the minimum, depend on every bit of `h`, and independent `(a_i, b_i)` order the shingles
//! independently. Unlike a prime modulus this is plain wrapping arithmetic: identical on every
//! platform, and vectorisable: the kernel's inner loop runs over the permutations (8 per AVX-512
//! or 4 per AVX2 register; both variants are compiled in and picked at run time on x86-64), and
//! the unsigned minimum is taken as a signed one by storing `b_i + 2^63` (adding `2^63` flips the
//! top bit, which turns unsigned into signed order) and flipping the result back.
//!
//! Coefficients: a SplitMix64 stream started at state `seed` yields, in order, `a_0, b_0, a_1,
//! b_1, ...` with `a_i = x | 1` and `b_i = y`, so the first `k` permutations of any `num_hashes`
//! are the same. Like datasketch (which draws from numpy's `RandomState(seed)`), a seed fixes the
//! permutations, but the streams and the family differ, so signatures are comparable only with
//! signatures of the same seed.
//!
//! Text that is null, empty, or has no word left after normalisation gets a NULL signature:
//! such documents share no content, so they must not collide in LSH buckets.
//!
//! `shingle_jaccard(a, b, ngram)`: the exact Jaccard similarity of the shingle sets of two texts
//! (steps 1-3, hashes as set members), to check LSH candidate pairs.
//!
//! `minhash_bands(sig, bands, rows)`: band `j` is `xxh3_64_with_seed(le_bytes(sig[j*rows ..
//! (j+1)*rows]), j)`; the band index as seed keeps equal value runs in different bands apart.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, FixedSizeListArray, Float64Array, LargeListArray, ListArray, UInt64Array,
    UInt64Builder,
};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{DataType, Field};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use rayon::prelude::*;
use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::arrow_io::{to_py, PyArray, StrColumn};
use crate::normalize::normalize_into;
use crate::threads;

/// Adding it flips the top bit: unsigned order of `x` is signed order of `x + SIGN`.
const SIGN: u64 = 1 << 63;

/// `num_hashes` permutations `(a_i, b_i)` drawn from SplitMix64 seeded with `seed`; `b` holds
/// `b_i + 2^63` (see the module docs).
#[derive(Clone, Debug)]
pub struct Permutations {
    a: Vec<u64>,
    b: Vec<u64>,
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Permutations {
    pub fn new(num_hashes: usize, seed: u64) -> Self {
        let mut state = seed;
        let (mut a, mut b) = (
            Vec::with_capacity(num_hashes),
            Vec::with_capacity(num_hashes),
        );
        for _ in 0..num_hashes {
            a.push(splitmix64(&mut state) | 1);
            b.push(splitmix64(&mut state).wrapping_add(SIGN));
        }
        Permutations { a, b }
    }
}

/// Per-permutation minima of `(a_i * h + b_i) mod 2^64` over `hashes`, written to `out`
/// (`perms.len()` values). Plain scalar code whose inner loop runs over the permutations (four
/// hashes at a time, so each running minimum is loaded and stored once per four), which LLVM
/// vectorises for whatever target features the caller is compiled with.
#[inline(always)]
fn min_permuted(perms: &Permutations, hashes: &[u64], out: &mut [u64]) {
    let n = out.len();
    let (a, b) = (&perms.a[..n], &perms.b[..n]);
    let permuted = |a: u64, b: u64, h: u64| a.wrapping_mul(h).wrapping_add(b) as i64;
    out.fill(i64::MAX as u64);
    let mut quads = hashes.chunks_exact(4);
    for q in &mut quads {
        let (h0, h1, h2, h3) = (q[0], q[1], q[2], q[3]);
        for ((o, &a), &b) in out.iter_mut().zip(a).zip(b) {
            let m01 = permuted(a, b, h0).min(permuted(a, b, h1));
            let m23 = permuted(a, b, h2).min(permuted(a, b, h3));
            *o = (*o as i64).min(m01.min(m23)) as u64;
        }
    }
    for &h in quads.remainder() {
        for ((o, &a), &b) in out.iter_mut().zip(a).zip(b) {
            *o = (*o as i64).min(permuted(a, b, h)) as u64;
        }
    }
    for o in out.iter_mut() {
        *o = o.wrapping_sub(SIGN);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq")]
unsafe fn min_permuted_avx512(perms: &Permutations, hashes: &[u64], out: &mut [u64]) {
    min_permuted(perms, hashes, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn min_permuted_avx2(perms: &Permutations, hashes: &[u64], out: &mut [u64]) {
    min_permuted(perms, hashes, out)
}

type PermuteFn = fn(&Permutations, &[u64], &mut [u64]);

/// The fastest `min_permuted` this CPU runs (all give the same values).
fn permute_fn() -> PermuteFn {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512dq") {
            // SAFETY: the CPU has the features the function is compiled for
            return |p, h, o| unsafe { min_permuted_avx512(p, h, o) };
        }
        if is_x86_feature_detected!("avx2") {
            // SAFETY: as above
            return |p, h, o| unsafe { min_permuted_avx2(p, h, o) };
        }
    }
    |p, h, o| min_permuted(p, h, o)
}

/// Buffers one worker reuses from document to document.
#[derive(Default)]
pub struct Scratch {
    normalized: Vec<u8>,
    word_starts: Vec<usize>,
    hashes: Vec<u64>,
}

/// xxh3 hashes of the shingles of a normalised text (words separated by single spaces) into
/// `hashes`; `word_starts` is scratch.
fn shingle_hashes(
    normalized: &[u8],
    ngram: usize,
    seed: u64,
    word_starts: &mut Vec<usize>,
    hashes: &mut Vec<u64>,
) {
    hashes.clear();
    // word i spans word_starts[i] .. word_starts[i + 1] - 1 (the last start is one past the end);
    // every position is written and only those after a space are kept (no branch per byte)
    word_starts.clear();
    word_starts.resize(normalized.len() + 2, 0);
    let mut words = 1;
    for (i, &b) in normalized.iter().enumerate() {
        word_starts[words] = i + 1;
        words += usize::from(b == b' ');
    }
    word_starts[words] = normalized.len() + 1;
    word_starts.truncate(words + 1);
    if words < ngram {
        hashes.push(xxh3_64_with_seed(normalized, seed));
        return;
    }
    hashes.extend(
        word_starts
            .windows(ngram + 1)
            .map(|w| xxh3_64_with_seed(&normalized[w[0]..w[ngram] - 1], seed)),
    );
}

/// Signature of one text into `out` (`num_hashes` values); false when no word survives
/// normalisation (`out` is then left as it was).
fn signature_into(
    text: &str,
    ngram: usize,
    seed: u64,
    perms: &Permutations,
    permute: PermuteFn,
    scratch: &mut Scratch,
    out: &mut [u64],
) -> bool {
    normalize_into(text, &mut scratch.normalized);
    if scratch.normalized.is_empty() {
        return false;
    }
    shingle_hashes(
        &scratch.normalized,
        ngram,
        seed,
        &mut scratch.word_starts,
        &mut scratch.hashes,
    );
    // repeated shingles cannot change a minimum, and deduplicating costs about what it saves
    permute(perms, &scratch.hashes, out);
    true
}

/// Sorted distinct shingle hashes of one text (seed 0); empty when no word survives.
fn shingle_set(text: &str, ngram: usize, scratch: &mut Scratch) -> Vec<u64> {
    normalize_into(text, &mut scratch.normalized);
    if scratch.normalized.is_empty() {
        return Vec::new();
    }
    shingle_hashes(&scratch.normalized, ngram, 0, &mut scratch.word_starts, &mut scratch.hashes);
    let mut set = scratch.hashes.clone();
    set.sort_unstable();
    set.dedup();
    set
}

/// Exact Jaccard similarity of the shingle sets of two texts; None when either has no word.
pub fn jaccard(a: &str, b: &str, ngram: usize, scratch: &mut Scratch) -> Option<f64> {
    let (sa, sb) = (shingle_set(a, ngram, scratch), shingle_set(b, ngram, scratch));
    if sa.is_empty() || sb.is_empty() {
        return None;
    }
    let (mut i, mut j, mut common) = (0, 0, 0usize);
    while i < sa.len() && j < sb.len() {
        match sa[i].cmp(&sb[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
        }
    }
    Some(common as f64 / (sa.len() + sb.len() - common) as f64)
}

/// LSH band keys of one signature (see the module docs).
pub fn band_keys(sig: &[u64], bands: usize, rows: usize) -> Vec<u64> {
    let mut bytes = Vec::with_capacity(rows * 8);
    (0..bands)
        .map(|j| {
            bytes.clear();
            for v in &sig[j * rows..(j + 1) * rows] {
                bytes.extend_from_slice(&v.to_le_bytes());
            }
            xxh3_64_with_seed(&bytes, j as u64)
        })
        .collect()
}

/// LSH band keys of one list row exactly as Daft computes `hash(slice(sig, j * rows, (j + 1) *
/// rows), seed := j)` for band `j`, written to `out` (`bands` values). Daft's seeded list hash:
/// each element's little-endian bytes hashed with xxh3 and the seed (a null element: xxh3 of
/// no bytes, unseeded), then those hashes, as little-endian bytes, hashed with the seed. So an
/// index written with Daft's expressions (`lsh_bands`) and keys from here agree. `elem(i)` is
/// element `i` of the row's `len` (None: null). False, `out` untouched, when the row is not
/// usable: fewer than `bands * rows` elements, or no two non-null elements differ (the
/// degenerate signature of an empty shingle set, equal in every such document).
pub fn daft_band_keys<'a>(
    len: usize,
    elem: impl Fn(usize) -> Option<&'a [u8]>,
    bands: usize,
    rows: usize,
    scratch: &mut Vec<u8>,
    out: &mut [u64],
) -> bool {
    if len < bands * rows {
        return false;
    }
    let first = (0..len).find_map(&elem);
    let varied = first.is_some_and(|f| (0..len).any(|i| elem(i).is_some_and(|e| e != f)));
    if !varied {
        return false;
    }
    let null_hash = xxhash_rust::xxh3::xxh3_64(b"");
    for (j, key) in out.iter_mut().enumerate().take(bands) {
        scratch.clear();
        for i in j * rows..(j + 1) * rows {
            let h = elem(i).map_or(null_hash, |e| xxh3_64_with_seed(e, j as u64));
            scratch.extend_from_slice(&h.to_le_bytes());
        }
        *key = xxh3_64_with_seed(scratch, j as u64);
    }
    true
}

/// Rows of `Option<Vec<u64>>` as an Arrow large_list<uint64> (None -> null).
fn to_large_list(rows: &[Option<Vec<u64>>]) -> LargeListArray {
    let mut values = UInt64Builder::with_capacity(rows.iter().flatten().map(Vec::len).sum());
    let mut lengths = Vec::with_capacity(rows.len());
    for row in rows {
        let row = row.as_deref().unwrap_or(&[]);
        values.append_slice(row);
        lengths.push(row.len());
    }
    let nulls = rows.iter().map(Option::is_some).collect::<Vec<bool>>();
    LargeListArray::new(
        Arc::new(Field::new_list_field(DataType::UInt64, true)),
        OffsetBuffer::from_lengths(lengths),
        Arc::new(values.finish()),
        Some(nulls.into()),
    )
}

/// Per row, the `start..end` of its values in the flat values array; `None` for a null row.
type RowRanges = Vec<Option<(usize, usize)>>;

/// Per-row value ranges and the flat values of a list / large_list / fixed_size_list array (an
/// all-null array of another type, e.g. an omitted argument, has only null rows).
fn list_ranges(arr: &ArrayRef) -> PyResult<(RowRanges, ArrayRef)> {
    fn ranges<O: arrow::array::OffsetSizeTrait>(
        l: &arrow::array::GenericListArray<O>,
    ) -> RowRanges {
        let o = l.value_offsets();
        (0..l.len())
            .map(|i| (!l.is_null(i)).then(|| (o[i].as_usize(), o[i + 1].as_usize())))
            .collect()
    }
    if let Some(l) = arr.as_any().downcast_ref::<LargeListArray>() {
        Ok((ranges(l), l.values().clone()))
    } else if let Some(l) = arr.as_any().downcast_ref::<ListArray>() {
        Ok((ranges(l), l.values().clone()))
    } else if let Some(l) = arr.as_any().downcast_ref::<FixedSizeListArray>() {
        let n = l.value_length() as usize;
        let r = (0..l.len())
            .map(|i| (!l.is_null(i)).then(|| (i * n, (i + 1) * n)))
            .collect();
        Ok((r, l.values().clone()))
    } else if arr.null_count() == arr.len() {
        Ok((
            vec![None; arr.len()],
            Arc::new(UInt64Array::from(Vec::<u64>::new())),
        ))
    } else {
        Err(PyTypeError::new_err(format!(
            "expected a list<uint64> signature array, got {}",
            arr.data_type()
        )))
    }
}

/// Per-row u64 slices of a list<uint64> / large_list<uint64> / fixed_size_list<uint64> array.
fn u64_lists(arr: &ArrayRef) -> PyResult<(RowRanges, UInt64Array)> {
    let (ranges, values) = list_ranges(arr)?;
    let values = arrow::compute::cast(&values, &DataType::UInt64)
        .map_err(|e| PyTypeError::new_err(format!("signature values: {e}")))?;
    let values = values
        .as_any()
        .downcast_ref::<UInt64Array>()
        .unwrap()
        .clone();
    Ok((ranges, values))
}

/// MinHash signature per text: large_list<uint64> of `num_hashes` values; null for null, empty
/// or punctuation-only text. Rows are hashed in parallel (rayon) with the GIL released.
#[pyfunction]
#[pyo3(signature = (texts, num_hashes=112, ngram=5, seed=1))]
fn minhash(
    py: Python<'_>,
    texts: PyArray,
    num_hashes: usize,
    ngram: usize,
    seed: u64,
) -> PyResult<PyArray> {
    if num_hashes == 0 || ngram == 0 {
        return Err(PyValueError::new_err(
            "num_hashes and ngram must be positive",
        ));
    }
    let col = StrColumn::from_data(texts.0)?;
    let out = threads::detach(py, || {
        let perms = Permutations::new(num_hashes, seed);
        let permute = permute_fn();
        // rows are written in place into one flat buffer, then null rows are squeezed out
        let mut values = vec![0u64; col.len() * num_hashes];
        let mut valid = vec![false; col.len()];
        values
            .par_chunks_mut(num_hashes)
            .zip(valid.par_iter_mut())
            .enumerate()
            .with_min_len(16)
            .for_each_init(Scratch::default, |scratch, (i, (out, valid))| {
                *valid = col
                    .get(i)
                    .is_some_and(|t| signature_into(t, ngram, seed, &perms, permute, scratch, out));
            });
        let mut kept = 0;
        for (i, &v) in valid.iter().enumerate() {
            if v {
                if kept < i {
                    values.copy_within(i * num_hashes..(i + 1) * num_hashes, kept * num_hashes);
                }
                kept += 1;
            }
        }
        values.truncate(kept * num_hashes);
        let lengths = valid.iter().map(|&v| if v { num_hashes } else { 0 });
        LargeListArray::new(
            Arc::new(Field::new_list_field(DataType::UInt64, true)),
            OffsetBuffer::from_lengths(lengths),
            Arc::new(UInt64Array::from(values)),
            Some(valid.into()),
        )
    })?;
    Ok(to_py(Arc::new(out)))
}

/// The signatures array of a band-key binding, once `bands` and `rows` are known to be positive.
fn band_input(signatures: PyArray, bands: usize, rows: usize) -> PyResult<ArrayRef> {
    if bands == 0 || rows == 0 {
        return Err(PyValueError::new_err("bands and rows must be positive"));
    }
    Ok(arrow::array::make_array(signatures.0))
}

/// LSH band keys per signature: large_list<uint64> of `bands` values; null for null signatures.
#[pyfunction]
#[pyo3(signature = (signatures, bands=14, rows=8))]
fn minhash_bands(
    py: Python<'_>,
    signatures: PyArray,
    bands: usize,
    rows: usize,
) -> PyResult<PyArray> {
    let arr = band_input(signatures, bands, rows)?;
    let (ranges, values) = u64_lists(&arr)?;
    if let Some((s, e)) = ranges.iter().flatten().find(|(s, e)| e - s < bands * rows) {
        return Err(PyValueError::new_err(format!(
            "a signature of {} values is too short for {bands} bands x {rows} rows",
            e - s
        )));
    }
    let out = threads::detach(py, || {
        let vals = values.values();
        let keys: Vec<Option<Vec<u64>>> = ranges
            .par_iter()
            .map(|r| r.map(|(s, e)| band_keys(&vals[s..e], bands, rows)))
            .collect();
        to_large_list(&keys)
    })?;
    Ok(to_py(Arc::new(out)))
}

/// `daft_band_keys` per row of a list array of integers: a struct of `bands` uint64 fields
/// `b0`, `b1`, ... (each NULL where the row is NULL or not usable), rows in parallel with the
/// GIL released.
#[pyfunction]
#[pyo3(signature = (signatures, bands, rows))]
fn lsh_band_keys(
    py: Python<'_>,
    signatures: PyArray,
    bands: usize,
    rows: usize,
) -> PyResult<PyArray> {
    let arr = band_input(signatures, bands, rows)?;
    let (ranges, values) = list_ranges(&arr)?;
    let data = values.to_data();
    if !data.data_type().is_integer() {
        return Err(PyTypeError::new_err(format!(
            "signature values must be integers, got {}",
            data.data_type()
        )));
    }
    let width = data.data_type().primitive_width().unwrap_or(8);
    let out = threads::detach(py, || {
        let raw = &data.buffers()[0].as_slice()[data.offset() * width..];
        let nulls = data.nulls();
        let mut keys = vec![0u64; ranges.len() * bands];
        let mut valid = vec![false; ranges.len()];
        keys.par_chunks_mut(bands)
            .zip(valid.par_iter_mut())
            .zip(ranges.par_iter())
            .with_min_len(16)
            .for_each_init(Vec::new, |scratch, ((out, valid), range)| {
                if let Some((s, e)) = *range {
                    let elem = |i: usize| {
                        let at = s + i;
                        nulls
                            .is_none_or(|n| n.is_valid(at))
                            .then(|| &raw[at * width..(at + 1) * width])
                    };
                    *valid = daft_band_keys(e - s, elem, bands, rows, scratch, out);
                }
            });
        let validity = arrow::buffer::NullBuffer::from(valid);
        let fields: Vec<(Arc<Field>, ArrayRef)> = (0..bands)
            .map(|j| {
                let column: UInt64Array = (0..ranges.len())
                    .map(|r| validity.is_valid(r).then(|| keys[r * bands + j]))
                    .collect();
                (
                    Arc::new(Field::new(format!("b{j}"), DataType::UInt64, true)),
                    Arc::new(column) as ArrayRef,
                )
            })
            .collect();
        arrow::array::StructArray::from(fields)
    })?;
    Ok(to_py(Arc::new(out)))
}

/// Exact Jaccard similarity of the word `ngram`-gram shingle sets of `a[i]` and `b[i]`, as
/// float64; null where either text is null or has no word after normalisation.
#[pyfunction]
#[pyo3(signature = (a, b, ngram=5))]
fn shingle_jaccard(py: Python<'_>, a: PyArray, b: PyArray, ngram: usize) -> PyResult<PyArray> {
    if ngram == 0 {
        return Err(PyValueError::new_err("ngram must be positive"));
    }
    let (a, b) = (StrColumn::from_data(a.0)?, StrColumn::from_data(b.0)?);
    if a.len() != b.len() {
        return Err(PyValueError::new_err("shingle_jaccard needs columns of equal length"));
    }
    let out: Float64Array = threads::detach(py, || {
        (0..a.len())
            .into_par_iter()
            .with_min_len(16)
            .map_init(Scratch::default, |scratch, i| match (a.get(i), b.get(i)) {
                (Some(x), Some(y)) => jaccard(x, y, ngram, scratch),
                _ => None,
            })
            .collect::<Vec<_>>()
            .into()
    })?;
    Ok(to_py(Arc::new(out)))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(minhash, m)?)?;
    m.add_function(wrap_pyfunction!(shingle_jaccard, m)?)?;
    m.add_function(wrap_pyfunction!(minhash_bands, m)?)?;
    m.add_function(wrap_pyfunction!(lsh_band_keys, m)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn exact_jaccard_of_shingle_sets() {
        let mut scratch = Scratch::default();
        // 5-grams of a..f: {abcde, bcdef}; of a..e + "x": {abcde}; case and punctuation ignored
        let j = jaccard("a b c d e f", "A, b c d e!", 5, &mut scratch).unwrap();
        assert!((j - 0.5).abs() < 1e-12);
        assert_eq!(jaccard("a b c d e f", "a b c d e f", 5, &mut scratch), Some(1.0));
        assert_eq!(jaccard("a b c d e f", "u v w x y z", 5, &mut scratch), Some(0.0));
        // repeated shingles count once; short texts are one shingle
        assert_eq!(jaccard("a b a b a b", "a b a b a b a b", 2, &mut scratch), Some(1.0));
        assert_eq!(jaccard("hi there", "hi there", 5, &mut scratch), Some(1.0));
        assert_eq!(jaccard("...", "a b", 5, &mut scratch), None);
    }

    const GOLDEN: [u64; 3] = [4319399982304943205, 3176758623897118542, 227082592646722702];

    fn sig_with(text: &str, perms: &Permutations, permute: PermuteFn) -> Option<Vec<u64>> {
        let mut out = vec![0; perms.a.len()];
        signature_into(
            text,
            5,
            1,
            perms,
            permute,
            &mut Scratch::default(),
            &mut out,
        )
        .then_some(out)
    }

    fn sig(text: &str) -> Option<Vec<u64>> {
        sig_with(text, &Permutations::new(112, 1), permute_fn())
    }

    fn estimate(a: &[u64], b: &[u64]) -> f64 {
        a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / a.len() as f64
    }

    #[test]
    fn every_kernel_takes_the_unsigned_minimum() {
        let mut state = 42;
        let mut hashes = vec![0, 1, u64::MAX, SIGN, SIGN - 1];
        hashes.extend((0..300).map(|_| splitmix64(&mut state)));
        let perms = Permutations::new(37, 9);
        assert!(perms.a.iter().all(|a| a % 2 == 1));
        let mut kernels: Vec<PermuteFn> = vec![|p, h, o| min_permuted(p, h, o), permute_fn()];
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx2") {
            kernels.push(|p, h, o| unsafe { min_permuted_avx2(p, h, o) });
        }
        for n in [1, 2, 5, hashes.len()] {
            let want: Vec<u64> = (0..37)
                .map(|i| {
                    let (a, b) = (perms.a[i], perms.b[i].wrapping_sub(SIGN));
                    let permuted = hashes[..n]
                        .iter()
                        .map(|&h| a.wrapping_mul(h).wrapping_add(b));
                    permuted.min().unwrap()
                })
                .collect();
            for permute in &kernels {
                let mut out = vec![0; 37];
                permute(&perms, &hashes[..n], &mut out);
                assert_eq!(out, want);
            }
        }
    }

    #[test]
    fn collision_rate_is_jaccard() {
        // two sets of 200 random hashes sharing 100: J = 1/3; 50 seeds x 112 permutations
        let mut state = 7;
        let hashes: Vec<u64> = (0..300).map(|_| splitmix64(&mut state)).collect();
        let (mut agree, mut total) = (0, 0);
        for seed in 0..50 {
            let perms = Permutations::new(112, seed);
            let (mut x, mut y) = (vec![0; 112], vec![0; 112]);
            permute_fn()(&perms, &hashes[..200], &mut x);
            permute_fn()(&perms, &hashes[100..], &mut y);
            agree += x.iter().zip(&y).filter(|(p, q)| p == q).count();
            total += 112;
        }
        let rate = agree as f64 / total as f64;
        assert!((rate - 1.0 / 3.0).abs() < 0.025, "collision rate {rate}");
    }

    #[test]
    fn shingles_are_word_ngrams() {
        let (mut starts, mut hashes) = (Vec::new(), Vec::new());
        shingle_hashes(b"a bb ccc dd e", 3, 7, &mut starts, &mut hashes);
        let want: Vec<u64> = ["a bb ccc", "bb ccc dd", "ccc dd e"]
            .iter()
            .map(|s| xxh3_64_with_seed(s.as_bytes(), 7))
            .collect();
        assert_eq!(hashes, want);
        shingle_hashes(b"one two", 5, 7, &mut starts, &mut hashes);
        assert_eq!(hashes, [xxh3_64_with_seed(b"one two", 7)]);
        shingle_hashes(b"one two", 2, 7, &mut starts, &mut hashes);
        assert_eq!(hashes, [xxh3_64_with_seed(b"one two", 7)]);
    }

    #[test]
    fn deterministic_and_normalised() {
        let a = sig("The quick brown fox jumps over the lazy dog, again and again.").unwrap();
        let b = sig("the QUICK brown fox -- jumps over the lazy dog again and again").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 112);
        assert_ne!(
            a,
            sig("the quick brown fox jumps over the lazy cat again and again").unwrap()
        );
        // pinned values: signatures are the same on every platform and CPU
        assert_eq!(a[..3], GOLDEN);
    }

    #[test]
    fn empty_text_has_no_signature() {
        assert_eq!(sig(""), None);
        assert_eq!(sig("  \n\t "), None);
        assert_eq!(sig("?!... --"), None);
        assert!(sig("short doc").is_some());
        assert_ne!(sig("short doc"), sig("other doc"));
    }

    #[test]
    fn estimates_jaccard() {
        let words: Vec<String> = (0..400)
            .map(|i| format!("w{}", (i * 7919) % 1000))
            .collect();
        let a = words[..300].join(" ");
        let b = words[100..].join(" ");
        let set = |t: &str| -> HashSet<String> {
            let w: Vec<&str> = t.split(' ').collect();
            w.windows(5).map(|g| g.join(" ")).collect()
        };
        let (sa, sb) = (set(&a), set(&b));
        let truth = sa.intersection(&sb).count() as f64 / sa.union(&sb).count() as f64;
        let est = estimate(&sig(&a).unwrap(), &sig(&b).unwrap());
        assert!((est - truth).abs() < 0.15, "estimate {est} truth {truth}");
    }

    fn daft_keys(values: &[Option<u64>], bands: usize, rows: usize) -> Option<Vec<u64>> {
        let bytes: Vec<[u8; 8]> = values
            .iter()
            .map(|v| v.unwrap_or(0).to_le_bytes())
            .collect();
        let elem = |i: usize| values[i].map(|_| &bytes[i][..]);
        let mut out = vec![0; bands];
        daft_band_keys(values.len(), elem, bands, rows, &mut Vec::new(), &mut out).then_some(out)
    }

    fn seeded(values: &[u64], seed: u64) -> u64 {
        let inner: Vec<u8> = values
            .iter()
            .flat_map(|v| xxh3_64_with_seed(&v.to_le_bytes(), seed).to_le_bytes())
            .collect();
        xxh3_64_with_seed(&inner, seed)
    }

    #[test]
    fn daft_band_keys_hash_each_band_with_its_index() {
        let values: Vec<Option<u64>> = (0..6u64).map(|v| Some(v * 1000 + 1)).collect();
        let keys = daft_keys(&values, 2, 3).unwrap();
        // band j: xxh3 (seed j) of each value's bytes, then of those hashes' bytes
        assert_eq!(keys, [seeded(&[1, 1001, 2001], 0), seeded(&[3001, 4001, 5001], 1)]);
        // a changed value changes only its band; equal slices in two bands differ by seed
        let mut changed = values.clone();
        changed[4] = Some(7);
        let k2 = daft_keys(&changed, 2, 3).unwrap();
        assert_eq!((k2[0] == keys[0], k2[1] == keys[1]), (true, false));
        let twice: Vec<Option<u64>> = [1, 2, 1, 2].iter().map(|&v| Some(v)).collect();
        let k = daft_keys(&twice, 2, 2).unwrap();
        assert_ne!(k[0], k[1]);
        // a null element hashes as xxh3 of no bytes, unseeded
        let k = daft_keys(&[None, Some(2), Some(3), Some(4)], 1, 2).unwrap();
        let null = xxhash_rust::xxh3::xxh3_64(b"");
        let two = xxh3_64_with_seed(&2u64.to_le_bytes(), 0);
        let inner: Vec<u8> = [null, two].iter().flat_map(|h| h.to_le_bytes()).collect();
        assert_eq!(k[0], xxh3_64_with_seed(&inner, 0));
    }

    #[test]
    fn daft_band_keys_skip_short_and_degenerate_rows() {
        let values: Vec<Option<u64>> = (0..6u64).map(Some).collect();
        assert!(daft_keys(&values, 2, 4).is_none()); // 8 values needed
        assert!(daft_keys(&[Some(9); 8], 2, 4).is_none()); // all equal
        assert!(daft_keys(&[None, Some(9), None, Some(9)], 2, 2).is_none()); // nulls ignored
        assert!(daft_keys(&[None; 4], 2, 2).is_none());
        assert!(daft_keys(&[None, Some(9), None, Some(8)], 2, 2).is_some());
    }

    #[test]
    fn bands_hash_row_runs() {
        let s = sig("some words for a band test of the minhash kernel").unwrap();
        let k = band_keys(&s, 14, 8);
        assert_eq!(k.len(), 14);
        let mut t = s.clone();
        t[100] ^= 1; // row 100 lies in band 12
        let k2 = band_keys(&t, 14, 8);
        let differing: Vec<usize> = (0..14).filter(|&j| k[j] != k2[j]).collect();
        assert_eq!(differing, [12]);
        // equal rows in different bands still give different keys
        assert_ne!(band_keys(&[7; 16], 2, 8)[0], band_keys(&[7; 16], 2, 8)[1]);
    }
}
