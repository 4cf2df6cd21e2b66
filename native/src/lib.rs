//! mdfql's Rust kernels, exposed to Python as `mdfql._native`.
//!
//! Every entry point takes pyarrow arrays (zero-copy through the Arrow C data interface), releases
//! the GIL for the whole batch, and returns a pyarrow array. One module per kernel family; each
//! keeps its pure functions (unit-tested in Rust) apart from its thin `register` binding.

use pyo3::prelude::*;

pub mod arrow_io;
mod badwords;
mod c4;
mod controls;
mod dedup;
mod dolma;
mod fasttext;
mod html_text;
mod http;
mod images;
mod imagehash;
mod lines;
mod minhash;
mod normalize;
mod pii;
mod quality;
mod rpv2;
mod threads;
mod url_filter;
mod warc;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    arrow_io::register(m)?;
    controls::register(m)?;
    http::register(m)?;
    html_text::register(m)?;
    quality::register(m)?;
    lines::register(m)?;
    normalize::register(m)?;
    minhash::register(m)?;
    imagehash::register(m)?;
    images::register(m)?;
    url_filter::register(m)?;
    c4::register(m)?;
    badwords::register(m)?;
    pii::register(m)?;
    fasttext::register(m)?;
    rpv2::register(m)?;
    dedup::register(m)?;
    dolma::register(m)?;
    threads::register(m)?;
    warc::register(m)?;
    Ok(())
}
