//! fastText binary model files (`.bin`, and `.ftz` as written by `fasttext quantize`), read as
//! fastText 0.9.2 (and fasttext-predict, its predict-only build) reads them:
//!
//! magic `793712314` (i32), version (i32, <= 12), args (12 × i32 and `t` as f64: dim, ws, epoch,
//! minCount, neg, wordNgrams, loss, model, bucket, minn, maxn, lrUpdateRate, t), dictionary
//! (size, nwords, nlabels: i32; ntokens, pruneidx_size: i64; `size` entries of NUL-terminated word,
//! count i64, type i8; then `pruneidx_size` pairs of i32 ngram bucket -> row), a bool for a
//! quantized input matrix, the input matrix, a bool `qout`, and the output matrix (quantized only
//! when both the input is and `qout` is set).
//!
//! A dense matrix is rows, cols (i64) and row-major f32. A quantized one is qnorm (bool), rows,
//! cols (i64), codesize (i32), the codes (one byte per sub-quantizer per row), its product
//! quantizer (dim, nsubq, dsub, lastdsub: i32; dim × 256 f32 centroids), and with qnorm one norm
//! code byte per row and a one-dimensional product quantizer for the norms. All little-endian.
//!
//! The file is memory-mapped: dense matrices (all of a `.bin`, DCLM's is 2.4 GB) are read in
//! place, so loading costs the dictionary only and processes on one machine share the pages.

use std::fs::File;
use std::io;
use std::ops::Deref;
use std::path::Path;

use memmap2::Mmap;
use rustc_hash::FxHashMap;

use super::predict::{fnv1a, subword_hashes};

const MAGIC: i32 = 793_712_314;
const VERSION: i32 = 12;
/// Centroids per sub-quantizer (fastText's `nbits_ = 8`).
const KSUB: usize = 256;
/// Added to a probability before its log, as fastText's `std_log`.
const LOG_EPSILON: f64 = 1e-5;

/// Output layers of a supervised model (fastText's `loss_name`, values as stored).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loss {
    HierarchicalSoftmax = 1,
    NegativeSampling = 2,
    Softmax = 3,
    OneVsAll = 4,
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let end = end.ok_or_else(|| format!("truncated model file at byte {}", self.pos))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        Ok(self.take(N)?.try_into().expect("length checked"))
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn bool(&mut self) -> Result<bool, String> {
        Ok(self.u8()? != 0)
    }

    fn i32(&mut self) -> Result<i32, String> {
        Ok(i32::from_le_bytes(self.array()?))
    }

    fn i64(&mut self) -> Result<i64, String> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    fn f64(&mut self) -> Result<f64, String> {
        Ok(f64::from_le_bytes(self.array()?))
    }

    /// Skips `n` f32 values, returning where they start.
    fn skip_f32s(&mut self, n: usize) -> Result<usize, String> {
        let at = self.pos;
        self.take(n.checked_mul(4).ok_or("matrix too large")?)?;
        Ok(at)
    }

    fn f32s(&mut self, n: usize) -> Result<Vec<f32>, String> {
        let bytes = self.take(n.checked_mul(4).ok_or("matrix too large")?)?;
        Ok(bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("chunk of 4")))
            .collect())
    }

    /// A count read from the file, checked to be non-negative and to fit the remaining bytes
    /// when each item takes at least `min_bytes` (guards allocations on corrupt files).
    fn count(&mut self, v: i64, min_bytes: usize) -> Result<usize, String> {
        let n = usize::try_from(v).map_err(|_| format!("negative count {v} in model file"))?;
        if n.saturating_mul(min_bytes) > self.buf.len() - self.pos {
            return Err(format!("count {n} exceeds the model file"));
        }
        Ok(n)
    }
}

/// fastText's `ProductQuantizer`: `nsubq` sub-vectors of `dsub` values (the last of `lastdsub`),
/// each coded by one byte indexing 256 centroids.
struct ProductQuantizer {
    nsubq: usize,
    dsub: usize,
    lastdsub: usize,
    centroids: Vec<f32>,
}

