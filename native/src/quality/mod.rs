//! Quality signals and rule predicates matching datatrove 0.10.1 (English) exactly.
//!
//! `quality_signals(texts) -> struct` computes, per document, every statistic used by datatrove's
//! `GopherQualityFilter`, `GopherRepetitionFilter`, `FineWebQualityFilter` and the document-level
//! outcome of `C4QualityFilter`. "words" are datatrove's `split_into_words(text, "en")`: spaCy's
//! blank-English tokens (see `tokenizer.rs`), whitespace dropped; lengths are in code points.
//! Ratios with a zero denominator are NaN. Null input rows give null output rows.
//!
//! | field | type | definition (datatrove source) |
//! |---|---|---|
//! | n_chars | int64 | `len(text)` |
//! | n_words | int64 | `len(words)` |
//! | n_non_symbol_words | int64 | words with a char outside `PUNCTUATION_SET` (Gopher's word count) |
//! | mean_word_length | float64 | mean `len` of non-symbol words |
//! | hash_word_ratio | float64 | `text.count("#") / n_words` |
//! | ellipsis_word_ratio | float64 | `(text.count("...") + text.count("…")) / n_words` |
//! | n_lines | int64 | `len(text.splitlines())` |
//! | bullet_line_frac | float64 | lines whose `lstrip()` starts with `•` or `-`, / n_lines |
//! | ellipsis_line_frac | float64 | lines whose `rstrip()` ends with `...` or `…`, / n_lines |
//! | alpha_word_frac | float64 | words with an `isalpha` char / n_words |
//! | stop_word_count | int64 | distinct words in {the, be, to, of, and, that, have, with} (case-sensitive) |
//! | dup_para_frac | float64 | repeated paragraphs (`re.split(r"\n{2,}", text.strip())`) / paragraphs |
//! | dup_para_char_frac | float64 | chars of repeated paragraphs / n_chars |
//! | dup_line_frac | float64 | repeated lines (`re.split("\n+", text)`) / lines |
//! | dup_line_char_frac | float64 | chars of repeated lines / n_chars |
//! | top_{2,3,4}gram_char_frac | float64 | `len(top " ".join n-gram) * its count / n_chars` (0 if no n-gram) |
//! | dup_{5..10}gram_char_frac | float64 | `find_all_duplicate(words, n) / n_chars` |
//! | line_punct_ratio | float64 | FineWeb: non-blank `\n` lines ending in `TERMINAL_PUNCTUATION` / those lines |
//! | short_line_ratio | float64 | FineWeb: non-blank lines with `len <= 30` / those lines |
//! | fineweb_dup_line_char_frac | float64 | FineWeb: chars of repeated non-blank lines / `len(text.replace("\n", ""))` |
//! | newline_word_ratio | float64 | FineWeb: `text.count("\n") / n_words` |
//! | c4_kept_lines | int64 | C4 (defaults, `c4::c4_scan`): lines kept before any doc-dropping line |
//! | c4_sentences | int64 | C4: spaCy-sentencizer sentences in those lines, all counted (doc dropped if < 5) |
//! | c4_lorem_ipsum | bool | C4: a candidate line contains "lorem ipsum" (doc dropped) |
//! | c4_curly_bracket | bool | C4: a candidate line contains `{` (doc dropped) |

pub(crate) mod stats;
#[rustfmt::skip]
pub(crate) mod tables;
pub(crate) mod tokenizer;

use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Float64Builder, Int64Builder, StructArray};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{DataType, Field};
use pyo3::prelude::*;
use rayon::prelude::*;

use crate::arrow_io::{to_py, PyArray, StrColumn};
use crate::threads;
pub use stats::{
    fineweb_quality_ok, gopher_quality_ok, gopher_repetition_ok, signals, FineWebParams,
    GopherQualityParams, GopherRepetitionParams, Signals,
};

const F64_FIELDS: [&str; 23] = [
    "mean_word_length",
    "hash_word_ratio",
    "ellipsis_word_ratio",
    "bullet_line_frac",
    "ellipsis_line_frac",
    "alpha_word_frac",
    "dup_para_frac",
    "dup_para_char_frac",
    "dup_line_frac",
    "dup_line_char_frac",
    "top_2gram_char_frac",
    "top_3gram_char_frac",
    "top_4gram_char_frac",
    "dup_5gram_char_frac",
    "dup_6gram_char_frac",
    "dup_7gram_char_frac",
    "dup_8gram_char_frac",
    "dup_9gram_char_frac",
    "dup_10gram_char_frac",
    "line_punct_ratio",
    "short_line_ratio",
    "fineweb_dup_line_char_frac",
    "newline_word_ratio",
];

