//! A small, forgiving HTML tokenizer and tree builder. One linear pass over the input; the open
//! element stack is capped at `max_depth` (deeper elements are flattened into their ancestor), so
//! time and memory stay O(n) on hostile markup.

use super::text::decode_into;
use std::collections::HashMap;

/// Tag identifiers: known tags are small constants, everything else hashes above `OTHER`.
pub mod tag {
    pub const HTML: u32 = 1;
    pub const BODY: u32 = 2;
    pub const P: u32 = 3;
    pub const DIV: u32 = 4;
    pub const SECTION: u32 = 5;
    pub const ARTICLE: u32 = 6;
    pub const MAIN: u32 = 7;
    pub const H1: u32 = 8;
    pub const H2: u32 = 9;
    pub const H3: u32 = 10;
    pub const H4: u32 = 11;
    pub const H5: u32 = 12;
    pub const H6: u32 = 13;
    pub const LI: u32 = 14;
    pub const UL: u32 = 15;
    pub const OL: u32 = 16;
    pub const DL: u32 = 17;
    pub const DT: u32 = 18;
    pub const DD: u32 = 19;
    pub const TABLE: u32 = 20;
    pub const TR: u32 = 21;
    pub const TD: u32 = 22;
    pub const TH: u32 = 23;
    pub const TBODY: u32 = 24;
    pub const THEAD: u32 = 25;
    pub const TFOOT: u32 = 26;
    pub const BLOCKQUOTE: u32 = 27;
    pub const PRE: u32 = 28;
    pub const FIGURE: u32 = 29;
    pub const FIGCAPTION: u32 = 30;
    pub const HEADER: u32 = 31;
    pub const FOOTER: u32 = 32;
    pub const NAV: u32 = 33;
    pub const ASIDE: u32 = 34;
    pub const FORM: u32 = 35;
    pub const BR: u32 = 36;
    pub const HR: u32 = 37;
    pub const ADDRESS: u32 = 38;
    pub const A: u32 = 39;
    pub const BUTTON: u32 = 40;
    pub const SELECT: u32 = 41;
    pub const INPUT: u32 = 42;
    pub const LABEL: u32 = 43;
    pub const MENU: u32 = 44;
    pub const DIALOG: u32 = 45;
    pub const DETAILS: u32 = 46;
    pub const SUMMARY: u32 = 47;
    pub const CENTER: u32 = 48;
    pub const OPTION: u32 = 49;
    pub const IMG: u32 = 50;
    pub const HEAD: u32 = 51;
    pub const VIDEO: u32 = 52;
    pub const AUDIO: u32 = 53;
    pub const CAPTION: u32 = 54;
    pub const NOSCRIPT: u32 = 55;
    pub const OTHER: u32 = 1000;
}

fn tag_id(name: &[u8]) -> u32 {
    use tag::*;
    match name {
        b"html" => HTML,
        b"body" => BODY,
        b"p" => P,
        b"div" => DIV,
        b"section" => SECTION,
        b"article" => ARTICLE,
        b"main" => MAIN,
        b"h1" => H1,
        b"h2" => H2,
        b"h3" => H3,
        b"h4" => H4,
        b"h5" => H5,
        b"h6" => H6,
        b"li" => LI,
        b"ul" => UL,
        b"ol" => OL,
        b"dl" => DL,
        b"dt" => DT,
        b"dd" => DD,
        b"table" => TABLE,
        b"tr" => TR,
        b"td" => TD,
        b"th" => TH,
        b"tbody" => TBODY,
        b"thead" => THEAD,
        b"tfoot" => TFOOT,
        b"blockquote" => BLOCKQUOTE,
        b"pre" => PRE,
        b"figure" => FIGURE,
        b"figcaption" => FIGCAPTION,
        b"header" => HEADER,
        b"footer" => FOOTER,
        b"nav" => NAV,
        b"aside" => ASIDE,
        b"form" => FORM,
        b"br" => BR,
        b"hr" => HR,
        b"address" => ADDRESS,
        b"a" => A,
        b"button" => BUTTON,
        b"select" => SELECT,
        b"input" => INPUT,
        b"label" => LABEL,
        b"menu" => MENU,
        b"dialog" => DIALOG,
        b"details" => DETAILS,
        b"summary" => SUMMARY,
        b"center" => CENTER,
        b"option" => OPTION,
        b"img" => IMG,
        b"head" => HEAD,
        b"video" => VIDEO,
        b"audio" => AUDIO,
        b"caption" => CAPTION,
        b"noscript" => NOSCRIPT,
        _ => OTHER + (xxhash_rust::xxh3::xxh3_64(name) % 1_000_000) as u32,
    }
}

