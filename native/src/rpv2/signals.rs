//! RedPajama-V2's rule-based quality signals of one document (definitions in `mod.rs`).

use std::hash::Hash;

use rustc_hash::FxHashMap;

use super::stop_words::is_english_stop_word;
use super::text::{
    count_lorem_ipsum, count_sentences, is_numeric, is_upper, lstrip, normalize_into, raw_lines,
    raw_words, rstrip, str_is_upper,
};

/// Python's `round(x, 8)` (RPv2's `PRECISION`): the double nearest to `x` correctly rounded to 8
/// decimals, ties to even on the exact binary value.
pub fn round8(x: f64) -> f64 {
    let y = x * 1e8;
    // the product's rounding error is far below 1e-3 here, so away from a half the nearest
    // integer is certain; `r / 1e8` is then the correctly rounded quotient, as Python's strtod
    if y.is_finite() && y.abs() < 1e15 && ((y - y.trunc()).abs() - 0.5).abs() > 1e-3 {
        return y.round() / 1e8;
    }
    // near a tie: exact decimal formatting (round half to even), then parse
    format!("{x:.8}").parse().unwrap_or(x)
}

/// All signals of one document.
#[derive(Debug, Clone, PartialEq)]
pub struct Rpv2 {
    pub curly_bracket: f64,
    pub frac_all_caps_words: Option<f64>,
    pub frac_lines_end_with_ellipsis: Option<f64>,
    pub frac_no_alph_words: Option<f64>,
    pub lorem_ipsum: f64,
    pub mean_word_length: Option<f64>,
    pub stop_word_fraction: f64,
    pub symbol_to_word_ratio: Option<f64>,
    pub frac_unique_words: Option<f64>,
    pub unigram_entropy: Option<f64>,
    pub word_count: i64,
    pub num_sentences: i64,
    /// top 2-, 3-, 4-gram
    pub frac_chars_top_ngram: [f64; 3],
    /// duplicated 5- to 10-grams
    pub frac_chars_dupe_ngrams: [f64; 6],
    pub lines_ending_with_terminal_punctuation: Vec<f64>,
    pub lines_javascript_counts: Vec<i64>,
    pub lines_num_words: Vec<i64>,
    pub lines_numerical_chars_fraction: Vec<f64>,
    /// `[None]` for a document without lines, as RPv2
    pub lines_start_with_bulletpoint: Vec<Option<f64>>,
    pub lines_uppercase_letter_fraction: Vec<f64>,
}

const BULLETS: [char; 10] = [
    '\u{2022}', '\u{2023}', '\u{25B6}', '\u{25C0}', '\u{25E6}', '\u{25A0}', '\u{25A1}', '\u{25AA}',
    '\u{25AB}', '\u{2013}',
];

