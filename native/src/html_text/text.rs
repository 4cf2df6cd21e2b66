//! Character-level helpers: HTML entity decoding and whitespace collapsing.

/// Named entities decoded by `decode_into` (the common HTML4/Latin-1 set plus typographic ones).
const NAMED: &[(&str, &str)] = &[
    ("nbsp", "\u{a0}"),
    ("amp", "&"),
    ("lt", "<"),
    ("gt", ">"),
    ("quot", "\""),
    ("apos", "'"),
    ("copy", "©"),
    ("reg", "®"),
    ("trade", "™"),
    ("hellip", "…"),
    ("mdash", "—"),
    ("ndash", "–"),
    ("lsquo", "‘"),
    ("rsquo", "’"),
    ("sbquo", "‚"),
    ("ldquo", "“"),
    ("rdquo", "”"),
    ("bdquo", "„"),
    ("laquo", "«"),
    ("raquo", "»"),
    ("lsaquo", "‹"),
    ("rsaquo", "›"),
    ("bull", "•"),
    ("middot", "·"),
    ("deg", "°"),
    ("plusmn", "±"),
    ("times", "×"),
    ("divide", "÷"),
    ("euro", "€"),
    ("pound", "£"),
    ("yen", "¥"),
    ("cent", "¢"),
    ("curren", "¤"),
    ("sect", "§"),
    ("para", "¶"),
    ("iexcl", "¡"),
    ("iquest", "¿"),
    ("acute", "´"),
    ("cedil", "¸"),
    ("uml", "¨"),
    ("macr", "¯"),
    ("ordf", "ª"),
    ("ordm", "º"),
    ("sup1", "¹"),
    ("sup2", "²"),
    ("sup3", "³"),
    ("frac14", "¼"),
    ("frac12", "½"),
    ("frac34", "¾"),
    ("shy", "\u{ad}"),
    ("brvbar", "¦"),
    ("not", "¬"),
    ("micro", "µ"),
    ("Agrave", "À"),
    ("Aacute", "Á"),
    ("Acirc", "Â"),
    ("Atilde", "Ã"),
    ("Auml", "Ä"),
    ("Aring", "Å"),
    ("AElig", "Æ"),
    ("Ccedil", "Ç"),
    ("Egrave", "È"),
    ("Eacute", "É"),
    ("Ecirc", "Ê"),
    ("Euml", "Ë"),
    ("Igrave", "Ì"),
    ("Iacute", "Í"),
    ("Icirc", "Î"),
    ("Iuml", "Ï"),
    ("ETH", "Ð"),
    ("Ntilde", "Ñ"),
    ("Ograve", "Ò"),
    ("Oacute", "Ó"),
    ("Ocirc", "Ô"),
    ("Otilde", "Õ"),
    ("Ouml", "Ö"),
    ("Oslash", "Ø"),
    ("Ugrave", "Ù"),
    ("Uacute", "Ú"),
    ("Ucirc", "Û"),
    ("Uuml", "Ü"),
    ("Yacute", "Ý"),
    ("THORN", "Þ"),
    ("szlig", "ß"),
    ("agrave", "à"),
    ("aacute", "á"),
    ("acirc", "â"),
    ("atilde", "ã"),
    ("auml", "ä"),
    ("aring", "å"),
    ("aelig", "æ"),
    ("ccedil", "ç"),
    ("egrave", "è"),
    ("eacute", "é"),
    ("ecirc", "ê"),
    ("euml", "ë"),
    ("igrave", "ì"),
    ("iacute", "í"),
    ("icirc", "î"),
    ("iuml", "ï"),
    ("eth", "ð"),
    ("ntilde", "ñ"),
    ("ograve", "ò"),
    ("oacute", "ó"),
    ("ocirc", "ô"),
    ("otilde", "õ"),
    ("ouml", "ö"),
    ("oslash", "ø"),
    ("ugrave", "ù"),
    ("uacute", "ú"),
    ("ucirc", "û"),
    ("uuml", "ü"),
    ("yacute", "ý"),
    ("thorn", "þ"),
    ("yuml", "ÿ"),
    ("OElig", "Œ"),
    ("oelig", "œ"),
    ("Scaron", "Š"),
    ("scaron", "š"),
    ("Yuml", "Ÿ"),
    ("fnof", "ƒ"),
    ("circ", "ˆ"),
    ("tilde", "˜"),
    ("dagger", "†"),
    ("Dagger", "‡"),
    ("permil", "‰"),
    ("prime", "′"),
    ("Prime", "″"),
    ("oline", "‾"),
    ("frasl", "⁄"),
    ("larr", "←"),
    ("uarr", "↑"),
    ("rarr", "→"),
    ("darr", "↓"),
    ("harr", "↔"),
    ("hearts", "♥"),
    ("spades", "♠"),
    ("clubs", "♣"),
    ("diams", "♦"),
    ("ensp", "\u{2002}"),
    ("emsp", "\u{2003}"),
    ("thinsp", "\u{2009}"),
    ("zwnj", "\u{200c}"),
    ("zwj", "\u{200d}"),
    ("lrm", "\u{200e}"),
    ("rlm", "\u{200f}"),
    ("alpha", "α"),
    ("beta", "β"),
    ("gamma", "γ"),
    ("delta", "δ"),
    ("epsilon", "ε"),
    ("lambda", "λ"),
    ("mu", "μ"),
    ("pi", "π"),
    ("sigma", "σ"),
    ("omega", "ω"),
    ("Delta", "Δ"),
    ("Omega", "Ω"),
    ("infin", "∞"),
    ("ne", "≠"),
    ("le", "≤"),
    ("ge", "≥"),
    ("minus", "−"),
    ("asymp", "≈"),
    ("check", "✓"),
    ("star", "☆"),
    ("starf", "★"),
];

