//! MinHash signatures over word n-grams, and their LSH band keys (FineWeb: 5-grams, 112 hashes,
//! 14 bands x 8 rows, seed 1).
//!
//! `minhash(text, num_hashes, ngram, seed)`:
//! 1. the text is normalised with `normalize_for_dedup` (lowercase, accents and punctuation
//!    removed, whitespace collapsed) and split on its single spaces into words;
//! 2. shingles are the contiguous word `ngram`-grams (the normalised bytes `w_i .. w_{i+n-1}`,
//!    single-space separated); a document with fewer than `ngram` words is one shingle, itself;
//! 3. each shingle is hashed once: `h = xxh3_64_with_seed(shingle, seed)`;
//! 4. permutation `i` maps `h` to `(a_i * h + b_i) mod (2^61 - 1)` (exact integer arithmetic), and the
//!    signature keeps the minimum per permutation, so values are below 2^61.
//!
//! Coefficients: a SplitMix64 stream started at state `seed` yields, in order, `a_0, b_0, a_1,
//! b_1, ...` with `a_i = 1 + x mod (p - 1)` and `b_i = y mod p` (`p = 2^61 - 1`). Like datasketch
//! (which draws from numpy's `RandomState(seed)`), a seed fixes the permutations, but the streams
//! differ, so signatures are comparable only with signatures of the same seed and `num_hashes`.
//!
//! Text that is null, empty, or has no word left after normalisation gets a NULL signature:
//! such documents share no content, so they must not collide in LSH buckets.
//!
//! `minhash_bands(sig, bands, rows)`: band `j` is `xxh3_64_with_seed(le_bytes(sig[j*rows ..
//! (j+1)*rows]), j)`; the band index as seed keeps equal value runs in different bands apart.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, FixedSizeListArray, LargeListArray, ListArray, UInt64Array, UInt64Builder,
};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{DataType, Field};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use rayon::prelude::*;
use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::arrow_io::{to_py, PyArray, StrColumn};
use crate::normalize::normalize;

/// The Mersenne prime 2^61 - 1 used by the universal hash permutations.
pub const MERSENNE_61: u64 = (1 << 61) - 1;

/// `num_hashes` permutations `(a_i, b_i)` drawn from SplitMix64 seeded with `seed`.
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
            a.push(1 + splitmix64(&mut state) % (MERSENNE_61 - 1));
            b.push(splitmix64(&mut state) % MERSENNE_61);
        }
        Permutations { a, b }
    }
}

/// `(a * h + b) mod (2^61 - 1)` for `a, b, h < 2^61`: one 64x64 multiply, then the high bits
/// folded onto the low ones twice (exact, no division).
#[inline(always)]
fn permute(a: u64, b: u64, h: u64) -> u64 {
    let x = a as u128 * h as u128 + b as u128; // < 2^122 + 2^61
    let s = (x as u64 & MERSENNE_61) + (x >> 61) as u64; // < 2^62 + 2
    let s = (s & MERSENNE_61) + (s >> 61); // < 2^61 + 2
    if s >= MERSENNE_61 {
        s - MERSENNE_61
    } else {
        s
    }
}

/// `h mod (2^61 - 1)`.
#[inline(always)]
fn reduce(h: u64) -> u64 {
    let s = (h & MERSENNE_61) + (h >> 61);
    if s >= MERSENNE_61 {
        s - MERSENNE_61
    } else {
        s
    }
}

/// Byte ranges of the shingles of a normalised text (words separated by single spaces).
fn shingles(normalized: &str, ngram: usize) -> Vec<(usize, usize)> {
    let mut starts = vec![0usize];
    let mut ends = Vec::new();
    for (i, byte) in normalized.bytes().enumerate() {
        if byte == b' ' {
            ends.push(i);
            starts.push(i + 1);
        }
    }
    ends.push(normalized.len());
    let n = ngram.max(1);
    if starts.len() < n {
        return vec![(0, normalized.len())];
    }
    (0..=starts.len() - n)
        .map(|i| (starts[i], ends[i + n - 1]))
        .collect()
}

