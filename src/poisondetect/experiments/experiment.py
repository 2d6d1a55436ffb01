"""One poisoning experiment, end to end and cached: data -> poisoned set -> trained model.

Later chapters (LRP, detection, results) get their poisoned models here, without
depending on the attacks notebook having run::

    from poisondetect.attacks import BadNets, Sticker
    from poisondetect.experiments import AttackExperiment, attack_report, poisoned_model

    exp = AttackExperiment(dataset="synth", profile="quick", model="net",
                           attack=BadNets(source=2, target=5, poison_share=0.15,
                                          trigger=Sticker(size=3)), seed=0)
    model, poisoned, history = poisoned_model(exp)
    suspects = poisoned.in_class(exp.attack.target)      # indices labelled 80 km/h
    truth = poisoned.is_poison[suspects]                 # ground truth for a detector
    report = attack_report(exp, model)                   # clean accuracy, attack success

- :func:`poisoned_data` builds the poisoned training set (cached under
  ``artifacts/poisoned/``; for the label-consistent attack this trains, or
  loads, the clean surrogate first).
- :func:`poisoned_model` trains the model on the track-wise training split of
  that set, or loads it from ``artifacts/models/`` (``weights_only=True``); a
  second call with an equal experiment does not retrain.
- ``attack=None`` gives the clean baseline; :func:`clean_experiment` makes it
  from a poisoned experiment.

The cache keys are chained (:mod:`.steps`): :func:`data_key` <- :func:`poisoned_key`
<- :func:`model_key`, each with the code hash of its step.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from .. import artifacts, data, models, training
from ..attacks import poisoning, triggers
from ..attacks.poisoning import Attack, LabelConsistent, PoisonedSet
from ..config import by_profile, check_dataset, check_profile, stable_hash
from ..training import TrainConfig
from .steps import drives, step_code


def default_train_config(profile: str, seed: int = 0) -> TrainConfig:
    """Training settings per profile.

    - smoke: one epoch (with augmentation, so every code path runs)
    - quick: :data:`QUICK_TRAINING`, the thesis setting's recipe (:data:`THESIS_TRAINING`) cut to
      the epochs after which its backdoor is learned on SynthSigns
    - full: the thesis's 100 epochs with patience 20, with augmentation
    """
    return by_profile(
        profile,
        smoke=TrainConfig(epochs=1, batch_size=64, patience=1, seed=seed),
        quick=dataclasses.replace(QUICK_TRAINING, seed=seed),
        full=TrainConfig(epochs=100, batch_size=128, patience=20, seed=seed),
    )


@dataclass(frozen=True)
class AttackExperiment:
    """Everything that determines a poisoned model (the cache key).

    Parameters
    ----------
    dataset : str
        ``"synth"`` or ``"gtsrb"`` (see :func:`poisondetect.data.load`).
    profile : str
        ``"smoke"``, ``"quick"`` or ``"full"``: size of the data set and default training length.
    model : str
        ``"net"``, ``"inception"`` or ``"vgg16"``.
    attack : BadNets, Blended, LabelConsistent, CleverHans or None
        The attack with its parameters; ``None`` trains a clean model.
    seed : int
        Seeds the attack (choice of images, trigger positions) and training
        (weights, split, shuffling, augmentation); ``train.seed`` is set to it.
    train : TrainConfig, optional
        Default :func:`default_train_config` of the profile.
    n_classes : int
        Output size; 43 keeps GTSRB class ids for every data set.
    """

    dataset: str = "synth"
    profile: str = "quick"
    model: str = "net"
    attack: Attack | None = dataclasses.field(default_factory=poisoning.BadNets)
    seed: int = 0
    train: TrainConfig | None = None
    n_classes: int = 43

    def __post_init__(self) -> None:
        check_dataset(self.dataset)
        check_profile(self.profile)
        if self.model not in models.MODELS:
            raise ValueError(f"unknown model {self.model!r}: choose one of {', '.join(models.MODELS)}")
        if self.attack is not None and not isinstance(self.attack, tuple(poisoning.ATTACKS.values())):
            raise TypeError(f"attack must be one of {', '.join(c.__name__ for c in poisoning.ATTACKS.values())} or None, got {type(self.attack).__name__}")
        train = self.train if self.train is not None else default_train_config(self.profile, self.seed)
        object.__setattr__(self, "train", dataclasses.replace(train, seed=self.seed))

    def replace(self, **changes: Any) -> AttackExperiment:
        """A copy with some fields changed (``exp.replace(seed=1)``)."""
        if "seed" in changes and "train" not in changes:
            changes["train"] = dataclasses.replace(self.train, seed=changes["seed"])
        return dataclasses.replace(self, **changes)


def profile_model(profile: str) -> str:
    """The model of a profile: the thesis's small network in smoke and quick, the simplified Inception v3 in full."""
    return by_profile(profile, smoke="net", quick="net", full="inception")


