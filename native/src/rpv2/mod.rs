//! RedPajama-V2's rule-based quality signals (togethercomputer/RedPajama-Data,
//! `app/src/core/quality_signals/`: natural_language, lines, repetitions and the resource-free
//! content signals), re-implemented from their definitions, in one pass per document.
//!
//! `rpv2_signals(texts) -> struct`, one row per document, null for a null text. Views (see
//! `text.rs`): *raw words* are WordPunct tokens of the raw text; *words* are the normalised
//! words (punctuation removed, lowercased, whitespace-collapsed, NFD); *lines* are the text cut
//! after each `\n`, raw or normalised. Lengths are in code points. Every fraction is rounded with
//! Python's `round(x, 8)` as RPv2 stores it; `None` in RPv2 is NULL here.
//!
//! | field | type | definition |
//! |---|---|---|
//! | rps_doc_curly_bracket | float64 | `{` and `}` count / raw length (0 when none) |
//! | rps_doc_frac_all_caps_words | float64? | raw words with `str.isupper()` / raw words |
//! | rps_doc_frac_lines_end_with_ellipsis | float64? | raw lines whose `rstrip()` ends in `...`/`…` / lines |
//! | rps_doc_frac_no_alph_words | float64? | 1 - raw words containing `[a-zA-Z]` / raw words |
//! | rps_doc_lorem_ipsum | float64 | "lorem ipsum" matches (re.I) / normalised text length |
//! | rps_doc_mean_word_length | float64? | mean word length |
//! | rps_doc_stop_word_fraction | float64 | raw words in the English list / raw words (0 when no words) |
//! | rps_doc_symbol_to_word_ratio | float64? | count of `#`, `...`, `…` in the raw text / raw words |
//! | rps_doc_frac_unique_words | float64? | distinct words / words |
//! | rps_doc_unigram_entropy | float64? | `sum(-c/n * ln(c/n))` over word counts |
//! | rps_doc_word_count | int64 | words |
//! | rps_doc_num_sentences | int64 | matches of `\b[^.!?]+[.!?]*` in the raw text |
//! | rps_doc_frac_chars_top_{2,3,4}gram | float64 | chars of the most frequent word n-gram * its count / chars of words (0 if it occurs once) |
//! | rps_doc_frac_chars_dupe_{5..10}grams | float64 | chars of words covered by a repeated n-gram / chars of words |
//! | rps_lines_ending_with_terminal_punctution_mark | list<float64> | 1.0 when the raw line's `rstrip()` ends in `.`, `!`, `?`, `”` |
//! | rps_lines_javascript_counts | list<int64> | normalised words equal to "javascript" |
//! | rps_lines_num_words | list<int64> | normalised words |
//! | rps_lines_numerical_chars_fraction | list<float64> | `isnumeric` chars / normalised line length (0 if empty) |
//! | rps_lines_start_with_bulletpoint | list<float64> | 1.0 when the raw line's `lstrip()` starts with • ‣ ▶ ◀ ◦ ■ □ ▪ ▫ – ; `[NULL]` without lines |
//! | rps_lines_uppercase_letter_fraction | list<float64> | `isupper` chars / raw line length (with its `\n`) |

mod signals;
mod stop_words;
#[rustfmt::skip]
mod tables;
mod text;

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, ListBuilder, PrimitiveBuilder, StructArray};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{ArrowPrimitiveType, Field, Float64Type, Int64Type};
use pyo3::prelude::*;
use rayon::prelude::*;

use crate::arrow_io::{to_py, PyArray, StrColumn};
use crate::threads;
use signals::{rpv2_signals as signals_of, Rpv2};

type Cols = Vec<(Arc<Field>, ArrayRef)>;

fn push_scalar<T: ArrowPrimitiveType>(
    cols: &mut Cols,
    rows: &[Option<Rpv2>],
    name: &str,
    get: impl Fn(&Rpv2) -> Option<T::Native>,
) {
    let mut b = PrimitiveBuilder::<T>::with_capacity(rows.len());
    rows.iter()
        .for_each(|r| b.append_option(r.as_ref().and_then(&get)));
    cols.push((
        Arc::new(Field::new(name, T::DATA_TYPE, true)),
        Arc::new(b.finish()),
    ));
}

fn push_list<T: ArrowPrimitiveType>(
    cols: &mut Cols,
    rows: &[Option<Rpv2>],
    name: &str,
    get: impl Fn(&Rpv2) -> Vec<Option<T::Native>>,
) {
    let mut b = ListBuilder::new(PrimitiveBuilder::<T>::new());
    for r in rows {
        match r {
            Some(s) => {
                b.values().extend(get(s));
                b.append(true);
            }
            None => b.append(false),
        }
    }
    let arr = b.finish();
    cols.push((
        Arc::new(Field::new(name, arr.data_type().clone(), true)),
        Arc::new(arr),
    ));
}

