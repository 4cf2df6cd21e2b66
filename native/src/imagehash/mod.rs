//! Perceptual image hashes, bit-identical to the `imagehash` package (`phash`, `dhash`, 64 bits).
//!
//! imagehash runs `img.convert("L").resize(size, LANCZOS)` in Pillow and then works on the 8-bit
//! pixels; this module reproduces each step exactly:
//! - grey conversion as Pillow's `L24`: `(R*19595 + G*38470 + B*7471 + 0x8000) >> 16`, alpha
//!   ignored; 16-bit RGB keeps the high byte (Pillow's `RGB;16B` unpacker) and 16-bit grey clips
//!   at 255 (Pillow's `I;16 -> L`). EXIF orientation is not applied (Pillow does not either);
//! - resize as Pillow's `Resample.c`: separable Lanczos-3 with the support widened by the
//!   downscale factor, horizontal pass first, coefficients normalised per output pixel, then
//!   rounded to 22-bit fixed point, each pass rounding to 8 bits (`(acc + 2^21) >> 22`, clipped);
//! - `phash`: 32x32 pixels, unnormalised DCT-II along columns then rows (float64, as
//!   `scipy.fftpack.dct`), bit = coefficient > median of the top-left 8x8 block;
//!   `dhash`: 9x8 pixels, bit = pixel > its left neighbour.
//!
//! Bits are packed row-major, first bit most significant, so `format(h, "016x")` equals
//! `str(imagehash.phash(img))`.

use std::f64::consts::PI;
use std::io::Cursor;
use std::sync::Arc;

use arrow::array::{ArrayRef, StringArray, StructArray, UInt64Array};
use arrow::datatypes::{DataType, Field};
use image::{DynamicImage, ImageReader};
use pyo3::prelude::*;
use rayon::prelude::*;

use crate::arrow_io::{to_py, BytesColumn, PyArray};

mod jpeg;

/// An 8-bit grey image, row-major.
pub struct Gray {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<u8>,
}

#[inline]
pub(crate) fn l24(r: u32, g: u32, b: u32) -> u8 {
    ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16) as u8
}

/// Pillow's `convert("L")` of a decoded image.
pub fn to_gray(img: &DynamicImage) -> Gray {
    let (width, height) = (img.width() as usize, img.height() as usize);
    let pixels: Vec<u8> = match img {
        DynamicImage::ImageLuma8(b) => b.as_raw().clone(),
        DynamicImage::ImageLumaA8(b) => b.as_raw().chunks_exact(2).map(|p| p[0]).collect(),
        DynamicImage::ImageRgb8(b) => b
            .as_raw()
            .chunks_exact(3)
            .map(|p| l24(p[0] as u32, p[1] as u32, p[2] as u32))
            .collect(),
        DynamicImage::ImageRgba8(b) => b
            .as_raw()
            .chunks_exact(4)
            .map(|p| l24(p[0] as u32, p[1] as u32, p[2] as u32))
            .collect(),
        DynamicImage::ImageLuma16(b) => b.as_raw().iter().map(|&v| v.min(255) as u8).collect(),
        DynamicImage::ImageLumaA16(b) => b
            .as_raw()
            .chunks_exact(2)
            .map(|p| p[0].min(255) as u8)
            .collect(),
        DynamicImage::ImageRgb16(b) => b
            .as_raw()
            .chunks_exact(3)
            .map(|p| l24((p[0] >> 8) as u32, (p[1] >> 8) as u32, (p[2] >> 8) as u32))
            .collect(),
        DynamicImage::ImageRgba16(b) => b
            .as_raw()
            .chunks_exact(4)
            .map(|p| l24((p[0] >> 8) as u32, (p[1] >> 8) as u32, (p[2] >> 8) as u32))
            .collect(),
        other => other
            .to_rgb8()
            .as_raw()
            .chunks_exact(3)
            .map(|p| l24(p[0] as u32, p[1] as u32, p[2] as u32))
            .collect(),
    };
    Gray {
        width,
        height,
        pixels,
    }
}

const PRECISION_BITS: u32 = 32 - 8 - 2;

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