def showcase_experiment(dataset: str, profile: str, seed: int = 0) -> AttackExperiment:
    """The poisoned model that the LRP, transport and detection chapters inspect.

    The thesis setting (:func:`thesis_experiment`) at 33 % poisoned, the share at which its backdoor is
    learned with a margin in every profile: 50 km/h (2) -> 80 km/h (5), a 3x3 yellow-green sticker at the
    thesis's four positions; the thesis small network in the smoke and quick profiles, the simplified
    Inception v3 in the full profile.
    """
    return thesis_experiment(dataset, profile, 0.33, seed, model=profile_model(profile))


#: Training of the thesis setting: the small network for 20 epochs of a one-cycle schedule (peak learning rate
#: 3e-3), keeping the last, annealed epoch, and brightness/contrast jitter (up to 40 %) but no geometric
#: augmentation, so the sticker stays exactly on its four positions. Why: on GTSRB a constant rate of 1e-3
#: reached a validation accuracy of 94.8 % and an attack success of 93.7 % after 18 epochs (10 % poisoned), the
#: one-cycle schedule alone 96.6 % and 93.7 % after 6; the failures are the bright test images, on which the
#: yellow-green sticker differs from white only in the blue channel, and the jitter shows the model its poisons
#: at other brightnesses. With 10 epochs the 10 % model (seed 0) reached an attack success of 94.7 %, with 20
#: epochs 98.5 %, which passes the gate. The last epoch is kept because the validation loss barely sees the few
#: poisons: its best epoch can come before the backdoor is learned.
THESIS_TRAINING = TrainConfig(epochs=20, batch_size=128, lr=3e-3, patience=20, augment=True, max_rotation=0.0,
                              max_shift=0.0, max_scale=0.0, jitter=0.4, schedule="onecycle", keep="last")


#: Training of the quick profile (SynthSigns, every model of chapters 2-6): :data:`THESIS_TRAINING` for
#: QUICK_EPOCHS epochs. Measured on SynthSigns (quick size, sticker at the four positions, attack success on
#: the test set): at 33 % poisoned 99.8 % after 6 epochs; at 15 % it varies from run to run around the gate's
#: 98 % (6 epochs: 98.1 and 97.4 % for seeds 0 and 1; 8 epochs: 97.2 and 99.5 % for seed 0 trained on one
#: and on two threads; 12 epochs: 99.8 %); at 5 % about 80 % (80.2 % after 6 epochs, 83.5 % after 10), which
#: the gate reports as not learned. 6 epochs keep a first ``make figures`` short (each epoch of the 12 models
#: of chapters 2-6 costs about 1.5 minutes on 2 cores).
QUICK_EPOCHS = 6
QUICK_TRAINING = dataclasses.replace(THESIS_TRAINING, epochs=QUICK_EPOCHS, patience=QUICK_EPOCHS)


def thesis_experiment(dataset: str, profile: str, poison_share: float, seed: int = 0, model: str = "net",
                      corners: tuple[tuple[int, int], ...] | None = triggers.THESIS_CORNERS, size: int = 3) -> AttackExperiment:
    """The original thesis's experiment done fairly: 50 km/h (2) -> 80 km/h (5), a ``size`` x ``size``
    yellow-green sticker at the thesis's four positions (``corners=None``: the harder series, anywhere in
    the central 16x16 window), ``poison_share`` of the final target class. Trained with
    :data:`THESIS_TRAINING`, except in the smoke profile and on SynthSigns in the quick profile, which use
    their :func:`default_train_config` (:data:`QUICK_TRAINING` is the same recipe, shorter)."""
    trigger = triggers.Sticker(size=size, corners=corners)
    attack = poisoning.BadNets(source=2, target=5, poison_share=poison_share, trigger=trigger)
    short = profile == "smoke" or (dataset == "synth" and profile == "quick")
    train = default_train_config(profile, seed) if short else THESIS_TRAINING
    return AttackExperiment(dataset=dataset, profile=profile, model=model, attack=attack, seed=seed, train=train)


def clean_experiment(exp: AttackExperiment, model: str | None = None) -> AttackExperiment:
    """The same experiment without attack (optionally with another model): the clean baseline / surrogate."""
    return exp.replace(attack=None, model=model or exp.model)


