"""The `mdfql` command: run, check and explain pipelines, list functions, write the sample."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path

os.environ.setdefault("DAFT_ANALYTICS_ENABLED", "0")

from rich.console import Console  # noqa: E402
from rich.markup import escape  # noqa: E402
from rich.table import Table  # noqa: E402

from mdfql.depth import on_deep_stack  # noqa: E402
from mdfql.errors import MdfqlError  # noqa: E402

# Off a terminal rich would wrap at 80 columns; logs and CI want whole lines.
console = Console(stderr=True, width=None if sys.stderr.isatty() else 160)
out = Console(width=None if sys.stdout.isatty() else 160)


def _params(pairs: list[str]) -> dict[str, str]:
    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise MdfqlError(f"--param takes name=value, got {pair!r}")
        params[key.lstrip("$")] = value
    return params


def _session(args: argparse.Namespace):
    """A new session and the pipeline's text."""
    from mdfql.session import Session

    options = {}
    if getattr(args, "limit", None) is not None:
        if args.limit <= 0:
            raise MdfqlError(f"--limit takes a positive count, got {args.limit}")
        options["limit"] = args.limit
    path = Path(args.file)
    if not path.is_file():
        raise MdfqlError(f"no such pipeline file: {path}")
    return Session(options=options), path.read_text(encoding="utf-8")


def _compile(args: argparse.Namespace, load: bool = True):
    """A new session and the compiled pipeline (compiling reads no data; LOADs import their
    plugins unless `load` is False)."""
    session, text = _session(args)
    return session, session.compile(text, args.file, _params(args.param), load=load)


def _warn_unmatched(program, filename: str) -> None:
    """Warn about local input patterns that match no file now (a run would stop on them)."""
    from mdfql.io.inputs import unmatched
    from mdfql.options import option_value

    skip = option_value(program.options, "on_missing_input") == "skip"
    for source, pattern in unmatched(program.sources()):
        where = f"{filename}:{source.span.line}:{source.span.col}" if source.span else filename
        consequence = "it reads no rows from it (on_missing_input = 'skip')" if skip \
            else "a run stops there before writing anything"
        console.print(f"[yellow]{where}: warning:[/yellow] no file matches '{pattern}' now: "
                      f"{consequence}", markup=True, highlight=False, soft_wrap=True)


def cmd_check(args: argparse.Namespace) -> int:
    _, program = _compile(args, load=not args.no_load)
    _warn_unmatched(program, args.file)
    kinds = ", ".join(f"{a.kind}{' ' + a.target if a.target else ''}" for a in program.actions)
    stages = len(program.stages())
    out.print(f"[green]ok[/green] {args.file}: {len(program.actions)} action(s): {kinds}"
              + (f"; {stages} relational stage(s)" if stages else ""), soft_wrap=True)
    if program.skipped_loads:
        names = ", ".join(f"{n}()" for n in sorted(program.unchecked)) or "none"
        loads = ", ".join(f"LOAD '{m}'" for m in program.skipped_loads)
        out.print(f"[yellow]not loaded (--no-load): {loads}; functions left unchecked: "
                  f"{names}[/yellow]", soft_wrap=True, highlight=False)
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from mdfql.execute import explain_text

    _, program = _compile(args)
    for action in program.actions:
        out.rule(f"{action.kind} {action.target or ''} (line {action.span.line})")
        out.print(explain_text(action, daft_plans=args.daft), markup=False, highlight=False,
                  soft_wrap=True)
    return 0


def _summary_table(summary) -> Table:
    from mdfql.summary_table import summary_table

    return summary_table(summary)


def cmd_run(args: argparse.Namespace) -> int:
    from mdfql.execute import execute
    from mdfql.progress import run_progress
    from mdfql.runner import use_runner
    from mdfql.runstate import Finished, default_state_dir
    from mdfql.session import catalog_config

    session, text = _session(args)
    if args.report:  # the report shows signal distributions and examples: count in detail
        session.options.setdefault("funnel", "detail")
    kind, address = session.runner_of(text, args.runner, args.ray_address)
    with use_runner(kind, address):  # chosen before compiling: building plans fixes it
        # Every mistake in the script is reported before any data is read.
        program = session.compile(text, args.file, _params(args.param))
        with run_progress(console, native=kind != "ray") as progress:
            catalog = catalog_config(program.options)
            records = []
            try:
                summary = execute(program, catalog=catalog, functions=session.registry,
                                  runner=kind, ray_address=address, on_action=progress,
                                  work_dir=args.work_dir,
                                  state_dir=default_state_dir(catalog.warehouse),
                                  resume=args.resume, on_record=records.append)
            except Finished as done:
                console.print(str(done), markup=False, highlight=False, soft_wrap=True)
                return 0
            finally:  # a failed run gets its report too
                if args.report and records:
                    _write_report(records[0], args.report)
        for text_ in summary.explains:
            out.print(text_)
        for df in summary.results:
            df.show(args.show)
    for w in summary.writes:
        if w.note:
            out.print(w.note, markup=False, highlight=False, soft_wrap=True)
    console.print(_summary_table(summary))
    return 0


