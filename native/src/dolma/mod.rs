//! Dolma's taggers and its mixer's span replacement (allenai/dolma 1.2.1: python/dolma/taggers
//! `gopher.py` (`gopher_v1`), `c4.py` (`c4_v1`), `pii.py` (`pii_regex_with_counts_fast_v2`), the
//! paragraph splitting of src/deduper.rs and the span replacement of src/shard.rs).
//!
//! Dolma's taggers report spans `[start, end, score]` in code points (Python string offsets);
//! the mixer walks the text's characters, so its spans are character offsets too. Here a span
//! is `struct<start: int64, end: int64, score: float64>`. Words are Python's `str.split()`
//! (whitespace as `str.isspace`), lengths are Python `len` (code points), ratios are integer
//! counts divided once, as Python's `int / int` (so equal bit for bit).
//!
//! - `dolma_gopher(texts)`: the gopher_v1 attributes; the n-gram fractions are NULL where Dolma
//!   writes no attribute (fewer than n words).
//! - `dolma_c4(texts)`: the c4_v1 attributes (line spans, flags, line count).
//! - `dolma_pii(texts)`: the regex PII spans and their count (`doc_count`).
//! - `dolma_paragraphs(texts)`: the paragraphs Dolma's deduper keys (split on `\n`, blank ones
//!   skipped) with its span offsets and an xxh3 hash of the paragraph text.
//! - `remove_spans(texts, spans, min_score, replacement, typed)`: the mixer's replacement of the
//!   spans scoring >= `min_score`.

use std::sync::{Arc, OnceLock};

use arrow::array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, LargeListArray, StringArray,
    StructArray, UInt64Array,
};
use arrow::buffer::{NullBuffer, OffsetBuffer};
use arrow::datatypes::{DataType, Field, Fields};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use rayon::prelude::*;
use regex::Regex;
use rustc_hash::{FxHashMap, FxHashSet};

use crate::arrow_io::{to_py, PyArray, StrColumn};
use crate::pii::IPV4;
use crate::quality::stats::{clen, has_alpha, py_strip};
use crate::quality::tokenizer::py_isspace;
use crate::threads;

/// A Dolma span: character offsets `[start, end)` and a score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Span {
    pub start: i64,
    pub end: i64,
    pub score: f64,
}

pub(crate) fn span(start: usize, end: usize) -> Span {
    Span {
        start: start as i64,
        end: end as i64,
        score: 1.0,
    }
}

/// Python `str.split()`.
fn py_words(text: &str) -> impl Iterator<Item = &str> {
    text.split(py_isspace).filter(|w| !w.is_empty())
}

/// `a / max(b, 1)` of Python integers.
fn frac(a: usize, b: usize) -> f64 {
    a as f64 / b.max(1) as f64
}

// --- gopher_v1 -------------------------------------------------------------------------------

/// gopher.py's `REQUIRED_ENGLISH_WORDS`.
const REQUIRED_WORDS: [&str; 8] = ["the", "be", "to", "of", "and", "that", "have", "with"];

/// `gopher.get_attributes(text)` (ignore_empty_lines=False, as `gopher_v1`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Gopher {
    pub character_count: i64,
    pub word_count: i64,
    pub median_word_length: f64,
    pub symbol_to_word_ratio: f64,
    pub fraction_of_words_with_alpha_character: f64,
    pub required_word_count: i64,
    pub fraction_of_lines_starting_with_bullet_point: f64,
    pub fraction_of_lines_ending_with_ellipsis: f64,
    pub fraction_of_duplicate_lines: f64,
    pub fraction_of_characters_in_duplicate_lines: f64,
    /// n = 2, 3, 4: the most common n-gram's count times its characters / word characters
    pub most_common_ngram: [Option<f64>; 3],
    /// n = 5..=10: characters of all occurrences of repeated n-grams / those of all n-grams
    pub duplicate_ngrams: [Option<f64>; 6],
}

fn median(mut v: Vec<usize>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_unstable();
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m] as f64
    } else {
        (v[m - 1] + v[m]) as f64 / 2.0
    }
}

