//! Pillow's `resize(size, Image.LANCZOS)` of an 8-bit grey image (`Resample.c`), bit for bit:
//! separable Lanczos-3 with the support widened by the downscale factor, horizontal pass first,
//! coefficients normalised per output pixel and rounded to 22-bit fixed point, each pass
//! rounding to 8 bits (`(acc + 2^21) >> 22`, clipped). Integer sums are exact in any order, so
//! the dot products are left to the vectoriser (AVX2 where the CPU has it).

use std::cell::RefCell;
use std::collections::HashMap;
use std::f64::consts::PI;
use std::rc::Rc;

use super::Gray;

pub(crate) const PRECISION_BITS: u32 = 32 - 8 - 2;
const HALF: i32 = 1 << (PRECISION_BITS - 1);
/// Tables kept per thread; web images come in few sizes, the cap bounds the odd ones.
const CACHED_TABLES: usize = 256;

fn sinc(x: f64) -> f64 {
    if x == 0.0 {
        1.0
    } else {
        let x = x * PI;
        x.sin() / x
    }
}

fn lanczos(x: f64) -> f64 {
    if (-3.0..3.0).contains(&x) {
        sinc(x) * sinc(x / 3.0)
    } else {
        0.0
    }
}

/// Fixed-point Lanczos taps of one axis: output `i` reads `len[i]` inputs from `start[i]`,
/// weighted by `taps[i * stride..]`. Mirrors Pillow's `precompute_coeffs` +
/// `normalize_coeffs_8bpc`.
pub(crate) struct Taps {
    start: Vec<usize>,
    len: Vec<usize>,
    stride: usize,
    taps: Vec<i32>,
}

impl Taps {
    fn new(in_size: usize, out_size: usize) -> Taps {
        let scale = in_size as f64 / out_size as f64;
        let filterscale = scale.max(1.0);
        let support = 3.0 * filterscale;
        let ss = 1.0 / filterscale;
        let stride = support.ceil() as usize * 2 + 1;
        let mut t = Taps {
            start: Vec::with_capacity(out_size),
            len: Vec::with_capacity(out_size),
            stride,
            taps: vec![0; out_size * stride],
        };
        for xx in 0..out_size {
            let center = (xx as f64 + 0.5) * scale;
            // C's (int) cast truncates toward zero, then clamps
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
            let weights: Vec<f64> = (xmin..xmax)
                .map(|x| lanczos((x as f64 - center + 0.5) * ss))
                .collect();
            let total: f64 = weights.iter().sum();
            for (k, &w) in t.taps[xx * stride..].iter_mut().zip(&weights) {
                let w = if total != 0.0 { w / total } else { w };
                let scaled = w * (1u32 << PRECISION_BITS) as f64;
                *k = if w < 0.0 {
                    (-0.5 + scaled) as i32
                } else {
                    (0.5 + scaled) as i32
                };
            }
            t.start.push(xmin);
            t.len.push(xmax - xmin);
        }
        t
    }

    /// The taps of one output pixel.
    #[inline(always)]
    fn of(&self, i: usize) -> (usize, &[i32]) {
        (self.start[i], &self.taps[i * self.stride..][..self.len[i]])
    }

    /// Cached per thread by (input size, output size).
    pub(crate) fn cached(in_size: usize, out_size: usize) -> Rc<Taps> {
        thread_local! {
            static CACHE: RefCell<HashMap<(usize, usize), Rc<Taps>>> = RefCell::default();
        }
        CACHE.with(|c| {
            let mut c = c.borrow_mut();
            if c.len() >= CACHED_TABLES && !c.contains_key(&(in_size, out_size)) {
                c.clear();
            }
            c.entry((in_size, out_size))
                .or_insert_with(|| Rc::new(Taps::new(in_size, out_size)))
                .clone()
        })
    }
}

#[inline(always)]
fn clip8(acc: i32) -> u8 {
    (acc >> PRECISION_BITS).clamp(0, 255) as u8
}

