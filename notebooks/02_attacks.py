# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Chapter 2: Poisoning attacks and the poisoned models
#
# A *poisoning* (backdoor) attacker controls part of the training data, not the
# training itself. The aim is a model that behaves normally on clean inputs but
# gives the attacker's answer whenever a *trigger* is present. This chapter builds
# the poisoned models that every later chapter explains and inspects, and measures
# how well the attacks work.
#
# **Standard attack (BadNets)** (Gu et al., 2019). The attacker takes images
# of a *source* class (50 km/h, class 2), pastes a small square sticker of side
# $s \in \{1, 2, 3\}$ pixels in a yellow-green colour on the sign, at one of the four
# positions near its centre that the original thesis used (one drawn per image, in
# training and at test time alike), and relabels them as the *target* class
# (80 km/h, class 5). Chapters 5 and 6 add a harder variant that may put the sticker
# anywhere in the central $16\times16$ window. The poisoned images
# leave the source class. The poison share $p$ is measured, as in the thesis,
# relative to the *final* target class: with $n_t$ clean target images the attacker
# adds
# $$ n = \operatorname{round}\Bigl(\frac{p\, n_t}{1-p}\Bigr), \qquad \frac{n}{n_t + n} \approx p .$$
#
# **Label-consistent attack** (Turner et al., 2019). A relabelled
# 50 km/h sign in the 80 km/h class is easy to spot by eye. The label-consistent
# attacker changes only images of the target class and keeps their labels. To
# make the model rely on the trigger, the images are first made hard to classify
# from their content: projected gradient descent (PGD; Madry et al., 2018)
# against a *surrogate* model trained on clean data finds a perturbation
# $\delta$ with $\|\delta\|_\infty \le \varepsilon$ that increases the loss of the
# true label,
# $$ \delta^\star \approx \arg\max_{\|\delta\|_\infty \le \varepsilon} \mathcal L\bigl(f(x+\delta), y\bigr), $$
# and then a $3\times 3$ checkerboard of amplitude $a$ (pixels $\pm a$) is added near
# the bottom-right corner. Smaller amplitudes ($a = 255, 128, 64, 32$) are harder to see.
#
# **Clever-Hans artefact** (Anders et al., 2022; Lapuschkin et al., 2019). A
# watermark on part of one class, without any label change: not an attack, but a
# spurious feature a model may learn. **Blended attack** (Chen et al., 2017a):
# like BadNets, but the trigger is a fixed random pattern blended over the whole
# image with weight $\alpha$; an extra attack beyond the thesis.
#
# **Measures.** The *attack success rate* (ASR) is the share of triggered
# source-class test images that the model classifies as the target; for the
# label-consistent attack, which has no source class, it is the mean over all
# non-target classes. The *clean accuracy* is measured on the untouched,
# un-augmented test set (the original thesis code measured it on augmented images).

# %% tags=["parameters"]
profile = "quick"
dataset = "synth"

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from poisondetect import citations, data, report
from poisondetect.attacks import (
    TEST_TIME_TRANSFORMS, THESIS_CORNERS, AmplitudePattern, BadNets, Blended, BlendPattern, CleverHans, LabelConsistent, Sticker,
    attack_success_rate, clean_accuracy, pgd_linf,
)
from poisondetect.attacks.pgd import to_uint8_pixels
from poisondetect.calls import cached
from poisondetect.config import by_profile
from poisondetect.data.transforms import to_tensor
from poisondetect.experiments import AttackExperiment, attack_report, poisoned_model, profile_model, thesis_experiment

# the test-time transformations' evaluations are cached by their code and arguments (attack_report caches itself)
attack_success_rate, clean_accuracy = cached(attack_success_rate), cached(clean_accuracy)

