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

use std::cell::RefCell;
use std::f64::consts::PI;
use std::io::Cursor;
use std::sync::Arc;

use arrow::array::{ArrayRef, StringArray, StructArray, UInt64Array};
use arrow::datatypes::{DataType, Field};
use image::{DynamicImage, ImageReader};
use pyo3::prelude::*;
use rayon::prelude::*;

use crate::arrow_io::{to_py, BytesColumn, PyArray};
use crate::threads;

mod jpeg;
mod resize;

use resize::resize_lanczos;

/// An 8-bit grey image, row-major.
#[derive(Default)]
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

/// Row-major booleans, first most significant.
fn pack_bits(bits: impl Iterator<Item = bool>) -> u64 {
    bits.fold(0u64, |acc, b| (acc << 1) | b as u64)
}

/// imagehash's `phash` (hash_size 8, highfreq_factor 4) of a grey image.
pub fn phash_gray(img: &Gray, scratch: &mut Vec<u8>) -> u64 {
    const N: usize = 32;
    const K: usize = 8;
    let small = resize_lanczos(img, N, N, scratch);
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
pub fn dhash_gray(img: &Gray, scratch: &mut Vec<u8>) -> u64 {
    let small = resize_lanczos(img, 9, 8, scratch);
    pack_bits(
        small
            .pixels
            .chunks_exact(9)
            .flat_map(|row| row.windows(2).map(|w| w[1] > w[0])),
    )
}

/// Pillow's `Image.MAX_IMAGE_PIXELS`: images claiming more pixels are refused before decoding
/// (Pillow warns above it and refuses above twice it; a hash refuses above it).
pub const MAX_IMAGE_PIXELS: u64 = 89_478_485;

/// Refuse an image whose header claims more than `max_pixels` pixels: decoding it would cost
/// its claimed size (a 333-byte JPEG can claim 65500x65500, 4.3 GB) whatever its real data.
pub(crate) fn check_pixels(width: u64, height: u64, max_pixels: u64) -> Result<(), String> {
    if width.saturating_mul(height) > max_pixels {
        return Err(format!(
            "too many pixels: {width}x{height} is over {max_pixels}"
        ));
    }
    Ok(())
}

/// An 8-bit RGB image, row-major, 3 bytes a pixel.
#[derive(Default)]
pub struct Rgb {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<u8>,
}

/// Pillow's `convert("RGB")` of a decoded image: alpha dropped (not composited), grey
/// replicated, 16-bit colour reduced to its high byte (`RGB;16B`), 16-bit grey clipped at 255
/// (`I;16 -> RGB`), as `to_gray` does for grey.
pub fn to_rgb(img: &DynamicImage) -> Rgb {
    let (width, height) = (img.width() as usize, img.height() as usize);
    let grey = |v: u8| [v, v, v];
    let pixels: Vec<u8> = match img {
        DynamicImage::ImageRgb8(b) => b.as_raw().clone(),
        DynamicImage::ImageRgba8(b) => {
            b.as_raw().chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect()
        }
        DynamicImage::ImageLuma8(b) => b.as_raw().iter().flat_map(|&v| grey(v)).collect(),
        DynamicImage::ImageLumaA8(b) => {
            b.as_raw().chunks_exact(2).flat_map(|p| grey(p[0])).collect()
        }
        DynamicImage::ImageLuma16(b) => {
            b.as_raw().iter().flat_map(|&v| grey(v.min(255) as u8)).collect()
        }
        DynamicImage::ImageLumaA16(b) => b
            .as_raw()
            .chunks_exact(2)
            .flat_map(|p| grey((p[0] >> 8) as u8)) // Pillow opens it as RGBA from `LA;16B`
            .collect(),
        DynamicImage::ImageRgb16(b) => b.as_raw().iter().map(|&v| (v >> 8) as u8).collect(),
        DynamicImage::ImageRgba16(b) => b
            .as_raw()
            .chunks_exact(4)
            .flat_map(|p| [(p[0] >> 8) as u8, (p[1] >> 8) as u8, (p[2] >> 8) as u8])
            .collect(),
        other => other.to_rgb8().into_raw(),
    };
    Rgb {
        width,
        height,
        pixels,
    }
}

/// Decode a non-JPEG image (format sniffed from the content), its header's size checked
/// against `max_pixels` before anything is decoded.
fn decode_other(bytes: &[u8], max_pixels: u64) -> Result<DynamicImage, String> {
    let reader = || {
        ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| format!("unreadable: {e}"))
    };
    if reader()?.format().is_none() {
        return Err("unknown image format".to_string());
    }
    let (width, height) = reader()?
        .into_dimensions()
        .map_err(|e| format!("undecodable: {e}"))?;
    check_pixels(width.into(), height.into(), max_pixels)?;
    reader()?.decode().map_err(|e| format!("undecodable: {e}"))
}

