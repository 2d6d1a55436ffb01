"""What a user brings to a scan: a trained model, its input normalisation, and a labelled image set.

>>> model = load_model("model.pt", factory="mypackage.models:build")   # state_dict + factory
>>> model = load_model("model.ts")                                     # TorchScript
>>> images = load_images("data/train")                                 # ImageFolder tree (one folder per class)
>>> images = load_images("signs.npz")                                  # this project's array format
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import nn

from ..data import transforms
from ..data.classes import N_CLASSES, class_name
from ..models import penultimate_activations

#: Fewest images a class must have: the detectors compare each image with the rest of its class.
MIN_CLASS_IMAGES = 3


@dataclass(frozen=True)
class ImageSet:
    """A labelled image set to scan.

    Attributes
    ----------
    images : ndarray, uint8, (n, H, W, 3)
    labels : ndarray, int64, (n,)
        Class index of each image, 0..len(class_names) - 1.
    class_names : tuple of str
        Name of each class index (the folder names of an ImageFolder tree).
    paths : tuple of str or None
        File of each image (ImageFolder input), else ``None``.
    source : str
        Where the images came from, for messages and the report.
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    paths: tuple[str, ...] | None
    source: str

    def __post_init__(self) -> None:
        if self.images.dtype != np.uint8 or self.images.ndim != 4 or self.images.shape[-1] != 3:
            raise ValueError(f"{self.source}: images must be uint8 of shape (n, H, W, 3), got {self.images.dtype} {self.images.shape}")
        if self.labels.shape != (len(self.images),):
            raise ValueError(f"{self.source}: need one label per image, got {self.labels.shape} labels for {len(self.images)} images")
        if len(self.labels) and (self.labels.min() < 0 or self.labels.max() >= len(self.class_names)):
            raise ValueError(f"{self.source}: labels must lie in 0..{len(self.class_names) - 1}")

    def __len__(self) -> int:
        return len(self.labels)

    def class_indices(self, label: int) -> np.ndarray:
        """Positions of the images of class ``label``, shape (n_c,)."""
        return np.flatnonzero(self.labels == label)

    def present_classes(self) -> list[int]:
        """Class indices that have at least one image."""
        return [int(c) for c in np.unique(self.labels)]


def _read_rgb(path: Path, size: int | None) -> np.ndarray | None:
    """The image at ``path`` as uint8 (H, W, 3), resized to ``size`` x ``size`` if given; ``None`` if not an image."""
    try:
        with Image.open(path) as image:
            image = image.convert("RGB")
            if size is not None:
                image = image.resize((size, size), Image.Resampling.BILINEAR)
            return np.asarray(image, dtype=np.uint8)
    except (UnidentifiedImageError, OSError):
        return None


def read_image_folder(root: str | Path, size: int | None = None) -> ImageSet:
    """Read an ImageFolder tree ``root/<class name>/<image file>``; classes in sorted folder order.

    Files that are not images are skipped with a warning that names them. All
    images must have one size unless ``size`` resizes them to ``size`` x ``size``.
    """
    root = Path(root)
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise ValueError(f"{root}: no class folders; an ImageFolder tree holds one folder of images per class")
    images, labels, files = [], [], []
    for label, folder in enumerate(folders):
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
            pixels = _read_rgb(path, size)
            if pixels is None:
                warnings.warn(f"skipping {path}: not an image PIL can read", stacklevel=2)
                continue
            images.append(pixels)
            labels.append(label)
            files.append(str(path))
    shapes = sorted({im.shape for im in images})
    if len(shapes) > 1:
        raise ValueError(f"{root}: images of several sizes {[s[:2] for s in shapes[:4]]}; pass --image-size to resize them all")
    stacked = np.stack(images) if images else np.zeros((0, size or 32, size or 32, 3), np.uint8)
    return ImageSet(stacked, np.asarray(labels, np.int64), tuple(p.name for p in folders), tuple(files), str(root))


