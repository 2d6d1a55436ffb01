"""One figure style, and the outputs the thesis includes: figures, tables, numbers, manifest.

Every output is written atomically and recorded in ``figures/manifest.json``
with the notebook, profile, dataset, git commit and time that made it.

>>> ch = Chapter("03_lrp", profile="quick", dataset="synth")
>>> ch.save_figure(fig, "heatmap_grid")        # figures/03_lrp/heatmap_grid.pdf and .png, shown in a notebook
>>> ch.write_table(df, "rules")                # figures/tables/03_lrp_rules.tex
>>> ch.write_numbers({"LrpHeatmapsPerSecond": "812"})  # \\LrpHeatmapsPerSecond in figures/numbers.tex
"""

from __future__ import annotations

import datetime as _dt
import io
import json
import re
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from IPython import get_ipython
from IPython.display import Image, display

from . import paths
from .artifacts import atomic_path
from .config import check_dataset, check_profile

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: Okabe-Ito palette: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
#: Diverging map for relevance (blue negative, red positive), always centred on 0.
HEATMAP_CMAP = "RdBu_r"
#: Sequential map for images of non-negative values (plans, distance matrices).
SEQUENTIAL_CMAP = "viridis"
#: Resolution of the PNG a notebook shows (the files for the thesis use ``savefig.dpi``);
#: modest, so that executed notebooks stay small.
NOTEBOOK_DPI = 100

_CHAPTER = re.compile(r"^\d\d_[a-z0-9_]+$")
_NAME = re.compile(r"^[A-Za-z0-9_\-]+$")
_MACRO = re.compile(r"^[A-Za-z]+$")


def in_kernel() -> bool:
    """Whether the code runs in a Jupyter kernel (JupyterLab, papermill), where displayed outputs are shown."""
    return getattr(get_ipython(), "kernel", None) is not None


def use_style() -> None:
    """The shared matplotlib style (serif text, Okabe-Ito colours); the Agg backend outside a Jupyter kernel.

    Scripts and tests draw with Agg, which needs no display. A Jupyter kernel
    keeps the backend it chose: inline in JupyterLab, Agg under papermill
    (``MPLBACKEND=Agg``); :meth:`Chapter.save_figure` shows the figures there.
    """
    import matplotlib

    if not in_kernel():
        matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    from cycler import cycler

    plt.rcParams.update(
        {
            "figure.figsize": (6.0, 3.6),
            "figure.dpi": 110,
            "savefig.dpi": 200,
            "savefig.bbox": "tight",
            "font.family": "serif",
            "font.size": 9,
            "axes.titlesize": 9,
            "axes.labelsize": 9,
            "legend.fontsize": 8,
            # past the palette's 8 colours the lines turn dashed: a 9th line is not a copy of the 1st
            "axes.prop_cycle": cycler(linestyle=["-", "--"]) * cycler(color=PALETTE),
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "image.cmap": SEQUENTIAL_CMAP,
            "pdf.fonttype": 42,
        }
    )


