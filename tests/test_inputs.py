"""SourceInput.listed: the files a source's scan reads when the run has not resolved them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mdfql.io.inputs import InputFile, SourceInput


def test_patterns_are_listed_sorted_and_filtered_by_extension(tmp_path: Path) -> None:
    for name in ("b.PNG", "a.jpg", "c.txt", "noext"):
        (tmp_path / name).write_bytes(b"x" * len(name))
    source = SourceInput("image", (f"{tmp_path}/*",), extensions=("jpg", "png"))
    listed = source.listed()
    assert [Path(f.path).name for f in listed] == ["a.jpg", "b.PNG"]
    assert [f.size for f in listed] == [5, 5]
    every = SourceInput("warc", (f"{tmp_path}/*",)).listed()  # no extension filter
    assert [Path(f.path).name for f in every] == ["a.jpg", "b.PNG", "c.txt", "noext"]


def test_a_pattern_matching_nothing_names_the_reader(tmp_path: Path) -> None:
    (tmp_path / "one.warc.gz").write_bytes(b"")
    pattern = f"{tmp_path}/none*.warc.gz"
    source = SourceInput("warc", (f"{tmp_path}/one.warc.gz", pattern))
    with pytest.raises(FileNotFoundError, match=f"^warc: no file matches '{re.escape(pattern)}'$"):
        source.listed()
    source.located(f"read_warc('{pattern}')", None)
    with pytest.raises(FileNotFoundError, match="^read_warc: no file matches"):
        source.listed()


def test_files_the_run_resolved_are_read_as_resolved(tmp_path: Path) -> None:
    resolved = [InputFile(str(tmp_path / "gone.warc.gz"), 10)]
    source = SourceInput("warc", (f"{tmp_path}/*.warc.gz",), files=resolved)
    assert source.listed() is resolved  # not listed again: the run's check already saw them
