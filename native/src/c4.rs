//! C4's line filter, exactly as datatrove 0.10.1's `C4QualityFilter` (what FineWeb ran).
//!
//! `c4_quality(texts, **options) -> struct<keep: bool, text: utf8>`: per document, lines (Python
//! `str.splitlines`, or spaCy sentences with `split_paragraph=False`) are stripped and dropped when
//! they hold a word over `max_word_length` chars, lack terminal punctuation (`. ? ! " '`, not
//! `...`), have fewer than `min_words_per_line` words (Python `str.split`, counted before citation
//! removal), mention "javascript" or a cookie/terms-of-use phrase; Wikipedia citations (`[1]`,
//! `[edit]`, `[citation needed]`) are removed first. The whole document is dropped on "lorem
//! ipsum", on `{`, or when the kept lines hold fewer than `min_num_sentences` spaCy sentences.
//! `text` is the kept lines joined by `\n` (`" "` for sentences), stripped; NULL when dropped.
//! Null input rows give null output rows.
//!
//! Words, sentences, `strip`/`splitlines`/`len` follow Python and spaCy through the quality
//! module's tokenizer (`quality::tokenizer`) and string helpers (`quality::stats`). Sentences are
//! spaCy's `Sentencizer` over the blank-English tokenizer's tokens, including its whitespace tokens
//! (any run of whitespace other than one single space), which can start a sentence.

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

use aho_corasick::AhoCorasick;
use arrow::array::{ArrayRef, BooleanArray, StringArray, StructArray};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{DataType, Field};
use pyo3::prelude::*;

use crate::arrow_io::{to_py, PyArray, StrColumn};
use crate::quality::stats::{clen, py_splitlines, py_strip};
use crate::quality::tables;
use crate::quality::tokenizer::{in_ranges, py_isspace, split_into_words};

const C4_END_PUNCT: [&str; 5] = [".", "?", "!", "\"", "'"];
const C4_POLICY: [&str; 6] = [
    "terms of use",
    "privacy policy",
    "cookie policy",
    "uses cookies",
    "use of cookies",
    "use cookies",
];

/// `re.sub(r"\[\d*]|\[edit]|\[citation needed]", "", line)`.
fn remove_citations(line: &str) -> Cow<'_, str> {
    if !line.contains('[') {
        return line.into();
    }
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(p) = rest.find('[') {
        out.push_str(&rest[..p]);
        let after = &rest[p + 1..];
        let digits = after
            .chars()
            .take_while(|&c| in_ranges(c, tables::PY_DECIMAL))
            .count();
        let dlen: usize = after.chars().take(digits).map(char::len_utf8).sum();
        if after[dlen..].starts_with(']') {
            rest = &after[dlen + 1..];
        } else if let Some(r) = after.strip_prefix("edit]") {
            rest = r;
        } else if let Some(r) = after.strip_prefix("citation needed]") {
            rest = r;
        } else {
            out.push('[');
            rest = after;
        }
    }
    out.push_str(rest);
    out.into()
}

/// `len(line.split())`: runs of non-whitespace (Python `str.isspace`).
fn word_count(line: &str) -> i64 {
    if !line.is_ascii() {
        return line.split(py_isspace).filter(|w| !w.is_empty()).count() as i64;
    }
    let space = |b: &u8| matches!(b, b'\t'..=b'\r' | 0x1c..=b' ');
    let mut n = 0;
    let mut prev_space = true;
    for b in line.as_bytes() {
        let sp = space(b);
        n += i64::from(prev_space && !sp);
        prev_space = sp;
    }
    n
}

/// The phrases C4 looks for in `line.lower()`: "lorem ipsum" (pattern 0), "javascript" (1),
/// `C4_POLICY` (2..).
fn phrase_matcher() -> &'static AhoCorasick {
    static M: OnceLock<AhoCorasick> = OnceLock::new();
    M.get_or_init(|| {
        let pats = ["lorem ipsum", "javascript"].into_iter().chain(C4_POLICY);
        AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(pats)
            .expect("C4 phrases")
    })
}

const LOREM_IPSUM: u32 = 1;
const JAVASCRIPT: u32 = 2;
const POLICY: u32 = !3;

/// Which C4 phrases Python's `line.lower()` contains, as bits of `phrase_matcher`'s patterns.
/// Only U+0130 and U+212A lower to strings holding ASCII letters; without them, matching the
/// ASCII phrases ASCII-case-insensitively in `line` itself finds the same ones.
fn phrase_hits(line: &str) -> u32 {
    let lowered;
    let hay = if line.contains(['\u{130}', '\u{212a}']) {
        lowered = line.to_lowercase();
        &lowered
    } else {
        line
    };
    phrase_matcher()
        .find_overlapping_iter(hay)
        .fold(0, |hits, m| hits | 1 << m.pattern().as_u32())
}

