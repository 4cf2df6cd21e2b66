//! fastText's predict path for one line (`FastText::predictLine`), in the same f32 arithmetic
//! order so labels and probabilities are bit-identical: tokens as `Dictionary::getLine` reads
//! them, input rows averaged into the hidden vector, then the model's output layer and its k
//! best labels.
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

/// fastText's `addWordNgrams` for one line: for each word, the hashes of the n-grams (2..=n
/// words) starting there, chained with the 116049371 multiplier over the words' i32 hashes
/// widened (sign-extended) to u64 with wrapping arithmetic, as buckets `h % bucket`.
pub fn word_ngram_buckets(hashes: &[i32], n: usize, bucket: u32, mut emit: impl FnMut(u32)) {
    for i in 0..hashes.len() {
        let mut h = hashes[i] as i64 as u64;
        for &next in &hashes[i + 1..hashes.len().min(i + n)] {
            h = h
                .wrapping_mul(WORD_NGRAM_PRIME)
                .wrapping_add(next as i64 as u64);
            emit((h % bucket as u64) as u32);
        }
    }
}

/// How many input rows ahead of the sum their loading is started.
const PREFETCH_ROWS: usize = 8;

/// A label's log-probability and index, as fastText ranks predictions.
pub type Scored = (f32, usize);

/// Per-thread buffers reused across texts.
pub struct Scratch {
    hidden: Vec<f32>,
    word_hashes: Vec<i32>,
    output: Vec<f32>,
    heap: Vec<Scored>,
    path: Vec<usize>,
    /// The line's input rows, in fastText's order.
    rows: Vec<u32>,
}

impl Scratch {
    pub fn new(model: &Model) -> Self {
        Scratch {
            hidden: vec![0.0; model.header.dim],
            word_hashes: Vec::new(),
            output: Vec::new(),
            heap: Vec::new(),
            path: Vec::new(),
            rows: Vec::new(),
        }
    }
}

/// fastText's `getLine` then `computeHidden` on `text` as one line: the mean of the input rows
/// of its words (their own rows and char n-grams), then of its word n-grams, listed first and
/// added in that order so the f32 sums are the same. False when no row applies (fastText predicts nothing).
fn compute_hidden(model: &Model, text: &[u8], s: &mut Scratch) -> bool {
    let h = &model.header;
    let Scratch {
        hidden,
        word_hashes,
        rows,
        ..
    } = s;
    word_hashes.clear();
    rows.clear();
    for_each_token(text, |token| {
        let hash = fnv1a(token);
        match model.word_id(token, hash) {
            Some(id) if model.is_label(id) => return,
            Some(id) => rows.extend_from_slice(model.word_rows(id)),
            None if token.starts_with(LABEL_PREFIX) => return,
            None if token == EOS => {}
            None => subword_hashes(token, h.minn, h.maxn, |g| {
                rows.extend(h.bucket_row(g % h.bucket));
            }),
        }
        word_hashes.push(hash as i32);
    });
    if h.word_ngrams > 1 {
        word_ngram_buckets(word_hashes, h.word_ngrams, h.bucket, |b| {
            rows.extend(h.bucket_row(b));
        });
    }
    if rows.is_empty() {
        return false;
    }
    hidden.fill(0.0);
    for (i, &row) in rows.iter().enumerate() {
        if let Some(&ahead) = rows.get(i + PREFETCH_ROWS) {
            model.prefetch_input_row(ahead);
        }
        model.add_input_row(row, hidden);
    }
    // `hidden.mul(1.0 / input.size())`: the factor in f64, rounded to f32, then f32 products.
    let scale = (1.0 / rows.len() as f64) as f32;
    hidden.iter_mut().for_each(|v| *v *= scale);
    true
}

