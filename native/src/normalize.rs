//! Text normalisation and fingerprints for exact (normalised) deduplication.
//!
//! `normalize_for_dedup(text)`, in this order:
//! 1. Unicode NFKD, so "ﬁ" -> "fi" and full-width letters -> ASCII;
//! 2. lowercase (Unicode `char::to_lowercase`), then combining marks (`Mn`/`Mc`/`Me`) dropped,
//!    so "Café" -> "cafe";
//! 3. every character that is neither alphanumeric (letters and digits of any script, digits are
//!    kept as they are) nor whitespace becomes a space: punctuation, symbols, controls;
//! 4. whitespace runs collapse to one ASCII space, and the result is trimmed.
//!
//! `fingerprint(text, normalize=True)` is `xxh3_64` (seed 0) of the UTF-8 bytes of the
//! normalised text (of the raw text when `normalize=False`), equal to Python's
//! `xxhash.xxh3_64_intdigest(normalized.encode())`.

use std::sync::Arc;

use arrow::array::UInt64Array;
use pyo3::prelude::*;
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;
use xxhash_rust::xxh3::xxh3_64;

use crate::arrow_io::{map_str_to_str, to_py, PyArray, StrColumn};

/// Normalise one text for duplicate detection (see the module docs).
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    if text.is_ascii() {
        // NFKD and combining marks are no-ops on ASCII: the same rules, byte by byte
        for b in text.bytes() {
            if b.is_ascii_alphanumeric() {
                if pending_space && !out.is_empty() {
                    out.push(' ');
                }
                pending_space = false;
                out.push(b.to_ascii_lowercase() as char);
            } else {
                pending_space = true;
            }
        }
        return out;
    }
    for c in text.nfkd().flat_map(char::to_lowercase) {
        if is_combining_mark(c) {
            continue;
        }
        if c.is_alphanumeric() {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.push(c);
        } else {
            pending_space = true;
        }
    }
    out
}

/// xxh3_64 of the (optionally normalised) text.
pub fn fingerprint_one(text: &str, normalize_first: bool) -> u64 {
    if normalize_first {
        xxh3_64(normalize(text).as_bytes())
    } else {
        xxh3_64(text.as_bytes())
    }
}

/// Normalised text per row (utf8; null stays null).
#[pyfunction]
fn normalize_for_dedup(py: Python<'_>, texts: PyArray) -> PyResult<PyArray> {
    map_str_to_str(py, texts, |t| Some(normalize(t)))
}

/// xxh3_64 fingerprint per row (uint64; null stays null).
#[pyfunction]
#[pyo3(signature = (texts, normalize=true))]
fn fingerprint(py: Python<'_>, texts: PyArray, normalize: bool) -> PyResult<PyArray> {
    let col = StrColumn::from_data(texts.0)?;
    let out: UInt64Array = py.detach(|| {
        (0..col.len())
            .map(|i| col.get(i).map(|t| fingerprint_one(t, normalize)))
            .collect()
    });
    Ok(to_py(Arc::new(out)))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(normalize_for_dedup, m)?)?;
    m.add_function(wrap_pyfunction!(fingerprint, m)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes() {
        assert_eq!(
            normalize("  Héllo,   WORLD!\n\tCafé ﬁne 42 "),
            "hello world cafe fine 42"
        );
        assert_eq!(normalize("don't-stop"), "don t stop");
        assert_eq!(normalize("ＡＢＣ１２３"), "abc123");
        assert_eq!(normalize(""), "");
        assert_eq!(normalize(" ... "), "");
        assert_eq!(normalize("Ελληνικά κείμενο"), "ελληνικα κειμενο");
    }

    #[test]
    fn fingerprints_equal_for_equivalent_texts() {
        assert_eq!(
            fingerprint_one("Hello, World", true),
            fingerprint_one("hello world!!", true)
        );
        assert_ne!(
            fingerprint_one("Hello, World", false),
            fingerprint_one("hello world", false)
        );
        // xxh3_64 of the empty input (reference value of the XXH3 spec)
        assert_eq!(fingerprint_one("", false), 0x2D06800538D394C2);
    }
}
