"""`LOAD`: the one way SQL runs Python code. Plugins are found beside the SQL file, their
failures are positioned errors, and `mdfql check --no-load` checks without importing them."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from mdfql import MdfqlError, Session

PLUGIN = """\
import pathlib
import daft, mdfql
pathlib.Path(__file__).with_name("imported.marker").write_text("imported")

@mdfql.udf(name="{fn}", return_dtype=daft.DataType.bool())
def ends_with_period(text: daft.Series, strict: bool = True):
    return [t is not None and t.endswith(".") for t in text.to_pylist()]
"""


@pytest.fixture
def plugin(tmp_path: Path) -> tuple[Path, str, str]:
    """A plugin module with a unique name (imports are per process) in tmp_path/pipes/:
    (the folder, the module name, the SQL function it defines)."""
    folder = tmp_path / "pipes"
    folder.mkdir()
    name = f"plug_{uuid.uuid4().hex[:8]}"
    fn = f"ends_{name}"
    (folder / f"{name}.py").write_text(PLUGIN.format(fn=fn))
    return folder, name, fn


def query(fn: str) -> str:
    return (f"SELECT t FROM (SELECT 'a.' AS t UNION ALL SELECT 'b' AS t) "
            f"WHERE {fn}(t, strict := false)")


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mdfql.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("form", ["{name}", ".{name}", "{name}.py"])
def test_load_finds_the_module_beside_the_sql_file(plugin, form):
    folder, name, fn = plugin
    sql = f"LOAD '{form.format(name=name)}';\n{query(fn)}"
    # the SQL file's folder, not the working directory, is where LOAD looks
    program = Session().compile(sql, str(folder / "p.sql"))
    assert program.actions[0].df.to_pylist() == [{"t": "a."}]
    assert (folder / "imported.marker").exists()


def test_load_of_a_path_relative_to_the_sql_file(plugin, tmp_path):
    folder, name, fn = plugin
    (tmp_path / "p.sql").write_text(f"LOAD 'pipes/{name}.py';\n{query(fn)}\n")
    proc = cli("check", "p.sql", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (folder / "imported.marker").exists()


def test_relative_load_from_another_directory_via_the_cli(plugin, tmp_path):
    folder, name, fn = plugin
    (folder / "p.sql").write_text(f"LOAD '.{name}';\n{query(fn)}\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = cli("run", str(folder / "p.sql"), cwd=elsewhere)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "a." in proc.stdout


def test_check_no_load_imports_nothing_and_reports_unchecked(plugin):
    folder, name, fn = plugin
    (folder / "p.sql").write_text(f"LOAD '{name}';\n{query(fn)}\n")
    proc = cli("check", "--no-load", "p.sql", cwd=folder)
    assert proc.returncode == 0, proc.stderr
    assert not (folder / "imported.marker").exists()
    assert f"not loaded (--no-load): LOAD '{name}'; functions left unchecked: {fn}()" \
        in proc.stdout
    # the rest is still checked: a column typo next to the plugin's function is an error
    (folder / "bad.sql").write_text(f"LOAD '{name}';\nSELECT {fn}(nope) FROM (SELECT 1 AS t)\n")
    proc = cli("check", "--no-load", "bad.sql", cwd=folder)
    assert proc.returncode == 1
    assert "bad.sql:2:" in proc.stderr and "unknown column 'nope'" in proc.stderr
    assert not (folder / "imported.marker").exists()


def test_no_load_program_keeps_the_session_clean(plugin):
    folder, name, fn = plugin
    session = Session()
    program = session.compile(f"LOAD '{name}';\n{query(fn)}", str(folder / "p.sql"),
                              load=False)
    assert program.skipped_loads == [name] and program.unchecked == {fn}
    assert session.registry.get(fn) is None  # the stand-in lived in that compile only
    with pytest.raises(MdfqlError, match=f"unknown function {fn}"):
        session.compile(query(fn))


def error_of(sql: str, where: Path) -> MdfqlError:
    with pytest.raises(MdfqlError) as info:
        Session().compile(sql, str(where / "p.sql"))
    return info.value


def test_missing_plugin_is_an_error(tmp_path):
    err = error_of("SELECT 1;\nLOAD 'no_such_plugin_here';", tmp_path)
    assert (err.span.line, err.span.col) == (2, 1)
    assert err.message == (f"cannot load plugin 'no_such_plugin_here': no "
                           f"no_such_plugin_here.py beside the SQL file (in {tmp_path}) and "
                           "no installed module no_such_plugin_here")
    err = error_of("LOAD '.no_such_plugin_here';", tmp_path)
    assert "beside the SQL file" in err.message
    err = error_of("LOAD 'sub/none.py';", tmp_path)
    assert err.message == f"cannot load plugin 'sub/none.py': no file {tmp_path / 'sub/none.py'}"


def test_plugin_failing_on_import_is_an_error_naming_its_line(tmp_path):
    name = f"broken_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text("x = 1\ny = x / 0\n")
    err = error_of(f"LOAD '{name}';", tmp_path)
    assert err.message == (f"plugin '{name}' failed while importing: ZeroDivisionError: "
                           f"division by zero ({tmp_path / name}.py:2)")
    assert isinstance(err.internal, ZeroDivisionError)


def test_same_name_from_two_folders_is_refused(tmp_path):
    name = f"twice_{uuid.uuid4().hex[:8]}"
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / f"{name}.py").write_text("")
    Session().compile(f"LOAD '{name}';", str(tmp_path / "a" / "p.sql"))
    err = error_of(f"LOAD '{name}';", tmp_path / "b")
    assert "already loaded from" in err.message
