"""Where each write of a run goes, checked before the first statement runs.

A trial run (`SET limit`, `mdfql run --limit N`) never writes over real output: table `ns.t` is
written as `<scratch_namespace>.ns_t` (replaced by the run's first write to it) and
`COPY ... TO 'dir'` goes to 'dir.limit'. Before anything runs, each target is checked: a CREATE
TABLE of a table that exists, and a COPY into a folder holding files no COPY wrote (without
OVERWRITE), are errors at their statements.
"""

from __future__ import annotations

from dataclasses import dataclass

from mdfql.errors import MdfqlError
from mdfql.options import option_value
from mdfql.plan.program import Action, Program
from mdfql.sinks.catalog import CatalogConfig, SinkError, parse_ident
from mdfql.sinks.files import check_target
from mdfql.sinks.iceberg import table_exists


@dataclass(frozen=True)
class Target:
    """Where one write goes: a table ident or a folder, its mode, and whether it is a trial
    run's stand-in for `requested`."""

    name: str
    mode: str
    requested: str
    scratch: bool = False
    overwrite: bool = False  # COPY (OVERWRITE)

    @property
    def note(self) -> str | None:
        if not self.scratch:
            return None
        return f"trial run (limit): wrote {self.name}, not {self.requested}"


def scratch_table(ident: str, namespace: str) -> str:
    ns, table = parse_ident(ident)
    return f"{namespace}.{ns}_{table}"


def plan_targets(program: Program, catalog: CatalogConfig) -> list[Target | None]:
    """Each action's target (None for queries and EXPLAIN), every one checked."""
    limited = program.options.get("limit") is not None
    scratch_ns = option_value(program.options, "scratch_namespace")
    seen: set[str] = set()
    targets: list[Target | None] = []
    for action in program.actions:
        try:
            targets.append(_target(action, catalog, limited, scratch_ns, seen))
        except SinkError as e:
            raise MdfqlError(e.message, action.span, e.hint) from None
    return targets


def _target(action: Action, catalog: CatalogConfig, limited: bool, scratch_ns: str,
            seen: set[str]) -> Target | None:
    requested = action.target or ""
    if action.kind == "write_table":
        parse_ident(requested)
        if limited:
            name = scratch_table(requested, scratch_ns)
            mode = "append" if name in seen else "replace"
            seen.add(name)
            return Target(name, mode, requested, scratch=True)
        if action.mode == "create" and requested not in seen and table_exists(requested, catalog):
            raise SinkError(
                f"table {requested} already exists",
                hint="use CREATE OR REPLACE TABLE to replace it, or INSERT INTO to add rows",
            )
        seen.add(requested)
        return Target(requested, action.mode or "append", requested)
    if action.kind == "write_files":
        overwrite = action.mode == "overwrite"
        name = requested.rstrip("/") + ".limit" if limited else requested
        check_target(name, overwrite)
        return Target(name, "replace", requested, scratch=limited, overwrite=overwrite)
    return None
