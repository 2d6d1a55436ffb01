"""Run the chapter notebooks headlessly: ``python -m poisondetect.pipeline``.

Each ``notebooks/NN_*.py`` (Jupytext percent format) is read with jupytext,
given ``profile`` and ``dataset`` through its ``parameters`` cell, executed by
papermill on the ``python3`` kernel from the repository root, and saved as
``build/notebooks/NN_*.ipynb``. One process drives the notebooks one after the
other (``--jobs N``: N side by side, each in its own process); a failure stops
the run with the notebook, the failing cell and the error. While a notebook
runs alone, the terminal shows the cell it is in and the notebook's own
progress bars (training epochs, heatmaps, GW pairs) as they advance.

Usage::

    python -m poisondetect.pipeline --profile quick --dataset synth --only 03,04
"""

from __future__ import annotations

import argparse
import concurrent.futures
import logging
import multiprocessing
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import nbformat

from . import paths
from .config import DATASETS, PROFILES, check_dataset, check_profile


class NotebookError(RuntimeError):
    """A chapter notebook could not be prepared or failed while running."""


@dataclass(frozen=True)
class NotebookRun:
    """Outcome of one executed notebook: its name, output file, and timings in seconds."""

    name: str
    output: Path
    wall_s: float
    cells_s: float

    @property
    def overhead_s(self) -> float:
        """Time not spent inside cells: reading, kernel start-up, saving."""
        return self.wall_s - self.cells_s


def discover(only: Sequence[str] | None = None, folder: Path | None = None) -> list[Path]:
    """Chapter notebooks ``NN_*.py`` in order; ``only`` keeps those whose stem starts with one of its prefixes."""
    folder = folder or paths.NOTEBOOKS
    notebooks = sorted(p for p in folder.glob("[0-9][0-9]_*.py"))
    if only:
        selected = [p for p in notebooks if any(p.stem.startswith(prefix) for prefix in only)]
        unknown = [prefix for prefix in only if not any(p.stem.startswith(prefix) for p in notebooks)]
        if unknown:
            raise NotebookError(f"no notebook matches {', '.join(unknown)}; available: {', '.join(p.stem for p in notebooks)}")
        notebooks = selected
    if not notebooks:
        raise NotebookError(f"no chapter notebooks (NN_name.py) found in {folder}")
    return notebooks


def read_notebook(path: Path):
    """Read a percent-format notebook and check that it has a ``parameters`` cell."""
    import jupytext

    notebook = jupytext.read(path)
    tagged = [cell for cell in notebook.cells if "parameters" in cell.get("metadata", {}).get("tags", [])]
    if len(tagged) != 1:
        raise NotebookError(
            f"{path}: expected exactly one code cell tagged 'parameters', found {len(tagged)}; "
            "start it with the line  # %% tags=[\"parameters\"]"
        )
    missing = [name for name in ("profile", "dataset") if f"{name} =" not in tagged[0].source]
    if missing:
        raise NotebookError(f"{path}: the parameters cell must assign {' and '.join(missing)} (e.g. profile = \"quick\")")
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return notebook


#: First cell of every headless run: the notebook's progress bars as text on stderr, which papermill streams to
#: the terminal (in a kernel, ``tqdm.auto`` would draw widgets that only a browser shows).
TEXT_PROGRESS = """import warnings
import tqdm.std
with warnings.catch_warnings():  # tqdm.auto warns that there are no widgets: it will not need them
    warnings.simplefilter("ignore")
    import tqdm.auto
tqdm.auto.tqdm, tqdm.auto.trange = tqdm.std.tqdm, tqdm.std.trange"""


class CellProgress(logging.Handler):
    """Print ``[name] cell k/n: first line`` when papermill starts code cell k of n ("Executing Cell" log records)."""

    def __init__(self, name: str, notebook, out) -> None:
        super().__init__(logging.INFO)
        cells = list(notebook.cells)
        tagged = next(i for i, cell in enumerate(cells) if "parameters" in cell.get("metadata", {}).get("tags", []))
        cells.insert(tagged + 1, nbformat.v4.new_code_cell("parameters of this run"))  # where papermill injects the run's parameters
        self.name, self.cells, self.out = name, cells, out
        self.code = [i for i, cell in enumerate(cells) if cell.cell_type == "code"]

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if not message.startswith("Executing Cell "):
            return
        index = int(message.removeprefix("Executing Cell ").rstrip("-")) - 1
        if index not in self.code:
            return
        lines = [line for line in self.cells[index].source.splitlines() if line.strip() and not line.startswith("#")]
        first = (lines[0][:60] + ("..." if len(lines[0]) > 60 else "")) if lines else ""
        print(f"\r[{self.name}] cell {self.code.index(index) + 1}/{len(self.code)}: {first}", file=self.out, flush=True)


def _cells_seconds(notebook) -> float:
    total = 0.0
    for cell in notebook.cells:
        duration = cell.get("metadata", {}).get("papermill", {}).get("duration")
        total += duration or 0.0
    return total