/// Entities that HTML5 also decodes without a trailing semicolon (legacy form).
const LEGACY: &[&str] = &["amp", "lt", "gt", "quot", "nbsp", "copy", "reg"];

/// Windows-1252 meaning of numeric references in 0x80..=0x9F, as HTML5 specifies.
const C1: [u32; 32] = [
    0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039,
    0x0152, 0x8D, 0x017D, 0x8F, 0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D, 0x017E, 0x0178,
];

fn lookup(name: &str) -> Option<&'static str> {
    NAMED.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

/// Decode the character reference starting at `s[0] == '&'`; returns (decoded, bytes consumed).
fn decode_ref(s: &str) -> Option<(char, Option<&'static str>, usize)> {
    let b = s.as_bytes();
    if b.len() > 2 && b[1] == b'#' {
        let (hex, start) = if b.len() > 3 && (b[2] == b'x' || b[2] == b'X') {
            (true, 3)
        } else {
            (false, 2)
        };
        let mut end = start;
        while end < b.len()
            && end - start < 8
            && (if hex {
                b[end].is_ascii_hexdigit()
            } else {
                b[end].is_ascii_digit()
            })
        {
            end += 1;
        }
        if end == start {
            return None;
        }
        let v = u32::from_str_radix(&s[start..end], if hex { 16 } else { 10 }).unwrap_or(0xFFFD);
        let v = match v {
            0x80..=0x9F => C1[(v - 0x80) as usize],
            0 => 0xFFFD,
            _ => v,
        };
        let c = char::from_u32(v).unwrap_or('\u{FFFD}');
        let used = if end < b.len() && b[end] == b';' {
            end + 1
        } else {
            end
        };
        return Some((c, None, used));
    }
    let mut end = 1;
    while end < b.len() && end <= 33 && b[end].is_ascii_alphanumeric() {
        end += 1;
    }
    if end == 1 {
        return None;
    }
    let name = &s[1..end];
    if end < b.len() && b[end] == b';' {
        if let Some(v) = lookup(name) {
            return Some(('\0', Some(v), end + 1));
        }
    }
    // Legacy references: the longest known prefix, no semicolon needed.
    for l in LEGACY {
        if name.starts_with(l) {
            return Some(('\0', lookup(l), 1 + l.len()));
        }
    }
    None
}

#[inline]
fn is_space_char(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0c' | '\u{a0}')
}

/// Append `raw` (HTML text) to `out`, decoding entities and collapsing every whitespace run
/// (including no-break spaces) to one ASCII space. Leading whitespace of `raw` is dropped (callers
/// that need it as a separator add it themselves); trailing whitespace becomes one space.
pub fn decode_into(raw: &str, out: &mut String) {
    let base = out.len();
    let mut pending_space = false;
    let push = |out: &mut String, pending: &mut bool, s: &str| {
        for c in s.chars() {
            if is_space_char(c) {
                *pending = true;
            } else {
                if *pending {
                    if out.len() > base && !out.ends_with(' ') {
                        out.push(' ');
                    }
                    *pending = false;
                }
                out.push(c);
            }
        }
    };
    let mut rest = raw;
    while let Some(pos) = memchr::memchr(b'&', rest.as_bytes()) {
        push(out, &mut pending_space, &rest[..pos]);
        let tail = &rest[pos..];
        match decode_ref(tail) {
            Some((c, s, used)) => {
                match s {
                    Some(s) => push(out, &mut pending_space, s),
                    None => {
                        let mut buf = [0u8; 4];
                        push(out, &mut pending_space, c.encode_utf8(&mut buf));
                    }
                }
                rest = &tail[used..];
            }
            None => {
                push(out, &mut pending_space, "&");
                rest = &tail[1..];
            }
        }
    }
    push(out, &mut pending_space, rest);
    if pending_space && out.len() > base && !out.ends_with(' ') {
        out.push(' ');
    }
}

/// Decode entities and collapse whitespace of a standalone string; result is trimmed.
pub fn clean(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    decode_into(raw, &mut out);
    let t = out.trim_end().len();
    out.truncate(t);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_and_numeric_entities() {
        assert_eq!(
            clean("a &amp; b &lt;c&gt; &quot;q&quot;"),
            "a & b <c> \"q\""
        );
        assert_eq!(clean("&eacute;t&eacute; &euro;5 &mdash; x"), "été €5 — x");
        assert_eq!(clean("&#65;&#x42;&#X43;&#150;"), "ABC–");
        assert_eq!(clean("&#0;&#xFFFFFFFF;"), "\u{FFFD}\u{FFFD}");
    }

    #[test]
    fn unknown_and_legacy_entities() {
        assert_eq!(clean("AT&T &bogus; & x"), "AT&T &bogus; & x");
        assert_eq!(clean("&ampfoo &copy 2020"), "&foo © 2020");
        assert_eq!(clean("&"), "&");
        assert_eq!(clean("&#"), "&#");
    }

    #[test]
    fn whitespace_collapses() {
        assert_eq!(clean("  a \n\t b&nbsp;&nbsp;c\u{a0} "), "a b c");
        let mut s = String::from("x ");
        decode_into("  y", &mut s);
        assert_eq!(s, "x y");
        let mut e = String::new();
        decode_into("   ", &mut e);
        assert_eq!(e, "");
    }
}
