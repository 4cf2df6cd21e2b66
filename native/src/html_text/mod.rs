//! Main-content text extraction from HTML (boilerplate removal), in the spirit of trafilatura with
//! FineWeb settings (precision-favouring, no comments, deduplicated lines).

mod content;
mod dom;
mod text;

use crate::arrow_io::{to_py, PyArray, StrColumn};
use arrow::array::{ArrayRef, StringArray, StructArray};
use arrow::datatypes::{DataType, Field};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::sync::Arc;

/// Why a page produced no text.
#[derive(Debug, PartialEq, Eq)]
pub enum ExtractError {
    TooLarge,
    NoContent,
    /// A bug surfaced as a panic; caught per row so one page cannot fail a batch.
    Internal,
}

impl ExtractError {
    pub fn as_str(&self) -> &'static str {
        match self {
            ExtractError::TooLarge => "too_large",
            ExtractError::NoContent => "no_content",
            ExtractError::Internal => "internal_error",
        }
    }
}

/// Below this many characters the hint-based pruning is suspected of removing the content.
const MIN_CONFIDENT_CHARS: usize = 250;

/// Extract the main text of one page: blocks on separate lines, entities decoded, whitespace
/// collapsed, boilerplate removed, control characters dropped (`crate::controls`). Pages over
/// `max_bytes` are refused; nesting beyond `max_depth` is flattened.
pub fn extract(html: &str, max_bytes: usize, max_depth: usize) -> Result<String, ExtractError> {
    if html.len() > max_bytes {
        return Err(ExtractError::TooLarge);
    }
    let doc = dom::parse(html, max_depth);
    let mut out = content::extract(&doc, &content::Options { strict: true });
    if out.chars().count() < MIN_CONFIDENT_CHARS {
        let relaxed = content::extract(&doc, &content::Options { strict: false });
        if relaxed.len() > 2 * out.len() {
            out = relaxed;
        }
    }
    let out = crate::controls::strip_controls_owned(out);
    if out.trim().is_empty() {
        Err(ExtractError::NoContent)
    } else {
        Ok(out)
    }
}

/// The page `<title>`, whitespace-collapsed and entity-decoded, without control characters.
pub fn title(html: &str) -> Option<String> {
    dom::title(html)
        .map(crate::controls::strip_controls_owned)
        .filter(|t| !t.trim().is_empty())
}

/// extract_text(html, urls=None, max_bytes=5_000_000, max_depth=512)
/// -> struct<text: utf8, error: utf8>. Errors ("too_large", "no_content") are returned per row;
/// null html gives null text and null error. `urls`, when given, must align with `html`
/// (accepted so callers can pass their url column; extraction does not depend on it).
#[pyfunction]
#[pyo3(signature = (html, urls=None, max_bytes=5_000_000, max_depth=512))]
fn extract_text(
    py: Python<'_>,
    html: PyArray,
    urls: Option<PyArray>,
    max_bytes: usize,
    max_depth: usize,
) -> PyResult<PyArray> {
    let col = StrColumn::from_data(html.0)?;
    if let Some(u) = urls {
        let u = StrColumn::from_data(u.0)?;
        if u.len() != col.len() {
            return Err(PyValueError::new_err(format!(
                "urls has {} rows, html has {}",
                u.len(),
                col.len()
            )));
        }
    }
    let (texts, errors): (StringArray, StringArray) = crate::arrow_io::detach_guarded(py, || {
        let mut texts = Vec::with_capacity(col.len());
        let mut errors = Vec::with_capacity(col.len());
        for i in 0..col.len() {
            let row = col.get(i).map(|h| {
                crate::arrow_io::guard_row(|| extract(h, max_bytes, max_depth))
                    .unwrap_or(Err(ExtractError::Internal))
            });
            match row {
                None => {
                    texts.push(None);
                    errors.push(None);
                }
                Some(Ok(t)) => {
                    texts.push(Some(t));
                    errors.push(None);
                }
                Some(Err(e)) => {
                    texts.push(None);
                    errors.push(Some(e.as_str()));
                }
            }
        }
        (StringArray::from(texts), StringArray::from(errors))
    })?;
    let out = StructArray::from(vec![
        (
            Arc::new(Field::new("text", DataType::Utf8, true)),
            Arc::new(texts) as ArrayRef,
        ),
        (
            Arc::new(Field::new("error", DataType::Utf8, true)),
            Arc::new(errors) as ArrayRef,
        ),
    ]);
    Ok(to_py(Arc::new(out)))
}

/// html_title(html) -> utf8: the `<title>` text, or null when absent or empty.
#[pyfunction]
fn html_title(py: Python<'_>, html: PyArray) -> PyResult<PyArray> {
    crate::arrow_io::map_str_to_str(py, html, title)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(extract_text, m)?)?;
    m.add_function(wrap_pyfunction!(html_title, m)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn never_panics_on_markup_soup(parts in proptest::collection::vec(
            prop_oneof![
                Just("<p>".to_string()), Just("</p>".to_string()), Just("<div class='a'>".to_string()),
                Just("</div>".to_string()), Just("<!--".to_string()), Just("-->".to_string()),
                Just("<script>".to_string()), Just("&amp".to_string()), Just("&#x".to_string()),
                Just("<a href=x>".to_string()), Just("\u{a0}«é»".to_string()), Just("<".to_string()),
                "[a-zé ,.]{0,40}",
            ],
            0..60,
        )) {
            let html = parts.concat();
            let _ = extract(&html, 1 << 20, 16);
            let _ = title(&html);
        }
    }

    #[test]
    fn control_characters_never_reach_the_text() {
        let html = "<title>T\u{0}itle\u{7}</title><p>Some te\u{0}xt&#1; with a NUL, a bell\u{7} and a \
                    form\u{c}feed, long enough to be kept.</p>";
        let text = extract(html, 1 << 20, 512).unwrap();
        assert_eq!(text, "Some text with a NUL, a bell and a form feed, long enough to be kept.");
        assert_eq!(title(html).as_deref(), Some("Title"));
        assert_eq!(title("<title>\u{0}\u{1}</title>"), None);
    }

    #[test]
    fn size_cap_and_hostile_input() {
        assert_eq!(
            extract(&"a".repeat(100), 10, 512),
            Err(ExtractError::TooLarge)
        );
        assert_eq!(extract("", 10, 512), Err(ExtractError::NoContent));
        let deep = "<div>".repeat(100_000)
            + "Some text that is long enough to count."
            + &"</div>".repeat(100_000);
        assert!(extract(&deep, 10_000_000, 512).is_ok());
        // 10^6 attributes on one element, and 10^6 class attributes: linear, bounded.
        let attrs = format!("<p {}>Text after a tag with a million attributes.</p>", "a=1 ".repeat(1_000_000));
        assert_eq!(extract(&attrs, 10_000_000, 512).unwrap(), "Text after a tag with a million attributes.");
        let classes = format!("<div {}><p>Text inside a div with a million classes.</p></div>", "class=x ".repeat(1_000_000));
        assert!(extract(&classes, 10_000_000, 512).is_ok());
        let broken = "<p class='x>unterminated <b><i>text with enough words to be kept here</p></div></span>";
        assert!(
            extract(broken, 1000, 512).is_ok()
                || extract(broken, 1000, 512) == Err(ExtractError::NoContent)
        );
    }
}