def _write_report(record, path: str) -> bool:
    """Write the report of `record`; a path that cannot be written is said, not raised (after
    a run, its outcome stands)."""
    from mdfql.report import write_report

    try:
        written = write_report(record, path)
    except OSError as e:
        console.print(f"[red]report not written to {escape(path)}: {escape(str(e))}[/red]",
                      highlight=False, soft_wrap=True)
        return False
    console.print(f"report: {written}", markup=False, highlight=False, soft_wrap=True)
    return True


def _history(args: argparse.Namespace):
    """The catalog and table name of the run history the `runs`/`report` flags name."""
    from mdfql.options import option_value
    from mdfql.sinks.catalog import CatalogConfig, SinkError

    try:
        catalog = CatalogConfig.resolve(uri=args.catalog_uri, warehouse=args.warehouse)
    except SinkError as e:
        raise MdfqlError(e.message, hint=e.hint) from None
    return catalog, args.table or option_value({}, "history_table")


def cmd_runs(args: argparse.Namespace) -> int:
    from mdfql import history

    catalog, name = _history(args)
    try:
        rows = history.recent(catalog, name, args.n)
    except Exception as e:  # a table that is not a history, a catalog out of reach
        raise MdfqlError(f"cannot read the run history {name}: {e}") from None
    if not rows:
        out.print(f"no runs recorded in {name} ({catalog.uri})", soft_wrap=True)
        return 0
    table = Table(title=f"recent runs ({name})")
    for head in ("run id", "started (UTC)", "status", "script", "read", "written", "wall"):
        table.add_column(head, justify="right" if head in ("read", "written", "wall") else "left")
    for r in rows:
        status = "[green]succeeded[/green]" if r["status"] == "succeeded" else "[red]failed[/red]"
        table.add_row(r["run_id"], r["started_at"].strftime("%Y-%m-%d %H:%M:%S"), status,
                      escape(os.path.basename(r["script"] or "")), f"{r['rows_read']:,}",
                      f"{r['rows_written']:,}", f"{r['wall_s']:.1f} s")
    out.print(table)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from mdfql import history

    catalog, name = _history(args)
    try:
        record = history.load(catalog, name, args.run_id)
    except Exception as e:
        raise MdfqlError(f"cannot read the run history {name}: {e}") from None
    if record is None:
        raise MdfqlError(f"no run '{args.run_id}' in {name} ({catalog.uri})",
                         hint="`mdfql runs` lists the recorded runs")
    return 0 if _write_report(record, args.output or f"{record.run_id}.html") else 1


def cmd_functions(args: argparse.Namespace) -> int:
    from mdfql.functions.catalog import default_registry, describe
    from mdfql.sources import source_registry

    sections = (("table functions (FROM ...)", source_registry()),
                ("functions", default_registry()))
    for title, registry in sections:
        specs = [s for s in registry
                 if not args.filter or args.filter.lower() in s.name.lower()]
        if not specs:
            continue
        out.print(f"[bold]{title}[/bold]")
        for spec in specs:
            head, *rest = describe(spec)
            out.print(f"  [cyan]{escape(head)}[/cyan]", soft_wrap=True, highlight=False)
            for line in rest:
                out.print(f"  {line}", soft_wrap=True, markup=False, highlight=False)
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    from mdfql.demo.sample import write_sample

    if args.slice < 1:
        raise MdfqlError(f"--slice takes a positive count, got {args.slice}")
    # A 1/K slice is the same generator with 1/K of the records: every category keeps its
    # share and the planted malformed records, which a byte prefix of the big file would not.
    records = args.records // args.slice
    if args.page_kb is not None and args.page_kb <= 0:
        raise MdfqlError(f"--page-kb takes a positive size, got {args.page_kb}")
    try:
        stats = write_sample(args.out, n_records=records, seed=args.seed, page_kb=args.page_kb,
                             level=args.level, keep_urls=False)
    except ValueError as e:  # too few records for every category
        raise MdfqlError(str(e)) from e
    counts = ", ".join(f"{k} {v}" for k, v in stats.counts.items())
    out.print(f"wrote {args.out}: {stats.total_records} records ({stats.n_bytes:,} bytes): "
              f"{counts}", soft_wrap=True)
    if not args.no_images:
        from mdfql.demo.images import write_image_sample

        where = Path(args.out).parent
        images = write_image_sample(where, seed=args.seed)
        kinds = ", ".join(f"{k} {v}" for k, v in images.counts.items())
        out.print(f"wrote {where / 'image_text.parquet'} and {where / 'images'}/: "
                  f"{images.rows} images ({images.n_bytes:,} bytes): {kinds}", soft_wrap=True)
        _sample_weights(where / "models", args.seed)
    return 0


