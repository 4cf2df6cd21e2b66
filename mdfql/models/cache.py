"""The per-process model cache every model family shares: a model is loaded once per process
and configuration (the worker's copy that all UDF instances and functions of that
configuration use), under a lock so concurrent first calls load it once. Each family's module
holds its cache as `CACHE`; tests wrap `CACHE.load` to count the loads that reach the disk."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
M = TypeVar("M")


class ModelCache(Generic[K, M]):
    """Models by configuration key, each built by `load(key)` on its first use."""

    def __init__(self, load: Callable[[K], M]) -> None:
        self.load = load  # how a model is built from its key (reads its weights)
        self._models: dict[K, M] = {}
        self._lock = threading.Lock()

    def get(self, key: K) -> M:
        """The model for `key`, loaded now if this process has not loaded it yet."""
        with self._lock:
            if key not in self._models:
                self._models[key] = self.load(key)
            return self._models[key]

    def loaded(self) -> dict[K, M]:
        """The models loaded so far (tests read their counters)."""
        with self._lock:
            return dict(self._models)