/// fastText's `predict(text + "\n", k, threshold)` for `text` with its newlines as spaces: up
/// to `k` labels with their log-probabilities, best first, in fastText's order (ties included);
/// empty when no input row applies. fastText reports `exp` of each log-probability.
pub fn predict<'s>(
    model: &Model,
    text: &[u8],
    k: usize,
    threshold: f32,
    s: &'s mut Scratch,
) -> &'s [Scored] {
    s.heap.clear();
    if k == 0 || !compute_hidden(model, text, s) {
        return &s.heap;
    }
    let Scratch {
        hidden,
        output,
        heap,
        ..
    } = s;
    match model.header.loss {
        Loss::HierarchicalSoftmax => {
            let root = model.tree().len() - 1;
            let top = TopK {
                k,
                log_threshold: std_log(threshold),
            };
            dfs(model, hidden, &top, root, 0.0, heap);
        }
        loss => {
            compute_output(model, loss, hidden, output);
            find_k_best(k, threshold, output, heap);
        }
    }
    sort_heap(heap);
    heap
}

/// Label `label`'s log-probability as fastText's `predict(text, k=-1, threshold=0.0)` reports
/// it; None when that leaves it out (no input row applies, or under hierarchical softmax its
/// path falls below log(1e-5)).
pub fn label_log_prob(model: &Model, text: &[u8], label: usize, s: &mut Scratch) -> Option<f32> {
    if !compute_hidden(model, text, s) {
        return None;
    }
    let Scratch {
        hidden,
        output,
        path,
        ..
    } = s;
    match model.header.loss {
        Loss::HierarchicalSoftmax => {
            // The DFS's sums along the root-to-leaf path (with k = all labels it visits every
            // leaf whose nodes all score >= log(1e-5)).
            let tree = model.tree();
            let osz = model.nlabels();
            path.clear();
            let mut node = label;
            while tree[node].parent >= 0 {
                path.push(node);
                node = tree[node].parent as usize;
            }
            let log_threshold = std_log(0.0);
            let mut score = 0.0f32;
            for &child in path.iter().rev() {
                if score < log_threshold {
                    return None;
                }
                let f = node_probability(model, hidden, node - osz);
                score += if tree[child].binary {
                    std_log(f)
                } else {
                    std_log((1.0 - f as f64) as f32)
                };
                node = child;
            }
            (score >= log_threshold).then_some(score)
        }
        loss => {
            compute_output(model, loss, hidden, output);
            Some(std_log(output[label]))
        }
    }
}

/// `1. / (1 + std::exp(-f))` for output row `row`: expf, a f32 sum, then the f64 quotient
/// rounded to f32, as fastText's hierarchical softmax computes it.
fn node_probability(model: &Model, hidden: &[f32], row: usize) -> f32 {
    let f = model.output_dot(hidden, row);
    (1.0 / (1.0f32 + (-f).exp()) as f64) as f32
}

/// The bounds of a hierarchical-softmax search.
struct TopK {
    k: usize,
    log_threshold: f32,
}

/// fastText's `HierarchicalSoftmaxLoss::dfs`: leaves enter the heap of the k best, subtrees
/// scoring below the threshold or (once the heap is full) below its worst are pruned.
fn dfs(model: &Model, hidden: &[f32], top: &TopK, node: usize, score: f32, heap: &mut Vec<Scored>) {
    if score < top.log_threshold || heap.len() == top.k && score < heap[0].0 {
        return;
    }
    let tree = model.tree();
    let n = tree[node];
    if n.left == -1 && n.right == -1 {
        heap_insert(heap, top.k, (score, node));
        return;
    }
    let f = node_probability(model, hidden, node - model.nlabels());
    let left = score + std_log((1.0 - f as f64) as f32);
    dfs(model, hidden, top, n.left as usize, left, heap);
    dfs(
        model,
        hidden,
        top,
        n.right as usize,
        score + std_log(f),
        heap,
    );
}