/// `C4QualityFilter(...)` options; `Default` is datatrove's defaults. -1 disables the three counts.
#[derive(Debug, Clone)]
pub struct C4Params {
    pub split_paragraph: bool,
    pub remove_citations: bool,
    pub filter_no_terminal_punct: bool,
    pub min_num_sentences: i64,
    pub min_words_per_line: i64,
    pub max_word_length: i64,
    pub filter_lorem_ipsum: bool,
    pub filter_javascript: bool,
    pub filter_curly_bracket: bool,
    pub filter_policy: bool,
}

impl Default for C4Params {
    fn default() -> Self {
        C4Params {
            split_paragraph: true,
            remove_citations: true,
            filter_no_terminal_punct: true,
            min_num_sentences: 5,
            min_words_per_line: 3,
            max_word_length: 1000,
            filter_lorem_ipsum: true,
            filter_javascript: true,
            filter_curly_bracket: true,
            filter_policy: true,
        }
    }
}

/// One token of spaCy's `Doc`: its end (byte offset) and the two flags the Sentencizer reads.
struct Tok {
    end: usize,
    in_punct_chars: bool,
    is_punct: bool,
}

/// spaCy's whitespace token for the whitespace `text[a..b]` between two chunks: the first char
/// is the previous token's trailing space when it is `' '` (and there is a previous token).
fn space_token(text: &str, a: usize, b: usize, after_token: bool) -> Option<Tok> {
    let a = if after_token && text[a..b].starts_with(' ') {
        a + 1
    } else {
        a
    };
    (a < b).then_some(Tok {
        end: b,
        in_punct_chars: false,
        is_punct: false,
    })
}

/// End offsets (bytes) of the sentences of `spacy.blank("en")` + `sentencizer` over `text`:
/// a sentence starts at a token that is neither punctuation nor a sentence-final char, when a
/// sentence-final char (`.`, `!`, `?`, ...) came before it in the current sentence.
pub fn sentence_ends(text: &str) -> Vec<usize> {
    let base = text.as_ptr() as usize;
    let mut toks: Vec<Tok> = Vec::new();
    let mut prev_end: Option<usize> = None;
    for w in split_into_words(text) {
        let start = w.as_ptr() as usize - base;
        let gap_start = prev_end.unwrap_or(0);
        toks.extend(space_token(text, gap_start, start, prev_end.is_some()));
        let mut chars = w.chars();
        let first = chars.next().unwrap_or(' ');
        toks.push(Tok {
            end: start + w.len(),
            in_punct_chars: chars.next().is_none()
                && tables::SENT_PUNCT.binary_search(&(first as u32)).is_ok(),
            is_punct: w.chars().all(|c| in_ranges(c, tables::PY_PUNCT)),
        });
        prev_end = Some(start + w.len());
    }
    toks.extend(space_token(
        text,
        prev_end.unwrap_or(0),
        text.len(),
        prev_end.is_some(),
    ));
    let mut ends = Vec::new();
    let mut seen_period = false;
    for (i, t) in toks.iter().enumerate() {
        if seen_period && !t.is_punct && !t.in_punct_chars {
            ends.push(toks[i - 1].end);
            seen_period = false;
        } else if t.in_punct_chars {
            seen_period = true;
        }
    }
    if let Some(last) = toks.last() {
        ends.push(last.end);
    }
    ends
}

/// datatrove `split_into_sentences(text, "en")`: `text` cut at every sentence end but the last
/// (so the pieces cover the whole text; an empty text is one empty piece).
pub fn split_into_sentences(text: &str) -> Vec<&str> {
    let ends = sentence_ends(text);
    let mut out = Vec::with_capacity(ends.len().max(1));
    let mut start = 0;
    for &e in ends.iter().take(ends.len().saturating_sub(1)) {
        out.push(&text[start..e]);
        start = e;
    }
    out.push(&text[start..]);
    out
}

/// The line that makes `C4QualityFilter` drop a whole document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum C4Drop {
    LoremIpsum,
    CurlyBracket,
}

/// `C4QualityFilter`'s pass over a document's lines.
pub struct C4Scan<'a> {
    /// kept lines (citations removed), up to the document-dropping line if there is one
    pub kept: Vec<Cow<'a, str>>,
    /// sentences in `kept` (spaCy's, or one per line with `split_paragraph=False`); without
    /// `exact_sentences`, lines after the `min_num_sentences`-th sentence count one each
    pub sentences: i64,
    pub dropped: Option<C4Drop>,
}