pub fn gopher(text: &str) -> Gopher {
    let mut g = Gopher {
        character_count: clen(text) as i64,
        ..Gopher::default()
    };
    if text.is_empty() {
        return g;
    }
    let words: Vec<&str> = py_words(text).collect();
    let lens: Vec<usize> = words.iter().map(|w| clen(w)).collect();
    let word_chars: usize = lens.iter().sum();
    g.word_count = words.len() as i64;
    g.median_word_length = median(lens.clone());
    let symbols = words.iter().filter(|w| w.contains(['#', '…'])).count();
    g.symbol_to_word_ratio = frac(symbols, words.len());
    let alpha = words.iter().filter(|w| has_alpha(w)).count();
    g.fraction_of_words_with_alpha_character = frac(alpha, words.len());
    g.required_word_count = words.iter().filter(|w| REQUIRED_WORDS.contains(w)).count() as i64;

    // n-grams as slices of word ids; Counter's order is first occurrence, and most_common(1)
    // is the first n-gram of the highest count in that order
    let mut ids_of: FxHashMap<&str, u32> = FxHashMap::default();
    let ids: Vec<u32> = words
        .iter()
        .map(|w| {
            let next = ids_of.len() as u32;
            *ids_of.entry(w).or_insert(next)
        })
        .collect();
    let mut chars = vec![0usize; words.len() + 1]; // prefix sums of word lengths
    for (k, l) in lens.iter().enumerate() {
        chars[k + 1] = chars[k] + l;
    }
    for n in 2..=10usize {
        if words.len() < n {
            continue;
        }
        let mut counts: FxHashMap<&[u32], (usize, usize)> = FxHashMap::default();
        for i in 0..=words.len() - n {
            counts.entry(&ids[i..i + n]).or_insert((0, i)).0 += 1;
        }
        if n <= 4 {
            let &(count, first) = counts
                .values()
                .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)))
                .expect("at least one n-gram");
            let value = frac(count * (chars[first + n] - chars[first]), word_chars);
            g.most_common_ngram[n - 2] = Some(value);
        } else {
            let (mut dup, mut all) = (0, 0);
            for i in 0..=words.len() - n {
                let c = chars[i + n] - chars[i];
                all += c;
                if counts[&ids[i..i + n]].0 > 1 {
                    dup += c;
                }
            }
            g.duplicate_ngrams[n - 5] = Some(frac(dup, all));
        }
    }

    let lines: Vec<&str> = text.split('\n').collect();
    let bullets = lines.iter().filter(|l| l.starts_with(['*', '-'])).count();
    let ellipses = lines.iter().filter(|l| l.ends_with('…')).count();
    g.fraction_of_lines_starting_with_bullet_point = frac(bullets, lines.len());
    g.fraction_of_lines_ending_with_ellipsis = frac(ellipses, lines.len());
    let mut line_counts: FxHashMap<&str, usize> = FxHashMap::default();
    for l in &lines {
        *line_counts.entry(l).or_insert(0) += 1;
    }
    let (mut dup_lines, mut dup_chars) = (0, 0);
    for (l, &c) in &line_counts {
        if c > 1 {
            dup_lines += c;
            dup_chars += clen(l) * c;
        }
    }
    g.fraction_of_duplicate_lines = frac(dup_lines, lines.len());
    g.fraction_of_characters_in_duplicate_lines = frac(dup_chars, word_chars);
    g
}

// --- c4_v1 -----------------------------------------------------------------------------------

/// `c4.get_attributes(text)` (`c4_v1`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct C4 {
    pub lines_with_no_ending_punctuation: Vec<Span>,
    pub lines_with_too_few_words: Vec<Span>,
    pub has_naughty_word: bool,
    pub has_javascript: bool,
    pub has_lorem_ipsum: bool,
    pub has_curly_brace: bool,
    pub line_count: i64,
}

/// c4.py's MIN_WORDS_PER_LINE.
const C4_MIN_WORDS: usize = 3;

/// Dolma's `naughty_words_en.txt`, copied unchanged: the English "List of Dirty, Naughty,
/// Obscene, and Otherwise Bad Words" (LDNOOBW, CC BY 4.0) as dolma (Apache-2.0) ships it.
/// Single words are matched as words, phrases (with a space) as substrings.
fn naughty() -> &'static (FxHashSet<&'static str>, Vec<&'static str>) {
    static N: OnceLock<(FxHashSet<&'static str>, Vec<&'static str>)> = OnceLock::new();
    N.get_or_init(|| {
        let lines = include_str!("naughty_words_en.txt").lines();
        let (phrases, words): (Vec<&str>, Vec<&str>) = lines.partition(|l| l.contains(' '));
        (words.into_iter().collect(), phrases)
    })
}

