"""A run's record (`mdfql.history.RunRecord`) as one self-contained HTML page.

Sections: the run (script, id, status, times, totals), the funnel by view and predicate (or,
without one, the row-changing operators Daft reported), reads per source, failures by reason
with examples, the signals' distributions among kept and dropped rows, examples per step,
relational stages and statements with their times, and the sinks. Everything from the run
(URLs, crawled text, SQL, error messages) is escaped: crawled pages carry markup.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from html import escape
from typing import Any

from mdfql.funnel import Example, Funnel, FunnelStep, Signal
from mdfql.history import FILES_LISTED, RunRecord
from mdfql.report import assets
from mdfql.report.charts import DROPPED, KEPT, bin_values, funnel_bar, histogram

# The page loads nothing: even markup that slipped through escaping could fetch nothing.
CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"
FIELD_CHARS = 800  # characters of an example's field shown (the funnel cuts them already)
OPEN_EXAMPLES = 3  # groups of examples shown unfolded


def _e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def _int(n: int | None) -> str:
    return "" if n is None else f"{n:,}"


def _num(n: float | int | None, text: str | None = None) -> str:
    """A numeric cell: its value for sorting, its text for reading."""
    if n is None:
        return '<td class="num"></td>'
    shown = text if text is not None else (_int(n) if isinstance(n, int) else f"{n:.2f}")
    return f'<td class="num" data-v="{n}">{_e(shown)}</td>'


def _seconds(s: float | None) -> str:
    return "" if s is None else (f"{s:.2f} s" if s >= 0.1 else f"{s * 1000:.0f} ms")


def _size(n: int | None) -> str:
    if n is None:
        return ""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return ""


def _table(heads: Sequence[str], rows: Iterable[str], numeric: Sequence[int] = (),
           cls: str = "sortable") -> str:
    head = "".join(f'<th class="num">{_e(h)}</th>' if i in numeric else f"<th>{_e(h)}</th>"
                   for i, h in enumerate(heads))
    return (f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>'
            + "".join(rows) + "</tbody></table>")


def _empty(text: str) -> str:
    return f'<p class="empty">{_e(text)}</p>'


def _when(iso: str) -> str:
    """An ISO 8601 UTC time as `2026-12-01 23:40:43 UTC` (as given when it is not one)."""
    try:
        when = datetime.fromisoformat(iso).astimezone(timezone.utc)
    except ValueError:
        return iso
    return when.strftime("%Y-%m-%d %H:%M:%S UTC")


def _header(r: RunRecord) -> str:
    failed = sum(f["rows"] for f in r.failures)
    cards = [("rows read", _int(r.rows_read)), ("rows written", _int(r.rows_written)),
             ("failed rows", _int(failed)), ("wall time", _seconds(r.wall_s)),
             ("docs/s", _int(round(r.rows_read / r.wall_s)) if r.wall_s else "")]
    error = f'<pre class="error">{_e(r.error)}</pre>' if r.error else ""
    params = ", ".join(f"${k} = {v!r}" for k, v in r.params.items())
    return (f"<header><h1>{_e(os.path.basename(r.script) or r.script)} "
            f'<span class="status {_e(r.status)}">{_e(r.status)}</span></h1>'
            f'<p class="meta">run <code>{_e(r.run_id)}</code> · '
            f"started {_e(_when(r.started))} · ended {_e(_when(r.ended))} · "
            f"runner {_e(r.runner)}<br>script <code>{_e(r.script)}</code>"
            f" (sha256 <code>{_e(r.script_sha256[:12])}</code>)"
            + (f"<br>parameters <code>{_e(params)}</code>" if params else "")
            + "</p>" + error + '<div class="cards">'
            + "".join(f"<div class='card'><b>{_e(v)}</b><span>{_e(k)}</span></div>"
                      for k, v in cards)
            + "</div></header>")


def _statement_names(r: RunRecord) -> dict[int, str]:
    names = {}
    for s in r.statements:
        what = s["kind"].replace("_", " ") + (f" {s['target']}" if s.get("target") else "")
        names[s["index"]] = f"statement {s['index'] + 1} (line {s['line']}): {what}"
    return names


def _funnel_rows(steps: Sequence[FunnelStep], views: bool = True) -> list[str]:
    """Table rows of `steps`; without `views`, Daft's operators (no view, no time known)."""
    widest = max((s.rows_in for s in steps), default=0)
    rows = []
    for s in steps:
        pct = 100.0 * s.dropped / s.rows_in if s.rows_in else 0.0
        cls = "" if s.dropped else ' class="nodrop"'
        seconds = s.seconds or None  # 0: not measured
        rows.append(f"<tr{cls} data-step>"
                    + (f"<td>{_e(s.view)}</td>" if views else "")
                    + f"<td class='sql'>{_e(s.predicate)}</td>"
                    + _num(s.rows_in) + _num(s.rows_out) + _num(s.dropped)
                    + _num(round(pct, 2), f"{pct:.1f}%")
                    + (_num(seconds, _seconds(seconds)) if views else "")
                    + f"<td>{funnel_bar(s.rows_in, s.rows_out, widest)}</td></tr>")
    return rows