/// `C4QualityFilter(...).filter(doc)`'s line loop. `exact_sentences` counts every kept line's
/// sentences even once the document has enough (the filter itself needs no more than that).
pub fn c4_scan<'a>(text: &'a str, p: &C4Params, exact_sentences: bool) -> C4Scan<'a> {
    let lines = if p.split_paragraph {
        py_splitlines(text)
    } else {
        split_into_sentences(text)
    };
    let mut sentences: i64 = 0;
    let mut kept: Vec<Cow<'_, str>> = Vec::new();
    let mut dropped = None;
    for raw in lines {
        let line = py_strip(raw);
        let n_words = word_count(line);
        // a line no longer than the limit (bytes >= chars) has no word over it
        let too_long = p.max_word_length != -1
            && line.len() as i64 > p.max_word_length
            && line
                .split(py_isspace)
                .any(|w| clen(w) as i64 > p.max_word_length);
        if too_long {
            continue;
        }
        let line = if p.remove_citations {
            remove_citations(line)
        } else {
            Cow::Borrowed(line)
        };
        if p.filter_no_terminal_punct
            && (!C4_END_PUNCT.iter().any(|e| line.ends_with(e)) || line.ends_with("..."))
        {
            continue;
        }
        if n_words < p.min_words_per_line {
            continue;
        }
        let hits = phrase_hits(&line);
        if p.filter_lorem_ipsum && hits & LOREM_IPSUM != 0 {
            dropped = Some(C4Drop::LoremIpsum);
            break;
        }
        if p.filter_javascript && hits & JAVASCRIPT != 0 {
            continue;
        }
        if p.filter_curly_bracket && line.contains('{') {
            dropped = Some(C4Drop::CurlyBracket);
            break;
        }
        if p.filter_policy && hits & POLICY != 0 {
            continue;
        }
        if p.min_num_sentences != -1 {
            // A whole unsplit paragraph counts once; once the outcome is settled (and exact
            // counts are not asked for) each line counts once too, sparing the tokenizer.
            let settled = sentences >= p.min_num_sentences && !exact_sentences;
            sentences += if !p.split_paragraph || settled {
                1
            } else {
                sentence_ends(&line).len().max(1) as i64
            };
        }
        kept.push(line);
    }
    C4Scan {
        kept,
        sentences,
        dropped,
    }
}

/// `C4QualityFilter(...).filter(doc)`: the filtered text when the document is kept, else `None`.
pub fn c4_filter(text: &str, p: &C4Params) -> Option<String> {
    let scan = c4_scan(text, p, false);
    if scan.dropped.is_some() || scan.sentences < p.min_num_sentences {
        return None;
    }
    let joined = scan.kept.join(if p.split_paragraph { "\n" } else { " " });
    Some(py_strip(&joined).to_string())
}

fn c4_struct(rows: Vec<Option<Option<String>>>) -> StructArray {
    let keep: BooleanArray = rows
        .iter()
        .map(|r| r.as_ref().map(Option::is_some))
        .collect();
    let valid = NullBuffer::from(rows.iter().map(Option::is_some).collect::<Vec<_>>());
    let text: StringArray = rows.into_iter().map(Option::flatten).collect();
    StructArray::new(
        vec![
            Arc::new(Field::new("keep", DataType::Boolean, true)),
            Arc::new(Field::new("text", DataType::Utf8, true)),
        ]
        .into(),
        vec![Arc::new(keep) as ArrayRef, Arc::new(text) as ArrayRef],
        Some(valid),
    )
}

/// `C4QualityFilter(...)` per document: struct {keep, text} (text NULL when dropped).
#[pyfunction]
#[pyo3(signature = (texts, *, split_paragraph=true, remove_citations=true,
    filter_no_terminal_punct=true, min_num_sentences=5, min_words_per_line=3,
    max_word_length=1000, filter_lorem_ipsum=true, filter_javascript=true,
    filter_curly_bracket=true, filter_policy=true))]