pub fn c4(text: &str) -> C4 {
    let mut a = C4::default();
    let (words_set, phrases) = naughty();
    let lines: Vec<&str> = text.split('\n').collect();
    a.line_count = lines.len() as i64;
    let mut offset = 0;
    for (k, original) in lines.iter().enumerate() {
        let end = offset + clen(original) + usize::from(k + 1 < lines.len());
        let lowered = original.to_lowercase();
        let line = py_strip(&lowered);
        if !line.ends_with(['.', '?', '!', '"']) {
            a.lines_with_no_ending_punctuation.push(span(offset, end));
        }
        let words: Vec<&str> = py_words(line).collect();
        if words.len() < C4_MIN_WORDS {
            a.lines_with_too_few_words.push(span(offset, end));
        }
        if words.iter().any(|w| words_set.contains(w)) || phrases.iter().any(|p| line.contains(p)) {
            a.has_naughty_word = true;
        }
        a.has_javascript |= words.contains(&"javascript");
        a.has_lorem_ipsum |= line.contains("lorem ipsum");
        a.has_curly_brace |= line.contains('{');
        offset = end;
    }
    a
}

// --- pii_regex_with_counts_fast_v2 -----------------------------------------------------------

/// The PII spans of one document, by type, in the tagger's order within each type.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Pii {
    pub email: Vec<Span>,
    pub phone: Vec<Span>,
    pub ip: Vec<Span>,
}

impl Pii {
    /// `doc_count`: spans of any PII type.
    pub fn count(&self) -> usize {
        self.email.len() + self.phone.len() + self.ip.len()
    }
}

struct PiiRegexes {
    email: Regex,
    phone: Regex,
    ip: Regex,
    pre_phone: Regex,
    pre_ip: Regex,
}

/// pii.py's patterns with Python's `\s` spelled out: Python's `str` `\s` is `str.isspace`,
/// which adds the information separators U+001C..U+001F to Rust's White_Space. `\d` is
/// Unicode decimal digits in both.
fn pii_regexes() -> &'static PiiRegexes {
    static R: OnceLock<PiiRegexes> = OnceLock::new();
    R.get_or_init(|| {
        let s = r"\s\x1c-\x1f";
        let re = |p: String| Regex::new(&p).expect("valid PII regex");
        PiiRegexes {
            email: re(format!(
                r"[.{s}@,?!;:)(]*([^{s}@]+@[^{s}@,?!;:)(]+?)[.{s}@,?!;:)(]?[{s}\n\r]"
            )),
            phone: re(format!(
                r"[{s}]+\(?(\d{{3}})\)?[-\. ]*(\d{{3}})[-. ]?(\d{{4}})"
            )),
            ip: re(IPV4.to_string()),
            pre_phone: re(r"\d".to_string()),
            pre_ip: re(format!(r"\.[^{s}]")),
        }
    })
}

/// Character offsets of byte offsets ascending within `text`, counted incrementally.
struct CharOffsets<'a> {
    text: &'a str,
    byte: usize,
    chars: usize,
}

impl CharOffsets<'_> {
    fn at(&mut self, byte: usize) -> usize {
        if byte < self.byte {
            self.byte = 0;
            self.chars = 0;
        }
        self.chars += clen(&self.text[self.byte..byte]);
        self.byte = byte;
        self.chars
    }
}

/// pii.py's `doc.text.count("?") > 10_000` guard: such documents are not searched.
const MAX_QUESTION_MARKS: usize = 10_000;

pub fn pii(text: &str) -> Pii {
    let mut out = Pii::default();
    if text.bytes().filter(|&b| b == b'?').count() > MAX_QUESTION_MARKS {
        return out;
    }
    let r = pii_regexes();
    let mut pos = CharOffsets {
        text,
        byte: 0,
        chars: 0,
    };
    // dolma.core.utils.split_paragraphs: `[^\n]*\n|[^\n]+$`, blank paragraphs dropped
    let mut start = 0;
    while start < text.len() {
        let end = text[start..]
            .find('\n')
            .map_or(text.len(), |k| start + k + 1);
        let par = &text[start..end];
        start = end;
        if py_strip(par).is_empty() {
            continue;
        }
        let base = end - par.len();
        let mut found = |m: regex::Match, into: &mut Vec<Span>| {
            let a = pos.at(base + m.start());
            let b = pos.at(base + m.end());
            into.push(span(a, b));
        };
        if par.contains('@') {
            for c in r.email.captures_iter(par) {
                let (addressee, domain) = c[1].split_once('@').expect("the regex holds an @");
                if py_strip(addressee) == "(" || !domain.contains('.') {
                    continue;
                }
                found(c.get(0).expect("match"), &mut out.email);
            }
        }
        if r.pre_phone.is_match(par) {
            for m in r.phone.find_iter(par) {
                found(m, &mut out.phone);
            }
        }
        // pii.py also skips IPs matching its URL regex, but that regex opens with "\b" in a
        // non-raw string (a backspace character), which a dotted quad never contains
        if r.pre_ip.is_match(par) {
            for m in r.ip.find_iter(par) {
                found(m, &mut out.ip);
            }
        }
    }
    out
}