fn f64_values(s: &Signals) -> [f64; 23] {
    let t = s.top_ngram_char_frac;
    let d = s.dup_ngram_char_frac;
    [
        s.mean_word_length,
        s.hash_word_ratio,
        s.ellipsis_word_ratio,
        s.bullet_line_frac,
        s.ellipsis_line_frac,
        s.alpha_word_frac,
        s.dup_para_frac,
        s.dup_para_char_frac,
        s.dup_line_frac,
        s.dup_line_char_frac,
        t[0],
        t[1],
        t[2],
        d[0],
        d[1],
        d[2],
        d[3],
        d[4],
        d[5],
        s.line_punct_ratio,
        s.short_line_ratio,
        s.fineweb_dup_line_char_frac,
        s.newline_word_ratio,
    ]
}

const I64_FIELDS: [&str; 7] = [
    "n_chars",
    "n_words",
    "n_non_symbol_words",
    "n_lines",
    "stop_word_count",
    "c4_kept_lines",
    "c4_sentences",
];

fn i64_values(s: &Signals) -> [i64; 7] {
    [
        s.n_chars,
        s.n_words,
        s.n_non_symbol_words,
        s.n_lines,
        s.stop_word_count,
        s.c4_kept_lines,
        s.c4_sentences,
    ]
}

fn signals_struct(rows: &[Option<Signals>]) -> StructArray {
    let mut cols: Vec<(Arc<Field>, ArrayRef)> = Vec::new();
    for (k, name) in I64_FIELDS.iter().enumerate() {
        let mut b = Int64Builder::with_capacity(rows.len());
        rows.iter()
            .for_each(|r| b.append_option(r.as_ref().map(|s| i64_values(s)[k])));
        cols.push((
            Arc::new(Field::new(*name, DataType::Int64, true)),
            Arc::new(b.finish()),
        ));
    }
    for (k, name) in F64_FIELDS.iter().enumerate() {
        let mut b = Float64Builder::with_capacity(rows.len());
        rows.iter()
            .for_each(|r| b.append_option(r.as_ref().map(|s| f64_values(s)[k])));
        cols.push((
            Arc::new(Field::new(*name, DataType::Float64, true)),
            Arc::new(b.finish()),
        ));
    }
    for (name, get) in [
        (
            "c4_lorem_ipsum",
            (|s: &Signals| s.c4_lorem_ipsum) as fn(&Signals) -> bool,
        ),
        ("c4_curly_bracket", |s: &Signals| s.c4_curly_bracket),
    ] {
        let arr: BooleanArray = rows.iter().map(|r| r.as_ref().map(get)).collect();
        cols.push((
            Arc::new(Field::new(name, DataType::Boolean, true)),
            Arc::new(arr),
        ));
    }
    let (fields, arrays): (Vec<_>, Vec<_>) = cols.into_iter().unzip();
    let valid = NullBuffer::from(rows.iter().map(Option::is_some).collect::<Vec<_>>());
    StructArray::new(fields.into(), arrays, Some(valid))
}

/// Per-document quality statistics (see the module table). Returns a struct array. Documents are
/// spread over the kernel pool (`threads.rs`: `set_threads` sizes it), as in the predicates below.
#[pyfunction]
fn quality_signals(py: Python<'_>, texts: PyArray) -> PyResult<PyArray> {
    let col = StrColumn::from_data(texts.0)?;
    let out = threads::detach(py, || {
        let rows: Vec<Option<Signals>> = (0..col.len())
            .into_par_iter()
            .map(|i| col.get(i).map(signals))
            .collect();
        signals_struct(&rows)
    })?;
    Ok(to_py(Arc::new(out)))
}

fn map_bool<F>(py: Python<'_>, texts: PyArray, f: F) -> PyResult<PyArray>
where
    F: Fn(&str) -> bool + Send + Sync,
{
    let col = StrColumn::from_data(texts.0)?;
    let out: BooleanArray = threads::detach(py, || {
        let rows: Vec<Option<bool>> = (0..col.len())
            .into_par_iter()
            .map(|i| col.get(i).map(&f))
            .collect();
        rows.into_iter().collect()
    })?;
    Ok(to_py(Arc::new(out)))
}

/// `GopherQualityFilter(...)` keep decision per document (null text -> null). Thresholds default
/// to datatrove's; `None` or 0 disables a check, as in datatrove.
#[pyfunction(name = "gopher_quality_ok")]
#[pyo3(signature = (texts, *, min_doc_words=Some(50.0), max_doc_words=Some(100_000.0),
    min_avg_word_length=Some(3.0), max_avg_word_length=Some(10.0), max_symbol_word_ratio=Some(0.1),
    max_bullet_lines_ratio=Some(0.9), max_ellipsis_lines_ratio=Some(0.3),
    max_non_alpha_words_ratio=Some(0.8), min_stop_words=Some(2.0), stop_words=None))]
