"""Each image pipeline (pipelines/laion.sql, datacomp.sql, z_image.sql, imagen3.sql) on the
bundled image-text sample with the demo weights, each in a fresh child process: wall time of
the child (imports and model loads included), the run itself, images/s over the run, and the
child's peak RSS (ru_maxrss).

    python benchmarks/image_pipelines.py [--repeat N] [--runner native|ray]

LAION runs with its CLIP thresholds off (the demo CLIP's cosines are noise near 0, so its
defaults would stop every row before the tags and the dedup).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PIPELINES = ("laion", "datacomp", "z_image", "imagen3")
OPEN = {"laion": {"min_similarity_en": "-1", "min_similarity_other": "-1"}}
_MARK = "RESULT "


def _child(name: str, work: str, runner: str) -> int:
    from mdfql import Session
    from mdfql.demo.weights import DEMO_CLIP_NAME

    folder = Path(work)
    models = folder / "models"
    known = {"input": str(folder / "image_text.parquet"),
             "clip_model": str(models / f"{DEMO_CLIP_NAME}.json"),
             "clip_weights": str(models / f"{DEMO_CLIP_NAME}.pt"),
             "tag_model": str(models / f"{DEMO_CLIP_NAME}.json"),
             "tag_weights": str(models / f"{DEMO_CLIP_NAME}.pt"),
             "siglip_model": str(models / "siglip"),
             **{f"{h}_weights": str(models / f"{h}.pt")
                for h in ("aesthetic", "nsfw", "watermark", "aigc")},
             **OPEN.get(name, {})}
    path = ROOT / "pipelines" / f"{name}.sql"
    text = path.read_text()
    params = {k: v for k, v in known.items() if f"SET ${k} =" in text}
    t0 = time.perf_counter()
    summary = Session().run_file(path, params=params, runner=runner)
    run_s = time.perf_counter() - t0
    read = summary.funnel.steps[0].rows_in if summary.funnel.steps else None
    print(_MARK + json.dumps({"run_s": run_s, "rows_read": read,
                              "rows_written": summary.writes[-1].rows_written,
                              "failures": sum(summary.failures.values())}), flush=True)
    return 0


def _measure(name: str, work: Path, runner: str) -> dict:
    env = dict(os.environ, DAFT_ANALYTICS_ENABLED="0", DAFT_PROGRESS_BAR="0",
               RAY_AUTH_MODE="disabled", MDFQL_WAREHOUSE=str(work / f"warehouse-{name}"))
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, "--child", name, str(work), runner],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
                            cwd=work, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    result = {"pipeline": name, "wall_s": wall, "peak_rss_mib": usage.ru_maxrss / 1024,
              "exit": os.waitstatus_to_exitcode(status)}
    for line in out.splitlines():
        if line.startswith(_MARK):
            result.update(json.loads(line[len(_MARK):]))
    return result


def main() -> int:
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        return _child(*sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="runs per pipeline (best kept)")
    parser.add_argument("--runner", default="native", choices=("native", "ray"))
    args = parser.parse_args()
    from mdfql.demo.images import write_image_sample
    from mdfql.demo.weights import write_demo_weights

    with tempfile.TemporaryDirectory(prefix="mdfql-image-bench-") as tmp:
        work = Path(tmp)
        stats = write_image_sample(work)
        write_demo_weights(work / "models")
        print(f"sample: {stats.rows} images, {stats.n_bytes:,} bytes; runner {args.runner}")
        print(f"{'pipeline':<10} {'wall s':>7} {'run s':>7} {'images/s':>9} {'peak RSS MiB':>13}"
              f" {'written':>8} {'failed':>7}")
        for name in PIPELINES:
            runs = [_measure(name, work, args.runner) for _ in range(args.repeat)]
            best = min(runs, key=lambda r: r.get("run_s", float("inf")))
            if "run_s" not in best:
                print(f"{name:<10} failed (exit {best['exit']})")
                continue
            rate = best["rows_read"] / best["run_s"]
            print(f"{name:<10} {best['wall_s']:7.2f} {best['run_s']:7.2f} {rate:9.1f} "
                  f"{best['peak_rss_mib']:13.0f} {best['rows_written']:8d} "
                  f"{best['failures']:7d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
