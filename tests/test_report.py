import json

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from poisondetect import paths, report


def test_save_figure_writes_pdf_png_and_manifest():
    ch = report.Chapter("09_demo", profile="smoke", dataset="synth")
    fig, ax = plt.subplots()
    report.show_heatmap(ax, np.array([[-1.0, 2.0], [0.5, 0.0]]), colorbar=True)
    pdf = ch.save_figure(fig, "heatmap", close=True)
    assert pdf == paths.figures_dir() / "09_demo" / "heatmap.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
    assert pdf.with_suffix(".png").read_bytes().startswith(b"\x89PNG")
    manifest = json.loads((paths.figures_dir() / "manifest.json").read_text())
    entry = manifest["09_demo/heatmap.pdf"]
    assert entry["notebook"] == "notebooks/09_demo.py"
    assert (entry["profile"], entry["dataset"]) == ("smoke", "synth")
    assert entry["commit"]
    assert "09_demo/heatmap.png" in manifest


def test_heatmap_colour_scale_is_centred_on_zero():
    fig, ax = plt.subplots()
    image = report.show_heatmap(ax, np.array([[-1.0, 3.0]]))
    assert image.get_clim() == (-3.0, 3.0)
    plt.close(fig)


def test_write_table_booktabs_and_escaping():
    ch = report.Chapter("09_demo", profile="smoke", dataset="synth")
    df = pd.DataFrame({"method": ["HC_gw", "AC"], "TPR %": [99.456, float("nan")]})
    path = ch.write_table(df, "detection")
    text = path.read_text()
    assert path.name == "09_demo_detection.tex"
    assert text.startswith(r"\begin{tabular}{lr}")
    assert r"\toprule" in text and r"\bottomrule" in text
    assert r"HC\_gw & 99.5 \\" in text
    assert r"AC & -- \\" in text
    assert r"TPR \%" in text
    assert path.with_suffix(".csv").exists()


def test_numbers_are_replaced_not_duplicated():
    ch = report.Chapter("09_demo", profile="smoke", dataset="synth")
    ch.write_numbers({"DemoAccuracy": "91.2", "DemoCount": 3})
    ch.write_numbers({"DemoAccuracy": "93.0"})
    report.Chapter("08_other", "smoke", "synth").write_numbers({"OtherValue": "50%"})
    text = (paths.figures_dir() / "numbers.tex").read_text()
    assert text.count(r"\newcommand{\DemoAccuracy}") == 1
    assert r"\newcommand{\DemoAccuracy}{93.0}" in text
    assert r"\newcommand{\DemoCount}{3}" in text
    assert r"\newcommand{\OtherValue}{50\%}" in text


@pytest.mark.parametrize("bad", ["Demo1", "demo_value", "Ä"])
def test_invalid_macro_names_are_rejected(bad):
    with pytest.raises(ValueError, match="letters only"):
        report.Chapter("09_demo", "smoke", "synth").write_numbers({bad: 1})


def test_chapter_validates_its_arguments():
    with pytest.raises(ValueError, match="must look like '03_lrp'"):
        report.Chapter("lrp", "smoke", "synth")
    with pytest.raises(ValueError, match="unknown profile"):
        report.Chapter("03_lrp", "huge", "synth")


def test_numbers_name_the_profiles_that_made_the_outputs():
    import matplotlib.pyplot as plt

    report.Chapter("09_demo", "quick", "gtsrb").save_figure(plt.figure(), "empty", close=True)
    report.Chapter("08_other", "smoke", "synth").write_numbers({"OtherValue": 1})
    text = (paths.figures_dir() / "numbers.tex").read_text()
    assert r"\newcommand{\GeneratedWith}{quick/gtsrb, smoke/synth}" in text


def test_share_axis_has_one_plain_tick_per_share():
    fig, ax = plt.subplots()
    ax.plot([5, 15, 33], [1, 2, 3])
    report.share_axis(ax, [33, 5, 15])
    fig.canvas.draw()
    assert list(ax.get_xticks()) == [5, 15, 33]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["5", "15", "33"]
    assert len(ax.xaxis.get_minor_locator().tick_values(1, 100)) == 0
    plt.close(fig)


def test_outside_a_kernel_figures_use_agg_and_are_not_displayed(monkeypatch):
    shown = []
    monkeypatch.setattr(report, "display", shown.append)
    matplotlib.use("pdf", force=True)
    ch = report.Chapter("09_demo", profile="smoke", dataset="synth")
    assert matplotlib.get_backend().lower() == "agg"
    fig = plt.figure()
    ch.save_figure(fig, "plain")
    assert shown == [] and plt.fignum_exists(fig.number)
    plt.close(fig)


def test_in_a_kernel_the_backend_stays_and_each_figure_is_shown_once(monkeypatch):
    """In JupyterLab (inline backend) and under papermill (Agg) a saved figure is displayed as one small PNG."""

    class Shell:
        kernel = object()

    shown = []
    monkeypatch.setattr(report, "get_ipython", Shell)
    monkeypatch.setattr(report, "display", shown.append)
    matplotlib.use("pdf", force=True)
    try:
        ch = report.Chapter("09_demo", profile="smoke", dataset="synth")
        assert matplotlib.get_backend().lower() == "pdf"
        fig, ax = plt.subplots(figsize=(6.0, 3.6))
        ax.plot([0, 1], [1, 0])
        pdf = ch.save_figure(fig, "shown")
    finally:
        matplotlib.use("Agg", force=True)
    assert len(shown) == 1 and shown[0].format == "png"
    # closed, so the inline backend does not draw it again at the end of the cell
    assert not plt.fignum_exists(fig.number)
    width = int.from_bytes(shown[0].data[16:20], "big")
    saved_width = int.from_bytes(pdf.with_suffix(".png").read_bytes()[16:20], "big")
    assert width <= 6.0 * report.NOTEBOOK_DPI < saved_width