/// MinHash signature of one text, or None when no word survives normalisation.
pub fn signature(text: &str, ngram: usize, seed: u64, perms: &Permutations) -> Option<Vec<u64>> {
    let normalized = normalize(text);
    if normalized.is_empty() {
        return None;
    }
    let mut hashes: Vec<u64> = shingles(&normalized, ngram)
        .into_iter()
        .map(|(s, e)| xxh3_64_with_seed(&normalized.as_bytes()[s..e], seed))
        .collect();
    // repeated shingles cannot change a minimum: hash each distinct one once
    hashes.sort_unstable();
    hashes.dedup();
    // (a*h + b) mod p depends on h only through h mod p
    for h in hashes.iter_mut() {
        *h = reduce(*h);
    }
    let sig = perms
        .a
        .iter()
        .zip(&perms.b)
        .map(|(&a, &b)| {
            hashes
                .iter()
                .map(|&h| permute(a, b, h))
                .min()
                .unwrap_or(u64::MAX)
        })
        .collect();
    Some(sig)
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

/// Per-row u64 slices of a list<uint64> / large_list<uint64> / fixed_size_list<uint64> array.
fn u64_lists(arr: &ArrayRef) -> PyResult<(Vec<Option<(usize, usize)>>, UInt64Array)> {
    let (ranges, values): (Vec<Option<(usize, usize)>>, ArrayRef) =
        if let Some(l) = arr.as_any().downcast_ref::<LargeListArray>() {
            let o = l.value_offsets();
            let r = (0..l.len())
                .map(|i| (!l.is_null(i)).then(|| (o[i] as usize, o[i + 1] as usize)))
                .collect();
            (r, l.values().clone())
        } else if let Some(l) = arr.as_any().downcast_ref::<ListArray>() {
            let o = l.value_offsets();
            let r = (0..l.len())
                .map(|i| (!l.is_null(i)).then(|| (o[i] as usize, o[i + 1] as usize)))
                .collect();
            (r, l.values().clone())
        } else if let Some(l) = arr.as_any().downcast_ref::<FixedSizeListArray>() {
            let n = l.value_length() as usize;
            let r = (0..l.len())
                .map(|i| (!l.is_null(i)).then(|| (i * n, (i + 1) * n)))
                .collect();
            (r, l.values().clone())
        } else if arr.null_count() == arr.len() {
            // an all-null column of another type (e.g. an omitted argument)
            (
                vec![None; arr.len()],
                Arc::new(UInt64Array::from(Vec::<u64>::new())),
            )
        } else {
            return Err(PyTypeError::new_err(format!(
                "expected a list<uint64> signature array, got {}",
                arr.data_type()
            )));
        };
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
    let out = py.detach(|| {
        let perms = Permutations::new(num_hashes, seed);
        let rows: Vec<Option<Vec<u64>>> = (0..col.len())
            .into_par_iter()
            .map(|i| col.get(i).and_then(|t| signature(t, ngram, seed, &perms)))
            .collect();
        to_large_list(&rows)
    });
    Ok(to_py(Arc::new(out)))
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
    if bands == 0 || rows == 0 {
        return Err(PyValueError::new_err("bands and rows must be positive"));
    }
    let arr = arrow::array::make_array(signatures.0);
    let (ranges, values) = u64_lists(&arr)?;
    if let Some((s, e)) = ranges.iter().flatten().find(|(s, e)| e - s < bands * rows) {
        return Err(PyValueError::new_err(format!(
            "a signature of {} values is too short for {bands} bands x {rows} rows",
            e - s
        )));
    }
    let out = py.detach(|| {
        let vals = values.values();
        let keys: Vec<Option<Vec<u64>>> = ranges
            .par_iter()
            .map(|r| r.map(|(s, e)| band_keys(&vals[s..e], bands, rows)))
            .collect();
        to_large_list(&keys)
    });
    Ok(to_py(Arc::new(out)))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(minhash, m)?)?;
    m.add_function(wrap_pyfunction!(minhash_bands, m)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn sig(text: &str) -> Option<Vec<u64>> {
        signature(text, 5, 1, &Permutations::new(112, 1))
    }

    fn estimate(a: &[u64], b: &[u64]) -> f64 {
        a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / a.len() as f64
    }

    #[test]
    fn mersenne_arithmetic_is_exact() {
        let p = MERSENNE_61 as u128;
        let mut state = 42;
        let mut vals = vec![0, 1, MERSENNE_61 - 1];
        vals.extend((0..200).map(|_| splitmix64(&mut state) % MERSENNE_61));
        for &a in &vals {
            for &h in &vals[..20] {
                let b = vals[(a % 200) as usize];
                let want = (a as u128 * h as u128 + b as u128) % p;
                assert_eq!(permute(a, b, h) as u128, want, "a={a} h={h} b={b}");
            }
        }
        for h in [0, 1, MERSENNE_61, MERSENNE_61 + 1, u64::MAX, u64::MAX - 7] {
            assert_eq!(reduce(h) as u128, h as u128 % p);
        }
    }

    #[test]
    fn shingles_are_word_ngrams() {
        let t = "a bb ccc dd e";
        let got: Vec<&str> = shingles(t, 3).into_iter().map(|(s, e)| &t[s..e]).collect();
        assert_eq!(got, ["a bb ccc", "bb ccc dd", "ccc dd e"]);
        assert_eq!(shingles("one two", 5), [(0, 7)]);
    }

    #[test]
    fn deterministic_and_normalised() {
        let a = sig("The quick brown fox jumps over the lazy dog, again and again.").unwrap();
        let b = sig("the QUICK brown fox -- jumps over the lazy dog again and again").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 112);
        assert!(a.iter().all(|&v| v < MERSENNE_61));
        assert_ne!(
            a,
            sig("the quick brown fox jumps over the lazy cat again and again").unwrap()
        );
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
