"""Where query results go: Iceberg tables (CREATE/INSERT, `read_iceberg`) and COPY files."""

from mdfql.sinks.catalog import CatalogConfig, SinkError, open_catalog, parse_ident
from mdfql.sinks.files import write_files
from mdfql.sinks.iceberg import WriteResult, load_table, read_table, table_exists, write_table

__all__ = [
    "CatalogConfig",
    "SinkError",
    "WriteResult",
    "load_table",
    "open_catalog",
    "parse_ident",
    "read_table",
    "table_exists",
    "write_files",
    "write_table",
]