def run_notebook(path: Path, profile: str, dataset: str, output_dir: Path | None = None, progress: bool = False,
                 bars: bool = True) -> NotebookRun:
    """Execute one notebook with papermill; raise :class:`NotebookError` on failure.

    ``progress`` prints each cell as it starts and (with ``bars``) streams the notebook's progress bars (stderr) live.
    """
    import papermill

    output_dir = output_dir or paths.BUILD / "notebooks"
    output_dir.mkdir(parents=True, exist_ok=True)
    output = output_dir / f"{path.stem}.ipynb"
    start = time.perf_counter()
    notebook = read_notebook(path)
    stream = progress and bars
    if stream:
        notebook.cells.insert(0, nbformat.v4.new_code_cell(TEXT_PROGRESS, metadata={"tags": ["injected-progress"]}))
    os.environ.setdefault("MPLBACKEND", "Agg")
    logger = logging.getLogger("papermill")
    handler = CellProgress(path.stem, notebook, sys.stderr) if progress else None
    if handler:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    try:
        with open(os.devnull, "w") as silent:
            executed = papermill.execute_notebook(
                notebook, str(output), parameters={"profile": profile, "dataset": dataset},
                kernel_name="python3", cwd=str(paths.ROOT), progress_bar=False, log_output=progress,
                stdout_file=silent, stderr_file=sys.stderr if stream else None,
            )
    except papermill.PapermillExecutionError as error:
        source = "\n".join("    " + line for line in error.source.splitlines()[:12])
        raise NotebookError(
            f"notebook {path.stem} failed in cell {error.cell_index} (execution count {error.exec_count}):\n"
            f"{source}\n{error.ename}: {error.evalue}\n"
            f"the executed notebook with the full traceback is {output}"
        ) from None
    finally:
        if handler:
            logger.removeHandler(handler)
    return NotebookRun(path.stem, output, time.perf_counter() - start, _cells_seconds(executed))


def run_notebooks(profile: str = "quick", dataset: str = "synth", only: Sequence[str] | None = None,
                  output_dir: Path | None = None, out=sys.stdout, progress: bool = True, jobs: int = 1) -> list[NotebookRun]:
    """Execute the selected chapter notebooks, printing progress (``progress``: live, cell by cell) and wall time.

    With ``jobs`` > 1 that many notebooks run side by side, each in its own process
    with its share of the cores, started in chapter order; the artifact cache's entry locks make a chapter that
    needs a model another chapter is training wait for it instead of training it
    twice. Side by side, ``progress`` shows the cells as they start, each line named by its
    chapter, but not the progress bars (interleaved they would be unreadable).
    """
    check_profile(profile)
    check_dataset(dataset)
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    notebooks = discover(only)
    jobs = min(jobs, len(notebooks))  # one chapter alone runs in this process, its progress bars live
    total_start = time.perf_counter()
    if jobs == 1:
        runs = []
        for i, path in enumerate(notebooks, 1):
            print(f"[{i}/{len(notebooks)}] {path.stem} (profile={profile}, dataset={dataset}) ...", file=out, flush=True)
            runs.append(run_notebook(path, profile, dataset, output_dir, progress))
            _print_done(runs[-1], out)
    else:
        print(f"running {len(notebooks)} notebooks, {jobs} at a time (profile={profile}, dataset={dataset})", file=out, flush=True)
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=context, initializer=_share_cores, initargs=(jobs,)) as pool:
            pending = {pool.submit(run_notebook, path, profile, dataset, output_dir, progress, False): path for path in notebooks}
            finished = {}
            try:
                for future in concurrent.futures.as_completed(pending):
                    run = finished[pending[future]] = future.result()
                    _print_done(run, out)
            except BaseException:  # a chapter failed (or Ctrl-C): start no other, let the running ones end
                pool.shutdown(cancel_futures=True)
                raise
        runs = [finished[path] for path in notebooks]
    print(f"all {len(runs)} notebooks ran in {time.perf_counter() - total_start:.1f} s; figures in {paths.figures_dir()}", file=out)
    return runs


def _share_cores(jobs: int) -> None:
    """Give each of ``jobs`` notebook processes an equal share of the cores (``OMP_NUM_THREADS``, unless set).

    Without it every kernel would start one torch thread per core, and two of them
    would wait on each other's threads at every parallel step.
    """
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // jobs)))


def _print_done(run: NotebookRun, out) -> None:
    print(f"      {run.name} done in {run.wall_s:.1f} s (cells {run.cells_s:.1f} s, overhead {run.overhead_s:.1f} s)", file=out, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m poisondetect.pipeline", description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="quick", choices=PROFILES, help="scale of the run (default quick)")
    parser.add_argument("--dataset", default="synth", choices=DATASETS, help="data set (default synth)")
    parser.add_argument("--only", default="", help="comma-separated notebook prefixes, e.g. 03 or 03,05")
    parser.add_argument("--output-dir", type=Path, default=None, help="where executed notebooks go (default build/notebooks)")
    parser.add_argument("--quiet", action="store_true", help="only a line per notebook, no live cell progress")
    parser.add_argument("--jobs", type=int, default=1, help="notebooks run side by side (default 1; see run_notebooks)")
    args = parser.parse_args(argv)
    only = [p.strip() for p in args.only.split(",") if p.strip()]
    try:
        run_notebooks(args.profile, args.dataset, only or None, args.output_dir, progress=not args.quiet, jobs=args.jobs)
    except NotebookError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