#[inline(always)]
fn horizontal_rows(src: &[u8], width: usize, t: &Taps, dst: &mut [u8]) {
    let out_w = t.start.len();
    for (row, out) in src.chunks_exact(width).zip(dst.chunks_exact_mut(out_w)) {
        for (i, o) in out.iter_mut().enumerate() {
            let (start, taps) = t.of(i);
            let px = &row[start..start + taps.len()];
            let acc: i32 = taps.iter().zip(px).map(|(&k, &p)| k * p as i32).sum();
            *o = clip8(acc + HALF);
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn horizontal_rows_avx2(src: &[u8], width: usize, t: &Taps, dst: &mut [u8]) {
    horizontal_rows(src, width, t, dst)
}

fn horizontal(src: &[u8], width: usize, t: &Taps, dst: &mut [u8]) {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2
        return unsafe { horizontal_rows_avx2(src, width, t, dst) };
    }
    horizontal_rows(src, width, t, dst)
}

fn vertical(src: &[u8], width: usize, t: &Taps, dst: &mut [u8]) {
    let mut acc = vec![0i32; width];
    for (i, out) in dst.chunks_exact_mut(width).enumerate() {
        let (start, taps) = t.of(i);
        acc.fill(HALF);
        for (dy, &k) in taps.iter().enumerate() {
            let row = &src[(start + dy) * width..][..width];
            for (a, &p) in acc.iter_mut().zip(row) {
                *a += k * p as i32;
            }
        }
        for (o, &a) in out.iter_mut().zip(&acc) {
            *o = clip8(a);
        }
    }
}

/// Pillow's `resize((width, height), Image.LANCZOS)` of an 8-bit grey image; `scratch` holds
/// the horizontal pass between calls.
pub fn resize_lanczos(img: &Gray, width: usize, height: usize, scratch: &mut Vec<u8>) -> Gray {
    let mut out = Gray {
        width,
        height,
        pixels: vec![0; width * height],
    };
    // Pillow skips an axis whose size does not change
    let (src, src_w): (&[u8], usize) = if width != img.width {
        let t = Taps::cached(img.width, width);
        if height == img.height {
            horizontal(&img.pixels, img.width, &t, &mut out.pixels);
            return out;
        }
        scratch.clear();
        scratch.resize(width * img.height, 0);
        horizontal(&img.pixels, img.width, &t, scratch);
        (scratch, width)
    } else {
        (&img.pixels, img.width)
    };
    if height != img.height {
        vertical(
            src,
            src_w,
            &Taps::cached(img.height, height),
            &mut out.pixels,
        );
    } else {
        out.pixels.copy_from_slice(src);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taps_sum_to_one_in_fixed_point() {
        for (in_size, out_size) in [(512, 32), (33, 32), (9, 9), (20, 32)] {
            let t = Taps::new(in_size, out_size);
            for i in 0..out_size {
                let (start, taps) = t.of(i);
                assert!(start + taps.len() <= in_size);
                let sum: i32 = taps.iter().sum();
                assert!((sum - (1 << PRECISION_BITS)).abs() <= taps.len() as i32);
            }
        }
    }

    #[test]
    fn resize_keeps_flat_images_flat() {
        let flat = Gray {
            width: 100,
            height: 70,
            pixels: vec![123; 7000],
        };
        for (w, h) in [(9, 8), (100, 8), (9, 70), (130, 90)] {
            let small = resize_lanczos(&flat, w, h, &mut Vec::new());
            assert_eq!((small.width, small.height), (w, h));
            assert!(small.pixels.iter().all(|&p| p == 123));
        }
    }

    #[test]
    fn avx2_and_portable_passes_agree() {
        let img: Vec<u8> = (0..640 * 7).map(|i| (i * 37 % 251) as u8).collect();
        let t = Taps::new(640, 9);
        let (mut a, mut b) = (vec![0; 9 * 7], vec![0; 9 * 7]);
        horizontal(&img, 640, &t, &mut a);
        horizontal_rows(&img, 640, &t, &mut b);
        assert_eq!(a, b);
    }
}
