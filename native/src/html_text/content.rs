//! Main-content selection over a parsed `Doc`: boilerplate pruning by tag, role, visibility and
//! class/id hints; readability-style paragraph scoring to pick the content container; then line
//! emission with link-density and duplicate filtering.

use super::dom::{is_block, tag, Doc, Item};
use std::collections::HashSet;

/// Class/id words that mark boilerplate even when a positive word is also present.
const STRONG_NEG: &[&str] = &[
    "comment", "cookie", "consent", "gdpr", "share", "sharing", "social", "related", "newsletter",
    "breadcrumb", "disqus", "outbrain", "taboola", "sidebar", "navbar", "navigation", "subscribe",
    "popup", "modal", "advert", "sponsor", "recommend", "footer", "widget", "promo", "banner",
    "signup", "login", "pagination", "masthead", "skiplink", "paywall", "teaser",
];
/// Class/id tokens (whole tokens) that mark boilerplate unless a positive word is present.
const NEG_TOKENS: &[&str] = &[
    "nav", "menu", "ad", "ads", "header", "foot", "tags", "tag", "meta", "byline", "author",
    "print", "skip", "hidden", "sr", "screen", "toolbar", "topbar", "rating", "date", "caption",
    "credit", "copyright", "legal", "more", "links", "sidebar", "aside", "tools", "dropdown",
];
const POS: &[&str] = &[
    "article", "content", "main", "post", "entry", "story", "body", "text", "blog", "hentry",
    "prose", "richtext",
];

struct Hint {
    strong_neg: bool,
    neg: bool,
    pos: bool,
}

fn classify(hint: &str) -> Hint {
    let mut h = Hint { strong_neg: false, neg: false, pos: false };
    for word in hint.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()) {
        if STRONG_NEG.iter().any(|n| word.contains(n)) {
            h.strong_neg = true;
        }
        if NEG_TOKENS.contains(&word) {
            h.neg = true;
        }
        if POS.iter().any(|p| word.contains(p)) {
            h.pos = true;
        }
    }
    h
}

fn is_heading(t: u32) -> bool {
    (tag::H1..=tag::H6).contains(&t)
}

/// Per-node statistics gathered bottom-up over live nodes.
#[derive(Clone, Copy, Default)]
struct Stat {
    text: u32,
    link: u32,
    commas: u32,
    score: f32,
    weight: f32,
}

pub struct Options {
    /// Drop subtrees by class/id hints; a second pass runs without it when the first finds little.
    pub use_hints: bool,
}

fn dead_by_tag(t: u32) -> bool {
    use tag::*;
    matches!(t, NAV | ASIDE | FOOTER | BUTTON | SELECT | INPUT | MENU | DIALOG | OPTION | LABEL | VIDEO | AUDIO)
}

fn dead_by_role(role: &str) -> bool {
    matches!(
        role,
        "navigation" | "banner" | "contentinfo" | "complementary" | "menu" | "menubar" | "dialog"
            | "alert" | "alertdialog" | "search" | "toolbar" | "tablist"
    )
}

/// Mark boilerplate nodes dead (children of a dead node are dead too).
fn mark_dead(doc: &Doc, opts: &Options) -> (Vec<bool>, Vec<f32>) {
    let n = doc.nodes.len();
    let mut dead = vec![false; n];
    let mut weight = vec![0f32; n];
    // Parents precede children in the arena, so one forward pass propagates state downward.
    let mut in_article = vec![false; n];
    for i in 1..n {
        let node = &doc.nodes[i];
        let p = node.parent as usize;
        if dead[p] {
            dead[i] = true;
            continue;
        }
        let t = node.tag;
        in_article[i] = in_article[p] || matches!(t, tag::ARTICLE | tag::MAIN) || node.article_body;
        let h = classify(&node.hint);
        let structural = matches!(t, tag::HTML | tag::BODY | tag::ARTICLE | tag::MAIN) || node.article_body;
        let mut d = node.hidden || dead_by_tag(t) || dead_by_role(&node.role);
        if t == tag::HEADER && !in_article[p] {
            d = true;
        }
        if opts.use_hints && !structural && (h.strong_neg || (h.neg && !h.pos)) {
            d = true;
        }
        dead[i] = d;
        let mut w = 0.0;
        if h.pos {
            w += 25.0;
        }
        if h.strong_neg || h.neg {
            w -= 25.0;
        }
        if node.article_body || node.role == "main" || node.role == "article" {
            w += 50.0;
        }
        w += match t {
            tag::ARTICLE => 30.0,
            tag::MAIN => 20.0,
            tag::DIV => 5.0,
            tag::PRE | tag::TD | tag::BLOCKQUOTE => 3.0,
            tag::ADDRESS | tag::OL | tag::UL | tag::DL | tag::DD | tag::DT | tag::LI | tag::FORM => -3.0,
            tag::TH => -5.0,
            _ if is_heading(t) => -5.0,
            _ => 0.0,
        };
        weight[i] = w;
    }
    (dead, weight)
}

fn count_commas(s: &str) -> u32 {
    s.chars().filter(|c| matches!(c, ',' | '，' | '、' | '،' | '。' | '；')).count() as u32
}

