//! `image_quality`: technical-quality signals of one decoded image, the profiling signals of
//! Z-Image (arXiv 2511.22699) and mega-data-factory's technical-quality refiner, each with the
//! formula it follows. `g` is Pillow's grey (`convert("L")`, L24) of Pillow's RGB pixels;
//! means and variances are over pixels (population variance); all sums are exact integers
//! until the final division, so numpy's float64 of the same formula agrees to ~1e-12.

use crate::imagehash::{l24, Rgb};

/// The signals of one image.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Signals {
    /// JPEG 8x8 blockiness in 0..1: with B the mean |grey difference| across the 8x8 block
    /// boundaries (between pixels 7 and 8, 15 and 16, ... of each row and column) and I the
    /// mean |difference| of the other neighbour pairs, max(0, (B - I) / B) = 1 - I/B: 0 when
    /// boundaries are no stronger than the rest (Wang, Sheikh & Bovik, "No-reference
    /// perceptual quality assessment of JPEG compressed images", ICIP 2002: block-boundary
    /// against within-block differences).
    pub blockiness: f64,
    /// Ideal raw size (width x height x channels of Pillow's mode, 8 bits each) / file size.
    pub compression_ratio: f64,
    /// mega-data-factory's artefact score with true blockiness: clamp(0.6 x blockiness +
    /// 0.4 x (1 - min(2 / compression_ratio, 1)), 0, 1).
    pub compression_artifacts: f64,
    /// Variance of the 3x3 Laplacian [0 1 0; 1 -4 1; 0 1 0] of g over interior pixels
    /// (Pech-Pacheco et al., "Diatom autofocusing in brightfield microscopy", ICPR 2000).
    pub sharpness: f64,
    /// Shannon entropy of g's 256-bin histogram, bits.
    pub entropy: f64,
    /// mean(g) / 255.
    pub brightness: f64,
    /// std(g) / 255 (RMS contrast).
    pub contrast: f64,
    /// Mean HSV saturation (max - min) / max of R, G, B (0 where max = 0).
    pub saturation: f64,
    /// Hasler & Suesstrunk colourfulness ("Measuring colourfulness in natural images", SPIE
    /// 2003): rg = R - G, yb = (R + G) / 2 - B; sqrt(var rg + var yb) + 0.3 sqrt(mean rg^2 +
    /// mean yb^2), in pixel units (their scale: 15 slightly ... 109 extremely colourful).
    pub colorfulness: f64,
    /// Colour cast in 0..1: the equivalent-circle cast factor K = D / M (Xu et al. 2008:
    /// D the distance of the mean chroma from neutral, M the chroma spread) taken on
    /// Hasler-Suesstrunk's opponent axes: D = sqrt(mean rg^2 + mean yb^2), M = sqrt(var rg +
    /// var yb); reported as K / (1 + K) = D / (D + M) (0 when both are 0).
    pub color_cast: f64,
    /// Immerkaer's noise standard deviation ("Fast noise variance estimation", CVIU 1996):
    /// sqrt(pi / 2) / (6 (W - 2)(H - 2)) x sum |g * [1 -2 1; -2 4 -2; 1 -2 1]| over interior
    /// pixels, in grey levels.
    pub noise: f64,
    /// Variance of g over the one-pixel frame of the image (low: a flat border, padding or
    /// letterboxing).
    pub border_variance: f64,
}

/// Population variance from exact integer sums: (n * sum(x^2) - sum(x)^2) / n^2.
fn variance(n: u64, sum: i64, sum_sq: u64) -> f64 {
    if n == 0 {
        return 0.0;
    }
    let num = n as i128 * sum_sq as i128 - sum as i128 * sum as i128;
    num as f64 / (n as f64 * n as f64)
}

/// Integer sums of one variable: count, sum, sum of squares.
#[derive(Default, Clone, Copy)]
struct Moments {
    n: u64,
    sum: i64,
    sum_sq: u64,
}

impl Moments {
    #[inline]
    fn add(&mut self, v: i64) {
        self.n += 1;
        self.sum += v;
        self.sum_sq += (v * v) as u64;
    }
    fn merge(&mut self, o: Moments) {
        self.n += o.n;
        self.sum += o.sum;
        self.sum_sq += o.sum_sq;
    }
    fn mean(&self) -> f64 {
        if self.n == 0 { 0.0 } else { self.sum as f64 / self.n as f64 }
    }
    fn var(&self) -> f64 {
        variance(self.n, self.sum, self.sum_sq)
    }
}

/// The colour pass: g into `grey`, its histogram, the opponent channels' moments and the
/// saturation sum.
struct ColourPass {
    hist: [u64; 256],
    rg: Moments,
    yb2: Moments, // 2 yb = R + G - 2B, integral
    saturation: f64,
}