impl ProductQuantizer {
    fn load(r: &mut Reader) -> Result<Self, String> {
        let dim = r.i32()?;
        let (nsubq, dsub, lastdsub) = (r.i32()?, r.i32()?, r.i32()?);
        let dim = r.count(dim.into(), KSUB * 4)?;
        let pq = ProductQuantizer {
            nsubq: r.count(nsubq.into(), 0)?,
            dsub: r.count(dsub.into(), 0)?,
            lastdsub: r.count(lastdsub.into(), 0)?,
            centroids: r.f32s(dim * KSUB)?,
        };
        let covered = pq.nsubq.checked_sub(1).map(|m| m * pq.dsub + pq.lastdsub);
        if pq.nsubq == 0 || covered != Some(dim) {
            return Err(format!("inconsistent product quantizer for dim {dim}"));
        }
        Ok(pq)
    }

    /// Centroid `i` of sub-quantizer `m` (fastText's `get_centroids`).
    fn centroid(&self, m: usize, i: u8) -> &[f32] {
        let i = i as usize;
        if m == self.nsubq - 1 {
            let at = m * KSUB * self.dsub + i * self.lastdsub;
            &self.centroids[at..at + self.lastdsub]
        } else {
            let at = (m * KSUB + i) * self.dsub;
            &self.centroids[at..at + self.dsub]
        }
    }
}

/// fastText's `QuantMatrix`: product-quantized rows, optionally scaled by a quantized norm.
struct QuantMatrix {
    rows: usize,
    cols: usize,
    codes: Vec<u8>,
    pq: ProductQuantizer,
    norms: Option<(Vec<u8>, ProductQuantizer)>,
}

impl QuantMatrix {
    fn load(r: &mut Reader) -> Result<Self, String> {
        let qnorm = r.bool()?;
        let (rows, cols, codesize) = (r.i64()?, r.i64()?, r.i32()?);
        let codes = r.count(codesize.into(), 1)?;
        let codes = r.take(codes)?.to_vec();
        let pq = ProductQuantizer::load(r)?;
        let rows = r.count(rows, 0)?;
        let cols = r.count(cols, 0)?;
        let norms = if qnorm {
            let n = r.count(rows as i64, 1)?;
            Some((r.take(n)?.to_vec(), ProductQuantizer::load(r)?))
        } else {
            None
        };
        if pq.nsubq.checked_mul(rows) != Some(codes.len()) || pq.centroids.len() != cols * KSUB {
            return Err("quantized matrix codes do not match its shape".into());
        }
        Ok(QuantMatrix {
            rows,
            cols,
            codes,
            pq,
            norms,
        })
    }

    fn norm(&self, row: usize) -> f32 {
        self.norms
            .as_ref()
            .map_or(1.0, |(codes, npq)| npq.centroid(0, codes[row])[0])
    }

    fn codes(&self, row: usize) -> &[u8] {
        &self.codes[row * self.pq.nsubq..(row + 1) * self.pq.nsubq]
    }

    /// Row `row` as the values fastText's `addcode` adds: `alpha * centroid` with alpha the
    /// row's norm, each product rounded to f32 as there, so adding these later is bit-identical.
    fn scaled_row(&self, row: usize, out: &mut Vec<f32>) {
        let alpha = self.norm(row);
        for (m, &code) in self.codes(row).iter().enumerate() {
            out.extend(self.pq.centroid(m, code).iter().map(|&c| alpha * c));
        }
    }

    /// fastText's `mulcode`: the f32 dot product in code order, then times the norm.
    fn dot_row(&self, x: &[f32], row: usize) -> f32 {
        let mut res = 0.0f32;
        for (m, &code) in self.codes(row).iter().enumerate() {
            let xs = &x[m * self.pq.dsub..];
            for (&xv, &c) in xs.iter().zip(self.pq.centroid(m, code)) {
                res += xv * c;
            }
        }
        res * self.norm(row)
    }
}

/// A dense matrix left in the file: `rows × cols` little-endian f32 from byte `offset`.
struct DenseMatrix {
    offset: usize,
    rows: usize,
    cols: usize,
}

impl DenseMatrix {
    fn row<'f>(&self, file: &'f [u8], row: usize) -> &'f [u8] {
        let at = self.offset + row * self.cols * 4;
        &file[at..at + self.cols * 4]
    }
}

/// The f32 at the start of a 4-byte chunk (matrices in the file need not be 4-aligned).
#[inline]
fn le_f32(c: &[u8]) -> f32 {
    f32::from_le_bytes([c[0], c[1], c[2], c[3]])
}

/// A weight matrix as stored: dense f32, or product-quantized.
enum Matrix {
    Dense(DenseMatrix),
    Quant(QuantMatrix),
}

