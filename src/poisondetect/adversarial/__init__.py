"""Evasion attacks, black-box attacks, universal patches, defences and robustness metrics.

>>> from poisondetect.adversarial import deepfool, fgsm, pgd
>>> r = pgd(model, images, labels, eps=8 / 255, steps=20)      # uint8 (N, 32, 32, 3) or [0, 1] (N, 3, 32, 32)
>>> r.images, r.perturbation_norm, r.success, r.predicted        # adversarial images in [0, 1], (N,) arrays
>>> zoo(model, images, labels, eps=8 / 255, budget=2000).queries  # black-box: queries per image

All attacks work in pixel space through the model's own normalisation
(``preprocess``). Modules: :mod:`.base` (input checks, :class:`AttackResult`),
:mod:`.gradient` (FGSM, FGM, BIM, PGD through :mod:`poisondetect.attacks.pgd`),
:mod:`.deepfool`, :mod:`.carlini_wagner`, :mod:`.zeroth_order` (ZOO, FD-FGSM,
AutoZOOM), :mod:`.universal`, :mod:`.adversarial_training`, :mod:`.squeezing`,
:mod:`.randomization`, :mod:`.metrics`, :mod:`.linear` (logistic regression on
MNIST), :mod:`.sanity` (cascading randomisation of explanations).
"""

from .adversarial_training import AdversarialTraining, adversarial_fit, adversarial_loss
from .base import AttackResult, check_eps, check_norm, perturbation_norm, pixels
from .carlini_wagner import carlini_wagner_l2, margin
from .deepfool import deepfool
from .gradient import bim, fgm, fgsm, pgd
from .linear import LogisticRegression, fgsm_closed_form, fit_logistic_regression, mnist_pair
from .metrics import (
    eps_for_accuracy, median_minimal_perturbation, minimal_perturbation_curve, queries_per_success, robust_accuracy,
    robustness_curve, success_within_queries,
)
from .randomization import resize_and_pad
from .sanity import cascading_randomization, rank_correlation, weight_layers
from .squeezing import SQUEEZERS, SqueezeDetector, bit_depth, median_smooth, squeeze_score
from .universal import UniversalPerturbation, square_mask, universal_perturbation
from .zeroth_order import autozoom, coordinate_gradient, fd_fgsm, random_direction_gradient, zoo

__all__ = [
    "SQUEEZERS", "AdversarialTraining", "AttackResult", "LogisticRegression", "SqueezeDetector",
    "UniversalPerturbation", "adversarial_fit", "adversarial_loss", "autozoom", "bim",
    "bit_depth", "carlini_wagner_l2", "cascading_randomization", "check_eps", "check_norm", "coordinate_gradient",
    "deepfool", "eps_for_accuracy", "fd_fgsm", "fgm", "fgsm", "fgsm_closed_form", "fit_logistic_regression", "margin",
    "median_minimal_perturbation", "median_smooth", "minimal_perturbation_curve", "mnist_pair",
    "perturbation_norm", "pixels", "queries_per_success", "random_direction_gradient", "rank_correlation",
    "resize_and_pad", "robust_accuracy", "robustness_curve", "square_mask", "squeeze_score",
    "success_within_queries", "universal_perturbation", "weight_layers", "zoo",
]

# chapter 09: mutual-information neural estimation and the MinMax attack
from .mine import (  # noqa: E402
    MineSettings, PerSampleMine, StatisticsNetwork, correlated_gaussians, dv_bound, estimate_mi, first_convolution,
    fit_statistics, gaussian_mi,
)

__all__ += [
    "MineSettings", "PerSampleMine", "StatisticsNetwork", "correlated_gaussians", "dv_bound", "estimate_mi",
    "first_convolution", "fit_statistics", "gaussian_mi",
]
from .cw_classifier import CarliniWagnerNet, ClassifierConfig, accuracy, fit_classifier  # noqa: E402
from .image_quality import ssim  # noqa: E402
from .mi_data import PixelSplit, mnist, signs  # noqa: E402
from .minmax import MinMaxGame, MinMaxSettings, minmax_attack, minmax_game  # noqa: E402

__all__ += [
    "CarliniWagnerNet", "ClassifierConfig", "MinMaxGame", "MinMaxSettings", "PixelSplit", "accuracy", "fit_classifier",
    "minmax_attack", "minmax_game", "mnist", "signs", "ssim",
]
from .autoencoders import (  # noqa: E402
    ConvAutoencoder, DenseAutoencoder, fit_autoencoder, gaussian_augmentation, l2_uae, mine_uae, reconstruction_error,
    retrained,
)

__all__ += [
    "ConvAutoencoder", "DenseAutoencoder", "fit_autoencoder", "gaussian_augmentation", "l2_uae", "mine_uae",
    "reconstruction_error", "retrained",
]