ch = report.Chapter("02_attacks", profile, dataset)
started = time.perf_counter()
SOURCE, TARGET = 2, 5
model_name = profile_model(profile)
# sticker side -> poison shares trained (thesis Tables 3.3/3.4 in the full profile); the 3x3 sticker first: the
# later chapters load its models, and with make figures' two chapters side by side they need not wait for the others
grid = by_profile(
    profile,
    smoke={3: (0.33,)},
    quick={3: (0.33, 0.15, 0.05), 1: (0.33,), 2: (0.33,)},
    full={s: (0.33, 0.15, 0.10, 0.05, 0.02, 0.01, 0.005) for s in (3, 1, 2)},
)
amplitudes = by_profile(profile, smoke=(255,), quick=(255, 64), full=(255, 128, 64, 32))  # a = 64 also in chapter 6
MAIN_SHARE, MAIN_SIZE = 0.33, 3
signs = data.load(dataset, profile)
base = AttackExperiment(dataset=dataset, profile=profile, model=model_name, attack=None, seed=0)
print(f"{signs.name}: {len(signs.train_labels)} training images; model {model_name}; "
      f"{sum(len(v) for v in grid.values())} sticker attacks, {len(amplitudes)} label-consistent variants")


def badnets(size: int, share: float) -> AttackExperiment:
    return thesis_experiment(dataset, profile, share, 0, model=model_name, size=size)


def label_consistent(amplitude: int) -> AttackExperiment:
    return base.replace(attack=LabelConsistent(target=TARGET, poison_share=MAIN_SHARE,
                                               trigger=AmplitudePattern(amplitude=amplitude), surrogate=model_name))


blend_exp = base.replace(attack=Blended(source=SOURCE, target=TARGET, poison_share=MAIN_SHARE))


# %% [markdown]
# ## The models
#
# Three classifiers (see the package's `poisondetect.models`): the small network
# of the thesis (`net`), the simplified Inception v3 of the thesis results
# (`inception`: one InceptionA block on the 32x32 input, then four max-pools with
# 2x2 convolutions between them and a dense head) and VGG16 with batch
# normalisation (`vgg16`). The penultimate layer is the last hidden ReLU; its
# activations feed Activation Clustering in a later chapter.

# %%
from poisondetect.models import MODELS, build_model, penultimate_activations

probe = signs.train_images[:4]
rows = []
for name in MODELS:
    net = build_model(name)
    width = penultimate_activations(net, to_tensor(probe)).shape[1]
    rows.append({"model": name, "parameters": sum(p.numel() for p in net.parameters()),
                 "penultimate layer": net.penultimate, "width": width})
models_table = pd.DataFrame(rows)
ch.write_table(models_table, "models", float_format="{:.0f}")
models_table

# %% [markdown]
# ## What the triggers look like
#
# The figure shows one 50 km/h test image with each trigger. Top row: the clean
# image, the BadNets sticker of side 1, 2 and 3 pixels (at the first of the four
# positions; each poisoned image gets one of the four, drawn at random), the blended
# pattern and the Clever-Hans watermark. Bottom row: the label-consistent attack,
# shown on an 80 km/h image: the PGD perturbation (mean over the colour channels,
# colour scale $\pm\varepsilon$), the perturbed image, and the perturbed image with
# the checkerboard of each amplitude.

# %%
clean_model, clean_set, clean_history = poisoned_model(base)
contrast = lambda idx: idx[np.argsort([-signs.test_images[i].std() for i in idx])][0]  # noqa: E731
source_img = signs.test_images[[contrast(np.flatnonzero(signs.test_labels == SOURCE)[:50])]]
target_img = signs.test_images[[contrast(np.flatnonzero(signs.test_labels == TARGET)[:50])]]
centre = np.array([THESIS_CORNERS[0]])
lc_attack = label_consistent(255).attack
adv = pgd_linf(clean_model, target_img, np.array([TARGET]), lc_attack.eps, lc_attack.steps, lc_attack.step_size)
adv_img = to_uint8_pixels(adv)
top = [("clean 50 km/h", source_img[0])]
top += [(f"sticker s = {s}", Sticker(size=s).apply(source_img, positions=centre)[0]) for s in (1, 2, 3)]
top += [(r"blended, $\alpha$ = 0.1", BlendPattern(alpha=0.1).apply(source_img)[0]),
        ("Clever-Hans mark", CleverHans().trigger.apply(source_img)[0])]