/// fastText's `computeOutput` of the softmax or binary-logistic (one-vs-all, negative
/// sampling) losses: per label, the probability.
fn compute_output(model: &Model, loss: Loss, hidden: &[f32], output: &mut Vec<f32>) {
    output.clear();
    output.extend((0..model.nlabels()).map(|i| model.output_dot(hidden, i)));
    if loss == Loss::Softmax {
        // Its `exp` is the f64 one.
        let max = output
            .iter()
            .fold(output[0], |m, &o| if o < m { m } else { o });
        let mut z = 0.0f32;
        for o in output.iter_mut() {
            *o = ((*o - max) as f64).exp() as f32;
            z += *o;
        }
        output.iter_mut().for_each(|o| *o /= z);
    } else {
        output.iter_mut().for_each(|o| *o = sigmoid(*o));
    }
}

/// fastText's `findKBest`: each label at or above `threshold` offered to the heap of the k best.
fn find_k_best(k: usize, threshold: f32, output: &[f32], heap: &mut Vec<Scored>) {
    for (i, &p) in output.iter().enumerate() {
        if p < threshold {
            continue;
        }
        let lp = std_log(p);
        if heap.len() == k && lp < heap[0].0 {
            continue;
        }
        heap_insert(heap, k, (lp, i));
    }
}

// fastText keeps its k best in a binary heap through libstdc++'s push_heap, pop_heap and
// sort_heap under `comparePairs` (a.score > b.score: the worst on top). Which of several equal
// scores survive, and their order, follow those algorithms' moves, so they are redone step for
// step (equal scores are common: one-vs-all probabilities come from a 512-entry table, and
// labels whose probability underflows to 0 all score log(1e-5)).
#[inline]
fn comp(a: &Scored, b: &Scored) -> bool {
    a.0 > b.0
}

/// Moves `value` up from `hole` towards `top` (`__push_heap`).
fn sift_up(h: &mut [Scored], mut hole: usize, top: usize, value: Scored) {
    while hole > top {
        let parent = (hole - 1) / 2;
        if !comp(&h[parent], &value) {
            break;
        }
        h[hole] = h[parent];
        hole = parent;
    }
    h[hole] = value;
}

/// Fills the hole at `hole` of the heap `h[..len]` by moving children up, then places `value`
/// (`__adjust_heap`).
fn adjust_heap(h: &mut [Scored], mut hole: usize, len: usize, value: Scored) {
    let top = hole;
    let mut child = hole;
    while child < (len - 1) / 2 {
        child = 2 * (child + 1);
        if comp(&h[child], &h[child - 1]) {
            child -= 1;
        }
        h[hole] = h[child];
        hole = child;
    }
    if len.is_multiple_of(2) && child == (len - 2) / 2 {
        child = 2 * (child + 1);
        h[hole] = h[child - 1];
        hole = child - 1;
    }
    sift_up(h, hole, top, value);
}

/// Moves the top of the heap `h` to its end, keeping the rest a heap (`pop_heap`).
fn pop_heap(h: &mut [Scored]) {
    let n = h.len();
    if n > 1 {
        let value = h[n - 1];
        h[n - 1] = h[0];
        adjust_heap(h, 0, n - 1, value);
    }
}

/// `push_back`, `push_heap`, and past `k` entries `pop_heap` and `pop_back`.
fn heap_insert(heap: &mut Vec<Scored>, k: usize, item: Scored) {
    heap.push(item);
    let last = heap.len() - 1;
    sift_up(heap, last, 0, item);
    if heap.len() > k {
        pop_heap(heap);
        heap.pop();
    }
}

/// `sort_heap`: best first.
fn sort_heap(heap: &mut [Scored]) {
    for n in (2..=heap.len()).rev() {
        pop_heap(&mut heap[..n]);
    }
}

fn sigmoid_table_entry(i: usize) -> f32 {
    let x = (i * 2 * MAX_SIGMOID as usize) as f32 / SIGMOID_TABLE_SIZE as f32 - MAX_SIGMOID;
    (1.0 / (1.0 + (-x).exp() as f64)) as f32
}