/// Gather text statistics bottom-up and score paragraphs into their ancestors.
fn gather(doc: &Doc, dead: &[bool], weight: &[f32]) -> Vec<Stat> {
    let n = doc.nodes.len();
    let mut st = vec![Stat::default(); n];
    for i in 0..n {
        st[i].weight = weight[i];
    }
    for i in (1..n).rev() {
        if dead[i] {
            continue;
        }
        let node = &doc.nodes[i];
        for it in &node.children {
            if let Item::Text(a, b) = *it {
                let s = &doc.text[a as usize..b as usize];
                st[i].text += s.trim().chars().count() as u32;
                st[i].commas += count_commas(s);
            }
        }
        if node.tag == tag::A {
            st[i].link = st[i].text;
        }
        let t = node.tag;
        let para_like = matches!(t, tag::P | tag::PRE | tag::TD | tag::BLOCKQUOTE | tag::DD)
            || (t == tag::DIV && node.children.iter().any(|c| matches!(c, Item::Text(a, b) if b - a > 25)));
        if para_like && st[i].text >= 25 && st[i].link * 2 < st[i].text {
            let s = 1.0 + st[i].commas as f32 + (st[i].text as f32 / 100.0).min(3.0);
            let mut a = node.parent as usize;
            for level in 0..3 {
                if a == 0 {
                    break;
                }
                let div = match level { 0 => 1.0, 1 => 2.0, _ => 6.0 };
                st[a].score += s / div;
                a = doc.nodes[a].parent as usize;
            }
        }
        let p = node.parent as usize;
        let (t2, l2, c2) = (st[i].text, st[i].link, st[i].commas);
        st[p].text += t2;
        st[p].link += if doc.nodes[p].tag == tag::A { 0 } else { l2 };
        st[p].commas += c2;
    }
    st
}

fn final_score(s: &Stat) -> f32 {
    if s.score <= 0.0 {
        return f32::MIN;
    }
    let ld = if s.text == 0 { 0.0 } else { s.link as f32 / s.text as f32 };
    (s.score + s.weight) * (1.0 - ld)
}

/// Line emitter: walks subtrees, breaking at block boundaries, dropping link-dense lines.
struct Emitter<'a> {
    doc: &'a Doc,
    dead: &'a [bool],
    lines: Vec<String>,
    seen: HashSet<String>,
    line: String,
    line_link: usize,
    line_heading: bool,
    in_link: u32,
}

impl<'a> Emitter<'a> {
    fn flush(&mut self) {
        let l = self.line.trim();
        if !l.is_empty() {
            let chars = l.chars().count();
            let link_dense = self.line_link * 2 > chars || (self.line_link > 0 && chars < 30 && self.line_link * 10 > chars * 3);
            if !link_dense && (chars >= 10 || self.line_heading || l.ends_with(['.', '!', '?', ':', '。'])) && self.seen.insert(l.to_string()) {
                self.lines.push(l.to_string());
            }
        }
        self.line.clear();
        self.line_link = 0;
        self.line_heading = false;
    }

    fn push_text(&mut self, s: &str) {
        let s = if self.line.is_empty() || self.line.ends_with(' ') { s.trim_start() } else { s };
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
        seen: HashSet::new(),
        line: String::new(),
        line_link: 0,
        line_heading: false,
        in_link: 0,
    };
    for &r in roots {
        e.emit(r);
    }
    e.flush();
    e.lines.join("\n")
}

/// Pick the content container (plus qualifying siblings) and return its text.
pub fn extract(doc: &Doc, opts: &Options) -> String {
    let (dead, weight) = mark_dead(doc, opts);
    let st = gather(doc, &dead, &weight);
    let n = doc.nodes.len();
    let mut best: Option<usize> = None;
    let mut best_score = f32::MIN;
    for i in 1..n {
        if dead[i] || st[i].score <= 0.0 {
            continue;
        }
        let f = final_score(&st[i]);
        if f > best_score {
            best_score = f;
            best = Some(i);
        }
    }
    let Some(top) = best else {
        return emit_nodes(doc, &dead, &[0]);
    };
    let parent = doc.nodes[top].parent as usize;
    let threshold = (best_score * 0.2).max(10.0);
    let mut roots = Vec::new();
    for it in &doc.nodes[parent].children {
        let Item::El(c) = *it else { continue };
        let c = c as usize;
        if dead[c] {
            continue;
        }
        let s = &st[c];
        let ld = if s.text == 0 { 1.0 } else { s.link as f32 / s.text as f32 };
        let keep = c == top
            || final_score(s) >= threshold
            || (doc.nodes[c].tag == tag::P && s.text > 80 && ld < 0.25);
        if keep {
            roots.push(c as u32);
        }
    }
    emit_nodes(doc, &dead, &roots)
}

#[cfg(test)]
mod tests {
    use super::super::dom::parse;
    use super::*;

    fn run(html: &str) -> String {
        extract(&parse(html, 512), &Options { use_hints: true })
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
        for bad in ["Home", "Politics", "cookies", "Share this", "Great article", "Copyright"] {
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
