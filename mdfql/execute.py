"""Run a compiled program: its relational stages and actions in order, then a summary.

The executor sees a Program, where its writes go (the Iceberg catalog) and the functions it
may run; never a Session. Stages spill under the run's work directory: `work_dir` (or SET
work_dir, or $MDFQL_WORK_DIR, kept), else `state_dir` (`mdfql run`'s durable default, removed
after a successful run), else a temporary directory removed when the run ends. What finished
is recorded there as it finishes, so a killed run can be resumed (mdfql.resume).
"""

from __future__ import annotations

import io
import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import daft
from daft.exceptions import DaftCoreException

from mdfql import metrics as failures
from mdfql import runstate, threads
from mdfql.budget import check_budget
from mdfql.errors import MdfqlError
from mdfql.functions.registry import Registry
from mdfql.funnel import Funnel
from mdfql.funnel_run import FunnelRun
from mdfql.history import Recorder, RunRecord
from mdfql.io.inputs import resolve as resolve_inputs
from mdfql.io.warc import SCAN_NAME
from mdfql.metrics import FileCount, operator_metrics
from mdfql.options import option_value
from mdfql.plan.program import Action, Program
from mdfql.plan.stages import StageRun
from mdfql.resume import Resumable
from mdfql.runner import check_cluster, ray_call, use_runner
from mdfql.sinks.catalog import CatalogConfig, SinkError
from mdfql.sinks.files import StagedFiles, owned_files, stage_files
from mdfql.sinks.iceberg import StagedWrite, WriteResult, committed_snapshot, stage_table
from mdfql.sinks.provenance import FINGERPRINT, RunInfo, fingerprint, snapshot_properties
from mdfql.sinks.targets import Target, plan_targets
from mdfql.sinks.written import pin_written


@dataclass
class StepCount:
    """Rows into and out of one plan operator that changed the row count."""

    name: str
    rows_in: int
    rows_out: int


@dataclass
class RunSummary:
    """What a run read, kept, wrote and how long it took."""

    rows_read: int = 0
    rows_written: int = 0
    wall_s: float = 0.0
    steps: list[StepCount] = field(default_factory=list)
    writes: list[WriteResult] = field(default_factory=list)
    results: list[daft.DataFrame] = field(default_factory=list)
    explains: list[str] = field(default_factory=list)
    failures: dict[tuple[str, str], int] = field(default_factory=dict)
    stages: list[StageRun] = field(default_factory=list)
    run_id: str = ""
    ray_scan_rows: int = 0  # rows of Ray's anonymous scans (see absorb_metrics)
    funnel: Funnel = field(default_factory=Funnel)  # steps by view and predicate
    reads: dict[str, FileCount] = field(default_factory=dict)  # by file, once per run
    failure_examples: dict[tuple[str, str], str] = field(default_factory=dict)  # first seen
    statements: dict[int, str] = field(default_factory=dict)  # each action's title, by index
    udf_seconds: dict[str, float] = field(default_factory=dict)  # Daft's UDF operator times

    @property
    def docs_per_s(self) -> float:
        return self.rows_read / self.wall_s if self.wall_s > 0 else 0.0


def _stat(stats: Any, key: str) -> int | None:
    for k, v in stats or []:
        if k == key:
            return int(v["value"])
    return None


def absorb_metrics(summary: RunSummary, metrics: tuple[dict, ...]) -> None:
    """Fold Daft's operator stats into the summary: source rows and row-changing steps.

    In-memory scans (frames handed over by the caller) and a stage's spill are not reads: their
    rows were counted when they were read from the source. read_warc counts its own rows (Daft
    counts a source after the filters it fuses into it); on Ray every Python scan is named
    "ScanTaskSource", so those rows count only when no reader counted itself (see `execute`).
    """
    for op in metrics:
        rows_in, rows_out = _stat(op["stats"], "rows.in"), _stat(op["stats"], "rows.out")
        if op["name"].startswith("UDF ") and (us := _stat(op["stats"], "duration")):
            summary.udf_seconds[op["name"][4:]] = summary.udf_seconds.get(op["name"][4:], 0) \
                + us / 1e6  # the funnel's step times (see funnel_run.py)
        if op.get("category") == "Source":
            name = op["name"].replace(" ", "").removesuffix("Source")
            if name == "InMemoryScan" or SPILL_SOURCE in op["name"] \
                    or SELF_COUNTED in op["name"] or rows_out is None:
                continue
            if name == "ScanTask":
                summary.ray_scan_rows += rows_out
            else:
                summary.rows_read += rows_out
        elif rows_in is not None and rows_out is not None and rows_in != rows_out \
                and op.get("category") != "BlockingSink":
            summary.steps.append(StepCount(op["name"], rows_in, rows_out))