impl Matrix {
    fn load_dense(r: &mut Reader) -> Result<Self, String> {
        let (rows, cols) = (r.i64()?, r.i64()?);
        let rows = r.count(rows, 0)?;
        let cols = r.count(cols, 0)?;
        let n = rows.checked_mul(cols).ok_or("matrix too large")?;
        let offset = r.skip_f32s(n)?;
        Ok(Matrix::Dense(DenseMatrix { offset, rows, cols }))
    }

    fn rows(&self) -> usize {
        match self {
            Matrix::Dense(d) => d.rows,
            Matrix::Quant(q) => q.rows,
        }
    }

    fn cols(&self) -> usize {
        match self {
            Matrix::Dense(d) => d.cols,
            Matrix::Quant(q) => q.cols,
        }
    }

    /// fastText's `dotRow`: sequential f32 accumulation.
    fn dot_row(&self, file: &[u8], x: &[f32], row: usize) -> f32 {
        match self {
            Matrix::Dense(m) => {
                let mut d = 0.0f32;
                for (c, &v) in m.row(file, row).chunks_exact(4).zip(x) {
                    d += le_f32(c) * v;
                }
                d
            }
            Matrix::Quant(q) => q.dot_row(x, row),
        }
    }
}

/// The input matrix as prediction reads it: rows of the file's dense matrix, or a quantized
/// matrix decoded once into the f32 values fastText's `addcode` adds (small: `.ftz` files are).
enum Input {
    InFile(DenseMatrix),
    Decoded(Vec<f32>),
}

impl Input {
    fn new(m: Matrix) -> Self {
        match m {
            Matrix::Dense(d) => Input::InFile(d),
            Matrix::Quant(q) => {
                let mut out = Vec::with_capacity(q.rows * q.cols);
                for row in 0..q.rows {
                    q.scaled_row(row, &mut out);
                }
                Input::Decoded(out)
            }
        }
    }
}

/// A node of fastText's Huffman tree over labels (hierarchical softmax).
#[derive(Clone, Copy)]
pub struct Node {
    pub left: i32,
    pub right: i32,
    pub parent: i32,
    /// Whether the node is its parent's right child (fastText's `binary`).
    pub binary: bool,
}

/// fastText's `HierarchicalSoftmaxLoss::buildTree` over label counts: leaves `0..n` are the
/// labels, internal nodes `n..2n-1` (the root last).
fn build_tree(counts: &[i64]) -> Vec<Node> {
    let osz = counts.len();
    if osz == 0 {
        return Vec::new();
    }
    let mut count: Vec<i64> = counts.to_vec();
    count.resize(2 * osz - 1, 1_000_000_000_000_000);
    let mut tree = vec![
        Node {
            left: -1,
            right: -1,
            parent: -1,
            binary: false,
        };
        2 * osz - 1
    ];
    let mut leaf = osz as i64 - 1;
    let mut node = osz;
    for i in osz..2 * osz - 1 {
        let mut mini = [0usize; 2];
        for m in &mut mini {
            if leaf >= 0 && count[leaf as usize] < count[node] {
                *m = leaf as usize;
                leaf -= 1;
            } else {
                *m = node;
                node += 1;
            }
        }
        tree[i].left = mini[0] as i32;
        tree[i].right = mini[1] as i32;
        count[i] = count[mini[0]] + count[mini[1]];
        tree[mini[0]].parent = i as i32;
        tree[mini[1]].parent = i as i32;
        tree[mini[1]].binary = true;
    }
    tree
}

/// How char n-gram and word n-gram buckets map to input rows (fastText's `pushHash`).
enum Buckets {
    /// Not pruned: bucket `b` is row `nwords + b`.
    All,
    /// Pruned by quantization: only the kept buckets, at their new index.
    Pruned(FxHashMap<u32, u32>),
}

/// A model file's bytes: mapped from disk (or, in unit tests, built in memory).
pub enum Bytes {
    Mapped(Mmap),
    #[cfg(test)]
    Owned(Vec<u8>),
}

impl Bytes {
    /// Maps `path` read-only.
    pub fn map(path: &Path) -> io::Result<Self> {
        let file = File::open(path)?;
        // SAFETY: the map is only read. Changing the file in place while it is mapped would
        // change (or, truncated, fault) what is read; model files are written once and replaced
        // by new files (a new inode: the old map stays valid), and mdfql's cache reloads a path
        // whose size or mtime changed.
        Ok(Bytes::Mapped(unsafe { Mmap::map(&file)? }))
    }
}

