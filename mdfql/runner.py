"""Choosing where a plan runs (the native runner or Ray) and checking that it can run there."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import daft

from mdfql import metrics
from mdfql.errors import MdfqlError
from mdfql.functions.registry import Registry


def check_resources(used: Iterable[str], registry: Registry, available: dict[str, float]) -> None:
    """Fail up front when a function asks for more CPUs/GPUs than the cluster has.

    On Ray an unsatisfiable request waits forever instead of failing.
    """
    for name in sorted(used):
        spec = registry.get(name)
        if spec is None:
            continue
        res = spec.resources
        for kind, wanted in (("GPU", res.gpus), ("CPU", res.cpus)):
            have = available.get(kind, 0.0)
            if wanted and wanted > have:
                raise MdfqlError(
                    f"{spec.name}() asks for {wanted:g} {kind}(s) per worker but the Ray "
                    f"cluster has {have:g}",
                    hint="run on a cluster with enough resources, or use --runner native",
                )


@contextlib.contextmanager
def use_runner(kind: str, address: str | None) -> Iterator[None]:
    """Select Daft's runner for the duration of a run; a local Ray is started and stopped.

    Enter it before compiling: building a plan (a Parquet source reads its schema) fixes the
    process's runner, after which Daft cannot switch. Nested uses reuse the outer selection.
    On Ray, a tally actor collects the workers' row failures while the run lasts (read them
    with `metrics.failures()` before leaving the context)."""
    if kind == "native":
        if daft.get_or_infer_runner_type() != "native":
            raise MdfqlError("this process already runs on Ray; start a new one for --runner "
                             "native")
        yield
        return
    import ray

    started = False
    if not ray.is_initialized():
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        ray.init(address=address, include_dashboard=False, log_to_driver=False,
                 configure_logging=False)
        started = address is None
    tally = None
    try:
        daft.set_runner_ray(address=address, noop_if_initialized=True)
        if daft.get_or_infer_runner_type() != "ray":
            raise MdfqlError(
                "this process already ran Daft on the native runner, so it cannot switch to "
                "Ray", hint="choose the runner before anything runs: mdfql run --runner ray, "
                            "SET runner = 'ray' in the script, or a new Python process")
        tally = metrics.start_tally()
        yield
    finally:
        if tally is not None:
            ray.kill(tally)
        if started:
            ray.shutdown()


def check_cluster(kind: str, used: Iterable[str], registry: Registry) -> None:
    """On Ray, fail before running when a function asks for more than the cluster has."""
    if kind == "ray":
        import ray

        check_resources(used, registry, ray.cluster_resources())


def ray_call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run `fn` as a task on a worker of the Ray cluster (a relational stage's computation:
    it reads the spill, not rows from the driver) and wait for its result."""
    import ray

    return ray.get(ray.remote(num_cpus=1)(fn).remote(*args, **kwargs))
