"""A scan as one self-contained HTML page (figures embedded as PNG), to open in any browser.

The page shows the class ranking, and for each suspicious class the images the
ranking detector finds most suspicious beside typical ones with their heatmaps,
the mean heatmap of the flagged images against the rest, how far the detectors
agree, and how long each step took.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .. import __version__, detection
from ..report import PALETTE, show_heatmap, show_image
from .run import ClassScan, ScanResult

#: Images shown per row in a class's gallery.
GALLERY = 8

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; }
table { border-collapse: collapse; margin: .8em 0; } th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
.verdict { font-size: 1.15em; padding: .7em 1em; border-radius: 6px; }
.alarm { background: #fde3d6; border: 1px solid #D55E00; } .calm { background: #dcefe6; border: 1px solid #009E73; }
img { max-width: 100%; } .muted { color: #666; font-size: .9em; }
"""


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return f'<img alt="figure" src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">'


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, float_format=lambda v: f"{v:.2f}", border=0, escape=True)


def ranking_figure(result: ScanResult, top: int = 25) -> Figure:
    """Bar chart of the anomaly index of the ``top`` most suspicious classes, the threshold dashed."""
    rows = result.ranking.head(top).iloc[::-1]
    fig = Figure(figsize=(7.0, 0.25 * len(rows) + 1.0))
    ax = fig.subplots()
    colours = [PALETTE[3] if s else PALETTE[0] for s in rows["suspicious"]]
    ax.barh([f"{n} ({c})" for n, c in zip(rows["name"], rows["class"])], rows["anomaly_index"].fillna(0), color=colours)
    ax.axvline(result.settings.threshold, color="black", linestyle="--", linewidth=1, label=f"threshold {result.settings.threshold:g}")
    ax.set_xlabel(f"anomaly index of the split score ({detection.detector(result.settings.ranking_detector).label})")
    ax.legend(loc="lower right", frameon=False)
    return fig


def _order(scanned: ClassScan, name: str) -> np.ndarray:
    """Positions within the class, most suspicious first (flagged first when the detector gives no scores)."""
    found = scanned.results[name]
    score = found.scores if found.scores is not None else found.flagged.astype(float)
    return np.argsort(-np.asarray(score, dtype=float), kind="stable")


