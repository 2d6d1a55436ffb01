"""Figures of the LRP chapter that take more than a few lines: perturbation curves, toy networks, network diagrams.

- :func:`perturbation_figure`: region-perturbation curves of several attributions and
  their AOPC table (:mod:`poisondetect.faithfulness`);
- :func:`draw_toy_lrp`: a dense network with its activations (forward) and relevances
  (LRP backward) written on the units and the contributions on the edges;
- :func:`network_diagram`: the layers of any of the three classifiers, laid out from
  the model's own traced graph (parallel branches side by side).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import fx, nn

from . import report

__all__ = ["draw_toy_lrp", "network_diagram", "perturbation_figure"]


def perturbation_figure(curves: Mapping[str, np.ndarray], table, labels: Mapping[str, str],
                        removed: np.ndarray, title: str):
    """Mean perturbation curves (left) and the AOPC of every method and setting (right, one column per setting).

    Parameters
    ----------
    curves : mapping method -> ndarray (n, K + 1)
        Explained logits as regions are removed (one setting); ``"random"`` is drawn in black.
    table : DataFrame
        AOPC, methods as rows (same keys as ``curves``), settings as columns.
    labels : mapping method -> str
    removed : ndarray (K + 1,)
        Share of the image removed after each step.
    title : str
        Title of the curve panel (the setting it shows).
    """
    import matplotlib.pyplot as plt

    fig, (ax, ax_table) = plt.subplots(1, 2, figsize=(7.2, 3.6), width_ratios=[1.0, 1.1], layout="constrained")
    styles = ["-", "--", ":", "-."]
    for index, (method, curve) in enumerate(curves.items()):
        colour = "black" if method == "random" else report.PALETTE[index % 7]
        ax.plot(100 * removed, curve.mean(axis=0), color=colour, lw=1.6 if method == "random" else 1.0,
                ls=":" if method == "random" else styles[index // 7], label=labels.get(method, method))
    ax.set_xlabel("image area removed (%)")
    ax.set_ylabel("mean explained logit")
    ax.set_title(title, fontsize=8)
    ax.legend(fontsize=5.5, ncol=2)
    values = table.to_numpy(float)
    ax_table.imshow(values, cmap=report.SEQUENTIAL_CMAP, aspect="auto")
    for (row, col), value in np.ndenumerate(values):
        best = value == values[:, col].max()
        ax_table.text(col, row, f"{value:.2f}", ha="center", va="center", fontsize=5.5,
                      color="white" if value < values.mean() else "black", fontweight="bold" if best else "normal")
    ax_table.set_xticks(range(values.shape[1]), table.columns, fontsize=6, rotation=30, ha="right")
    ax_table.set_yticks(range(values.shape[0]), [labels.get(m, m) for m in table.index], fontsize=6)
    ax_table.set_title("AOPC (larger: more faithful; bold: best)", fontsize=8)
    ax_table.grid(False)
    return fig


def draw_toy_lrp(ax, weights: Sequence[np.ndarray], activations: Sequence[np.ndarray], relevances: Sequence[np.ndarray],
                 title: str = "") -> None:
    """Draw a dense network with activations :math:`a` (black) and relevances :math:`R` (red) written on its units.

    Every edge :math:`i \\to j` is labelled with its contribution :math:`a_i w_{ij}`; edges of units that are
    switched off (activation 0) are drawn faint.

    Parameters
    ----------
    weights : sequence of ndarray, shapes (out, in)
    activations : sequence of ndarray
        Input, each hidden layer after its ReLU, and the output: one more than ``weights``.
    relevances : sequence of ndarray
        Same shapes as ``activations``.
    """
    sizes = [len(a) for a in activations]
    position = [[(layer, (size - 1) / 2 - unit) for unit in range(size)] for layer, size in enumerate(sizes)]
    for layer, W in enumerate(weights):
        for j in range(W.shape[0]):
            for i in range(W.shape[1]):
                (x0, y0), (x1, y1) = position[layer][i], position[layer + 1][j]
                off = activations[layer + 1][j] == 0 and layer + 1 < len(sizes) - 1
                contribution = activations[layer][i] * W[j, i]
                ax.plot([x0, x1], [y0, y1], color="0.85" if off else ("#D55E00" if contribution > 0 else "#0072B2"
                        if contribution < 0 else "0.6"), lw=0.6 + 0.4 * min(abs(contribution), 4), zorder=1)
                ax.text(x0 + 0.3 * (x1 - x0), y0 + 0.3 * (y1 - y0), f"{contribution:g}", fontsize=5.5, ha="center",
                        va="center", color="0.6" if off else "0.1", bbox=dict(fc="white", ec="none", pad=0.2), zorder=2)
    names = ["x"] + ["h"] * (len(sizes) - 2) + ["y"]
    for layer, units in enumerate(position):
        for unit, (x, y) in enumerate(units):
            a, r = activations[layer][unit], relevances[layer][unit]
            ax.scatter([x], [y], s=900, color="white", edgecolor="0.2", zorder=3)
            ax.text(x, y + 0.1, f"${names[layer]}_{unit + 1}={a:g}$", fontsize=6, ha="center", va="center", zorder=4)
            ax.text(x, y - 0.13, f"R={r:.3g}", fontsize=6, ha="center", va="center", color="#D55E00", zorder=4)
    ax.set_xlim(-0.4, len(sizes) - 0.6)
    ax.set_ylim(-max(sizes) / 2 - 0.1, max(sizes) / 2 + 0.1)
    ax.set_title(title, fontsize=8)
    ax.axis("off")


_COLLAPSED = (nn.BatchNorm1d, nn.BatchNorm2d, nn.InstanceNorm2d, nn.ReLU, nn.Dropout, nn.Flatten)


def _describe(module: nn.Module) -> str:
    if isinstance(module, nn.Conv2d):
        k = module.kernel_size[0]
        return f"conv {k}x{k}, {module.out_channels}"
    if isinstance(module, nn.Linear):
        return f"dense {module.out_features}"
    if isinstance(module, nn.MaxPool2d):
        k = module.kernel_size if isinstance(module.kernel_size, int) else module.kernel_size[0]
        stride = module.stride if isinstance(module.stride, int) else module.stride[0]
        return f"max-pool {k}x{k}" + ("" if stride == k else f"/{stride}")
    return type(module).__name__


def network_diagram(ax, model: nn.Module, title: str = "", horizontal: bool = False, spread: float = 2.2) -> int:
    """Draw the layers of ``model`` from its traced graph: one box per convolution, dense layer, pool or concatenation.

    Normalisations, ReLUs, dropout and flatten are folded into the box of the layer they follow
    (noted as "+BN", "+IN"); parallel branches (the Inception block) are drawn side by side,
    each layer at the depth of its longest path from the input.

    Returns
    -------
    int
        The number of boxes drawn.
    """
    graph = fx.symbolic_trace(model).graph
    modules = dict(model.named_modules())
    box_of: dict[fx.Node, fx.Node] = {}
    boxes: dict[fx.Node, list[str]] = {}
    parents: dict[fx.Node, list[fx.Node]] = {}
    for node in graph.nodes:
        inputs = [box_of[arg] for arg in node.all_input_nodes if arg in box_of]
        module = modules.get(node.target) if node.op == "call_module" else None
        if node.op == "placeholder":
            boxes[node], parents[node], box_of[node] = ["input 3x32x32"], [], node
        elif node.op == "output":
            continue
        elif (module is not None and isinstance(module, _COLLAPSED)) or (module is None and node.target is not torch.cat):
            box_of[node] = inputs[0]
            if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
                boxes[inputs[0]].append("+BN")
            elif isinstance(module, nn.InstanceNorm2d):
                boxes[inputs[0]].append("+IN")
        else:
            boxes[node] = [_describe(module) if module is not None else "concatenate"]
            parents[node], box_of[node] = list(dict.fromkeys(inputs)), node
    depth: dict[fx.Node, int] = {}
    for node in boxes:
        depth[node] = 1 + max((depth[p] for p in parents[node]), default=-1)
    lanes: dict[fx.Node, float] = {}
    for node in boxes:
        siblings = [n for n in boxes if parents[n] == parents[node] and len(parents[node]) == 1]
        parent_lane = np.mean([lanes[p] for p in parents[node]]) if parents[node] else 0.0
        if len(parents[node]) == 1 and len(siblings) > 1:
            lanes[node] = parent_lane + (siblings.index(node) - (len(siblings) - 1) / 2)
        else:
            lanes[node] = parent_lane if len(parents[node]) != 1 else lanes[parents[node][0]]
    lanes = {node: spread * lane for node, lane in lanes.items()}
    for node in boxes:
        x, y = (depth[node], -lanes[node]) if horizontal else (lanes[node], -depth[node])
        for parent in parents[node]:
            px, py = (depth[parent], -lanes[parent]) if horizontal else (lanes[parent], -depth[parent])
            ax.annotate("", (x, y), (px, py), arrowprops=dict(arrowstyle="->", color="0.4", lw=0.7, shrinkA=9, shrinkB=9))
        label = boxes[node][0] + (" " + " ".join(dict.fromkeys(boxes[node][1:])) if len(boxes[node]) > 1 else "")
        ax.text(x, y, label, ha="center", va="center", fontsize=5.5, rotation=90 if horizontal else 0,
                bbox=dict(boxstyle="round,pad=0.3", fc="#E8F1F8" if "conv" in label else "#F6EEDC", ec="0.4", lw=0.6))
    xs = [depth[n] if horizontal else lanes[n] for n in boxes]
    ys = [-lanes[n] if horizontal else -depth[n] for n in boxes]
    ax.set_xlim(min(xs) - 0.8, max(xs) + 0.8)
    ax.set_ylim(min(ys) - 0.8, max(ys) + 0.8)
    ax.set_title(title, fontsize=8)
    ax.axis("off")
    return len(boxes)
