r"""Layer-wise relevance propagation through zennit: rules, composites, and the backward pass.

LRP :cite:`bach2015` explains one output :math:`f_t(x)` (here the logit of
class :math:`t`) by passing relevance backwards layer by layer, starting with
:math:`R^{(L)}_j = \delta_{jt}\, f_t(x)` at the logits. For a linear layer
:math:`z_j = \sum_i a_i w_{ij} + b_j` every rule has the form

.. math:: R_i = \sum_j \frac{q_{ij}}{\sum_{i'} q_{i'j} + c_j}\, R_j

with a contribution :math:`q_{ij}` and a bias/stabiliser term :math:`c_j`
:cite:`montavon2019layer`:

- LRP-0: :math:`q_{ij} = a_i w_{ij}`, :math:`c_j = b_j` (plus a tiny stabiliser)
- LRP-:math:`\epsilon`: :math:`q_{ij} = a_i w_{ij}`, :math:`c_j = b_j + \epsilon\,\mathrm{sign}(z_j)`
- LRP-:math:`\gamma`: :math:`q_{ij} = a_i (w_{ij} + \gamma w_{ij}^+)`, :math:`c_j = b_j + \gamma b_j^+`
  (for :math:`a_i \ge 0` and :math:`z_j > 0`)
- LRP-:math:`\alpha\beta`: :math:`\alpha (a_i w_{ij})^+` and :math:`-\beta (a_i w_{ij})^-`,
  each normalised separately with the biases :math:`b_j^\pm`
- flat: :math:`q_{ij} = 1` on the receptive field, :math:`c_j = 0`
- box (:math:`z^\mathcal{B}`): :math:`q_{ij} = a_i w_{ij} - l_i w_{ij}^+ - h_i w_{ij}^-`
  with input bounds :math:`l \le a \le h`, :math:`c_j = 0`

The exact formulas of zennit's generalised :math:`\gamma` rule (negative
inputs allowed) :cite:`andeol2021learning` are written out in
``tests/test_explain_reference.py``, which recomputes every rule with loops.

In this module :math:`\epsilon` is relative: :math:`\epsilon_j = \epsilon\cdot
\mathrm{rms}(z)` with the root mean square of the layer's pre-activations of
the same image (the "0.25 std" of :cite:`montavon2019layer`); in a network
without biases the heatmap of an image scaled by a constant is then scaled by
the same constant.

Element-wise layers: ReLU passes relevance unchanged; max-pooling routes it to
the maximum (the gradient); average pooling distributes it proportionally to
the inputs. BatchNorm layers are merged into the preceding linear layer by
:mod:`poisondetect.explain.canonizers`; normalisations that cannot be merged
(the InstanceNorm of the small ``Net``) get :class:`FrozenNormRule`.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

import torch
from torch import fx, nn
from zennit.core import Composite, Hook, ParamMod, Stabilizer
from zennit.rules import AlphaBeta, ClampMod, Epsilon, Flat, Gamma, GammaMod, Norm, Pass, ZBox, ZPlus
from zennit.types import Activation, AvgPool, BatchNorm, Convolution, Linear

from ..data.transforms import input_bounds
from .canonizers import canonizers_for, trace
from .methods import ExplainSettings, explanation_method, methods_of_kind, register_method

InstanceNorm = (nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d)

#: LRP variants understood by :func:`lrp_composite`.


class RelativeEpsilon:
    r"""Stabiliser :math:`z \mapsto z + \mathrm{sign}(z)\,(\epsilon\,\mathrm{rms}(z) + \delta)` per image.

    ``rms`` is taken over all entries of one image's pre-activations of the
    layer; :math:`\delta` is a tiny absolute stabiliser against division by zero
    and :math:`\mathrm{sign}(0) = 1`.
    """

    def __init__(self, epsilon: float, stabilizer: float = 1e-6) -> None:
        self.epsilon, self.stabilizer = float(epsilon), float(stabilizer)

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        rms = z.detach().pow(2).mean(dim=tuple(range(1, z.ndim)), keepdim=True).sqrt()
        sign = (z >= 0).to(z) * 2 - 1
        return z + sign * (self.epsilon * rms + self.stabilizer)


def norm_scale(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    r"""Per-channel factor :math:`a = \gamma / \sqrt{\sigma^2 + \varepsilon}` of a normalisation layer for input ``x``.

    Shape (n, C, 1, ...) for an InstanceNorm that normalises with the image's
    own statistics, (1, C, 1, ...) for a BatchNorm (running statistics).
    """
    shape = (1, -1) + (1,) * (x.ndim - 2)
    if isinstance(module, InstanceNorm) and (module.training or not module.track_running_stats):
        var = x.var(dim=tuple(range(2, x.ndim)), unbiased=False, keepdim=True)
    elif getattr(module, "running_var", None) is not None:
        var = module.running_var.view(shape)
    else:
        raise ValueError(f"{type(module).__name__} without running statistics: call model.eval() with tracked statistics")
    scale = (var + module.eps).rsqrt()
    if getattr(module, "weight", None) is not None:
        scale = scale * module.weight.view(shape)
    return scale


class FrozenNormRule(Hook):
    r"""LRP-0 for a normalisation layer seen as a fixed affine map per image and channel.

    With its statistics frozen at their values for the explained image, an
    InstanceNorm (or an unmerged BatchNorm) is :math:`y = a x + b` with
    :math:`a = \gamma/\sqrt{\sigma^2+\varepsilon}` and :math:`b = \beta - a\mu`.
    Each output depends on one input, so

    .. math:: R_x = \frac{a x}{y + \delta\,\mathrm{sign}(y)}\, R_y ,

    where the share :math:`b / y` is absorbed by the bias. Composed with LRP-0 or
    LRP-:math:`\epsilon` on the preceding convolution this equals merging the
    normalisation into that convolution image by image (what a canonizer does
    for BatchNorm), which the tests check. Treating the statistics as constants
    is the usual choice for normalisation layers: their dependence on the other
    pixels is not attributed.
    """

    def __init__(self, stabilizer: float = 1e-6) -> None:
        super().__init__()
        self.stabilizer = stabilizer

    def copy(self) -> "FrozenNormRule":
        return self.__class__(self.stabilizer)

    def forward(self, module, args, kwargs, output):
        self.stored_tensors["input"] = args[0].detach()
        self.stored_tensors["output"] = output.detach()

    def backward(self, module, grad_input, grad_output):
        x, y = self.stored_tensors["input"], self.stored_tensors["output"]
        with torch.no_grad():
            denominator = y + ((y >= 0).to(y) * 2 - 1) * self.stabilizer
            relevance = norm_scale(module, x) * x / denominator * grad_output[0]
        return tuple(relevance if grad is not None and grad.shape == relevance.shape else None for grad in grad_input)


class FastZPlus(ZPlus):
    r"""zennit's :math:`z^+` rule, skipping the term of negative inputs when there are none.

    :math:`z^+` sums :math:`(a_i w_{ij})^+ = a_i^+ w_{ij}^+ + a_i^- w_{ij}^-`. Behind a ReLU
    or max-pool every :math:`a_i \ge 0`, so the second term is zero and zennit's extra
    forward and backward pass for it is wasted; this hook leaves it out in that case
    (one forward and one backward convolution fewer per layer) and falls back to the
    full rule otherwise.
    """

    def __init__(self, stabilizer: float = 1e-6) -> None:
        super().__init__(stabilizer=stabilizer)
        self.stabilizer = stabilizer

    def copy(self) -> "FastZPlus":
        return self.__class__(self.stabilizer)

    def backward(self, module, grad_input, grad_output):
        original, *args = self.stored_tensors["input"]
        if (original < 0).any():
            return super().backward(module, grad_input, grad_output)
        kwargs = self.stored_tensors["kwargs"]
        x = original.clone().requires_grad_()
        with ParamMod.ensure(ClampMod(min=0.0))(module) as positive, torch.autograd.enable_grad():
            z = positive.forward(x, *args, **kwargs)
        (gradient,) = torch.autograd.grad(z, x, grad_outputs=grad_output[0] / Stabilizer.ensure(self.stabilizer)(z))
        relevance = x * gradient
        return tuple(relevance if grad is not None and grad.shape == relevance.shape else None for grad in grad_input)


class FastGamma(Gamma):
    r"""zennit's generalised LRP-:math:`\gamma` rule, skipping the terms of negative inputs when there are none.

    The generalised rule runs five modified forward passes (positive and negative
    inputs, each with the positive- and the negative-boosted weights, and the
    plain layer) and back-propagates through all of them. For inputs
    :math:`a_i \ge 0`, as behind every ReLU or max-pool, the passes of negative
    inputs are zero, and what remains is

    .. math:: R_i = a_i \sum_j \Big( w^{\uparrow}_{ij}\, \frac{[z_j > 0]\, R_j}{z^{\uparrow}_j}
              + w^{\downarrow}_{ij}\, \frac{[z_j < 0]\, R_j}{z^{\downarrow}_j} \Big),

    with :math:`w^{\uparrow} = w + \gamma w^+`, :math:`w^{\downarrow} = w + \gamma w^-`
    (biases likewise) and :math:`z^{\uparrow}, z^{\downarrow}` the outputs of the layer with
    these parameters. Since :math:`w^+ + w^- = w`, the plain output needs no pass of
    its own: :math:`z = (z^{\uparrow} + z^{\downarrow}) / (2 + \gamma)`. Two forward and two
    backward convolutions instead of five and five. Inputs with negative entries (the
    normalised image) take zennit's full rule.
    """

    def __init__(self, gamma: float = 0.25, stabilizer: float = 1e-6) -> None:
        super().__init__(gamma=gamma, stabilizer=stabilizer)
        self.gamma, self.stabilizer = gamma, stabilizer

    def copy(self) -> "FastGamma":
        return self.__class__(self.gamma, self.stabilizer)

    def backward(self, module, grad_input, grad_output):
        original, *args = self.stored_tensors["input"]
        if (original < 0).any():
            return super().backward(module, grad_input, grad_output)
        kwargs = self.stored_tensors["kwargs"]
        stabilize = Stabilizer.ensure(self.stabilizer)
        x = original.clone().requires_grad_()
        with torch.autograd.enable_grad():
            with ParamMod.ensure(GammaMod(self.gamma, min=0.0))(module) as boosted_up:
                z_up = boosted_up.forward(x, *args, **kwargs)
            with ParamMod.ensure(GammaMod(self.gamma, max=0.0))(module) as boosted_down:
                z_down = boosted_down.forward(x, *args, **kwargs)
        z = (z_up + z_down).detach()  # (2 + gamma) times the plain output: only its sign is used
        relevance_out = grad_output[0]
        # one backward pass through both boosted layers: the gradient sums their two terms
        (gradient,) = torch.autograd.grad(
            (z_up, z_down), x,
            grad_outputs=((z > 0).to(z) * relevance_out / stabilize(z_up), (z < 0).to(z) * relevance_out / stabilize(z_down)),
        )
        relevance = x * gradient
        return tuple(relevance if grad is not None and grad.shape == relevance.shape else None for grad in grad_input)


def input_layer_names(model: nn.Module) -> set[str] | None:
    """Names of the linear layers that read the input image directly (or through pooling only).

    In an Inception block every branch starts with such a layer, so the rule
    for the first layer (flat, box) must go to all of them, not only to the
    first one registered. ``None`` when the model cannot be traced.
    """
    graph = trace(model)
    if graph is None:
        return None
    modules = dict(model.named_modules())
    pure: dict[fx.Node, bool] = {}
    names = set()
    for node in graph.graph.nodes:
        arguments = [arg for arg in node.all_input_nodes]
        if node.op == "placeholder":
            pure[node] = True
            continue
        reads_input = bool(arguments) and all(pure.get(arg, False) for arg in arguments)
        if node.op == "call_module" and isinstance(modules[node.target], Linear):
            if reads_input:
                names.add(node.target)
            pure[node] = False
        elif node.op == "call_module" and any(True for _ in modules[node.target].parameters(recurse=False)):
            pure[node] = False
        else:
            pure[node] = reads_input
    return names


@dataclass(frozen=True)
class Rules:
    """The rules of one LRP variant: for the input layers (``None``: as other layers), other convolutions, dense layers."""

    first: Hook | None
    conv: Hook
    dense: Hook


@register_method("lrp0", "LRP-0", "lrp")
def _lrp0(settings: ExplainSettings) -> Rules:
    return Rules(None, Epsilon(settings.stabilizer), Epsilon(settings.stabilizer))


@register_method("epsilon", "LRP-ε", "lrp")
def _epsilon(settings: ExplainSettings) -> Rules:
    relative = RelativeEpsilon(settings.epsilon, settings.stabilizer)
    return Rules(None, Epsilon(relative), Epsilon(relative))


@register_method("gamma", "LRP-γ", "lrp")
def _gamma(settings: ExplainSettings) -> Rules:
    return Rules(None, FastGamma(settings.gamma, settings.stabilizer), FastGamma(settings.gamma, settings.stabilizer))


@register_method("alpha1beta0", "LRP-α1β0", "lrp")
def _alpha1beta0(settings: ExplainSettings) -> Rules:
    return Rules(None, AlphaBeta(1.0, 0.0, settings.stabilizer), AlphaBeta(1.0, 0.0, settings.stabilizer))


@register_method("alpha2beta1", "LRP-α2β1", "lrp")
def _alpha2beta1(settings: ExplainSettings) -> Rules:
    return Rules(None, AlphaBeta(2.0, 1.0, settings.stabilizer), AlphaBeta(2.0, 1.0, settings.stabilizer))


@register_method("epsilon_plus_flat", "EpsilonPlusFlat", "lrp")
def _epsilon_plus_flat(settings: ExplainSettings) -> Rules:
    return Rules(Flat(settings.stabilizer), FastZPlus(settings.stabilizer), Epsilon(RelativeEpsilon(settings.epsilon, settings.stabilizer)))


@register_method("epsilon_gamma_box", "EpsilonGammaBox", "lrp")
def _epsilon_gamma_box(settings: ExplainSettings) -> Rules:
    low, high = input_bounds((1, 3, 1, 1))
    return Rules(ZBox(low, high, settings.stabilizer), FastGamma(settings.gamma, settings.stabilizer),
                 Epsilon(RelativeEpsilon(settings.epsilon, settings.stabilizer)))


#: The registered LRP variants.
LRP_METHODS = methods_of_kind("lrp")


class LRPComposite(Composite):
    """A zennit composite assigning the rules of one LRP variant by layer type and position.

    ``first`` goes to every linear layer in ``input_layers`` (all Inception
    branches that read the image), ``conv`` to other convolutions, ``dense`` to
    other ``nn.Linear`` layers; ReLU passes relevance, average pooling uses the
    proportional rule, normalisations use :class:`FrozenNormRule`, and the
    model's BatchNorms are merged first by :func:`canonizers_for`.
    """

    def __init__(self, rules: Rules, input_layers: set[str] | None, stabilizer: float, canonizers=None) -> None:
        self.rules, self.input_layers, self.stabilizer = rules, input_layers, stabilizer
        super().__init__(module_map=self.mapping, canonizers=canonizers)

    def mapping(self, ctx: dict, name: str, module: nn.Module) -> Hook | None:
        if self.rules.first is not None and isinstance(module, Linear):
            first = name in self.input_layers if self.input_layers is not None else not ctx.get("first_seen", False)
            ctx["first_seen"] = True
            if first:
                return self.rules.first
        if isinstance(module, Convolution):
            return self.rules.conv
        if isinstance(module, nn.Linear):
            return self.rules.dense
        if isinstance(module, (BatchNorm, *InstanceNorm)):
            return FrozenNormRule(self.stabilizer)
        if isinstance(module, Activation):
            return Pass()
        if isinstance(module, AvgPool):
            return Norm(self.stabilizer)
        return None


def lrp_composite(model: nn.Module, method: str, settings: ExplainSettings = ExplainSettings()) -> LRPComposite:
    """The composite (rules + BatchNorm-merging canonizer) of LRP variant ``method`` for ``model``.

    Parameters
    ----------
    model : nn.Module
        The classifier; checked with :func:`check_lrp_compatible`.
    method : str
        One of :data:`LRP_METHODS`: ``lrp0``, ``epsilon``, ``gamma``,
        ``alpha1beta0``, ``alpha2beta1`` apply one rule to every linear layer;
        ``epsilon_plus_flat`` (flat on the input layers, :math:`z^+` on
        convolutions, :math:`\\epsilon` on dense layers) and
        ``epsilon_gamma_box`` (box rule with the bounds of the normalised
        images, :math:`\\gamma` on convolutions, :math:`\\epsilon` on dense
        layers) are the composites recommended by :cite:`montavon2019layer,kohlbrenner2020towards`.
    settings : ExplainSettings
        Relative :math:`\\epsilon` (times the per-image rms of the pre-activations),
        :math:`\\gamma`, and the tiny absolute stabiliser of every denominator.
    """
    entry = explanation_method(method)
    if entry.kind != "lrp":
        raise ValueError(f"{method!r} is not an LRP method: choose one of {', '.join(LRP_METHODS)}")
    check_lrp_compatible(model)
    return LRPComposite(entry.run(settings), input_layer_names(model), settings.stabilizer, canonizers_for(model))


#: Functions and tensor methods that LRP handles correctly when called inside ``forward``.
_SAFE_CALLS = {
    "cat", "flatten", "relu", "max_pool1d", "max_pool2d", "max_pool3d", "dropout", "getitem", "getattr",
    "size", "view", "reshape", "contiguous", "squeeze", "unsqueeze", "identity",
}
_PROBABILITY_LAYERS = (nn.Softmax, nn.LogSoftmax, nn.Softmin)


def check_lrp_compatible(model: nn.Module) -> None:
    """Raise ``TypeError`` when ``model`` contains something these LRP composites cannot explain correctly.

    Checked: layers with parameters other than linear, convolution and
    normalisation layers (e.g. LayerNorm, LSTM, attention); a probability
    output layer (softmax/sigmoid; LRP explains logits); and, when the model can
    be traced, operations inside ``forward`` that would be differentiated
    instead of given an LRP rule (e.g. ``x + y`` of a residual connection,
    products, functional average pooling).
    """
    supported = (Linear, BatchNorm, *InstanceNorm)
    for name, module in model.named_modules():
        has_params = any(True for _ in module.parameters(recurse=False))
        if has_params and not isinstance(module, supported):
            raise TypeError(
                f"layer {name!r} ({type(module).__name__}) has parameters but no LRP rule here; "
                "supported are Linear, Conv, BatchNorm and InstanceNorm layers"
            )
        if isinstance(module, _PROBABILITY_LAYERS):
            raise TypeError(f"layer {name!r} ({type(module).__name__}) turns logits into probabilities; LRP must explain the logits: remove it")
    graph = trace(model)
    if graph is None:
        return
    for node in graph.graph.nodes:
        if node.op not in ("call_function", "call_method"):
            continue
        label = node.target if isinstance(node.target, str) else getattr(node.target, "__name__", str(node.target))
        if label not in _SAFE_CALLS and node.target is not operator.getitem:
            raise TypeError(
                f"{type(model).__name__}.forward calls {label!r} (graph node {node.name!r}), which LRP would treat as a "
                "plain gradient and break conservation; use modules instead (nn.ReLU, nn.MaxPool2d, nn.AvgPool2d, "
                "zennit.layer.Sum for x + y)"
            )


def lrp_batch(model: nn.Module, x: torch.Tensor, target: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""One LRP backward pass for a batch; the composite must already be registered on ``model``.

    Relevance starts at the explained logit: :math:`R^{(L)} = e_t\, f_t(x)`.

    Parameters
    ----------
    model : nn.Module
        In eval mode, with an :class:`LRPComposite` registered.
    x : Tensor (n, 3, H, W)
        Normalised images.
    target : LongTensor (n,) or None
        Classes to explain; ``None`` explains the predicted class.

    Returns
    -------
    relevance : Tensor (n, 3, H, W)
    logits : Tensor (n, classes)
    target : LongTensor (n,)
    """
    x = x.detach().requires_grad_(True)
    logits = model(x)
    if target is None:
        target = logits.detach().argmax(dim=1)
    elif len(target) and (target.min() < 0 or target.max() >= logits.shape[1]):
        raise ValueError(f"target classes must lie in 0..{logits.shape[1] - 1}, got {target.min()}..{target.max()}")
    rows = torch.arange(len(x))
    start = torch.zeros_like(logits)
    start[rows, target] = logits.detach()[rows, target]
    (relevance,) = torch.autograd.grad(logits, x, grad_outputs=start)
    return relevance.detach(), logits.detach(), target
