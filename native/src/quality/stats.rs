//! Text statistics with datatrove 0.10.1's exact definitions (Python `len` = code points,
//! Python `str.strip`/`splitlines`/`isalpha` semantics), and the three filters' decisions.

use rustc_hash::{FxHashMap, FxHashSet};

use super::tables;
use super::tokenizer::{in_ranges, py_isspace, split_into_words};
use crate::c4::{c4_scan, C4Drop, C4Params};

/// datatrove `gopher_quality_filter.STOP_WORDS`.
pub const STOP_WORDS: [&str; 8] = ["the", "be", "to", "of", "and", "that", "have", "with"];

#[inline]
pub(crate) fn clen(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.chars().count()
    }
}

#[inline]
fn in_sorted(c: char, table: &[u32]) -> bool {
    table.binary_search(&(c as u32)).is_ok()
}

/// ASCII members of datatrove's `PUNCTUATION_SET`: every ASCII character but letters, digits,
/// tab, newline and space (checked against `tables::DT_PUNCTUATION` by a unit test).
#[inline]
const fn ascii_dt_punct(b: u8) -> bool {
    !(b.is_ascii_alphanumeric() || matches!(b, b'\t' | b'\n' | b' '))
}

/// Per byte: `NON_SYMBOL` (ASCII outside `PUNCTUATION_SET`), `ALPHA` (ASCII letter), `WIDE`
/// (not ASCII), so that one pass over a word ORs its flags together.
const BYTE_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = if !c.is_ascii() {
            WIDE
        } else {
            (if ascii_dt_punct(c) { 0 } else { NON_SYMBOL })
                | (if c.is_ascii_alphabetic() { ALPHA } else { 0 })
        };
        b += 1;
    }
    t
};
const NON_SYMBOL: u8 = 1;
const ALPHA: u8 = 2;
const WIDE: u8 = 4;

/// A word that is not made only of datatrove `PUNCTUATION_SET` characters.
fn is_non_symbol(w: &str) -> bool {
    if w.is_ascii() {
        return w.bytes().any(|b| !ascii_dt_punct(b));
    }
    w.chars().any(|c| !in_sorted(c, tables::DT_PUNCTUATION))
}

/// A word with a Python `isalpha` character.
pub(crate) fn has_alpha(w: &str) -> bool {
    if w.is_ascii() {
        return w.bytes().any(|b| b.is_ascii_alphabetic());
    }
    w.chars().any(py_isalpha)
}

/// Python `str.isalpha` for one character: general category L*.
fn py_isalpha(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphabetic();
    }
    in_ranges(c, tables::PY_ALPHA)
}

/// The bytes that can start a line break of `py_splitlines`.
const LINE_BREAK_START: [bool; 256] = {
    let mut t = [false; 256];
    let starts = [b'\n', b'\x0b', b'\x0c', b'\r', 0x1c, 0x1d, 0x1e, 0xc2, 0xe2];
    let mut k = 0;
    while k < starts.len() {
        t[starts[k] as usize] = true;
        k += 1;
    }
    t
};

/// Python `str.splitlines()` (no keepends): breaks on `\n \r \x0b \x0c \x1c-\x1e`, U+0085
/// (UTF-8 `C2 85`), U+2028/U+2029 (`E2 80 A8/A9`), `\r\n` counting as one. Scans bytes: in
/// valid UTF-8 these lead bytes only ever start those characters.
pub fn py_splitlines(text: &str) -> Vec<&str> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        if !LINE_BREAK_START[usize::from(b[i])] {
            i += 1;
            continue;
        }
        let len = match b[i] {
            b'\n' | b'\x0b' | b'\x0c' | 0x1c..=0x1e => 1,
            b'\r' => 1 + usize::from(b.get(i + 1) == Some(&b'\n')),
            0xc2 if b.get(i + 1) == Some(&0x85) => 2,
            0xe2 if b.get(i + 1) == Some(&0x80) && matches!(b.get(i + 2), Some(0xa8 | 0xa9)) => 3,
            _ => 0,
        };
        if len > 0 {
            out.push(&text[start..i]);
            i += len;
            start = i;
        } else {
            i += 1;
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

pub(crate) fn py_strip(s: &str) -> &str {
    s.trim_matches(py_isspace)
}

/// Python `str.count` (non-overlapping, as `memmem::find_iter` reports).
fn count_sub(text: &str, pat: &str) -> usize {
    if let [b] = pat.as_bytes() {
        return text.bytes().filter(|x| x == b).count();
    }
    memchr::memmem::find_iter(text.as_bytes(), pat.as_bytes()).count()
}

/// `re.split(r"\n{min,}", text)`.
fn split_newline_runs(text: &str, min: usize) -> Vec<&str> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while let Some(k) = memchr::memchr(b'\n', &b[i..]) {
        i += k;
        let j = i + b[i..].iter().take_while(|&&x| x == b'\n').count();
        if j - i >= min {
            out.push(&text[start..i]);
            start = j;
        }
        i = j;
    }
    out.push(&text[start..]);
    out
}