fn flag(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

/// `n` divided by `d` rounded as RPv2 stores it, `None` when `d` is 0.
fn ratio(n: f64, d: usize) -> Option<f64> {
    (d > 0).then(|| round8(n / d as f64))
}

/// Numbers keys in first-seen order and counts each.
struct Interner<K> {
    index: FxHashMap<K, u32>,
    counts: Vec<u32>,
}

impl<K: Hash + Eq> Interner<K> {
    fn with_capacity(n: usize) -> Self {
        Interner {
            index: FxHashMap::with_capacity_and_hasher(n, Default::default()),
            counts: Vec::new(),
        }
    }

    /// The key's id (the number of distinct keys seen before it first appeared).
    fn push(&mut self, key: K) -> u32 {
        let next = self.counts.len() as u32;
        let id = *self.index.entry(key).or_insert(next);
        if id == next {
            self.counts.push(0);
        }
        self.counts[id as usize] += 1;
        id
    }
}

/// The `n`-grams of a document: an id per position, and each id's count.
pub struct Ngrams {
    n: usize,
    grams: Vec<u32>,
    counts: Vec<u32>,
}

/// Exact ids of the `n`-grams from those of the `(n-1)`-grams: the `n`-gram at `i` is the pair
/// (`(n-1)`-gram at `i`, word at `i + n - 1`), numbered in first-seen order. Returns the ids, one
/// per position, and each id's count. One `u64` key per position instead of hashing `n` words.
pub fn next_ngram_ids(prev: &[u32], words: &[u32], n: usize) -> Ngrams {
    let m = (words.len() + 1).saturating_sub(n);
    let mut seen = Interner::with_capacity(m);
    let grams = (0..m)
        .map(|i| seen.push((u64::from(prev[i]) << 32) | u64::from(words[i + n - 1])))
        .collect();
    Ngrams {
        n,
        grams,
        counts: seen.counts,
    }
}

/// Fraction of characters in the most frequent `n`-gram times its count, 0 when no `n`-gram
/// occurs twice. Ids are in first-seen order, so the lowest id among the most frequent is the
/// one `Counter.most_common(1)` returns.
pub fn frac_chars_top_ngram(ng: &Ngrams, lens: &[usize], total_chars: usize) -> f64 {
    let count = ng.counts.iter().copied().max().unwrap_or(0);
    if count <= 1 {
        return 0.0;
    }
    let id = ng.counts.iter().position(|&c| c == count).unwrap_or(0) as u32;
    let first = ng.grams.iter().position(|&g| g == id).unwrap_or(0);
    let chars: usize = lens[first..first + ng.n].iter().sum();
    round8((chars * count as usize) as f64 / total_chars as f64)
}

/// Fraction of characters in words covered by an `n`-gram that occurs more than once (each word
/// counted once however many duplicated `n`-grams cover it).
pub fn frac_chars_dupe_ngrams(ng: &Ngrams, lens: &[usize], total_chars: usize) -> f64 {
    if total_chars == 0 {
        return 0.0;
    }
    let mut covered = vec![false; lens.len()];
    for (i, &g) in ng.grams.iter().enumerate() {
        if ng.counts[g as usize] > 1 {
            covered[i..i + ng.n].iter_mut().for_each(|c| *c = true);
        }
    }
    let duped: usize = lens
        .iter()
        .zip(&covered)
        .filter(|(_, &c)| c)
        .map(|(l, _)| l)
        .sum();
    round8(duped as f64 / total_chars as f64)
}

/// Top 2-4-gram and duplicated 5-10-gram character fractions (0 with fewer words than `n`).
fn ngram_signals(ids: &[u32], lens: &[usize], total_chars: usize) -> ([f64; 3], [f64; 6]) {
    let (mut top, mut dupe) = ([0.0; 3], [0.0; 6]);
    let mut grams = ids.to_vec();
    for n in 2..=10 {
        if ids.len() < n {
            break;
        }
        let ng = next_ngram_ids(&grams, ids, n);
        if n <= 4 {
            top[n - 2] = frac_chars_top_ngram(&ng, lens, total_chars);
        } else {
            dupe[n - 5] = frac_chars_dupe_ngrams(&ng, lens, total_chars);
        }
        grams = ng.grams;
    }
    (top, dupe)
}

/// Every signal of one document.
pub fn rpv2_signals(text: &str) -> Rpv2 {
    let n_chars = text.chars().count();

    // --- lines, and the normalised text assembled from the normalised lines: a '\n' ends every
    // whitespace run, punctuation removal and final-sigma context, so normalising line by line
    // and joining the non-empty results with ' ' equals RPv2's normalize(text)
    let (mut nline, mut scratch) = (String::new(), String::new());
    let mut normalized = String::with_capacity(text.len());
    let mut n_lines = 0;
    let mut ellipsis_lines = 0usize;
    let mut terminal = Vec::new();
    let mut javascript = Vec::new();
    let mut num_words = Vec::new();
    let mut numeric = Vec::new();
    let mut bullet = Vec::new();
    let mut upper = Vec::new();
    for line in raw_lines(text) {
        n_lines += 1;
        let trimmed = rstrip(line);
        terminal.push(flag(trimmed.ends_with(['.', '!', '?', '\u{201D}'])));
        ellipsis_lines += usize::from(trimmed.ends_with("...") || trimmed.ends_with('…'));
        bullet.push(Some(flag(lstrip(line).starts_with(BULLETS))));
        let (mut len, mut up) = (0usize, 0usize);
        for c in line.chars() {
            len += 1;
            up += usize::from(is_upper(c));
        }
        upper.push(round8(up as f64 / len as f64));

        normalize_into(line, &mut nline, &mut scratch);
        let (mut words, mut js) = (0i64, 0i64);
        for w in nline.split(' ').filter(|w| !w.is_empty()) {
            words += 1;
            js += i64::from(w == "javascript");
        }
        num_words.push(words);
        javascript.push(js);
        let (mut len, mut num) = (0usize, 0usize);
        for c in nline.chars() {
            len += 1;
            num += usize::from(is_numeric(c));
        }
        numeric.push(if len == 0 {
            0.0
        } else {
            round8(num as f64 / len as f64)
        });
        if !nline.is_empty() {
            if !normalized.is_empty() {
                normalized.push(' ');
            }
            normalized.push_str(&nline);
        }
    }
    if n_lines == 0 {
        bullet.push(None);
    }

    // --- normalised words as ids in first-seen order, with their lengths in code points
    let mut vocab = Interner::with_capacity(0);
    let mut ids = Vec::new();
    let mut lens = Vec::new();
    for w in normalized.split(' ').filter(|w| !w.is_empty()) {
        ids.push(vocab.push(w));
        lens.push(w.chars().count());
    }
    let n_norm = ids.len();
    let total_chars: usize = lens.iter().sum();
    let entropy = (n_norm > 0).then(|| {
        let total = n_norm as f64;
        let h = vocab
            .counts
            .iter()
            .map(|&x| -(x as f64) / total * (x as f64 / total).ln())
            .fold(0.0, |a, b| a + b);
        round8(h)
    });

    // --- raw words
    let raw = raw_words(text);
    let (mut caps, mut alpha, mut stop) = (0usize, 0usize, 0usize);
    for w in &raw {
        caps += usize::from(str_is_upper(w.text));
        alpha += usize::from(w.text.bytes().any(|b| b.is_ascii_alphabetic()));
        stop += usize::from(w.is_word && is_english_stop_word(w.text));
    }
    let symbols =
        text.matches('#').count() + text.matches("...").count() + text.matches('…').count();
    let brackets = text.matches(['{', '}']).count();
    let lorem = if normalized.contains("lorem ipsum") {
        round8(count_lorem_ipsum(&normalized) as f64 / normalized.chars().count() as f64)
    } else {
        0.0
    };

    let (top, dupe) = ngram_signals(&ids, &lens, total_chars);
    Rpv2 {
        curly_bracket: if brackets == 0 {
            0.0
        } else {
            round8(brackets as f64 / n_chars as f64)
        },
        frac_all_caps_words: ratio(caps as f64, raw.len()),
        frac_lines_end_with_ellipsis: ratio(ellipsis_lines as f64, n_lines),
        frac_no_alph_words: (!raw.is_empty())
            .then(|| round8(1.0 - alpha as f64 / raw.len() as f64)),
        lorem_ipsum: lorem,
        mean_word_length: ratio(total_chars as f64, n_norm),
        stop_word_fraction: if n_norm == 0 {
            0.0
        } else {
            round8(stop as f64 / raw.len() as f64)
        },
        symbol_to_word_ratio: ratio(symbols as f64, raw.len()),
        frac_unique_words: ratio(vocab.counts.len() as f64, n_norm),
        unigram_entropy: entropy,
        word_count: n_norm as i64,
        num_sentences: count_sentences(text) as i64,
        frac_chars_top_ngram: top,
        frac_chars_dupe_ngrams: dupe,
        lines_ending_with_terminal_punctuation: terminal,
        lines_javascript_counts: javascript,
        lines_num_words: num_words,
        lines_numerical_chars_fraction: numeric,
        lines_start_with_bulletpoint: bullet,
        lines_uppercase_letter_fraction: upper,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round8_is_pythons_round() {
        assert_eq!(round8(1.0 / 3.0), 0.33333333);
        assert_eq!(round8(0.001953125), 0.00195312); // exact tie -> even
        assert_eq!(round8(0.005859375), 0.00585938);
        assert_eq!(round8(2.0 / 3.0), 0.66666667);
        // decimal halves whose binary value lies just above / below the half (as Python)
        assert_eq!(round8(12.345678915), 12.34567892);
        assert_eq!(round8(0.123456785), 0.12345678);
        assert_eq!(round8(1.000000005), 1.0);
        assert_eq!(round8(0.0), 0.0);
    }

    #[test]
    fn ngram_pieces() {
        // n-gram ids built level by level from word ids, as in `ngram_signals`
        fn grams(ids: &[u32], n: usize) -> Ngrams {
            let mut level = next_ngram_ids(ids, ids, 1);
            for k in 2..=n {
                level = next_ngram_ids(&level.grams, ids, k);
            }
            level
        }
        // words a b a b c a b: bigram ids 0 1 0 2 3 0, "a b" 3 times
        let ids = [0, 1, 0, 1, 2, 0, 1];
        let ng = grams(&ids, 2);
        assert_eq!(
            (ng.grams.as_slice(), ng.counts.as_slice()),
            (&[0, 1, 0, 2, 3, 0][..], &[3, 1, 1, 1][..])
        );
        assert_eq!(frac_chars_top_ngram(&ng, &[1; 7], 7), round8(6.0 / 7.0));
        assert_eq!(frac_chars_top_ngram(&grams(&ids, 4), &[1; 7], 7), 0.0); // no 4-gram repeats
                                                                            // ties: the first-seen n-gram wins even when a later one is longer
        let ids = [0, 1, 2, 3, 0, 1, 2, 3];
        let lens = [1, 1, 5, 5, 1, 1, 5, 5];
        assert_eq!(
            frac_chars_top_ngram(&grams(&ids, 2), &lens, 24),
            round8(4.0 / 24.0)
        );
        // overlapping duplicated 5-grams cover each word once
        let ids = [0, 0, 0, 0, 0, 0, 1];
        assert_eq!(
            frac_chars_dupe_ngrams(&grams(&ids, 5), &[2; 7], 14),
            round8(12.0 / 14.0)
        );
        // overlapping repeats count every occurrence, so a fraction can exceed 1 (as in RPv2);
        // fewer words than n give 0
        let top = [1.5, 1.5, 0.0]; // "w w" 3 times * 4 chars / 8, "w w w" 2 * 6 / 8
        assert_eq!(ngram_signals(&ids[..4], &[2; 4], 8), (top, [0.0; 6]));
    }

    #[test]
    fn hand_computed_document() {
        let s = rpv2_signals("The cat sat.\nTHE CAT SAT!\n• lorem ipsum {x}...");
        assert_eq!(s.word_count, 10);
        assert_eq!(s.num_sentences, 3);
        assert_eq!(s.lines_num_words, [3, 3, 4]);
        assert_eq!(s.lines_ending_with_terminal_punctuation, [1.0, 1.0, 1.0]);
        assert_eq!(
            s.lines_start_with_bulletpoint,
            [Some(0.0), Some(0.0), Some(1.0)]
        );
        assert_eq!(s.frac_lines_end_with_ellipsis, Some(round8(1.0 / 3.0)));
        assert_eq!(s.curly_bracket, round8(2.0 / 46.0));
        // normalised: "the cat sat the cat sat • lorem ipsum x", 39 code points
        assert_eq!(s.lorem_ipsum, round8(1.0 / 39.0));
        // raw words: The cat sat . THE CAT SAT ! • lorem ipsum { x }...
        assert_eq!(s.frac_all_caps_words, Some(round8(3.0 / 14.0)));
        assert_eq!(s.stop_word_fraction, round8(1.0 / 14.0)); // only "x": case-sensitive
        assert_eq!(s.symbol_to_word_ratio, Some(round8(1.0 / 14.0)));
    }

    #[test]
    fn empty_document() {
        let s = rpv2_signals("");
        assert_eq!(s.word_count, 0);
        assert_eq!(s.mean_word_length, None);
        assert_eq!(s.frac_all_caps_words, None);
        assert_eq!(s.frac_lines_end_with_ellipsis, None);
        assert_eq!(s.stop_word_fraction, 0.0);
        assert_eq!(s.lines_start_with_bulletpoint, [None]);
        assert!(s.lines_num_words.is_empty());
    }
}
