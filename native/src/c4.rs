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
//!
//! `c4_lines(texts) -> large_list<struct<start: int64, end: int64, hash: uint64>>`: the lines
//! C4's reference line dedup (TFDS `c4_utils.remove_duplicate_text`) compares, with their
//! character spans and a hash of their normalised form (see [`c4_lines`]), in the layout of
//! `dolma_paragraphs`. NULL for a NULL text.

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

use aho_corasick::AhoCorasick;
use arrow::array::{ArrayRef, BooleanArray, StringArray, StructArray};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{DataType, Field};
use pyo3::prelude::*;

use crate::arrow_io::{to_py, PyArray, StrColumn};
use crate::dolma::{hashed_span_lists, per_row, span, Span};
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

// --- line dedup keys (TFDS remove_duplicate_text) ---------------------------------------------

/// The form of a line TFDS's C4 dedup compares: Python `line.strip().lower()`.
///
/// `strip` is [`py_strip`] (Python's `str.isspace`); `lower` is Rust's `str::to_lowercase`,
/// which like `str.lower` applies the full (SpecialCasing) mappings without locale and maps a
/// final `Σ` to `ς` by the same context rule (cased letter before, none after, skipping
/// case-ignorables). They can differ only where the Unicode versions differ: Rust's tables
/// (Unicode 17 as of Rust 1.95) against Python 3.11's Unicode 14, i.e. for characters whose
/// case mapping or cased/case-ignorable property was added since (e.g. the Latin capitals
/// U+A7CB..U+A7DC of Unicode 16).
pub fn c4_line_key(line: &str) -> Cow<'_, str> {
    let s = py_strip(line);
    if s.is_ascii() && !s.bytes().any(|b| b.is_ascii_uppercase()) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(s.to_lowercase())
}

/// The lines of `text` as TFDS's C4 line dedup sees them (`_emit_url_to_lines` and
/// `_remove_lines_from_text`): every line of Python's `text.split("\n")`, blank ones and the
/// empty one after a final `\n` included (`""` gives one empty line), in order, as (span,
/// hash). The span is `[start, end)` in characters (code points, Python `str` indices) and
/// covers the line and the `\n` after it, except for the last line, which has none; so the
/// spans tile the text. The hash is xxh3-64 of the UTF-8 of [`c4_line_key`]
/// (`line.strip().lower()`), so two lines hash equal iff TFDS's md5 keys are equal (bar xxh3
/// collisions).
///
/// The dedup keeps, per key, only the first line of the one page owning it (smallest md5 of
/// the URL) and rejoins the kept original lines with `"\n"`. Removing the spans of the other
/// lines (e.g. with `remove_spans`) leaves exactly that rejoin when the text's last line is
/// kept, and that rejoin plus one trailing `"\n"` when the last line is removed and some line
/// is kept (the kept line before it keeps its newline): drop one trailing `"\n"` in that case.
/// (`remove_spans` reads `struct<start, end, score>`: give the lines to remove a `score`.)
/// With every line removed it leaves `""`, where TFDS drops the page (as it does when the
/// rejoin is `""`, i.e. only one blank line kept, or has fewer than 3 NLTK sentences).
pub fn c4_lines(text: &str) -> Vec<(Span, u64)> {
    let mut out = Vec::new();
    let (mut chars, mut bytes) = (0, 0);
    for line in text.split('\n') {
        let start = chars;
        chars += clen(line);
        bytes += line.len();
        if bytes < text.len() {
            // the `\n` after the line
            chars += 1;
            bytes += 1;
        }
        let hash = xxhash_rust::xxh3::xxh3_64(c4_line_key(line).as_bytes());
        out.push((span(start, chars), hash));
    }
    out
}

