//! RefinedWeb-style line corrections (Penedo et al. 2023, "line-wise corrections").
//!
//! Lines are `\n`-separated; words are whitespace-separated. A line is dropped when:
//! - its uppercase ratio (uppercase letters / letters) is > 0.5 (lines with letters only);
//! - it is entirely numeric: no letter, at least one digit, otherwise only whitespace and
//!   `. , : ; / - + % ( )` (dates, phone numbers, prices);
//! - it is a counter: `^[0-9][0-9.,]*[kKmM]? <unit>$`, unit (case-insensitive) one of
//!   like(s), share(s), comment(s), view(s), follower(s), retweet(s), reply/replies, review(s),
//!   vote(s), point(s), favorite(s), download(s), answer(s);
//! - it has fewer than 2 words (after the edits below).
//!
//! Lines of at most 10 words are edited (case-insensitive):
//! - sign-in prefix removed: `^(sign|log) ?-?(in|on)\b` with following `: | - – >` and spaces;
//! - read-more suffix removed: `read more` optionally followed by `...`, `…`, `»`, `>>`, `→`,
//!   `>` at the end of the line (with preceding spaces and `[`/`(`, trailing `]`/`)`);
//! - cart counters removed: `\b\d+ items? in (your )?(shopping )?cart\b`.
//!
//! Output: the kept lines joined with `\n`, and `removed_word_fraction` = words removed (dropped
//! lines plus edited-out words) / words of the input (0 for a document without words). RefinedWeb
//! drops a document when that fraction exceeds 0.05; the caller decides.

use std::sync::{Arc, OnceLock};

use arrow::array::{ArrayRef, Float64Builder, StringBuilder, StructArray};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{DataType, Field};
use pyo3::prelude::*;
use regex::Regex;

use crate::arrow_io::{to_py, PyArray, StrColumn};

struct Patterns {
    counter: Regex,
    sign_in: Regex,
    read_more: Regex,
    cart: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| Patterns {
        counter: Regex::new(
            r"(?i)^\s*[0-9][0-9.,]*[km]?\s+(likes?|shares?|comments?|views?|followers?|retweets?|repl(y|ies)|reviews?|votes?|points?|favou?rites?|downloads?|answers?)\s*$",
        )
        .unwrap(),
        sign_in: Regex::new(r"(?i)^\s*(sign|log)\s?-?(in|on)\b[\s:|>\-–]*").unwrap(),
        read_more: Regex::new(r"(?i)[\s\[(]*read\s+more\s*(\.\.\.|…|»|>>|→|>)?[\s\])]*$").unwrap(),
        cart: Regex::new(r"(?i)\b\d+\s+items?\s+in\s+(your\s+)?(shopping\s+)?cart\b").unwrap(),
    })
}

fn word_count(s: &str) -> usize {
    s.split_whitespace().count()
}

fn uppercase_heavy(line: &str) -> bool {
    let (mut letters, mut upper) = (0usize, 0usize);
    for c in line.chars().filter(|c| c.is_alphabetic()) {
        letters += 1;
        upper += c.is_uppercase() as usize;
    }
    letters > 0 && upper * 2 > letters
}

fn entirely_numeric(line: &str) -> bool {
    let mut digit = false;
    for c in line.chars() {
        if c.is_numeric() {
            digit = true;
        } else if !(c.is_whitespace() || ".,:;/-+%()".contains(c)) {
            return false;
        }
    }
    digit
}

/// Correct one line: `None` when the line is dropped, else its (possibly edited) text.
pub fn correct_line(line: &str) -> Option<String> {
    let p = patterns();
    if uppercase_heavy(line) || entirely_numeric(line) || p.counter.is_match(line) {
        return None;
    }
    let mut out = line.to_string();
    if word_count(line) <= 10 {
        out = p.sign_in.replace(&out, "").into_owned();
        out = p.read_more.replace(&out, "").into_owned();
        out = p.cart.replace_all(&out, "").into_owned();
    }
    (word_count(&out) >= 2).then_some(out)
}

/// Apply the corrections to a document: (corrected text, removed word fraction).
pub fn correct(text: &str) -> (String, f64) {
    let total = word_count(text);
    let mut kept_words = 0;
    let mut kept: Vec<String> = Vec::new();
    for line in text.split('\n') {
        if let Some(l) = correct_line(line) {
            kept_words += word_count(&l);
            kept.push(l);
        }
    }
    let frac = if total == 0 {
        0.0
    } else {
        (total - kept_words) as f64 / total as f64
    };
    (kept.join("\n"), frac)
}

/// RefinedWeb line corrections per document: struct{text: utf8, removed_word_fraction: float64}.
#[pyfunction]
fn refinedweb_line_corrections(py: Python<'_>, texts: PyArray) -> PyResult<PyArray> {
    let col = StrColumn::from_data(texts.0)?;
    let out = crate::arrow_io::detach_guarded(py, || {
        let mut tb = StringBuilder::new();
        let mut valid = Vec::with_capacity(col.len());
        let mut fb = Float64Builder::with_capacity(col.len());
        for i in 0..col.len() {
            match col.get(i) {
                Some(t) => {
                    let (s, f) = correct(t);
                    valid.push(true);
                    tb.append_value(s);
                    fb.append_value(f);
                }
                None => {
                    valid.push(false);
                    tb.append_null();
                    fb.append_null();
                }
            }
        }
        let fields = vec![
            Field::new("text", DataType::Utf8, true),
            Field::new("removed_word_fraction", DataType::Float64, true),
        ];
        let arrays: Vec<ArrayRef> = vec![Arc::new(tb.finish()), Arc::new(fb.finish())];
        StructArray::new(fields.into(), arrays, Some(NullBuffer::from(valid)))
    })?;
    Ok(to_py(Arc::new(out)))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(refinedweb_line_corrections, m)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_and_edits_lines() {
        assert_eq!(correct_line("THIS IS A SHOUTED HEADLINE"), None);
        assert_eq!(correct_line("12/03/2021 14:55"), None);
        assert_eq!(correct_line("3 likes"), None);
        assert_eq!(correct_line("1.2K Shares"), None);
        assert_eq!(correct_line("Home"), None);
        assert_eq!(
            correct_line("Sign in to see the full story").as_deref(),
            Some("to see the full story")
        );
        assert_eq!(
            correct_line("The mayor resigned today. Read more...").as_deref(),
            Some("The mayor resigned today.")
        );
        assert_eq!(
            correct_line("Shop now 3 items in cart today").as_deref(),
            Some("Shop now  today")
        );
        let long = "Sign in to read this article, which has more than ten words in it";
        assert_eq!(correct_line(long).as_deref(), Some(long));
        assert_eq!(
            correct_line("It was a good day."),
            Some("It was a good day.".to_string())
        );
    }

    #[test]
    fn reports_removed_fraction() {
        let (text, frac) =
            correct("A real sentence here.\nMENU\n5 comments\nAnother fine sentence.");
        assert_eq!(text, "A real sentence here.\nAnother fine sentence.");
        assert!((frac - 3.0 / 10.0).abs() < 1e-12);
        assert_eq!(correct(""), (String::new(), 0.0));
    }
}
