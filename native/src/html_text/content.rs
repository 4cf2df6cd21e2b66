//! Main-content selection over a parsed `Doc`: boilerplate pruning by tag, role, visibility and
//! class/id hints; the content container is the deepest element holding nearly all paragraph text;
//! then line emission with link-density, short-debris and duplicate filtering.

use super::dom::{is_block, tag, Doc, Item};
use regex::Regex;
use std::collections::HashMap;
use std::sync::OnceLock;

/// Class/id words that mark boilerplate even when a positive word is also present.
const STRONG_NEG: &[&str] = &[
    "comment",
    "cookie",
    "consent",
    "gdpr",
    "share",
    "sharing",
    "social",
    "related",
    "newsletter",
    "breadcrumb",
    "disqus",
    "outbrain",
    "taboola",
    "sidebar",
    "navbar",
    "navigation",
    "subscribe",
    "popup",
    "modal",
    "advert",
    "sponsor",
    "recommend",
    "footer",
    "promo",
    "banner",
    "signup",
    "login",
    "pagination",
    "masthead",
    "skiplink",
    "paywall",
    "teaser",
    "licence",
    "license",
    "readingtime",
    "infobox",
    "disclaimer",
    "recirculation",
    "callout",
    "cta",
    "privacy",
    "breadrcumb",
    "caption",
    "imagedescription",
];
/// Class/id words of comment sections (any language seen in the wild).
const COMMENT: &[&str] = &[
    "comment",
    "kommentar",
    "commentaire",
    "comentario",
    "disqus",
    "respond",
];
/// Class/id tokens (whole tokens) that mark boilerplate unless a positive word is present.
const NEG_TOKENS: &[&str] = &[
    "nav",
    "menu",
    "ad",
    "ads",
    "header",
    "foot",
    "tags",
    "tag",
    "meta",
    "byline",
    "author",
    "print",
    "skip",
    "sr",
    "screen",
    "toolbar",
    "topbar",
    "rating",
    "date",
    "credit",
    "copyright",
    "legal",
    "more",
    "links",
    "sidebar",
    "aside",
    "tools",
    "dropdown",
    "toc",
];
const POS: &[&str] = &[
    "article", "content", "main", "post", "entry", "story", "body", "text", "blog", "hentry",
    "prose", "richtext",
];

struct Hint {
    /// Comment sections: removed whatever their size.
    comment: bool,
    strong_neg: bool,
    neg: bool,
    pos: bool,
}

/// Matchers for the word lists, compiled once: substring words match anywhere in the
/// class/id string, `NEG_TOKENS` only as whole alphanumeric tokens.
struct Matchers {
    comment: Regex,
    strong_neg: Regex,
    neg: Regex,
    pos: Regex,
}

fn matchers() -> &'static Matchers {
    static M: OnceLock<Matchers> = OnceLock::new();
    M.get_or_init(|| {
        let any = |words: &[&str]| Regex::new(&words.join("|")).expect("word list regex");
        Matchers {
            comment: any(COMMENT),
            strong_neg: any(STRONG_NEG),
            neg: Regex::new(&format!(
                "(?:^|[^a-z0-9])(?:{})(?:$|[^a-z0-9])",
                NEG_TOKENS.join("|")
            ))
            .expect("token regex"),
            pos: any(POS),
        }
    })
}

fn classify(hint: &str) -> Hint {
    if hint.is_empty() {
        return Hint {
            comment: false,
            strong_neg: false,
            neg: false,
            pos: false,
        };
    }
    let m = matchers();
    Hint {
        comment: m.comment.is_match(hint),
        strong_neg: m.strong_neg.is_match(hint),
        neg: m.neg.is_match(hint),
        pos: m.pos.is_match(hint),
    }
}

fn is_heading(t: u32) -> bool {
    (tag::H1..=tag::H6).contains(&t)
}

pub struct Options {
    /// Drop subtrees by (non-comment) class/id hints and `<noscript>`; a second pass runs without
    /// them when the first finds little.
    pub strict: bool,
}

/// A hint-marked (non-comment) subtree holding more than this share of the page text is kept
/// (strong hints also need a positive hint or an `<article>`/`<main>` around or inside): such
/// names on page-wide wrappers ("content-sidebar-wrap", "theme-taboola") are not boilerplate.
const MAX_PRUNED_SHARE: f32 = 0.4;
/// The container search descends into a child holding at least this share of paragraph text.
const DESCEND_SHARE: f32 = 0.9;
/// A container child without paragraph text whose link share exceeds this many tenths is dropped.
const LINK_BLOCK_TENTHS: u32 = 3;
/// Paragraph-like blocks shorter than this (in characters) do not count as content evidence.
const MIN_PARAGRAPH: u32 = 25;