/// [`c4_lines`] per document: `large_list<struct<start: int64, end: int64, hash: uint64>>`,
/// NULL for a NULL text.
#[pyfunction]
#[pyo3(name = "c4_lines")]
fn c4_lines_py(py: Python<'_>, texts: PyArray) -> PyResult<PyArray> {
    per_row(py, texts, c4_lines, hashed_span_lists)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(c4_quality, m)?)?;
    m.add_function(wrap_pyfunction!(c4_lines_py, m)?)?;
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

    fn line_spans(text: &str) -> Vec<(i64, i64)> {
        c4_lines(text)
            .iter()
            .map(|(s, _)| (s.start, s.end))
            .collect()
    }

    fn hashes(text: &str) -> Vec<u64> {
        c4_lines(text).iter().map(|l| l.1).collect()
    }

    /// `text[start:end]` by Python (code point) indices.
    fn py_slice(text: &str, start: i64, end: i64) -> String {
        text.chars()
            .skip(start as usize)
            .take((end - start) as usize)
            .collect()
    }

    #[test]
    fn lines_split_as_python_split_newline() {
        // every piece of text.split("\n"), blank and whitespace-only ones included
        assert_eq!(
            line_spans("ab\n\ncd\n \nef"),
            [(0, 3), (3, 4), (4, 7), (7, 9), (9, 11)]
        );
        // a final "\n" leaves an empty last line, its span empty at the end of the text
        assert_eq!(line_spans("ab\ncd\n"), [(0, 3), (3, 6), (6, 6)]);
        assert_eq!(line_spans(""), [(0, 0)]);
        assert_eq!(line_spans("\n"), [(0, 1), (1, 1)]);
        assert_eq!(line_spans("\n\n"), [(0, 1), (1, 2), (2, 2)]);
        assert_eq!(line_spans("one line"), [(0, 8)]);
        // "\r" and other line breaks of str.splitlines do not split
        assert_eq!(line_spans("a\r\nb\u{2028}c\x0bd"), [(0, 3), (3, 8)]);
        assert_eq!(c4_lines("a\r\nb\u{2028}c\x0bd")[0].1, c4_lines("a")[0].1);
    }

    #[test]
    fn offsets_count_characters() {
        let text = "Grüße aus Köln.\n日本語のテキスト\n\u{1F600} emoji é\nend";
        let spans = line_spans(text);
        assert_eq!(spans, [(0, 16), (16, 25), (25, 35), (35, 38)]);
        let pieces: Vec<&str> = text.split('\n').collect();
        for (k, &(a, b)) in spans.iter().enumerate() {
            let expected = if k + 1 < pieces.len() {
                format!("{}\n", pieces[k])
            } else {
                pieces[k].to_string()
            };
            assert_eq!(py_slice(text, a, b), expected);
        }
        // the spans tile the text
        assert_eq!(spans.last().unwrap().1, text.chars().count() as i64);
        assert!(spans.windows(2).all(|w| w[0].1 == w[1].0));
    }

    #[test]
    fn keys_are_strip_lower() {
        assert_eq!(c4_line_key("  Hello World.\t\r"), "hello world.");
        assert_eq!(c4_line_key("plain line"), "plain line");
        assert!(matches!(c4_line_key("plain line"), Cow::Borrowed(_)));
        // Python whitespace, not only ASCII: U+00A0, U+3000, U+001C..U+001F, U+0085
        assert_eq!(c4_line_key("\u{a0}\u{3000}\u{1c}ÄÖÜ\u{85}"), "äöü");
        // full mappings and final sigma, as str.lower
        assert_eq!(c4_line_key("İSTANBUL"), "i\u{307}stanbul");
        assert_eq!(c4_line_key("ΟΔΟΣ ΣΟΦΙΑΣ"), "οδος σοφιας");
        // U+200B is not whitespace to Python: kept
        assert_eq!(c4_line_key("\u{200b}x"), "\u{200b}x");

        // case and surrounding whitespace give equal hashes
        let h = hashes("The Same Line.\n  the same line.  \nTHE SAME LINE.\r\n\tthe same line.");
        assert!(h.iter().all(|&x| x == h[0]), "{h:?}");
        // blank lines all share the hash of ""
        let h = hashes("\n  \n\t\u{3000}");
        assert!(h.iter().all(|&x| x == xxhash_rust::xxh3::xxh3_64(b"")));
        // different text (inner whitespace, punctuation, accents) different hashes
        let h = hashes("the same line.\nthe  same line.\nthe same line\nthé same line.\n");
        let distinct: std::collections::HashSet<u64> = h.iter().copied().collect();
        assert_eq!(distinct.len(), h.len(), "{h:?}");
    }

    /// Removing the spans of the lines a page does not keep gives the reference's
    /// `"\n".join(kept)`, plus one `"\n"` when the last line is removed and some line kept.
    #[test]
    fn removing_spans_rejoins_the_kept_lines() {
        let texts = [
            "A.\nB.\nA.\nC.",
            "A.\nB.\na.",
            "A.\nB.\n",
            "x\n\n\ny\n",
            "a\na\na",
            "Ünï.\nünï.  \nZ.",
            "",
        ];
        for text in texts {
            let lines = c4_lines(text);
            let pieces: Vec<&str> = text.split('\n').collect();
            // keep the first line of each key (the page owns every key), remove the rest
            let mut seen = std::collections::HashSet::new();
            let keep: Vec<bool> = lines.iter().map(|l| seen.insert(l.1)).collect();
            let kept: Vec<&str> = pieces
                .iter()
                .zip(&keep)
                .filter(|(_, &k)| k)
                .map(|(p, _)| *p)
                .collect();
            let mut removed: Vec<(Span, &str)> = lines
                .iter()
                .zip(&keep)
                .filter(|(_, &k)| !k)
                .map(|(l, _)| (l.0, ""))
                .collect();
            let mut got = crate::dolma::replace_spans(text, &mut removed);
            if !keep[keep.len() - 1] && keep.iter().any(|&k| k) {
                assert_eq!(got.pop(), Some('\n'), "{text:?}");
            }
            assert_eq!(got, kept.join("\n"), "{text:?}");
        }
    }
}
