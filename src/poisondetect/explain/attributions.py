r"""Attributions other than LRP, for comparison: gradient family, occlusion, Grad-CAM.

Every function takes normalised images ``x`` (n, 3, H, W), the model in eval
mode and the classes ``target`` (n,) and returns relevance (n, 3, H, W), so
that all methods share the post-processing of :mod:`.postprocess`. With
:math:`f_t` the logit of class :math:`t`:

- gradient: :math:`\partial f_t / \partial x_{ci}` :cite:`simonyan2014deep`;
  sensitivity is its square :math:`(\partial f_t / \partial x_{ci})^2`
- gradient x input: :math:`x_{ci}\, \partial f_t / \partial x_{ci}`
- SmoothGrad :cite:`smilkov2017smoothgrad`: the gradient averaged over
  :math:`x + \mathcal{N}(0, \sigma^2)`, :math:`\sigma` a fraction of the
  image's value range
- Integrated Gradients :cite:`sundararajan2017axiomatic`:
  :math:`(x - \bar x) \odot \frac1m \sum_{k=1}^{m} \nabla f_t(\bar x + \tfrac km (x - \bar x))`,
  baseline :math:`\bar x = 0`, the mean colour of the data in normalised units;
  its sum approximates :math:`f_t(x) - f_t(\bar x)` (completeness)
- occlusion :cite:`zeiler2014visualizing`: the drop :math:`f_t(x) - f_t(x_{\setminus w})`
  when a square window :math:`w` is set to the mean colour, shared equally by
  the window's pixels and averaged over the windows covering a pixel (so that
  for a linear model the map sums to :math:`\sum_i x_i \partial f_t/\partial x_i`)
- Grad-CAM :cite:`selvaraju2017gradcam`:
  :math:`\mathrm{ReLU}(\sum_k \alpha_k A^k)` with :math:`\alpha_k` the spatial
  mean of :math:`\partial f_t / \partial A^k`, upsampled bilinearly to the image.

Maps that have no colour channels (occlusion, Grad-CAM) are spread equally
over the three channels, so their channel sum is the map.
"""

from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F
from torch import nn
from zennit.attribution import Gradient, IntegratedGradients, Occlusion, SmoothGrad, occlude_independent

from .methods import ExplainSettings, methods_of_kind, register_method

def _one_hot(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.one_hot(target, logits.shape[1]).to(logits)


def _gradient(model: nn.Module, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    _, grad = Gradient(model)(x.detach().requires_grad_(True), partial(_one_hot, target=target))
    return grad


def occlusion(model: nn.Module, x: torch.Tensor, target: torch.Tensor, window: int = 4, stride: int = 2) -> torch.Tensor:
    """Occlusion relevance (n, 3, H, W); windows wrap around the border (zennit's sliding window)."""
    height, width = x.shape[-2:]
    if height % stride or width % stride or window % stride:
        raise ValueError(f"occlusion stride={stride} must divide the image size {height}x{width} and the window {window}")
    attributor = Occlusion(
        model, occlusion_fn=partial(occlude_independent, fill_fn=torch.zeros_like, invert=True),
        window=(window, window), stride=(stride, stride),
    )
    with torch.no_grad():
        logits, occluded_sum = attributor(x.detach(), lambda output: output * _one_hot(output, target))
    covering = (window // stride) ** 2
    full = logits.gather(1, target[:, None])[:, :, None, None]
    return (full - occluded_sum / covering) / (window**2 * x.shape[1])


def default_gradcam_layer(model: nn.Module, x: torch.Tensor, min_size: int = 8) -> str:
    """Name of the last convolution whose output map is at least ``min_size`` pixels wide."""
    sizes: dict[str, int] = {}
    handles = [
        module.register_forward_hook(lambda _m, _i, out, name=name: sizes.__setitem__(name, out.shape[-1]))
        for name, module in model.named_modules() if isinstance(module, nn.Conv2d)
    ]
    try:
        with torch.no_grad():
            model(x[:1])
    finally:
        for handle in handles:
            handle.remove()
    candidates = [name for name, size in sizes.items() if size >= min_size]
    if not candidates:
        raise ValueError(f"{type(model).__name__} has no convolution with an output of at least {min_size}x{min_size} for Grad-CAM")
    return candidates[-1]


def gradcam(model: nn.Module, x: torch.Tensor, target: torch.Tensor, layer: str | None = None) -> torch.Tensor:
    """Grad-CAM relevance (n, 3, H, W) from the activations of module ``layer`` (default: :func:`default_gradcam_layer`)."""
    name = layer or default_gradcam_layer(model, x)
    try:
        module = model.get_submodule(name)
    except AttributeError as error:
        raise ValueError(f"gradcam layer {name!r} is not a module of {type(model).__name__}") from error
    stored: dict[str, torch.Tensor] = {}
    handle = module.register_forward_hook(lambda _m, _i, out: stored.__setitem__("a", out))
    try:
        logits = model(x.detach().requires_grad_(True))
    finally:
        handle.remove()
    activation = stored["a"]
    (grad,) = torch.autograd.grad(logits, activation, grad_outputs=_one_hot(logits, target))
    weights = grad.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * activation).sum(dim=1, keepdim=True))
    cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)
    return (cam / x.shape[1]).expand(-1, x.shape[1], -1, -1).detach()


@register_method("gradient", "Gradient", "attribution")
def _gradient_method(model: nn.Module, x: torch.Tensor, target: torch.Tensor, settings: ExplainSettings) -> torch.Tensor:
    return _gradient(model, x, target).detach()


@register_method("sensitivity", "Sensitivity", "attribution")
def _sensitivity(model: nn.Module, x: torch.Tensor, target: torch.Tensor, settings: ExplainSettings) -> torch.Tensor:
    return _gradient(model, x, target).pow(2).detach()


@register_method("gradient_x_input", "Gradient x input", "attribution")
def _gradient_x_input(model: nn.Module, x: torch.Tensor, target: torch.Tensor, settings: ExplainSettings) -> torch.Tensor:
    return (x * _gradient(model, x, target)).detach()


@register_method("smoothgrad", "SmoothGrad", "attribution")
def _smoothgrad(model: nn.Module, x: torch.Tensor, target: torch.Tensor, settings: ExplainSettings) -> torch.Tensor:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings.seed)
        attributor = SmoothGrad(model, noise_level=settings.smoothgrad_noise, n_iter=settings.smoothgrad_samples)
        _, grad = attributor(x.detach().requires_grad_(True), partial(_one_hot, target=target))
    return grad.detach()


@register_method("integrated_gradients", "Integrated Gradients", "attribution")
def _integrated_gradients(model: nn.Module, x: torch.Tensor, target: torch.Tensor, settings: ExplainSettings) -> torch.Tensor:
    _, relevance = IntegratedGradients(model, n_iter=settings.ig_steps)(x.detach().requires_grad_(True), partial(_one_hot, target=target))
    return relevance.detach()


@register_method("occlusion", "Occlusion", "attribution")
def _occlusion(model: nn.Module, x: torch.Tensor, target: torch.Tensor, settings: ExplainSettings) -> torch.Tensor:
    return occlusion(model, x, target, settings.occlusion_window, settings.occlusion_stride)


@register_method("gradcam", "Grad-CAM", "attribution")
def _gradcam(model: nn.Module, x: torch.Tensor, target: torch.Tensor, settings: ExplainSettings) -> torch.Tensor:
    return gradcam(model, x, target, settings.gradcam_layer)


#: The registered attribution methods.
ATTRIBUTION_METHODS = methods_of_kind("attribution")