def show_heatmap(ax: "Axes", relevance: np.ndarray, limit: float | None = None, colorbar: bool = False):
    """Draw a (H, W) relevance map with the diverging map centred on zero.

    ``limit`` fixes the symmetric colour range ``[-limit, limit]`` (default: the
    map's maximum absolute value), so maps drawn with one limit are comparable.
    """
    relevance = np.asarray(relevance, dtype=float)
    if limit is None:
        limit = float(np.abs(relevance).max()) or 1.0
    image = ax.imshow(relevance, cmap=HEATMAP_CMAP, vmin=-limit, vmax=limit, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    if colorbar:
        ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    return image


def show_image(ax: "Axes", image: np.ndarray, title: str | None = None) -> None:
    """Draw a uint8 (H, W, 3) image without axes."""
    ax.imshow(image, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    if title:
        ax.set_title(title)


def share_axis(ax: "Axes", shares_percent, label: str = "poison share of the final target class (%)") -> None:
    """Log-scaled x axis with one plain tick per poison share (in percent) and no minor ticks."""
    ax.set_xscale("log")
    ax.set_xticks(sorted(shares_percent))
    ax.xaxis.set_major_formatter(lambda value, _: f"{value:g}")
    ax.minorticks_off()
    ax.set_xlabel(label)


def show_figure(fig: "Figure") -> None:
    """Display ``fig`` in the notebook as one PNG at :data:`NOTEBOOK_DPI`, whatever the backend."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=NOTEBOOK_DPI)
    display(Image(data=buffer.getvalue(), format="png"))


def git_commit() -> str:
    """Short hash of HEAD, with ``+dirty`` when the tree has changes; ``unknown`` outside git."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=paths.ROOT, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=paths.ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def _record(output: Path, chapter: str, profile: str, dataset: str) -> None:
    """Add or replace ``output``'s entry in ``figures/manifest.json``."""
    manifest_path = paths.figures_dir() / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    manifest[output.relative_to(paths.figures_dir()).as_posix()] = {
        "notebook": f"notebooks/{chapter}.py",
        "profile": profile,
        "dataset": dataset,
        "commit": git_commit(),
        "time": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    with atomic_path(manifest_path) as tmp:
        tmp.write_text(json.dumps(dict(sorted(manifest.items())), indent=1) + "\n")


def save_figure(fig: "Figure", chapter: str, name: str, profile: str, dataset: str) -> Path:
    """Write ``figures/<chapter>/<name>.pdf`` and ``.png``; return the PDF path."""
    if not _NAME.match(name):
        raise ValueError(f"figure name {name!r} may use only letters, digits, '_' and '-'")
    folder = paths.figures_dir() / chapter
    for ext in ("pdf", "png"):
        target = folder / f"{name}.{ext}"
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format=ext)
        _record(target, chapter, profile, dataset)
    return folder / f"{name}.pdf"


def latex_escape(text: str) -> str:
    """Escape LaTeX special characters in a table cell or caption."""
    replacements = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
    return "".join(replacements.get(c, c) for c in str(text))


def table_to_latex(df: "pd.DataFrame", float_format: str = "{:.1f}", index: bool = False) -> str:
    """A booktabs ``tabular`` (no float environment) for ``df``; numbers right-aligned."""
    from pandas.api.types import is_numeric_dtype

    frame = df.reset_index() if index else df
    align = "".join("r" if is_numeric_dtype(dtype) else "l" for dtype in frame.dtypes)

    def cell(value) -> str:
        if isinstance(value, (float, np.floating)):
            return "--" if np.isnan(value) else float_format.format(value)
        return latex_escape(value)

    lines = [rf"\begin{{tabular}}{{{align}}}", r"\toprule", " & ".join(latex_escape(c) for c in frame.columns) + r" \\", r"\midrule"]
    lines += [" & ".join(cell(v) for v in row) + r" \\" for row in frame.itertuples(index=False)]
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def write_table(df: "pd.DataFrame", chapter: str, name: str, profile: str, dataset: str, float_format: str = "{:.1f}", index: bool = False) -> Path:
    """Write ``df`` as ``figures/tables/<chapter>_<name>.tex`` (booktabs tabular) and a CSV beside it."""
    if not _NAME.match(name):
        raise ValueError(f"table name {name!r} may use only letters, digits, '_' and '-'")
    target = paths.figures_dir() / "tables" / f"{chapter}_{name}.tex"
    with atomic_path(target) as tmp:
        tmp.write_text(table_to_latex(df, float_format, index))
    with atomic_path(target.with_suffix(".csv")) as tmp:
        (df.reset_index() if index else df).to_csv(tmp, index=False)
    _record(target, chapter, profile, dataset)
    return target


def write_numbers(numbers: dict[str, object], chapter: str, profile: str, dataset: str) -> Path:
    r"""Store ``{"MacroName": value}`` for ``chapter`` and regenerate ``figures/numbers.tex``.

    Each chapter's numbers live in ``figures/numbers/<chapter>.json``; ``numbers.tex``
    holds one ``\newcommand{\MacroName}{value}`` per number of every chapter, so
    re-running a chapter replaces its macros instead of appending duplicates.
    Macro names must be letters only (a LaTeX rule).
    """
    for key in numbers:
        if not _MACRO.match(key):
            raise ValueError(f"number name {key!r} is not a valid LaTeX macro name: use letters only, e.g. 'AttackSuccessThree'")
    store = paths.figures_dir() / "numbers" / f"{chapter}.json"
    current = json.loads(store.read_text()) if store.exists() else {}
    current.update({k: str(v) for k, v in numbers.items()})
    with atomic_path(store) as tmp:
        tmp.write_text(json.dumps(dict(sorted(current.items())), indent=1) + "\n")
    return _write_numbers_tex(profile, dataset, chapter)


def _write_numbers_tex(profile: str, dataset: str, chapter: str) -> Path:
    lines = ["% Generated by poisondetect.report.write_numbers; do not edit."]
    lines.append(rf"\newcommand{{\GeneratedWith}}{{{latex_escape(_generated_with(profile, dataset))}}}")
    for store in sorted((paths.figures_dir() / "numbers").glob("*.json")):
        lines.append(f"% {store.stem}")
        for key, value in json.loads(store.read_text()).items():
            lines.append(rf"\newcommand{{\{key}}}{{{latex_escape(value)}}}")
    target = paths.figures_dir() / "numbers.tex"
    with atomic_path(target) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    _record(target, chapter, profile, dataset)
    return target


def _generated_with(profile: str, dataset: str) -> str:
    """The profiles and data sets of every output in the manifest, e.g. ``quick/synth``.

    The thesis prints it on its title page, so a reader knows at which scale its
    numbers were made (a smoke run's numbers are meaningless).
    """
    manifest_path = paths.figures_dir() / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    runs = {f"{entry['profile']}/{entry['dataset']}" for entry in manifest.values()} | {f"{profile}/{dataset}"}
    return ", ".join(sorted(runs))


class Chapter:
    """The outputs of one chapter notebook, tagged with its profile and dataset.

    Parameters
    ----------
    chapter : str
        Notebook stem, e.g. ``"03_lrp"``; outputs are named after it.
    profile, dataset : str
        The notebook's parameters, recorded in the manifest.
    """

    def __init__(self, chapter: str, profile: str, dataset: str) -> None:
        if not _CHAPTER.match(chapter):
            raise ValueError(f"chapter {chapter!r} must look like '03_lrp' (the notebook's file stem)")
        self.chapter, self.profile, self.dataset = chapter, check_profile(profile), check_dataset(dataset)
        use_style()

    def save_figure(self, fig: "Figure", name: str, close: bool = False) -> Path:
        """Write the figure as PDF and PNG under ``figures/<chapter>/``; in a notebook, also show it.

        Parameters
        ----------
        fig : Figure
            The figure to save.
        name : str
            File stem: letters, digits, ``_`` and ``-``.
        close : bool
            Close the figure after saving. In a Jupyter kernel the figure is
            shown (:func:`show_figure`) and always closed, so that the inline
            backend does not draw it a second time at the end of the cell.

        Returns
        -------
        Path
            The PDF file.
        """
        path = save_figure(fig, self.chapter, name, self.profile, self.dataset)
        if in_kernel():
            show_figure(fig)
            close = True
        if close:
            import matplotlib.pyplot as plt

            plt.close(fig)
        return path

    def write_table(self, df: "pd.DataFrame", name: str, float_format: str = "{:.1f}", index: bool = False) -> Path:
        """Write a booktabs table ``figures/tables/<chapter>_<name>.tex``."""
        return write_table(df, self.chapter, name, self.profile, self.dataset, float_format, index)

    def write_numbers(self, numbers: dict[str, object]) -> Path:
        r"""Add ``\newcommand`` macros for the thesis text to ``figures/numbers.tex``."""
        return write_numbers(numbers, self.chapter, self.profile, self.dataset)
