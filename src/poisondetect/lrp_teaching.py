r"""Small problems for teaching LRP: a hand-checkable toy network, the four-step rule, canonization, a slider.

The LRP chapter (``notebooks/03_lrp.py``) checks the package's rules against
numbers a reader can work out by hand and against a few lines of NumPy
written from the generic rule of :cite:`montavon2019layer`,

.. math::

    R_i = \sum_j \frac{a_i\,\rho(w_{ij})}{\mathrm{incr}\big(\sum_{i'} a_{i'}\,\rho(w_{i'j}) + \rho(b_j)\big)}\, R_j ,

computed in four steps: :math:`z = \mathrm{incr}(\rho(W) a + \rho(b))`,
:math:`s = R \oslash z`, :math:`c = \rho(W)^\top s`, :math:`R_{\text{in}} = a \odot c`.

- :data:`TOY` and :func:`toy_network`: three inputs, three hidden ReLU units
  (one of them switched off), one output;
- :func:`rule_functions` and :func:`four_step_lrp`: the generic rule in NumPy for a
  dense ReLU network, with the package's relative :math:`\epsilon`;
- :func:`uncanonized_relevance`: LRP of a model *without* merging its BatchNorms,
  to show what the canonizer changes;
- :func:`frozen_norm_gradient_x_input`: gradient times input with the statistics
  of every InstanceNorm held constant, which LRP-0 equals for the small ``Net``;
- :func:`gamma_explorer`: a slider over :math:`\gamma` that redraws an LRP-:math:`\gamma`
  heatmap (JupyterLab only; needs ``ipywidgets``).

This module lives outside :mod:`poisondetect.explain` on purpose: the cache key of
every heatmap hashes the code of that package, and teaching helpers must not
invalidate cached heatmaps.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from .explain import ExplainSettings, explain
from .explain import explanation_method
from .explain.lrp import InstanceNorm, LRPComposite, input_layer_names, lrp_batch

__all__ = ["TOY", "four_step_lrp", "frozen_norm_gradient_x_input", "gamma_explorer", "rule_functions",
           "toy_network", "uncanonized_relevance"]

#: The worked example: input ``x``, hidden weights ``W`` (rows: units) and biases ``b``, output weights ``v``, bias ``c``.
#: Hidden pre-activations (4, 4, -4): the third ReLU is switched off; output y = 8.
TOY = {
    "x": np.array([1.0, 2.0, 1.0]),
    "W": np.array([[1.0, 1.0, 1.0], [3.0, -1.0, 1.0], [-1.0, -1.0, -1.0]]),
    "b": np.array([0.0, 2.0, 0.0]),
    "v": np.array([[1.0, 1.0, 2.0]]),
    "c": np.array([0.0]),
}


def toy_network(W=None, b=None, v=None, c=None) -> tuple[nn.Module, torch.Tensor]:
    """The dense ReLU network ``Flatten -> Linear -> ReLU -> Linear`` with the weights of :data:`TOY` (or given ones).

    The inputs are the channels of a 1x1 "image", so the package's :func:`~poisondetect.explain.explain`
    takes them as it takes pictures.

    Returns
    -------
    model : nn.Sequential
        In double precision, eval mode.
    x : Tensor, shape (1, n_in, 1, 1)
        :data:`TOY`'s input.
    """
    W, b, v, c = (np.asarray(TOY[k] if given is None else given, float) for k, given in zip("Wbvc", (W, b, v, c)))
    model = nn.Sequential(nn.Flatten(), nn.Linear(W.shape[1], W.shape[0]), nn.ReLU(), nn.Linear(v.shape[1], v.shape[0])).double()
    with torch.no_grad():
        for layer, weight, bias in ((model[1], W, b), (model[3], v, c)):
            layer.weight.copy_(torch.from_numpy(weight))
            layer.bias.copy_(torch.from_numpy(bias))
    x = torch.from_numpy(TOY["x"]).view(1, -1, 1, 1)
    return model.eval(), x


def rule_functions(rule: str, epsilon: float = 0.25, gamma: float = 0.25) -> tuple[Callable, Callable]:
    r"""The pair :math:`(\rho, \mathrm{incr})` of a rule of the generic form.

    - ``"lrp0"``: :math:`\rho(w) = w`, :math:`\mathrm{incr}(z) = z`;
    - ``"epsilon"``: :math:`\rho(w) = w`, :math:`\mathrm{incr}(z) = z + \epsilon\,\mathrm{rms}(z)\,\mathrm{sign}(z)`,
      the package's relative :math:`\epsilon` (rms over the layer's pre-activations, :math:`\mathrm{sign}(0) = 1`);
    - ``"gamma"``: :math:`\rho(w) = w + \gamma w^+`, :math:`\mathrm{incr}(z) = z` (for inputs :math:`a_i \ge 0`
      and units with :math:`z_j > 0`, the only ones that carry relevance behind a ReLU).

    :math:`\rho` is applied to the biases as well (a bias is a weight on a constant input 1).
    """
    identity = lambda array: array  # noqa: E731
    if rule == "lrp0":
        return identity, identity
    if rule == "epsilon":
        return identity, lambda z: z + epsilon * np.sqrt(np.mean(z**2)) * np.where(z >= 0, 1.0, -1.0)
    if rule == "gamma":
        return lambda w: w + gamma * np.clip(w, 0, None), identity
    raise ValueError(f"unknown rule {rule!r}: choose 'lrp0', 'epsilon' or 'gamma'")


def four_step_lrp(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray], x: np.ndarray, target: int,
                  rho: Callable, incr: Callable) -> list[np.ndarray]:
    r"""LRP of a dense ReLU network in NumPy, layer by layer with the four steps of the generic rule.

    Parameters
    ----------
    weights, biases : sequences of ndarray, shapes (out, in) and (out,)
        The linear layers; a ReLU follows every layer but the last.
    x : ndarray, shape (in,)
    target : int
        The explained output; relevance starts as :math:`R^{(L)} = e_t f_t(x)`.
    rho, incr : callables
        From :func:`rule_functions`.

    Returns
    -------
    list of ndarray
        The relevances, from the input (first) to the output layer (last).
    """
    activations = [np.asarray(x, float)]
    for index, (W, b) in enumerate(zip(weights, biases)):
        z = W @ activations[-1] + b
        activations.append(np.maximum(z, 0) if index < len(weights) - 1 else z)
    relevance = np.zeros_like(activations[-1])
    relevance[target] = activations[-1][target]
    relevances = [relevance]
    for a, W, b in zip(reversed(activations[:-1]), reversed(weights), reversed(biases)):
        z = incr(rho(W) @ a + rho(b))  # step 1: forward pass with the modified weights
        s = relevance / z               # step 2: relevance per unit of z
        c = rho(W).T @ s                # step 3: backward pass (a gradient)
        relevance = a * c               # step 4: times the input
        relevances.insert(0, relevance)
    return relevances


def uncanonized_relevance(model: nn.Module, x: torch.Tensor, target: int, method: str,
                          settings: ExplainSettings = ExplainSettings()) -> np.ndarray:
    """Relevance (n, 3, H, W) of LRP variant ``method`` with the same rules as :func:`~poisondetect.explain.explain`
    but without merging the BatchNorms: each keeps its own :class:`~poisondetect.explain.FrozenNormRule`.

    Only for showing what canonization changes; the detectors always canonize.
    """
    entry = explanation_method(method)
    if entry.kind != "lrp":
        raise ValueError(f"{method!r} is not an LRP method")
    model = copy.deepcopy(model).eval()
    composite = LRPComposite(entry.run(settings), input_layer_names(model), settings.stabilizer, canonizers=None)
    composite.register(model)
    try:
        relevance, _, _ = lrp_batch(model, x, torch.full((len(x),), int(target), dtype=torch.long))
    finally:
        composite.remove()
    return relevance.numpy()


def frozen_norm_gradient_x_input(model: nn.Module, x: torch.Tensor, target: int) -> np.ndarray:
    r"""Gradient times input (n, 3, H, W) of the logit ``target``, with every InstanceNorm's mean and variance held constant.

    An InstanceNorm computes :math:`y = \gamma_\mathrm{IN}\,(x - \mu(x)) / \sqrt{\sigma^2(x) + \varepsilon} + \beta_\mathrm{IN}`
    from the image's own statistics. The plain gradient also differentiates :math:`\mu(x)` and
    :math:`\sigma^2(x)`; here they are detached, as :class:`~poisondetect.explain.FrozenNormRule` treats them.
    For a network of linear layers, ReLUs, max-pools and such normalisations, LRP-0 equals this product.
    """
    model = copy.deepcopy(model).eval()

    def frozen(module, inputs, output):
        (a,) = inputs
        dims = tuple(range(2, a.ndim))
        mean, var = a.mean(dim=dims, keepdim=True).detach(), a.var(dim=dims, unbiased=False, keepdim=True).detach()
        y = (a - mean) / torch.sqrt(var + module.eps)
        if module.affine:
            shape = (1, -1) + (1,) * (a.ndim - 2)
            y = y * module.weight.view(shape) + module.bias.view(shape)
        return y

    handles = [m.register_forward_hook(frozen) for m in model.modules()
               if isinstance(m, InstanceNorm) and not m.track_running_stats]
    try:
        x = x.detach().clone().requires_grad_(True)
        logits = model(x)
        (gradient,) = torch.autograd.grad(logits[:, target].sum(), x)
    finally:
        for handle in handles:
            handle.remove()
    return (gradient * x).detach().numpy()


def gamma_explorer(model: nn.Module, x: torch.Tensor, target: int, gammas: Sequence[float] = (0.0, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 20.0)):
    """A slider over :math:`\\gamma` that redraws the LRP-:math:`\\gamma` heatmap of one image ``x`` (1, 3, H, W).

    Heatmaps are computed once for all ``gammas`` when the slider is made. Needs a Jupyter
    frontend and ``ipywidgets``; display the returned widget as the last expression of a cell.
    """
    try:
        import ipywidgets
    except ImportError as error:
        raise ImportError("gamma_explorer needs ipywidgets: pip install -e . (it is in pyproject.toml)") from error
    import matplotlib.pyplot as plt
    from IPython.display import display

    from . import report

    maps = {g: explain(model, x, target, "gamma", progress=False, settings=ExplainSettings(gamma=g)) for g in gammas}

    def draw(gamma: float) -> None:
        result = maps[gamma]
        fig, ax = plt.subplots(figsize=(3.0, 2.6))
        report.show_heatmap(ax, result.maps[0], colorbar=True)
        share = result.maps[0].sum() / result.logits_explained[0]
        ax.set_title(f"LRP-$\\gamma$, $\\gamma$ = {gamma:g}: sum / logit = {share:.2f}", fontsize=8)
        display(fig)
        plt.close(fig)

    slider = ipywidgets.SelectionSlider(options=list(gammas), value=0.25 if 0.25 in gammas else gammas[0],
                                        description="gamma", continuous_update=False)
    return ipywidgets.interactive(draw, gamma=slider)
