"""Resumable execution: a run's stages and writes done piece by piece, each finished piece
recorded in the run's state (`mdfql.runstate`), so a run killed at any moment and started
again with `--resume` redoes only what was not finished and writes the same table.

Pieces, from coarse to fine:
- a statement whose write committed (recorded, or found in the table's snapshot history by
  this run's id and the statement's fingerprint: the kill may come between the two) is
  skipped, never committed twice;
- a relational stage whose spill and result are recorded is not run again;
- within a stage's spill and within a table write, a plan that can run per group of its input
  files (`mdfql.plan.split`) runs one group at a time; each group's output is written under a
  temporary name, moved into place, then recorded. A table write's groups are staged data
  files (nothing visible); the write still commits once, one snapshot, after every group.
A piece is recorded with the counts its input files gave (rows, records, failures), which a
resumed run counts again: the summary and the error budget see the whole input.

`MDFQL_KILL_AT=<point>` makes the process SIGKILL itself at a named point (tests): after group
k of a spill (`stage-1/rows/k`) or of a write (`write-3/k`, 3 the statement's index), after a
stage's compute (`stage-1/computed`, not yet recorded) or once recorded (`stage-1/done`), when
a write is staged (`write-3/staged`) or committed but not yet recorded (`write-3/committed`).
"""

from __future__ import annotations

import os
import pickle
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import daft
from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError

from mdfql import metrics, threads
from mdfql.plan.program import Action
from mdfql.plan.split import Feed, feed_of, groups, stage_input, with_group_ids
from mdfql.plan.stages import RelationalStage, StageRun, spilled_rows
from mdfql.plan.tree import PlanNode
from mdfql.runstate import RunState, write_atomically
from mdfql.sinks.catalog import CatalogConfig, open_catalog
from mdfql.sinks.iceberg import FileWriter, WriteResult, stage_data_files
from mdfql.sinks.provenance import FINGERPRINT, PREFIX

KILL_AT = "MDFQL_KILL_AT"
# Input files per group: enough groups that a kill loses little (at most 1/16 of a stage's
# input plus the group in flight), and at least as many files as the machine has cores (at
# least 2): Daft reads one scan task per file, and each group's run starts and drains once.
MAX_GROUPS = 16
MIN_GROUP_FILES = 2

Writer = Callable[[daft.DataFrame, int], tuple[list[str], list[dict]]]


def checkpoint(point: str) -> None:
    """Test hook: SIGKILL this process when `point` is the one $MDFQL_KILL_AT names."""
    if os.environ.get(KILL_AT) == point:
        os.kill(os.getpid(), signal.SIGKILL)


