"""Where mdfql's Iceberg tables live: catalog settings, their resolution and opened catalogs.

Settings come, strongest first, from explicit arguments, from `SET catalog.<key> = ...` options in
the SQL, from the environment (`MDFQL_CATALOG_URI`, `MDFQL_WAREHOUSE`) and from defaults: a SQLite
catalog at `<warehouse>/catalog.db` over a `./warehouse` folder of the current directory.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pyiceberg.catalog import Catalog, load_catalog
from pyiceberg.exceptions import NamespaceAlreadyExistsError
from requests.exceptions import RequestException

CatalogKind = Literal["sql", "rest"]

ENV_URI = "MDFQL_CATALOG_URI"
ENV_WAREHOUSE = "MDFQL_WAREHOUSE"
OPTION_PREFIX = "catalog."
_NAME_PART = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_URI_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


class SinkError(Exception):
    """A table or output cannot be written or read as asked; `hint` suggests a fix."""

    def __init__(self, message: str, hint: str | None = None, candidates: tuple[str, ...] = ()):
        super().__init__(message if hint is None else f"{message} ({hint})")
        self.message = message
        self.hint = hint
        self.candidates = candidates


class CatalogUnreachable(SinkError):
    """The catalog server (or database) cannot be reached at all."""


def _check_kind(kind: str) -> None:
    if kind not in ("sql", "rest"):
        raise SinkError(f"unknown catalog kind {kind!r}", hint="use 'sql' or 'rest'")


@dataclass(frozen=True)
class CatalogConfig:
    """An Iceberg catalog: `kind` "sql" (SQLAlchemy URI) or "rest" (http(s) URI).

    `warehouse` is an absolute local path or a URI (s3://...); `properties` pass through to
    pyiceberg's `load_catalog` unchanged (e.g. `s3.endpoint`, `token`).
    """

    uri: str
    warehouse: str | None
    name: str = "mdfql"
    kind: CatalogKind = "sql"
    properties: tuple[tuple[str, str], ...] = field(default=())

    def __post_init__(self) -> None:
        _check_kind(self.kind)
        is_http = self.uri.startswith(("http://", "https://"))
        if self.kind == "rest" and not is_http:
            raise SinkError(f"a rest catalog needs an http(s):// uri, got {self.uri!r}")
        if self.kind == "sql" and (is_http or not _URI_SCHEME.match(self.uri)):
            raise SinkError(
                f"a sql catalog needs a SQLAlchemy uri such as sqlite:///path/catalog.db, "
                f"got {self.uri!r}",
                hint="set catalog.kind = 'rest' for an http(s) catalog",
            )

    @classmethod
    def resolve(
        cls,
        uri: str | None = None,
        warehouse: str | None = None,
        name: str | None = None,
        kind: CatalogKind | None = None,
        options: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
        **properties: str,
    ) -> CatalogConfig:
        """Build a config from explicit args > SQL `catalog.*` options > env > defaults.

        Option keys other than `catalog.uri/warehouse/name/kind` (e.g. `catalog.s3.endpoint`)
        become pyiceberg properties, under explicit `properties`.
        """
        options = dict(options or {})
        env = os.environ if env is None else env

        def pick(explicit: str | None, key: str, env_key: str | None = None) -> str | None:
            if explicit is not None:
                return explicit
            if OPTION_PREFIX + key in options:
                return options[OPTION_PREFIX + key]
            return env.get(env_key) if env_key else None

        kind_value = pick(kind, "kind") or "sql"
        _check_kind(kind_value)
        warehouse_value = pick(warehouse, "warehouse", ENV_WAREHOUSE)
        if warehouse_value is None and kind_value == "sql":
            warehouse_value = "warehouse"
        if warehouse_value is not None and not _URI_SCHEME.match(warehouse_value):
            warehouse_value = str(Path(warehouse_value).expanduser().resolve())
        uri_value = pick(uri, "uri", ENV_URI)
        if uri_value is None:
            if kind_value == "rest":
                raise SinkError(
                    "a rest catalog needs a uri",
                    hint=f"SET catalog.uri = 'https://...' or set {ENV_URI}",
                )
            if warehouse_value is None or _URI_SCHEME.match(warehouse_value):
                raise SinkError(
                    f"no default catalog uri for a remote warehouse {warehouse_value!r}",
                    hint=f"SET catalog.uri = 'sqlite:///...' or set {ENV_URI}",
                )
            uri_value = f"sqlite:///{warehouse_value}/catalog.db"
        named = {OPTION_PREFIX + k for k in ("uri", "warehouse", "name", "kind")}
        props = {
            k[len(OPTION_PREFIX) :]: v
            for k, v in options.items()
            if k.startswith(OPTION_PREFIX) and k not in named
        }
        props.update(properties)
        return cls(
            uri=uri_value,
            warehouse=warehouse_value,
            name=pick(name, "name") or "mdfql",
            kind=kind_value,  # type: ignore[arg-type]  # validated in __post_init__
            properties=tuple(sorted(props.items())),
        )

    def load_properties(self) -> dict[str, str]:
        """The properties handed to pyiceberg's `load_catalog`."""
        props = {"type": self.kind, "uri": self.uri, **dict(self.properties)}
        if self.warehouse is not None:
            local = not _URI_SCHEME.match(self.warehouse)
            props["warehouse"] = Path(self.warehouse).as_uri() if local else self.warehouse
        return props


_catalogs: dict[CatalogConfig, Catalog] = {}
_catalogs_lock = threading.Lock()


def open_catalog(config: CatalogConfig) -> Catalog:
    """The pyiceberg catalog for `config`, opened once per config and process.

    A local warehouse folder (and the folder of a local SQLite catalog file) is created first.
    """
    with _catalogs_lock:
        catalog = _catalogs.get(config)
        if catalog is None:
            if config.warehouse is not None and not _URI_SCHEME.match(config.warehouse):
                Path(config.warehouse).mkdir(parents=True, exist_ok=True)
            if config.uri.startswith("sqlite:///"):
                sqlite_path = config.uri[len("sqlite:///") :].split("?", 1)[0]
                if sqlite_path and sqlite_path != ":memory:":
                    Path(sqlite_path).parent.mkdir(parents=True, exist_ok=True)
            try:
                catalog = load_catalog(config.name, **config.load_properties())
            except (OSError, RequestException) as e:  # REST catalog down, bad host, ...
                raise CatalogUnreachable(
                    f"cannot reach the {config.kind} catalog at {config.uri}: "
                    f"{_reason(e)}",
                    hint="check catalog.uri (SET catalog.uri = ...) and that the catalog "
                         "server runs") from None
            _catalogs[config] = catalog
        return catalog


def _reason(e: Exception) -> str:
    """What went wrong, without the layers requests wraps around it."""
    text = str(e)
    errno = re.search(r"\[Errno -?\d+\][^'\"()]*", text)
    if errno:
        return errno.group(0).strip()
    first = text.splitlines()[0] if text else type(e).__name__
    return first[:200]


def catalog_missing(config: CatalogConfig) -> bool:
    """Whether `config` is a local SQLite catalog whose file does not exist yet (so it holds
    no table; opening it would create it)."""
    if not config.uri.startswith("sqlite:///"):
        return False
    path = config.uri[len("sqlite:///"):].split("?", 1)[0]
    return bool(path) and path != ":memory:" and not Path(path).exists()


def parse_ident(ident: str) -> tuple[str, str]:
    """Split `ns.table` into (namespace, table), rejecting malformed names.

    One namespace level only: pyiceberg's SQL catalog has no nested namespaces.
    """
    parts = ident.split(".")
    if len(parts) == 1:
        raise SinkError(
            f"table name {ident!r} has no namespace",
            hint=f"qualify it, e.g. 'default.{ident}'",
        )
    if len(parts) > 2:
        raise SinkError(
            f"table name {ident!r} has nested namespaces, which the catalog does not support",
            hint="use exactly one namespace: 'ns.table'",
        )
    bad = [p for p in parts if not _NAME_PART.match(p)]
    if bad:
        raise SinkError(
            f"invalid table name {ident!r}: part {bad[0]!r} is not an identifier",
            hint="use letters, digits and '_' (not starting with a digit), separated by '.'",
        )
    return parts[0], parts[1]


def ensure_namespace(catalog: Catalog, namespace: str) -> None:
    """Create `namespace` when missing (a racing creator is fine)."""
    try:
        catalog.create_namespace_if_not_exists(namespace)
    except NamespaceAlreadyExistsError:
        pass
