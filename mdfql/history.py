"""The run history: one row per run, succeeded or failed, in an Iceberg table of the run's catalog.

The executor makes a `Recorder` when a run starts and finishes it when the run returns or
raises. The row holds what a later look needs without the run's process: its id, the script
(path and SHA-256), parameters, input files with sizes, rows read, each sink's rows and
snapshot, failures by reason, timings, the status with the error, and the whole record as JSON
(`RunRecord.as_dict`, funnel included) from which `mdfql report` renders the HTML report.

The table is `SET history_table` (default `mdfql.runs`; 'off' keeps no history). It is created
with a marker property, and a table of that name without it is a user's table: it is never
written. Writing history never fails a run: a problem is logged as a warning instead. On Ray
the driver writes it (the executor runs there).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from mdfql import metrics
from mdfql.options import option_value

if TYPE_CHECKING:
    from mdfql.plan.program import Action, Program
    from mdfql.sinks.catalog import CatalogConfig

_log = logging.getLogger("mdfql.history")

MARKER = "mdfql.history"  # table property saying the table is a run history (its version)
VERSION = "1"
OFF = ("off", "none", "false", "")
COMMIT_TRIES = 5  # concurrent runs appending at once: retry a lost commit race
# Files listed per source in a record; the rest count in the source's totals and digest, so a
# record stays a few KB however many files a run reads.
FILES_LISTED = 20


@dataclass
class RunRecord:
    """One run as the history keeps it (plain data: `as_dict` is its JSON record)."""

    run_id: str
    script: str
    script_sha256: str
    params: dict[str, Any]
    options: dict[str, Any]
    runner: str
    status: str  # "succeeded" or "failed"
    error: str | None
    started: str  # ISO 8601, UTC
    ended: str
    wall_s: float
    rows_read: int
    rows_written: int
    # per source: files, size, files_sha256 (of every file's path and size), rows, records, failed
    sources: list[dict[str, Any]] = field(default_factory=list)
    # the first FILES_LISTED files of each source (a crawl has ~90,000): source, path, size
    inputs: list[dict[str, Any]] = field(default_factory=list)
    reads: list[dict[str, Any]] = field(default_factory=list)  # listed files: rows, records, failed
    writes: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)  # stage, reason, rows, examples
    stages: list[dict[str, Any]] = field(default_factory=list)  # relational stages
    statements: list[dict[str, Any]] = field(default_factory=list)  # each action's time
    steps: list[dict[str, Any]] = field(default_factory=list)  # Daft's row-changing operators
    funnel: dict[str, Any] = field(default_factory=dict)  # Funnel.as_dict()

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="milliseconds")


def _error_text(error: BaseException) -> str:
    if isinstance(error, KeyboardInterrupt):
        return "interrupted"
    from mdfql.errors import MdfqlError

    if isinstance(error, MdfqlError):
        return error.render()
    return f"{type(error).__name__}: {error}"


_SECRET_WORDS = ("token", "secret", "password", "credential", "key")
_URI_PASSWORD = re.compile(r"(://[^:/@]+:)[^@/]+@")


def _shown_options(options: dict[str, Any]) -> dict[str, Any]:
    """The options as the history keeps them: no secret a `SET catalog.token = ...` or a
    password in a catalog URI carries (the record is stored and rendered into reports)."""
    shown = {}
    for key, value in options.items():
        if value is None:
            continue
        value = _plain(value)
        if any(word in key.lower() for word in _SECRET_WORDS):
            value = "(redacted)"
        elif isinstance(value, str):
            value = _URI_PASSWORD.sub(r"\1(redacted)@", value)
        shown[key] = value
    return shown


def _plain(value: Any) -> Any:
    """A JSON-safe copy of an option or parameter value."""
    return value if isinstance(value, (str, int, float, bool)) or value is None else str(value)


class Recorder:
    """What the executor tells the history about one run, and the writing of its row."""

    def __init__(self, program: Program, catalog: CatalogConfig, summary: Any,
                 runner: str, on_record: Callable[[RunRecord], None] | None = None):
        """`summary`: the run's `mdfql.execute.RunSummary` as the executor fills it (not
        imported: the executor imports this module)."""
        self.program, self.catalog, self.summary = program, catalog, summary
        self.runner, self.on_record = runner, on_record
        self.started = time.time()
        self._clock = time.perf_counter()
        self._statements: list[dict[str, Any]] = []
        self._reads: dict[str, metrics.FileCount] = {}
        self._examples: dict[tuple[str, str], str] = {}  # where each reason failed first

    @contextmanager
    def running(self) -> Iterator[None]:
        """Around the run, inside `metrics.collecting`: per-file reads and failure examples,
        and a failed run's counts so far (the executor reads them only when it succeeds)."""
        try:
            yield
        except BaseException:
            try:
                self.summary.failures = self.summary.failures or metrics.failures()
                self.summary.rows_read = self.summary.rows_read \
                    or sum(metrics.rows_read().values())
            except Exception:  # a Ray cluster gone: keep what is known
                pass
            raise
        finally:
            try:  # the tally's (a Ray run's included), while it is still up
                self._reads = metrics.file_counts()
                self._examples = metrics.failure_examples()
            except Exception:
                pass

    def statement(self, index: int, action: Action) -> None:
        """Statement `index` starts now (the previous one ended)."""
        now = time.perf_counter() - self._clock
        if self._statements:
            self._statements[-1]["seconds"] = now - self._statements[-1]["start_s"]
        self._statements.append({"index": index, "kind": action.kind, "target": action.target,
                                 "line": action.span.line, "start_s": now, "seconds": None})

    def record(self, error: BaseException | None) -> RunRecord:
        """The run's record, now that it ended (`error`: why it failed, None if it did not)."""
        s, program = self.summary, self.program
        wall = time.perf_counter() - self._clock
        if self._statements and self._statements[-1]["seconds"] is None:
            self._statements[-1]["seconds"] = wall - self._statements[-1]["start_s"]
        examples = self._examples
        script = program.filename
        if os.path.isfile(script):
            script = os.path.abspath(script)
        return RunRecord(
            run_id=s.run_id, script=script,
            script_sha256=hashlib.sha256(program.text.encode()).hexdigest(),
            params={k: _plain(v) for k, v in program.params.items()},
            options=_shown_options(program.options),
            runner=self.runner, status="failed" if error is not None else "succeeded",
            error=_error_text(error) if error is not None else None,
            started=_iso(self.started), ended=_iso(self.started + wall), wall_s=s.wall_s or wall,
            rows_read=s.rows_read, rows_written=s.rows_written,
            **_inputs(program, self._reads),
            writes=[{"table": w.ident, "mode": w.mode, "rows": w.rows_written,
                     "snapshot_id": w.snapshot_id, "skipped": w.skipped, "note": w.note}
                    for w in s.writes],
            failures=[{"stage": stage, "reason": reason, "rows": n,
                       "examples": [examples[(stage, reason)]]
                       if (stage, reason) in examples else []}
                      for (stage, reason), n in sorted(s.failures.items())],
            stages=[{"label": st.label, "call": st.call_sql, "seconds": st.wall_s,
                     "rows_spilled": st.rows_spilled, "result_rows": st.result_rows}
                    for st in s.stages],
            statements=self._statements,
            steps=[{"name": st.name, "rows_in": st.rows_in, "rows_out": st.rows_out}
                   for st in s.steps],
            funnel=s.funnel.as_dict(),
        )

    def finish(self, error: BaseException | None = None) -> RunRecord | None:
        """Build the record, hand it to `on_record` and append it to the history table; never
        raises (a run's outcome is not the history's to change)."""
        try:
            record = self.record(error)
        except Exception as e:
            _log.warning("run history: the run's record could not be made: %s", e)
            return None
        if self.on_record is not None:
            try:
                self.on_record(record)
            except Exception as e:
                _log.warning("run history: on_record failed: %s", e)
        table = option_value(self.program.options, "history_table")
        if str(table).strip().lower() not in OFF:
            try:
                append(record, self.catalog, str(table))
            except Exception as e:
                _log.warning("run history not written to %s: %s", table, _first_line(e))
        return record