fn dead_by_tag(t: u32, strict: bool) -> bool {
    use tag::*;
    (strict && t == NOSCRIPT)
        || matches!(
            t,
            NAV | ASIDE
                | FOOTER
                | FIGCAPTION
                | BUTTON
                | SELECT
                | INPUT
                | MENU
                | DIALOG
                | OPTION
                | LABEL
                | VIDEO
                | AUDIO
        )
}

fn dead_by_role(role: &str) -> bool {
    matches!(
        role,
        "navigation"
            | "banner"
            | "contentinfo"
            | "complementary"
            | "menu"
            | "menubar"
            | "dialog"
            | "alert"
            | "alertdialog"
            | "search"
            | "toolbar"
            | "tablist"
    )
}

/// Text length per node (subtree), counting only nodes not in `dead`.
fn text_lengths(doc: &Doc, dead: &[bool]) -> Vec<u32> {
    let n = doc.nodes.len();
    let mut len = vec![0u32; n];
    for i in (1..n).rev() {
        if dead[i] {
            continue;
        }
        for it in &doc.nodes[i].children {
            if let Item::Text(a, b) = *it {
                len[i] += doc.text[a as usize..b as usize].trim().len() as u32;
            }
        }
        len[doc.nodes[i].parent as usize] += len[i];
    }
    len
}

/// Mark boilerplate nodes dead (children of a dead node are dead too).
fn mark_dead(doc: &Doc, opts: &Options) -> Vec<bool> {
    let n = doc.nodes.len();
    let mut dead = vec![false; n];
    // Parents precede children in the arena, so one forward pass propagates state downward.
    let mut in_article = vec![false; n];
    // First the structural removals (tags, roles, visibility) ...
    for i in 1..n {
        let node = &doc.nodes[i];
        let p = node.parent as usize;
        in_article[i] =
            in_article[p] || matches!(node.tag, tag::ARTICLE | tag::MAIN) || node.article_body;
        dead[i] = dead[p]
            || node.hidden
            || dead_by_tag(node.tag, opts.strict)
            || dead_by_role(&node.role)
            || (node.tag == tag::HEADER && !in_article[p]);
    }
    // ... then class/id hints, sparing big page-wide wrappers.
    let len = text_lengths(doc, &dead);
    let cap = (len[0] as f32 * MAX_PRUNED_SHARE) as u32;
    let mut holds_main = vec![false; n];
    for i in (1..n).rev() {
        let nd = &doc.nodes[i];
        if holds_main[i] || matches!(nd.tag, tag::ARTICLE | tag::MAIN) || nd.article_body {
            holds_main[nd.parent as usize] = true;
        }
    }
    for i in 1..n {
        let node = &doc.nodes[i];
        let p = node.parent as usize;
        if dead[p] {
            dead[i] = true;
        }
        if dead[i] {
            continue;
        }
        let t = node.tag;
        let h = &classify(&node.hint);
        let structural =
            matches!(t, tag::HTML | tag::BODY | tag::ARTICLE | tag::MAIN) || node.article_body;
        if !structural
            && (h.comment
                || opts.strict
                    && (h.strong_neg
                        && (len[i] <= cap || !(h.pos || holds_main[i] || in_article[i])))
                || opts.strict && (h.neg && !h.pos && len[i] <= cap))
        {
            dead[i] = true;
        }
    }
    dead
}

/// Paragraph text per subtree: the text (minus link text) of paragraph-like blocks that are long
/// enough and not link-dense, summed bottom-up over live nodes.
fn good_text(doc: &Doc, dead: &[bool]) -> (Vec<u32>, Vec<u32>, Vec<u32>) {
    let n = doc.nodes.len();
    let mut text = vec![0u32; n];
    let mut link = vec![0u32; n];
    let mut good = vec![0u32; n];
    for i in (1..n).rev() {
        if dead[i] {
            continue;
        }
        let node = &doc.nodes[i];
        let mut direct = 0;
        for it in &node.children {
            if let Item::Text(a, b) = *it {
                direct += doc.text[a as usize..b as usize].trim().chars().count() as u32;
            }
        }
        text[i] += direct;
        if node.tag == tag::A {
            link[i] = text[i];
        }
        let t = node.tag;
        let para_like = matches!(
            t,
            tag::P | tag::PRE | tag::TD | tag::BLOCKQUOTE | tag::DD | tag::LI
        ) || (t == tag::DIV && direct > 25);
        if para_like && text[i] >= MIN_PARAGRAPH && link[i] * 2 < text[i] {
            good[i] = good[i].max(text[i] - link[i]);
        }
        let p = node.parent as usize;
        text[p] += text[i];
        if doc.nodes[p].tag != tag::A {
            link[p] += link[i];
        }
        good[p] += good[i];
    }
    (good, text, link)
}

