"""The error budget: a statement whose source lost too many records is aborted before its commit.

Readers of ours count, per file, the records they met and those that failed to be read or
parsed (`metrics.record_rows_read`). Those counts exist only once the rows flowed, so the
executor checks them after a statement ran and before its write commits: a file none of whose
records could be read, or a source more than `max_failed_fraction` of whose records failed, is
an error at the source in the SQL, and the statement's staged write is discarded.
"""

from __future__ import annotations

from collections.abc import Iterable

from mdfql.io.inputs import SourceInput, display_path
from mdfql.metrics import FileCount


def check_budget(sources: Iterable[SourceInput], max_fraction: float,
                 counts: dict[str, FileCount]) -> None:
    """Raise an MdfqlError for the first source over its budget (`counts`: per file)."""
    for source in sources:
        if not source.counts_rows or not source.files:
            continue
        records = failed = 0
        for file in source.files:
            count = counts.get(file.path)
            if count is None:
                continue  # not read (a trial run's limit stopped earlier)
            if count.failed and count.failed >= count.records:
                raise source.error(
                    f"cannot read {display_path(file.path)}: none of its {count.records:,} "
                    "record(s) could be read or parsed",
                    "nothing was written; the log names each failure; fix the file or leave it "
                    "out of the pattern",
                )
            records += count.records
            failed += count.failed
        if records and failed / records > max_fraction:
            raise source.error(
                f"{failed:,} of {records:,} records ({failed / records:.1%}) failed to be read "
                f"or parsed, more than max_failed_fraction = {max_fraction:g}",
                "nothing was written; the log names each failure; SET max_failed_fraction = "
                "<0..1> to accept more",
            )