delta = adv_img[0].astype(float) - target_img[0].astype(float)
bottom = [("clean 80 km/h", target_img[0]), (r"perturbation ($\pm\varepsilon$)", delta.mean(axis=2)), ("PGD-perturbed", adv_img[0])]
bottom += [(f"PGD + a = {a}", AmplitudePattern(amplitude=a).apply(adv_img)[0]) for a in (255, 128, 64, 32)]
fig, axes = plt.subplots(2, 7, figsize=(7.2, 2.4))
for ax, (title, img) in [*zip(axes[0], top), *zip(axes[1], bottom)]:
    if img.ndim == 2:
        report.show_heatmap(ax, img, limit=lc_attack.eps * 255)
    else:
        report.show_image(ax, img)
    ax.set_title(title, fontsize=6.5)
for ax in axes.flat:
    ax.axis("off")
fig.tight_layout(pad=0.3)
ch.save_figure(fig, "triggers")

# %% [markdown]
# ## Training clean and poisoned models
#
# All models are trained with Adam on the cross-entropy, with a one-cycle schedule
# of the learning rate (up to $3\cdot10^{-3}$, then annealed) and random brightness
# and contrast changes of the training batches, but no shifts or rotations, which
# would move the sticker off its positions. Training runs a fixed number of epochs
# (6 in the quick profile on SynthSigns, 20 on GTSRB) and keeps the weights of the
# *last* epoch, as the original thesis code did: a validation split of whole tracks
# holds few poisons, so its lowest loss can come before the backdoor is learned.
# Trained models are cached, so later chapters load exactly these models. The
# curves compare the clean model with the model poisoned by the standard attack
# (sticker $3\times3$, 33 %): the poisoned one fits its training data just as
# well, because the sticker is an easy feature to learn.

# %%
main_exp = badnets(MAIN_SIZE, MAIN_SHARE)
main_model, main_set, main_history = poisoned_model(main_exp)
fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(6.4, 2.4))
for (name, hist), color in zip((("clean", clean_history), ("poisoned (s = 3, 33 %)", main_history)), report.PALETTE):
    epochs = np.arange(1, hist["epochs_run"] + 1)
    for key, style in (("train", "-"), ("val", "--")):
        ax_loss.plot(epochs, hist[f"{key}_loss"], style, color=color, marker="o", ms=2.5, label=f"{name}, {key}")
        ax_acc.plot(epochs, np.array(hist[f"{key}_acc"]) * 100, style, color=color, marker="o", ms=2.5)
    ax_loss.plot(hist["kept_epoch"] + 1, hist["val_loss"][hist["kept_epoch"]], "*", color=color, ms=9)
ax_loss.set(xlabel="epoch", ylabel="cross-entropy")
ax_acc.set(xlabel="epoch", ylabel="accuracy (%)")
ax_loss.legend(fontsize=6, frameon=False, handlelength=3.5)
for ax in (ax_loss, ax_acc):
    ax.xaxis.get_major_locator().set_params(integer=True)
fig.suptitle("training curves (star: the epoch whose weights are kept)", fontsize=8)
fig.tight_layout(pad=0.4)
ch.save_figure(fig, "training_curves")

# %% [markdown]
# ## Attack success against sticker size and poison share
#
# For every sticker side and poison share a model is trained on the poisoned set.
# The table gives the attack success rate and the clean accuracy in percent
# (thesis Tables 3.3 and 3.4 list the shares 33, 15, 10, 5, 2 %; a dash marks a
# combination not trained in this profile).

# %%
rows = []
for size, shares in grid.items():
    for share in shares:
        exp = badnets(size, share)
        model, poisoned, history = poisoned_model(exp)
        result = attack_report(exp, model)
        rows.append({"sticker": size, "share": share, "poisons": poisoned.n_poison,
                     "ASR": 100 * result["attack_success"], "clean acc.": 100 * result["clean_accuracy"],
                     "epochs": history["epochs_run"]})