/// Fixed-point Lanczos taps of one axis: per output pixel `(first input index, taps)`.
/// Mirrors Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc`.
fn coefficients(in_size: usize, out_size: usize) -> Vec<(usize, Vec<i32>)> {
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = 3.0 * filterscale;
    let ss = 1.0 / filterscale;
    (0..out_size)
        .map(|xx| {
            let center = (xx as f64 + 0.5) * scale;
            // C's (int) cast truncates toward zero, then clamps
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
            let weights: Vec<f64> = (xmin..xmax)
                .map(|x| lanczos((x as f64 - center + 0.5) * ss))
                .collect();
            let total: f64 = weights.iter().sum();
            let taps = weights
                .iter()
                .map(|&w| {
                    let w = if total != 0.0 { w / total } else { w };
                    let scaled = w * (1u32 << PRECISION_BITS) as f64;
                    if w < 0.0 {
                        (-0.5 + scaled) as i32
                    } else {
                        (0.5 + scaled) as i32
                    }
                })
                .collect();
            (xmin, taps)
        })
        .collect()
}

#[inline]
fn clip8(acc: i32) -> u8 {
    (acc >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Pillow's `resize((width, height), Image.LANCZOS)` of an 8-bit grey image.
pub fn resize_lanczos(img: &Gray, width: usize, height: usize) -> Gray {
    let mut cur = Gray {
        width: img.width,
        height: img.height,
        pixels: img.pixels.clone(),
    };
    if width != cur.width {
        let coeffs = coefficients(cur.width, width);
        let mut out = Vec::with_capacity(width * cur.height);
        for row in cur.pixels.chunks_exact(cur.width) {
            for (xmin, taps) in &coeffs {
                let acc = taps
                    .iter()
                    .zip(&row[*xmin..])
                    .fold(1i32 << (PRECISION_BITS - 1), |a, (k, &p)| a + k * p as i32);
                out.push(clip8(acc));
            }
        }
        cur = Gray {
            width,
            height: cur.height,
            pixels: out,
        };
    }
    if height != cur.height {
        let coeffs = coefficients(cur.height, height);
        let mut out = Vec::with_capacity(cur.width * height);
        for (ymin, taps) in &coeffs {
            let mut acc = vec![1i32 << (PRECISION_BITS - 1); cur.width];
            for (dy, k) in taps.iter().enumerate() {
                let row = &cur.pixels[(ymin + dy) * cur.width..(ymin + dy + 1) * cur.width];
                for (a, &p) in acc.iter_mut().zip(row) {
                    *a += k * p as i32;
                }
            }
            out.extend(acc.into_iter().map(clip8));
        }
        cur = Gray {
            width: cur.width,
            height,
            pixels: out,
        };
    }
    cur
}

/// Row-major booleans, first most significant.
fn pack_bits(bits: impl Iterator<Item = bool>) -> u64 {
    bits.fold(0u64, |acc, b| (acc << 1) | b as u64)
}

/// imagehash's `phash` (hash_size 8, highfreq_factor 4) of a grey image.
pub fn phash_gray(img: &Gray) -> u64 {
    const N: usize = 32;
    const K: usize = 8;
    let small = resize_lanczos(img, N, N);
    let cos: Vec<f64> = (0..K * N)
        .map(|i| {
            let (k, n) = (i / N, i % N);
            (PI * k as f64 * (2 * n + 1) as f64 / (2 * N) as f64).cos()
        })
        .collect();
    // DCT-II along axis 0 (columns), low 8 frequencies only
    let mut cols = [[0f64; N]; K];
    for (k, out) in cols.iter_mut().enumerate() {
        for (j, o) in out.iter_mut().enumerate() {
            let s: f64 = (0..N)
                .map(|i| small.pixels[i * N + j] as f64 * cos[k * N + i])
                .sum();
            *o = 2.0 * s;
        }
    }
    // then along axis 1 (rows)
    let mut block = [0f64; K * K];
    for k in 0..K {
        for l in 0..K {
            let s: f64 = (0..N).map(|j| cols[k][j] * cos[l * N + j]).sum();
            block[k * K + l] = 2.0 * s;
        }
    }
    let mut sorted = block;
    sorted.sort_by(f64::total_cmp);
    let median = (sorted[K * K / 2 - 1] + sorted[K * K / 2]) / 2.0;
    pack_bits(block.iter().map(|&c| c > median))
}

/// imagehash's `dhash` (hash_size 8) of a grey image.
pub fn dhash_gray(img: &Gray) -> u64 {
    let small = resize_lanczos(img, 9, 8);
    pack_bits(
        small
            .pixels
            .chunks_exact(9)
            .flat_map(|row| row.windows(2).map(|w| w[1] > w[0])),
    )
}

/// Decode encoded image bytes (format sniffed from the content) to Pillow's grey image.
pub fn decode_gray(bytes: &[u8]) -> Result<Gray, String> {
    if bytes.starts_with(b"\xff\xd8\xff") {
        let mut out = Gray {
            width: 0,
            height: 0,
            pixels: Vec::new(),
        };
        jpeg::decode_gray(bytes, &mut out)?;
        if out.width == 0 || out.height == 0 {
            return Err("empty image".to_string());
        }
        return Ok(out);
    }
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| format!("unreadable: {e}"))?;
    if reader.format().is_none() {
        return Err("unknown image format".to_string());
    }
    let img = reader.decode().map_err(|e| format!("undecodable: {e}"))?;
    if img.width() == 0 || img.height() == 0 {
        return Err("empty image".to_string());
    }
    Ok(to_gray(&img))
}

/// Hash every image of a binary column in parallel; struct {hash: uint64, error: utf8}.
fn hash_column(py: Python<'_>, images: PyArray, f: fn(&Gray) -> u64) -> PyResult<PyArray> {
    let col = BytesColumn::from_data(images.0)?;
    let out = py.detach(|| {
        let rows: Vec<Option<Result<u64, String>>> = (0..col.len())
            .into_par_iter()
            .map(|i| col.get(i).map(|b| decode_gray(b).map(|g| f(&g))))
            .collect();
        let hashes: UInt64Array = rows
            .iter()
            .map(|r| r.as_ref().and_then(|r| r.as_ref().ok().copied()))
            .collect();
        let errors: StringArray = rows
            .iter()
            .map(|r| r.as_ref().and_then(|r| r.as_ref().err()))
            .collect();
        StructArray::from(vec![
            (
                Arc::new(Field::new("hash", DataType::UInt64, true)),
                Arc::new(hashes) as ArrayRef,
            ),
            (
                Arc::new(Field::new("error", DataType::Utf8, true)),
                Arc::new(errors) as ArrayRef,
            ),
        ])
    });
    Ok(to_py(Arc::new(out)))
}

/// imagehash.phash per encoded image: struct {hash: uint64, error: utf8}; a null input gives
/// null in both fields, an undecodable one a null hash and the reason in `error`.
#[pyfunction]
fn phash(py: Python<'_>, images: PyArray) -> PyResult<PyArray> {
    hash_column(py, images, phash_gray)
}

/// imagehash.dhash per encoded image: struct {hash: uint64, error: utf8} (as `phash`).
#[pyfunction]
fn dhash(py: Python<'_>, images: PyArray) -> PyResult<PyArray> {
    hash_column(py, images, dhash_gray)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(phash, m)?)?;
    m.add_function(wrap_pyfunction!(dhash, m)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(w: usize, h: usize) -> Gray {
        let pixels = (0..w * h)
            .map(|i| ((i % w) * 255 / (w - 1)) as u8)
            .collect();
        Gray {
            width: w,
            height: h,
            pixels,
        }
    }

    #[test]
    fn grey_conversion_matches_pillow_l24() {
        assert_eq!(l24(255, 255, 255), 255);
        assert_eq!(l24(255, 0, 0), 76);
        assert_eq!(l24(0, 255, 0), 150);
        assert_eq!(l24(0, 0, 255), 29);
    }

    #[test]
    fn taps_sum_to_one_in_fixed_point() {
        for (in_size, out_size) in [(512, 32), (33, 32), (9, 9), (20, 32)] {
            for (_, taps) in coefficients(in_size, out_size) {
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
        let small = resize_lanczos(&flat, 9, 8);
        assert!(small.pixels.iter().all(|&p| p == 123));
    }

    #[test]
    fn dhash_of_a_rising_gradient_is_all_ones() {
        assert_eq!(dhash_gray(&gradient(300, 200)), u64::MAX);
    }

    #[test]
    fn undecodable_bytes_are_errors() {
        assert!(decode_gray(b"not an image").is_err());
        assert!(decode_gray(b"\x89PNG\r\n\x1a\n truncated").is_err());
    }
}
