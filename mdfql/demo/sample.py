"""A deterministic synthetic web crawl that exercises every RefinedWeb/FineWeb step.

`write_sample` writes a gzipped WARC (one gzip member per record, like Common Crawl) whose
response records cover the categories in `SAMPLE_CATEGORIES`. Pages are generated from sentence
templates and topic vocabularies (`mdfql.demo.text`), so they read like real articles while
every page differs. Output is byte-identical for a given `(n_records, seed, page_kb, level)` and
file name (the warcinfo record names it): dates derive from the seed, record ids are uuid5 of
their position.

The small sample (no `page_kb`) builds every page, then shuffles them. A crawl-sized sample
(`page_kb`, e.g. 30 like Common Crawl) shuffles the category sequence instead and streams pages
to the file one at a time, padded with markup (`mdfql.demo.markup`) to log-normal sizes, so
memory does not grow with the number of records.
"""

from __future__ import annotations

import gzip
import html
import io
import random
import string
import unicodedata
import uuid
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import BinaryIO

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from mdfql.demo import text as T
from mdfql.demo.markup import Markup
from mdfql.demo.url_plants import url_plants

# Category -> (share of response records, what it exercises). "clean" takes the remainder.
SAMPLE_CATEGORIES: dict[str, tuple[float, str]] = {
    "clean": (0.55, "well-formed English articles with light page chrome; should survive"),
    "boilerplate": (0.06, "a real article inside nav, cookie banner, sidebar, comments, footer"),
    "spam_url": (0.03, "URLs with real banned strict/hard/soft words (datatrove's lists)"),
    "blocklisted": (0.03, "real UT1 blocklist domains (or subdomains) and URLs"),
    "quality_source": (0.03, "curated sources RefinedWeb excludes (en.wikipedia.org, ...)"),
    "repetitive": (0.03, "pages dominated by the same few lines repeated (Gopher repetition)"),
    "list_like": (0.03, "product/link lists of short unpunctuated lines (FineWeb line rules)"),
    "non_english": (0.05, "French, German, Spanish, Italian, Portuguese, Dutch articles"),
    "short": (0.03, "pages with a sentence or two (too few words)"),
    "exact_duplicate": (0.03, "byte-identical copies of clean pages under other URLs"),
    "near_duplicate": (0.03, "clean articles with a few words changed (MinHash dedup)"),
    "charset": (0.03, "windows-1252, ISO-8859-1, Shift_JIS, charset declared or not"),
    "non_html": (0.02, "text/plain, application/pdf and image/jpeg payloads"),
    "non_200": (0.02, "404 Not Found and 301 redirects"),
    "malformed": (0.0, "garbage HTTP headers; last record's Content-Length exceeds the file"),
}

# Share of responses preceded by their request record (Common Crawl keeps all; a quarter is
# enough to exercise readers that skip them, at a quarter of the cost).
REQUEST_SHARE = 0.25

# Fixed-size categories: 2 responses with garbage HTTP headers, 1 truncated record at the end.
N_GARBAGE_HEADERS = 2


# Crawl-sized page sizes: log-normal, median exp(_LOG_MEDIAN) * page_kb; with sigma 0.5 the
# mean is exp(sigma^2 / 2) = 1.13x the median, so the mean lands on page_kb.
_LOG_SIGMA = 0.5
_LOG_MEDIAN = -(_LOG_SIGMA**2) / 2
# Clean pages a crawl-sized sample keeps for its duplicates to copy.
CLEAN_POOL = 128

_FIELDS: dict[str, list[str]] = {}
# Slot name -> value, from (pick, random, topic).
_SLOTS = {
    "role": lambda p, r, t: p(t["role"]),
    "Name": lambda p, r, t: f"{p(T.FIRST_NAMES)} {p(T.LAST_NAMES)}",
    "place": lambda p, r, t: p(T.PLACES),
    "num": lambda p, r, t: str(12 + int(r() * 929)),
    "year": lambda p, r, t: str(1985 + int(r() * 38)),
    "decade": lambda p, r, t: str(1960 + 10 * int(r() * 6)),
    "month": lambda p, r, t: p(T.MONTHS),
    "weekday": lambda p, r, t: p(T.WEEKDAYS),
    "season": lambda p, r, t: p(T.SEASONS),
    "adj": lambda p, r, t: p(T.ADJECTIVES),
    "pct": lambda p, r, t: str(3 + int(r() * 26)),
    "small": lambda p, r, t: p(("two", "three", "four", "five")),
    "month_count": lambda p, r, t: p(("two", "three", "six")),
}


