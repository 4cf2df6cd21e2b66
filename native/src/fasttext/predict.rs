//! fastText's predict path for one line (`FastText::predictLine` with k = 1), in the same f32
//! arithmetic order so labels and probabilities are bit-identical: tokens as `Dictionary::getLine`
//! reads them, input rows averaged into the hidden vector, then the model's output layer.
//!
//! Unlike fastText no string is built per token or per char n-gram: hashes are computed on the
//! bytes in place, and rows are added to the hidden vector as they are found (the order fastText
//! adds them in, so the f32 sums are the same).

use super::model::{std_log, Loss, Model, EOS};

const FNV_OFFSET: u32 = 2_166_136_261;
const FNV_PRIME: u32 = 16_777_619;
/// Word n-gram hash multiplier (fastText's `addWordNgrams`).
const WORD_NGRAM_PRIME: u64 = 116_049_371;
/// OOV tokens starting with this are labels, which prediction skips (fastText's `args.label`;
/// not stored in model files).
const LABEL_PREFIX: &[u8] = b"__label__";
/// Range of fastText's sigmoid lookup table (binary logistic losses).
const MAX_SIGMOID: f32 = 8.0;
const SIGMOID_TABLE_SIZE: usize = 512;

#[inline]
fn fnv_step(h: u32, b: u8) -> u32 {
    // fastText hashes `int8_t` bytes widened to u32 (sign-extended), as its models were trained.
    (h ^ (b as i8 as u32)).wrapping_mul(FNV_PRIME)
}

/// fastText's `Dictionary::hash`: FNV-1a over sign-extended bytes.
pub fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(FNV_OFFSET, |h, &b| fnv_step(h, b))
}

#[inline]
fn is_continuation(b: u8) -> bool {
    b & 0xC0 == 0x80
}

/// Hashes of the char n-grams of `<word>` (`minn..=maxn` UTF-8 characters), in the order of
/// fastText's `computeSubwords`, which skips the lone `<` and `>`. Nothing is allocated.
pub fn subword_hashes(word: &[u8], minn: usize, maxn: usize, mut emit: impl FnMut(u32)) {
    let len = word.len() + 2;
    let byte = |k: usize| match k {
        0 => b'<',
        k if k == len - 1 => b'>',
        k => word[k - 1],
    };
    for i in 0..len {
        if is_continuation(byte(i)) {
            continue;
        }
        let (mut h, mut j, mut n) = (FNV_OFFSET, i, 1);
        while j < len && n <= maxn {
            h = fnv_step(h, byte(j));
            j += 1;
            while j < len && is_continuation(byte(j)) {
                h = fnv_step(h, byte(j));
                j += 1;
            }
            if n >= minn && !(n == 1 && (i == 0 || j == len)) {
                emit(h);
            }
            n += 1;
        }
    }
}

/// fastText's word delimiters (`readWord`): space, \n, \r, \t, \v, \f and NUL.
#[inline]
fn is_delimiter(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t' | 0x0b | 0x0c | 0)
}

/// Tokens fastText's `getLine` reads from `text` with its newlines replaced by spaces and one
/// newline appended (as FineWeb and fasttext's Python `predict` do): the words, then `</s>`
/// for the final newline. A word `</s>` in the text ends the line there, as in fastText.
pub fn for_each_token<'a>(text: &'a [u8], mut f: impl FnMut(&'a [u8])) {
    for token in text.split(|&b| is_delimiter(b)).filter(|t| !t.is_empty()) {
        f(token);
        if token == EOS {
            return;
        }
    }
    f(EOS);
}

/// Per-thread buffers reused across texts.
pub struct Scratch {
    hidden: Vec<f32>,
    word_hashes: Vec<i32>,
    output: Vec<f32>,
}

impl Scratch {
    pub fn new(model: &Model) -> Self {
        Scratch {
            hidden: vec![0.0; model.dim],
            word_hashes: Vec::new(),
            output: Vec::new(),
        }
    }
}

/// Sums input rows into the hidden vector, counting them.
struct Hidden<'m, 's> {
    model: &'m Model,
    hidden: &'s mut [f32],
    rows: usize,
}

impl Hidden<'_, '_> {
    #[inline]
    fn add(&mut self, row: u32) {
        for (h, &v) in self.hidden.iter_mut().zip(self.model.input_row(row)) {
            *h += v;
        }
        self.rows += 1;
    }
}

