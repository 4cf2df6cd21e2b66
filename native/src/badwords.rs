//! C4's bad-words filter, exactly as datatrove 0.10.1's `C4BadWordsFilter` decides it (its
//! default `keep_fraction=0`: every page holding a bad word goes).
//!
//! `c4_badwords_ok(texts, language) -> bool`: FALSE when Python's `text.lower()` holds a word of
//! the LDNOOBW list for `language` flanked by non-word characters or the text's ends, i.e. where
//! datatrove's `re.search(r"(?:\W|^)(w1|w2|...)(?:\W|$)", text.lower())` finds one; for `ja`, `th`
//! and `zh` (no spaces between words) any occurrence counts. Null rows give null.
//!
//! The lists are the files datatrove downloads (the LDNOOBW repository at the commits it pins:
//! `en` at 25e679f0, the rest at 5faf2ba4), shipped in `mdfql/data/c4_badwords/` and compiled in.
//! Each line is stripped (Python `str.strip`) and, as datatrove does, the ja/zh allowlist
//! ("sm", "グロ", "女の子", "性") is taken out of every language's list. Words are matched as written:
//! the few with capitals (es, tr, zh, ...) can never occur in lowered text, in datatrove either.
//!
//! A regex search for `(?:\W|^)(alternatives)(?:\W|$)` finds a match iff some occurrence of some
//! word has a non-word character (or the text's edge) on both sides, so every occurrence is
//! visited (Aho-Corasick, overlapping) and its two neighbours checked. Python's `\w` is
//! `str.isalnum()` or `_`: Unicode categories L* and N* (Python 3.11's tables) and `_`.
//! Lowering is `str::to_lowercase` (full mappings and final sigma, as `str.lower`); only
//! characters assigned after Python 3.11's Unicode 14 can be told apart differently.

use std::sync::{Arc, OnceLock};

use aho_corasick::AhoCorasick;
use arrow::array::BooleanArray;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use rayon::prelude::*;

use crate::arrow_io::{to_py, PyArray, StrColumn};
use crate::quality::stats::py_strip;
use crate::quality::tables::{PY_ALPHA, PY_NUMERIC};
use crate::quality::tokenizer::in_ranges;
use crate::threads;

macro_rules! lists {
    ($($lang:literal),* $(,)?) => {
        [$(($lang, include_str!(concat!("../../mdfql/data/c4_badwords/", $lang)))),*]
    };
}

/// (language, list file) for datatrove's `_BADWORDS_LANGS`.
#[rustfmt::skip]
const LISTS: [(&str, &str); 28] = lists!(
    "ar", "cs", "da", "de", "en", "eo", "es", "fa", "fi", "fil", "fr", "fr-CA-u-sd-caqc", "hi",
    "hu", "it", "ja", "kab", "ko", "nl", "no", "pl", "pt", "ru", "sv", "th", "tlh", "tr", "zh",
);
/// Languages written without spaces: a word counts wherever it occurs.
const NO_BOUNDARIES: [&str; 3] = ["ja", "th", "zh"];
/// datatrove's `_BADWORDS_ALLOWLIST` (ja: "sm", "グロ", "女の子"; zh: "性"): common subwords,
/// removed from every list (its loop subtracts each language's allowlist from all of them).
const ALLOWLIST: [&str; 4] = ["sm", "グロ", "女の子", "性"];

/// One language's compiled list.
pub struct BadWords {
    words: AhoCorasick,
    boundaries: bool,
}

/// The languages with a list, in datatrove's order.
pub fn languages() -> impl Iterator<Item = &'static str> {
    LISTS.iter().map(|(lang, _)| *lang)
}

/// The words of a list file: each line stripped, blank lines and the allowlist left out.
/// (datatrove would keep a blank line as an empty alternative that matches nearly everywhere;
/// the shipped lists have none.)
fn list_words(list: &str) -> Vec<&str> {
    list.split(['\n', '\r'])
        .map(py_strip)
        .filter(|w| !w.is_empty() && !ALLOWLIST.contains(w))
        .collect()
}

/// The compiled list of `language` (built once per process), or None for a language without one.
pub fn badwords(language: &str) -> Option<&'static BadWords> {
    static CACHE: [OnceLock<BadWords>; LISTS.len()] = [const { OnceLock::new() }; LISTS.len()];
    let i = LISTS.iter().position(|(lang, _)| *lang == language)?;
    Some(CACHE[i].get_or_init(|| BadWords {
        // a list of a few hundred literal words always builds
        words: AhoCorasick::new(list_words(LISTS[i].1)).expect("bad-words automaton"),
        boundaries: !NO_BOUNDARIES.contains(&language),
    }))
}

/// Python re `\w`.
fn is_word(c: char) -> bool {
    c == '_' || in_ranges(c, PY_ALPHA) || in_ranges(c, PY_NUMERIC)
}