fn is_jpeg(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\xff\xd8\xff")
}

/// Decode encoded image bytes (format sniffed from the content) into `out`, as Pillow's grey
/// image; JPEGs reuse its buffer. The size in the header is checked against `max_pixels`
/// before anything is decoded.
pub fn decode_gray(bytes: &[u8], out: &mut Gray, max_pixels: u64) -> Result<(), String> {
    if is_jpeg(bytes) {
        jpeg::decode_into(bytes, jpeg::Target::Gray(out), max_pixels)?;
    } else {
        *out = to_gray(&decode_other(bytes, max_pixels)?);
    }
    if out.width == 0 || out.height == 0 {
        return Err("empty image".to_string());
    }
    Ok(())
}

/// `decode_gray`'s RGB counterpart: Pillow's `convert("RGB")` of the image (for JPEG its
/// libjpeg-turbo decode with Pillow's settings, so the pixels are Pillow's).
pub fn decode_rgb(bytes: &[u8], out: &mut Rgb, max_pixels: u64) -> Result<(), String> {
    if is_jpeg(bytes) {
        jpeg::decode_into(bytes, jpeg::Target::Rgb(out), max_pixels)?;
    } else {
        *out = to_rgb(&decode_other(bytes, max_pixels)?);
    }
    if out.width == 0 || out.height == 0 {
        return Err("empty image".to_string());
    }
    Ok(())
}

/// A hash of a grey image, given scratch space for the resize.
type HashFn = fn(&Gray, &mut Vec<u8>) -> u64;

/// Decode and hash one image in this thread's reused buffers. A panic (a decoder bug) is this
/// image's error, not the batch's.
fn hash_bytes(bytes: &[u8], f: HashFn, max_pixels: u64) -> Result<u64, String> {
    /// Buffers larger than this (a 16-megapixel image) are not kept for the next image.
    const KEEP: usize = 1 << 24;
    thread_local! {
        static SCRATCH: RefCell<(Gray, Vec<u8>)> = RefCell::default();
    }
    SCRATCH.with(|s| {
        let mut guard = s.borrow_mut();
        let (grey, pass) = &mut *guard;
        let hash = crate::arrow_io::guard_row(|| {
            decode_gray(bytes, grey, max_pixels).map(|()| f(grey, pass))
        })
        .unwrap_or_else(|panic| Err(format!("internal error: {panic}")));
        if grey.pixels.capacity() > KEEP || hash.is_err() {
            *grey = Gray::default(); // a panic may have left it half written
        }
        hash
    })
}

/// Hash every image of a binary column in parallel; struct {hash: uint64, error: utf8}.
fn hash_column(py: Python<'_>, images: PyArray, f: HashFn, max_pixels: u64) -> PyResult<PyArray> {
    let col = BytesColumn::from_data(images.0)?;
    let out = threads::detach(py, || {
        let rows: Vec<Option<Result<u64, String>>> = (0..col.len())
            .into_par_iter()
            .map(|i| col.get(i).map(|b| hash_bytes(b, f, max_pixels)))
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
    })?;
    Ok(to_py(Arc::new(out)))
}