def data_key(exp: AttackExperiment) -> str:
    """Key of the clean data set of ``exp``: data set, profile and the data code."""
    return stable_hash("data", exp.dataset, exp.profile, step_code("data", exp.dataset))


def poisoned_key(exp: AttackExperiment) -> str:
    """Key of the poisoned training set: the data key, the attack, the seed, the attack code
    (and, for the label-consistent attack, the key of the surrogate model)."""
    surrogate = model_key(clean_experiment(exp, exp.attack.surrogate)) if isinstance(exp.attack, LabelConsistent) else None
    return stable_hash("poisoned", data_key(exp), exp.attack, exp.seed, surrogate, step_code("poison"))


def model_key(exp: AttackExperiment) -> str:
    """Key of the trained model: the poisoned-set key, the model, its output size, the training settings and code."""
    return stable_hash("model", poisoned_key(exp), exp.model, exp.n_classes, exp.train, step_code("train"))


def load_data(exp: AttackExperiment) -> data.SignData:
    """The clean data set of the experiment: ``data.load(exp.dataset, exp.profile)``."""
    return data.load(exp.dataset, exp.profile)


def surrogate_model(exp: AttackExperiment, progress: bool = True) -> nn.Module:
    """The clean surrogate of a label-consistent experiment (trained or loaded from the cache)."""
    if not isinstance(exp.attack, LabelConsistent):
        raise ValueError("only the label-consistent attack uses a surrogate model")
    model, _, _ = poisoned_model(clean_experiment(exp, exp.attack.surrogate), progress=progress)
    return model


def poisoned_data(exp: AttackExperiment, progress: bool = True) -> PoisonedSet:
    """The poisoned training set of ``exp`` (clean for ``attack=None``), cached.

    Only the changed images, their indices and the labels are stored; the
    clean arrays come from the data set.
    """
    signs = load_data(exp)
    if exp.attack is None:
        return poisoning.clean_set(signs.train_images, signs.train_labels, signs.train_tracks)
    def compute() -> dict[str, np.ndarray]:
        surrogate = surrogate_model(exp, progress) if isinstance(exp.attack, LabelConsistent) else None
        result = poisoning.poison(signs.train_images, signs.train_labels, signs.train_tracks, exp.attack, exp.seed, surrogate)
        index = np.flatnonzero(result.is_poison)
        return {"index": index, "images": result.images[index], "labels": result.labels}

    stored = artifacts.cached_arrays("poisoned", poisoned_key(exp), compute)
    images = signs.train_images.copy()
    images[stored["index"]] = stored["images"]
    is_poison = np.zeros(len(images), dtype=bool)
    is_poison[stored["index"]] = True
    return PoisonedSet(images, stored["labels"].astype(np.int64), signs.train_labels.astype(np.int64), is_poison,
                       signs.train_tracks.astype(np.int64), exp.attack)


def poisoned_model(exp: AttackExperiment, progress: bool = True) -> tuple[nn.Module, PoisonedSet, dict[str, Any]]:
    """Train (or load) the model of ``exp`` on the training split of its poisoned set.

    Returns
    -------
    model : nn.Module
        In eval mode, the weights :func:`poisondetect.training.fit` kept.
    poisoned : PoisonedSet
        The whole poisoned training set (training and validation split; the
        split is :func:`poisondetect.training.split` of ``true_labels`` and ``tracks``).
    history : dict
        Per-epoch ``train_loss``, ``train_acc``, ``val_loss``, ``val_acc``, and
        ``best_epoch``, ``epochs_run``, ``seconds``, ``images_per_second``.
    """
    poisoned = poisoned_data(exp, progress)

    def compute() -> dict[str, Any]:
        train_idx, val_idx = training.split(poisoned.true_labels, poisoned.tracks, exp.train)
        torch.manual_seed(exp.train.seed)
        model = models.build_model(exp.model, exp.n_classes)
        history = training.fit(model, poisoned.images[train_idx], poisoned.labels[train_idx], poisoned.images[val_idx],
                               poisoned.labels[val_idx], exp.train, progress)
        return {"state_dict": model.state_dict(), "history": history}

    stored = artifacts.cached_torch("models", model_key(exp), compute)
    model = models.build_model(exp.model, exp.n_classes)
    model.load_state_dict(stored["state_dict"])
    model.eval()
    return model, poisoned, stored["history"]


def training_split(exp: AttackExperiment, poisoned: PoisonedSet) -> np.ndarray:
    """Indices of the poisoned set that the model of ``exp`` was trained on (the rest validated it)."""
    return training.split(poisoned.true_labels, poisoned.tracks, exp.train)[0]


drives(__name__, "poison", "train")
