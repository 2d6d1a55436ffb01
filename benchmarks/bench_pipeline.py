"""Pipeline overhead per notebook and load time of the real GTSRB cache; prints one JSON object.

Overhead is the wall time of a notebook run minus the time spent inside its
cells (reading with jupytext, kernel start-up, saving), measured on a
one-cell notebook so that the cells take almost nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from poisondetect import paths, pipeline

TINY = '# %% tags=["parameters"]\nprofile = "quick"\ndataset = "synth"\n\n# %%\nx = 1\n'


def pipeline_overhead(repeats: int = 3) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        notebook = Path(tmp) / "01_tiny.py"
        notebook.write_text(TINY)
        runs = [pipeline.run_notebook(notebook, "smoke", "synth", output_dir=Path(tmp)) for _ in range(repeats)]
    overheads = [run.overhead_s for run in runs]
    return {"overhead_s_median": round(statistics.median(overheads), 3), "overhead_s_max": round(max(overheads), 3), "repeats": repeats}


def gtsrb_load(repeats: int = 3) -> dict:
    from poisondetect.data import gtsrb

    cache = paths.data_dir() / "gtsrb32.npz"
    if not cache.exists():
        return {"skipped": f"{cache} not found (set POISONDETECT_DATA)"}
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        signs = gtsrb.load()
        times.append(time.perf_counter() - start)
    return {"load_s_median": round(statistics.median(times), 3), "train_images": int(len(signs.train_labels)), "test_images": int(len(signs.test_labels))}


def figures_runs(profile: str = "quick", workdir: Path | None = None, jobs: int = 1) -> dict:
    """Seconds per chapter of a first and a warm ``python -m poisondetect.pipeline --jobs JOBS`` in a fresh clone.

    The clone, its artifacts and figures go to ``workdir`` (kept, for a look at what the run made),
    by default to a temporary folder that is removed afterwards.
    """
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(workdir) if workdir else Path(scratch)
        if (tmp / "clone").exists():
            raise FileExistsError(f"{tmp / 'clone'} exists: give an empty --workdir")
        tmp.mkdir(parents=True, exist_ok=True)
        clone = tmp / "clone"
        subprocess.run(["git", "clone", "--quiet", str(paths.ROOT), str(clone)], check=True)
        env = {**os.environ, "POISONDETECT_ARTIFACTS": str(tmp / "artifacts"), "POISONDETECT_FIGURES": str(tmp / "figures"),
               "PYTHONPATH": str(clone / "src")}
        out = {"jobs": jobs, "commit": subprocess.run(["git", "-C", str(clone), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()}
        for run in ("first", "warm"):
            code = ("import json, sys; from poisondetect import pipeline; "
                    f"runs = pipeline.run_notebooks({profile!r}, 'synth', out=sys.stderr, progress=False, jobs={jobs}); "
                    "print(json.dumps({r.name: round(r.wall_s, 1) for r in runs}))")
            start = time.perf_counter()
            done = subprocess.run([sys.executable, "-c", code], cwd=clone, env=env, capture_output=True, text=True)
            if done.returncode:
                raise RuntimeError(f"the {run} run failed:\n{done.stderr[-3000:]}")
            chapters = json.loads(done.stdout.strip().splitlines()[-1])
            out[run] = {"total_s": round(time.perf_counter() - start, 1), "chapters_s": chapters}
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--figures", action="store_true", help="also time a first and a warm quick run of every chapter in a fresh clone (about 20 minutes)")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the clone, artifacts and figures of --figures here")
    parser.add_argument("--jobs", type=int, default=1, help="notebooks side by side in the --figures runs (default 1)")
    args = parser.parse_args()
    os.environ.setdefault("POISONDETECT_FIGURES", tempfile.mkdtemp())
    result = {"benchmark": "pipeline", "load_average": os.getloadavg()[0], "pipeline": pipeline_overhead(), "gtsrb_load": gtsrb_load()}
    if args.figures:
        result["make_figures"] = figures_runs(workdir=args.workdir, jobs=args.jobs)
    print(json.dumps(result, indent=1))
