"""A poisoned training set and a model trained on it, on disk as a user would have them: ``poisondetect demo``.

Writes, into one folder, SynthSigns images of a few classes as an ImageFolder
tree ``train/<class name>/<n>.png`` in which some 80 km/h images carry the
thesis's yellow-green sticker and were relabelled from 50 km/h; the small
network trained on them with ImageFolder's labels (the sorted folders' positions),
saved both as a ``state_dict`` (``model.pt``, for ``--factory
poisondetect.scan.demo:demo_model``) and as TorchScript (``model.ts``); and
``poisons.txt``, the files the attacker changed (the truth, for checking a scan).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .. import models, training
from ..attacks import poisoning, triggers
from ..data.classes import class_name
from ..data.synthetic import SynthConfig, load_config


@dataclass(frozen=True)
class DemoConfig:
    """The demo's data, attack and training.

    Parameters
    ----------
    classes : tuple of int
        GTSRB class ids of the SynthSigns images (must hold the source 2 and the target 5).
    n_images : int
        Training images over all classes.
    poison_share : float
        Share of the final 80 km/h class that carries the sticker.
    epochs : int
        One-cycle training epochs of the small network.
    seed : int
    """

    classes: tuple[int, ...] = (1, 2, 5, 12, 14, 38)
    n_images: int = 1200
    poison_share: float = 0.25
    epochs: int = 8
    seed: int = 0

    def attack(self) -> poisoning.BadNets:
        """50 km/h -> 80 km/h with the 3x3 sticker at the thesis's four positions."""
        return poisoning.BadNets(source=2, target=5, poison_share=self.poison_share,
                                 trigger=triggers.Sticker(size=3, corners=triggers.THESIS_CORNERS))


def demo_model() -> models.Net:
    """The demo's untrained small network, one output per class of :class:`DemoConfig` (the ``--factory``)."""
    return models.Net(n_classes=len(DemoConfig().classes))


def folder_name(label: int) -> str:
    """ImageFolder folder of GTSRB class ``label``: its id and name, sorting in id order (``05 80 km-h``)."""
    return f"{label:02d} {class_name(label).replace('/', '-')}"


def write_demo(out: str | Path, config: DemoConfig = DemoConfig(), progress: bool = True) -> dict[str, float]:
    """Write the demo into ``out``; return the model's clean accuracy and attack success on held-out images."""
    out = Path(out)
    data = load_config(SynthConfig(n_train=config.n_images, n_test=config.n_images // 4, classes=config.classes, seed=config.seed))
    attack = config.attack()
    poisoned = poisoning.poison(data.train_images, data.train_labels, data.train_tracks, attack, seed=config.seed)
    position = {label: i for i, label in enumerate(sorted(config.classes))}  # ImageFolder's labels: the folders' order
    labels = np.array([position[int(c)] for c in poisoned.labels])
    torch.manual_seed(config.seed)
    model = models.Net(n_classes=len(config.classes))
    train = training.TrainConfig(epochs=config.epochs, patience=config.epochs, lr=3e-3, schedule="onecycle", keep="last",
                                 max_rotation=0.0, max_shift=0.0, max_scale=0.0, jitter=0.4, seed=config.seed)
    fit_idx, val_idx = training.split(poisoned.labels, poisoned.tracks, train)
    training.fit(model, poisoned.images[fit_idx], labels[fit_idx], poisoned.images[val_idx], labels[val_idx], train,
                 progress=progress)
    model.eval()
    poisons = []
    for i, (image, label) in enumerate(zip(poisoned.images, poisoned.labels)):
        path = out / "train" / folder_name(int(label)) / f"{i:05d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(path)
        if poisoned.is_poison[i]:
            poisons.append(str(path.relative_to(out)))
    (out / "poisons.txt").write_text("\n".join(poisons) + "\n")
    torch.save(model.state_dict(), out / "model.pt")
    torch.jit.script(model).save(str(out / "model.ts"))
    source = data.test_images[data.test_labels == attack.source]
    test_labels = np.array([position[int(c)] for c in data.test_labels])
    return {"clean_accuracy": float(np.mean(training.predict(model, data.test_images) == test_labels)),
            "attack_success": float(np.mean(training.predict(model, poisoning.apply_trigger(attack, source)) == position[attack.target])),
            "poisons": len(poisons), "images": len(poisoned.images)}
