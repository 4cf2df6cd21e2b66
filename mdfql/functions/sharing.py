"""One computation of a costly call per query: a function's builder asks for its expression
through `shared(key, make)`, and while the compiler builds a call (`sharing`) the first request
for a key becomes a hidden column of the relation that later requests read back. So
`clip_score(image, caption)` and `aesthetic_score(clip_embed(image))` in one query run the image
tower once, whether they sit in WHERE, SELECT or both. Outside a compile, `make()` runs as is."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from daft import Expression

Sharer = Callable[[Hashable, Callable[[], Expression]], Expression]

_SHARER: ContextVar[Sharer | None] = ContextVar("mdfql_sharer", default=None)


def shared(key: Hashable, make: Callable[[], Expression]) -> Expression:
    """The expression for `key`: the column already holding it in the relation being
    compiled, else `make()` (kept there for the next request of the same key)."""
    sharer = _SHARER.get()
    return make() if sharer is None else sharer(key, make)


@contextmanager
def sharing(sharer: Sharer) -> Iterator[None]:
    """Route `shared` requests to `sharer` while a call is built."""
    token = _SHARER.set(sharer)
    try:
        yield
    finally:
        _SHARER.reset(token)