@dataclass
class SampleStats:
    """What `write_sample` wrote: response counts and target URLs per category."""

    path: Path
    counts: dict[str, int]
    urls: dict[str, list[str]] = field(repr=False)
    warcinfo_records: int
    request_records: int
    n_bytes: int

    @property
    def response_records(self) -> int:
        return sum(self.counts.values())

    @property
    def total_records(self) -> int:
        return self.warcinfo_records + self.request_records + self.response_records


@dataclass
class _Page:
    category: str
    url: str
    body: bytes
    status: str = "200 OK"
    content_type: str = "text/html; charset=utf-8"
    extra_headers: tuple[tuple[str, str], ...] = ()


class _Writer:
    """Text and HTML generation from one seeded RNG (all randomness flows through it).

    With `page_kb` set (a crawl-sized sample) pages are padded with realistic markup to about
    that many KiB each, articles vary more in length, and URLs are made unique by a serial
    number instead of a set of every URL so far (memory must not grow with the file).
    """

    def __init__(self, seed: int, page_kb: float | None = None) -> None:
        self.rng = random.Random(seed)
        self.used_urls: set[str] = set()
        self.topics = list(T.TOPICS)
        self.page_kb = page_kb
        self.markup = Markup(self.rng) if page_kb else None
        self.serial = 0

    # ---- text ------------------------------------------------------------------------------
    def pick(self, seq):
        # random.choice is the generation bottleneck (hundreds of thousands of calls); indexing
        # by random() is several times faster and just as deterministic.
        return seq[int(self.rng.random() * len(seq))]

    def _name(self) -> str:
        return f"{self.pick(T.FIRST_NAMES)} {self.pick(T.LAST_NAMES)}"

    def _fill(self, template: str, topic: dict[str, tuple[str, ...]]) -> str:
        """Fill only the slots `template` uses (parsed once per template)."""
        fields = _FIELDS.get(template)
        if fields is None:
            fields = _FIELDS[template] = sorted(
                {f for _, f, _, _ in string.Formatter().parse(template) if f}
            )
        p, rnd = self.pick, self.rng.random
        values: dict[str, str] = {}
        for name in fields:
            if name == "thing2":
                continue
            if name == "thing":
                values["thing"] = p(topic["thing"])
            else:
                values[name] = _SLOTS[name](p, rnd, topic)
        if "thing2" in fields:
            values["thing2"] = p([t for t in topic["thing"] if t != values.get("thing")])
        return template.format(**values)

    def article(self, topic_name: str | None = None) -> tuple[str, list[str]]:
        """A title and 4-7 paragraphs (roughly 300-600 words) on one topic."""
        r = self.rng
        name = topic_name or r.choice(self.topics)
        topic = T.TOPICS[name]
        n_par = r.randint(4, 7) if self.markup is None else r.randint(3, 11)
        templates = r.sample(T.TEMPLATES, min(len(T.TEMPLATES), n_par * 5))
        facts = list(topic["facts"])
        r.shuffle(facts)
        paragraphs = []
        for p in range(n_par):
            sentences = [self._fill(t, topic) for t in templates[p * 5 : p * 5 + r.randint(3, 5)]]
            if facts and r.random() < 0.6:
                sentences.insert(r.randrange(len(sentences) + 1), facts.pop())
            paragraphs.append(" ".join(sentences))
        title = self._fill(r.choice(topic["title"]), topic)
        return title[0].upper() + title[1:], paragraphs

    def foreign_article(self, lang: str) -> tuple[str, list[str]]:
        pool = list(T.FOREIGN[lang])
        self.rng.shuffle(pool)
        k = len(pool) // 3
        return pool[0].rstrip("."), [
            " ".join(pool[:k]),
            " ".join(pool[k : 2 * k]),
            " ".join(pool[2 * k :]),
        ]

    # ---- urls ------------------------------------------------------------------------------
    def host(self) -> str:
        r = self.rng
        a, b = r.sample(T.SITE_WORDS, 2)
        sub = r.choice(("www.", "www.", "", "blog.", "news."))
        return f"{sub}{r.choice(T.PLACES).lower()}{a}{b}.{r.choice(T.TLDS)}"

    def unique(self, url: str, planted: bool = False) -> str:
        """`url`, made unique; a `planted` URL (one the URL filter must match verbatim) is
        already unique and kept as it is in a crawl-sized sample."""
        if self.markup is not None:
            if planted:
                return url
            # Digits only: they cannot form a banned word or change the filter's verdict.
            self.serial += 1
            if url.endswith("/"):
                return f"{url[:-1]}-{self.serial}/"
            return f"{url}-{self.serial}"
        base, i = url, 1
        while url in self.used_urls:
            i += 1
            url = f"{base}-{i}" if not base.endswith("/") else f"{base}{i}"
        self.used_urls.add(url)
        return url

    def slug(self, title: str) -> str:
        # Sites transliterate accents in slugs (école -> ecole): URLs stay ASCII.
        ascii_title = unicodedata.normalize("NFKD", title.lower()).encode("ascii", "ignore")
        words = "".join(c if c.isalnum() else " " for c in ascii_title.decode()).split()
        return "-".join(words[:8])

    def article_url(self, title: str, host: str | None = None) -> str:
        r = self.rng
        path = r.choice(("/{y}/{m:02d}/{s}/", "/articles/{s}", "/news/{s}-{n}", "/blog/{s}.html"))
        path = path.format(
            y=r.randint(2015, 2024),
            m=r.randint(1, 12),
            s=self.slug(title),
            n=r.randint(10000, 99999),
        )
        return self.unique(f"{r.choice(('https', 'http'))}://{host or self.host()}{path}")

    # ---- html ------------------------------------------------------------------------------
    def page(
        self,
        title: str,
        paragraphs: list[str],
        lang: str = "en",
        head: str = "",
        before: str = "",
        after: str = "",
        charset: str | None = "utf-8",
    ) -> str:
        meta = f'<meta charset="{charset}">' if charset else ""
        body = "\n".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
        return self.inflate(
            f'<!DOCTYPE html>\n<html lang="{lang}"><head>{meta}<title>{html.escape(title)}</title>'
            f"{head}</head>\n<body>\n{before}<main><article><h1>{html.escape(title)}</h1>\n"
            f"{body}\n</article></main>\n{after}</body></html>\n"
        )

    def inflate(self, doc: str) -> str:
        """`doc` padded with page markup to this page's drawn size (crawl-sized samples only).

        Sizes are log-normal around `page_kb` (mean about `page_kb`, clipped to 1/4-4x), as
        real page sizes are skewed: many mid-sized pages, a tail of heavy ones."""
        if self.markup is None:
            return doc
        kb = self.page_kb
        size = min(4 * kb, max(kb / 4, self.rng.lognormvariate(_LOG_MEDIAN, _LOG_SIGMA) * kb))
        return self.markup.fill(doc, int(size * 1024) - len(doc))

    def chrome(self, site: str) -> tuple[str, str]:
        """A light header and footer, as on most real article pages."""
        return (
            f'<header><a href="/">{html.escape(site)}</a></header>\n',
            f"<footer><p>&copy; {self.rng.randint(2015, 2024)} {html.escape(site)}</p></footer>\n",
        )

    def boilerplate(self, site: str) -> tuple[str, str]:
        r = self.rng
        nav = "".join(
            f'<li><a href="/{x.lower().replace(" ", "-")}">{x}</a></li>' for x in T.BOILERPLATE_NAV
        )
        cookie = (
            '<div class="cookie-banner">We use cookies to improve your experience. By '
            "continuing to browse this site you agree to our use of cookies. "
            '<button>Accept all</button> <a href="/privacy">Manage preferences</a></div>'
        )
        side = "".join(
            f'<li><a href="/p/{i}">{html.escape(x)}</a></li>'
            for i, x in enumerate(r.sample(T.SIDEBAR, 4))
        )
        comments = "".join(
            f'<div class="comment"><b>{self._name()}</b> <span>{r.randint(1, 23)} hours ago'
            f"</span><p>{html.escape(c)}</p><a>Reply</a> <span>{r.randint(0, 40)} likes</span>"
            "</div>"
            for c in r.sample(T.COMMENTS, r.randint(3, 5))
        )
        before = (
            f"{cookie}\n<header><h2>{html.escape(site)}</h2><nav><ul>{nav}</ul></nav>"
            '<form><input placeholder="Search"></form><a href="/login">Sign in</a>'
            f"</header>\n<aside><h3>Trending</h3><ul>{side}</ul></aside>\n"
        )
        after = (
            f'<section class="comments"><h3>Comments</h3>{comments}</section>\n'
            "<aside><h3>Related articles</h3><ul>"
            + "".join(f"<li><a>{html.escape(x)}</a></li>" for x in r.sample(T.SIDEBAR, 3))
            + "</ul></aside>\n<footer><ul><li><a>About us</a></li><li><a>Privacy policy"
            "</a></li><li><a>Terms of use</a></li><li><a>Advertise</a></li></ul>"
            "<p>Sign up for our newsletter</p><p>Follow us on Facebook, Twitter and "
            f"Instagram</p><p>&copy; {r.randint(2015, 2024)} {html.escape(site)}. All "
            "rights reserved.</p></footer>\n"
        )
        return before, after