impl Deref for Bytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Mapped(m) => m,
            #[cfg(test)]
            Bytes::Owned(v) => v,
        }
    }
}

/// A supervised model's arguments and dictionary (all before its matrices).
pub struct Header {
    pub dim: usize,
    pub word_ngrams: usize,
    pub loss: Loss,
    pub bucket: u32,
    pub minn: usize,
    pub maxn: usize,
    nwords: usize,
    /// Words then labels, NUL-free, concatenated; entry `i` is `text[starts[i]..starts[i + 1]]`.
    text: Vec<u8>,
    starts: Vec<usize>,
    label_counts: Vec<i64>,
    buckets: Buckets,
}

impl Header {
    fn parse(r: &mut Reader) -> Result<Self, String> {
        if r.i32()? != MAGIC {
            return Err("not a fastText model file (bad magic number)".into());
        }
        let version = r.i32()?;
        if version > VERSION {
            return Err(format!(
                "fastText model version {version} is newer than supported"
            ));
        }
        let a: Vec<i32> = (0..12).map(|_| r.i32()).collect::<Result<_, _>>()?;
        let _t = r.f64()?;
        let [dim, _ws, _epoch, _min_count, _neg, word_ngrams, loss, model, bucket, minn, maxn, _] =
            a[..]
        else {
            unreachable!("12 args read")
        };
        if model != 3 {
            return Err("not a supervised model (fastText predicts labels only with those)".into());
        }
        let loss = match loss {
            1 => Loss::HierarchicalSoftmax,
            2 => Loss::NegativeSampling,
            3 => Loss::Softmax,
            4 => Loss::OneVsAll,
            other => return Err(format!("unknown loss {other}")),
        };
        // Version 11 supervised models predate char n-grams (fastText's loadModel).
        let maxn = if version == 11 {
            0
        } else {
            maxn.max(0) as usize
        };
        let word_ngrams = word_ngrams.max(1) as usize;
        let (dim, bucket) = (r.count(dim.into(), 0)?, r.count(bucket.into(), 0)?);
        if (maxn > 0 || word_ngrams > 1) && bucket == 0 || bucket > u32::MAX as usize {
            return Err(format!("invalid bucket count {bucket}"));
        }

        let (size, nwords, nlabels) = (r.i32()?, r.i32()?, r.i32()?);
        let (_ntokens, prune_size) = (r.i64()?, r.i64()?);
        let size = r.count(size.into(), 10)?;
        let nwords = r.count(nwords.into(), 0)?;
        let nlabels = r.count(nlabels.into(), 0)?;
        if nwords + nlabels != size {
            return Err("dictionary sizes do not add up".into());
        }
        if nlabels == 0 {
            return Err("the model has no labels".into());
        }
        let mut text = Vec::new();
        let mut starts = vec![0];
        let mut label_counts = Vec::with_capacity(nlabels);
        for i in 0..size {
            let rest = &r.buf[r.pos..];
            let len = memchr::memchr(0, rest).ok_or("unterminated dictionary entry")?;
            text.extend_from_slice(r.take(len + 1)?.split_last().expect("NUL").1);
            starts.push(text.len());
            let (count, is_label) = (r.i64()?, r.u8()? == 1);
            if is_label != (i >= nwords) {
                return Err("dictionary entries are not words then labels".into());
            }
            if is_label {
                label_counts.push(count);
            }
        }
        let buckets = if prune_size < 0 {
            Buckets::All
        } else {
            let n = r.count(prune_size, 8)?;
            let mut map = FxHashMap::default();
            for _ in 0..n {
                let (from, to) = (r.i32()?, r.i32()?);
                map.insert(from as u32, to as u32);
            }
            Buckets::Pruned(map)
        };
        Ok(Header {
            dim,
            word_ngrams,
            loss,
            bucket: bucket as u32,
            minn: minn.max(0) as usize,
            maxn,
            nwords,
            text,
            starts,
            label_counts,
            buckets,
        })
    }

    fn entry(&self, i: usize) -> &[u8] {
        &self.text[self.starts[i]..self.starts[i + 1]]
    }

    pub fn nlabels(&self) -> usize {
        self.label_counts.len()
    }

    /// Label `i` as stored (with its `__label__` prefix).
    pub fn label(&self, i: usize) -> &[u8] {
        self.entry(self.nwords + i)
    }

    /// Index of the label stored as `name`.
    pub fn label_id(&self, name: &[u8]) -> Option<usize> {
        (0..self.nlabels()).find(|&i| self.label(i) == name)
    }