/// The most probable label of `text` (its index) and its probability, as fastText's
/// `predict(text + "\n", k=1, threshold=0.0)` returns it; None when no input row applies.
pub fn predict(model: &Model, text: &[u8], scratch: &mut Scratch) -> Option<(usize, f32)> {
    let Scratch {
        hidden,
        word_hashes,
        output,
    } = scratch;
    hidden.fill(0.0);
    word_hashes.clear();
    let mut acc = Hidden {
        model,
        hidden,
        rows: 0,
    };
    for_each_token(text, |token| {
        let h = fnv1a(token);
        match model.word_id(token, h) {
            Some(id) if model.is_label(id) => return,
            Some(id) => model.word_rows(id).iter().for_each(|&r| acc.add(r)),
            None if token.starts_with(LABEL_PREFIX) => return,
            None if token == EOS => {}
            None => subword_hashes(token, model.minn, model.maxn, |g| {
                if let Some(r) = model.bucket_row(g % model.bucket) {
                    acc.add(r);
                }
            }),
        }
        word_hashes.push(h as i32);
    });
    // fastText's addWordNgrams: i32 hashes widened (sign-extended) to u64, wrapping arithmetic.
    if model.word_ngrams > 1 {
        for i in 0..word_hashes.len() {
            let mut h = word_hashes[i] as i64 as u64;
            for &next in &word_hashes[i + 1..word_hashes.len().min(i + model.word_ngrams)] {
                h = h
                    .wrapping_mul(WORD_NGRAM_PRIME)
                    .wrapping_add(next as i64 as u64);
                if let Some(r) = model.bucket_row((h % model.bucket as u64) as u32) {
                    acc.add(r);
                }
            }
        }
    }
    if acc.rows == 0 {
        return None;
    }
    // `hidden.mul(1.0 / input.size())`: the factor in f64, rounded to f32, then f32 products.
    let scale = (1.0 / acc.rows as f64) as f32;
    hidden.iter_mut().for_each(|h| *h *= scale);
    let (log_prob, label) = match model.loss {
        Loss::HierarchicalSoftmax => {
            let mut best = None;
            let root = model.tree().len().checked_sub(1)?;
            dfs(model, hidden, root, 0.0, &mut best);
            best?
        }
        Loss::Softmax => {
            softmax(model, hidden, output);
            best_output(output)?
        }
        Loss::NegativeSampling | Loss::OneVsAll => {
            binary_logistic(model, hidden, output);
            best_output(output)?
        }
    };
    Some((label, log_prob.exp()))
}

/// fastText's `HierarchicalSoftmaxLoss::dfs` for k = 1: the first leaf whose log-probability
/// is >= the best so far replaces it, subtrees scoring below the best are pruned.
fn dfs(model: &Model, hidden: &[f32], node: usize, score: f32, best: &mut Option<(f32, usize)>) {
    if score < model.log_threshold || best.is_some_and(|(b, _)| score < b) {
        return;
    }
    let tree = model.tree();
    let n = tree[node];
    if n.left == -1 && n.right == -1 {
        *best = Some((score, node));
        return;
    }
    let osz = tree.len().div_ceil(2);
    let f = model.output_dot(hidden, node - osz);
    // `1. / (1 + std::exp(-f))`: expf, a f32 sum, then the f64 quotient rounded to f32.
    let f = (1.0 / (1.0f32 + (-f).exp()) as f64) as f32;
    let left = std_log((1.0 - f as f64) as f32);
    dfs(model, hidden, n.left as usize, score + left, best);
    dfs(model, hidden, n.right as usize, score + std_log(f), best);
}

fn output_layer(model: &Model, hidden: &[f32], output: &mut Vec<f32>) {
    output.clear();
    output.extend((0..model.nlabels()).map(|i| model.output_dot(hidden, i)));
}

/// fastText's `SoftmaxLoss::computeOutput` (its `exp` is the f64 one).
fn softmax(model: &Model, hidden: &[f32], output: &mut Vec<f32>) {
    output_layer(model, hidden, output);
    let Some(&first) = output.first() else { return };
    let max = output.iter().fold(first, |m, &o| if o < m { m } else { o });
    let mut z = 0.0f32;
    for o in output.iter_mut() {
        *o = ((*o - max) as f64).exp() as f32;
        z += *o;
    }
    output.iter_mut().for_each(|o| *o /= z);
}

/// fastText's `BinaryLogisticLoss::computeOutput`: the sigmoid from its 513-entry table.
fn binary_logistic(model: &Model, hidden: &[f32], output: &mut Vec<f32>) {
    output_layer(model, hidden, output);
    for o in output.iter_mut() {
        *o = sigmoid(*o);
    }
}

fn sigmoid_table_entry(i: usize) -> f32 {
    let x = (i * 2 * MAX_SIGMOID as usize) as f32 / SIGMOID_TABLE_SIZE as f32 - MAX_SIGMOID;
    (1.0 / (1.0 + (-x).exp() as f64)) as f32
}