/// imagehash.phash per encoded image: struct {hash: uint64, error: utf8}; a null input gives
/// null in both fields, an undecodable one (or one over `max_pixels` pixels) a null hash and
/// the reason in `error` ("kind: detail").
#[pyfunction]
#[pyo3(signature = (images, max_pixels = MAX_IMAGE_PIXELS))]
fn phash(py: Python<'_>, images: PyArray, max_pixels: u64) -> PyResult<PyArray> {
    hash_column(py, images, phash_gray, max_pixels)
}

/// imagehash.dhash per encoded image: struct {hash: uint64, error: utf8} (as `phash`).
#[pyfunction]
#[pyo3(signature = (images, max_pixels = MAX_IMAGE_PIXELS))]
fn dhash(py: Python<'_>, images: PyArray, max_pixels: u64) -> PyResult<PyArray> {
    hash_column(py, images, dhash_gray, max_pixels)
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
    fn dhash_of_a_rising_gradient_is_all_ones() {
        assert_eq!(dhash_gray(&gradient(300, 200), &mut Vec::new()), u64::MAX);
    }

    #[test]
    fn undecodable_bytes_are_errors() {
        for bad in [
            &b"not an image"[..],
            b"\x89PNG\r\n\x1a\n truncated",
            b"\xff\xd8\xff\xe0\x00\x10JFIF truncated",
            b"\xff\xd8\xff\xd9",
        ] {
            assert!(hash_bytes(bad, phash_gray, MAX_IMAGE_PIXELS).is_err());
        }
    }

    /// A small image's encoding with its header patched to claim `w` x `h` pixels.
    fn claiming(format: image::ImageFormat, w: u32, h: u32) -> Vec<u8> {
        let img = DynamicImage::new_rgb8(8, 8);
        let mut buf = Cursor::new(Vec::new());
        img.write_to(&mut buf, format).unwrap();
        let mut b = buf.into_inner();
        match format {
            image::ImageFormat::Jpeg => {
                let sof = b.windows(2).position(|m| m == [0xff, 0xc0]).unwrap();
                b[sof + 5..sof + 7].copy_from_slice(&(h as u16).to_be_bytes());
                b[sof + 7..sof + 9].copy_from_slice(&(w as u16).to_be_bytes());
            }
            image::ImageFormat::Png => {
                b[16..20].copy_from_slice(&w.to_be_bytes());
                b[20..24].copy_from_slice(&h.to_be_bytes());
                let mut crc = flate2::Crc::new(); // PNG's CRC-32 is gzip's
                crc.update(&b[12..29]);
                b[29..33].copy_from_slice(&crc.sum().to_be_bytes());
            }
            image::ImageFormat::Gif => {
                b[6..8].copy_from_slice(&(w as u16).to_le_bytes());
                b[8..10].copy_from_slice(&(h as u16).to_le_bytes());
            }
            _ => unreachable!(),
        }
        b
    }

    #[test]
    fn decompression_bombs_are_refused_from_the_header() {
        use image::ImageFormat::{Gif, Jpeg, Png};
        for (format, w, h) in [(Jpeg, 65500, 65500), (Png, 100_000, 100_000), (Gif, 65535, 65535)] {
            let bomb = claiming(format, w, h);
            let err = hash_bytes(&bomb, phash_gray, MAX_IMAGE_PIXELS).unwrap_err();
            assert!(err.starts_with("too many pixels: "), "{format:?}: {err}");
            // The cap is a parameter: a small one refuses the real 8x8 image too.
            let small = claiming(format, 8, 8);
            assert!(hash_bytes(&small, dhash_gray, 64).is_ok(), "{format:?}");
            assert!(hash_bytes(&small, dhash_gray, 63).unwrap_err().starts_with("too many"));
        }
        assert!(check_pixels(u64::MAX, 2, u64::MAX - 1).is_err());
    }
}
