"""The chapter-3 drawing helpers: network diagrams come from the models' own structure."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from poisondetect import drawing, lrp_teaching  # noqa: E402
from poisondetect.models import build_model  # noqa: E402
from poisondetect.models.inception import InceptionA  # noqa: E402


@pytest.mark.parametrize("model, boxes", [
    # input, 3 convs, 3 pools, 3 dense layers (norms, ReLUs, dropout folded into their layer)
    (lambda: build_model("net"), 10),
    # input; 1 + 2 + 3 + 1 convs and one max-pool in the four branches; the concatenation
    (lambda: InceptionA(3), 10),
    (lambda: build_model("inception"), 10 + 4 + 3 + 3),
    (lambda: build_model("vgg16"), 1 + 13 + 5 + 3),
])
def test_network_diagram_draws_one_box_per_layer(model, boxes):
    fig, ax = plt.subplots()
    assert drawing.network_diagram(ax, model()) == boxes
    labels = [text.get_text() for text in ax.texts]
    assert "input 3x32x32" in labels
    plt.close(fig)


def test_toy_and_perturbation_figures_draw():
    W, v, b, c, x = (lrp_teaching.TOY[k] for k in ("W", "v", "b", "c", "x"))
    h = np.maximum(W @ x + b, 0)
    relevances = lrp_teaching.four_step_lrp([W, v], [b, c], x, 0, *lrp_teaching.rule_functions("gamma"))
    fig, ax = plt.subplots()
    drawing.draw_toy_lrp(ax, [W, v], [x, h, v @ h + c], relevances)
    assert any(text.get_text() == "R=8" for text in ax.texts)
    plt.close(fig)
    curves = {"a": np.array([[2.0, 1.0, 0.0]]), "random": np.array([[2.0, 1.5, 1.0]])}
    table = pd.DataFrame({"s": {"a": 1.0, "random": 0.5}})
    plt.close(drawing.perturbation_figure(curves, table, {}, np.array([0, 0.1, 0.2]), "title"))