#[allow(clippy::too_many_arguments)] // PyO3: one argument per Python keyword option
fn c4_quality(
    py: Python<'_>,
    texts: PyArray,
    split_paragraph: bool,
    remove_citations: bool,
    filter_no_terminal_punct: bool,
    min_num_sentences: i64,
    min_words_per_line: i64,
    max_word_length: i64,
    filter_lorem_ipsum: bool,
    filter_javascript: bool,
    filter_curly_bracket: bool,
    filter_policy: bool,
) -> PyResult<PyArray> {
    let p = C4Params {
        split_paragraph,
        remove_citations,
        filter_no_terminal_punct,
        min_num_sentences,
        min_words_per_line,
        max_word_length,
        filter_lorem_ipsum,
        filter_javascript,
        filter_curly_bracket,
        filter_policy,
    };
    let col = StrColumn::from_data(texts.0)?;
    let out = crate::arrow_io::detach_guarded(py, || {
        let rows = (0..col.len())
            .map(|i| col.get(i).map(|t| c4_filter(t, &p)))
            .collect();
        c4_struct(rows)
    })?;
    Ok(to_py(Arc::new(out)))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(c4_quality, m)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sents(t: &str) -> Vec<&str> {
        split_into_sentences(t)
    }

    #[test]
    fn sentences_match_spacy() {
        // expected pieces recorded from datatrove's split_into_sentences (spaCy 3.8)
        assert_eq!(sents("Hi.  . Foo bar"), ["Hi.", "  .", " Foo bar"]);
        assert_eq!(sents("Hi. . Foo bar"), ["Hi. .", " Foo bar"]);
        assert_eq!(sents("Hi.\t. Foo"), ["Hi.", "\t.", " Foo"]);
        assert_eq!(
            sents("One. Two!  Three? Four"),
            ["One.", " Two!", "  Three?", " Four"]
        );
        assert_eq!(sents("  Lead. space"), ["  Lead.", " space"]);
        assert_eq!(sents("Hi.  "), ["Hi.", "  "]);
        assert_eq!(sents(""), [""]);
        assert_eq!(sents("a.\n\nb"), ["a.\n\nb"]);
        assert_eq!(sents("Mr. Smith went. Home"), ["Mr. Smith went.", " Home"]);
    }

    #[test]
    fn line_rules() {
        let p = C4Params::default();
        let doc = "One two three. Four five six!\nno punctuation here\nUse of cookies is fine.\n\
                   Seven eight nine. Ten eleven twelve? Thirteen fourteen fifteen.\n\
                   Cited line here.[1]\nTwo words.\nEnable JavaScript to view.";
        assert_eq!(
            c4_filter(doc, &p).as_deref(),
            Some(
                "One two three. Four five six!\n\
                 Seven eight nine. Ten eleven twelve? Thirteen fourteen fifteen.\nCited line here."
            )
        );
        let few = C4Params {
            min_num_sentences: 7,
            ..C4Params::default()
        };
        assert_eq!(c4_filter(doc, &few), None);
        assert_eq!(c4_filter("Some lorem ipsum dolor here.", &p), None);
        assert_eq!(c4_filter("Some LOREM Ipsum dolor here.", &p), None);
        // U+212A KELVIN SIGN lowers to an ASCII k
        assert_eq!(phrase_hits("Our Coo\u{212a}ie Policy, É"), 1 << 4);
        assert_eq!(
            phrase_hits("No JavaScript: Lorem Ipsum"),
            LOREM_IPSUM | JAVASCRIPT
        );
        assert_eq!(phrase_hits("javascripterms of use"), JAVASCRIPT | 1 << 2);
        assert_eq!(phrase_hits("lorem \u{130}psum"), 0); // lowers to "i\u{307}psum"
        for line in ["", " ", "a", " a  b\tc\x1fd ", "x\u{a0}y z", "\u{3000}é ü"] {
            let py = line.split(py_isspace).filter(|w| !w.is_empty()).count() as i64;
            assert_eq!(word_count(line), py, "{line:?}");
        }
        assert_eq!(
            remove_citations("a[1] b[edit] c[citation needed] d[x]"),
            "a b c d[x]"
        );
        assert_eq!(c4_filter("A { brace in here.\n", &p), None);
        // a line that is skipped earlier never reaches the document-dropping checks
        let fw = C4Params {
            filter_no_terminal_punct: false,
            min_num_sentences: -1,
            ..C4Params::default()
        };
        assert_eq!(
            c4_filter("no end here\nx {\nlast one here [edit]", &fw).as_deref(),
            Some("no end here\nlast one here")
        );
        assert_eq!(c4_filter("", &fw).as_deref(), Some(""));
        let by_sentence = C4Params {
            split_paragraph: false,
            min_num_sentences: 2,
            ..C4Params::default()
        };
        assert_eq!(
            c4_filter("First one is here. Second one too!\nShort.", &by_sentence).as_deref(),
            Some("First one is here. Second one too!")
        );
    }
}