/// datatrove `find_duplicates`: (duplicate elements, their total characters).
fn find_duplicates<'a>(items: impl IntoIterator<Item = &'a str>) -> (usize, usize) {
    let items = items.into_iter();
    let mut seen: FxHashSet<&str> = FxHashSet::default();
    seen.reserve(items.size_hint().0);
    let (mut n, mut chars) = (0, 0);
    for it in items {
        if !seen.insert(it) {
            n += 1;
            chars += clen(it);
        }
    }
    (n, chars)
}

/// Odd multiplier of the polynomial string hash (mod 2^64) used to key "".join-ed n-grams.
const POLY: u64 = 0x9e37_79b9_7f4a_7c15;

/// `POLY^k` and `POLY_INV^k` for k < 64: a word's factors without a loop over its bytes.
const POLY_POWS: [(u64, u64); 64] = {
    let mut t = [(1u64, 1u64); 64];
    let mut k = 1;
    while k < 64 {
        t[k] = (
            t[k - 1].0.wrapping_mul(POLY),
            t[k - 1].1.wrapping_mul(POLY_INV),
        );
        k += 1;
    }
    t
};

/// An open-addressing table from well-mixed u64 keys to two u32 values, for n-gram counts: no
/// rehashing of the keys, linear probing, and one allocation reused across calls.
#[derive(Default)]
pub struct NgramTable {
    /// (key, a, b); a == 0 marks an empty slot
    slots: Vec<(u64, u32, u32)>,
    shift: u32,
}

impl NgramTable {
    /// Empties the table and sizes it for `n` keys.
    fn reset(&mut self, n: usize) {
        let cap = (2 * n).next_power_of_two().max(16);
        self.slots.clear();
        self.slots.resize(cap, (0, 0, 0));
        self.shift = 64 - cap.trailing_zeros();
    }

    /// The slot of `key`: its entry, or the empty slot where it belongs.
    #[inline]
    fn slot(&mut self, key: u64) -> &mut (u64, u32, u32) {
        let mask = self.slots.len() - 1;
        let mut i = (key.wrapping_mul(POLY) >> self.shift) as usize;
        loop {
            let s = self.slots[i];
            if s.1 == 0 || s.0 == key {
                return &mut self.slots[i];
            }
            i = (i + 1) & mask;
        }
    }
}

/// Words interned to ids, with character lengths, for n-gram statistics.
pub struct Words<'a> {
    pub words: Vec<&'a str>,
    ids: Vec<u32>,
    char_lens: Vec<u32>,
    /// occurrences of each id
    freq: Vec<u32>,
    /// for k in 0..=len: (P, X, Q) with P the polynomial hash of words[..k] joined, X = POLY^(its
    /// byte length) and Q = P / X; words[a..b] joined then hashes to `P[b] - Q[a] * X[b]`
    prefix: Vec<(u64, u64, u64)>,
}

/// POLY^-1 mod 2^64 (POLY is odd), by Newton's iteration.
const POLY_INV: u64 = {
    let mut x = POLY;
    let mut i = 0;
    while i < 6 {
        x = x.wrapping_mul(2u64.wrapping_sub(POLY.wrapping_mul(x)));
        i += 1;
    }
    x
};

/// The words' key for an n-gram count: a mix of their ids (collisions are checked by callers).
#[inline]
fn ids_key(ids: &[u32]) -> u64 {
    ids.iter().fold(0u64, |h, &id| {
        (h.rotate_left(26) ^ u64::from(id)).wrapping_mul(POLY)
    })
}

/// A word's polynomial hash, `POLY^len` and `POLY^-len` (len in bytes), and its length in chars.
fn word_hash(w: &str) -> (u64, u64, u64, u32) {
    let h = w
        .bytes()
        .fold(0u64, |h, b| h.wrapping_mul(POLY).wrapping_add(u64::from(b)));
    let (x, xi) = match POLY_POWS.get(w.len()) {
        Some(&f) => f,
        None => w.bytes().fold((1u64, 1u64), |(a, b), _| {
            (a.wrapping_mul(POLY), b.wrapping_mul(POLY_INV))
        }),
    };
    (h, x, xi, clen(w) as u32)
}