/// Elements with no content or end tag.
fn is_void(name: &[u8]) -> bool {
    matches!(
        name,
        b"br"
            | b"hr"
            | b"img"
            | b"input"
            | b"meta"
            | b"link"
            | b"area"
            | b"base"
            | b"col"
            | b"embed"
            | b"param"
            | b"source"
            | b"track"
            | b"wbr"
            | b"keygen"
    )
}

/// Elements whose content is raw text we never show (skipped up to the matching end tag).
fn is_skipped_raw(name: &[u8]) -> bool {
    matches!(
        name,
        b"script"
            | b"style"
            | b"template"
            | b"textarea"
            | b"xmp"
            | b"iframe"
            | b"noembed"
            | b"noframes"
            | b"svg"
            | b"math"
            | b"object"
            | b"canvas"
    )
}

/// Block-level elements: their boundaries break lines and close an open `<p>`.
pub fn is_block(t: u32) -> bool {
    use tag::*;
    matches!(
        t,
        P | DIV
            | SECTION
            | ARTICLE
            | MAIN
            | H1
            | H2
            | H3
            | H4
            | H5
            | H6
            | LI
            | UL
            | OL
            | DL
            | DT
            | DD
            | TABLE
            | TR
            | TD
            | TH
            | TBODY
            | THEAD
            | TFOOT
            | BLOCKQUOTE
            | PRE
            | FIGURE
            | FIGCAPTION
            | HEADER
            | FOOTER
            | NAV
            | ASIDE
            | FORM
            | BR
            | HR
            | ADDRESS
            | MENU
            | DIALOG
            | DETAILS
            | SUMMARY
            | CENTER
            | HTML
            | BODY
            | CAPTION
            | OPTION
    )
}

/// A child of an element: a nested element or a decoded text run in `Doc::text`.
#[derive(Clone, Copy)]
pub enum Item {
    El(u32),
    Text(u32, u32),
}

pub struct Node {
    pub tag: u32,
    pub parent: u32,
    pub children: Vec<Item>,
    /// Lowercased `class` and `id` joined by a space (empty when absent).
    pub hint: String,
    pub role: String,
    pub hidden: bool,
    pub article_body: bool,
}

pub struct Doc {
    pub nodes: Vec<Node>,
    pub text: String,
    pub title: Option<String>,
}

struct Attrs {
    hint: String,
    role: String,
    hidden: bool,
    article_body: bool,
}

