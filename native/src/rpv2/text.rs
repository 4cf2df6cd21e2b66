//! The text views RedPajama-V2's signals are defined over, with Python's character classes.
//!
//! RPv2 computes every signal from a few views of one document (its `Document` class):
//! - raw lines: the text cut after each `\n` (the `\n` stays in its line; a last piece without
//!   `\n` is a line when non-empty), i.e. `re.finditer(r"([^\n]*\n|[^\n]+$)", text)`;
//! - normalised text (`normalize`): ASCII punctuation (`string.punctuation`) deleted, then
//!   `str.lower()`, then `strip()` and every `\s+` run replaced by one space, then Unicode NFD;
//! - normalised words: the normalised text split on whitespace;
//! - raw words: nltk's `WordPunctTokenizer`, the regex `\w+|[^\w\s]+` over the raw text.
//!
//! `\w`, `\s`, `isupper`, `isnumeric` are Python's (`str` methods and `re` with Unicode): `\w` is
//! `isalpha() or isnumeric()` or `_` (combining marks are *not* word characters, unlike Rust's
//! regex), `\s` is `isspace()` (which adds U+001C..U+001F to Unicode's White_Space).
//! Their tables (`tables.rs`) come from Python 3.11 (Unicode 14); lowercasing and NFD use Rust's
//! newer Unicode data, so only characters assigned after Unicode 14 can come out differently.

use unicode_normalization::UnicodeNormalization;

use super::tables::{LOWER_OR_TITLE, NUMERIC, UPPER};
use crate::quality::tables::PY_ALPHA;
use crate::quality::tokenizer::{in_ranges, py_isspace};

/// Python `str.isspace` (also `re`'s `\s`, and what `strip()`/`split()` cut on).
#[inline]
pub fn is_space(c: char) -> bool {
    if c.is_ascii() {
        matches!(c, '\t'..='\r' | '\u{1c}'..='\u{1f}' | ' ')
    } else {
        py_isspace(c)
    }
}

/// Python `re`'s Unicode `\w`: `str.isalnum()` or `_`.
#[inline]
pub fn is_word_char(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric() || c == '_'
    } else {
        in_ranges(c, PY_ALPHA) || in_ranges(c, NUMERIC)
    }
}

/// A Python character class: the ASCII rule, else a generated range table.
#[inline]
fn py_class(c: char, ascii: fn(&char) -> bool, table: &[(u32, u32)]) -> bool {
    if c.is_ascii() {
        ascii(&c)
    } else {
        in_ranges(c, table)
    }
}

/// Python `str.isnumeric` of one character.
#[inline]
pub fn is_numeric(c: char) -> bool {
    py_class(c, char::is_ascii_digit, NUMERIC)
}

/// Python `str.isupper` of one character.
#[inline]
pub fn is_upper(c: char) -> bool {
    py_class(c, char::is_ascii_uppercase, UPPER)
}

#[inline]
fn is_lower_or_title(c: char) -> bool {
    py_class(c, char::is_ascii_lowercase, LOWER_OR_TITLE)
}

/// Python `str.isupper` of a string: no lowercase or titlecase character and at least one
/// uppercase one.
pub fn str_is_upper(s: &str) -> bool {
    let mut cased = false;
    for c in s.chars() {
        if is_lower_or_title(c) {
            return false;
        }
        cased |= is_upper(c);
    }
    cased
}

/// Python `s.rstrip()`.
pub fn rstrip(s: &str) -> &str {
    s.trim_end_matches(is_space)
}

/// Python `s.lstrip()`.
pub fn lstrip(s: &str) -> &str {
    s.trim_start_matches(is_space)
}

/// RPv2's raw lines (see the module docs); an empty text has none.
pub fn raw_lines(text: &str) -> std::str::SplitInclusive<'_, char> {
    text.split_inclusive('\n')
}

