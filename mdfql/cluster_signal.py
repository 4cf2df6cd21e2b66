"""Cluster sizes of a run's clustering stages (`lsh_cluster(...) OVER ()`, ...) as a signal.

A clustering stage's result holds (row id, cluster) for the rows of clusters of two or more;
counting its clusters' sizes reads only that small result, after the stage ran. The signal
keeps a uniform sample of the sizes in `kept` (the model's dropped side stays empty) and the
number of such clusters in `count`.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mdfql.counting import SAMPLE_SIZE
from mdfql.funnel import Signal
from mdfql.plan.program import Program
from mdfql.plan.tree import PlanNode


def _view_of(program: Program, stage: object) -> str:
    """The view whose own query runs `stage` (not one it reads), else the stage's label."""
    for name, view in program.views.items():
        stack = list(view.plan.inputs)
        while stack:
            node: PlanNode = stack.pop()
            if node.stage is stage:
                return name
            if node.kind != "View":
                stack += node.inputs
    return getattr(stage, "label", "<query>")


def cluster_signals(program: Program) -> list[Signal]:
    """A signal per clustering stage that ran: its clusters' sizes."""
    found = []
    for stage in program.stages():
        if not stage.name.endswith("cluster") or stage.result.files is None:
            continue
        columns = [pq.read_table(f).column(1) for f in stage.result.files]
        if not columns:
            continue
        clusters = pa.chunked_array([c for col in columns for c in col.chunks])
        sizes = pc.value_counts(clusters).field("counts").to_numpy(zero_copy_only=False)
        sizes = sizes[sizes >= 2]
        sample = sizes if len(sizes) <= SAMPLE_SIZE else \
            np.random.default_rng(0).choice(sizes, SAMPLE_SIZE, replace=False)
        found.append(Signal(_view_of(program, stage), f"{stage.call_sql}: cluster size",
                            tuple(float(s) for s in sample), (), len(sizes)))
    return found