impl BadWords {
    /// Whether Python's `text.lower()` holds a listed word (on its own unless the language has
    /// no word boundaries).
    pub fn found_in(&self, text: &str) -> bool {
        let lowered = text.to_lowercase();
        if !self.boundaries {
            return self.words.is_match(&lowered);
        }
        // UTF-8 words match only at char boundaries of UTF-8 text, so the slices are valid
        self.words.find_overlapping_iter(&lowered).any(|m| {
            let before = lowered[..m.start()].chars().next_back();
            let after = lowered[m.end()..].chars().next();
            !before.is_some_and(is_word) && !after.is_some_and(is_word)
        })
    }
}

/// `C4BadWordsFilter(default_language=language)` keep decision per document (null -> null).
#[pyfunction]
#[pyo3(signature = (texts, *, language="en"))]
fn c4_badwords_ok(py: Python<'_>, texts: PyArray, language: &str) -> PyResult<PyArray> {
    let Some(list) = badwords(language) else {
        let known: Vec<&str> = languages().collect();
        return Err(PyValueError::new_err(format!(
            "no bad-words list for language {language:?}; lists: {}",
            known.join(", ")
        )));
    };
    let col = StrColumn::from_data(texts.0)?;
    let out: BooleanArray = threads::detach(py, || {
        let rows: Vec<Option<bool>> = (0..col.len())
            .into_par_iter()
            .map(|i| col.get(i).map(|t| !list.found_in(t)))
            .collect();
        rows.into_iter().collect()
    })?;
    Ok(to_py(Arc::new(out)))
}

/// The languages `c4_badwords_ok` has lists for.
#[pyfunction]
fn c4_badwords_languages() -> Vec<&'static str> {
    languages().collect()
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(c4_badwords_ok, m)?)?;
    m.add_function(wrap_pyfunction!(c4_badwords_languages, m)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(lang: &str, text: &str) -> bool {
        badwords(lang).unwrap().found_in(text)
    }

    #[test]
    fn lists_load_as_datatrove_reads_them() {
        assert_eq!(languages().count(), 28);
        for (lang, list) in LISTS {
            let lines: Vec<&str> = list.lines().collect();
            // no blank line: datatrove's empty alternative never arises
            assert!(lines.iter().all(|l| !py_strip(l).is_empty()), "{lang}");
            assert!(!list_words(list).is_empty(), "{lang}");
        }
        assert!(list_words(LISTS[4].1).contains(&"2g1c"));
        assert!(!list_words(LISTS[15].1).contains(&"sm")); // ja's allowlist
        assert!(badwords("xx").is_none());
        assert!(std::ptr::eq(
            badwords("en").unwrap(),
            badwords("en").unwrap()
        ));
    }

    #[test]
    fn word_boundaries_follow_python_re() {
        assert!(found("en", "fuck"));
        assert!(found("en", "Fuck this."));
        assert!(found("en", "what the FUCK"));
        assert!(found("en", "(fuck)"));
        assert!(found("en", "a-fuck-b"));
        assert!(found("en", "x\nfuck\n"));
        assert!(!found("en", "fucks"));
        assert!(!found("en", "_fuck"));
        assert!(!found("en", "fuck2"));
        assert!(!found("en", "éfuck"));
        assert!(!found("en", "fuck\u{b2}")); // superscript two is No: a word char
        assert!(found("en", "fuck\u{301}")); // a combining mark is not (Mn)
        assert!(!found("en", "Scunthorpe and assessment"));
        assert!(found("en", "two girls one cup"));
        assert!(found("en", "see 2g1c."));
        // "eat my ass" is not on its own here, the "ass" it overlaps is
        assert!(found("en", "xeat my ass"));
        assert!(!found("en", "xeat my assx"));
        assert!(!found("en", ""));
        assert!(!found("en", "A perfectly clean sentence."));
    }

    #[test]
    fn languages_without_spaces_match_anywhere() {
        let ja = list_words(LISTS[15].1);
        let word = ja[0];
        assert!(found("ja", &format!("あ{word}い")));
        assert!(!found("ja", "sm")); // allowlisted
        assert!(!found("zh", "性别"));
        // with boundaries, the same word inside a Japanese-like run is not on its own
        assert!(!found("en", "xfuckx"));
    }

    #[test]
    fn other_languages_have_boundaries_and_lowercase() {
        let de = list_words(LISTS[3].1);
        let word = de
            .iter()
            .find(|w| w.chars().all(char::is_lowercase))
            .unwrap();
        assert!(found(
            "de",
            &format!("Das ist {} hier.", word.to_uppercase())
        ));
        assert!(!found("de", &format!("Das ist x{word}x hier.")));
        // capitalised list words never match lowered text, as in datatrove
        let es = list_words(LISTS[6].1);
        let capital = es.iter().find(|w| w.to_lowercase() != **w).unwrap();
        assert!(!found("es", capital));
    }
}
