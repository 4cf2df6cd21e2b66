//! Image functions over encoded bytes: `image_info` (headers only) and `image_quality` (one
//! decode a row, through `imagehash`'s Pillow-exact decoders). Every row's failure (zero
//! bytes, unknown format, truncated or undecodable data, a header claiming more than
//! `max_pixels` pixels) is a null result and its reason ("kind: detail"), never a panic.

use std::cell::RefCell;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray, StructArray};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{DataType, Field, Fields};
use pyo3::prelude::*;
use rayon::prelude::*;

use crate::arrow_io::{guard_row, to_py, BytesColumn, PyArray};
use crate::imagehash::{check_pixels, decode_rgb, Rgb, MAX_IMAGE_PIXELS};
use crate::threads;

mod header;
mod quality;
mod tiff;

pub use header::{probe, Info};
pub use quality::{measure, Signals};

/// The header of one image, refused when it claims more than `max_pixels` pixels.
pub fn info(bytes: &[u8], max_pixels: u64) -> Result<Info, String> {
    let info = probe(bytes)?;
    check_pixels(info.width, info.height, max_pixels)?;
    Ok(info)
}

/// Decode one image (in this thread's reused buffers) and measure it.
pub fn quality(bytes: &[u8], max_pixels: u64) -> Result<Signals, String> {
    /// Buffers larger than this (a 16-megapixel RGB image) are not kept for the next image.
    const KEEP: usize = 3 << 24;
    thread_local! {
        static SCRATCH: RefCell<(Rgb, Vec<u8>)> = RefCell::default();
    }
    let head = info(bytes, max_pixels)?;
    SCRATCH.with(|s| {
        let mut guard = s.borrow_mut();
        let (rgb, grey) = &mut *guard;
        let out = decode_rgb(bytes, rgb, max_pixels)
            .map(|()| measure(rgb, bytes.len() as u64, head.channels(), grey));
        if rgb.pixels.capacity() > KEEP || out.is_err() {
            *rgb = Rgb::default();
            *grey = Vec::new();
        }
        out
    })
}

/// Run `f` on every non-null row in parallel; a panic is that row's error.
fn per_row<T: Send>(
    col: &BytesColumn,
    f: impl Fn(&[u8]) -> Result<T, String> + Sync,
) -> Vec<Option<Result<T, String>>> {
    (0..col.len())
        .into_par_iter()
        .map(|i| {
            col.get(i).map(|b| {
                guard_row(|| f(b)).unwrap_or_else(|panic| Err(format!("internal error: {panic}")))
            })
        })
        .collect()
}

/// struct {value: struct (null where the row failed), error: utf8}.
fn with_errors<T>(
    rows: &[Option<Result<T, String>>],
    fields: Vec<(&str, DataType)>,
    columns: Vec<ArrayRef>,
) -> StructArray {
    let valid = NullBuffer::from(rows.iter().map(|r| matches!(r, Some(Ok(_)))).collect::<Vec<_>>());
    let fields: Fields = fields.into_iter().map(|(n, t)| Field::new(n, t, true)).collect();
    let value = StructArray::new(fields.clone(), columns, Some(valid));
    let errors: StringArray = rows
        .iter()
        .map(|r| r.as_ref().and_then(|r| r.as_ref().err()))
        .collect();
    StructArray::from(vec![
        (
            Arc::new(Field::new("value", DataType::Struct(fields), true)),
            Arc::new(value) as ArrayRef,
        ),
        (Arc::new(Field::new("error", DataType::Utf8, true)), Arc::new(errors) as ArrayRef),
    ])
}

fn ok<T>(r: &Option<Result<T, String>>) -> Option<&T> {
    r.as_ref().and_then(|r| r.as_ref().ok())
}

fn info_column(col: &BytesColumn, max_pixels: u64) -> StructArray {
    let rows = per_row(col, |b| info(b, max_pixels).map(|i| (i, b.len() as u64)));
    let int = |f: &dyn Fn(&Info, u64) -> Option<i64>| -> ArrayRef {
        Arc::new(rows.iter().map(|r| ok(r).and_then(|(i, n)| f(i, *n))).collect::<Int64Array>())
    };
    let text = |f: &dyn Fn(&Info) -> Option<&'static str>| -> ArrayRef {
        Arc::new(rows.iter().map(|r| ok(r).and_then(|(i, _)| f(i))).collect::<StringArray>())
    };
    let columns = vec![
        int(&|i, _| Some(i.width as i64)),
        int(&|i, _| Some(i.height as i64)),
        text(&|i| Some(i.format)),
        text(&|i| i.mode),
        int(&|i, _| i.orientation.map(i64::from)),
        int(&|i, _| Some(i.frames as i64)),
        int(&|_, n| Some(n as i64)),
    ];
    let names = ["width", "height", "format", "mode", "orientation", "frames", "size_bytes"];
    let types = names.map(|n| match n {
        "format" | "mode" => DataType::Utf8,
        _ => DataType::Int64,
    });
    with_errors(&rows, names.into_iter().zip(types).collect(), columns)
}