def _sample_weights(folder: Path, seed: int) -> None:
    """The demo weights the pipelines default to: the image models when the `models` extra is
    here, and always the DCLM demo classifier (it needs no torch)."""
    from mdfql.demo.fasttext_model import write_demo_classifier
    from mdfql.demo.weights import DEMO_CLASSIFIER, missing_models, write_demo_weights

    why = missing_models()
    if why:
        write_demo_classifier(folder / DEMO_CLASSIFIER)
        out.print(f"wrote {folder / DEMO_CLASSIFIER}: a demo fastText classifier (naive-Bayes "
                  f"weights, not trained); skipped the other demo weights: {why}",
                  soft_wrap=True)
        return
    write_demo_weights(folder, seed=seed)
    out.print(f"wrote {folder}/: demo weights, randomly initialised (their scores mean "
              "nothing; see its README.md)", soft_wrap=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mdfql", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def pipeline_command(name: str, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_)
        p.add_argument("file", help="pipeline .sql file")
        p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                       help="override a parameter declared with SET $name = default")
        return p

    run = pipeline_command("run", "run a pipeline")
    run.add_argument("--runner", choices=["native", "ray"], default=None)
    run.add_argument("--ray-address", default=None, help="Ray cluster address (default: local)")
    run.add_argument("--limit", type=int, default=None,
                     help="a trial run: read at most N rows per source; tables are written to "
                          "the scratch namespace and COPY to '<dir>.limit', never over real "
                          "output")
    run.add_argument("--show", type=int, default=10, help="rows shown of each query result")
    run.add_argument("--work-dir", default=None,
                     help="where relational stages spill and the run's state lives (kept); "
                          "default: .<warehouse>-runs next to a local warehouse, removed "
                          "after a successful run")
    run.add_argument("--resume", nargs="?", const=True, default=None, metavar="RUN_ID",
                     help="finish the latest unfinished run of this script (or RUN_ID), "
                          "skipping what it finished; refused if the script, parameters or "
                          "input files changed")
    run.add_argument("--report", default=None, metavar="FILE.html",
                     help="write the run's HTML report (self-contained) there, also when it "
                          "fails; the funnel is then counted in detail (signal samples and "
                          "examples: SET funnel = 'detail') unless the script sets funnel")
    run.set_defaults(func=cmd_run)
    check = pipeline_command("check", "parse, bind and plan; reads no data (a LOAD still "
                                      "imports its plugin: its code runs)")
    check.add_argument("--no-load", action="store_true",
                       help="do not import LOADed plugins; their functions are left unchecked")
    check.set_defaults(func=cmd_check)
    explain = pipeline_command("explain", "print the stages each statement runs")
    explain.add_argument("--daft", action="store_true", help="also print Daft's own plans")
    explain.set_defaults(func=cmd_explain)
    fn = sub.add_parser("functions", help="the function catalog with docs")
    fn.add_argument("filter", nargs="?", default=None)
    fn.set_defaults(func=cmd_functions)

    def history_command(name: str, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_)
        p.add_argument("--table", default=None,
                       help="the history table (default: SET history_table's, mdfql.runs)")
        p.add_argument("--catalog-uri", default=None,
                       help="the catalog (default: $MDFQL_CATALOG_URI, else the warehouse's)")
        p.add_argument("--warehouse", default=None,
                       help="the warehouse (default: $MDFQL_WAREHOUSE, else ./warehouse)")
        return p

    runs = history_command("runs", "list the recent runs of the run history")
    runs.add_argument("-n", type=int, default=20, help="how many (default 20)")
    runs.set_defaults(func=cmd_runs)
    report = history_command("report", "write the HTML report of a recorded run")
    report.add_argument("run_id", help="the run's id (or a unique prefix of it)")
    report.add_argument("-o", "--output", default=None, metavar="FILE.html",
                        help="where (default: <run id>.html)")
    report.set_defaults(func=cmd_report)
    sample = sub.add_parser("sample", help="write the bundled sample WARC")
    sample.add_argument("--out", default="sample/sample.warc.gz")
    sample.add_argument("--records", type=int, default=2000)
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--page-kb", type=float, default=None, metavar="K",
                        help="crawl-sized pages averaging K KiB of HTML, streamed to the file "
                             "(e.g. 30, like Common Crawl); default: the small bundled sample")
    sample.add_argument("--level", type=int, default=None, choices=range(1, 10), metavar="1-9",
                        help="zlib level of each record's gzip member (default 9, or 6 with "
                             "--page-kb)")
    sample.add_argument("--slice", type=int, default=1, metavar="K",
                        help="write a 1/K slice: the same crawl with --records/K records")
    sample.add_argument("--no-images", action="store_true",
                        help="skip the image-text sample (image_text.parquet, images/ and the demo "
                             "weights in models/, next to --out)")
    sample.set_defaults(func=cmd_sample)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; user mistakes print as positioned errors and exit 1, never a traceback."""
    os.environ.setdefault("DAFT_PROGRESS_BAR", "0" if not sys.stderr.isatty() else "1")
    args = build_parser().parse_args(argv)
    try:
        return on_deep_stack(args.func, args)  # deep plans recurse deeply (mdfql.depth)
    except MdfqlError as e:
        if os.environ.get("MDFQL_TRACEBACK") and e.internal is not None:
            traceback.print_exception(e.internal)  # for reports of mdfql bugs
        sys.stderr.write(e.render() + "\n")
        return 1
    except KeyboardInterrupt:
        console.print("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