impl<'a> Words<'a> {
    pub fn new(text: &'a str) -> Self {
        let words = split_into_words(text);
        // per distinct word: its hash factors and length, computed once
        let mut map: FxHashMap<&str, u32> = FxHashMap::default();
        map.reserve(words.len() / 2);
        let mut per_id: Vec<(u64, u64, u64, u32)> = Vec::with_capacity(words.len() / 2);
        let mut freq: Vec<u32> = Vec::with_capacity(words.len() / 2);
        let mut ids = Vec::with_capacity(words.len());
        let mut char_lens = Vec::with_capacity(words.len());
        let mut prefix = Vec::with_capacity(words.len() + 1);
        let (mut h, mut x, mut xi) = (0u64, 1u64, 1u64);
        prefix.push((0, 1, 0));
        for w in &words {
            let id = *map.entry(w).or_insert_with(|| {
                per_id.push(word_hash(w));
                freq.push(0);
                per_id.len() as u32 - 1
            });
            freq[id as usize] += 1;
            let (wh, px, pxi, cl) = per_id[id as usize];
            ids.push(id);
            char_lens.push(cl);
            h = h.wrapping_mul(px).wrapping_add(wh);
            x = x.wrapping_mul(px);
            xi = xi.wrapping_mul(pxi);
            prefix.push((h, x, h.wrapping_mul(xi)));
        }
        Words {
            words,
            ids,
            char_lens,
            freq,
            prefix,
        }
    }

    fn chars(&self, a: usize, b: usize) -> usize {
        self.char_lens[a..b].iter().map(|&c| c as usize).sum()
    }

    /// An upper bound of `top_ngram_chars(n)`: the most frequent n-gram occurs at most as often
    /// as each of its words, so its characters times its count are at most the largest sum, over
    /// n consecutive words, of (word length + 1) * word frequency.
    pub fn top_ngram_chars_bound(&self, n: usize) -> usize {
        let total = self.ids.len();
        if n == 0 || total < n {
            return 0;
        }
        let w: Vec<u64> = self
            .ids
            .iter()
            .zip(&self.char_lens)
            .map(|(&id, &cl)| (u64::from(cl) + 1) * u64::from(self.freq[id as usize]))
            .collect();
        let mut sum: u64 = w[..n].iter().sum();
        let mut best = sum;
        for i in n..total {
            sum = sum + w[i] - w[i - n];
            best = best.max(sum);
        }
        best as usize
    }

    /// datatrove `find_top_duplicate(get_n_grams(words, n))`: characters of the most frequent
    /// space-joined n-gram times its count (ties: first seen). `None` when there is no n-gram.
    #[cfg(test)]
    pub fn top_ngram_chars(&self, n: usize) -> Option<usize> {
        self.top_ngram_chars_with(n, &mut NgramTable::default())
    }

    /// `top_ngram_chars` with `counts` as scratch space, so that its allocation serves several
    /// calls.
    pub fn top_ngram_chars_with(&self, n: usize, counts: &mut NgramTable) -> Option<usize> {
        let total = self.ids.len();
        if n == 0 || total < n {
            return None;
        }
        // n-grams keyed by a u64 mix of their ids, each key checked against the ids of its
        // first occurrence; a collision (never seen in practice) falls back to slices
        counts.reset(total + 1 - n);
        let mut best: (u32, u32) = (0, 0); // (count, first index): most frequent, first seen
        for i in 0..=total - n {
            let g = &self.ids[i..i + n];
            let key = ids_key(g);
            let e = counts.slot(key);
            if e.1 == 0 {
                *e = (key, 0, i as u32);
            }
            let first = e.2 as usize;
            if first != i && self.ids[first..first + n] != *g {
                return Some(self.top_ngram_chars_exact(n));
            }
            e.1 += 1;
            if e.1 > best.0 || (e.1 == best.0 && e.2 < best.1) {
                best = (e.1, e.2);
            }
        }
        let (count, first) = (best.0 as usize, best.1 as usize);
        Some((self.chars(first, first + n) + n - 1) * count)
    }

    /// `top_ngram_chars` keyed by id slices (exact, slower).
    fn top_ngram_chars_exact(&self, n: usize) -> usize {
        let total = self.ids.len();
        // key: the n word ids; value: (count, first index). Words contain no whitespace, so
        // " ".join is injective and ids identify the joined string exactly.
        let mut counts: FxHashMap<&[u32], (usize, usize)> = FxHashMap::default();
        for i in 0..=total - n {
            counts.entry(&self.ids[i..i + n]).or_insert((0, i)).0 += 1;
        }
        let (&key, &(count, _)) = counts
            .iter()
            .max_by(|a, b| a.1 .0.cmp(&b.1 .0).then(b.1 .1.cmp(&a.1 .1)))
            .unwrap();
        let first = counts[key].1;
        (self.chars(first, first + n) + n - 1) * count
    }

    /// datatrove `find_all_duplicate(words, n)`: characters of repeated "".join-ed n-grams, skipping
    /// ahead by n after each repeat. Keys are the concatenated strings, as in datatrove.
    #[cfg(test)]
    pub fn dup_ngram_chars(&self, n: usize) -> usize {
        self.dup_ngram_chars_until(n, |_| false, &mut NgramTable::default())
    }