/// Line emitter: walks subtrees, breaking at block boundaries, dropping link-dense lines.
struct Emitter<'a> {
    doc: &'a Doc,
    dead: &'a [bool],
    lines: Vec<String>,
    seen: HashMap<String, u32>,
    line: String,
    line_link: usize,
    line_heading: bool,
    pending_heading: Option<String>,
    in_link: u32,
}

/// trafilatura's `deduplicate=True` rule, within the page: a segment of more than 100
/// characters is dropped once it has been seen three times; shorter repeated lines stay, so
/// repetition is left for the Gopher repetition filter to judge, as in FineWeb.
fn within_repeat_limit(seen: &mut HashMap<String, u32>, line: &str) -> bool {
    if line.len() <= 100 {
        return true;
    }
    let n = seen.entry(line.to_string()).or_insert(0);
    *n += 1;
    *n <= 3
}

impl<'a> Emitter<'a> {
    fn flush(&mut self) {
        let l = self.line.trim();
        if !l.is_empty() {
            let chars = l.chars().count();
            let link_dense = self.line_link * 2 > chars
                || (self.line_link > 0 && chars < 30 && self.line_link * 10 > chars * 3);
            let sentence_end =
                l.ends_with(['.', '!', '?', ':', '。', '"', '”', '“', '»', '«', ')']);
            let keep = !link_dense
                && (chars >= 10 || self.line_heading || sentence_end)
                && l.chars().any(char::is_alphabetic);
            if !keep {
                // A heading introducing dropped boilerplate ("Related articles") goes with it.
                self.pending_heading = None;
            } else if within_repeat_limit(&mut self.seen, l) {
                if self.line_heading || (chars < 30 && l.ends_with(':')) {
                    // Held back until real content follows it; a heading run (title, then
                    // subtitle) is kept or dropped together.
                    match &mut self.pending_heading {
                        Some(h) => {
                            h.push('\n');
                            h.push_str(l);
                        }
                        None => self.pending_heading = Some(l.to_string()),
                    }
                } else {
                    if let Some(h) = self.pending_heading.take() {
                        self.lines.push(h);
                    }
                    self.lines.push(l.to_string());
                }
            }
        }
        self.line.clear();
        self.line_link = 0;
        self.line_heading = false;
    }

    fn push_text(&mut self, s: &str) {
        let s = if self.line.is_empty() || self.line.ends_with(' ') {
            s.trim_start()
        } else {
            s
        };
        if s.is_empty() {
            return;
        }
        if self.in_link > 0 {
            self.line_link += s.trim().chars().count();
        }
        self.line.push_str(s);
    }

    fn emit(&mut self, root: u32) {
        // Explicit stack: (node, next child index); depth is bounded by the parser anyway.
        let mut stack: Vec<(u32, usize)> = vec![(root, 0)];
        self.enter(root);
        while let Some(&mut (n, ref mut ci)) = stack.last_mut() {
            let node = &self.doc.nodes[n as usize];
            if *ci >= node.children.len() {
                stack.pop();
                self.leave(n);
                continue;
            }
            let it = node.children[*ci];
            *ci += 1;
            match it {
                Item::Text(a, b) => {
                    let s = &self.doc.text[a as usize..b as usize];
                    self.push_text(s);
                }
                Item::El(c) => {
                    if self.dead[c as usize] {
                        continue;
                    }
                    self.enter(c);
                    stack.push((c, 0));
                }
            }
        }
    }

    fn enter(&mut self, n: u32) {
        let t = self.doc.nodes[n as usize].tag;
        if is_block(t) {
            self.flush();
        }
        if is_heading(t) {
            self.line_heading = true;
        }
        if t == tag::A {
            self.in_link += 1;
        }
    }