def _inputs(program: Program, reads: dict[str, metrics.FileCount]) -> dict[str, list]:
    """`sources`, `inputs` and `reads` of a record: totals and a digest per source, and the
    first FILES_LISTED files of each with what mdfql's readers counted in them."""
    sources, inputs, shown = [], [], []
    unclaimed = dict(reads)
    for src in program.sources():
        name, files = src.label or src.kind, src.files or []
        for f in files[:FILES_LISTED]:
            inputs.append({"source": name, "path": f.path, "size": f.size})
            if f.path in reads:
                shown.append(f.path)
        claimed = [unclaimed.pop(f.path) for f in files if f.path in unclaimed]
        sources.append(_source_totals(name, [(f.path, f.size) for f in files], claimed))
    if unclaimed:  # read by a reader of ours that no source listed (a nested scan)
        other = sorted(unclaimed)
        sources.append(_source_totals("(other reads)", [(p, None) for p in other],
                                      list(unclaimed.values())))
        shown += other[:FILES_LISTED]
    return {"sources": sources, "inputs": inputs,
            "reads": [{"path": path, "rows": reads[path].rows, "records": reads[path].records,
                       "failed": reads[path].failed} for path in shown]}


def _source_totals(name: str, files: list[tuple[str, int | None]],
                   counted: list[metrics.FileCount]) -> dict[str, Any]:
    """One source's entry: its files, their total size, a digest of every file's path and
    size, and what mdfql's readers counted in them (None where nothing was counted)."""
    digest = hashlib.sha256()
    for path, size in files:
        digest.update(f"{path}\0{size}\n".encode())
    sizes = [size for _, size in files if size is not None]
    entry = {"source": name, "files": len(files), "size": sum(sizes) if sizes else None,
             "files_sha256": digest.hexdigest()}
    for key in ("rows", "records", "failed"):
        entry[key] = sum(getattr(c, key) for c in counted) if counted else None
    return entry


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