def read_npz(path: str | Path) -> ImageSet:
    """Read the training split of this project's array format (``train_images``, ``train_labels``).

    GTSRB class ids (at most 43 classes) get their sign names; an ``.npz`` with
    ``images`` and ``labels`` is read the same way.
    """
    path = Path(path)
    with np.load(path) as arrays:
        for images_key, labels_key in (("train_images", "train_labels"), ("images", "labels")):
            if images_key in arrays and labels_key in arrays:
                images, labels = arrays[images_key], arrays[labels_key].astype(np.int64)
                break
        else:
            raise ValueError(f"{path}: expected arrays 'train_images' and 'train_labels' (or 'images' and 'labels'), found {sorted(arrays)}")
    n_classes = int(labels.max()) + 1 if len(labels) else 0
    names = tuple(class_name(c) if n_classes <= N_CLASSES else f"class {c}" for c in range(n_classes))
    return ImageSet(images, labels, names, None, str(path))


def load_images(path: str | Path, size: int | None = None) -> ImageSet:
    """An ImageFolder tree (a directory) or an ``.npz`` file, checked for classes too small to scan."""
    path = Path(path)
    if path.is_dir():
        found = read_image_folder(path, size)
    elif path.suffix == ".npz" and path.is_file():
        found = read_npz(path)
        if size is not None and found.images.shape[1:3] != (size, size):
            raise ValueError(f"{path}: --image-size {size} resizes ImageFolder input only; this file holds {found.images.shape[1:3]} images")
    else:
        raise ValueError(f"{path}: expected an ImageFolder directory or an .npz file")
    check_class_sizes(found)
    return found


def check_class_sizes(image_set: ImageSet, minimum: int = MIN_CLASS_IMAGES) -> None:
    """Raise ``ValueError`` naming every class with images but fewer than ``minimum`` of them."""
    counts = np.bincount(image_set.labels, minlength=len(image_set.class_names))
    small = [f"{image_set.class_names[c]!r} ({counts[c]})" for c in image_set.present_classes() if counts[c] < minimum]
    if small:
        raise ValueError(f"{image_set.source}: classes with fewer than {minimum} images cannot be scanned: {', '.join(small)}")
    if not image_set.present_classes():
        raise ValueError(f"{image_set.source}: no images found")


@dataclass(frozen=True)
class Normalization:
    """Per-channel input normalisation the model was trained with: ``x = (pixel / 255 - mean) / std``."""

    mean: tuple[float, float, float] = transforms.MEAN
    std: tuple[float, float, float] = transforms.STD

    def __post_init__(self) -> None:
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise ValueError(f"normalisation needs three means and three positive standard deviations, got {self.mean}, {self.std}")

    def tensor(self, images: np.ndarray, device: str | torch.device = "cpu") -> torch.Tensor:
        """uint8 (n, H, W, 3) -> normalised float32 (n, 3, H, W) on ``device``."""
        x = torch.from_numpy(np.ascontiguousarray(images)).to(device).permute(0, 3, 1, 2).float().div_(255.0)
        mean = torch.tensor(self.mean, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, device=x.device).view(1, 3, 1, 1)
        return (x - mean) / std


def _factory(spec: str) -> Callable[[], nn.Module]:
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"--factory must look like 'package.module:function', got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(f"--factory {spec!r}: cannot import {module_name!r} ({error})") from None
    factory = getattr(module, attribute, None)
    if not callable(factory):
        raise ValueError(f"--factory {spec!r}: {module_name} has no callable {attribute!r}")
    return factory