fn colour_pass(rgb: &[u8], grey: &mut Vec<u8>) -> ColourPass {
    grey.clear();
    grey.extend(rgb.chunks_exact(3).map(|p| l24(p[0] as u32, p[1] as u32, p[2] as u32)));
    let mut hist = [0u64; 256];
    for &v in grey.iter() {
        hist[v as usize] += 1;
    }
    let (mut rg, mut yb2) = (Moments::default(), Moments::default());
    let mut saturation = 0.0;
    for p in rgb.chunks_exact(3) {
        let (r, g, b) = (p[0] as i64, p[1] as i64, p[2] as i64);
        rg.add(r - g);
        yb2.add(r + g - 2 * b);
        let (max, min) = (p[0].max(p[1]).max(p[2]), p[0].min(p[1]).min(p[2]));
        if max > 0 {
            saturation += (max - min) as f64 / max as f64;
        }
    }
    ColourPass {
        hist,
        rg,
        yb2,
        saturation,
    }
}

/// The neighbourhood pass over g: block-boundary and inner difference sums, Laplacian
/// moments, Immerkaer's sum.
#[derive(Default)]
struct GreyPass {
    boundary: (u64, u64), // (sum of |differences|, pairs)
    inner: (u64, u64),
    laplacian: Moments,
    immerkaer: u64,
}

/// Sum of |a[i] - b[i]| (vectorised: no branch per pixel).
#[inline]
fn sum_abs_diff(a: &[u8], b: &[u8]) -> u64 {
    a.iter().zip(b).map(|(&x, &y)| x.abs_diff(y) as u64).sum()
}

fn grey_pass(g: &[u8], w: usize, h: usize) -> GreyPass {
    let mut out = GreyPass::default();
    let row = |y: usize| &g[y * w..(y + 1) * w];
    let add = |s: &mut (u64, u64), sum: u64, pairs: usize| {
        s.0 += sum;
        s.1 += pairs as u64;
    };
    for y in 0..h {
        let mid = row(y);
        // horizontal pairs (x, x + 1); those with x = 7, 15, ... cross a block boundary
        let all = sum_abs_diff(&mid[..w - 1], &mid[1..]);
        let across: u64 = (7..w - 1).step_by(8).map(|x| mid[x].abs_diff(mid[x + 1]) as u64).sum();
        let crossing = (w - 1) / 8;
        add(&mut out.boundary, across, crossing);
        add(&mut out.inner, all - across, w - 1 - crossing);
        if y + 1 < h {
            let sum = sum_abs_diff(mid, row(y + 1));
            add(if y % 8 == 7 { &mut out.boundary } else { &mut out.inner }, sum, w);
        }
        if y == 0 || y + 1 >= h || w < 3 {
            continue;
        }
        let (up, down) = (row(y - 1), row(y + 1));
        let mut lap = Moments::default();
        let mut imm = 0u64;
        for x in 1..w - 1 {
            let c = mid[x] as i64;
            let l = up[x] as i64 + down[x] as i64 + mid[x - 1] as i64 + mid[x + 1] as i64 - 4 * c;
            lap.add(l);
            let second = |r: &[u8]| r[x - 1] as i64 - 2 * r[x] as i64 + r[x + 1] as i64;
            imm += (second(up) - 2 * second(mid) + second(down)).unsigned_abs();
        }
        out.laplacian.merge(lap);
        out.immerkaer += imm;
    }
    out
}

/// Variance of g over the one-pixel frame.
fn border_variance(g: &[u8], w: usize, h: usize) -> f64 {
    let mut m = Moments::default();
    let mut add = |v: u8| m.add(v as i64);
    g[..w].iter().for_each(|&v| add(v));
    if h > 1 {
        g[(h - 1) * w..].iter().for_each(|&v| add(v));
    }
    for y in 1..h.saturating_sub(1) {
        add(g[y * w]);
        if w > 1 {
            add(g[y * w + w - 1]);
        }
    }
    m.var()
}

/// -sum p log2 p, written p log2(1/p) so that one full bin gives +0.0, not -0.0 (which a SQL
/// `entropy >= 0` rejects).
fn entropy(hist: &[u64; 256], n: u64) -> f64 {
    hist.iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n as f64;
            p * (n as f64 / c as f64).log2()
        })
        .sum()
}