# --- the table --------------------------------------------------------------------------------

_WRITE = pa.struct([("table", pa.string()), ("mode", pa.string()), ("rows", pa.int64()),
                    ("snapshot_id", pa.int64()), ("skipped", pa.bool_())])
_FAILURE = pa.struct([("stage", pa.string()), ("reason", pa.string()), ("rows", pa.int64())])
_STAGE = pa.struct([("label", pa.string()), ("seconds", pa.float64()),
                    ("rows_spilled", pa.int64()), ("result_rows", pa.int64())])
_INPUT = pa.struct([("path", pa.string()), ("size", pa.int64())])
TIMESTAMP = pa.timestamp("us", tz="UTC")
SCHEMA = pa.schema([
    ("run_id", pa.string()), ("status", pa.string()), ("error", pa.string()),
    ("script", pa.string()), ("script_sha256", pa.string()), ("params", pa.string()),
    ("runner", pa.string()), ("started_at", TIMESTAMP), ("ended_at", TIMESTAMP),
    ("wall_s", pa.float64()), ("rows_read", pa.int64()), ("rows_written", pa.int64()),
    ("inputs", pa.list_(_INPUT)), ("writes", pa.list_(_WRITE)),
    ("failures", pa.list_(_FAILURE)), ("stages", pa.list_(_STAGE)),
    ("record", pa.string()),
])
# Each append writes a metadata file: keep the last few, not one per run ever made.
_PROPERTIES = {MARKER: VERSION, "write.metadata.delete-after-commit.enabled": "true",
               "write.metadata.previous-versions-max": "10"}


