"""Models of the adversarial chapters, cached: adversarially trained ones and the MINE chapter's classifiers.

An adversarially trained model's key chains to the experiment's model
(:func:`poisondetect.experiments.model_key`), so a change of the training code
retrains both; it adds the adversarial-training settings and the code of the
adversarial package. A chapter-09 classifier is keyed by its config and that code.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from .. import adversarial, artifacts, models, training
from ..adversarial import AdversarialTraining, CarliniWagnerNet, ClassifierConfig, PixelSplit, adversarial_fit, fit_classifier
from ..config import code_hash, stable_hash
from .experiment import AttackExperiment, model_key, poisoned_model


def adversarially_trained(exp: AttackExperiment, config: AdversarialTraining, progress: bool = True) -> tuple[nn.Module, list[float]]:
    """Fine-tune the cached model of ``exp`` adversarially on its training split, or load the result.

    Returns the model (eval mode) and the per-epoch losses.
    """
    def compute() -> dict:
        base, poisoned, _ = poisoned_model(exp, progress)
        train_idx, _ = training.split(poisoned.true_labels, poisoned.tracks, exp.train)
        model = copy.deepcopy(base)
        torch.manual_seed(config.seed)
        losses = adversarial_fit(model, poisoned.images[train_idx], poisoned.labels[train_idx], config, progress=progress)
        return {"state_dict": model.state_dict(), "losses": losses}

    key = stable_hash("adversarially trained", model_key(exp), config, code_hash(adversarial))
    stored = artifacts.cached_torch("models", key, compute)
    model = models.build_model(exp.model, exp.n_classes)
    model.load_state_dict(stored["state_dict"])
    model.eval()
    return model, list(stored["losses"])


def trained_classifier(split: PixelSplit, config: ClassifierConfig, progress: bool = True) -> CarliniWagnerNet:
    """:func:`poisondetect.adversarial.fit_classifier`, cached by ``config`` and the adversarial package's code."""
    if config.n_train != len(split.x_train):
        raise ValueError(f"config.n_train = {config.n_train} but the split has {len(split.x_train)} training images")
    model = CarliniWagnerNet(split.x_train.shape[1], split.x_train.shape[-1], split.n_classes, config.width)
    key = stable_hash("chapter 09 classifier", config, code_hash(adversarial))
    model.load_state_dict(artifacts.cached_torch("models", key, lambda: fit_classifier(split, config, progress).state_dict()))
    return model.eval()