/// RPv2's `normalize(text)` (defaults: punctuation removed, lowercased, whitespace collapsed,
/// NFD), written into `out` (cleared first). `scratch` is reused between calls.
pub fn normalize_into(text: &str, out: &mut String, scratch: &mut String) {
    out.clear();
    if text.is_ascii() {
        // lower, whitespace and NFD are all byte-wise on ASCII
        let mut pending_space = false;
        for b in text.bytes() {
            if b.is_ascii_punctuation() {
                continue;
            }
            if is_space(b as char) {
                pending_space = true;
                continue;
            }
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.push(b.to_ascii_lowercase() as char);
        }
        return;
    }
    // Python lowercases the whole punctuation-free string: the context of a final sigma
    // (`Σ` -> `ς`) is that string, as in Rust's `str::to_lowercase`
    scratch.clear();
    scratch.extend(text.chars().filter(|c| !c.is_ascii_punctuation()));
    let lowered = scratch.to_lowercase();
    scratch.clear();
    let mut pending_space = false;
    for c in lowered.chars() {
        if is_space(c) {
            pending_space = true;
            continue;
        }
        if pending_space && !scratch.is_empty() {
            scratch.push(' ');
        }
        pending_space = false;
        scratch.push(c);
    }
    // NFD last (a space is a starter, so decomposing after collapsing changes nothing else)
    out.extend(scratch.nfd());
}

/// One raw word (nltk `WordPunctTokenizer` token) with what the signals need from it.
pub struct RawWord<'a> {
    pub text: &'a str,
    /// a `\w+` run (else a `[^\w\s]+` run)
    pub is_word: bool,
}

/// nltk's `WordPunctTokenizer().tokenize(text)`: maximal runs of `\w`, or of characters that are
/// neither `\w` nor `\s`.
pub fn raw_words(text: &str) -> Vec<RawWord<'_>> {
    let mut out = Vec::new();
    let mut start: Option<(usize, bool)> = None;
    for (i, c) in text.char_indices() {
        let class = if is_space(c) {
            None
        } else {
            Some(is_word_char(c))
        };
        match (start, class) {
            (Some((_, w)), Some(k)) if w == k => {}
            (Some((s, w)), _) => {
                out.push(RawWord {
                    text: &text[s..i],
                    is_word: w,
                });
                start = class.map(|k| (i, k));
            }
            (None, _) => start = class.map(|k| (i, k)),
        }
    }
    if let Some((s, w)) = start {
        out.push(RawWord {
            text: &text[s..],
            is_word: w,
        });
    }
    out
}

/// `len(re.findall(r"\b[^.!?]+[.!?]*", text))` with Python's Unicode `\b`.
pub fn count_sentences(text: &str) -> usize {
    #[derive(PartialEq)]
    enum Phase {
        Search,
        Body,
        Tail,
    }
    let mut phase = Phase::Search;
    let mut prev_word = false;
    let mut count = 0;
    for c in text.chars() {
        let word = is_word_char(c);
        let terminal = matches!(c, '.' | '!' | '?');
        if phase == Phase::Tail && !terminal {
            // the match ended here; the next search starts at this character
            phase = Phase::Search;
        }
        match phase {
            Phase::Search if !terminal && word != prev_word => {
                count += 1;
                phase = Phase::Body;
            }
            Phase::Body if terminal => phase = Phase::Tail,
            _ => {}
        }
        prev_word = word;
    }
    count
}

