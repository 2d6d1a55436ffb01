"""Canonizers: rewrite a model into an equivalent form on which LRP rules are well defined.

LRP rules are defined for linear layers (dense and convolution) followed by
element-wise activations. A BatchNorm in evaluation mode is an affine map per
channel, :math:`y = s\\,(x - \\mu) + \\beta` with :math:`s = \\gamma / \\sqrt{\\sigma^2 + \\varepsilon}`,
so when it directly follows a linear layer :math:`x = Wa + b` the two collapse
into one linear layer

.. math:: y = (s \\odot W)\\,a + s \\odot (b - \\mu) + \\beta ,

and the LRP rule of that layer then sees the weights the network really uses
:cite:`montavon2019layer`. :class:`GraphMergeBatchNorm` finds these pairs in
the traced computation graph (``torch.fx``) rather than in the order modules
were registered, so it merges the right pairs inside the parallel branches of
an Inception block and refuses pairs that are not directly connected. The
merge is temporary (zennit reverts it when the explanation is done) and
leaves the logits unchanged up to float rounding, see :func:`canonized_logits`.

Normalisation layers that cannot be merged -- an InstanceNorm, whose mean and
variance are computed from each image, or a BatchNorm that does not follow a
linear layer -- keep their own rule, :class:`poisondetect.explain.lrp.FrozenNormRule`.
"""

from __future__ import annotations

import warnings

import torch
from torch import fx, nn
from zennit.canonizers import Canonizer, MergeBatchNorm
from zennit.core import collect_leaves
from zennit.types import BatchNorm, Linear


def trace(model: nn.Module) -> fx.GraphModule | None:
    """Symbolic trace of ``model`` with ``torch.fx``, or ``None`` when the model cannot be traced."""
    try:
        return fx.symbolic_trace(model)
    except Exception:  # noqa: BLE001  (fx raises many types for data-dependent control flow)
        return None


def mergeable_batchnorms(model: nn.Module) -> list[tuple[str, str]] | None:
    """Pairs ``(linear_name, batchnorm_name)`` where the BatchNorm reads only that linear layer's output.

    A pair qualifies when, in the traced graph, the BatchNorm's input is the
    output of a ``nn.Linear`` or convolution module and nothing else uses that
    output. Returns ``None`` when the model cannot be traced.
    """
    graph = trace(model)
    if graph is None:
        return None
    modules = dict(model.named_modules())
    pairs = []
    for node in graph.graph.nodes:
        if node.op != "call_module" or not isinstance(modules[node.target], BatchNorm):
            continue
        source = node.args[0]
        if (
            isinstance(source, fx.Node)
            and source.op == "call_module"
            and isinstance(modules[source.target], Linear)
            and len(source.users) == 1
        ):
            pairs.append((source.target, node.target))
    return pairs


def sequential_batchnorms(model: nn.Module) -> list[tuple[nn.Module, nn.Module]]:
    """(linear, batchnorm) pairs adjacent in module registration order (zennit's rule; used when tracing fails)."""
    leaves = list(collect_leaves(model))
    return [(a, b) for a, b in zip(leaves, leaves[1:]) if isinstance(a, Linear) and isinstance(b, BatchNorm)]


class GraphMergeBatchNorm(MergeBatchNorm):
    """Merge every BatchNorm into the linear layer that feeds it, found in the traced graph.

    Falls back to registration order (zennit's ``SequentialMergeBatchNorm``)
    with a warning when the model cannot be traced by ``torch.fx``;
    :func:`canonized_logits` checks either way that nothing changed.

    Unlike zennit's canonizer, removing the merge restores the modules
    completely: zennit puts the original tensors back as instance attributes
    that shadow the registered parameters and buffers, so a later
    ``model.double()`` or ``model.to(device)`` would miss them (and a missing
    bias would come back as a registered zero bias).
    """

    def apply(self, root_module: nn.Module) -> list[Canonizer]:
        names = mergeable_batchnorms(root_module)
        if names is None:
            warnings.warn(
                f"torch.fx cannot trace {type(root_module).__name__}; merging BatchNorms by module registration order",
                stacklevel=2,
            )
            pairs = sequential_batchnorms(root_module)
        else:
            lookup = dict(root_module.named_modules())
            pairs = [(lookup[linear], lookup[batch_norm]) for linear, batch_norm in names]
        instances = []
        for linear, batch_norm in pairs:
            instance = self.copy()
            instance.register([linear], batch_norm)
            instances.append(instance)
        return instances

    def remove(self) -> None:
        super().remove()
        for linear, (_, bias) in zip(self.linears, self.linear_params):
            for key in ("weight", "bias"):
                linear.__dict__.pop(key, None)
            linear._parameters["bias"] = bias
        for key in ("weight", "bias", "running_mean", "running_var"):
            self.batch_norm.__dict__.pop(key, None)


def canonizers_for(model: nn.Module) -> list[Canonizer]:
    """The canonizers used for ``model`` by :func:`poisondetect.explain.explain` (BatchNorm merging)."""
    return [GraphMergeBatchNorm()]


@torch.no_grad()
def canonized_logits(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits of ``model`` (eval mode) before and while its canonizers are applied, for ``x`` (n, 3, H, W).

    The canonizers are removed again before returning, and the model's
    train/eval mode is restored.
    """
    was_training = model.training
    model.eval()
    try:
        before = model(x)
        handles = [handle for canonizer in canonizers_for(model) for handle in canonizer.apply(model)]
        try:
            during = model(x)
        finally:
            for handle in handles:
                handle.remove()
    finally:
        model.train(was_training)
    return before, during


def merged_batchnorm_count(model: nn.Module) -> tuple[int, int]:
    """``(merged, total)``: how many of the model's BatchNorm layers the canonizer merges."""
    total = sum(isinstance(module, BatchNorm) for module in model.modules())
    pairs = mergeable_batchnorms(model)
    return (len(pairs) if pairs is not None else -1), total