#[allow(clippy::too_many_arguments)] // PyO3: one argument per Python keyword option
fn gopher_quality_ok_py(
    py: Python<'_>,
    texts: PyArray,
    min_doc_words: Option<f64>,
    max_doc_words: Option<f64>,
    min_avg_word_length: Option<f64>,
    max_avg_word_length: Option<f64>,
    max_symbol_word_ratio: Option<f64>,
    max_bullet_lines_ratio: Option<f64>,
    max_ellipsis_lines_ratio: Option<f64>,
    max_non_alpha_words_ratio: Option<f64>,
    min_stop_words: Option<f64>,
    stop_words: Option<Vec<String>>,
) -> PyResult<PyArray> {
    let p = GopherQualityParams {
        min_doc_words,
        max_doc_words,
        min_avg_word_length,
        max_avg_word_length,
        max_symbol_word_ratio,
        max_bullet_lines_ratio,
        max_ellipsis_lines_ratio,
        max_non_alpha_words_ratio,
        min_stop_words,
        stop_words: stop_words.unwrap_or_else(|| GopherQualityParams::default().stop_words),
    };
    map_bool(py, texts, |t| gopher_quality_ok(t, &p))
}

/// `GopherRepetitionFilter(...)` keep decision per document (null text -> null).
#[pyfunction(name = "gopher_repetition_ok")]
#[pyo3(signature = (texts, *, dup_line_frac=Some(0.3), dup_para_frac=Some(0.3),
    dup_line_char_frac=Some(0.2), dup_para_char_frac=Some(0.2),
    top_n_grams=vec![(2, 0.2), (3, 0.18), (4, 0.16)],
    dup_n_grams=vec![(5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10)]))]
#[allow(clippy::too_many_arguments)] // PyO3: one argument per Python keyword option
fn gopher_repetition_ok_py(
    py: Python<'_>,
    texts: PyArray,
    dup_line_frac: Option<f64>,
    dup_para_frac: Option<f64>,
    dup_line_char_frac: Option<f64>,
    dup_para_char_frac: Option<f64>,
    top_n_grams: Vec<(usize, f64)>,
    dup_n_grams: Vec<(usize, f64)>,
) -> PyResult<PyArray> {
    let p = GopherRepetitionParams {
        dup_line_frac,
        dup_para_frac,
        dup_line_char_frac,
        dup_para_char_frac,
        top_n_grams,
        dup_n_grams,
    };
    map_bool(py, texts, |t| gopher_repetition_ok(t, &p))
}

/// `FineWebQualityFilter(...)` keep decision per document (null text -> null).
#[pyfunction(name = "fineweb_quality_ok")]
#[pyo3(signature = (texts, *, line_punct_thr=0.12, line_punct_exclude_zero=false, stop_chars=None,
    short_line_thr=0.67, short_line_length=30, char_duplicates_ratio=0.01, new_line_ratio=0.3))]
#[allow(clippy::too_many_arguments)] // PyO3: one argument per Python keyword option
fn fineweb_quality_ok_py(
    py: Python<'_>,
    texts: PyArray,
    line_punct_thr: f64,
    line_punct_exclude_zero: bool,
    stop_chars: Option<Vec<String>>,
    short_line_thr: f64,
    short_line_length: usize,
    char_duplicates_ratio: f64,
    new_line_ratio: f64,
) -> PyResult<PyArray> {
    let p = FineWebParams {
        line_punct_thr,
        line_punct_exclude_zero,
        stop_chars,
        short_line_thr,
        short_line_length,
        char_duplicates_ratio,
        new_line_ratio,
    };
    map_bool(py, texts, |t| fineweb_quality_ok(t, &p))
}

/// `datatrove.utils.text.split_into_words(text, "en")` per document, as list<utf8>.
#[pyfunction]
fn english_words(py: Python<'_>, texts: PyArray) -> PyResult<PyArray> {
    use arrow::array::{ListBuilder, StringBuilder};
    let col = StrColumn::from_data(texts.0)?;
    let out = crate::arrow_io::detach_guarded(py, || {
        let mut b = ListBuilder::new(StringBuilder::new());
        for i in 0..col.len() {
            match col.get(i) {
                Some(t) => {
                    tokenizer::split_into_words(t)
                        .iter()
                        .for_each(|w| b.values().append_value(w));
                    b.append(true);
                }
                None => b.append(false),
            }
        }
        b.finish()
    })?;
    Ok(to_py(Arc::new(out)))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(quality_signals, m)?)?;
    m.add_function(wrap_pyfunction!(gopher_quality_ok_py, m)?)?;
    m.add_function(wrap_pyfunction!(gopher_repetition_ok_py, m)?)?;
    m.add_function(wrap_pyfunction!(fineweb_quality_ok_py, m)?)?;
    m.add_function(wrap_pyfunction!(english_words, m)?)?;
    Ok(())
}