// --- deduper paragraphs ----------------------------------------------------------------------

/// The paragraphs Dolma's deduper checks (`text.split("\n")`, paragraphs blank after `trim`
/// skipped, `skip_empty: true` as Dolma's CC config): (span, the paragraph). Its offsets
/// count characters, but it adds the newline only while `offset < text.len() - 1`, comparing
/// with the length in bytes: reproduced, since the mixer removes exactly these spans.
pub fn paragraphs(text: &str) -> Vec<(Span, &str)> {
    let mut out = Vec::new();
    if text.is_empty() {
        return out;
    }
    let mut offset = 0;
    for p in text.split('\n') {
        let start = offset;
        offset += clen(p);
        if offset + 1 < text.len() {
            offset += 1;
        }
        if !p.trim().is_empty() {
            out.push((span(start, offset), p));
        }
    }
    out
}

// --- mixer span replacement ------------------------------------------------------------------

/// The mixer's `span_replacement` (src/shard.rs), for spans already filtered by score: sorted
/// by start (stable), walked over the characters; a span that starts inside an earlier one is
/// skipped when that one ends (so a partly overlapping span keeps its tail), and `{}` in a
/// replacement is the replaced text.
pub fn replace_spans(text: &str, spans: &mut [(Span, &str)]) -> String {
    if spans.is_empty() {
        return text.to_string();
    }
    spans.sort_by_key(|s| s.0.start);
    let mut out = String::with_capacity(text.len());
    let push_replacement = |out: &mut String, repl: &str, replaced: &str| {
        if !repl.is_empty() {
            out.push_str(&repl.replace("{}", replaced));
        }
    };
    let (mut k, mut from) = (0, 0);
    for (i, (b, c)) in text.char_indices().enumerate() {
        let i = i as i64;
        if k >= spans.len() {
            out.push(c);
            continue;
        }
        let (s, repl) = spans[k];
        if i == s.start {
            from = b;
        }
        if i >= s.start && i < s.end {
            continue;
        }
        if i == s.end {
            push_replacement(&mut out, repl, &text[from..b]);
            while k < spans.len() && spans[k].0.start < i {
                k += 1;
            }
        }
        if k < spans.len() && spans[k].0.start == i {
            from = b;
        } else {
            out.push(c);
        }
    }
    if k < spans.len() {
        push_replacement(&mut out, spans[k].1, &text[from..]);
    }
    out
}

// --- Arrow ----------------------------------------------------------------------------------

fn span_fields() -> Fields {
    Fields::from(vec![
        Field::new("start", DataType::Int64, false),
        Field::new("end", DataType::Int64, false),
        Field::new("score", DataType::Float64, false),
    ])
}

/// `large_list<struct<start, end, score>>`, NULL where `rows` is None.
fn span_lists(rows: &[Option<&[Span]>]) -> LargeListArray {
    let flat: Vec<Span> = rows
        .iter()
        .flatten()
        .flat_map(|s| s.iter().copied())
        .collect();
    let children: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(flat.iter().map(|s| s.start))),
        Arc::new(Int64Array::from_iter_values(flat.iter().map(|s| s.end))),
        Arc::new(Float64Array::from_iter_values(flat.iter().map(|s| s.score))),
    ];
    let values = StructArray::new(span_fields(), children, None);
    let item = Arc::new(Field::new("item", values.data_type().clone(), true));
    LargeListArray::new(
        item,
        OffsetBuffer::from_lengths(rows.iter().map(|r| r.map_or(0, <[Span]>::len))),
        Arc::new(values),
        Some(NullBuffer::from(
            rows.iter().map(Option::is_some).collect::<Vec<_>>(),
        )),
    )
}

fn struct_of(columns: Vec<(&str, ArrayRef)>, valid: Vec<bool>) -> StructArray {
    let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) = columns
        .into_iter()
        .map(|(n, a)| (Field::new(n, a.data_type().clone(), true), a))
        .unzip();
    StructArray::new(Fields::from(fields), arrays, Some(NullBuffer::from(valid)))
}