SPILL_SOURCE = "Read stage "  # how stage scans are named (see SpillScan)
SELF_COUNTED = SCAN_NAME  # read_warc counts the rows it delivers (metrics.record_rows_read)


# Parquet writes buffer a whole row group per open file: Daft's defaults (512 MB files of
# 128 MB row groups) cost gigabytes with wide rows. Daft sizes a row group by its estimate of
# the encoded bytes, so text decodes to ~3x the target: with 16 MB, a stage spilling 3 KB texts
# held 52 MB row groups and fineweb.sql peaked 200 MB higher on a 1 GB crawl than with 4 MB.
WRITE_FILE_BYTES = 128 << 20
WRITE_ROW_GROUP_BYTES = 4 << 20


def configure_process(options: dict[str, Any]) -> None:
    """Batch and write-buffer sizes for this process's Daft runs (see README, Memory), and
    the kernels' thread count (SET threads)."""
    threads.configure(options.get("threads"))
    config: dict[str, Any] = {"parquet_target_filesize": WRITE_FILE_BYTES,
                              "parquet_target_row_group_size": WRITE_ROW_GROUP_BYTES}
    if options.get("batch_rows"):
        config["default_morsel_size"] = options["batch_rows"]
    daft.set_execution_config(**config)


def explain_text(action: Action, daft_plans: bool = False) -> str:
    """An action's plan tree; with `daft_plans`, Daft's own logical and physical plans too."""
    text = action.plan.render()
    if daft_plans:
        buf = io.StringIO()
        action.df.explain(show_all=True, file=buf)
        text += "\n\n" + buf.getvalue()
    return text


@dataclass
class _Run:
    """What the actions of one run share: the program, where writes go, and its identity."""

    program: Program
    catalog: CatalogConfig
    info: RunInfo
    summary: RunSummary
    call: Callable[..., Any] | None  # how a stage's compute runs (Ray) or None (here)
    directory: Path
    resumable: Resumable  # what of the run is done (skipped on --resume), recorded as it goes

    def budget(self, action: Action) -> None:
        """The error budget of the action's sources, now that its rows flowed."""
        check_budget(action.sources(), option_value(self.program.options, "max_failed_fraction"),
                     failures.file_counts())

    def run_stages(self, action: Action) -> None:
        for stage in action.stages():
            if stage.rows.files is None:
                done = self.resumable.run_stage(stage, self.directory / f"stage-{stage.index}",
                                                self.call)
                absorb_metrics(self.summary, done.metrics)
                self.summary.stages.append(done)


@contextmanager
def _reading(action: Action) -> Iterator[None]:
    """A failure to read or run while a statement's rows flow is an error at the statement."""
    try:
        yield
    except (OSError, DaftCoreException) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise MdfqlError(f"{action.kind.replace('_', ' ')} failed: {first}", action.span,
                         "nothing of this statement was written") from e


def _query(run: _Run, action: Action) -> None:
    pin_written(action.sources(), run.catalog)
    with _reading(action):
        run.run_stages(action)
        result = action.df.collect()
    run.budget(action)
    absorb_metrics(run.summary, operator_metrics(result))
    run.summary.results.append(result)


def _skipped(target: Target, note: str, snapshot_id: int | None = None) -> WriteResult:
    return WriteResult(ident=target.name, rows_written=0, snapshot_id=snapshot_id,
                       mode=target.mode, note=note, skipped=True)


def _write(run: _Run, index: int, action: Action, target: Target) -> WriteResult:
    """Stage the action's write, check its budget, then commit it (or discard it and raise).

    An INSERT already committed over the same inputs is skipped (see provenance.py); a write
    whose result is empty because its inputs matched no file (on_missing_input = 'skip')
    keeps what the target holds."""
    sources = action.sources()
    pin_written(sources, run.catalog)
    statement = fingerprint(action, sources, run.program.options)
    idempotent = action.kind == "write_table" and target.mode == "append" and not target.scratch

    def committed() -> WriteResult | None:
        snapshot = committed_snapshot(target.name, run.catalog, FINGERPRINT, statement) \
            if idempotent else None
        if snapshot is None:
            return None
        return _skipped(target, f"skipped INSERT INTO {target.name}: the same statement over the "
                                f"same inputs is already in the table (snapshot {snapshot})",
                        snapshot)

    if (done := run.resumable.committed(index, action, target.name, run.catalog,
                                        statement)) is not None:
        return done
    if (done := committed()) is not None:
        return done
    with _reading(action):
        run.run_stages(action)
        staged: StagedWrite | StagedFiles
        if action.kind == "write_table":
            staged = stage_table(action.df, target.name, target.mode,  # type: ignore[arg-type]
                                 run.catalog, run.resumable.table_writer(index, action))
        else:
            staged = stage_files(action.df, target.name, action.fmt,  # type: ignore[arg-type]
                                 "replace", target.overwrite, run.summary.run_id,
                                 action.options)
    try:
        run.budget(action)
        if staged.rows == 0 and any(s.skipped for s in sources) and _holds_rows(staged):
            staged.discard()
            return _skipped(target, f"kept {target.name}: its inputs matched no file "
                                    "(on_missing_input = 'skip') and the result is empty")
        if (done := committed()) is not None:  # a concurrent run got there first
            staged.discard()
            return done
    except BaseException:
        staged.discard()
        raise
    if isinstance(staged, StagedWrite):
        written = staged.commit(snapshot_properties(run.info, action, sources, statement))
    else:
        written = staged.commit()
    run.resumable.record(index, action, written)
    return replace(written, note=target.note) if target.note else written


