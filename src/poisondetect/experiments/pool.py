"""Train the models of many experiments at once, in worker processes of one thread each.

On a 2-core CPU the small network trains at about 2,060 images per second in
one process with two torch threads, and at about 1,470 + 1,250 = 2,720 in two
processes with one thread each (``benchmarks/bench_training.py``): small
convolutions do not keep two threads busy. A chapter that needs several models
therefore asks for all of them first::

    train_models([exp_a, exp_b, exp_c])      # missing models trained 2 at a time
    model, poisoned, history = poisoned_model(exp_a)   # now a cache hit

Models already in the cache are skipped, clean surrogates of label-consistent
attacks are trained before the attacks that need them, and with one missing
model (or ``n_workers=1``) nothing is spawned: :func:`poisoned_model` trains it
when it is first asked for. The cache key does not depend on how a model was
trained; a model trained in a worker (one thread) can differ from one trained
in a two-thread process in the last bits of its weights.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed

import torch
from tqdm.auto import tqdm

from .. import artifacts, data
from ..attacks.poisoning import LabelConsistent
from .experiment import AttackExperiment, clean_experiment, model_key, poisoned_model

__all__ = ["train_models", "is_trained"]


def is_trained(exp: AttackExperiment) -> bool:
    """Whether the model of ``exp`` is in the artifact cache."""
    return artifacts.cached_entry("models", model_key(exp), "pt").exists()


def _train_in_worker(exp: AttackExperiment) -> float:
    """Train (and cache) the model of ``exp`` on one torch thread; returns the seconds it took."""
    torch.set_num_threads(1)
    start = time.perf_counter()
    poisoned_model(exp, progress=False)
    return time.perf_counter() - start


def _missing(experiments: Sequence[AttackExperiment]) -> list[AttackExperiment]:
    """The experiments without a cached model, each once, in the given order."""
    seen, out = set(), []
    for exp in experiments:
        key = model_key(exp)
        if key not in seen and not is_trained(exp):
            seen.add(key)
            out.append(exp)
    return out


def train_models(experiments: Sequence[AttackExperiment], n_workers: int = 2, progress: bool = True) -> list[AttackExperiment]:
    """Make sure the models of ``experiments`` are trained and cached, ``n_workers`` at a time.

    Parameters
    ----------
    experiments : sequence of AttackExperiment
    n_workers : int
        Worker processes (one torch thread each). With 1, or with at most one
        model missing, nothing is trained here (:func:`poisoned_model` trains on demand).
    progress : bool
        Show a bar over the models trained.

    Returns
    -------
    list of AttackExperiment
        The experiments whose models were trained by this call.
    """
    if n_workers < 1:
        raise ValueError(f"n_workers must be >= 1, got {n_workers}")
    experiments = list(experiments)
    for exp in experiments:
        if not isinstance(exp, AttackExperiment):
            raise TypeError(f"train_models takes AttackExperiment objects, got {type(exp).__name__}")
    surrogates = [clean_experiment(e, e.attack.surrogate) for e in experiments if isinstance(e.attack, LabelConsistent)]
    first = _missing(surrogates)
    keys = {model_key(e) for e in first}
    stages = [first, [e for e in _missing(experiments) if model_key(e) not in keys]]
    if n_workers == 1 or sum(len(s) for s in stages) <= 1:
        return []
    for dataset, profile in {(e.dataset, e.profile) for e in experiments}:
        data.load(dataset, profile)  # generate and cache the data once, here, not in every worker
    trained: list[AttackExperiment] = []
    bar = tqdm(total=sum(len(s) for s in stages), desc="training models", unit="model", disable=not progress)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=n_workers, mp_context=context) as pool:
        for stage in stages:
            futures = {pool.submit(_train_in_worker, exp): exp for exp in stage}
            for future in as_completed(futures):
                future.result()
                trained.append(futures[future])
                bar.update(1)
    bar.close()
    return trained
