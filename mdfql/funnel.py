"""What a run's steps kept and dropped: the funnel, the signals it computed, and examples.

The data model the run summary, the run history and the HTML report share. Counters fill it
while rows flow (see the executor); everything here is plain data, JSON-serialisable with
`as_dict`, so a run's record can be stored and a report rendered from it later.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class FunnelStep:
    """One predicate of one view in one statement: the rows it saw and the rows it kept.

    `statement` is the index of the action whose rows flowed (a view read by two statements
    runs, and counts, once for each); `view` the view's name (or "<query>" for a statement's
    own SELECT); `predicate` the SQL text of one WHERE conjunct (or "QUALIFY ...", "HAVING
    ...", or a relational operator such as "lsh_cluster(...) OVER ()"). Conjuncts count in
    order: a row dropped by the first is not seen by the second."""

    statement: int
    view: str
    predicate: str
    rows_in: int
    rows_out: int
    seconds: float = 0.0  # time spent computing this step's expressions, where known

    @property
    def dropped(self) -> int:
        return self.rows_in - self.rows_out


@dataclass(frozen=True)
class Signal:
    """A numeric value the pipeline computed and a predicate tested (e.g. `lid.score` of view
    `in_language`): a uniform sample of its values among the rows kept and those dropped."""

    view: str
    name: str  # the expression's SQL text
    kept: tuple[float, ...] = ()
    dropped: tuple[float, ...] = ()
    count: int = 0  # values seen in all (the samples hold at most a bounded number)


@dataclass(frozen=True)
class Example:
    """One row a step kept or dropped, cut to a preview (url/id and the start of the text)."""

    statement: int
    view: str
    predicate: str
    kept: bool
    fields: dict[str, str] = field(default_factory=dict)


@dataclass
class Funnel:
    """All of a run's steps, signals and examples, in the order they ran."""

    steps: list[FunnelStep] = field(default_factory=list)
    signals: list[Signal] = field(default_factory=list)
    examples: list[Example] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Funnel:
        return cls(
            steps=[FunnelStep(**s) for s in data.get("steps", [])],
            signals=[Signal(**{**s, "kept": tuple(s.get("kept", ())),
                               "dropped": tuple(s.get("dropped", ()))})
                     for s in data.get("signals", [])],
            examples=[Example(**e) for e in data.get("examples", [])],
        )