fn signals_struct(rows: &[Option<Rpv2>]) -> StructArray {
    let mut cols: Cols = Vec::new();
    let f = &mut cols;
    push_scalar::<Float64Type>(f, rows, "rps_doc_curly_bracket", |s| Some(s.curly_bracket));
    push_scalar::<Float64Type>(f, rows, "rps_doc_frac_all_caps_words", |s| {
        s.frac_all_caps_words
    });
    push_scalar::<Float64Type>(f, rows, "rps_doc_frac_lines_end_with_ellipsis", |s| {
        s.frac_lines_end_with_ellipsis
    });
    push_scalar::<Float64Type>(f, rows, "rps_doc_frac_no_alph_words", |s| {
        s.frac_no_alph_words
    });
    push_scalar::<Float64Type>(f, rows, "rps_doc_lorem_ipsum", |s| Some(s.lorem_ipsum));
    push_scalar::<Float64Type>(f, rows, "rps_doc_mean_word_length", |s| s.mean_word_length);
    push_scalar::<Float64Type>(f, rows, "rps_doc_stop_word_fraction", |s| {
        Some(s.stop_word_fraction)
    });
    push_scalar::<Float64Type>(f, rows, "rps_doc_symbol_to_word_ratio", |s| {
        s.symbol_to_word_ratio
    });
    push_scalar::<Float64Type>(f, rows, "rps_doc_frac_unique_words", |s| {
        s.frac_unique_words
    });
    push_scalar::<Float64Type>(f, rows, "rps_doc_unigram_entropy", |s| s.unigram_entropy);
    push_scalar::<Int64Type>(f, rows, "rps_doc_word_count", |s| Some(s.word_count));
    push_scalar::<Int64Type>(f, rows, "rps_doc_num_sentences", |s| Some(s.num_sentences));
    for (k, n) in [2, 3, 4].into_iter().enumerate() {
        let name = format!("rps_doc_frac_chars_top_{n}gram");
        push_scalar::<Float64Type>(f, rows, &name, |s| Some(s.frac_chars_top_ngram[k]));
    }
    for (k, n) in (5..=10).enumerate() {
        let name = format!("rps_doc_frac_chars_dupe_{n}grams");
        push_scalar::<Float64Type>(f, rows, &name, |s| Some(s.frac_chars_dupe_ngrams[k]));
    }
    let some = |v: &[f64]| v.iter().copied().map(Some).collect::<Vec<_>>();
    push_list::<Float64Type>(
        f,
        rows,
        "rps_lines_ending_with_terminal_punctution_mark",
        |s| some(&s.lines_ending_with_terminal_punctuation),
    );
    push_list::<Int64Type>(f, rows, "rps_lines_javascript_counts", |s| {
        s.lines_javascript_counts
            .iter()
            .copied()
            .map(Some)
            .collect()
    });
    push_list::<Int64Type>(f, rows, "rps_lines_num_words", |s| {
        s.lines_num_words.iter().copied().map(Some).collect()
    });
    push_list::<Float64Type>(f, rows, "rps_lines_numerical_chars_fraction", |s| {
        some(&s.lines_numerical_chars_fraction)
    });
    push_list::<Float64Type>(f, rows, "rps_lines_start_with_bulletpoint", |s| {
        s.lines_start_with_bulletpoint.clone()
    });
    push_list::<Float64Type>(f, rows, "rps_lines_uppercase_letter_fraction", |s| {
        some(&s.lines_uppercase_letter_fraction)
    });
    let (fields, arrays): (Vec<_>, Vec<_>) = cols.into_iter().unzip();
    let valid = NullBuffer::from(rows.iter().map(Option::is_some).collect::<Vec<_>>());
    StructArray::new(fields.into(), arrays, Some(valid))
}

/// RedPajama-V2's natural-language, line and repetition signals per document (see the module
/// table); documents are spread over rayon's pool with the GIL released.
#[pyfunction]
fn rpv2_signals(py: Python<'_>, texts: PyArray) -> PyResult<PyArray> {
    let col = StrColumn::from_data(texts.0)?;
    let out = threads::detach(py, || {
        let rows: Vec<Option<Rpv2>> = (0..col.len())
            .into_par_iter()
            .map(|i| col.get(i).map(signals_of))
            .collect();
        signals_struct(&rows)
    })?;
    Ok(to_py(Arc::new(out)))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(rpv2_signals, m)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn struct_has_every_field_and_null_rows() {
        let rows = vec![Some(signals_of("Hello world.")), None, Some(signals_of(""))];
        let s = signals_struct(&rows);
        assert_eq!(s.num_columns(), 27);
        assert!(s.is_null(1) && s.is_valid(2));
    }
}