def gallery_figure(result: ScanResult, scanned: ClassScan) -> Figure:
    """Most suspicious images over their heatmaps (left) beside the most typical ones (right)."""
    order = _order(scanned, result.settings.ranking_detector)
    count = min(GALLERY // 2, len(order) // 2) or 1
    fig = Figure(figsize=(1.15 * 2 * count + 0.4, 2.9))
    for block, (title, positions) in zip(fig.subfigures(1, 2), (("most suspicious", order[:count]), ("typical", order[::-1][:count]))):
        block.suptitle(title, fontsize=10, weight="bold")
        axes = block.subplots(2, count, squeeze=False)
        for j, position in enumerate(positions):
            show_image(axes[0, j], result.images.images[scanned.indices[position]], f"#{scanned.indices[position]}")
            if scanned.maps is not None:
                show_heatmap(axes[1, j], scanned.maps[position])
            else:
                axes[1, j].set_axis_off()
    return fig


def mean_maps_figure(images: np.ndarray, scanned: ClassScan, flagged: np.ndarray) -> Figure | None:
    """Mean image and mean (sum-normalised) heatmap of the flagged images against the rest; ``None`` without maps.

    ``images`` (n, H, W, 3) are the class's images, ``flagged`` (n,) bool the detector's verdict.
    """
    if scanned.maps is None or not flagged.any() or flagged.all():
        return None
    maps = scanned.maps / np.maximum(np.abs(scanned.maps).sum(axis=(1, 2), keepdims=True), 1e-12)
    fig = Figure(figsize=(7.6, 2.4))
    axes = fig.subplots(1, 4)
    limit = float(max(np.abs(maps[flagged].mean(0)).max(), np.abs(maps[~flagged].mean(0)).max()))
    for ax, group, title in ((axes[0], flagged, "flagged"), (axes[2], ~flagged, "rest")):
        show_image(ax, images[group].mean(axis=0).round().astype(np.uint8), f"mean image\n{title} ({int(group.sum())})")
    show_heatmap(axes[1], maps[flagged].mean(0), limit)
    axes[1].set_title("mean heatmap\nflagged")
    show_heatmap(axes[3], maps[~flagged].mean(0), limit)
    axes[3].set_title("mean heatmap\nrest")
    return fig


def agreement_table(scanned: ClassScan) -> pd.DataFrame:
    """Images flagged by both of two detectors, shape (d, d); the diagonal holds what each detector flags."""
    names = list(scanned.results)
    flags = np.array([scanned.results[n].flagged for n in names], dtype=int)
    labels = [detection.detector(n).label for n in names]
    table = pd.DataFrame(flags @ flags.T, columns=labels)
    table.insert(0, "flagged by both", labels)
    return table


def write_report(result: ScanResult, path, command: str = "") -> None:
    """Write ``result`` as one self-contained HTML file at ``path``."""
    suspicious = result.suspicious
    ranker = detection.detector(result.settings.ranking_detector)
    title = "poisondetect scan"
    if suspicious:
        names = ", ".join(f"<b>{html.escape(result.classes[c].name)}</b>" for c in suspicious)
        verdict = f'<p class="verdict alarm">Suspicious: {names}. These classes split far more clearly than the others.</p>'
    else:
        verdict = ('<p class="verdict calm">No class stands out: no class splits more clearly than the threshold allows. '
                   'Most suspicious class: <b>' + html.escape(str(result.ranking.iloc[0]["name"])) + '</b>.</p>')
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{title}</title><style>{_STYLE}</style></head><body>",
             f"<h1>{title}</h1>", verdict,
             f"<p class='muted'>Data: {html.escape(result.images.source)} ({len(result.images)} images, "
             f"{len(result.classes)} classes scanned). Explainer: {html.escape(result.settings.explainer)}. Detectors: "
             f"{html.escape(', '.join(detection.detector(n).label for n in result.settings.detectors))}. "
             f"poisondetect {__version__}, {_dt.datetime.now().isoformat(timespec='seconds')}."
             f"{' Command: <code>' + html.escape(command) + '</code>' if command else ''}</p>",
             "<h2>Which class is poisoned?</h2>",
             f"<p>{html.escape(ranker.label)} inspected every class. A poisoned class holds two kinds of images (clean ones, and "
             f"the poisons whose heatmaps point at the trigger), so it splits more clearly than the others: the anomaly index "
             f"is the robust z-score of a class's split score against all classes.</p>", _png(ranking_figure(result)),
             "<details><summary>Every class</summary>", _table(result.ranking), "</details>"]
    for label in suspicious:
        scanned = result.classes[label]
        flagged = scanned.results[ranker.name].flagged
        parts += [f"<h2>Class {html.escape(scanned.name)} ({label})</h2>",
                  f"<p>{ranker.label} flags <b>{int(flagged.sum())}</b> of {len(flagged)} images "
                  f"({100 * flagged.mean():.1f} %); the model assigns {100 * scanned.accuracy:.1f} % of them to this class.</p>",
                  "<h3>Most suspicious images beside typical ones</h3>", _png(gallery_figure(result, scanned))]
        means = mean_maps_figure(result.images.images[scanned.indices], scanned, flagged)
        if means is not None:
            parts += ["<h3>Where the flagged images' relevance lies</h3>",
                      "<p>A trigger shows as a small spot that holds much of the flagged images' relevance and none of the rest's.</p>",
                      _png(means)]
        parts += ["<h3>Do the detectors agree?</h3>", "<p>Images flagged by both detectors of a row and a column; "
                  "the diagonal counts what each detector flags on its own.</p>", _table(agreement_table(scanned))]
    seconds = pd.DataFrame({"step": list(result.seconds), "seconds": list(result.seconds.values())})
    parts += ["<h2>Runtime</h2>", _table(seconds), "</body></html>"]
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(parts))
