"""pipelines/c4.sql end to end on the bundled sample plus a few planted pages: every kept page
passes C4's rules when they are recomputed on it, URLs and lines are deduplicated, a page with a
bad word is dropped at that step and only there, and line_dedup keeps exactly the lines the
reference's line dedup (TFDS remove_duplicate_text) keeps on the same pages."""

from __future__ import annotations

import gzip
import hashlib
import re
import uuid
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest
from conftest import warehouse_at

from mdfql import Session
from mdfql import _native as nat
from mdfql.demo.sample import write_sample
from mdfql.functions.kernels import lang_id_batch

ROOT = Path(__file__).resolve().parents[1]
PIPELINE = ROOT / "pipelines" / "c4.sql"
PAPER = {"min_words_per_line": 5, "min_num_sentences": 3}
MIN_LANGUAGE_SCORE = 0.8  # the pipeline's $min_language_score

HARBOUR = [
    "The harbour town wakes up long before the sun rises over the hills.",
    "Fishermen check their nets and load the boats with ice and bait.",
    "By seven o'clock the first boats have already left the breakwater.",
    "Tourists arrive later in the morning to watch the catch come in.",
    "The market by the water sells most of the fish before noon.",
]
SHARED = [
    "Visitors should remember that the ferry timetable changes every season.",
    "Tickets can be bought at the kiosk next to the old lighthouse.",
]
GARDEN = [
    "Our community garden started with six raised beds and a water tank.",
    "Neighbours now grow beans, tomatoes and herbs for the whole street.",
    "Every Saturday morning volunteers meet to weed and share seedlings.",
]
ORCHARD = [
    "The orchard on the hill produces apples, pears and a few plums.",
    "Picking starts in late August and lasts until the first frost.",
    "Families come from the city to fill baskets and drink fresh cider.",
]
BADWORD_PAGE = [
    "The mechanic told us the old engine was in a really bad state.",
    "He said the gearbox was shit and the brakes needed new pads too.",
    "We decided to repair the car instead of buying a new one this year.",
    "The whole job took three weeks and cost less than we had feared.",
]


def _html(title: str, lines: list[str]) -> bytes:
    body = "".join(f"<p>{line}</p>" for line in lines)
    return (f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
            f"{body}</article></body></html>").encode()


