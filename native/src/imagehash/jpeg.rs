//! JPEG to Pillow's grey (or RGB) pixels, decoded by libjpeg-turbo's C code (mozjpeg-sys builds it with
//! the `cc` crate, no nasm, no cmake) with Pillow's settings: `JDCT_ISLOW`, fancy upsampling,
//! no draft scaling, output RGB for 3 components, grey for 1, CMYK for 4 (Pillow's `CMYK;I`,
//! Adobe-inverted), 8-bit samples only. Warnings are ignored as Pillow does, except a premature
//! end of data, which Pillow reports as a truncated image.

use std::ffi::{c_int, c_ulong};
use std::mem::MaybeUninit;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

use mozjpeg_sys as j;

use super::{check_pixels, l24, Gray, Rgb};

/// Raised from libjpeg's error callbacks and caught around the decode.
struct JpegError(String);

fn message(cinfo: &mut j::jpeg_common_struct) -> String {
    let buf = [0u8; 80];
    // SAFETY: err points at the error manager installed by `Decompressor::new`
    unsafe {
        if let Some(format) = (*cinfo.err).format_message {
            format(cinfo, &buf);
        }
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

unsafe extern "C-unwind" fn error_exit(cinfo: &mut j::jpeg_common_struct) {
    let msg = message(cinfo);
    resume_unwind(Box::new(JpegError(msg)));
}

unsafe extern "C-unwind" fn emit_message(cinfo: &mut j::jpeg_common_struct, level: c_int) {
    if level < 0 && (*cinfo.err).msg_code == j::JWRN_JPEG_EOF as c_int {
        let msg = message(cinfo);
        resume_unwind(Box::new(JpegError(format!("truncated: {msg}"))));
    }
}

/// Owns a libjpeg decompressor; destroyed on drop, also after an error unwound out of it.
struct Decompressor {
    cinfo: Box<j::jpeg_decompress_struct>,
    _err: Box<j::jpeg_error_mgr>,
}

impl Decompressor {
    fn new() -> Self {
        // SAFETY: zeroed plain C structs, initialised by jpeg_std_error / jpeg_CreateDecompress
        unsafe {
            let mut err: Box<j::jpeg_error_mgr> = Box::new(MaybeUninit::zeroed().assume_init());
            j::jpeg_std_error(&mut err);
            err.error_exit = Some(error_exit);
            err.emit_message = Some(emit_message);
            let mut cinfo: Box<j::jpeg_decompress_struct> =
                Box::new(MaybeUninit::zeroed().assume_init());
            cinfo.common.err = &mut *err;
            j::jpeg_create_decompress(&mut *cinfo);
            Decompressor { cinfo, _err: err }
        }
    }
}

impl Drop for Decompressor {
    fn drop(&mut self) {
        // SAFETY: created by jpeg_create_decompress; destroy is valid in any state
        unsafe { j::jpeg_destroy_decompress(&mut self.cinfo) }
    }
}

/// libjpeg's `FIX(x)` at its colour converter's 16 fractional bits.
const fn fix16(x: f64) -> i32 {
    (x * 65536.0 + 0.5) as i32
}

/// libjpeg's `ycc_rgb_convert` of one upsampled pixel (its tables, computed inline), then
/// Pillow's `L24`: fused so that no RGB row is written.
#[inline]
fn ycc_gray(y: u8, cb: u8, cr: u8) -> u8 {
    let (y, cb, cr) = (y as i32, cb as i32 - 128, cr as i32 - 128);
    let r = y + ((fix16(1.402) * cr + (1 << 15)) >> 16);
    let g = y + ((-fix16(0.34414) * cb + (1 << 15) - fix16(0.71414) * cr) >> 16);
    let b = y + ((fix16(1.772) * cb + (1 << 15)) >> 16);
    let clamp = |v: i32| v.clamp(0, 255) as u32;
    l24(clamp(r), clamp(g), clamp(b))
}

/// `ycc_gray` over an interleaved Y, Cb, Cr row, 16 pixels at a time so that the arithmetic
/// vectorises.
#[inline(always)]
fn ycc_row(row: &[u8], grey: &mut [u8]) {
    const LANES: usize = 16;
    let mut src = row.chunks_exact(3 * LANES);
    let mut dst = grey.chunks_exact_mut(LANES);
    for (s, d) in (&mut src).zip(&mut dst) {
        let mut ycc = [[0u8; LANES]; 3];
        for (i, p) in s.chunks_exact(3).enumerate() {
            ycc[0][i] = p[0];
            ycc[1][i] = p[1];
            ycc[2][i] = p[2];
        }
        for (i, g) in d.iter_mut().enumerate() {
            *g = ycc_gray(ycc[0][i], ycc[1][i], ycc[2][i]);
        }
    }
    for (p, g) in src.remainder().chunks_exact(3).zip(dst.into_remainder()) {
        *g = ycc_gray(p[0], p[1], p[2]);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn ycc_row_avx2(row: &[u8], grey: &mut [u8]) {
    ycc_row(row, grey)
}

fn ycc_to_gray(row: &[u8], grey: &mut [u8]) {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2
        return unsafe { ycc_row_avx2(row, grey) };
    }
    ycc_row(row, grey)
}

/// Pillow's `(MULDIV255(a, b))`: a * b / 255 rounded, exact for 8-bit inputs.
#[inline]
fn muldiv255(a: u32, b: u32) -> u32 {
    let t = a * b + 128;
    ((t >> 8) + t) >> 8
}

/// Pillow's `cmyk2rgb` of its inverted `CMYK;I` pixels.
#[inline]
fn cmyk_rgb(p: &[u8]) -> [u8; 3] {
    let nk = p[3] as u32; // Pillow's K is 255 - libjpeg's
    let chan = |v: u8| (nk - muldiv255(255 - v as u32, nk)) as u8;
    [chan(p[0]), chan(p[1]), chan(p[2])]
}

/// `cmyk_rgb`, then `L24`.
#[inline]
fn cmyk_gray(p: &[u8]) -> u8 {
    let [r, g, b] = cmyk_rgb(p);
    l24(r as u32, g as u32, b as u32)
}

/// Where a decode writes its pixels: Pillow's `convert("L")` or `convert("RGB")` of the image.
pub(crate) enum Target<'a> {
    Gray(&'a mut Gray),
    Rgb(&'a mut Rgb),
}

impl Target<'_> {
    /// Size the output for a `width` x `height` image (its buffer reused).
    fn reset(&mut self, width: usize, height: usize) {
        let (w, h, pixels, n) = match self {
            Target::Gray(g) => (&mut g.width, &mut g.height, &mut g.pixels, 1),
            Target::Rgb(r) => (&mut r.width, &mut r.height, &mut r.pixels, 3),
        };
        (*w, *h) = (width, height);
        pixels.clear();
        pixels.resize(width * height * n, 0);
    }

    /// Convert libjpeg's output row `y` (`comps` samples a pixel; YCbCr when `ycc`).
    fn put_row(&mut self, y: usize, row: &[u8], comps: usize, ycc: bool) {
        match self {
            Target::Gray(g) => {
                let grey = &mut g.pixels[y * g.width..(y + 1) * g.width];
                match comps {
                    1 => grey.copy_from_slice(row),
                    3 if ycc => ycc_to_gray(row, grey),
                    3 => {
                        for (g, p) in grey.iter_mut().zip(row.chunks_exact(3)) {
                            *g = l24(p[0] as u32, p[1] as u32, p[2] as u32);
                        }
                    }
                    _ => {
                        for (g, p) in grey.iter_mut().zip(row.chunks_exact(4)) {
                            *g = cmyk_gray(p);
                        }
                    }
                }
            }
            Target::Rgb(r) => {
                let rgb = &mut r.pixels[y * r.width * 3..(y + 1) * r.width * 3];
                match comps {
                    1 => {
                        for (o, &v) in rgb.chunks_exact_mut(3).zip(row) {
                            o.fill(v);
                        }
                    }
                    3 => rgb.copy_from_slice(row),
                    _ => {
                        for (o, p) in rgb.chunks_exact_mut(3).zip(row.chunks_exact(4)) {
                            o.copy_from_slice(&cmyk_rgb(p));
                        }
                    }
                }
            }
        }
    }
}

fn decode(data: &[u8], out: &mut Target, max_pixels: u64) -> Result<(), String> {
    let mut d = Decompressor::new();
    let cinfo = &mut *d.cinfo;
    // SAFETY: the decompressor is valid; `data` outlives it; rows have output_width * comps bytes
    unsafe {
        j::jpeg_mem_src(cinfo, data.as_ptr(), data.len() as c_ulong);
        j::jpeg_read_header(cinfo, 1);
        check_pixels(cinfo.image_width.into(), cinfo.image_height.into(), max_pixels)?;
        // for grey output, YCbCr is left unconverted by libjpeg and converted here together
        // with the greying; RGB output takes libjpeg's own YCbCr -> RGB (Pillow's)
        let ycc = cinfo.jpeg_color_space == j::JCS_YCbCr && matches!(out, Target::Gray(_));
        cinfo.out_color_space = match cinfo.num_components {
            1 => j::JCS_GRAYSCALE,
            3 if ycc => j::JCS_YCbCr,
            3 => j::JCS_RGB,
            4 => j::JCS_CMYK,
            n => return Err(format!("unsupported: {n}-component JPEG")),
        };
        j::jpeg_start_decompress(cinfo);
        let (width, height) = (cinfo.output_width as usize, cinfo.output_height as usize);
        let comps = cinfo.output_components as usize;
        out.reset(width, height);
        let mut row = vec![0u8; width * comps];
        while (cinfo.output_scanline as usize) < height {
            let y = cinfo.output_scanline as usize;
            let mut ptr = row.as_mut_ptr();
            j::jpeg_read_scanlines(cinfo, &mut ptr, 1);
            out.put_row(y, &row, comps, ycc);
        }
        j::jpeg_finish_decompress(cinfo);
    }
    Ok(())
}

/// Decode a JPEG into `out` (reusing its buffer) as Pillow's `convert("L")` or
/// `convert("RGB")` would see it; one whose header claims more than `max_pixels` pixels is
/// refused before decoding.
pub(crate) fn decode_into(data: &[u8], mut out: Target, max_pixels: u64) -> Result<(), String> {
    match catch_unwind(AssertUnwindSafe(|| decode(data, &mut out, max_pixels))) {
        Ok(r) => r,
        Err(payload) => match payload.downcast::<JpegError>() {
            Ok(e) => Err(format!("undecodable: {}", e.0)),
            Err(other) => resume_unwind(other),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_constants_are_libjpegs() {
        assert_eq!(
            [fix16(1.402), fix16(1.772), fix16(0.71414), fix16(0.34414)],
            [91881, 116130, 46802, 22554]
        );
    }

    #[test]
    fn neutral_chroma_keeps_luma() {
        for y in [0u8, 1, 77, 128, 254, 255] {
            assert_eq!(ycc_gray(y, 128, 128), y);
        }
        assert_eq!(ycc_gray(255, 0, 255), l24(255, 208, 28)); // red clipped
    }

    #[test]
    fn vectorised_rows_match_pixel_by_pixel() {
        let row: Vec<u8> = (0..3 * 37).map(|i| (i * 89 % 256) as u8).collect();
        let mut grey = vec![0; 37];
        ycc_to_gray(&row, &mut grey);
        let expected: Vec<u8> = row
            .chunks_exact(3)
            .map(|p| ycc_gray(p[0], p[1], p[2]))
            .collect();
        assert_eq!(grey, expected);
    }

    #[test]
    fn cmyk_is_pillows_inverted_cmyk_to_rgb() {
        assert_eq!(cmyk_gray(&[255, 255, 255, 255]), 255); // libjpeg's inverted white
        assert_eq!(cmyk_gray(&[0, 0, 0, 255]), 0);
        assert_eq!(cmyk_gray(&[255, 255, 255, 0]), 0); // full black ink
    }
}