fn sigmoid(x: f32) -> f32 {
    if x < -MAX_SIGMOID {
        0.0
    } else if x > MAX_SIGMOID {
        1.0
    } else {
        let size = SIGMOID_TABLE_SIZE as f32;
        sigmoid_table_entry(((x + MAX_SIGMOID) * size / MAX_SIGMOID / 2.0) as usize)
    }
}

/// fastText's `findKBest` for k = 1 over probabilities: the last maximum of their logs.
fn best_output(output: &[f32]) -> Option<(f32, usize)> {
    let threshold = 0.0;
    let mut best: Option<(f32, usize)> = None;
    for (i, &p) in output.iter().enumerate() {
        let lp = std_log(p);
        if p < threshold || best.is_some_and(|(b, _)| lp < b) {
            continue;
        }
        best = Some((lp, i));
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subwords(word: &str, minn: usize, maxn: usize) -> Vec<u32> {
        let mut out = Vec::new();
        subword_hashes(word.as_bytes(), minn, maxn, |h| out.push(h));
        out
    }

    /// fastText's computeSubwords, building each n-gram string as it does.
    fn reference_subwords(word: &str, minn: usize, maxn: usize) -> Vec<u32> {
        let w = format!("<{word}>").into_bytes();
        let mut out = Vec::new();
        for i in 0..w.len() {
            if is_continuation(w[i]) {
                continue;
            }
            let mut ngram = Vec::new();
            let (mut j, mut n) = (i, 1);
            while j < w.len() && n <= maxn {
                ngram.push(w[j]);
                j += 1;
                while j < w.len() && is_continuation(w[j]) {
                    ngram.push(w[j]);
                    j += 1;
                }
                if n >= minn && !(n == 1 && (i == 0 || j == w.len())) {
                    out.push(fnv1a(&ngram));
                }
                n += 1;
            }
        }
        out
    }

    #[test]
    fn fnv_sign_extends_bytes() {
        assert_eq!(fnv1a(b""), FNV_OFFSET);
        // FNV-1a of "a" (ASCII bytes hash as in plain FNV-1a).
        assert_eq!(fnv1a(b"a"), 0xe40c292c);
        // A byte >= 0x80 is xored as 0xFFFFFFxx.
        let h = (FNV_OFFSET ^ 0xFFFF_FFC3).wrapping_mul(FNV_PRIME);
        assert_eq!(fnv1a(&[0xC3]), h);
    }

    #[test]
    fn subwords_are_utf8_char_ngrams_of_bracketed_word() {
        // "<ab>" with minn 2, maxn 3: <a, <ab, ab, ab>, b>.
        let want: Vec<u32> = ["<a", "<ab", "ab", "ab>", "b>"]
            .iter()
            .map(|s| fnv1a(s.as_bytes()))
            .collect();
        assert_eq!(subwords("ab", 2, 3), want);
        // minn 1 keeps single characters but never the lone brackets.
        let want: Vec<u32> = ["<a", "a", "a>"]
            .iter()
            .map(|s| fnv1a(s.as_bytes()))
            .collect();
        assert_eq!(subwords("a", 1, 2), want);
        assert_eq!(subwords("été", 2, 4)[0], fnv1a("<é".as_bytes()));
        for w in [
            "",
            "x",
            "hello",
            "été",
            "日本語のテキスト",
            "🙂👍",
            "a\u{301}b",
        ] {
            for (minn, maxn) in [(2, 4), (1, 1), (3, 6), (0, 0)] {
                assert_eq!(
                    subwords(w, minn, maxn),
                    reference_subwords(w, minn, maxn),
                    "{w}"
                );
            }
        }
    }

    #[test]
    fn tokens_split_on_fasttext_whitespace_and_end_with_eos() {
        let tokens = |t: &str| {
            let mut out = Vec::new();
            for_each_token(t.as_bytes(), |tok| {
                out.push(String::from_utf8_lossy(tok).into_owned())
            });
            out
        };
        assert_eq!(tokens(""), ["</s>"]);
        assert_eq!(tokens(" \t\r\n "), ["</s>"]);
        assert_eq!(
            tokens("a  b\nc\r\td\x0be\x0cf\0g"),
            ["a", "b", "c", "d", "e", "f", "g", "</s>"]
        );
        // Non-ASCII whitespace is part of a word, as in fastText.
        assert_eq!(tokens("a\u{a0}b c"), ["a\u{a0}b", "c", "</s>"]);
        // A literal `</s>` ends the line.
        assert_eq!(tokens("a </s> b"), ["a", "</s>"]);
    }

    #[test]
    fn sigmoid_table_matches_its_endpoints() {
        assert_eq!(sigmoid(-9.0), 0.0);
        assert_eq!(sigmoid(9.0), 1.0);
        assert_eq!(sigmoid(0.0), 0.5);
        assert!(sigmoid(-8.0) < 0.001 && sigmoid(8.0) > 0.999);
    }
}
