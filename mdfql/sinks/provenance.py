"""What a commit records about the run that made it, and how a re-run recognises its own work.

Every Iceberg snapshot mdfql commits carries in its summary the run's id (unique per run), the
script (path and SHA-256), the parameters, the input files (how many, the SHA-256 of their
identities, the first names) and the statement's fingerprint. The fingerprint hashes what
decides the rows a statement writes: its target and mode, its plan (the EXPLAIN tree: views
expanded, parameters substituted, comments and formatting gone), the options that change
results, and the identity of every input (a file's path, size and modification time, a table's
snapshot). The same INSERT over the same inputs has the same fingerprint in every run, from any
script; `committed_snapshot` finds it in a table's history.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from mdfql.io.inputs import SourceInput
from mdfql.plan.program import Action, Program

PREFIX = "mdfql."
FINGERPRINT = PREFIX + "statement-fingerprint"
LISTED_INPUTS = 20  # input names kept in a summary (all of them are in the inputs hash)
# Options that change how a run goes, not the rows it writes.
_NOT_RESULTS = ("runner", "ray.", "threads", "batch_rows", "work_dir", "catalog.",
                "on_missing_input", "max_failed_fraction", "scratch_namespace", "funnel",
                "rejects")


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


@dataclass(frozen=True)
class RunInfo:
    """The run a commit belongs to."""

    run_id: str
    script: str
    script_sha256: str
    params: dict[str, Any]

    @classmethod
    def of(cls, program: Program, run_id: str) -> RunInfo:
        return cls(run_id, program.filename, _sha256(program.text), dict(program.params))


def _identities(sources: Iterable[SourceInput]) -> list[str]:
    return [f.identity() for s in sources for f in (s.files or [])]


def result_options(options: dict[str, Any]) -> dict[str, Any]:
    """The options set that change the rows a run writes."""
    return {k: v for k, v in options.items() if v is not None and not k.startswith(_NOT_RESULTS)}


def fingerprint(action: Action, sources: list[SourceInput], options: dict[str, Any]) -> str:
    """The statement's fingerprint over the resolved inputs (see the module doc)."""
    payload = {
        "target": action.target,
        "mode": action.mode,
        "plan": action.plan.render(),
        "options": result_options(options),
        "inputs": [[s.kind, list(s.patterns), [f.identity() for f in s.files or []]]
                   for s in sources],
    }
    return _sha256(_json(payload))


def snapshot_properties(run: RunInfo, action: Action, sources: list[SourceInput],
                        statement: str) -> dict[str, str]:
    """The summary properties of a commit of `action` in `run` (`statement`: its fingerprint)."""
    files = [f.path for s in sources for f in (s.files or [])]
    return {
        PREFIX + "run-id": run.run_id,
        PREFIX + "script": run.script,
        PREFIX + "script-sha256": run.script_sha256,
        PREFIX + "statement-line": str(action.span.line),
        PREFIX + "params": _json(run.params),
        PREFIX + "input-files": str(len(files)),
        PREFIX + "inputs-sha256": _sha256(_json(_identities(sources))),
        PREFIX + "inputs": _json(files[:LISTED_INPUTS]),
        FINGERPRINT: statement,
    }
