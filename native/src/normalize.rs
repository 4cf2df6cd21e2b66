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
use unicode_normalization::char::decompose_compatible;
use unicode_normalization::char::is_combining_mark;
use xxhash_rust::xxh3::xxh3_64;

use crate::arrow_io::{map_str_to_str, to_py, PyArray, StrColumn};

/// Lowercased byte of an ASCII letter or digit, a space for every other ASCII byte.
const ASCII_MAP: [u8; 128] = {
    let mut t = [b' '; 128];
    let mut b = 0;
    while b < 128 {
        if (b as u8).is_ascii_alphanumeric() {
            t[b] = (b as u8).to_ascii_lowercase();
        }
        b += 1;
    }
    t
};

/// Normalise one text for duplicate detection (see the module docs).
pub fn normalize(text: &str) -> String {
    let mut out = Vec::new();
    normalize_into(text, &mut out);
    String::from_utf8(out).expect("normalisation emits whole UTF-8 characters")
}

/// `normalize(text)` as UTF-8 bytes written into `out` (cleared first), so batch kernels can
/// reuse one buffer. NFKD decomposes character by character and only reorders combining marks,
/// which are dropped here, so each character is normalised on its own: ASCII through a table,
/// anything else through its compatibility decomposition. Separators are written as spaces and
/// a space right after a space is overwritten, without branching on the byte class.
pub fn normalize_into(text: &str, out: &mut Vec<u8>) {
    let bytes = text.as_bytes();
    out.clear();
    // invariant: out.len() >= j + the bytes left, as an ASCII byte writes at most one byte
    out.resize(bytes.len(), 0);
    let mut j = 0;
    let mut after_space = true; // also true at the start: no leading space
    let mut i = 0;
    while i < bytes.len() {
        let buf = out.as_mut_slice();
        while let Some(&b) = bytes.get(i).filter(|b| b.is_ascii()) {
            let m = ASCII_MAP[b as usize];
            buf[j] = m;
            let is_space = m == b' ';
            j += usize::from(!(is_space && after_space));
            after_space = is_space;
            i += 1;
        }
        if i == bytes.len() {
            break;
        }
        let c = text[i..].chars().next().expect("i is a char boundary");
        i += c.len_utf8();
        (j, after_space) = push_non_ascii(c, out, j, after_space);
        if out.len() < j + (bytes.len() - i) {
            out.resize(j + (bytes.len() - i), 0);
        }
    }
    if after_space && j > 0 {
        j -= 1; // the trailing space
    }
    out.truncate(j);
}

/// Write the normalised form of one non-ASCII character at `out[j..]` (growing `out` as
/// needed); takes and returns the write position and whether a space was written last, by value
/// so the ASCII loop keeps them in registers.
#[inline(never)]
fn push_non_ascii(
    c: char,
    out: &mut Vec<u8>,
    mut j: usize,
    mut after_space: bool,
) -> (usize, bool) {
    decompose_compatible(c, |d| {
        for l in d.to_lowercase() {
            if is_combining_mark(l) {
                continue;
            }
            if out.len() < j + 4 {
                out.resize(j + 4, 0);
            }
            if l.is_alphanumeric() {
                j += l.encode_utf8(&mut out[j..]).len();
                after_space = false;
            } else if !after_space {
                out[j] = b' ';
                j += 1;
                after_space = true;
            }
        }
    });
    (j, after_space)
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
    let out: UInt64Array = crate::arrow_io::detach_guarded(py, || {
        (0..col.len())
            .map(|i| col.get(i).map(|t| fingerprint_one(t, normalize)))
            .collect()
    })?;
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
    use proptest::prelude::*;
    use unicode_normalization::UnicodeNormalization;

    /// The module docs' steps applied literally to the whole text (streaming NFKD).
    fn reference(text: &str) -> String {
        let mut out = String::new();
        let mut pending_space = false;
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

    proptest! {
        #[test]
        fn char_by_char_equals_whole_text_nfkd(text in "\\PC{0,40}") {
            prop_assert_eq!(normalize(&text), reference(&text));
        }

        #[test]
        fn mixed_scripts_equal_whole_text_nfkd(
            text in "[a-zA-Z0-9 ,.\\-éÉüßﬁİΣσς²½ｱＡ\u{0301}\u{0308}\u{093E}\u{0915}\u{AC00}\u{00AD}\u{2019}]{0,60}"
        ) {
            prop_assert_eq!(normalize(&text), reference(&text));
        }
    }

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