def _counts(n_records: int) -> dict[str, int]:
    counts = {
        c: max(1, int(share * n_records))
        for c, (share, _) in SAMPLE_CATEGORIES.items()
        if c not in ("clean", "malformed")
    }
    counts["malformed"] = N_GARBAGE_HEADERS + 1
    counts["clean"] = n_records - sum(counts.values())
    if counts["clean"] < max(counts["exact_duplicate"], counts["near_duplicate"]):
        raise ValueError(f"n_records={n_records} is too small for every sample category")
    return counts


def _pdf(text: str) -> bytes:
    """A minimal one-page PDF showing `text` (valid xref offsets, so readers accept it)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for i, obj in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (i, obj)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


def _jpeg(rng: random.Random) -> bytes:
    """A small real JPEG (a colour gradient), encoded by Pillow."""
    from PIL import Image

    c = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
    img = Image.new("RGB", (32, 24))
    img.putdata(
        [((c[0] + x * 8) % 256, (c[1] + y * 10) % 256, c[2]) for y in range(24) for x in range(32)]
    )
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=80)
    return buf.getvalue()


class _PageMaker:
    """One page of a given category per call; `clean_pool` caps the clean pages kept for the
    duplicate categories to copy (None keeps all of them, as the small sample does)."""

    def __init__(self, w: _Writer, clean_pool: int | None = None) -> None:
        self.w = w
        self.cap = clean_pool
        self.clean_articles: list[tuple[str, list[str], str]] = []
        self.n_clean = 0
        self.plants = url_plants()

    def make(self, cat: str, i: int) -> _Page:
        """The `i`-th page of category `cat` (every category but "malformed")."""
        return getattr(self, f"_{cat}")(i)

    def _keep_clean(self, article: tuple[str, list[str], str]) -> None:
        # A reservoir sample when capped: duplicates copy pages from anywhere earlier in the
        # file, not only recent ones, so dedup has to look across batches.
        self.n_clean += 1
        if self.cap is None or len(self.clean_articles) < self.cap:
            self.clean_articles.append(article)
        else:
            j = self.w.rng.randrange(self.n_clean)
            if j < self.cap:
                self.clean_articles[j] = article

    def _clean(self, i: int) -> _Page:
        w = self.w
        title, paras = w.article()
        url = w.article_url(title)
        site = url.split("/")[2]
        before, after = w.chrome(site)
        doc = w.page(title, paras, before=before, after=after)
        self._keep_clean((title, paras, doc))
        return _Page("clean", url, doc.encode())

    def _boilerplate(self, i: int) -> _Page:
        w = self.w
        title, paras = w.article()
        url = w.article_url(title)
        before, after = w.boilerplate(url.split("/")[2])
        return _Page("boilerplate", url, w.page(title, paras, before=before, after=after).encode())

    def _spam_url(self, i: int) -> _Page:
        w, r = self.w, self.w.rng
        kind = i % 3
        if kind == 0:
            path = f"/{r.choice(self.plants.hard)}-videos-{r.randint(100, 9999)}.html"
        elif kind == 1:
            path = f"/watch/{r.choice(self.plants.strict)}clips{r.randint(100, 9999)}"
        else:
            a, b = r.sample(self.plants.soft, 2)
            path = f"/{a}-{b}-{r.choice(('tonight', 'online', 'now', 'club'))}/"
        host = f"www.{r.choice(T.SITE_WORDS)}{r.choice(T.SITE_WORDS)}{r.randint(1, 99)}.example"
        title, paras = w.article()
        return _Page(
            "spam_url", w.unique(f"http://{host}{path}"), w.page(title, paras[:2]).encode()
        )

    def _blocklisted(self, i: int) -> _Page:
        w, r = self.w, self.w.rng
        urls = self.plants.urls
        if i % 3 == 2 and i // 3 < len(urls):  # every third page a URL of the URL list, once each
            url = w.unique(f"http://{urls[i // 3]}", planted=True)
        else:
            sub = r.choice(("", "www.", "m.", "cdn.files.", "promo."))
            domain = r.choice(self.plants.domains)
            url = w.unique(f"https://{sub}{domain}/page/{r.randint(1, 500)}")
        title, paras = w.article()
        return _Page("blocklisted", url, w.page(title, paras[:3]).encode())

    def _quality_source(self, i: int) -> _Page:
        w, r = self.w, self.w.rng
        title, paras = w.article()
        slug = w.slug(title)
        n = r.randint(1000, 99999999)
        url = r.choice(
            (
                f"https://en.wikipedia.org/wiki/{slug.replace('-', '_').capitalize()}",
                f"https://stackoverflow.com/questions/{n}/{slug}",
                f"https://github.com/{r.choice(T.LAST_NAMES).lower()}/{slug[:20]}",
                f"https://arxiv.org/abs/{r.randint(1001, 2412)}.{r.randint(10000, 99999)}",
                f"https://www.reddit.com/r/{r.choice(w.topics)}/comments/{n:x}/{slug}/",
                f"https://math.stackexchange.com/questions/{n}",
                f"https://www.ncbi.nlm.nih.gov/pmc/articles/PMC{n}/",
            )
        )
        return _Page("quality_source", w.unique(url), w.page(title, paras).encode())

    def _repetitive(self, i: int) -> _Page:
        w, r = self.w, self.w.rng
        title, paras = w.article()
        lines = list(T.REPEATED_LINES) * r.randint(15, 25)
        doc = w.page(title, paras[:1] + lines + paras[1:2])
        return _Page("repetitive", w.article_url(title), doc.encode())

    def _list_like(self, i: int) -> _Page:
        w, r = self.w, self.w.rng
        items = [
            f"{x} - {r.randint(2, 60)}.{r.randint(0, 99):02d} USD"
            for x in r.choices(T.LIST_ITEMS, k=r.randint(40, 80))
        ]
        body = "<ul>\n" + "\n".join(f"<li>{html.escape(x)}</li>" for x in items) + "\n</ul>\n"
        title = "Kitchen and home: all products"
        doc = (
            f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}'
            f"</title></head>\n<body><h1>{title}</h1>\n{body}</body></html>\n"
        )
        host = f"shop.{r.choice(T.PLACES).lower()}{r.choice(T.SITE_WORDS)}.com"
        url = w.unique(f"https://{host}/category/{r.randint(1, 999)}")
        return _Page("list_like", url, w.inflate(doc).encode())

    def _non_english(self, i: int) -> _Page:
        w, r = self.w, self.w.rng
        langs = list(T.FOREIGN)
        lang = langs[i % len(langs)]
        title, paras = w.foreign_article(lang)
        host = f"www.{r.choice(T.PLACES).lower()}-{r.choice(T.SITE_WORDS)}.{lang}"
        url = w.unique(f"https://{host}/{w.slug(title)}-{r.randint(1000, 99999)}")
        return _Page("non_english", url, w.page(title, paras, lang=lang).encode())

    def _short(self, i: int) -> _Page:
        w, r = self.w, self.w.rng
        text = r.choice(T.SHORT_PAGES)
        url = w.unique(f"https://{w.host()}/{r.choice(('index', 'home', 'start', 'p'))}")
        return _Page("short", url, w.page(text.rstrip("."), [text]).encode())

    def _exact_duplicate(self, i: int) -> _Page:
        w = self.w
        title, _, doc = w.rng.choice(self.clean_articles)
        return _Page("exact_duplicate", w.article_url(title), doc.encode())

    def _near_duplicate(self, i: int) -> _Page:
        w, r = self.w, self.w.rng
        title, paras, _ = r.choice(self.clean_articles)
        words = [p.split(" ") for p in paras]
        for _ in range(3):
            para = r.choice(words)
            para[r.randrange(len(para))] = r.choice(("really", "often", "still", "quite", "now"))
        doc = w.page(title, [" ".join(p) for p in words])
        return _Page("near_duplicate", w.article_url(title), doc.encode())

    def _charset(self, i: int) -> _Page:
        w, r = self.w, self.w.rng
        enc, pool = _ENCODINGS[i % 3]
        declared = (i // 3) % 3  # 0: HTTP header, 1: <meta> only, 2: undeclared
        sentences = r.sample(pool, len(pool))
        title = sentences[0]
        doc = w.page(
            title,
            [" ".join(sentences[:3]), " ".join(sentences[3:])],
            lang="ja" if enc == "shift_jis" else "en",
            charset=enc if declared == 1 else None,
        )
        ctype = f"text/html; charset={enc}" if declared == 0 else "text/html"
        url = w.article_url("charset " + enc)
        return _Page("charset", url, doc.encode(enc), content_type=ctype)

    def _non_html(self, i: int) -> _Page:
        w, r = self.w, self.w.rng
        kind = i % 3
        title, paras = w.article()
        if kind == 0:
            body = ("\n\n".join([title, *paras]) + "\n").encode()
            ctype, ext = "text/plain; charset=utf-8", "txt"
        elif kind == 1:
            body, ctype, ext = _pdf(title), "application/pdf", "pdf"
        else:
            body, ctype, ext = _jpeg(r), "image/jpeg", "jpg"
        url = w.unique(f"https://{w.host()}/files/{w.slug(title)}.{ext}")
        return _Page("non_html", url, body, content_type=ctype)

    def _non_200(self, i: int) -> _Page:
        w, r = self.w, self.w.rng
        url = w.unique(f"https://{w.host()}/{r.choice(('old', 'archive', 'page'))}/{i}")
        if i % 2 == 0:
            doc = w.page("404 Not Found", ["The page you requested could not be found."])
            return _Page("non_200", url, doc.encode(), status="404 Not Found")
        target = url.replace("/old/", "/new/").replace("/archive/", "/new/")
        doc = w.page("Moved Permanently", ["This page has moved."])
        return _Page(
            "non_200",
            url,
            doc.encode(),
            status="301 Moved Permanently",
            extra_headers=(("Location", target),),
        )


_ENCODINGS = (
    ("windows-1252", T.CP1252_SENTENCES),
    ("iso-8859-1", T.LATIN1_SENTENCES),
    ("shift_jis", T.JAPANESE),
)
# Categories in generation order (the small sample generates each in turn, then shuffles).
_GENERATED = [c for c in SAMPLE_CATEGORIES if c != "malformed"]


def _make_pages(counts: dict[str, int], w: _Writer) -> list[_Page]:
    """Every page of the small sample, category by category (then shuffled by the caller)."""
    maker = _PageMaker(w)
    return [maker.make(c, i) for c in _GENERATED for i in range(counts[c])]


def _crawl_pages(counts: dict[str, int], w: _Writer, n_clean_pool: int) -> Iterator[_Page]:
    """The pages of a crawl-sized sample in file order, generated one at a time: only the
    shuffled category sequence (a byte per page) and `n_clean_pool` clean pages are held."""
    order = bytearray(k for k, c in enumerate(_GENERATED) for _ in range(counts[c]))
    w.rng.shuffle(order)
    # A duplicate needs a clean page before it: move the first clean page to the front.
    first = order.index(_GENERATED.index("clean"))
    order[0], order[first] = order[first], order[0]
    maker = _PageMaker(w, clean_pool=n_clean_pool)
    seen = dict.fromkeys(_GENERATED, 0)
    for k in order:
        cat = _GENERATED[k]
        yield maker.make(cat, seen[cat])
        seen[cat] += 1


class _GzipMembers:
    """The file-like `out` of a non-gzip `WARCWriter` that compresses each record into its own
    gzip member (warcio flushes after every record), at a chosen zlib level. At warcio's own
    level (9) its output is byte-identical to `WARCWriter(f, gzip=True)`."""

    def __init__(self, f: BinaryIO, level: int) -> None:
        self.f, self.level = f, level
        self.z = self._new()

    def _new(self):
        return zlib.compressobj(self.level, zlib.DEFLATED, zlib.MAX_WBITS + 16)

    def write(self, buf: bytes) -> None:
        self.f.write(self.z.compress(buf))

    def flush(self) -> None:
        self.f.write(self.z.flush())
        self.z = self._new()


def write_sample(
    path: str | Path,
    n_records: int = 2000,
    seed: int = 0,
    *,
    page_kb: float | None = None,
    level: int | None = None,
    keep_urls: bool = True,
) -> SampleStats:
    """Write `n_records` response records, a warcinfo record and request records for about
    `REQUEST_SHARE` of the responses as a gzipped WARC at `path`; byte-identical for the same
    arguments. Raises ValueError when `n_records` is too small to hold every category.

    The last record is deliberately truncated (its Content-Length runs past the end of the file),
    and `N_GARBAGE_HEADERS` responses carry an unparseable HTTP header block.

    `page_kb` makes a crawl-sized sample: HTML pages average that many KiB (markup around
    articles of varied length, as on Common Crawl pages), the same category shares, and pages
    streamed to the file one at a time, so memory stays flat however many records are asked
    for. Without it, all pages are generated first (the small bundled sample, whose bytes tests
    pin). `level` is the zlib level of each record's gzip member (default: warcio's 9 for the
    small sample, 6 for a crawl-sized one); `keep_urls=False` leaves `SampleStats.urls` empty.
    """
    path = Path(path)
    counts = _counts(n_records)
    w = _Writer(seed, page_kb)
    pages: Iterable[_Page]
    if page_kb is None:
        small = _make_pages(counts, w)
        w.rng.shuffle(small)
        pages = small
    else:
        pages = _crawl_pages(counts, w, CLEAN_POOL)
    n_pages = sum(counts[c] for c in _GENERATED)
    base = datetime(2024, 1, 1, tzinfo=timezone.utc) + timedelta(days=seed % 3650)
    seq = iter(range(10**9))

    def ids() -> tuple[str, str]:
        i = next(seq)
        date = (base + timedelta(seconds=7 * i)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'mdfql-sample/{seed}/{i}')}>", date

    # Garbage-header records go at seeded positions among the pages; the truncated one goes last.
    garbage_at = set(w.rng.sample(range(n_pages), N_GARBAGE_HEADERS))
    urls: dict[str, list[str]] = {c: [] for c in SAMPLE_CATEGORIES}
    written = dict.fromkeys(SAMPLE_CATEGORIES, 0)

    def wrote(category: str, url: str) -> None:
        written[category] += 1
        if keep_urls:
            urls[category].append(url)

    requests = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        writer = WARCWriter(_GzipMembers(f, level or (9 if page_kb is None else 6)), gzip=False)
        rid, date = ids()
        info = (
            f"software: mdfql.sample\nformat: WARC File Format 1.1\nisPartOf: mdfql-sample-"
            f"{seed}\ndescription: synthetic crawl, {n_records} responses\n"
        ).encode()
        writer.write_record(
            writer.create_warc_record(
                "",
                "warcinfo",
                payload=io.BytesIO(info),
                warc_content_type="application/warc-fields",
                warc_headers_dict={
                    "WARC-Record-ID": rid,
                    "WARC-Date": date,
                    "WARC-Filename": path.name,
                },
            )
        )
        for k, page in enumerate(pages):
            if k in garbage_at:
                bad_url = w.article_url("garbage http headers")
                _write_raw_response(f, w, bad_url, *ids(), truncated=False)
                wrote("malformed", bad_url)
            wrote(page.category, page.url)
            resp_id, date = ids()
            concurrent: dict[str, str] = {}
            if w.rng.random() < REQUEST_SHARE:
                req_id, _ = ids()
                concurrent = {"WARC-Concurrent-To": req_id}
                req = StatusAndHeaders(
                    f"GET /{page.url.split('/', 3)[-1]} HTTP/1.1",
                    [
                        ("Host", page.url.split("/")[2]),
                        ("User-Agent", "mdfql-sample/1.0"),
                        ("Accept", "text/html,*/*"),
                    ],
                    is_http_request=True,
                )
                writer.write_record(
                    writer.create_warc_record(
                        page.url,
                        "request",
                        payload=io.BytesIO(b""),
                        http_headers=req,
                        warc_headers_dict={"WARC-Record-ID": req_id, "WARC-Date": date},
                    )
                )
                requests += 1
            headers = StatusAndHeaders(
                page.status,
                [
                    ("Content-Type", page.content_type),
                    ("Content-Length", str(len(page.body))),
                    ("Server", "nginx"),
                    *page.extra_headers,
                ],
                protocol="HTTP/1.1",
            )
            writer.write_record(
                writer.create_warc_record(
                    page.url,
                    "response",
                    payload=io.BytesIO(page.body),
                    http_headers=headers,
                    warc_headers_dict={"WARC-Record-ID": resp_id, "WARC-Date": date, **concurrent},
                )
            )
        last_url = w.article_url("truncated record")
        _write_raw_response(f, w, last_url, *ids(), truncated=True)
        wrote("malformed", last_url)
    return SampleStats(path, written, urls, 1, requests, path.stat().st_size)


def _write_raw_response(
    f: BinaryIO, w: _Writer, url: str, rid: str, date: str, truncated: bool
) -> None:
    """One gzip member holding a response that warcio's writer would refuse to produce."""
    title, paras = w.article()
    html_doc = w.page(title, paras[:2]).encode()
    if truncated:
        http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n" + html_doc
        declared = len(http) + 4096  # the reader runs out of bytes: nothing follows this record
    else:
        http = (
            b"\x89GARBAGE\xff\xfe not an http status line\r\nno colon on this line\r\n"
            b"Content-Type text/html\r\n\x00\x01\x02\r\n\r\n" + html_doc
        )
        declared = len(http)
    head = (
        f"WARC/1.1\r\nWARC-Type: response\r\nWARC-Record-ID: {rid}\r\nWARC-Date: {date}\r\n"
        f"WARC-Target-URI: {url}\r\nContent-Type: application/http; msgtype=response\r\n"
        f"Content-Length: {declared}\r\n\r\n"
    ).encode()
    f.write(gzip.compress(head + http + b"\r\n\r\n", compresslevel=6, mtime=0))