def _write_planted(path: Path) -> dict[str, str]:
    """A WARC of pages whose fate is known: two sharing SHARED's lines, one with a bad word,
    and a copy of the harbour page under a URL that only differs by scheme, www and utm_."""
    pages = {
        "https://harbour.example/town": _html("Harbour", HARBOUR),
        "http://www.harbour.example/town/?utm_source=x": _html("Harbour", HARBOUR),
        "https://garden.example/beds": _html("Garden", GARDEN + SHARED),
        "https://orchard.example/apples": _html("Orchard", ORCHARD + SHARED),
        "https://cars.example/repair": _html("Repair", BADWORD_PAGE),
    }
    with open(path, "wb") as out:
        for i, (url, body) in enumerate(pages.items()):
            payload = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
                       b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            head = (f"WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI: {url}\r\n"
                    f"WARC-Date: 2024-03-0{i + 1}T00:00:00Z\r\n"
                    f"WARC-Record-ID: <urn:uuid:{uuid.UUID(int=i)}>\r\n"
                    f"Content-Type: application/http; msgtype=response\r\n"
                    f"Content-Length: {len(payload)}\r\n\r\n").encode()
            out.write(gzip.compress(head + payload + b"\r\n\r\n"))
    return {url: body.decode() for url, body in pages.items()}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The run's summary, curated.c4's rows, and the rows of the views around the dedup and
    bad-words steps."""
    work = tmp_path_factory.mktemp("c4")
    crawl = work / "crawl"
    crawl.mkdir()
    write_sample(crawl / "sample.warc.gz", n_records=600)
    _write_planted(crawl / "planted.warc.gz")
    with warehouse_at(str(work / "warehouse")):
        session = Session()
        summary = session.run_file(PIPELINE, params={"input": str(crawl / "*.warc.gz")})
        views = {v: session.sql(f"SELECT * FROM {v}").to_pylist()
                 for v in ("url_deduplicated", "clean", "deduplicated", "in_language")}
        # line dedup's input and result, before the sentence re-check
        views["line_deduplicated"] = session.sql(
            "SELECT s.url, s.text, d.text AS deduped FROM line_spans s "
            "JOIN line_deduplicated d ON s.url = d.url").to_pylist()
        kept = session.sql("SELECT * FROM read_iceberg('curated.c4')").to_pylist()
        yield summary, kept, views


def test_kept_pages_pass_every_rule_recomputed(run):
    summary, kept, _ = run
    assert kept and summary.rows_written == len(kept)
    texts = pa.array([r["text"] for r in kept])
    # the kept text is c4_quality's fixed point with the paper's values: every line survives
    again = nat.c4_quality(texts, **PAPER).to_pylist()
    assert all(a["keep"] and a["text"] == r["text"] for a, r in zip(again, kept))
    lid = lang_id_batch(pa.array([r["text"] for r in kept])).to_pylist()
    assert all(x["lang"] == "en" and x["score"] >= MIN_LANGUAGE_SCORE for x in lid)
    assert [(r["language"], r["language_score"]) for r in kept] == \
        [(x["lang"], x["score"]) for x in lid]
    assert all(nat.c4_badwords_ok(texts).to_pylist())
    assert all(len(r["text"]) <= 190000 for r in kept)


def _page_key(url: str) -> str:
    """c4_utils.normalize_url."""
    url = re.sub(r"https?:\/\/(www\.)?", "", url)
    url = re.sub(r"\?(utm_|ref|feed).*", "", url)
    return url.rstrip("/")


def test_one_page_per_url(run):
    _, kept, views = run
    keys = [_page_key(r["url"]) for r in views["url_deduplicated"]]
    assert len(keys) == len(set(keys))
    # the two harbour captures are one page: the earlier capture stays
    harbour = [r["url"] for r in views["url_deduplicated"] if "harbour.example" in r["url"]]
    assert harbour == ["https://harbour.example/town"]
    assert [r["url"] for r in kept if "harbour.example" in r["url"]] == harbour


def test_duplicated_lines_appear_once(run):
    _, kept, views = run
    lines = Counter(line for r in kept for line in r["text"].split("\n")
                    if len(re.findall(r"\w+", line)) >= 5)
    assert lines and max(lines.values()) == 1
    # the planted shared lines survive in exactly one of the two pages that had them
    for line in SHARED:
        assert sum(line in r["text"].split("\n") for r in views["clean"]) == 2
        assert sum(line in r["text"].split("\n") for r in views["deduplicated"]) == 1
    # dedup bites on the sample itself (its near-duplicate pages share lines)
    removed = sum(len(r["text"].split("\n")) for r in views["clean"]) \
        - sum(len(r["text"].split("\n")) for r in views["deduplicated"])
    assert removed > len(SHARED)


def test_bad_word_page_dropped_at_its_step(run):
    summary, kept, views = run
    repair = "https://cars.example/repair"
    # it passed every earlier step (C4's line rules, dedup, language), then the bad word went
    assert repair in {r["url"] for r in views["in_language"]}
    assert repair not in {r["url"] for r in kept}
    flagged = [r for r in views["in_language"]
               if not nat.c4_badwords_ok(pa.array([r["text"]])).to_pylist()[0]]
    (step,) = [s for s in summary.funnel.steps if s.view == "clean_words"]
    assert (step.rows_in, step.dropped) == (len(views["in_language"]), len(flagged))
    assert {r["url"] for r in kept} == {r["url"] for r in views["in_language"]} \
        - {r["url"] for r in flagged}


def _tfds_line_dedup(pages: list[dict]) -> dict[str, str]:
    """c4_utils.remove_duplicate_text's text per page (before its sentence re-check): each line
    of text.split("\\n"), stripped and lowercased, stays only in the page whose URL has the
    smallest md5 hex digest, and there only its first copy; the kept lines joined by "\\n"."""
    def norm(line: str) -> str:
        return line.strip().lower()

    def md5(url: str) -> str:
        return hashlib.md5(url.encode()).hexdigest()

    owner: dict[str, str] = {}
    for p in pages:
        for line in p["text"].split("\n"):
            owner[norm(line)] = min(owner.get(norm(line), md5(p["url"])), md5(p["url"]))
    out = {}
    for p in pages:
        seen: set[str] = set()
        kept = []
        for line in p["text"].split("\n"):
            if owner[norm(line)] == md5(p["url"]) and norm(line) not in seen:
                kept.append(line)
                seen.add(norm(line))
        out[p["url"]] = "\n".join(kept)
    return out


def test_line_dedup_against_the_reference(run):
    """line_dedup + remove_spans give each page the text the reference's line selection and
    rejoin give it, page for page."""
    _, _, views = run
    pages = views["line_deduplicated"]
    ref = _tfds_line_dedup(pages)
    ours = {p["url"]: p["deduped"] for p in pages}
    lines = sum(len(p["text"].split("\n")) for p in pages)
    kept = sum(len(t.split("\n")) for t in ref.values() if t)
    print(f"line dedup vs TFDS's rule on {len(pages)} pages: {lines} lines, {kept} kept")
    assert len(ours) == len(pages) and kept < lines  # the reference removes lines
    assert ours == ref