def _row(record: RunRecord) -> pa.Table:
    def pick(items: list[dict[str, Any]], struct: pa.StructType) -> list[dict[str, Any]]:
        names = [struct.field(i).name for i in range(struct.num_fields)]
        return [{n: item.get(n) for n in names} for item in items]

    row = {
        "run_id": record.run_id, "status": record.status, "error": record.error,
        "script": record.script, "script_sha256": record.script_sha256,
        "params": json.dumps(record.params, sort_keys=True), "runner": record.runner,
        "started_at": datetime.fromisoformat(record.started),
        "ended_at": datetime.fromisoformat(record.ended), "wall_s": record.wall_s,
        "rows_read": record.rows_read, "rows_written": record.rows_written,
        "inputs": pick(record.inputs, _INPUT), "writes": pick(record.writes, _WRITE),
        "failures": pick(record.failures, _FAILURE), "stages": pick(record.stages, _STAGE),
        "record": json.dumps(record.as_dict(), default=str),
    }
    return pa.Table.from_pylist([row], schema=SCHEMA)


def _history_table(catalog: CatalogConfig, name: str, create: bool) -> Any:
    """The history table `name` (created when missing and `create`); None when it does not
    exist. A table of that name that is not a run history raises: it is never written."""
    from pyiceberg.exceptions import NoSuchTableError, TableAlreadyExistsError

    from mdfql.sinks.catalog import catalog_missing, ensure_namespace, open_catalog, parse_ident

    namespace, _ = parse_ident(name)
    if not create and catalog_missing(catalog):
        return None
    iceberg = open_catalog(catalog)
    try:
        table = iceberg.load_table(name)
    except NoSuchTableError:
        if not create:
            return None
        ensure_namespace(iceberg, namespace)
        try:
            table = iceberg.create_table(name, schema=SCHEMA, properties=_PROPERTIES)
        except TableAlreadyExistsError:  # a concurrent run made it first
            table = iceberg.load_table(name)
    if table.properties.get(MARKER) is None:
        raise ValueError(f"table {name} exists and is not a run history (no '{MARKER}' "
                         "property): it is left alone; SET history_table to another name")
    return table


def append(record: RunRecord, catalog: CatalogConfig, name: str) -> None:
    """Append one run's row to history table `name`, creating it when missing."""
    from pyiceberg.exceptions import CommitFailedException

    table = _history_table(catalog, name, create=True)
    row = _row(record)
    for attempt in range(COMMIT_TRIES):
        try:
            table.append(row)
            return
        except CommitFailedException:
            if attempt == COMMIT_TRIES - 1:
                raise
            table = table.refresh()


# --- reading it back --------------------------------------------------------------------------

SUMMARY_COLUMNS = ("run_id", "status", "script", "started_at", "wall_s", "rows_read",
                   "rows_written", "error")


def recent(catalog: CatalogConfig, name: str, n: int = 20) -> list[dict[str, Any]]:
    """The last `n` runs of history table `name`, newest first (summary columns only)."""
    table = _history_table(catalog, name, create=False)
    if table is None:
        return []
    rows = table.scan(selected_fields=SUMMARY_COLUMNS).to_arrow().to_pylist()
    rows.sort(key=lambda r: r["started_at"], reverse=True)
    return rows[:n]


def load(catalog: CatalogConfig, name: str, run_id: str) -> RunRecord | None:
    """The record of run `run_id` (a unique prefix of it will do), or None when unknown."""
    from pyiceberg.expressions import EqualTo, StartsWith

    table = _history_table(catalog, name, create=False)
    if table is None:
        return None
    rows = table.scan(row_filter=EqualTo("run_id", run_id),
                      selected_fields=("run_id", "record")).to_arrow().to_pylist()
    if not rows:
        rows = table.scan(row_filter=StartsWith("run_id", run_id),
                          selected_fields=("run_id", "record")).to_arrow().to_pylist()
        if len(ids := {r["run_id"] for r in rows}) > 1:
            raise ValueError(f"'{run_id}' names {len(ids)} runs: give more of the id")
    return RunRecord.from_dict(json.loads(rows[0]["record"])) if rows else None