    /// Input row of a char or word n-gram bucket, if the model kept it.
    pub fn bucket_row(&self, bucket: u32) -> Option<u32> {
        match &self.buckets {
            Buckets::All => Some(self.nwords as u32 + bucket),
            Buckets::Pruned(map) => map.get(&bucket).map(|&r| self.nwords as u32 + r),
        }
    }
}

/// The matrices after a header, checked against it.
fn parse_matrices(r: &mut Reader, h: &Header) -> Result<(Matrix, Matrix), String> {
    let quant_input = r.bool()?;
    let input = if quant_input {
        Matrix::Quant(QuantMatrix::load(r)?)
    } else {
        if matches!(h.buckets, Buckets::Pruned(_)) {
            return Err("pruned dictionary with a dense input matrix".into());
        }
        Matrix::load_dense(r)?
    };
    let qout = r.bool()?;
    let output = if quant_input && qout {
        Matrix::Quant(QuantMatrix::load(r)?)
    } else {
        Matrix::load_dense(r)?
    };
    if input.cols() != h.dim || output.cols() != h.dim {
        return Err("matrix widths differ from the model dimension".into());
    }
    let out_rows = if h.loss == Loss::HierarchicalSoftmax {
        h.nlabels() - 1
    } else {
        h.nlabels()
    };
    if output.rows() < out_rows {
        return Err("output matrix has fewer rows than the model has labels".into());
    }
    Ok((input, output))
}

/// Reads a model file's header and checks its matrices' layout without loading them (a check
/// before planning: cheap even for a multi-GB model).
pub fn check(buf: &[u8]) -> Result<Header, String> {
    let r = &mut Reader { buf, pos: 0 };
    let header = Header::parse(r)?;
    parse_matrices(r, &header)?;
    Ok(header)
}

/// A supervised fastText model, ready for prediction.
pub struct Model {
    pub header: Header,
    file: Bytes,
    /// Open-addressing table of fastText's dictionary (`word2int_`), probed identically.
    word2int: Vec<i32>,
    /// Input rows of each word (its own row, then its char n-grams'), flattened.
    subwords: Vec<u32>,
    subword_starts: Vec<usize>,
    input: Input,
    output: Matrix,
    tree: Vec<Node>,
}

impl Model {
    /// Parses a model file's bytes.
    pub fn new(file: Bytes) -> Result<Self, String> {
        let r = &mut Reader { buf: &file, pos: 0 };
        let header = Header::parse(r)?;
        let (input, output) = parse_matrices(r, &header)?;
        let input_rows = input.rows();
        let size = header.starts.len() - 1;
        let word2int_size = (size as f64 / 0.7).ceil() as usize;
        let tree = if header.loss == Loss::HierarchicalSoftmax {
            build_tree(&header.label_counts)
        } else {
            Vec::new()
        };
        let mut model = Model {
            header,
            word2int: vec![-1; word2int_size.max(1)],
            subwords: Vec::new(),
            subword_starts: vec![0],
            input: Input::new(input),
            output,
            tree,
            file,
        };
        let h = &model.header;
        for i in 0..size {
            let slot = model.find(h.entry(i), fnv1a(h.entry(i)));
            model.word2int[slot] = i as i32;
        }
        // fastText's initNgrams: a word's rows are its own then its char n-grams' (none for EOS).
        // Labels' are never read (a label token adds no row), and can lie past the matrix.
        for i in 0..h.nwords {
            let mut rows = vec![i as u32];
            if h.entry(i) != EOS {
                subword_hashes(h.entry(i), h.minn, h.maxn, |g| {
                    rows.extend(h.bucket_row(g % h.bucket));
                });
            }
            model.subwords.extend(&rows);
            model.subword_starts.push(model.subwords.len());
        }
        if model.subwords.iter().any(|&row| row as usize >= input_rows) {
            return Err("input matrix has fewer rows than the dictionary needs".into());
        }
        Ok(model)
    }

    /// Parses a model file held in memory.
    #[cfg(test)]
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, String> {
        Model::new(Bytes::Owned(bytes))
    }

    /// fastText's `Dictionary::find`: linear probing from `h mod size`.
    fn find(&self, word: &[u8], h: u32) -> usize {
        let n = self.word2int.len();
        let mut id = h as usize % n;
        while self.word2int[id] != -1 && self.header.entry(self.word2int[id] as usize) != word {
            id = (id + 1) % n;
        }
        id
    }

