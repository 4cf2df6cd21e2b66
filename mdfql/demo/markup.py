"""Page markup for crawl-sized samples: what makes a Common Crawl page tens of KB.

A real HTML page carries several times more markup than text: meta and preload tags, inline CSS
and JS, JSON-LD, mega-menus, inline SVG icons, footer link columns, tracking pixels. `Markup`
generates pools of such blocks once per seed and fills each page's byte budget with random picks,
so a 30 KB page costs a few hundred list lookups instead of thousands of template fills. Blocks
carry hashes, numbers and path coordinates, so a page compresses about as well as real markup
does (about 4-6x) rather than like one repeated line. Everything is ASCII, so a page can still be
encoded in any of the sample's charsets.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from mdfql.demo import text as T

# Where a page's markup budget goes (fractions of it): head (meta tags, <style>, <script>),
# header (menus, icons), footer (link columns, scripts, pixels).
_HEAD, _HEADER = 0.45, 0.25

_CSS_PROPS = (
    "margin", "padding", "color", "background-color", "border", "font-size", "line-height",
    "width", "max-width", "height", "display", "position", "top", "left", "z-index", "opacity",
    "transition", "box-shadow", "border-radius", "grid-template-columns", "gap", "flex",
)  # fmt: skip
_CSS_UNITS = ("px", "px", "px", "rem", "em", "%")
_CSS_SIZES = ("0", "1", "2", "4", "8", "10", "12", "14", "16", "20", "24", "32", "48", "64", "100",
              "1.5", "0.5", "320", "640", "1200")
_DISPLAY = ("block", "flex", "grid", "none", "inline-block", "inline-flex")
_PSEUDO = ("", "", "", ":hover", ":focus", "::before", "::after", ":first-child", " > a", " li")
_JS_METHODS = (
    "querySelector", "getAttribute", "push", "indexOf", "slice", "setTimeout", "concat",
    "addEventListener", "dispatchEvent", "appendChild", "removeChild", "toString", "replace",
)  # fmt: skip
_JS_EVENTS = ("click", "scroll", "load", "resize", "keydown", "mouseover", "submit", "touchstart")
_ASSETS = ("vendor", "main", "runtime", "polyfills", "analytics", "consent", "ads", "comments")
_ADNETS = ("adservice", "metrics", "pixel", "beacon", "stats", "tagmanager", "insights")
_SOCIAL = ("facebook", "twitter", "instagram", "youtube", "linkedin", "pinterest", "rss")


class Markup:
    """Block pools drawn from one seeded RNG; `fill` spends a page's markup budget."""

    def __init__(self, rng: random.Random, pool_size: int = 1200) -> None:
        self.rng = rng
        self.words = sorted(
            {w.lower() for w in T.SITE_WORDS}
            | {w.lower().replace(" ", "-") for w in T.BOILERPLATE_NAV}
            | set(T.TOPICS)
        )
        self.labels = list(T.BOILERPLATE_NAV) + [
            t.capitalize() for topic in T.TOPICS.values() for t in topic["thing"]
        ]

        def pool(make: Callable[[], str], n: int = pool_size) -> list[str]:
            return [make() for _ in range(n)]

        self.meta = pool(self._meta, pool_size // 4)
        self.css = pool(self._css)
        self.js = pool(self._js)
        self.nav = pool(self._nav)
        self.svg = pool(self._svg, pool_size // 8)
        self.foot = pool(self._foot)
        self.pixels = pool(self._pixel, pool_size // 8)

    # ---- block makers (run once per pool entry) --------------------------------------------
    def _pick(self, seq):
        return seq[int(self.rng.random() * len(seq))]

    def _hex(self, n: int) -> str:
        return f"{self.rng.getrandbits(4 * n):0{n}x}"

    def _ident(self) -> str:
        r = self.rng
        if r.random() < 0.5:  # minified names
            return "".join(self._pick("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_$")
                           for _ in range(r.randint(1, 3)))
        return self._pick(self.words).replace("-", "_") + self._pick(("", "Id", "El", "Fn", "2"))

    def _meta(self) -> str:
        r, w = self.rng, self._pick(self.words)
        kind = r.randrange(4)
        if kind == 0:
            asset = f"{self._pick(_ASSETS)}.{self._hex(8)}"
            return f'<link rel="preload" href="/static/js/{asset}.js" as="script">'
        if kind == 1:
            return f'<link rel="stylesheet" href="/static/css/{w}.{self._hex(8)}.css" media="all">'
        if kind == 2:
            return f'<meta property="og:{w}" content="{w}-{self._hex(6)}">'
        return f'<link rel="dns-prefetch" href="//{self._pick(_ADNETS)}.{w}-cdn.net">'

    def _css(self) -> str:
        r = self.rng
        decls = []
        for _ in range(r.randint(2, 6)):
            prop = self._pick(_CSS_PROPS)
            if prop == "display":
                value = self._pick(_DISPLAY)
            elif "color" in prop:
                value = f"#{self._hex(6)}"
            else:  # stylesheets reuse a handful of spacing values
                value = f"{self._pick(_CSS_SIZES)}{self._pick(_CSS_UNITS)}"
            decls.append(f"{prop}:{value}")
        selector = f".{self._pick(self.words)}-{self._pick(self.words)}{self._pick(_PSEUDO)}"
        return f"{selector}{{{';'.join(decls)}}}"

    def _js(self) -> str:
        r, a, b, c = self.rng, self._ident(), self._ident(), self._ident()
        kind = r.randrange(5)
        if kind == 0:
            return (f"function {a}({b},{c}){{var e={b}.{self._pick(_JS_METHODS)}({c});"
                    f"if(!e)return null;return e.{self._ident()}||{r.randint(0, 999)}}}")
        if kind == 1:
            return f'window.{a}=window.{a}||{{}};{a}.{b}="{self._pick(self.words)}";'
        if kind == 2:
            return (f'{a}.addEventListener("{self._pick(_JS_EVENTS)}",function(e){{'
                    f"{b}(e.target,{r.randint(0, 5000)})}},{{passive:!0}});")
        if kind == 3:
            nums = ",".join(str(r.randint(0, 999)) for _ in range(r.randint(3, 9)))
            return f"var {a}=[{nums}];"
        return f'"{a}_{self._pick(self.words)}":{{"id":"{self._hex(6)}","v":{r.randint(1, 40)}}},'

    def _nav(self) -> str:
        r, label = self.rng, self._pick(self.labels)
        slug = label.lower().replace(" ", "-")
        return (f'<li class="menu-item menu-item-{r.randint(100, 99999)}"><a href="/'
                f'{self._pick(self.words)}/{slug}/" data-track="nav_{self._hex(6)}">'
                f"{label}</a></li>")

    def _svg(self) -> str:
        r = self.rng
        path = "".join(
            f"{self._pick('MLCQl c')}{r.randint(0, 240) / 10:g} {r.randint(0, 240) / 10:g}"
            for _ in range(r.randint(6, 20))
        )
        return (f'<svg class="icon icon-{self._pick(_SOCIAL)}" viewBox="0 0 24 24" '
                f'aria-hidden="true"><path d="{path}z"/></svg>')

    def _foot(self) -> str:
        label, w = self._pick(self.labels), self._pick(self.words)
        return (f'<li><a href="https://{w}.{self._pick(T.TLDS)}/{label.lower().replace(" ", "-")}'
                f'?utm_source=footer&amp;utm_medium={w}&amp;utm_campaign={self._hex(6)}" '
                f'rel="nofollow">{label}</a></li>')

    def _pixel(self) -> str:
        return (f'<img src="https://{self._pick(_ADNETS)}.example.net/p?id={self._hex(16)}&amp;'
                f't={self.rng.randint(10**8, 10**9)}" width="1" height="1" alt="" '
                'style="display:none">')

    # ---- per page --------------------------------------------------------------------------
    def _take(self, pool: list[str], budget: int, sep: str = "") -> str:
        """Random blocks from `pool` until about `budget` bytes."""
        rnd, n, out, size = self.rng.random, len(pool), [], 0
        while size < budget:
            block = pool[int(rnd() * n)]
            out.append(block)
            size += len(block) + len(sep)
        return sep.join(out)

    def fill(self, doc: str, budget: int) -> str:
        """`doc` (a page from `_Writer.page`) with about `budget` more bytes of markup in its
        head, after its <body> tag and before its </body> tag."""
        if budget <= 0:
            return doc
        head_b, header_b = int(budget * _HEAD), int(budget * _HEADER)
        foot_b = budget - head_b - header_b
        head = (
            self._take(self.meta, head_b // 8, "\n")
            + "\n<style>"
            + self._take(self.css, head_b * 3 // 8)
            + "</style>\n<script>"
            + self._take(self.js, head_b // 2, ";")
            + "</script>\n"
        )
        header = (
            '<header class="site-header"><nav class="mega-menu"><ul>'
            + self._take(self.nav, header_b * 3 // 4)
            + '</ul></nav><div class="icons">'
            + self._take(self.svg, header_b // 4)
            + "</div></header>\n"
        )
        footer = (
            '<footer class="site-footer"><ul class="footer-links">'
            + self._take(self.foot, foot_b // 2)
            + "</ul></footer>\n<script>"
            + self._take(self.js, foot_b * 3 // 8, ";")
            + "</script>\n"
            + self._take(self.pixels, foot_b // 8)
            + "\n"
        )
        doc = doc.replace("</head>", head + "</head>", 1)
        doc = doc.replace("<body>", "<body>\n" + header, 1)
        at = doc.rfind("</body>")
        return doc[:at] + footer + doc[at:]