    /// `dup_ngram_chars`, returning early (with a partial count) once `stop(count)` holds;
    /// `unique` is scratch space, passed in so that its allocation serves several calls.
    pub fn dup_ngram_chars_until(
        &self,
        n: usize,
        stop: impl Fn(usize) -> bool,
        unique: &mut NgramTable,
    ) -> usize {
        let total = self.words.len();
        if n == 0 || total < n {
            return 0;
        }
        // keys are polynomial hashes of the joined strings; a hit is confirmed by comparing the
        // strings, and a collision falls back to string keys
        unique.reset(total + 1 - n);
        let (mut repeated, mut idx) = (0, 0);
        while idx + n <= total {
            let (p, x, _) = self.prefix[idx + n];
            let h = p.wrapping_sub(self.prefix[idx].2.wrapping_mul(x));
            let e = unique.slot(h);
            if e.1 == 0 {
                *e = (h, idx as u32 + 1, 0);
                idx += 1;
                continue;
            }
            let first = e.1 as usize - 1;
            let a = self.words[first..first + n].iter().flat_map(|w| w.bytes());
            if !a.eq(self.words[idx..idx + n].iter().flat_map(|w| w.bytes())) {
                return self.dup_ngram_chars_exact(n);
            }
            repeated += self.chars(idx, idx + n);
            if stop(repeated) {
                return repeated;
            }
            idx += n;
        }
        repeated
    }

    /// `dup_ngram_chars` keyed by the joined strings (exact, slower).
    fn dup_ngram_chars_exact(&self, n: usize) -> usize {
        let total = self.words.len();
        let mut cat = String::new();
        let mut offs = Vec::with_capacity(total + 1);
        let mut coffs = Vec::with_capacity(total + 1);
        let mut cpos = 0;
        for (w, &cl) in self.words.iter().zip(&self.char_lens) {
            offs.push(cat.len());
            coffs.push(cpos);
            cat.push_str(w);
            cpos += cl as usize;
        }
        offs.push(cat.len());
        coffs.push(cpos);
        let mut unique: FxHashSet<&str> = FxHashSet::default();
        let (mut repeated, mut idx) = (0, 0);
        while idx + n <= total {
            let g = &cat[offs[idx]..offs[idx + n]];
            if unique.contains(g) {
                repeated += coffs[idx + n] - coffs[idx];
                idx += n;
            } else {
                unique.insert(g);
                idx += 1;
            }
        }
        repeated
    }
}

/// Every statistic of one document. Ratios whose denominator is zero are NaN.
#[derive(Debug, Clone, PartialEq)]
pub struct Signals {
    pub n_chars: i64,
    pub n_words: i64,
    pub n_non_symbol_words: i64,
    pub mean_word_length: f64,
    pub hash_word_ratio: f64,
    pub ellipsis_word_ratio: f64,
    pub n_lines: i64,
    pub bullet_line_frac: f64,
    pub ellipsis_line_frac: f64,
    pub alpha_word_frac: f64,
    pub stop_word_count: i64,
    pub dup_para_frac: f64,
    pub dup_para_char_frac: f64,
    pub dup_line_frac: f64,
    pub dup_line_char_frac: f64,
    pub top_ngram_char_frac: [f64; 3],
    pub dup_ngram_char_frac: [f64; 6],
    pub line_punct_ratio: f64,
    pub short_line_ratio: f64,
    pub fineweb_dup_line_char_frac: f64,
    pub newline_word_ratio: f64,
    pub c4_kept_lines: i64,
    pub c4_sentences: i64,
    pub c4_lorem_ipsum: bool,
    pub c4_curly_bracket: bool,
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        f64::NAN
    } else {
        a as f64 / b as f64
    }
}

struct GopherQualityParts {
    n_words: usize,
    n_non_symbol: usize,
    mean_len: f64,
    hashes: usize,
    ellipses: usize,
    n_lines: usize,
    bullet_lines: usize,
    ellipsis_lines: usize,
    alpha_words: usize,
}

fn gopher_quality_parts(text: &str, words: &[&str]) -> GopherQualityParts {
    let (mut n_ns, mut ns_chars, mut alpha) = (0, 0, 0);
    for w in words {
        // one pass over the bytes for the commonest (ASCII) words
        let flags = w.bytes().fold(0, |f, b| f | BYTE_CLASS[usize::from(b)]);
        if flags & WIDE == 0 {
            let non_symbol = flags & NON_SYMBOL != 0;
            n_ns += usize::from(non_symbol);
            ns_chars += if non_symbol { w.len() } else { 0 };
            alpha += usize::from(flags & ALPHA != 0);
            continue;
        }
        if is_non_symbol(w) {
            n_ns += 1;
            ns_chars += clen(w);
        }
        if has_alpha(w) {
            alpha += 1;
        }
    }
    let lines = py_splitlines(text);
    let bullets = lines
        .iter()
        .filter(|l| {
            let s = l.trim_start_matches(py_isspace);
            s.starts_with('•') || s.starts_with('-')
        })
        .count();
    let ell_lines = lines
        .iter()
        .filter(|l| {
            let s = l.trim_end_matches(py_isspace);
            s.ends_with("...") || s.ends_with('…')
        })
        .count();
    GopherQualityParts {
        n_words: words.len(),
        n_non_symbol: n_ns,
        mean_len: ratio(ns_chars, n_ns),
        hashes: count_sub(text, "#"),
        ellipses: count_sub(text, "...") + count_sub(text, "…"),
        n_lines: lines.len(),
        bullet_lines: bullets,
        ellipsis_lines: ell_lines,
        alpha_words: alpha,
    }
}