/// fastText's sigmoid, from its 513-entry table.
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

    #[test]
    fn word_ngrams_chain_sign_extended_hashes() {
        // Reference in i128 arithmetic reduced mod 2^64 (fastText's uint64_t), not u64 wrapping.
        fn chained(hashes: &[i32]) -> u64 {
            let m = 1i128 << 64;
            let mut h = (hashes[0] as i128).rem_euclid(m);
            for &x in &hashes[1..] {
                h = (h * WORD_NGRAM_PRIME as i128 + x as i128).rem_euclid(m);
            }
            h as u64
        }
        let hashes = [
            fnv1a(b"the") as i32,
            -5,
            i32::MIN,
            123_456,
            fnv1a(b"</s>") as i32,
        ];
        let bucket = 2_000_000u32;
        for n in 1..=4 {
            let mut got = Vec::new();
            word_ngram_buckets(&hashes, n, bucket, |b| got.push(b));
            // Per start word, the n-grams of 2, 3, ... words that fit, in that order.
            let mut want = Vec::new();
            for i in 0..hashes.len() {
                for j in i + 2..=(i + n).min(hashes.len()) {
                    want.push((chained(&hashes[i..j]) % bucket as u64) as u32);
                }
            }
            assert_eq!(got, want, "n = {n}");
        }
        let mut none = Vec::new();
        word_ngram_buckets(&hashes, 1, bucket, |b| none.push(b));
        assert!(none.is_empty());
        // Sign extension matters: -5 widens to 2^64 - 5, not 2^32 - 5.
        let mut one = Vec::new();
        word_ngram_buckets(&[-5, 0], 2, u32::MAX, |b| one.push(b));
        let want = ((u64::MAX - 4).wrapping_mul(WORD_NGRAM_PRIME) % u32::MAX as u64) as u32;
        assert_eq!(one, [want]);
    }

    fn top_k(scores: &[f32], k: usize) -> Vec<Scored> {
        let mut heap: Vec<Scored> = Vec::new();
        for (i, &s) in scores.iter().enumerate() {
            if heap.len() == k && s < heap[0].0 {
                continue;
            }
            heap_insert(&mut heap, k, (s, i));
        }
        sort_heap(&mut heap);
        heap
    }

    #[test]
    fn top_k_of_distinct_scores_is_the_k_largest_descending() {
        // A deterministic pseudo-random permutation of distinct scores.
        let scores: Vec<f32> = (0..97u32).map(|i| ((i * 37) % 97) as f32 - 40.0).collect();
        for k in [1, 2, 3, 5, 50, 97, 200] {
            let mut want: Vec<Scored> = scores.iter().copied().zip(0..).collect();
            want.sort_by(|a, b| b.0.total_cmp(&a.0));
            want.truncate(k);
            assert_eq!(top_k(&scores, k), want, "k = {k}");
        }
        assert!(top_k(&[], 3).is_empty());
    }

    #[test]
    fn top_k_breaks_ties_as_libstdcxx_heaps_do() {
        // Stepped by hand through push_heap/pop_heap/sort_heap with comparePairs: of three
        // equal scores with k = 2 the later two survive, the last first; k = 1 keeps the last.
        assert_eq!(top_k(&[0.5, 0.5, 0.5], 2), [(0.5, 2), (0.5, 1)]);
        assert_eq!(top_k(&[0.5, 0.5, 0.5], 1), [(0.5, 2)]);
        // With all kept, sort_heap's order of equal scores: [a, b] comes out as b, a.
        assert_eq!(top_k(&[0.5, 0.5], 2), [(0.5, 1), (0.5, 0)]);
        // A better score is never displaced by later ties of a worse one.
        assert_eq!(top_k(&[1.0, 0.5, 0.5, 0.5], 2), [(1.0, 0), (0.5, 3)]);
    }
}