/// The signals of a decoded image whose file is `size_bytes` long and whose mode has
/// `channels` channels; `grey` is scratch space for g.
pub fn measure(rgb: &Rgb, size_bytes: u64, channels: u64, grey: &mut Vec<u8>) -> Signals {
    let (w, h) = (rgb.width, rgb.height);
    let n = (w * h) as u64;
    let colour = colour_pass(&rgb.pixels, grey);
    let gp = grey_pass(grey, w, h);
    let mut g = Moments::default();
    for (v, &c) in colour.hist.iter().enumerate() {
        g.n += c;
        g.sum += v as i64 * c as i64;
        g.sum_sq += (v * v) as u64 * c;
    }
    let mean_of = |(sum, count): (u64, u64)| if count == 0 { 0.0 } else { sum as f64 / count as f64 };
    let (b, i) = (mean_of(gp.boundary), mean_of(gp.inner));
    let blockiness = if b > 0.0 { ((b - i) / b).max(0.0) } else { 0.0 };
    let compression_ratio = (n * channels) as f64 / size_bytes.max(1) as f64;
    let compression_score = 1.0 - (2.0 / compression_ratio).min(1.0);
    let (var_rg, var_yb) = (colour.rg.var(), colour.yb2.var() / 4.0);
    let (mean_rg, mean_yb) = (colour.rg.mean(), colour.yb2.mean() / 2.0);
    let spread = (var_rg + var_yb).sqrt();
    let offset = (mean_rg * mean_rg + mean_yb * mean_yb).sqrt();
    let interior = (w.saturating_sub(2) * h.saturating_sub(2)) as f64;
    Signals {
        blockiness,
        compression_ratio,
        compression_artifacts: (0.6 * blockiness + 0.4 * compression_score).clamp(0.0, 1.0),
        sharpness: gp.laplacian.var(),
        entropy: entropy(&colour.hist, n),
        brightness: g.mean() / 255.0,
        contrast: g.var().sqrt() / 255.0,
        saturation: colour.saturation / n as f64,
        colorfulness: spread + 0.3 * offset,
        color_cast: if offset + spread > 0.0 { offset / (offset + spread) } else { 0.0 },
        noise: if interior > 0.0 {
            (std::f64::consts::PI / 2.0).sqrt() * gp.immerkaer as f64 / (6.0 * interior)
        } else {
            0.0
        },
        border_variance: border_variance(grey, w, h),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rgb_from(w: usize, h: usize, f: impl Fn(usize, usize) -> [u8; 3]) -> Rgb {
        let f = &f;
        let pixels = (0..h).flat_map(|y| (0..w).flat_map(move |x| f(x, y))).collect();
        Rgb { width: w, height: h, pixels }
    }

    #[test]
    fn a_flat_grey_image_has_no_signal() {
        let s = measure(&rgb_from(16, 16, |_, _| [100; 3]), 100, 3, &mut Vec::new());
        assert_eq!((s.blockiness, s.sharpness, s.entropy, s.contrast), (0.0, 0.0, 0.0, 0.0));
        assert!(s.entropy.is_sign_positive());
        assert_eq!((s.saturation, s.colorfulness, s.color_cast, s.noise), (0.0, 0.0, 0.0, 0.0));
        assert_eq!(s.border_variance, 0.0);
        assert!((s.brightness - 100.0 / 255.0).abs() < 1e-15);
        assert!((s.compression_ratio - 16.0 * 16.0 * 3.0 / 100.0).abs() < 1e-12);
    }

    #[test]
    fn flat_8x8_blocks_are_fully_blocky() {
        let s = measure(&rgb_from(32, 32, |x, y| [((x / 8 * 40 + y / 8 * 10) % 256) as u8; 3]),
                        1000, 3, &mut Vec::new());
        assert_eq!(s.blockiness, 1.0);
        // the same steps shifted off the block grid are not JPEG blocks
        let s = measure(&rgb_from(32, 32, |x, y| [(((x + 3) / 8 * 40 + y / 8 * 10) % 256) as u8; 3]),
                        1000, 3, &mut Vec::new());
        assert!(s.blockiness < 0.5, "{}", s.blockiness);
    }

    #[test]
    fn a_uniform_tint_is_a_full_cast_and_two_halves_halve_entropy() {
        let s = measure(&rgb_from(10, 10, |_, _| [200, 100, 50]), 10, 3, &mut Vec::new());
        assert_eq!(s.color_cast, 1.0);
        assert!((s.saturation - 150.0 / 200.0).abs() < 1e-12);
        let s = measure(&rgb_from(10, 10, |x, _| [if x < 5 { 0 } else { 255 }; 3]), 10, 1,
                        &mut Vec::new());
        assert!((s.entropy - 1.0).abs() < 1e-12);
        assert!((s.contrast - 0.5).abs() < 1e-12);
    }

    #[test]
    fn immerkaer_is_zero_on_planes_and_positive_on_noise() {
        let s = measure(&rgb_from(20, 20, |x, y| [(x * 3 + y * 5) as u8; 3]), 10, 3, &mut Vec::new());
        assert_eq!(s.noise, 0.0); // the kernel annihilates linear ramps
        assert_eq!(s.sharpness, 0.0);
        let s = measure(&rgb_from(20, 20, |x, y| [((x * 7919 + y * 104729) % 251) as u8; 3]), 10,
                        3, &mut Vec::new());
        assert!(s.noise > 10.0 && s.sharpness > 100.0);
    }

    #[test]
    fn tiny_images_do_not_divide_by_zero() {
        for (w, h) in [(1, 1), (1, 5), (2, 2), (9, 1)] {
            let s = measure(&rgb_from(w, h, |x, y| [(x * 50 + y) as u8, 3, 9]), 5, 3, &mut Vec::new());
            for v in [s.blockiness, s.sharpness, s.noise, s.border_variance, s.entropy] {
                assert!(v.is_finite(), "{w}x{h}: {s:?}");
            }
        }
    }
}
