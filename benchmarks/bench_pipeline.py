"""Pipeline overhead per notebook and load time of the real GTSRB cache; prints one JSON object.

Overhead is the wall time of a notebook run minus the time spent inside its
cells (reading with jupytext, kernel start-up, saving), measured on a
one-cell notebook so that the cells take almost nothing.
"""

from __future__ import annotations

import json
import os
import statistics
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


if __name__ == "__main__":
    os.environ.setdefault("POISONDETECT_FIGURES", tempfile.mkdtemp())
    print(json.dumps({"benchmark": "pipeline", "pipeline": pipeline_overhead(), "gtsrb_load": gtsrb_load()}, indent=1))