/// `len(re.findall("lorem ipsum", s, re.IGNORECASE))` for a lowercased `s`: under Python's
/// case folding `i` also matches `ı`/`İ` and `s` also matches `ſ` (U+017F).
pub fn count_lorem_ipsum(s: &str) -> usize {
    fn matches_at(chars: &[char]) -> bool {
        const PAT: &str = "lorem ipsum";
        PAT.chars().zip(chars).all(|(p, &c)| match p {
            'i' => matches!(c, 'i' | 'I' | '\u{130}' | '\u{131}'),
            's' => matches!(c, 's' | 'S' | '\u{17f}'),
            _ => c.to_ascii_lowercase() == p,
        })
    }
    let chars: Vec<char> = s.chars().collect();
    let n = 11;
    let mut count = 0;
    let mut i = 0;
    while i + n <= chars.len() {
        if matches_at(&chars[i..i + n]) {
            count += 1;
            i += n;
        } else {
            i += 1;
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        let (mut out, mut scratch) = (String::new(), String::new());
        normalize_into(s, &mut out, &mut scratch);
        out
    }

    #[test]
    fn normalize_matches_rpv2_steps() {
        assert_eq!(norm("  Hello, World!\n\tIt's  ok.  "), "hello world its ok");
        assert_eq!(norm("a\u{1c}b"), "a b"); // Python's isspace includes U+001C
        assert_eq!(norm("Café—Ünï"), "cafe\u{301}—u\u{308}ni\u{308}"); // NFD, dash is not ASCII
        assert_eq!(norm("ΟΔΟΣ."), "οδος"); // final sigma once the '.' is gone
        assert_eq!(norm("İ"), "i\u{307}");
        assert_eq!(norm("...!?"), "");
        assert_eq!(norm("x\u{a0}\u{3000}y"), "x y");
    }

    #[test]
    fn raw_words_are_wordpunct_tokens() {
        let toks = |s| {
            raw_words(s)
                .iter()
                .map(|w| w.text.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            toks("Don't stop!! 3.5km"),
            ["Don", "'", "t", "stop", "!!", "3", ".", "5km"]
        );
        assert_eq!(toks("snake_case (x)"), ["snake_case", "(", "x", ")"]);
        // a combining mark is not `\w` in Python: "e" + U+0301 splits
        assert_eq!(toks("e\u{301}t\u{e9}"), ["e", "\u{301}", "t\u{e9}"]);
        assert_eq!(toks("  \n "), Vec::<String>::new());
        assert!(raw_words("東京 ½")[1].is_word); // isnumeric counts as \w
    }

    #[test]
    fn python_character_classes() {
        assert!(is_numeric('一') && is_numeric('½') && is_numeric('٣') && !is_numeric('a'));
        assert!(is_numeric('三') && is_numeric('百') && is_numeric('৫') && is_numeric('߀'));
        for t in [NUMERIC, UPPER, LOWER_OR_TITLE] {
            assert!(t.iter().all(|&(a, b)| a <= b));
            assert!(t.windows(2).all(|w| w[0].1 + 1 < w[1].0)); // sorted, maximal runs
        }
        assert_eq!(
            (NUMERIC.len(), UPPER.len(), LOWER_OR_TITLE.len()),
            (206, 651, 668)
        );
        assert!(is_upper('É') && !is_upper('ǅ') && !is_upper('1'));
        assert!(str_is_upper("ABC-1") && !str_is_upper("ABc") && !str_is_upper("123"));
        assert!(!str_is_upper("Aǅ")); // a titlecase letter makes it not upper
        assert!(is_space('\u{85}') && is_space('\u{1f}') && !is_space('\u{200b}'));
    }

    #[test]
    fn sentences_follow_the_regex() {
        assert_eq!(count_sentences("Hello. World! Ok?"), 3);
        assert_eq!(count_sentences("a.b"), 2);
        assert_eq!(count_sentences("...?!"), 0);
        assert_eq!(count_sentences(""), 0);
        assert_eq!(count_sentences("Hi!(x) y"), 2);
        assert_eq!(count_sentences("  (quoted) text"), 1); // \b only before the 'q'
        assert_eq!(count_sentences("one two three"), 1);
    }

    #[test]
    fn lines_and_lorem() {
        let l: Vec<_> = raw_lines("a\n\nb").collect();
        assert_eq!(l, ["a\n", "\n", "b"]);
        assert_eq!(raw_lines("").count(), 0);
        assert_eq!(raw_lines("x\n").collect::<Vec<_>>(), ["x\n"]);
        assert_eq!(count_lorem_ipsum("lorem ipsum lorem ipſum loremipsum"), 2);
    }
}