def _holds_rows(staged: StagedWrite | StagedFiles) -> bool:
    """Whether committing an empty result would empty something: an existing table being
    replaced, or a folder with an earlier COPY's files."""
    if isinstance(staged, StagedWrite):
        return not staged.created and staged.mode == "replace"
    return staged.mode == "replace" and bool(owned_files(staged.target))


def execute(
    program: Program,
    *,
    catalog: CatalogConfig,
    functions: Registry,
    runner: str | None = None,
    ray_address: str | None = None,
    on_action: Callable[[int, Action], None] | None = None,
    work_dir: str | Path | None = None,
    on_record: Callable[[RunRecord], None] | None = None,
    state_dir: str | Path | None = None,
    resume: str | bool | None = None,
) -> RunSummary:
    """Run every action of `program` in order; before each, the relational stages it reads
    that have not run yet. Queries are collected, writes committed atomically, each only when
    its sources kept within the error budget. Before anything runs, every source's files are
    listed and probed and every write's target is checked. Compile inside `use_runner` (see
    there) when the program is to run on Ray. What is done is recorded in the run's state
    under `work_dir` (kept) or `state_dir` (removed after success), else a temporary
    directory; `resume` (True: the latest unfinished run of the script, or a run id)
    finishes an interrupted run (see mdfql.resume). The run's record, failed or not, goes to
    the history table (mdfql.history) and to `on_record`."""
    kind = runner or program.options.get("runner") or "native"
    address = ray_address or program.options.get("ray.address")
    work_dir = work_dir or program.options.get("work_dir") or os.environ.get("MDFQL_WORK_DIR")
    summary = RunSummary(run_id=f"run-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}")
    configure_process(program.options)
    start = time.perf_counter()
    recorder = Recorder(program, catalog, summary, kind, on_record)
    for stage in program.stages():
        stage.reset()
    try:
        with failures.collecting(), use_runner(kind, address), \
                runstate.opened(program, work_dir, state_dir, resume) as states, \
                recorder.running():
            check_cluster(kind, program.used_functions, functions)
            resolve_inputs(program.sources(), option_value(program.options, "on_missing_input"))
            targets = plan_targets(program, catalog)
            state = states.begin(summary.run_id)  # a resumed run keeps its id (provenance.py)
            summary.run_id = state.run_id
            run = _Run(program, catalog, RunInfo.of(program, summary.run_id), summary,
                       ray_call if kind == "ray" else None, state.directory,
                       Resumable(state, [a.plan for a in program.actions]))
            tracker = FunnelRun(program, state.directory, summary.udf_seconds)
            with tracker.listening():
                for i, (action, target) in enumerate(zip(program.actions, targets)):
                    recorder.statement(i, action)
                    if on_action is not None:
                        on_action(i, action)
                    tracker.start(i, action)
                    if action.kind == "explain":
                        summary.explains.append(explain_text(action))
                    elif action.kind == "query":
                        _query(run, action)
                    elif target is not None:
                        try:
                            written = _write(run, i, action, target)
                        except SinkError as e:
                            raise MdfqlError(e.message, action.span, e.hint) from None
                        absorb_metrics(summary, written.metrics)
                        summary.rows_written += written.rows_written
                        summary.writes.append(written)
            summary.failures = failures.failures()  # inside: a Ray run's tally is still up
            summary.failure_examples = failures.failure_examples()
            summary.reads = failures.file_counts()
            summary.funnel, summary.statements = tracker.funnel(), tracker.titles
            if (rejects := tracker.commit_rejects(catalog, run.info)) is not None:
                summary.writes.append(rejects)
            counted = failures.rows_read()
            summary.rows_read += sum(counted.values()) if counted else summary.ray_scan_rows
    except runstate.Finished:
        raise  # `--resume` of a finished run: nothing ran, so there is no run to record
    except BaseException as e:
        if isinstance(e, MdfqlError):
            e.attach_source(program.text, program.filename)
        recorder.finish(e)
        raise
    finally:
        for stage in program.stages():
            stage.reset()  # its files go with the work directory
    summary.wall_s = time.perf_counter() - start
    recorder.finish()
    return summary
