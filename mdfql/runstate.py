"""A run's durable state: what it is (script, parameters, options, input files) and what of
it is done, in `<work dir>/<run id>/state.json`, so that `mdfql run --resume` can finish it.

The manifest is rewritten whole after each finished piece of work (temp file, fsync, rename),
so a process killed at any moment leaves the previous or the next version, never a torn one.
A resume is refused, saying what changed, when the script's text, its parameters, the options
that change results or its input files (path, size, modification time) differ from the run
it would finish: the work already done would not be the work asked for.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from mdfql.errors import MdfqlError
from mdfql.plan.program import Program
from mdfql.sinks.provenance import result_options

STATE = "state.json"
LOCK = "lock"
VERSION = 1
RUNNING, DONE = "running", "done"


def identity(program: Program) -> dict[str, Any]:
    """What makes a resumed run the same run: the script, parameters, options, inputs."""
    script = program.filename
    if script != "<sql>":
        script = str(Path(script).resolve())
    return {
        "script": script,
        "script_sha256": hashlib.sha256(program.text.encode()).hexdigest(),
        "params": {k: str(v) for k, v in program.params.items()},
        "options": {k: str(v) for k, v in result_options(program.options).items()},
        # by the source's place in the script: its call changes with its parameters
        "inputs": {str(i): [f.identity() for f in s.files or []]
                   for i, s in enumerate(program.sources())},
    }


TABLE_INPUT = "iceberg://"  # how a table input is named (mdfql.sinks.iceberg.read_table)


def _by_name(identities: list[str]) -> Iterator[tuple[str, str]]:
    """(name, identity) of each input: a file's path, a table's name (its snapshot aside)."""
    for identity_ in identities:
        path = identity_.rsplit("|", 2)[0]
        yield (path.rsplit("@", 1)[0] if path.startswith(TABLE_INPUT) else path), identity_


def _snapshot(identity_: str) -> str:
    return identity_.rsplit("|", 2)[0].rsplit("@", 1)[-1]


def changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What differs between two identities, in words (empty when they are the same run)."""
    found = []
    if old["script_sha256"] != new["script_sha256"]:
        found.append(f"the script {new['script']} changed since the run started")
    for kind in ("params", "options"):
        for key in sorted(set(old[kind]) | set(new[kind])):
            was, now = old[kind].get(key), new[kind].get(key)
            if was != now:
                name = f"${key}" if kind == "params" else key
                found.append(f"{'parameter' if kind == 'params' else 'option'} {name} was "
                             f"{was!r}, now {now!r}")
    for source in sorted(set(old["inputs"]) | set(new["inputs"])):
        was = dict(_by_name(old["inputs"].get(source, [])))
        now = dict(_by_name(new["inputs"].get(source, [])))
        added = sorted(set(now) - set(was))
        gone = sorted(set(was) - set(now))
        changed = sorted(p for p in set(was) & set(now) if was[p] != now[p])
        tables = [p for p in changed if p.startswith(TABLE_INPUT)]
        for table in tables:  # a table the script reads was written since (by this run?)
            found.append(f"table {table.removeprefix(TABLE_INPUT)} changed (snapshot "
                         f"{_snapshot(was[table])}, now {_snapshot(now[table])})")
        changed = [p for p in changed if p not in tables]
        for words, paths in (("new input file", added), ("input file gone", gone),
                             ("input file changed (size or modification time)", changed)):
            if paths:
                shown = ", ".join(paths[:3]) + (f" and {len(paths) - 3} more"
                                                if len(paths) > 3 else "")
                found.append(f"{words}: {shown}")
    return list(dict.fromkeys(found))  # a file two sources read is said once


def write_atomically(path: Path, dump: Callable[[IO[Any]], None], binary: bool = False) -> None:
    """Replace `path` with what `dump` writes, atomically and durably (a reader, or a run
    resumed after a kill, sees the old or the new file, never a part)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb" if binary else "w", encoding=None if binary else "utf-8") as handle:
        dump(handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _write_json(path: Path, value: Any) -> None:
    write_atomically(path, lambda handle: json.dump(value, handle, default=str))


@dataclass
class RunState:
    """One run's directory and manifest. `resumed`: it finishes an interrupted run."""

    directory: Path
    manifest: dict[str, Any]
    resumed: bool = False
    keep: bool = True  # keep the directory after a successful run (an explicit work dir)
    done: dict[str, Any] = field(init=False)
    _lock: IO[str] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.done = self.manifest.setdefault("done", {})

    @property
    def run_id(self) -> str:
        return self.manifest["run_id"]

    def get(self, key: str) -> Any:
        return self.done.get(key)

    def put(self, key: str, value: Any) -> None:
        """Record `key` as done with `value` (durably, before returning)."""
        self.done[key] = value
        self.save()

    def lock(self) -> None:
        """Hold the run's lock while this process runs it (released when the process ends,
        killed or not): a run still going is never resumed by another process."""
        handle = open(self.directory / LOCK, "a")  # noqa: SIM115 (held for the process)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise MdfqlError(f"cannot resume {self.run_id}: it is still running in another "
                             "process", hint="wait for it, or stop it first") from None
        self._lock = handle

    def save(self) -> None:
        _write_json(self.directory / STATE, self.manifest)

    def finish(self) -> None:
        """The run succeeded. Unless the directory is to be kept, its spills go and only its
        identity stays (a few hundred bytes: a `--resume` after a kill that came once the work
        was done says so), replacing the last finished run of the script."""
        self.manifest["status"] = DONE
        self.manifest["finished"] = time.time()
        if not self.keep:
            self.manifest.pop("done", None)
        self.save()  # first: a kill while the spills go leaves a finished run
        if not self.keep:
            for path in self.directory.iterdir():
                if path.name not in (STATE, LOCK):
                    shutil.rmtree(path) if path.is_dir() else path.unlink()
            for other in _runs(self.directory.parent, self.manifest["script"]):
                if other["status"] == DONE and other["run_id"] != self.run_id:
                    shutil.rmtree(self.directory.parent / other["run_id"], ignore_errors=True)
        if self._lock is not None:
            self._lock.close()
            self._lock = None