/// Parse attributes of a tag body `s` (after the name); returns them and whether it self-closes.
fn parse_attrs(s: &[u8], src: &str, off: usize, attrs: &mut Attrs) -> bool {
    let mut i = 0;
    let mut self_closing = false;
    while i < s.len() {
        let c = s[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'/' {
            self_closing = true;
            i += 1;
            continue;
        }
        self_closing = false;
        let ns = i;
        while i < s.len() && !s[i].is_ascii_whitespace() && s[i] != b'=' && s[i] != b'/' {
            i += 1;
        }
        let name = &s[ns..i];
        while i < s.len() && s[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut val: &str = "";
        if i < s.len() && s[i] == b'=' {
            i += 1;
            while i < s.len() && s[i].is_ascii_whitespace() {
                i += 1;
            }
            if i < s.len() && (s[i] == b'"' || s[i] == b'\'') {
                let q = s[i];
                let vs = i + 1;
                let ve = memchr::memchr(q, &s[vs..]).map_or(s.len(), |p| vs + p);
                val = &src[off + vs..off + ve];
                i = (ve + 1).min(s.len());
            } else {
                let vs = i;
                while i < s.len() && !s[i].is_ascii_whitespace() {
                    i += 1;
                }
                val = &src[off + vs..off + i];
            }
        }
        if name.eq_ignore_ascii_case(b"class") || name.eq_ignore_ascii_case(b"id") {
            if !attrs.hint.is_empty() {
                attrs.hint.push(' ');
            }
            attrs.hint.push_str(&val.to_ascii_lowercase());
        } else if name.eq_ignore_ascii_case(b"style") {
            let v: String = val
                .bytes()
                .filter(|b| !b.is_ascii_whitespace())
                .map(|b| b.to_ascii_lowercase() as char)
                .collect();
            if v.contains("display:none") || v.contains("visibility:hidden") {
                attrs.hidden = true;
            }
        } else if name.eq_ignore_ascii_case(b"hidden") {
            attrs.hidden = true;
        } else if name.eq_ignore_ascii_case(b"aria-hidden") {
            attrs.hidden |= val.eq_ignore_ascii_case("true");
        } else if name.eq_ignore_ascii_case(b"role") {
            attrs.role = val.to_ascii_lowercase();
        } else if name.eq_ignore_ascii_case(b"itemprop") {
            attrs.article_body |= val.to_ascii_lowercase().contains("articlebody");
        }
    }
    self_closing
}

/// Find the end of raw-text content: the offset of `</name` (case-insensitive) from `from`.
fn find_raw_end(b: &[u8], from: usize, name: &[u8]) -> Option<usize> {
    let mut i = from;
    let finder = memchr::memmem::Finder::new(b"</");
    while let Some(p) = finder.find(&b[i..]) {
        let at = i + p;
        let ns = at + 2;
        if ns + name.len() <= b.len() && b[ns..ns + name.len()].eq_ignore_ascii_case(name) {
            let after = b.get(ns + name.len()).copied().unwrap_or(b'>');
            if after == b'>' || after == b'/' || after.is_ascii_whitespace() {
                return Some(at);
            }
        }
        i = at + 2;
    }
    None
}

struct Builder {
    doc: Doc,
    stack: Vec<u32>,
    open_counts: HashMap<u32, u32>,
    max_depth: usize,
}

impl Builder {
    fn cur(&self) -> u32 {
        *self.stack.last().unwrap_or(&0)
    }

    fn pop(&mut self) {
        if self.stack.len() > 1 {
            let n = self.stack.pop().unwrap();
            let t = self.doc.nodes[n as usize].tag;
            if let Some(c) = self.open_counts.get_mut(&t) {
                *c -= 1;
            }
        }
    }

    fn pop_to(&mut self, t: u32) {
        while self.stack.len() > 1 {
            let top = self.doc.nodes[self.cur() as usize].tag;
            self.pop();
            if top == t {
                break;
            }
        }
    }

    fn is_open(&self, t: u32) -> bool {
        self.open_counts.get(&t).copied().unwrap_or(0) > 0
    }

    /// Close an open element of tag `t` if one is open above the nearest of `boundary` tags.
    fn close_if_open_within(&mut self, t: u32, boundary: &[u32]) {
        if !self.is_open(t) {
            return;
        }
        // Bounded look-back keeps pathological nesting linear; real markup closes nearby.
        for &n in self.stack.iter().rev().take(64) {
            let nt = self.doc.nodes[n as usize].tag;
            if nt == t {
                self.pop_to(t);
                return;
            }
            if boundary.contains(&nt) {
                return;
            }
        }
    }

    fn start(&mut self, t: u32, attrs: Attrs, void: bool) {
        use tag::*;
        if is_block(t) && t != BR {
            self.close_if_open_within(
                P,
                &[
                    DIV, TD, TH, LI, BLOCKQUOTE, SECTION, ARTICLE, MAIN, BODY, TABLE, BUTTON,
                ],
            );
        }
        match t {
            LI => self.close_if_open_within(LI, &[UL, OL, MENU, TABLE]),
            DT | DD => {
                self.close_if_open_within(DT, &[DL, TABLE]);
                self.close_if_open_within(DD, &[DL, TABLE]);
            }
            TD | TH => {
                self.close_if_open_within(TD, &[TR, TABLE]);
                self.close_if_open_within(TH, &[TR, TABLE]);
            }
            TR => self.close_if_open_within(TR, &[TABLE]),
            OPTION => self.close_if_open_within(OPTION, &[SELECT]),
            A => self.close_if_open_within(A, &[]),
            _ => {}
        }
        let parent = self.cur();
        if self.stack.len() >= self.max_depth {
            // Too deep: keep the content in the current element, but still break lines.
            if is_block(t) {
                let idx = self.doc.nodes.len() as u32;
                self.doc.nodes.push(Node {
                    tag: BR,
                    parent,
                    children: Vec::new(),
                    hint: String::new(),
                    role: String::new(),
                    hidden: false,
                    article_body: false,
                });
                self.doc.nodes[parent as usize].children.push(Item::El(idx));
            }
            return;
        }
        let idx = self.doc.nodes.len() as u32;
        self.doc.nodes.push(Node {
            tag: t,
            parent,
            children: Vec::new(),
            hint: attrs.hint,
            role: attrs.role,
            hidden: attrs.hidden,
            article_body: attrs.article_body,
        });
        self.doc.nodes[parent as usize].children.push(Item::El(idx));
        if !void {
            self.stack.push(idx);
            *self.open_counts.entry(t).or_insert(0) += 1;
        }
    }

    fn end(&mut self, t: u32) {
        if t == tag::BR {
            self.start(
                t,
                Attrs {
                    hint: String::new(),
                    role: String::new(),
                    hidden: false,
                    article_body: false,
                },
                true,
            );
            return;
        }
        if self.is_open(t) {
            self.pop_to(t);
        }
    }

    fn text(&mut self, raw: &str) {
        if raw.is_empty() {
            return;
        }
        let start = self.doc.text.len();
        // Start each run fresh so a leading space is kept as a separator marker.
        let lead = raw.as_bytes()[0].is_ascii_whitespace()
            || raw.starts_with('\u{a0}')
            || [&b"&nbsp;"[..], b"&#160;", b"&#xa0;"]
                .iter()
                .any(|e| raw.len() >= e.len() && raw.as_bytes()[..e.len()].eq_ignore_ascii_case(e));
        if lead {
            self.doc.text.push(' ');
        }
        decode_into(raw, &mut self.doc.text);
        let end = self.doc.text.len();
        if end > start {
            let cur = self.cur();
            self.doc.nodes[cur as usize]
                .children
                .push(Item::Text(start as u32, end as u32));
        }
    }
}

/// Parse `html` into a `Doc`. Node 0 is a synthetic root.
pub fn parse(html: &str, max_depth: usize) -> Doc {
    let root = Node {
        tag: 0,
        parent: 0,
        children: Vec::new(),
        hint: String::new(),
        role: String::new(),
        hidden: false,
        article_body: false,
    };
    let mut b = Builder {
        doc: Doc {
            nodes: vec![root],
            text: String::with_capacity(html.len() / 3),
            title: None,
        },
        stack: vec![0],
        open_counts: HashMap::new(),
        max_depth: max_depth.max(2),
    };
    let bytes = html.as_bytes();
    let n = bytes.len();
    let mut i = 0;
    let mut text_start = 0;
    while let Some(p) = memchr::memchr(b'<', &bytes[i..]) {
        let lt = i + p;
        let next = bytes.get(lt + 1).copied().unwrap_or(0);
        if next == b'!' || next == b'?' {
            b.text(&html[text_start..lt]);
            let end = if bytes[lt..].starts_with(b"<!--") {
                memchr::memmem::find(&bytes[lt + 4..], b"-->").map_or(n, |q| lt + 4 + q + 3)
            } else {
                memchr::memchr(b'>', &bytes[lt..]).map_or(n, |q| lt + q + 1)
            };
            i = end;
            text_start = end;
            continue;
        }
        let is_end = next == b'/';
        let ns = if is_end { lt + 2 } else { lt + 1 };
        if ns >= n || !bytes[ns].is_ascii_alphabetic() {
            if is_end && ns < n && bytes[ns] != b'>' {
                // `</ junk>`: a bogus comment.
                b.text(&html[text_start..lt]);
                let end = memchr::memchr(b'>', &bytes[lt..]).map_or(n, |q| lt + q + 1);
                i = end;
                text_start = end;
            } else {
                i = lt + 1;
            }
            continue;
        }
        b.text(&html[text_start..lt]);
        let mut ne = ns;
        while ne < n && !bytes[ne].is_ascii_whitespace() && bytes[ne] != b'>' && bytes[ne] != b'/' {
            ne += 1;
        }
        let gt = match memchr::memchr(b'>', &bytes[ne..]) {
            Some(q) => ne + q,
            None => {
                text_start = n;
                break;
            }
        };
        let name = bytes[ns..ne].to_ascii_lowercase();
        i = gt + 1;
        text_start = i;
        if is_end {
            b.end(tag_id(&name));
            continue;
        }
        if is_skipped_raw(&name) {
            let end = find_raw_end(bytes, i, &name).unwrap_or(n);
            let close = memchr::memchr(b'>', &bytes[end..]).map_or(n, |q| end + q + 1);
            i = close;
            text_start = close;
            continue;
        }
        if name == b"title" {
            let end = find_raw_end(bytes, i, b"title").unwrap_or(n);
            if b.doc.title.is_none() {
                let t = super::text::clean(&html[i..end]);
                if !t.is_empty() {
                    b.doc.title = Some(t);
                }
            }
            let close = memchr::memchr(b'>', &bytes[end..]).map_or(n, |q| end + q + 1);
            i = close;
            text_start = close;
            continue;
        }
        let mut attrs = Attrs {
            hint: String::new(),
            role: String::new(),
            hidden: false,
            article_body: false,
        };
        let self_closing = parse_attrs(&bytes[ne..gt], html, ne, &mut attrs);
        let t = tag_id(&name);
        if t == tag::HEAD {
            continue;
        }
        b.start(
            t,
            attrs,
            is_void(&name) || (self_closing && t >= tag::OTHER),
        );
    }
    b.text(&html[text_start.min(n)..]);
    b.doc
}

/// Only the `<title>` of a page, scanning no further than needed.
pub fn title(html: &str) -> Option<String> {
    let bytes = html.as_bytes();
    let mut i = 0;
    while let Some(p) = memchr::memchr(b'<', &bytes[i..]) {
        let lt = i + p;
        if bytes[lt..].starts_with(b"<!--") {
            i = memchr::memmem::find(&bytes[lt + 4..], b"-->")
                .map_or(bytes.len(), |q| lt + 4 + q + 3);
            continue;
        }
        let rest = &bytes[lt + 1..];
        if rest.len() >= 5
            && rest[..5].eq_ignore_ascii_case(b"title")
            && rest
                .get(5)
                .is_some_and(|c| *c == b'>' || c.is_ascii_whitespace())
        {
            let gt = lt + 1 + memchr::memchr(b'>', rest)?;
            let end = find_raw_end(bytes, gt + 1, b"title").unwrap_or(bytes.len());
            let t = super::text::clean(&html[gt + 1..end]);
            return (!t.is_empty()).then_some(t);
        }
        if rest.len() >= 4 && rest[..4].eq_ignore_ascii_case(b"body") {
            return None;
        }
        if let Some(name) = [&b"script"[..], b"style", b"svg", b"noscript", b"template"]
            .into_iter()
            .find(|nm| rest.len() > nm.len() && rest[..nm.len()].eq_ignore_ascii_case(nm))
        {
            i = find_raw_end(bytes, lt + 1, name).map_or(bytes.len(), |e| e + 2);
            continue;
        }
        i = lt + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_is_found_and_cleaned() {
        assert_eq!(
            title("<html><head><TITLE>\n A &amp;  B </title>").as_deref(),
            Some("A & B")
        );
        assert_eq!(
            title("<script>var t='<title>x</title>'</script><title>real</title>").as_deref(),
            Some("real")
        );
        assert_eq!(title("<p>no title</p>"), None);
        assert_eq!(title("<title>   </title>"), None);
    }

    #[test]
    fn implicit_closes_and_depth_cap() {
        let d = parse("<ul><li>a<li>b</ul><p>x<p>y", 512);
        let ul = &d.nodes[1];
        assert_eq!(ul.tag, tag::UL);
        assert_eq!(ul.children.len(), 2);
        let deep = "<div>".repeat(10_000) + "x" + &"</div>".repeat(10_000);
        let d = parse(&deep, 64);
        assert!(d.nodes.len() < 10_100);
    }

    #[test]
    fn raw_text_is_skipped() {
        let d = parse(
            "<p>a<script>if (a<b) x='</p>'</script>b<style>p{}</style></p>",
            64,
        );
        assert_eq!(d.text, "ab");
    }
}