    fn leave(&mut self, n: u32) {
        let t = self.doc.nodes[n as usize].tag;
        if t == tag::A {
            self.in_link -= 1;
        }
        if is_block(t) {
            self.flush();
        } else if !self.line.is_empty() && !self.line.ends_with(' ') && matches!(t, tag::IMG) {
            self.line.push(' ');
        }
    }
}

fn emit_nodes(doc: &Doc, dead: &[bool], roots: &[u32]) -> String {
    let mut e = Emitter {
        doc,
        dead,
        lines: Vec::new(),
        seen: HashMap::new(),
        line: String::new(),
        line_link: 0,
        line_heading: false,
        pending_heading: None,
        in_link: 0,
    };
    for &r in roots {
        e.emit(r);
    }
    e.flush();
    e.lines.join("\n")
}

/// Pick the content container and return its text, one block per line.
pub fn extract(doc: &Doc, opts: &Options) -> String {
    let mut dead = mark_dead(doc, opts);
    let (good, text, link) = good_text(doc, &dead);
    // Descend from the root while one child holds nearly all the paragraph text: the deepest
    // such node is the content container (it spans split article bodies, unlike a single best
    // paragraph parent).
    let mut cur = 0usize;
    loop {
        let next = doc.nodes[cur].children.iter().find_map(|it| match *it {
            Item::El(c)
                if !dead[c as usize]
                    && good[c as usize] > 0
                    && good[c as usize] as f32 >= DESCEND_SHARE * good[cur] as f32 =>
            {
                Some(c as usize)
            }
            _ => None,
        });
        match next {
            Some(c) => cur = c,
            None => break,
        }
    }
    // Inside the container, blocks without paragraph text that are mostly links (teaser lists,
    // tag clouds, pagers) are boilerplate.
    for it in &doc.nodes[cur].children {
        if let Item::El(c) = *it {
            let c = c as usize;
            if good[c] == 0 && link[c] * 10 > text[c] * LINK_BLOCK_TENTHS {
                dead[c] = true;
            }
        }
    }
    emit_nodes(doc, &dead, &[cur as u32])
}

#[cfg(test)]
mod tests {
    use super::super::dom::parse;
    use super::*;

    fn run(html: &str) -> String {
        extract(&parse(html, 512), &Options { strict: true })
    }

    const BODY: &str = "<p>The committee met on Tuesday, and after a long debate, it approved the budget for the next year.</p>\
        <p>Members said the plan, which includes new schools, roads and clinics, would take effect in March.</p>";

    #[test]
    fn boilerplate_is_removed() {
        let html = format!(
            "<html><body><header><a href=/>Home</a> <a href=/n>News</a></header>\
             <nav><ul><li><a href=/a>Politics section</a></li></ul></nav>\
             <div class=cookie-banner>We use cookies to improve your experience on this site.</div>\
             <article>{BODY}<div class=share-buttons>Share this article on Facebook and Twitter</div></article>\
             <div id=comments><p>Great article, thanks a lot for writing this, very insightful!</p></div>\
             <footer>Copyright 2020 Example Corporation, all rights reserved.</footer></body></html>"
        );
        let out = run(&html);
        assert!(out.contains("approved the budget"));
        assert!(out.contains("would take effect in March."));
        for bad in [
            "Home",
            "Politics",
            "cookies",
            "Share this",
            "Great article",
            "Copyright",
        ] {
            assert!(!out.contains(bad), "{bad} leaked into {out:?}");
        }
    }

    #[test]
    fn blocks_become_lines() {
        let html = format!("<div class=content><h2>Budget  news</h2>{BODY}<ul><li>First point of the list</li><li>Second point of the list</li></ul></div>");
        let out = run(&html);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "Budget news");
        assert!(lines.contains(&"First point of the list"));
        assert!(lines.contains(&"Second point of the list"));
        assert!(!out.contains("\n\n\n"));
        assert_eq!(out.trim(), out);
    }

    #[test]
    fn inline_whitespace_and_link_dense_lines() {
        let html = format!(
            "<div class=post>{BODY}<p>Read <b>more</b>&nbsp;here:\n  <i>now</i>, please and thank you all.</p>\
             <p><a href=/x>Related story about something else entirely</a></p></div>"
        );
        let out = run(&html);
        assert!(out.contains("Read more here: now, please"));
        assert!(!out.contains("Related story"));
    }
}