def default_state_dir(warehouse: str | None) -> Path:
    """Where `mdfql run` keeps run state by default: `.<warehouse name>-runs` next to a local
    warehouse, else `./.mdfql-runs`."""
    if warehouse and "://" not in warehouse.removeprefix("file://"):
        where = Path(warehouse.removeprefix("file://"))
        return where.parent / f".{where.name}-runs"
    return Path(".mdfql-runs").resolve()


def start(base: Path, program: Program, run_id: str, keep: bool) -> RunState:
    """A new run's state under `base/run_id`."""
    directory = base / run_id
    directory.mkdir(parents=True, exist_ok=True)
    manifest = {"version": VERSION, "run_id": run_id, "status": RUNNING,
                "started": time.time(), **identity(program)}
    state = RunState(directory, manifest, keep=keep)
    state.lock()
    state.save()
    return state


class Finished(Exception):
    """`--resume` found the run finished: there is nothing to do (not an error)."""


def _runs(base: Path, script: str) -> list[dict[str, Any]]:
    """The manifests of `script`'s runs under `base`, oldest first."""
    found = []
    for path in base.glob(f"*/{STATE}"):
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if manifest.get("script") == script:
            found.append(manifest)
    return sorted(found, key=lambda m: m.get("started", 0))


def _finished(manifest: dict[str, Any]) -> Finished:
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(manifest.get("finished", 0)))
    return Finished(f"nothing to resume: run {manifest['run_id']} of {manifest['script']} "
                    f"finished at {when}")


def resume(base: Path, program: Program, run_id: str | None, keep: bool) -> RunState:
    """The state of the run to finish: `run_id`, else the latest run of the same script under
    `base`. Raises an MdfqlError when there is none or it ran something else, `Finished` when
    it finished."""
    now = identity(program)
    if run_id is not None:
        path = base / run_id / STATE
        if not path.is_file():
            raise MdfqlError(f"cannot resume {run_id}: no run state at {path}",
                             hint="run without --resume to start a new run")
        manifest = json.loads(path.read_text(encoding="utf-8"))
    else:
        runs = _runs(base, now["script"])
        if not runs:
            raise MdfqlError(f"nothing to resume: no run of {now['script']} under {base}",
                             hint="run without --resume to start a new run")
        manifest = runs[-1]
    if manifest.get("status") == DONE:
        raise _finished(manifest)
    if manifest.get("version") != VERSION:
        raise MdfqlError(f"cannot resume {manifest.get('run_id')}: its state is from another "
                         "mdfql version", hint="run without --resume to start a new run")
    changed = changes(manifest, now)
    if manifest.get("script") != now["script"]:
        changed.insert(0, f"it ran {manifest.get('script')}, not {now['script']}")
    if changed:
        raise MdfqlError(
            f"cannot resume {manifest['run_id']}: " + "; ".join(changed),
            hint="restore what changed to resume, or run without --resume to start over "
                 f"(remove {base / manifest['run_id']} to free its space)")
    state = RunState(base / manifest["run_id"], manifest, resumed=True, keep=keep)
    state.lock()
    return state


@dataclass
class RunStates:
    """Where a run's state goes; `begin` opens it once the run's inputs are resolved (its
    identity includes them)."""

    program: Program
    base: Path
    keep: bool
    resume_run: str | bool | None
    state: RunState | None = None

    def begin(self, run_id: str) -> RunState:
        """A new run's state under `base/run_id`, or (resuming) the interrupted run's: raises
        an MdfqlError when there is none or it ran something else."""
        if self.resume_run:
            run = self.resume_run if isinstance(self.resume_run, str) else None
            self.state = resume(self.base, self.program, run, self.keep)
        else:
            self.state = start(self.base, self.program, run_id, self.keep)
        return self.state


@contextmanager
def opened(program: Program, work_dir: str | Path | None = None,
           state_dir: str | Path | None = None, resume_run: str | bool | None = None
           ) -> Iterator[RunStates]:
    """The run's state for the block, under `work_dir` (kept after the run), else `state_dir`
    (removed after a successful run, kept for `--resume` after a failed or killed one), else
    a temporary directory (removed when the block ends: such a run cannot be resumed).
    `resume_run`: True for the latest unfinished run of the script, or a run id."""
    base = work_dir if work_dir is not None else state_dir
    if base is None:
        if resume_run:
            raise MdfqlError("--resume needs a durable work directory",
                             hint="pass --work-dir, SET work_dir or $MDFQL_WORK_DIR")
        with tempfile.TemporaryDirectory(prefix="mdfql-") as tmp:
            yield RunStates(program, Path(tmp), False, None)
        return
    states = RunStates(program, Path(base), work_dir is not None, resume_run)
    yield states
    if states.state is not None:
        states.state.finish()