def _funnel(r: RunRecord, funnel: Funnel) -> str:
    legend = (f'<p class="legend"><span style="background:{KEPT}"></span>kept'
              f'<span style="background:{DROPPED}"></span>dropped · bars are as long as the '
              "rows a step saw, relative to the statement's widest step</p>")
    heads = ("view", "predicate", "rows in", "kept", "dropped", "% dropped", "time", "")
    if not funnel.steps:
        if not r.steps:
            return "<h2>Funnel</h2>" + _empty("no step of this run changed the row count")
        steps = [FunnelStep(-1, "", s["name"], s["rows_in"], s["rows_out"]) for s in r.steps]
        return ("<h2>Funnel</h2><p class='meta'>This run recorded no funnel by view and "
                "predicate; these are the operators Daft reported as changing the row count."
                "</p>" + legend + _table(("operator",) + heads[2:6] + heads[7:],
                                         _funnel_rows(steps, False), numeric=(1, 2, 3, 4)))
    names = _statement_names(r)
    parts = ["<h2>Funnel</h2>", legend,
             '<label class="filter"><input type="checkbox" id="only-dropping"> only steps '
             "that drop rows</label>"]
    for index in dict.fromkeys(s.statement for s in funnel.steps):
        steps = [s for s in funnel.steps if s.statement == index]
        parts.append(f"<h3>{_e(names.get(index, f'statement {index + 1}'))}</h3>")
        parts.append(_table(heads, _funnel_rows(steps), numeric=(2, 3, 4, 5, 6)))
    return "".join(parts)