def group_files(n_files: int) -> int:
    """Files per group for an input of `n_files` files."""
    cores = threads.process_cpus()[0]
    return max(MIN_GROUP_FILES, cores, -(-n_files // MAX_GROUPS))


def merge_metrics(runs: list[list[dict]]) -> list[dict]:
    """Daft's operator stats of the groups of one plan as one run's: the same operators in
    the same order, their numeric stats summed (else all operators, one after another)."""
    runs = [list(r) for r in runs if r]
    if not runs:
        return []
    if any([op.get("name") for op in r] != [op.get("name") for op in runs[0]] for r in runs):
        return [op for r in runs for op in r]
    merged = []
    for ops in zip(*runs):
        stats: dict[str, dict] = {}
        for op in ops:
            for key, value in op.get("stats") or []:
                seen = stats.get(key)
                if seen is None:
                    stats[key] = dict(value)
                elif isinstance(seen.get("value"), int | float) \
                        and isinstance(value.get("value"), int | float):
                    seen["value"] += value["value"]
        merged.append({**ops[0], "stats": [[k, v] for k, v in stats.items()]})
    return merged


def _plain(ops: tuple[dict, ...] | list[dict]) -> list[dict]:
    """Operator stats as JSON keeps them (tuples become lists; nothing else changes)."""
    return [{**op, "stats": [list(s) for s in op.get("stats") or []]} for op in ops]


def _counts(paths: list[str], before: dict[tuple[str, str], int]) -> dict[str, Any]:
    """What reading `paths` counted: rows/records/failed by file, failures since `before`."""
    files = metrics.file_counts()
    now = metrics.failures()
    return {
        "files": {p: [files[p].rows, files[p].records, files[p].failed]
                  for p in paths if p in files},
        "failed": [[stage, reason, n - before.get((stage, reason), 0)]
                   for (stage, reason), n in now.items() if n > before.get((stage, reason), 0)],
    }


def _write_pickle(path: Path, value: Any) -> None:
    write_atomically(path, lambda handle: pickle.dump(value, handle), binary=True)


@dataclass
class Resumable:
    """Runs a program's stages and writes through its RunState (see the module doc)."""

    state: RunState
    plans: list[PlanNode]  # every action's plan tree (where each stage's input is found)
    # records whose counts this run counted again (each once: failures add up)
    _restored: set[str] = field(default_factory=set)
    _started: dict[tuple[str, str], int] = field(default_factory=dict)  # at the statement

    def _restore(self, key: str, counts: dict[str, Any]) -> None:
        """Count again what the finished work recorded under `key` counted."""
        if key in self._restored:
            return
        self._restored.add(key)
        metrics.restore_counts(
            {p: metrics.FileCount(*c) for p, c in counts["files"].items()},
            {(stage, reason): n for stage, reason, n in counts["failed"]})

    def _pieces(self, key: str) -> dict[str, Any]:
        """The recorded groups under `key`, by record key."""
        record = self.state.get(key) or {"groups": {}}
        return {f"{key}/{i}": piece for i, piece in record["groups"].items()}

    def _groups(self, key: str, feed: Feed, positional: bool, plan: daft.DataFrame,
                write: Writer, base: Any = None) -> tuple[list[str], list[dict]]:
        """Run `plan` per group of `feed`'s files, skipping groups recorded under `key` (when
        recorded over the same `base`); `write(plan, i)` -> (output files, stats)."""
        paths = feed.files()
        record = self.state.get(key)
        if record is None or record.get("base") != base:
            record = {"base": base, "size": group_files(len(paths)), "groups": {}}
        size = record["size"]  # as recorded: a resume on a machine with more cores keeps it
        outputs, stats = [], []
        for i, group in enumerate(groups(paths, size)):
            piece = record["groups"].get(str(i))
            if piece is not None and piece["inputs"] == group:
                self._restore(f"{key}/{i}", piece["counts"])
            else:
                before, start = metrics.failures(), time.perf_counter()
                with feed.narrowed(group):
                    files, ops = write(with_group_ids(plan, i) if positional else plan, i)
                piece = {"inputs": group, "outputs": files, "metrics": _plain(ops),
                         "counts": _counts(group, before),
                         "wall_s": round(time.perf_counter() - start, 3)}
                record["groups"][str(i)] = piece
                self.state.put(key, record)
                checkpoint(f"{key}/{i}")
            outputs += piece["outputs"]
            stats.append(piece["metrics"])
        return outputs, merge_metrics(stats)

    # --- stages -----------------------------------------------------------------------------
    def run_stage(self, stage: RelationalStage, directory: Path,
                  call: Callable[..., Any] | None) -> StageRun:
        """Run `stage` under `directory`, or take its recorded spill and result."""
        key = f"stage-{stage.index}"
        done = self.state.get(key)
        if done is not None:
            stage.rows.files, stage.result.files = done["rows"], done["result"]
            self._restore(key, done["counts"])
            for name, piece in self._pieces(f"{key}/rows").items():
                self._restore(name, piece["counts"])  # a spill that ran per group
            return StageRun(stage.label, stage.call_sql, done["spilled"], done["found"],
                            done["wall_s"], tuple(done["metrics"]))
        start = time.perf_counter()
        rows = directory / "rows"
        node = stage_input(stage, self.plans)
        fed = feed_of(node, stage.spill_plan) if node is not None else None
        counts: dict[str, Any] = {"files": {}, "failed": []}
        if fed is None:
            shutil.rmtree(rows, ignore_errors=True)  # a whole spill cut short
            before = metrics.failures()
            files, ops = stage.spill(rows)
            stats = _plain(ops)
            counts = _counts([f.path for s in (node.sources() if node else []) for f in
                              s.files or []], before)
        else:
            feed, positional = fed
            files, stats = self._groups(f"{key}/rows", feed, positional, stage.spill_plan,
                                        lambda plan, i: self._spill_group(stage, rows, plan, i))
            self._sweep(rows, files)
        stage.rows.files = files
        for partial in ("result", "side"):
            shutil.rmtree(directory / partial, ignore_errors=True)
        found = stage.compute(directory, call)
        checkpoint(f"{key}/computed")
        wall = time.perf_counter() - start
        self.state.put(key, {"rows": files, "result": stage.result.files,
                             "spilled": spilled_rows(files), "found": found, "wall_s": wall,
                             "metrics": stats, "counts": counts})
        checkpoint(f"{key}/done")
        return StageRun(stage.label, stage.call_sql, spilled_rows(files), found, wall,
                        tuple(stats))

    @staticmethod
    def _spill_group(stage: RelationalStage, rows: Path, plan: daft.DataFrame, i: int
                     ) -> tuple[list[str], tuple[dict, ...]]:
        """Spill one group: written under a temporary folder, then moved into `rows`."""
        tmp = rows / f".g{i:04d}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        files, ops = stage.spill(tmp, plan)
        moved = []
        for j, path in enumerate(files):
            moved.append(str(rows / f"g{i:04d}-{j:03d}.parquet"))
            os.replace(path, moved[-1])
        shutil.rmtree(tmp, ignore_errors=True)
        return moved, ops

    @staticmethod
    def _sweep(rows: Path, kept: list[str]) -> None:
        """Remove what interrupted groups left in `rows` (files no record names)."""
        names = {Path(f).name for f in kept}
        for path in rows.iterdir():
            if path.name not in names:
                shutil.rmtree(path) if path.is_dir() else path.unlink()

    # --- writes -----------------------------------------------------------------------------
    def table_writer(self, index: int, action: Action) -> FileWriter:
        """How statement `index` stages its table's data files: per group of its input files
        (recorded, see the module doc), or all at once when its plan cannot split."""
        fed = feed_of(action.plan, action.df)
        key = f"write-{index}"

        def write_files(df: daft.DataFrame, table: Any, txn: Any) -> tuple[list, tuple]:
            if fed is None:
                data_files, stats = stage_data_files(df, table, txn)
            else:
                data_files, stats = self._table_groups(key, *fed, df, table, txn)
            checkpoint(f"{key}/staged")
            return data_files, stats

        return write_files

    def _table_groups(self, key: str, feed: Feed, positional: bool, df: daft.DataFrame,
                      table: Any, txn: Any) -> tuple[list, tuple]:
        # Data files carry the field ids of the table as this transaction leaves it: those
        # recorded over another table state would not fit (then all groups run again).
        meta = txn.table_metadata
        current = meta.current_snapshot()
        base = [table.metadata_location if current is not None else None,
                current.snapshot_id if current is not None else None,
                meta.current_schema_id, meta.last_column_id, meta.location]
        folder = self.state.directory / key
        folder.mkdir(parents=True, exist_ok=True)

        def write(plan: daft.DataFrame, i: int) -> tuple[list[str], tuple[dict, ...]]:
            data_files, ops = stage_data_files(plan, table, txn)
            path = folder / f"g{i:04d}.pickle"
            _write_pickle(path, data_files)
            return [str(path)], ops

        outputs, stats = self._groups(key, feed, positional, df, write, base)
        data_files = []
        for path in outputs:
            with open(path, "rb") as handle:
                data_files += pickle.load(handle)
        return data_files, tuple(stats)

    def committed(self, index: int, action: Action, target: str, catalog: CatalogConfig,
                  statement: str) -> WriteResult | None:
        """The write of statement `index` when this run already committed it: recorded, or
        (killed right after its commit) a snapshot of `target` with this run's id and the
        statement's fingerprint. What it counted is counted again."""
        self._started = metrics.failures()
        done = self.state.get(f"action-{index}")
        if done is not None:
            self._restore(f"action-{index}", done["counts"])
            # everything below was counted in the statement's own counts
            for stage in action.stages():
                self._restored |= {f"stage-{stage.index}",
                                   *self._pieces(f"stage-{stage.index}/rows")}
            self._restored |= set(self._pieces(f"write-{index}"))
            return WriteResult(done["ident"], done["rows_written"], done["snapshot_id"],
                               done["mode"], skipped=True,
                               note=f"{target}: committed before the run was interrupted "
                                    f"(snapshot {done['snapshot_id']})")
        snapshot = self._snapshot(target, catalog, statement)
        if snapshot is None:
            return None
        for stage in action.stages():  # the statement's own counts were not recorded
            key = f"stage-{stage.index}"
            if (record := self.state.get(key)) is not None:
                self._restore(key, record["counts"])
            for name, piece in self._pieces(f"{key}/rows").items():
                self._restore(name, piece["counts"])
        for name, piece in self._pieces(f"write-{index}").items():
            self._restore(name, piece["counts"])
        return WriteResult(target, 0, snapshot, "", skipped=True,
                           note=f"{target}: committed before the run was interrupted "
                                f"(snapshot {snapshot})")

    def _snapshot(self, target: str, catalog: CatalogConfig, statement: str) -> int | None:
        """A snapshot of `target` this (resumed) run committed for `statement`, if any."""
        if not self.state.resumed:
            return None
        try:
            table = open_catalog(catalog).load_table(target)
        except (NoSuchTableError, NoSuchNamespaceError):
            return None
        for snapshot in table.metadata.snapshots:
            found = snapshot.summary.additional_properties if snapshot.summary else {}
            if found.get(PREFIX + "run-id") == self.state.run_id \
                    and found.get(FINGERPRINT) == statement:
                return snapshot.snapshot_id
        return None

    def record(self, index: int, action: Action, written: WriteResult) -> None:
        """Statement `index` committed `written`; with it, what the statement counted."""
        checkpoint(f"write-{index}/committed")
        paths = [f.path for s in action.sources() for f in s.files or []]
        self.state.put(f"action-{index}", {"ident": written.ident,
                                           "rows_written": written.rows_written,
                                           "snapshot_id": written.snapshot_id,
                                           "mode": written.mode,
                                           "counts": _counts(paths, self._started)})
