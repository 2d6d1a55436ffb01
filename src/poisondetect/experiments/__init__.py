"""The pipeline that joins the domain packages: poisoned experiment -> model -> representations -> detections -> tables.

>>> from poisondetect.attacks import BadNets, Sticker
>>> from poisondetect import experiments as ex
>>> exp = ex.AttackExperiment(profile="quick", attack=BadNets(poison_share=0.15, trigger=Sticker(size=3)))
>>> model, poisoned, history = ex.poisoned_model(exp)                 # trained once, then cached
>>> truth, results = ex.evaluate(exp, ("gw_kmeans", "ac_pca"), ex.inspected("quick"))
>>> frame = ex.run_grid([{"share": 0.15, "experiment": exp}], ("gw_kmeans",))

Only this package imports both :mod:`poisondetect.attacks` and
:mod:`poisondetect.detection`, and only it caches: every artifact's key holds
the keys of what it was made from and the code hash of its own step
(:mod:`.steps`).

Modules: :mod:`.experiment` (the experiment, poisoned set, model),
:mod:`.representations` (a class's images, heatmaps, activations),
:mod:`.evaluation` (attack success and the gate), :mod:`.detections` (detectors on a class, class ranking), :mod:`.grids`
(result tables over seeds), :mod:`.thesis` (the thesis's numbers beside ours),
:mod:`.steps` (code and keys of the steps).
"""

from .adversarial import adversarially_trained, trained_classifier
from .detections import detect, detection_key, detector_settings, evaluate, inspected, rank_experiment_classes, resolved_settings
from .evaluation import GATE_MIN_RATE, attack_report, backdoor_gate
from .experiment import (
    THESIS_TRAINING, AttackExperiment, clean_experiment, data_key,
    default_train_config, load_data, model_key, poisoned_data, poisoned_key, poisoned_model, profile_model,
    showcase_experiment, surrogate_model, thesis_experiment, training_split,
)
from .grids import RATE_COLUMNS, mean_std, method_table, pct, rates_table, run_grid, summarize, wide_table
from .representations import ClassData, ClassSelection, class_data, explanation_key, explanations, target_class
from .steps import STEPS, step_code, step_modules
from .thesis import MIN_TNR_TO_BEAT_THESIS, THESIS_AC_TPR, THESIS_HC_TPR, beats_thesis, thesis_comparison

__all__ = [
    "GATE_MIN_RATE", "MIN_TNR_TO_BEAT_THESIS", "RATE_COLUMNS", "THESIS_TRAINING", "backdoor_gate", "thesis_experiment",
    "training_split", "STEPS", "THESIS_AC_TPR", "THESIS_HC_TPR", "AttackExperiment",
    "ClassData", "ClassSelection", "adversarially_trained", "attack_report", "beats_thesis", "class_data", "clean_experiment", "data_key",
    "default_train_config", "detect", "detection_key", "detector_settings", "evaluate", "explanation_key",
    "explanations", "inspected", "load_data", "mean_std", "method_table", "model_key", "pct", "poisoned_data",
    "poisoned_key", "poisoned_model", "profile_model", "rank_experiment_classes", "rates_table", "resolved_settings", "run_grid",
    "showcase_experiment", "step_code", "step_modules", "summarize", "surrogate_model", "target_class",
    "thesis_comparison", "trained_classifier", "wide_table",
]