def load_model(path: str | Path, factory: str | None = None, device: str = "cpu") -> nn.Module:
    """A model in eval mode: ``factory()`` loaded with the ``state_dict`` at ``path``, or TorchScript when no factory.

    The checkpoint is read with ``weights_only=True`` (no code runs from it); a
    dict with a ``"state_dict"`` entry is unwrapped.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such model file")
    if factory is None:
        try:
            model = torch.jit.load(str(path), map_location=device)
        except RuntimeError:
            raise ValueError(f"{path} is not a TorchScript file; for a state_dict checkpoint pass --factory module:function") from None
        return model.eval()
    model = _factory(factory)()
    if not isinstance(model, nn.Module):
        raise ValueError(f"--factory {factory!r} returned {type(model).__name__}, not a torch.nn.Module")
    state = torch.load(path, map_location=device, weights_only=True)
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        detail = str(error).split("\n\t", 1)[-1].strip()
        raise ValueError(f"{path} does not fit the model of --factory {factory!r}: {detail}") from None
    return model.to(device).eval()


def is_scripted(model: nn.Module) -> bool:
    """Whether ``model`` is TorchScript (no Python hooks: no LRP, no activations)."""
    return isinstance(model, torch.jit.ScriptModule)


def check_input_size(model: nn.Module, images: np.ndarray, normalization: Normalization, device: str = "cpu") -> int:
    """Run two images through ``model``; return its number of classes, or raise a clear ``ValueError``."""
    try:
        with torch.no_grad():
            logits = model(normalization.tensor(images[:2], device))
    except RuntimeError as error:
        raise ValueError(f"the model does not take images of size {images.shape[1]}x{images.shape[2]} "
                         f"(pass --image-size to resize ImageFolder input): {str(error).splitlines()[0]}") from None
    if not isinstance(logits, torch.Tensor) or logits.ndim != 2:
        raise ValueError(f"the model must return logits of shape (n, classes), got {getattr(logits, 'shape', type(logits))}")
    return int(logits.shape[1])


def feature_layer(model: nn.Module, name: str | None = None) -> tuple[nn.Module, bool]:
    """The layer whose activations the activation detectors read, and whether its *input* is meant.

    ``name`` picks a submodule's output; otherwise the layer the model names in
    ``model.penultimate`` (this project's models), else the input of the last
    ``nn.Linear`` (the features the classifier head sees).
    """
    if is_scripted(model):
        raise ValueError("activation detectors need forward hooks, which TorchScript models do not support; "
                         "pass the model as --factory module:function with its state_dict, or choose explanation detectors")
    if name is not None:
        try:
            return model.get_submodule(name), False
        except AttributeError:
            raise ValueError(f"--layer {name!r} is not a submodule of {type(model).__name__}") from None
    if getattr(model, "penultimate", None):
        return model.get_submodule(model.penultimate), False
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError(f"{type(model).__name__} has no nn.Linear layer; name the feature layer with --layer")
    return linears[-1], True


def layer_activations(model: nn.Module, x: torch.Tensor, layer: str | None = None, batch_size: int = 256) -> np.ndarray:
    """Activations (n, D) float64 of the feature layer (:func:`feature_layer`) for normalised ``x`` (n, 3, H, W)."""
    module, of_input = feature_layer(model, layer)
    if layer is None and getattr(model, "penultimate", None):
        return penultimate_activations(model, x, batch_size).double().cpu().numpy()
    collected: list[torch.Tensor] = []
    if of_input:
        handle = module.register_forward_pre_hook(lambda _m, args: collected.append(args[0].detach().flatten(1)))
    else:
        handle = module.register_forward_hook(lambda _m, _i, out: collected.append(out.detach().flatten(1)))
    try:
        with torch.no_grad():
            for start in range(0, len(x), batch_size):
                model(x[start:start + batch_size])
    finally:
        handle.remove()
    return torch.cat(collected).double().cpu().numpy()


def parse_classes(spec: Sequence[str] | None, class_names: Sequence[str]) -> tuple[int, ...] | None:
    """Class indices from names or indices given on the command line (``None``: every class)."""
    if not spec:
        return None
    chosen = []
    for item in spec:
        if item in class_names:
            chosen.append(class_names.index(item))
        elif item.isdigit() and int(item) < len(class_names):
            chosen.append(int(item))
        else:
            raise ValueError(f"--classes: {item!r} is neither a class name nor an index below {len(class_names)}; "
                             f"classes are {', '.join(class_names[:10])}{' ...' if len(class_names) > 10 else ''}")
    return tuple(dict.fromkeys(chosen))