/// `f` over the non-null texts of `texts`, spread over the kernel pool.
pub(crate) fn per_row<T: Send>(
    py: Python<'_>,
    texts: PyArray,
    f: impl Fn(&str) -> T + Send + Sync,
    build: impl FnOnce(Vec<Option<T>>) -> ArrayRef + Send,
) -> PyResult<PyArray> {
    let col = StrColumn::from_data(texts.0)?;
    let out = threads::detach(py, || {
        let rows: Vec<Option<T>> = (0..col.len())
            .into_par_iter()
            .map(|i| col.get(i).map(&f))
            .collect();
        build(rows)
    })?;
    Ok(to_py(out))
}

fn valid<T>(rows: &[Option<T>]) -> Vec<bool> {
    rows.iter().map(Option::is_some).collect()
}

/// gopher_v1's attributes per document, named as Dolma names them.
#[pyfunction]
fn dolma_gopher(py: Python<'_>, texts: PyArray) -> PyResult<PyArray> {
    per_row(py, texts, gopher, |rows: Vec<Option<Gopher>>| {
        let f = |get: fn(&Gopher) -> f64| -> ArrayRef {
            Arc::new(
                rows.iter()
                    .map(|r| r.as_ref().map(get))
                    .collect::<Float64Array>(),
            )
        };
        let i = |get: fn(&Gopher) -> i64| -> ArrayRef {
            Arc::new(
                rows.iter()
                    .map(|r| r.as_ref().map(get))
                    .collect::<Int64Array>(),
            )
        };
        let mut cols: Vec<(&str, ArrayRef)> = vec![
            ("character_count", i(|g| g.character_count)),
            ("word_count", i(|g| g.word_count)),
            ("median_word_length", f(|g| g.median_word_length)),
            ("symbol_to_word_ratio", f(|g| g.symbol_to_word_ratio)),
            (
                "fraction_of_words_with_alpha_character",
                f(|g| g.fraction_of_words_with_alpha_character),
            ),
            ("required_word_count", i(|g| g.required_word_count)),
            (
                "fraction_of_lines_starting_with_bullet_point",
                f(|g| g.fraction_of_lines_starting_with_bullet_point),
            ),
            (
                "fraction_of_lines_ending_with_ellipsis",
                f(|g| g.fraction_of_lines_ending_with_ellipsis),
            ),
            (
                "fraction_of_duplicate_lines",
                f(|g| g.fraction_of_duplicate_lines),
            ),
            (
                "fraction_of_characters_in_duplicate_lines",
                f(|g| g.fraction_of_characters_in_duplicate_lines),
            ),
        ];
        const MOST: [&str; 3] = [
            "fraction_of_characters_in_most_common_2grams",
            "fraction_of_characters_in_most_common_3grams",
            "fraction_of_characters_in_most_common_4grams",
        ];
        const DUP: [&str; 6] = [
            "fraction_of_characters_in_duplicate_5grams",
            "fraction_of_characters_in_duplicate_6grams",
            "fraction_of_characters_in_duplicate_7grams",
            "fraction_of_characters_in_duplicate_8grams",
            "fraction_of_characters_in_duplicate_9grams",
            "fraction_of_characters_in_duplicate_10grams",
        ];
        for (k, name) in MOST.iter().enumerate() {
            let a: Float64Array = rows
                .iter()
                .map(|r| r.as_ref().and_then(|g| g.most_common_ngram[k]))
                .collect();
            cols.push((name, Arc::new(a)));
        }
        for (k, name) in DUP.iter().enumerate() {
            let a: Float64Array = rows
                .iter()
                .map(|r| r.as_ref().and_then(|g| g.duplicate_ngrams[k]))
                .collect();
            cols.push((name, Arc::new(a)));
        }
        Arc::new(struct_of(cols, valid(&rows)))
    })
}

/// One span-list column of per-document results, `get` picking a document's spans.
fn span_column<T>(rows: &[Option<T>], get: fn(&T) -> &[Span]) -> ArrayRef {
    let lists: Vec<Option<&[Span]>> = rows.iter().map(|r| r.as_ref().map(get)).collect();
    Arc::new(span_lists(&lists))
}