/// Distinct stop words among `words`, counting stops once `enough` are found.
fn stop_word_hits(words: &[&str], stop: &FxHashSet<&str>, enough: usize) -> usize {
    let max_len = stop.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut hit: FxHashSet<&str> = FxHashSet::default();
    let enough = enough.min(stop.len());
    for w in words {
        // length first: most words are longer than any stop word, and hashing costs more
        if w.len() <= max_len && stop.contains(w) {
            hit.insert(w);
            if hit.len() >= enough {
                break;
            }
        }
    }
    hit.len()
}

/// FineWeb's non-blank `\n`-separated lines.
fn fineweb_lines(text: &str) -> Vec<&str> {
    text.split('\n')
        .filter(|l| !py_strip(l).is_empty())
        .collect()
}

/// All statistics of one document in one pass over its words and lines.
pub fn signals(text: &str) -> Signals {
    let w = Words::new(text);
    let n_chars = clen(text);
    let g = gopher_quality_parts(text, &w.words);
    let stop: FxHashSet<&str> = STOP_WORDS.into_iter().collect();

    let paragraphs = split_newline_runs(py_strip(text), 2);
    let (pd, pdc) = find_duplicates(paragraphs.iter().copied());
    let lines = split_newline_runs(text, 1);
    let (ld, ldc) = find_duplicates(lines.iter().copied());

    let fw = fineweb_lines(text);
    let punct = fw
        .iter()
        .filter(|l| {
            l.chars()
                .next_back()
                .is_some_and(|c| in_sorted(c, tables::DT_TERMINAL_PUNCTUATION))
        })
        .count();
    let short = fw.iter().filter(|l| clen(l) <= 30).count();
    let newlines = text.bytes().filter(|&b| b == b'\n').count();
    let (_, fw_dup_chars) = find_duplicates(fw.iter().copied());
    let c4 = c4_scan(text, &C4Params::default(), true);

    Signals {
        n_chars: n_chars as i64,
        n_words: g.n_words as i64,
        n_non_symbol_words: g.n_non_symbol as i64,
        mean_word_length: g.mean_len,
        hash_word_ratio: ratio(g.hashes, g.n_words),
        ellipsis_word_ratio: ratio(g.ellipses, g.n_words),
        n_lines: g.n_lines as i64,
        bullet_line_frac: ratio(g.bullet_lines, g.n_lines),
        ellipsis_line_frac: ratio(g.ellipsis_lines, g.n_lines),
        alpha_word_frac: ratio(g.alpha_words, g.n_words),
        stop_word_count: stop_word_hits(&w.words, &stop, usize::MAX) as i64,
        dup_para_frac: ratio(pd, paragraphs.len()),
        dup_para_char_frac: ratio(pdc, n_chars),
        dup_line_frac: ratio(ld, lines.len()),
        dup_line_char_frac: ratio(ldc, n_chars),
        top_ngram_char_frac: {
            let mut scratch = NgramTable::default();
            [2, 3, 4].map(|n| {
                ratio(
                    w.top_ngram_chars_with(n, &mut scratch).unwrap_or(0),
                    n_chars,
                )
            })
        },
        dup_ngram_char_frac: {
            let mut scratch = NgramTable::default();
            [5, 6, 7, 8, 9, 10]
                .map(|n| ratio(w.dup_ngram_chars_until(n, |_| false, &mut scratch), n_chars))
        },
        line_punct_ratio: ratio(punct, fw.len()),
        short_line_ratio: ratio(short, fw.len()),
        fineweb_dup_line_char_frac: ratio(fw_dup_chars, n_chars - newlines),
        newline_word_ratio: ratio(newlines, g.n_words),
        c4_kept_lines: c4.kept.len() as i64,
        c4_sentences: c4.sentences,
        c4_lorem_ipsum: c4.dropped == Some(C4Drop::LoremIpsum),
        c4_curly_bracket: c4.dropped == Some(C4Drop::CurlyBracket),
    }
}

/// `GopherQualityFilter` thresholds; `None` (or 0, as datatrove tests truthiness) disables one.
#[derive(Debug, Clone)]
pub struct GopherQualityParams {
    pub min_doc_words: Option<f64>,
    pub max_doc_words: Option<f64>,
    pub min_avg_word_length: Option<f64>,
    pub max_avg_word_length: Option<f64>,
    pub max_symbol_word_ratio: Option<f64>,
    pub max_bullet_lines_ratio: Option<f64>,
    pub max_ellipsis_lines_ratio: Option<f64>,
    pub max_non_alpha_words_ratio: Option<f64>,
    pub min_stop_words: Option<f64>,
    pub stop_words: Vec<String>,
}