def _total(values: Iterable[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def _read_cells(files: Sequence[dict[str, Any]]) -> str:
    """Size, rows, records and failed records of `files` summed (blank where not counted)."""
    size = _total(f.get("size") for f in files)
    return (_num(size, _size(size)) + "".join(_num(_total(f.get(k) for f in files))
                                               for k in ("rows", "records", "failed")))


def _sources(r: RunRecord, counted: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Each source's totals: the record's own, or for a record made before they were kept
    (every file listed), summed over its files."""
    if r.sources:
        return r.sources
    by_source: dict[str, list[dict[str, Any]]] = {}
    for item in r.inputs:
        by_source.setdefault(item["source"], []).append({**item, **counted.get(item["path"], {})})
    listed = {item["path"] for item in r.inputs}
    unlisted = [x for path, x in counted.items() if path not in listed]
    if unlisted:
        by_source["(other reads)"] = unlisted
    return [{"source": name, "files": len(files),
             **{k: _total(f.get(k) for f in files) for k in ("size", "rows", "records", "failed")}}
            for name, files in by_source.items()]


def _reads(r: RunRecord) -> str:
    """Per source: its files, their size and what mdfql's readers counted in them; then the
    first files of each (a crawl has tens of thousands, the record keeps the first few)."""
    counted = {x["path"]: x for x in r.reads}
    sources = _sources(r, counted)
    if not sources:
        return "<h2>Reads</h2>" + _empty("this run read no files")
    listed = {item["path"] for item in r.inputs}
    every = [(item["source"], {**item, **counted.get(item["path"], {})}) for item in r.inputs]
    every += [("(other reads)", x) for path, x in counted.items() if path not in listed]
    files, first = [], {}  # the first FILES_LISTED of each source (an older record has all)
    for name, f in every:
        paths = first.setdefault(name, [])
        if len(paths) < FILES_LISTED:
            paths.append(f["path"])
            files.append((name, f))
    rows = (f"<tr><td class='sql'>{_e(s['source'])}"
            + (f"<br><span class='meta'>{_e(first[s['source']][0])}</span>"
               if s["files"] == 1 and s["source"] in first else "")
            + f"</td>{_num(s['files'])}{_read_cells([s])}</tr>" for s in sources)
    head = ("<h2>Reads</h2><p class='meta'>Rows, records and failed records are counted by "
            "mdfql's own readers (read_warc); other sources show their files only.</p>"
            + _table(("source", "files", "size", "rows", "records", "failed"), rows,
                     numeric=(1, 2, 3, 4, 5)))
    n_files = sum(s["files"] for s in sources)
    if n_files == len(sources):  # one file a source: the table above says it all
        return head
    more = n_files > len(files)
    listing = (f"<tr><td class='sql'>{_e(name)}</td><td class='sql'>{_e(f['path'])}</td>"
               f"{_read_cells([f])}</tr>" for name, f in files)
    return (head + f"<details><summary>{n_files:,} files"
            + (f", the first {FILES_LISTED} of each source shown" if more else "")
            + "</summary>"
            + _table(("source", "file", "size", "rows", "records", "failed"), listing,
                     numeric=(2, 3, 4, 5)) + "</details>")


def _failures(r: RunRecord) -> str:
    if not r.failures:
        return "<h2>Failures</h2>" + _empty("no row failed")
    rows = []
    for f in r.failures:
        examples = "".join(f"<li>{_e(x)}</li>" for x in f.get("examples", []))
        rows.append(f"<tr><td>{_e(f['stage'])}</td><td>{_e(f['reason'])}</td>"
                    + _num(f["rows"])
                    + f"<td><ul class='examples'>{examples}</ul></td></tr>")
    return ("<h2>Failures</h2><p class='meta'>Rows that could not be read or parsed, counted "
            "by reason, with the first few where they were seen.</p>"
            + _table(("stage", "reason", "rows", "examples"), rows, numeric=(2,)))


def _signal(s: Signal) -> str:
    bins = bin_values(s.kept, s.dropped)
    chart = histogram(bins, width=460, height=130) if bins is not None \
        else _empty("no finite values")
    return (f"<div class='signal'><h3>{_e(s.view)}: <code>{_e(s.name)}</code></h3>"
            f"<p class='meta'>{_int(s.count)} values seen; sampled {len(s.kept):,} kept, "
            f"{len(s.dropped):,} dropped</p>{chart}</div>")


def _signals(funnel: Funnel) -> str:
    if not funnel.signals:
        return ""
    return ("<h2>Signals</h2><p class='legend'>Values among rows "
            f"<span style='background:{KEPT}'></span>kept and "
            f"<span style='background:{DROPPED}'></span>dropped (each scaled to its own "
            "largest bin)</p><div class='signals'>"
            + "".join(_signal(s) for s in funnel.signals) + "</div>")


def _example(x: Example) -> str:
    fields = "".join(f"<dt>{_e(k)}</dt><dd>{_e(str(v)[:FIELD_CHARS])}</dd>"
                     for k, v in x.fields.items())
    kind = "kept" if x.kept else "dropped"
    return f"<div class='example {kind}'><dl>{fields}</dl></div>"


def _examples(r: RunRecord, funnel: Funnel) -> str:
    if not funnel.examples:
        return ("<h2>Examples</h2><p class='meta'>None kept: this run counted its funnel by "
                "Daft's operator stats alone. <code>mdfql run --report</code> or <code>SET "
                "funnel = 'detail'</code> also samples signal values and example rows.</p>"
                if funnel.steps else "")
    names = _statement_names(r)
    parts = ["<h2>Examples</h2><p class='meta'>Rows each step kept and dropped.</p>"]
    groups: dict[tuple[int, str, str], list[Example]] = {}
    for x in funnel.examples:
        groups.setdefault((x.statement, x.view, x.predicate), []).append(x)
    opened = 0
    for (statement, view, predicate), found in groups.items():
        kept = [x for x in found if x.kept]
        dropped = [x for x in found if not x.kept]
        where = names.get(statement, f"statement {statement + 1}")
        # unfolded: the first few steps that dropped something (the others fold, to keep it short)
        show = bool(dropped) and opened < OPEN_EXAMPLES
        opened += show
        columns = "".join(
            f"<div><h4>{label}</h4>{''.join(_example(x) for x in xs) or _empty('none')}</div>"
            for label, xs in (("dropped", dropped), ("kept", kept)))
        parts.append(f"<details{' open' if show else ''}><summary><b>{_e(view)}</b> "
                     f"<code>{_e(predicate)}</code>: {len(kept)} kept, {len(dropped)} dropped "
                     f"<span class='meta'>({_e(where)})</span></summary>"
                     f"<div class='pair'>{columns}</div></details>")
    return "".join(parts)


def _stages(r: RunRecord) -> str:
    parts = ["<h2>Stages and statements</h2>"]
    if r.stages:
        parts.append(_table(
            ("relational stage", "operator", "rows spilled", "rows in result", "time"),
            (f"<tr><td>{_e(s['label'])}</td><td class='sql'>{_e(s['call'])}</td>"
             + _num(s["rows_spilled"]) + _num(s["result_rows"])
             + _num(s["seconds"], _seconds(s["seconds"])) + "</tr>" for s in r.stages),
            numeric=(2, 3, 4)))
    if r.statements:
        parts.append(_table(
            ("statement", "line", "kind", "target", "time (its stages included)"),
            (f"<tr>{_num(s['index'] + 1)}{_num(s['line'])}<td>{_e(s['kind'])}</td>"
             f"<td>{_e(s.get('target') or '')}</td>"
             + _num(s.get("seconds"), _seconds(s.get("seconds"))) + "</tr>"
             for s in r.statements), numeric=(0, 1, 4)))
    return "".join(parts) if len(parts) > 1 else ""


def _sinks(r: RunRecord) -> str:
    if not r.writes:
        return "<h2>Sinks</h2>" + _empty("this run wrote nothing")
    rows = (f"<tr><td>{_e(w['table'])}</td><td>{_e(w['mode'])}</td>"
            f"<td>{'skipped' if w.get('skipped') else 'committed'}</td>" + _num(w["rows"])
            + f"<td class='sql'>{_e(w.get('snapshot_id') or '')}</td>"
            f"<td>{_e(w.get('note') or '')}</td></tr>" for w in r.writes)
    heads = ("target", "mode", "outcome", "rows", "snapshot", "note")
    return "<h2>Sinks</h2>" + _table(heads, rows, numeric=(3,))


def _details(r: RunRecord) -> str:
    options = json.dumps(r.options, sort_keys=True) if r.options else "none"
    return (f"<h2>Run</h2><p class='meta'>options set: <code>{_e(options)}</code></p>")


def render(record: RunRecord) -> str:
    """The report of `record` as one HTML document (no external reference of any kind)."""
    try:
        funnel = Funnel.from_dict(record.funnel or {})
    except (TypeError, KeyError):  # a record of another mdfql version: report the rest
        funnel = Funnel()
    title = f"{os.path.basename(record.script)} {record.run_id} ({record.status})"
    body = "".join((_header(record), _funnel(record, funnel), _signals(funnel),
                    _examples(record, funnel), _reads(record), _failures(record),
                    _stages(record), _sinks(record), _details(record)))
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta http-equiv='Content-Security-Policy' content=\"{CSP}\">"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{_e(title)}</title><script>{assets.ERROR_HOOK}</script>"
            f"<style>{assets.CSS}</style></head><body>{body}"
            f"<script>{assets.SCRIPT}</script></body></html>\n")
