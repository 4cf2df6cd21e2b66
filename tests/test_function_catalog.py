"""The function catalog is the one declaration of each function: its defaults are the ones
that run, its options' allowed values are what `check` enforces, and every field of a struct
result is documented (`mdfql functions`)."""

from __future__ import annotations

import inspect
import re

import daft
import daft.functions as F
import pytest

from mdfql import _native, cli
from mdfql.functions.catalog import default_registry, describe
from mdfql.functions.registry import REQUIRED, parse_param

SPECS = list(default_registry())


def test_struct_results_document_every_field_in_order():
    structs = [s for s in SPECS if s.dtype is not None and s.dtype.is_struct()]
    assert {s.name for s in structs} >= {"quality_signals", "rpv2_signals", "c4_quality",
                                         "refinedweb_line_corrections", "lang_id"}
    for spec in structs:
        assert list(spec.fields) == list(spec.dtype.fields), spec.name
        assert all(meaning.strip() for meaning in spec.fields.values()), spec.name


def test_parse_url_fields_are_daft_s():
    df = daft.from_pydict({"u": ["https://a.b/c"]}).select(F.parse_url(daft.col("u")).alias("p"))
    assert list(default_registry().get("parse_url").fields) == list(df.schema()["p"].dtype.fields)


def test_every_default_fits_its_own_declaration():
    for spec in SPECS:
        for p in spec.params:
            if p.default is not REQUIRED:
                assert p.problem(p.default) is None, (spec.name, p.name, p.default)


def _native_defaults(fn) -> dict[str, object]:
    """The defaults a Rust kernel's text signature shows (those it spells out)."""
    sig = fn.__text_signature__ or ""
    return {k: v for k, v in re.findall(r"(\w+)=([^,)]+)", sig) if v != "..."}


@pytest.mark.parametrize("name,native,renamed", [
    ("minhash", _native.minhash, {}), ("minhash_bands", _native.minhash_bands, {}),
    ("fineweb_quality_ok", _native.fineweb_quality_ok, {}),
    ("c4_quality", _native.c4_quality, {}), ("pii_mask", _native.pii_mask, {}),
    ("fingerprint", _native.fingerprint, {}),
    ("extract_text", _native.extract_text, {"max_bytes": None}),  # NULL: per engine (doc)
])
def test_declared_defaults_are_the_kernels(name, native, renamed):
    declared = {p.name: p.default for p in default_registry().get(name).params if p.const}
    for key, text in _native_defaults(native).items():
        if key not in declared or key in renamed:
            continue
        value = {"True": True, "False": False, "true": True, "false": False,
                 "None": None}.get(text, text)
        if isinstance(value, str):
            value = float(value.replace("_", "")) if "." in value else int(value.replace("_", ""))
        assert declared[key] == value, (name, key)


def test_gopher_defaults_are_datatrove_s():
    from datatrove.pipeline.filters import GopherQualityFilter, GopherRepetitionFilter

    for name, cls in (("gopher_quality_ok", GopherQualityFilter),
                      ("gopher_repetition_ok", GopherRepetitionFilter)):
        theirs = {k: p.default for k, p in inspect.signature(cls).parameters.items()}
        for p in default_registry().get(name).params:
            if p.const and p.name in theirs and theirs[p.name] is not None:
                expected = theirs[p.name]
                if isinstance(expected, (list, tuple)):
                    expected = [list(x) for x in expected]
                assert p.default == expected, (name, p.name)


def test_param_declarations():
    p = parse_param("n:integer[1..64]=8")
    assert (p.const, p.low, p.high, p.default) == (True, 1, 64, 8)
    assert p.problem(0) == "must be an integer from 1 to 64, got 0"
    assert p.problem(True) == "must be an integer from 1 to 64, got true"
    assert p.problem(None) is None and p.problem(64) is None
    t = parse_param("t:numeric[0.5..1]=None")
    assert t.problem(0.25) == "must be a number from 0.5 to 1, got 0.25"
    assert t.problem(float("nan")) == "must be a finite number, got nan"
    u = parse_param("unit:string{day|week}!")
    assert u.required and u.const and u.problem("month") == "must be one of 'day', 'week', " \
        "got 'month'"
    r = parse_param("r:string|list=None")
    assert r.problem("x") is None and r.problem(["x"]) is None
    assert r.problem(3) == "must be a string or a list, got 3"
    with pytest.raises(ValueError):
        parse_param("bad name")


def test_catalog_entry_shows_options_and_fields():
    lines = describe(default_registry().get("minhash"))
    assert lines[0].startswith("minhash(text, num_hashes := 112, ngram := 5, seed := 1) -> ")
    assert "num_hashes: an integer from 1 to 65536" in lines[2]
    lines = describe(default_registry().get("lang_id"))
    assert lines[0].endswith("-> struct  [rust]")
    assert lines[-2:] == [
        "      lang   String   ISO 639 code of the most likely language, e.g. 'en'",
        "      score  Float64  its probability, at most 1.0"]


def test_cli_functions_lists_every_quality_signals_field(capsys):
    assert cli.main(["functions", "quality_signals"]) == 0
    out = capsys.readouterr().out
    for name, meaning in default_registry().get("quality_signals").fields.items():
        assert re.search(rf"^\s+{name}\s+\S+\s+{re.escape(meaning[:40])}", out, re.M), name
