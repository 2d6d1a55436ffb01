"""Adversarially trained models, cached: a model of an experiment fine-tuned by :mod:`poisondetect.adversarial`.

The key chains to the experiment's model (:func:`poisondetect.experiments.model_key`),
so a change of the training code retrains both; it adds the adversarial-training
settings and the code of the adversarial package.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from .. import adversarial, artifacts, models, training
from ..adversarial import AdversarialTraining, adversarial_fit
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