    /// Dictionary index of `word` whose FNV hash is `h`.
    pub fn word_id(&self, word: &[u8], h: u32) -> Option<usize> {
        let id = self.word2int[self.find(word, h)];
        (id >= 0).then_some(id as usize)
    }

    pub fn is_label(&self, id: usize) -> bool {
        id >= self.header.nwords
    }

    /// Input rows of in-vocabulary word `id` (not a label).
    pub fn word_rows(&self, id: usize) -> &[u32] {
        &self.subwords[self.subword_starts[id]..self.subword_starts[id + 1]]
    }

    /// Adds input row `row` to `hidden` as fastText's `addRow` does (f32, in order).
    #[inline]
    pub fn add_input_row(&self, row: u32, hidden: &mut [f32]) {
        let row = row as usize;
        match &self.input {
            Input::InFile(m) => {
                for (h, c) in hidden
                    .iter_mut()
                    .zip(m.row(&self.file, row).chunks_exact(4))
                {
                    *h += le_f32(c);
                }
            }
            Input::Decoded(rows) => {
                let dim = self.header.dim;
                for (h, &v) in hidden.iter_mut().zip(&rows[row * dim..(row + 1) * dim]) {
                    *h += v;
                }
            }
        }
    }

    /// Asks the CPU to start loading input row `row`: rows are read at random from a matrix
    /// much larger than the caches (DCLM's is 2.4 GB), and fetching a few rows ahead of their
    /// sum hides most of that latency.
    #[inline]
    pub fn prefetch_input_row(&self, row: u32) {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            let row = row as usize;
            let bytes: &[u8] = match &self.input {
                Input::InFile(m) => m.row(&self.file, row),
                Input::Decoded(rows) => {
                    let dim = self.header.dim;
                    let r = &rows[row * dim..(row + 1) * dim];
                    // SAFETY: the f32s' own memory, viewed as its bytes (u8 has no invalid
                    // values and alignment 1).
                    unsafe { std::slice::from_raw_parts(r.as_ptr().cast(), r.len() * 4) }
                }
            };
            for line in bytes.chunks(64) {
                // SAFETY: SSE is part of x86_64; a prefetch only hints, it reads nothing.
                unsafe { _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast()) };
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = row;
    }

    pub fn nlabels(&self) -> usize {
        self.header.nlabels()
    }

    pub fn output_dot(&self, hidden: &[f32], row: usize) -> f32 {
        self.output.dot_row(&self.file, hidden, row)
    }

    pub fn tree(&self) -> &[Node] {
        &self.tree
    }
}

/// fastText's end-of-sentence token, produced for the newline that ends a predicted line.
pub const EOS: &[u8] = b"</s>";

/// fastText's `std_log`: log(x + 1e-5), the sum and log in f64, the result rounded to f32.
pub fn std_log(x: f32) -> f32 {
    (x as f64 + LOG_EPSILON).ln() as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huffman_tree_merges_smallest_counts_first() {
        // Labels come sorted by decreasing count, as fastText's dictionary stores them.
        let tree = build_tree(&[10, 5, 3, 1]);
        assert_eq!(tree.len(), 7);
        // 1 + 3, then 5 + (1+3), then 10 + (5+4): the root is the last node.
        assert_eq!((tree[4].left, tree[4].right), (3, 2));
        assert_eq!((tree[5].left, tree[5].right), (4, 1));
        assert_eq!((tree[6].left, tree[6].right), (5, 0));
        assert!(tree[..4].iter().all(|n| n.left == -1 && n.right == -1));
        // Parents link back; right children are marked.
        assert_eq!(tree[3].parent, 4);
        assert!(tree[2].binary && !tree[3].binary);
        assert_eq!(tree[6].parent, -1);
    }

    #[test]
    fn std_log_adds_epsilon_in_f64() {
        assert_eq!(std_log(0.0), (1e-5f64).ln() as f32);
        assert!(std_log(1.0) > 0.0);
    }

    #[test]
    fn rejects_other_files() {
        assert!(Model::from_bytes(Vec::new()).is_err());
        let err = |bytes: &[u8]| Model::from_bytes(bytes.to_vec()).err().expect("rejected");
        assert!(err(&[0u8; 64]).contains("magic"));
        let mut truncated = MAGIC.to_le_bytes().to_vec();
        truncated.extend(12i32.to_le_bytes());
        assert!(err(&truncated).contains("truncated"));
    }
}