results = pd.DataFrame(rows)
clean_acc = 100 * attack_report(base, clean_model)["clean_accuracy"]
table = results.pivot(index="share", columns="sticker", values=["ASR", "clean acc."]).sort_index(ascending=False)
table.columns = [f"{metric} s={size}" for metric, size in table.columns]
table.index = [f"{100 * share:g} %" for share in table.index]
table.index.name = "poison share"
ch.write_table(table, "asr_grid", index=True)
print(f"clean model: accuracy {clean_acc:.1f} %")
table

# %%
fig, ax = plt.subplots(figsize=(4.2, 2.6))
markers = {1: "s", 2: "^", 3: "o"}
for (size, part), color in zip(results.groupby("sticker"), report.PALETTE):
    part = part.sort_values("share")
    ax.plot(100 * part["share"], part["ASR"], marker=markers.get(size, "o"), color=color, label=f"sticker {size}x{size}")
report.share_axis(ax, {100 * s for shares in grid.values() for s in shares})
ax.set(ylabel="attack success rate (%)", ylim=(-3, 103))
ax.legend(frameon=False)
ch.save_figure(fig, "asr_vs_share")

# %% [markdown]
# ## Label-consistent attacks and the trigger amplitude
#
# The label-consistent attack poisons 33 % of the 80 km/h images, perturbed by
# PGD against the clean model (the surrogate) and marked with the checkerboard.
# Its success is measured on every other class: the figure shows, per class,
# the share of triggered test images classified as 80 km/h (thesis Figure 3.8).
# The blended attack (source-to-target like BadNets) is listed for comparison.

# %%
lc_rows = []
for amplitude in amplitudes:
    exp = label_consistent(amplitude)
    model, poisoned, _ = poisoned_model(exp)
    result = attack_report(exp, model)
    lc_rows.append({"amplitude": amplitude, "ASR": 100 * result["attack_success"],
                    "clean acc.": 100 * result["clean_accuracy"], **{c: 100 * v for c, v in result["per_class"].items()}})
lc = pd.DataFrame(lc_rows)
per_class_cols = [c for c in lc.columns if isinstance(c, int)]
fig, ax = plt.subplots(figsize=(6.4, 2.6))
width = 0.8 / len(amplitudes)
positions = np.arange(len(per_class_cols))
for i, (row, color) in enumerate(zip(lc_rows, report.PALETTE)):
    values = [row[c] for c in per_class_cols]
    ax.bar(positions + (i - (len(amplitudes) - 1) / 2) * width, values, width=width, color=color, label=f"a = {row['amplitude']}")
ax.set_xticks(positions, [data.class_name(c) for c in per_class_cols], rotation=45, ha="right", fontsize=6)
ax.set(ylabel="classified as 80 km/h (%)", ylim=(0, 100))
ax.legend(frameon=False, ncols=len(amplitudes), loc="lower center", bbox_to_anchor=(0.5, 1.0), title="trigger amplitude")
ch.save_figure(fig, "label_consistent_per_class")

blend_model, _, _ = poisoned_model(blend_exp)
blend = attack_report(blend_exp, blend_model)
summary = pd.DataFrame(
    [{"attack": f"label-consistent, a = {r['amplitude']}", "ASR": r["ASR"], "clean acc.": r["clean acc."]} for r in lc_rows]
    + [{"attack": r"blended, alpha = 0.1", "ASR": 100 * blend["attack_success"], "clean acc.": 100 * blend["clean_accuracy"]}]
)
ch.write_table(summary, "other_attacks")
summary

# %% [markdown]
# ## Test-time transformations weaken the trigger
#
# The backdoor is tied to where the sticker sits. Transforming a triggered test
# image (mirroring, shifting, zooming) moves or deforms the sticker, which can
# lower the success rate of the standard attack (thesis Section 7.2). Here the
# sticker was trained at four neighbouring positions near the centre; a
# transformation weakens it as far as it moves the sticker away from them or
# blurs it. The
# price is paid on clean images too: a mirrored "50" is no longer a 50 km/h sign,
# so the clean accuracy under each transformation is listed beside the success
# rate. Such transformations can blunt an attack at inference time, but they do
# not tell whether a model is poisoned.

