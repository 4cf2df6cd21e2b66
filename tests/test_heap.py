"""Arrow's allocator: mdfql makes glibc's malloc the default pool (so a stage's end hands
Arrow's freed buffers back to the system), unless the user picked one."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = """
import sys
if sys.argv[1] == "pyarrow-first":
    import pyarrow
import mdfql
import pyarrow as pa
before = pa.system_memory_pool().bytes_allocated()
column = pa.array(range(100_000)).cast(pa.float64())  # a C++ kernel allocating by default
print(pa.default_memory_pool().backend_name,
      pa.system_memory_pool().bytes_allocated() - before >= 800_000)
"""


def _probe(order: str, pool: str | None = None) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    if pool:
        env["ARROW_DEFAULT_MEMORY_POOL"] = pool
    out = subprocess.run([sys.executable, "-c", PROBE, order], env=env, capture_output=True,
                         text=True, check=True)
    return out.stdout.split()


def test_import_makes_system_malloc_arrows_pool() -> None:
    assert _probe("mdfql-first") == ["system", "True"]


def test_pyarrow_imported_first_still_switches_pyarrows_pool() -> None:
    assert _probe("pyarrow-first")[0] == "system"


@pytest.mark.parametrize("pool", ["jemalloc", "mimalloc"])
def test_a_pool_the_user_chose_is_kept(pool: str) -> None:
    assert _probe("mdfql-first", pool)[0] == pool
