"""What the sample plants for the URL filter: entries of the real lists mdfql filters with by
default (datatrove's UT1 blocklist and banned URL words), so the sample's blocked pages are
blocked for the reasons a real crawl's would be.

Words come from the real lists, restricted to the sexual-content vocabulary below: the lists
also hold slurs, which a demo sample need not spell out. Domains and URLs are a fixed seeded
draw from the real blocklist: two-label domains (a random subdomain of one is still caught by
datatrove's registered-domain check as well as by mdfql's suffix walk), and URL entries whose
host no listed domain covers, so that only the URL list blocks them.
"""

from __future__ import annotations

import functools
import random
import re
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from mdfql._native import read_url_list
from mdfql.text.url_lists import Source, blocklist_sources, word_sources

HARD_PICKS = ("porn", "porno", "xxx", "nsfw", "milf", "bdsm", "hentai", "cialis", "viagra")
STRICT_PICKS = ("pornhub", "xvideos", "youjizz", "freesex", "hotchat", "sexdoll")
SOFT_PICKS = ("sex", "sexy", "nude", "babes", "lingerie", "escort", "erotic", "naked", "boobs")
N_DOMAINS = 200
N_URLS = 40
SEED = 20230601  # fixed: the plants depend on the lists only, not on the sample's seed
# URL entries planted verbatim after "http://": plain ASCII without spaces, quotes or fragments.
PLAIN_URL = re.compile(r"[A-Za-z0-9.-]+/[A-Za-z0-9._~/%+=&?-]{1,150}")
TWO_LABELS = re.compile(r"[a-z0-9-]+\.[a-z]{2,}")


@dataclass(frozen=True)
class UrlPlants:
    strict: list[str]
    hard: list[str]
    soft: list[str]
    domains: list[str]
    urls: list[str]


def _words(source: Source) -> set[str]:
    """A word list's entries as the filter compares them (datatrove's `normalize`)."""
    entries = read_url_list(*source).to_pylist()
    return {re.sub(r"[^a-z0-9]+", "", w.lower()) for w in entries}


def _pick(wanted: tuple[str, ...], listed: set[str], name: str) -> list[str]:
    picked = [w for w in wanted if w in listed]
    if not picked:
        raise RuntimeError(f"none of {wanted} is on the real {name} list any more")
    return picked


def _host(url_entry: str) -> str:
    return url_entry.split("/", 1)[0]


def _suffixes(host: str) -> list[str]:
    labels = host.lower().split(".")
    return [".".join(labels[i:]) for i in range(len(labels))]


@functools.lru_cache(maxsize=1)
def url_plants() -> UrlPlants:
    """The real list entries the sample plants (read once per process, ~1 s)."""
    words = word_sources(None)
    hard = _words(words["hard_words"][0])
    soft = _words(words["soft_words"][0]) - hard  # a soft pair must not be a hard hit
    strict = _words(words["strict_words"][0])
    quality = {d.lower() for d in read_url_list(*words["excluded_domains"][0]).to_pylist()}
    blocklist = blocklist_sources(None)
    domains = read_url_list(*blocklist["domains"][0])
    rng = random.Random(SEED)
    picked: list[str] = []
    for i in rng.sample(range(len(domains)), min(len(domains), 20 * N_DOMAINS)):
        d = domains[i].as_py()
        if TWO_LABELS.fullmatch(d) and len(picked) < N_DOMAINS:
            picked.append(d)
    entries = read_url_list(*blocklist["urls"][0]).to_pylist()
    candidates = rng.sample([u for u in entries if PLAIN_URL.fullmatch(u)], 20 * N_URLS)
    # the listed ones among the candidates' hosts and parents (a scan of the list against the
    # few hosts: hashing the 4.5 million domains instead takes seconds)
    hosts = pa.array(sorted({s for u in candidates for s in _suffixes(_host(u))}))
    covered = set(domains.filter(pc.is_in(domains, value_set=hosts)).to_pylist()) | quality
    urls = [u for u in candidates if covered.isdisjoint(_suffixes(_host(u)))][:N_URLS]
    return UrlPlants(
        strict=_pick(STRICT_PICKS, strict, "strict"),
        hard=_pick(HARD_PICKS, hard, "hard"),
        soft=_pick(SOFT_PICKS, soft, "soft"),
        domains=picked,
        urls=urls,
    )