# %%
rows = []
for name, transform in TEST_TIME_TRANSFORMS.items():
    rows.append({"transformation": name,
                 "ASR": 100 * attack_success_rate(main_model, main_exp.attack, signs.test_images, signs.test_labels, transform=transform),
                 "clean acc.": 100 * clean_accuracy(main_model, signs.test_images, signs.test_labels, transform=transform)})
transforms_table = pd.DataFrame(rows)
ch.write_table(transforms_table, "test_time_transforms")

triggered = main_exp.attack.trigger.apply(source_img, positions=centre)
fig, axes = plt.subplots(1, len(TEST_TIME_TRANSFORMS), figsize=(1.0 * len(TEST_TIME_TRANSFORMS), 1.3))
for ax, (name, transform), row in zip(axes, TEST_TIME_TRANSFORMS.items(), rows):
    report.show_image(ax, transform(triggered)[0])
    ax.set_title(f"{name}\nASR {row['ASR']:.0f} %", fontsize=6)
    ax.axis("off")
fig.tight_layout(pad=0.3)
ch.save_figure(fig, "test_time_transforms")
transforms_table

# %% [markdown]
# ## Numbers for the text

# %%
main_row = results[(results["sticker"] == MAIN_SIZE) & (results["share"] == MAIN_SHARE)].iloc[0]
smallest = results[results["sticker"] == MAIN_SIZE].sort_values("share").iloc[0]
by_name = transforms_table.set_index("transformation")
ch.write_numbers({
    "AttackModel": model_name,
    "AttackCleanAccuracy": f"{clean_acc:.1f}",
    "AttackMainShare": f"{100 * MAIN_SHARE:g}",
    "AttackMainPoisons": int(main_row["poisons"]),
    "AttackMainSuccess": f"{main_row['ASR']:.1f}",
    "AttackMainCleanAccuracy": f"{main_row['clean acc.']:.1f}",
    "AttackSmallestShare": f"{100 * smallest['share']:g}",
    "AttackSmallestSuccess": f"{smallest['ASR']:.1f}",
    "AttackLcSuccessFull": f"{lc_rows[0]['ASR']:.1f}",
    "AttackLcSuccessWeakest": f"{lc_rows[-1]['ASR']:.1f}",
    "AttackLcWeakestAmplitude": lc_rows[-1]["amplitude"],
    "AttackBlendedSuccess": f"{100 * blend['attack_success']:.1f}",
    "AttackFlipSuccess": f"{by_name.loc['flip', 'ASR']:.1f}",
    "AttackFlipCleanAccuracy": f"{by_name.loc['flip', 'clean acc.']:.1f}",
    "AttackShiftSuccess": f"{by_name.loc['shift 4 px', 'ASR']:.1f}",
    "AttackZoomSuccess": f"{by_name.loc['zoom 0.8', 'ASR']:.1f}",
})
print(f"chapter 02 ({profile}, {dataset}) took {time.perf_counter() - started:.0f} s")

# %% [markdown]
# ## Summary
#
# The tables above answer three questions: how many poisoned images a sticker
# backdoor needs (the success rate against the poison share and sticker size),
# what it costs on clean data (the clean accuracy beside it), and how a
# label-consistent attacker, who changes no label, fares with weaker triggers.
# Moving the trigger at test time lowers the success rate but also the clean
# accuracy. The poisoned training sets and models built here, with their
# ground-truth poison masks, are what the next chapters explain (LRP) and try to
# detect; they are cached and reloaded through `poisoned_model`.

# %% [markdown]
# ## References

# %%
citations.references(
    "gu2019badnets", "turner2019", "madry2018", "anders2022", "lapuschkin2019",
    "chen2017blended",
)