/// The fields of `image_quality`'s struct, in order.
pub const QUALITY_FIELDS: [&str; 12] = [
    "blockiness", "compression_ratio", "compression_artifacts", "sharpness", "entropy",
    "brightness", "contrast", "saturation", "colorfulness", "color_cast", "noise",
    "border_variance",
];

fn quality_column(col: &BytesColumn, max_pixels: u64) -> StructArray {
    let rows = per_row(col, |b| quality(b, max_pixels));
    let field = |f: fn(&Signals) -> f64| -> ArrayRef {
        Arc::new(rows.iter().map(|r| ok(r).map(f)).collect::<Float64Array>())
    };
    let columns = vec![
        field(|s| s.blockiness),
        field(|s| s.compression_ratio),
        field(|s| s.compression_artifacts),
        field(|s| s.sharpness),
        field(|s| s.entropy),
        field(|s| s.brightness),
        field(|s| s.contrast),
        field(|s| s.saturation),
        field(|s| s.colorfulness),
        field(|s| s.color_cast),
        field(|s| s.noise),
        field(|s| s.border_variance),
    ];
    let fields = QUALITY_FIELDS.iter().map(|&n| (n, DataType::Float64)).collect();
    with_errors(&rows, fields, columns)
}

/// Header facts per encoded image: struct {value: struct {width, height, format, mode,
/// orientation, frames, size_bytes}, error: utf8}; null input gives nulls in both.
#[pyfunction]
#[pyo3(signature = (images, max_pixels = MAX_IMAGE_PIXELS))]
fn image_info(py: Python<'_>, images: PyArray, max_pixels: u64) -> PyResult<PyArray> {
    let col = BytesColumn::from_data(images.0)?;
    let out = threads::detach(py, || info_column(&col, max_pixels))?;
    Ok(to_py(Arc::new(out)))
}

/// Quality signals per encoded image: struct {value: struct {QUALITY_FIELDS...: float64},
/// error: utf8}.
#[pyfunction]
#[pyo3(signature = (images, max_pixels = MAX_IMAGE_PIXELS))]
fn image_quality(py: Python<'_>, images: PyArray, max_pixels: u64) -> PyResult<PyArray> {
    let col = BytesColumn::from_data(images.0)?;
    let out = threads::detach(py, || quality_column(&col, max_pixels))?;
    Ok(to_py(Arc::new(out)))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(image_info, m)?)?;
    m.add_function(wrap_pyfunction!(image_quality, m)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let mut buf = Cursor::new(Vec::new());
        image::DynamicImage::new_rgb8(w, h).write_to(&mut buf, image::ImageFormat::Png).unwrap();
        buf.into_inner()
    }

    #[test]
    fn the_pixel_cap_refuses_from_the_header() {
        let small = png(10, 10);
        assert!(info(&small, 100).is_ok() && quality(&small, 100).is_ok());
        assert!(info(&small, 99).unwrap_err().starts_with("too many pixels: 10x10"));
        assert!(quality(&small, 99).unwrap_err().starts_with("too many pixels"));
    }

    #[test]
    fn truncated_bodies_fail_only_where_decoded() {
        let full = png(64, 64);
        let cut = &full[..full.len() - 20];
        assert!(info(cut, MAX_IMAGE_PIXELS).is_ok());
        assert!(quality(cut, MAX_IMAGE_PIXELS).is_err());
        assert_eq!(quality(b"", MAX_IMAGE_PIXELS).unwrap_err(), "empty: zero bytes");
    }

    #[test]
    fn compression_ratio_counts_the_modes_channels() {
        let bytes = png(20, 10);
        let s = quality(&bytes, MAX_IMAGE_PIXELS).unwrap();
        assert!((s.compression_ratio - 600.0 / bytes.len() as f64).abs() < 1e-12);
    }
}