/// c4_v1's attributes per document.
#[pyfunction]
fn dolma_c4(py: Python<'_>, texts: PyArray) -> PyResult<PyArray> {
    per_row(py, texts, c4, |rows: Vec<Option<C4>>| {
        let flag = |get: fn(&C4) -> bool| -> ArrayRef {
            Arc::new(
                rows.iter()
                    .map(|r| r.as_ref().map(get))
                    .collect::<BooleanArray>(),
            )
        };
        let lines: Int64Array = rows
            .iter()
            .map(|r| r.as_ref().map(|a| a.line_count))
            .collect();
        let cols: Vec<(&str, ArrayRef)> = vec![
            (
                "lines_with_no_ending_punctuation",
                span_column(&rows, |a| &a.lines_with_no_ending_punctuation),
            ),
            (
                "lines_with_too_few_words",
                span_column(&rows, |a| &a.lines_with_too_few_words),
            ),
            ("has_naughty_word", flag(|a| a.has_naughty_word)),
            ("has_javascript", flag(|a| a.has_javascript)),
            ("has_lorem_ipsum", flag(|a| a.has_lorem_ipsum)),
            ("has_curly_brace", flag(|a| a.has_curly_brace)),
            ("line_count", Arc::new(lines)),
        ];
        Arc::new(struct_of(cols, valid(&rows)))
    })
}

/// pii_regex_with_counts_fast_v2's spans and doc_count per document.
#[pyfunction]
fn dolma_pii(py: Python<'_>, texts: PyArray) -> PyResult<PyArray> {
    per_row(py, texts, pii, |rows: Vec<Option<Pii>>| {
        let count: Int64Array = rows
            .iter()
            .map(|r| r.as_ref().map(|p| p.count() as i64))
            .collect();
        let cols: Vec<(&str, ArrayRef)> = vec![
            ("EMAIL_ADDRESS", span_column(&rows, |p| &p.email)),
            ("PHONE_NUMBER", span_column(&rows, |p| &p.phone)),
            ("IP_ADDRESS", span_column(&rows, |p| &p.ip)),
            ("doc_count", Arc::new(count)),
        ];
        Arc::new(struct_of(cols, valid(&rows)))
    })
}

/// The deduper's paragraphs per document: `large_list<struct<start, end, hash: uint64>>`, the
/// hash xxh3-64 of the paragraph's UTF-8 text.
#[pyfunction]
fn dolma_paragraphs(py: Python<'_>, texts: PyArray) -> PyResult<PyArray> {
    let pars = |t: &str| -> Vec<(Span, u64)> {
        paragraphs(t)
            .into_iter()
            .map(|(s, p)| (s, xxhash_rust::xxh3::xxh3_64(p.as_bytes())))
            .collect()
    };
    per_row(py, texts, pars, hashed_span_lists)
}

/// `large_list<struct<start: int64, end: int64, hash: uint64>>` of (span, hash) per row, NULL
/// where the row is None (the layout of `dolma_paragraphs`, and of `c4_lines`).
pub(crate) fn hashed_span_lists(rows: Vec<Option<Vec<(Span, u64)>>>) -> ArrayRef {
    let flat: Vec<&(Span, u64)> = rows.iter().flatten().flatten().collect();
    let children: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(flat.iter().map(|s| s.0.start))),
        Arc::new(Int64Array::from_iter_values(flat.iter().map(|s| s.0.end))),
        Arc::new(UInt64Array::from_iter_values(flat.iter().map(|s| s.1))),
    ];
    let fields = Fields::from(vec![
        Field::new("start", DataType::Int64, false),
        Field::new("end", DataType::Int64, false),
        Field::new("hash", DataType::UInt64, false),
    ]);
    let values = StructArray::new(fields, children, None);
    let item = Arc::new(Field::new("item", values.data_type().clone(), true));
    Arc::new(LargeListArray::new(
        item,
        OffsetBuffer::from_lengths(rows.iter().map(|r| r.as_ref().map_or(0, Vec::len))),
        Arc::new(values),
        Some(NullBuffer::from(valid(&rows))),
    ))
}

