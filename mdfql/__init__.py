"""mdfql: curate web-scale training data with SQL compiled to lazy Daft plans.

    import mdfql
    df = mdfql.sql("SELECT url, extract_text(html) AS text FROM read_warc('crawl/*.warc.gz')")
"""

import os

os.environ.setdefault("DAFT_ANALYTICS_ENABLED", "0")

from mdfql.heap import prefer_system_arrow_pool  # noqa: E402

prefer_system_arrow_pool()  # before pyarrow is imported: Arrow picks its pool once

from mdfql.depth import prepare_process  # noqa: E402

prepare_process()  # before Daft spawns a thread: deep plans need deep Rust stacks

from mdfql import daft_fixes  # noqa: E402

daft_fixes.apply()

from mdfql.errors import MdfqlError  # noqa: E402
from mdfql.functions.registry import udf, udf_class  # noqa: E402
from mdfql.session import Session, sql  # noqa: E402

__all__ = ["MdfqlError", "Session", "sql", "udf", "udf_class"]