impl Default for GopherQualityParams {
    fn default() -> Self {
        GopherQualityParams {
            min_doc_words: Some(50.0),
            max_doc_words: Some(100_000.0),
            min_avg_word_length: Some(3.0),
            max_avg_word_length: Some(10.0),
            max_symbol_word_ratio: Some(0.1),
            max_bullet_lines_ratio: Some(0.9),
            max_ellipsis_lines_ratio: Some(0.3),
            max_non_alpha_words_ratio: Some(0.8),
            min_stop_words: Some(2.0),
            stop_words: STOP_WORDS.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// Python truthiness of an optional numeric threshold.
fn on(t: Option<f64>) -> Option<f64> {
    t.filter(|&v| v != 0.0)
}

/// A check whose denominator is zero raises ZeroDivisionError in datatrove; we reject the doc.
fn frac_gt(a: usize, b: usize, thr: f64) -> bool {
    b == 0 || a as f64 / b as f64 > thr
}

/// `GopherQualityFilter.filter(doc) is True`.
pub fn gopher_quality_ok(text: &str, p: &GopherQualityParams) -> bool {
    let words = split_into_words(text);
    let g = gopher_quality_parts(text, &words);
    let ns = g.n_non_symbol as f64;
    if on(p.min_doc_words).is_some_and(|t| ns < t) || on(p.max_doc_words).is_some_and(|t| ns > t) {
        return false;
    }
    // NaN (no non-symbol word) compares false, as numpy's mean of [] does in datatrove
    if on(p.min_avg_word_length).is_some_and(|t| g.mean_len < t)
        || on(p.max_avg_word_length).is_some_and(|t| g.mean_len > t)
    {
        return false;
    }
    if let Some(t) = on(p.max_symbol_word_ratio) {
        if frac_gt(g.hashes, g.n_words, t) || frac_gt(g.ellipses, g.n_words, t) {
            return false;
        }
    }
    if on(p.max_bullet_lines_ratio).is_some_and(|t| frac_gt(g.bullet_lines, g.n_lines, t))
        || on(p.max_ellipsis_lines_ratio).is_some_and(|t| frac_gt(g.ellipsis_lines, g.n_lines, t))
    {
        return false;
    }
    if let Some(t) = on(p.max_non_alpha_words_ratio) {
        if g.n_words == 0 || (g.alpha_words as f64 / g.n_words as f64) < t {
            return false;
        }
    }
    if let Some(t) = on(p.min_stop_words) {
        let stop: FxHashSet<&str> = p.stop_words.iter().map(String::as_str).collect();
        // hits are whole numbers: `hits < t` fails for the first hits >= ceil(t)
        let enough = if t > 0.0 { t.ceil() as usize } else { 0 };
        if (stop_word_hits(&words, &stop, enough.max(1)) as f64) < t {
            return false;
        }
    }
    true
}

/// `GopherRepetitionFilter` thresholds (`None`/0 disables a line/paragraph check).
#[derive(Debug, Clone)]
pub struct GopherRepetitionParams {
    pub dup_line_frac: Option<f64>,
    pub dup_para_frac: Option<f64>,
    pub dup_line_char_frac: Option<f64>,
    pub dup_para_char_frac: Option<f64>,
    pub top_n_grams: Vec<(usize, f64)>,
    pub dup_n_grams: Vec<(usize, f64)>,
}

impl Default for GopherRepetitionParams {
    fn default() -> Self {
        GopherRepetitionParams {
            dup_line_frac: Some(0.3),
            dup_para_frac: Some(0.3),
            dup_line_char_frac: Some(0.2),
            dup_para_char_frac: Some(0.2),
            top_n_grams: vec![(2, 0.2), (3, 0.18), (4, 0.16)],
            dup_n_grams: vec![
                (5, 0.15),
                (6, 0.14),
                (7, 0.13),
                (8, 0.12),
                (9, 0.11),
                (10, 0.10),
            ],
        }
    }
}

/// `GopherRepetitionFilter.filter(doc) is True`.
pub fn gopher_repetition_ok(text: &str, p: &GopherRepetitionParams) -> bool {
    if text.is_empty() {
        return false;
    }
    let n_chars = clen(text) as f64;
    let paragraphs = split_newline_runs(py_strip(text), 2);
    let (pd, pdc) = find_duplicates(paragraphs.iter().copied());
    if on(p.dup_para_frac).is_some_and(|t| pd as f64 / paragraphs.len() as f64 > t)
        || on(p.dup_para_char_frac).is_some_and(|t| pdc as f64 / n_chars > t)
    {
        return false;
    }
    let lines = split_newline_runs(text, 1);
    let (ld, ldc) = find_duplicates(lines.iter().copied());
    if on(p.dup_line_frac).is_some_and(|t| ld as f64 / lines.len() as f64 > t)
        || on(p.dup_line_char_frac).is_some_and(|t| ldc as f64 / n_chars > t)
    {
        return false;
    }
    let w = Words::new(text);
    let mut scratch = NgramTable::default();
    for &(n, t) in &p.top_n_grams {
        // the bound settles most documents without counting n-grams
        let fails = |c: usize| c as f64 / n_chars > t;
        if fails(w.top_ngram_chars_bound(n))
            && w.top_ngram_chars_with(n, &mut scratch).is_some_and(fails)
        {
            return false;
        }
    }
    for &(n, t) in &p.dup_n_grams {
        // the count only grows: stop at the first value that already fails the check
        let fails = |c: usize| c as f64 / n_chars > t;
        if fails(w.dup_ngram_chars_until(n, fails, &mut scratch)) {
            return false;
        }
    }
    true
}

/// `FineWebQualityFilter` settings.
#[derive(Debug, Clone)]
pub struct FineWebParams {
    pub line_punct_thr: f64,
    pub line_punct_exclude_zero: bool,
    /// `None`: datatrove's `TERMINAL_PUNCTUATION`.
    pub stop_chars: Option<Vec<String>>,
    pub short_line_thr: f64,
    pub short_line_length: usize,
    pub char_duplicates_ratio: f64,
    pub new_line_ratio: f64,
}

impl Default for FineWebParams {
    fn default() -> Self {
        FineWebParams {
            line_punct_thr: 0.12,
            line_punct_exclude_zero: false,
            stop_chars: None,
            short_line_thr: 0.67,
            short_line_length: 30,
            char_duplicates_ratio: 0.01,
            new_line_ratio: 0.3,
        }
    }
}

/// `FineWebQualityFilter.filter(doc) is True`.
pub fn fineweb_quality_ok(text: &str, p: &FineWebParams) -> bool {
    let lines = fineweb_lines(text);
    if lines.is_empty() {
        return false;
    }
    let ends_ok = |l: &str| match &p.stop_chars {
        None => l
            .chars()
            .next_back()
            .is_some_and(|c| in_sorted(c, tables::DT_TERMINAL_PUNCTUATION)),
        Some(cs) => cs.iter().any(|s| l.ends_with(s.as_str())),
    };
    let n = lines.len() as f64;
    let r = lines.iter().filter(|l| ends_ok(l)).count() as f64 / n;
    if r < p.line_punct_thr && !(r == 0.0 && p.line_punct_exclude_zero) {
        return false;
    }
    if lines
        .iter()
        .filter(|l| clen(l) <= p.short_line_length)
        .count() as f64
        / n
        > p.short_line_thr
    {
        return false;
    }
    let newlines = text.bytes().filter(|&b| b == b'\n').count();
    let (_, dup_chars) = find_duplicates(lines.iter().copied());
    if frac_gt(dup_chars, clen(text) - newlines, p.char_duplicates_ratio) {
        return false;
    }
    let n_words = split_into_words(text).len();
    !frac_gt(newlines, n_words, p.new_line_ratio)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn word_statistics() {
        // words: Hello , world ! The end ...
        let s = signals("Hello, world! The end...");
        assert_eq!((s.n_words, s.n_non_symbol_words), (7, 4));
        assert!(close(s.mean_word_length, 4.0));
        assert!(close(s.alpha_word_frac, 4.0 / 7.0));
        assert!(close(s.ellipsis_word_ratio, 1.0 / 7.0));
        assert!(close(s.hash_word_ratio, 0.0));
        assert_eq!(signals("the be the To of #").stop_word_count, 3); // case-sensitive
        assert!(close(signals("#a #b").hash_word_ratio, 2.0 / 4.0)); // words: # a # b
    }

    #[test]
    fn line_statistics() {
        let s = signals("• a\n- b\nc...\nd");
        assert_eq!(s.n_lines, 4);
        assert!(close(s.bullet_line_frac, 0.5));
        assert!(close(s.ellipsis_line_frac, 0.25));
        assert_eq!(py_splitlines("a\r\nb\rc\n"), ["a", "b", "c"]);
        assert!(py_splitlines("").is_empty());
        assert_eq!(py_splitlines("\n"), [""]);
    }

    #[test]
    fn ascii_fast_paths_match_the_tables() {
        for b in 0u8..128 {
            let c = b as char;
            assert_eq!(
                ascii_dt_punct(b),
                in_sorted(c, tables::DT_PUNCTUATION),
                "{b:#x}"
            );
            assert_eq!(has_alpha(&c.to_string()), py_isalpha(c), "{b:#x}");
        }
        assert_eq!(
            py_splitlines("a\u{85}b\u{2028}c\u{2029}d\u{2027}e\u{1e}f\x0cg"),
            ["a", "b", "c", "d\u{2027}e", "f", "g"]
        );
    }

    #[test]
    fn ngram_fast_paths_match_the_exact_ones() {
        let text = "a b c a b c d e a b c d e f g a b c ab c d e f a bc d e f ".repeat(3)
            + "the cat sat on the mat, the cat sat on the hat. é ü é ü é ü";
        let w = Words::new(&text);
        for n in 1..=12 {
            assert_eq!(
                w.top_ngram_chars(n),
                Some(w.top_ngram_chars_exact(n)),
                "top {n}"
            );
            assert_eq!(w.dup_ngram_chars(n), w.dup_ngram_chars_exact(n), "dup {n}");
            assert!(
                w.top_ngram_chars_bound(n) >= w.top_ngram_chars(n).unwrap_or(0),
                "{n}"
            );
        }
    }

    #[test]
    fn duplicate_lines_and_paragraphs() {
        let s = signals("a\nb\na\n\nb"); // lines a b a b; paragraphs "a\nb\na", "b"
        assert!(close(s.dup_line_frac, 0.5));
        assert!(close(s.dup_line_char_frac, 2.0 / 8.0));
        assert!(close(s.dup_para_frac, 0.0));
        let s = signals("x y\n\nx y\n\nz"); // paragraphs "x y" twice, "z"
        assert!(close(s.dup_para_frac, 1.0 / 3.0));
        assert!(close(s.dup_para_char_frac, 3.0 / 11.0));
    }

    #[test]
    fn ngram_statistics() {
        // bigrams "a b" x2 and "b a" x2 tie: the first seen wins, 3 chars * 2
        let s = signals("a b a b a");
        assert!(close(s.top_ngram_char_frac[0], 6.0 / 9.0));
        // "abcde" repeats once: 5 chars, then the scan jumps past it
        let s = signals("a b c d e a b c d e");
        assert!(close(s.dup_ngram_char_frac[0], 5.0 / 19.0));
        assert!(close(s.dup_ngram_char_frac[1], 0.0));
        // datatrove keys 5-grams by "".join: "ab c d e f" and "a bc d e f" collide
        let w = Words::new("ab c d e f a bc d e f");
        assert_eq!(w.dup_ngram_chars(5), 6);
        assert_eq!(w.top_ngram_chars(11), None);
    }

    #[test]
    fn fineweb_statistics() {
        let text = "Good line.\nshort\n\n  \nGood line.";
        let s = signals(text);
        assert!(close(s.line_punct_ratio, 2.0 / 3.0));
        assert!(close(s.short_line_ratio, 1.0));
        assert!(close(s.fineweb_dup_line_char_frac, 10.0 / 27.0));
        assert!(close(s.newline_word_ratio, 4.0 / 7.0));
        assert!(!fineweb_quality_ok(text, &FineWebParams::default()));
        assert!(!fineweb_quality_ok(" \n\t", &FineWebParams::default()));
    }

    #[test]
    fn c4_counts_follow_the_line_rules() {
        let s = signals(
            "One two three. Four five six!\nno punctuation here\nUse of cookies is fine.\n",
        );
        assert_eq!((s.c4_kept_lines, s.c4_sentences), (1, 2));
        assert!(signals("This has a { brace.").c4_curly_bracket);
        assert!(signals("Lorem ipsum dolor sit.").c4_lorem_ipsum);
        // spaCy's whitespace token "  " starts a sentence: datatrove counts 3 here
        let s = signals("Hi.  . Foo bar baz.");
        assert_eq!((s.c4_kept_lines, s.c4_sentences), (1, 3));
        // sentences past the fifth are counted too
        let s = signals(&"One. Two. Three. Four. Five. Six.\n".repeat(2));
        assert_eq!((s.c4_kept_lines, s.c4_sentences), (2, 12));
    }

    #[test]
    fn predicates() {
        let good = "The quick brown fox jumps over the lazy dog and runs to the forest. ".to_string()
            + "It is a sunny day with a light breeze and the birds sing of spring. "
            + "Children play in the park while their parents have coffee with friends. "
            + "Later that evening the family gathers to share stories of the day.";
        assert!(gopher_quality_ok(&good, &GopherQualityParams::default()));
        assert!(!gopher_quality_ok(
            "too short",
            &GopherQualityParams::default()
        ));
        assert!(gopher_repetition_ok(
            &good,
            &GopherRepetitionParams::default()
        ));
        assert!(!gopher_repetition_ok(
            &good.repeat(3),
            &GopherRepetitionParams::default()
        ));
        assert!(!gopher_repetition_ok(
            "",
            &GopherRepetitionParams::default()
        ));
        let off = GopherQualityParams {
            min_doc_words: None,
            ..Default::default()
        };
        // with the length check off, an empty doc hits datatrove's division by zero: rejected
        assert!(!gopher_quality_ok("", &off));
    }
}