/// The mixer's span replacement per document. `spans`: `large_list<struct<start: int64, end:
/// int64, score: float64[, type: utf8]>>` (NULL: no spans); those scoring >= `min_score` are
/// replaced by `replacement`, or, for a span whose `type` is a key of `typed`, by that entry.
#[pyfunction]
#[pyo3(signature = (texts, spans, *, min_score=0.5, replacement=String::new(), typed=Vec::new()))]
fn remove_spans(
    py: Python<'_>,
    texts: PyArray,
    spans: PyArray,
    min_score: f64,
    replacement: String,
    typed: Vec<(String, String)>,
) -> PyResult<PyArray> {
    let col = StrColumn::from_data(texts.0)?;
    let lists = LargeListArray::from(spans.0);
    if lists.len() != col.len() {
        return Err(PyValueError::new_err("texts and spans differ in length"));
    }
    let values = lists
        .values()
        .as_any()
        .downcast_ref::<StructArray>()
        .ok_or_else(|| PyValueError::new_err("spans must be lists of structs"))?;
    let field = |name: &str| {
        values
            .column_by_name(name)
            .ok_or_else(|| PyValueError::new_err(format!("spans lack the field {name}")))
    };
    let int = |name: &str| -> PyResult<Int64Array> {
        field(name)?
            .as_any()
            .downcast_ref::<Int64Array>()
            .cloned()
            .ok_or_else(|| PyValueError::new_err(format!("span {name} must be int64")))
    };
    let (starts, ends) = (int("start")?, int("end")?);
    let scores = field("score")?
        .as_any()
        .downcast_ref::<Float64Array>()
        .cloned()
        .ok_or_else(|| PyValueError::new_err("span score must be float64"))?;
    let types = match values.column_by_name("type") {
        None => None,
        Some(t) => Some(
            t.as_any()
                .downcast_ref::<StringArray>()
                .cloned()
                .ok_or_else(|| PyValueError::new_err("span type must be utf8"))?,
        ),
    };
    let typed: FxHashMap<String, String> = typed.into_iter().collect();
    let out: StringArray = threads::detach(py, || {
        let rows: Vec<Option<String>> = (0..col.len())
            .into_par_iter()
            .map(|i| {
                let text = col.get(i)?;
                if lists.is_null(i) {
                    return Some(text.to_string());
                }
                let offs = lists.value_offsets();
                let mut chosen: Vec<(Span, &str)> = (offs[i] as usize..offs[i + 1] as usize)
                    .filter(|&j| scores.value(j) >= min_score)
                    .map(|j| {
                        let repl = types
                            .as_ref()
                            .filter(|t| t.is_valid(j))
                            .and_then(|t| typed.get(t.value(j)))
                            .map_or(replacement.as_str(), String::as_str);
                        let s = Span {
                            start: starts.value(j),
                            end: ends.value(j),
                            score: scores.value(j),
                        };
                        (s, repl)
                    })
                    .collect();
                Some(replace_spans(text, &mut chosen))
            })
            .collect();
        rows.into_iter().collect()
    })?;
    Ok(to_py(Arc::new(out)))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(dolma_gopher, m)?)?;
    m.add_function(wrap_pyfunction!(dolma_c4, m)?)?;
    m.add_function(wrap_pyfunction!(dolma_pii, m)?)?;
    m.add_function(wrap_pyfunction!(dolma_paragraphs, m)?)?;
    m.add_function(wrap_pyfunction!(remove_spans, m)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans_of(v: &[Span]) -> Vec<(i64, i64)> {
        v.iter().map(|s| (s.start, s.end)).collect()
    }

    // expected values recorded from dolma 1.2.1's taggers on the same texts
    const DOC: &str = "Hello the world of and\n\nmail me at foo@bar.com now. Call 555 123 4567 \
                       or 10.0.0.1 ok.\nHello the world of and\n";

    #[test]
    fn gopher_matches_dolma() {
        let g = gopher(DOC);
        assert_eq!(
            (g.character_count, g.word_count, g.required_word_count),
            (109, 22, 6)
        );
        assert_eq!(g.median_word_length, 3.0);
        assert_eq!(g.fraction_of_words_with_alpha_character, 18.0 / 22.0);
        assert_eq!(g.fraction_of_duplicate_lines, 0.8); // the two empty lines count
        assert_eq!(g.fraction_of_characters_in_duplicate_lines, 44.0 / 86.0);
        assert_eq!(g.most_common_ngram[0], Some(0.18604651162790697));
        assert_eq!(g.most_common_ngram[2], Some(0.3488372093023256));
        assert_eq!(g.duplicate_ngrams[0], Some(0.1005586592178771));
        assert_eq!(g.duplicate_ngrams[1], Some(0.0));
        let short = gopher("two words");
        assert_eq!(short.most_common_ngram, [Some(1.0), None, None]);
        assert_eq!(short.duplicate_ngrams, [None; 6]);
        assert_eq!(gopher(""), Gopher::default());
        assert_eq!(median(vec![1, 4, 2, 3]), 2.5);
        let s = gopher("#tag a… b\n* x\n- y…");
        assert_eq!(s.symbol_to_word_ratio, 3.0 / 7.0);
        assert_eq!(s.fraction_of_lines_starting_with_bullet_point, 2.0 / 3.0);
        assert_eq!(s.fraction_of_lines_ending_with_ellipsis, 1.0 / 3.0);
        // ties between most common n-grams: the first seen wins (Counter.most_common)
        assert_eq!(gopher("aa b c dddd").most_common_ngram[0], Some(3.0 / 8.0));
    }

    #[test]
    fn c4_matches_dolma() {
        let a = c4(DOC);
        assert_eq!(
            spans_of(&a.lines_with_no_ending_punctuation),
            [(0, 23), (23, 24), (86, 109), (109, 109)]
        );
        assert_eq!(
            spans_of(&a.lines_with_too_few_words),
            [(23, 24), (109, 109)]
        );
        assert_eq!(a.line_count, 5);
        assert!(!a.has_naughty_word && !a.has_javascript && !a.has_curly_brace);
        let b = c4("Enable JavaScript now.\nSome Lorem Ipsum { here.\nan 2g1c thing.");
        assert!(b.has_javascript && b.has_lorem_ipsum && b.has_curly_brace && b.has_naughty_word);
        assert!(c4("2 girls 1 cup was here.").has_naughty_word);
        assert!(!c4("javascripts here ok.").has_javascript); // a word, not a substring
        assert_eq!(
            spans_of(&c4("é.\nno").lines_with_no_ending_punctuation),
            [(3, 5)]
        );
    }

    #[test]
    fn pii_matches_dolma() {
        let p = pii(DOC);
        assert_eq!(spans_of(&p.email), [(34, 47)]);
        assert_eq!(spans_of(&p.phone), [(56, 69)]);
        assert_eq!(spans_of(&p.ip), [(73, 81)]);
        assert_eq!(p.count(), 3);
        // no "." in the domain, or an email at the very end (no whitespace after it)
        assert_eq!(pii("write to a@b now\n").count(), 0);
        assert_eq!(pii("write to a@b.org").count(), 0);
        // offsets are characters: "é" is two bytes
        assert_eq!(spans_of(&pii("é mail a@b.org \n").email), [(6, 16)]);
        // a phone number needs whitespace before it within its paragraph
        assert_eq!(pii("5551234567 x").count(), 0);
        assert_eq!(pii("\u{1f}5551234567 x").count(), 1); // Python's \s includes U+001F
        assert_eq!(pii(&"?".repeat(10_001)).count(), 0);
    }

    #[test]
    fn paragraphs_match_the_deduper() {
        let got: Vec<_> = paragraphs("ab\n\ncd\nef")
            .into_iter()
            .map(|(s, p)| (s.start, s.end, p))
            .collect();
        assert_eq!(got, [(0, 3, "ab"), (4, 7, "cd"), (7, 9, "ef")]);
        // the last newline is left out when offset reaches len - 1 (bytes)
        let got: Vec<_> = paragraphs("ab\ncd\n")
            .into_iter()
            .map(|(s, _)| (s.start, s.end))
            .collect();
        assert_eq!(got, [(0, 3), (3, 5)]);
        assert!(paragraphs("").is_empty() && paragraphs(" \n\t").is_empty());
    }

    #[test]
    fn replacement_follows_the_mixer() {
        let s = |a, b| Span {
            start: a,
            end: b,
            score: 1.0,
        };
        assert_eq!(replace_spans("abcdef", &mut []), "abcdef");
        assert_eq!(replace_spans("abcdef", &mut [(s(1, 3), "")]), "adef");
        assert_eq!(
            replace_spans("abcdef", &mut [(s(4, 6), "<{}>"), (s(0, 1), "X")]),
            "Xbcd<ef>"
        );
        // nested spans go with the outer one; a partly overlapping one keeps its tail
        assert_eq!(
            replace_spans("abcdef", &mut [(s(0, 4), ""), (s(1, 2), "Y")]),
            "ef"
        );
        assert_eq!(
            replace_spans("abcdef", &mut [(s(0, 3), ""), (s(2, 5), "")]),
            "def"
        );
        // adjacent spans, characters not bytes
        assert_eq!(
            replace_spans("éaéb", &mut [(s(0, 1), "1"), (s(1, 2), "2")]),
            "12éb"
        );
    }
}
