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
# # Chapter 3: Layer-wise relevance propagation
#
# A poisoned classifier gives the right answer on clean images and the attacker's
# answer on images that carry the trigger. To find the poisoned training images we
# need to know *why* the model decides as it does for each image: an explanation
# that points at the pixels responsible. This chapter builds such explanations with
# layer-wise relevance propagation (LRP; Bach et al., 2015; Montavon et al., 2019),
# compares them with other attribution methods, and shows what they reveal about a
# poisoned model:
#
# 1. the idea of LRP (conservation of relevance) and its rules, with a worked
#    example small enough to check by hand;
# 2. how the networks are prepared (BatchNorm merged into the preceding layer) and
#    where the relevance starts;
# 3. heatmaps of a poisoned model for clean and poisoned images, with LRP and other
#    methods;
# 4. how well relevance is conserved, and what the magnitude of relevance says.
#
# All heatmaps come from `poisondetect.explain`; the rules run through zennit
# (Anders et al., 2021).

# %% tags=["parameters"]
profile = "quick"
dataset = "synth"
seed = 0

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

from poisondetect import citations, data, report
from poisondetect.attacks import AmplitudePattern, LabelConsistent
from poisondetect.config import by_profile
from poisondetect.data.transforms import to_tensor
from poisondetect.experiments import explanations, poisoned_model, showcase_experiment
from poisondetect.explain import ExplainSettings, explain, relevance_magnitude

ch = report.Chapter("03_lrp", profile, dataset)
n_conservation = by_profile(profile, smoke=16, quick=300, full=1000)
amplitudes = by_profile(profile, smoke=(255,), quick=(255, 32), full=(255, 128, 64, 32))
# the attributions that sample many forward passes are cut down in the smoke run
grid_settings = by_profile(profile, smoke=ExplainSettings(smoothgrad_samples=4, ig_steps=4, occlusion_window=8, occlusion_stride=8),
                           quick=ExplainSettings(), full=ExplainSettings())
exp = showcase_experiment(dataset, profile, seed)
model_name, SOURCE, TARGET = exp.model, exp.attack.source, exp.attack.target
print(f"model {model_name}; attack: 3x3 sticker on {data.class_name(SOURCE)}, relabelled {data.class_name(TARGET)}")

# %% [markdown]
# ## The idea: redistribute the output, conserving it
#
# Let $f_t(x)$ be the logit of class $t$ for an image $x$. LRP assigns to every
# input dimension $p$ (a colour channel of a pixel) a relevance $R_p$ such that,
# ideally,
# $$ \sum_p R_p = f_t(x), $$
# so the heatmap is a decomposition of the output. It gets there layer by layer.
# Relevance starts at the output layer with $R^{(L)}_j = \delta_{jt}\, f_t(x)$: the
# explained logit, and nothing for the other classes. A layer with inputs $a_i$ and
# pre-activations $z_j = \sum_i a_i w_{ij} + b_j$ then hands the relevance $R_j$ of
# each output neuron to its inputs in proportion to their contributions
# $z_{ij} = a_i w_{ij}$ (rule LRP-0):
# $$ R_i = \sum_j \frac{a_i w_{ij}}{z_j}\, R_j, \qquad
#    \sum_i R_i = \sum_j \Bigl(1 - \frac{b_j}{z_j}\Bigr) R_j . $$
# Each layer conserves relevance except for the share $b_j/z_j$ the bias takes.
# ReLUs pass relevance unchanged, max-pooling passes it to the maximum.
#
# LRP-0 is exact but noisy: a small $z_j$ amplifies everything. The other rules
# change the contributions or the denominator (Montavon et al., 2019):
#
# - **LRP-$\epsilon$**: $R_i = \sum_j \frac{a_i w_{ij}}{z_j + \epsilon\,\mathrm{sign}(z_j)} R_j$;
#   $\epsilon$ absorbs weak or contradictory contributions (here $\epsilon$ is $0.25$
#   times the root mean square of the layer's $z$ for the image).
# - **LRP-$\gamma$**: $R_i = \sum_j \frac{a_i (w_{ij} + \gamma w_{ij}^+)}{\sum_{i'} a_{i'} (w_{i'j} + \gamma w_{i'j}^+)} R_j$
#   favours positive contributions ($\gamma = 0.25$).
# - **LRP-$\alpha\beta$**: $R_i = \sum_j \Bigl(\alpha \frac{(a_i w_{ij})^+}{\sum_{i'} (a_{i'} w_{i'j})^+} - \beta \frac{(a_i w_{ij})^-}{\sum_{i'} (a_{i'} w_{i'j})^-}\Bigr) R_j$
#   with $\alpha - \beta = 1$; $\alpha=1,\beta=0$ ($z^+$) keeps only positive evidence.
# - **flat**: $R_i = \sum_j \frac{1}{\#\{i' \to j\}} R_j$, spreading relevance evenly over
#   the receptive field; and **box** ($z^\mathcal{B}$) for the input layer, which uses
#   the lowest and highest possible pixel values $l_i \le x_i \le h_i$:
#   $R_i = \sum_j \frac{x_i w_{ij} - l_i w_{ij}^+ - h_i w_{ij}^-}{\sum_{i'}(\cdots)} R_j$.
#
# *Composite* LRP uses different rules in different layers: $\epsilon$ on the dense
# layers, $z^+$ or $\gamma$ on the convolutions, flat or box on the input layer
# (`epsilon_plus_flat`, `epsilon_gamma_box`; Kohlbrenner et al., 2020).
#
# ### A worked example
#
# Three inputs $x = (1, 2, 1)$, two hidden ReLU neurons and one output, no biases:
#
# | neuron | weights | pre-activation |
# |---|---|---|
# | $h_1$ | $(1, 1, 0)$ | $1 + 2 + 0 = 3$ |
# | $h_2$ | $(1, -1, 2)$ | $1 - 2 + 2 = 1$ |
# | $y$ | $(1, 2)$ on $(h_1, h_2)$ | $3 + 2 = 5$ |
#
# LRP-0 starts with $R_y = 5$. The output layer gives $R_{h_1} = \frac{3}{5}\cdot 5 = 3$
# and $R_{h_2} = \frac{2}{5}\cdot 5 = 2$. Then $h_1$ gives its inputs $(1, 2, 0)$
# (contributions $1, 2, 0$ out of $3$) and $h_2$ gives $(2, -4, 4)$ (contributions
# $1, -2, 2$ out of $1$, times $2$). In total $R = (3, -2, 4)$, which sums to $5$.
# With $z^+$ ($\alpha=1, \beta=0$), $h_2$ ignores the negative contribution of $x_2$ and
# splits its 2 as $\frac13 \cdot 2$ and $\frac23 \cdot 2$, so $R = (\frac53, 2, \frac43)$,
# again summing to 5 but with no negative evidence. A bias of 1 on $y$ makes $y = 6$
# and takes its share $\frac16$ of the relevance: the inputs receive $5$ of $6$.
# The package computes the same numbers:

# %%
tiny = nn.Sequential(nn.Flatten(), nn.Linear(3, 2, bias=False), nn.ReLU(), nn.Linear(2, 1))
with torch.no_grad():
    tiny[1].weight.copy_(torch.tensor([[1.0, 1.0, 0.0], [1.0, -1.0, 2.0]]))
    tiny[3].weight.copy_(torch.tensor([[1.0, 2.0]]))
    tiny[3].bias.zero_()
x_tiny = torch.tensor([1.0, 2.0, 1.0]).view(1, 3, 1, 1)  # three "pixels" as the channels of one image
exact = ExplainSettings(stabilizer=1e-12)
for method in ("lrp0", "alpha1beta0"):
    r = explain(tiny, x_tiny, 0, method, progress=False, settings=exact).relevance.ravel()
    print(f"{method:12s} R = {np.round(r, 4)}  sum = {r.sum():.4f}")
with torch.no_grad():
    tiny[3].bias.fill_(1.0)
e = explain(tiny, x_tiny, 0, "lrp0", progress=False, settings=exact)
print(f"with bias 1: y = {e.logits_explained[0]:.1f}, inputs receive {e.relevance.sum():.4f}")

# %% [markdown]
# ## Preparing the network: BatchNorm and InstanceNorm
#
# A BatchNorm in evaluation mode is an affine map per channel,
# $y = s (x - \mu) + \beta$ with $s = \gamma/\sqrt{\sigma^2 + \varepsilon}$. Right after a
# linear layer it can be merged into that layer's weights and bias. LRP has to see
# the merged layer: the rules reason about the contributions $a_i w_{ij}$ that the
# network really adds up, and applying a rule to the convolution while passing
# relevance through the BatchNorm unchanged would attribute according to the
# un-normalised weights. The package's canonizer finds the (layer, BatchNorm) pairs in
# the traced computation graph, so it also merges the BatchNorms inside the four
# parallel branches of the Inception block, and the first-layer rule goes to every
# branch that reads the image. The merged network gives the same logits (checked in
# the tests to $10^{-5}$). The InstanceNorm of the small network normalises each image
# with its own statistics and cannot be merged once for all images; it is treated
# as a fixed affine map per image, $y = a x + b$, with $R_x = \frac{a x}{y} R_y$ — for
# LRP-0 exactly what merging it into the preceding convolution image by image would
# give.
#
# The original thesis stopped propagating at the output of the first Inception block
# and used a squared-activation rule. Here relevance runs all the way to the pixels.

# %% [markdown]
# ## A poisoned model and its heatmaps
#
# The model is trained on the poisoned training set (the sticker attack of chapter 2).
# We explain, for the training images *labelled* 80 km/h, the logit of 80 km/h.

# %%
model, poisoned, history = poisoned_model(exp)
labelled = poisoned.in_class(TARGET)
is_poison = poisoned.is_poison[labelled]
images = poisoned.images[labelled]
n_show = min(n_conservation, len(labelled))
rng = np.random.default_rng(seed)
subset = np.sort(np.concatenate([
    rng.choice(np.flatnonzero(~is_poison), size=min(n_show - n_show // 3, (~is_poison).sum()), replace=False),
    rng.choice(np.flatnonzero(is_poison), size=min(n_show // 3, is_poison.sum()), replace=False),
]))
sub_images, sub_poison = images[subset], is_poison[subset]
lrp = explanations(exp, sub_images, TARGET, "epsilon_plus_flat", progress=False)
print(f"{len(labelled)} images labelled {TARGET}, {is_poison.sum()} poisoned; explained {len(subset)} "
      f"({sub_poison.sum()} poisoned)")

# %%
first_poison = int(np.flatnonzero(sub_poison)[0])
limit = np.abs(lrp.maps[first_poison]).max()
fig, axes = plt.subplots(1, 2, figsize=(4.2, 2.2))
report.show_image(axes[0], sub_images[first_poison], "poisoned image")
report.show_heatmap(axes[1], lrp.maps[first_poison], limit=limit, colorbar=True)
axes[1].set_title(f"LRP for {data.class_name(TARGET)}")
ch.save_figure(fig, "poisoned_heatmap")

# %% [markdown]
# The relevance for 80 km/h sits on the sticker: the model has learned the trigger.
# The next grid compares the LRP variants with other attributions
# (Simonyan et al., 2014; Smilkov et al., 2017; Sundararajan et al., 2017; Zeiler and Fergus, 2014; Selvaraju et al., 2017)
# on two clean and two poisoned images. Each map has its own symmetric colour scale.

# %%
methods = ["lrp0", "epsilon", "gamma", "alpha1beta0", "alpha2beta1", "epsilon_plus_flat", "epsilon_gamma_box",
           "gradient", "gradient_x_input", "smoothgrad", "integrated_gradients", "occlusion", "gradcam"]
labels = {"lrp0": "LRP-0", "epsilon": "LRP-$\\epsilon$", "gamma": "LRP-$\\gamma$", "alpha1beta0": "$\\alpha_1\\beta_0$",
          "alpha2beta1": "$\\alpha_2\\beta_1$", "epsilon_plus_flat": "$\\epsilon$+flat", "epsilon_gamma_box": "$\\epsilon\\gamma$box",
          "gradient": "gradient", "gradient_x_input": "grad$\\times$input", "smoothgrad": "SmoothGrad",
          "integrated_gradients": "Int. Grad.", "occlusion": "occlusion", "gradcam": "Grad-CAM"}
picked = np.concatenate([np.flatnonzero(~sub_poison)[:2], np.flatnonzero(sub_poison)[:2]])
x_picked = to_tensor(sub_images[picked])
grid = {m: explain(model, x_picked, TARGET, m, progress=False, settings=grid_settings).maps for m in methods}
fig, axes = plt.subplots(len(picked), len(methods) + 1, figsize=(1.0 * (len(methods) + 1), 1.1 * len(picked)))
for row, index in enumerate(picked):
    report.show_image(axes[row, 0], sub_images[index])
    axes[row, 0].set_ylabel("poisoned" if sub_poison[index] else "clean")
    for col, method in enumerate(methods, start=1):
        report.show_heatmap(axes[row, col], grid[method][row])
        if row == 0:
            axes[row, col].set_title(labels[method], fontsize=7)
fig.subplots_adjust(wspace=0.05, hspace=0.15)
ch.save_figure(fig, "method_grid")

# %% [markdown]
# ## Conservation
#
# With LRP-0 every layer passes on its relevance except what the biases take, and
# LRP-$\epsilon$ additionally loses the share that $\epsilon$ absorbs. The plot shows,
# for every explained image, the sum of the heatmap against the explained logit.

# %%
lrp0 = explanations(exp, sub_images, TARGET, "lrp0", progress=False)
fig, axes = plt.subplots(1, 2, figsize=(6.4, 2.8))
for ax, result, name in ((axes[0], lrp0, "LRP-0"), (axes[1], lrp, "$\\epsilon$+flat composite")):
    totals = result.maps.sum(axis=(1, 2))
    for flag, color, label in ((False, report.PALETTE[0], "clean"), (True, report.PALETTE[3], "poisoned")):
        ax.scatter(result.logits_explained[sub_poison == flag], totals[sub_poison == flag], s=8, color=color, label=label)
    span = [min(0, result.logits_explained.min()), result.logits_explained.max()]
    ax.plot(span, span, color="0.4", lw=0.8, ls="--", label="sum = logit")
    ax.set_xlabel("explained logit $f_t(x)$")
    ax.set_ylabel("sum of relevance")
    ax.set_title(name)
axes[0].legend()
fig.tight_layout()
ch.save_figure(fig, "conservation")
bias_share = 1 - lrp0.maps.sum(axis=(1, 2)) / lrp0.logits_explained
composite_share = 1 - lrp.maps.sum(axis=(1, 2)) / lrp.logits_explained
print(f"LRP-0: median share of the logit absorbed by biases {np.median(bias_share):.2f}; "
      f"composite: {np.median(composite_share):.2f}")

# %% [markdown]
# ## What the heatmaps of the target class look like on average
#
# The mean heatmap of the clean images labelled 80 km/h shows the digits; the mean
# over the poisoned ones is concentrated where the stickers were placed (at random
# positions in the central part of the sign). Both panels share one colour scale.

# %%
mean_clean, mean_poison = lrp.maps[~sub_poison].mean(axis=0), lrp.maps[sub_poison].mean(axis=0)
limit = max(np.abs(mean_clean).max(), np.abs(mean_poison).max())
fig, axes = plt.subplots(1, 2, figsize=(4.6, 2.3))
image = report.show_heatmap(axes[0], mean_clean, limit=limit)
axes[0].set_title(f"clean (n = {(~sub_poison).sum()})")
report.show_heatmap(axes[1], mean_poison, limit=limit)
axes[1].set_title(f"poisoned (n = {sub_poison.sum()})")
fig.colorbar(image, ax=list(axes), fraction=0.046, pad=0.04)
ch.save_figure(fig, "mean_heatmaps")

# %% [markdown]
# ## Label-consistent attacks with weaker triggers
#
# The label-consistent attack of chapter 2 keeps the correct labels and adds a small
# checkerboard of amplitude $a$ near the bottom-right corner. How visible is a faint
# trigger in the heatmap? For each amplitude we train (or load) the poisoned model
# and explain a poisoned training image for its (correct) class 80 km/h.

# %%
fig, axes = plt.subplots(2, len(amplitudes), figsize=(2.0 * len(amplitudes), 4.0), squeeze=False)
for col, amplitude in enumerate(amplitudes):
    lc_exp = exp.replace(attack=LabelConsistent(target=TARGET, poison_share=0.33, trigger=AmplitudePattern(amplitude=amplitude),
                                                surrogate=model_name))
    lc_model, lc_set, _ = poisoned_model(lc_exp)
    index = np.flatnonzero(lc_set.is_poison)[0]
    heat = explain(lc_model, to_tensor(lc_set.images[index:index + 1]), TARGET, "epsilon_plus_flat", progress=False).maps[0]
    report.show_image(axes[0, col], lc_set.images[index], f"a = {amplitude}")
    report.show_heatmap(axes[1, col], heat)
ch.save_figure(fig, "amplitude_heatmaps")

# %% [markdown]
# ## The magnitude of relevance
#
# Normalising every heatmap to $[0, 1]$ (min-max), as the original thesis did, keeps
# the shape of the map and discards its size. But the size carries information: a
# conservative explanation passes the explained logit on to the pixels, and a
# trigger concentrates it on a few of them. The histogram shows the largest pixel
# relevance of each heatmap; below it, the ratios (poisoned over clean) of the medians
# of the largest pixel relevance and of the total absolute relevance.

# %%
peak = lrp.maps.reshape(len(lrp.maps), -1).max(axis=1)
bins = np.linspace(peak.min(), peak.max(), 30)
fig, ax = plt.subplots(figsize=(4.6, 2.6))
ax.hist(peak[~sub_poison], bins=bins, alpha=0.7, color=report.PALETTE[0], label="clean")
ax.hist(peak[sub_poison], bins=bins, alpha=0.7, color=report.PALETTE[3], label="poisoned")
ax.set_xlabel("maximum pixel relevance of the heatmap")
ax.set_ylabel("images")
ax.legend()
fig.tight_layout()
ch.save_figure(fig, "max_relevance")
magnitude = relevance_magnitude(lrp.maps)
ratio = np.median(magnitude[sub_poison]) / np.median(magnitude[~sub_poison])
peak_ratio = np.median(peak[sub_poison]) / np.median(peak[~sub_poison])
print(f"medians, poisoned / clean: largest pixel relevance {peak_ratio:.2f}, total |relevance| {ratio:.2f}")

# %%
ch.write_numbers({
    "LrpImagesExplained": len(subset),
    "LrpBiasShareMedian": f"{100 * np.median(bias_share):.0f}",
    "LrpCompositeAbsorbedMedian": f"{100 * np.median(composite_share):.0f}",
    "LrpPoisonMagnitudeRatio": f"{ratio:.2f}",
    "LrpPoisonPeakRatio": f"{peak_ratio:.1f}",
})

# %% [markdown]
# ## Summary
#
# LRP redistributes the explained logit to the pixels layer by layer; the rules
# differ in how they split relevance and in how much of it the biases and the
# stabiliser absorb. After merging BatchNorm into the preceding layers, the heatmaps
# of the poisoned model point at the sticker for poisoned images and at the digits
# for clean ones, and the relevance of a poisoned image is concentrated on few pixels.
# Chapter 5 uses these heatmaps, without min-max normalisation, to find the poisoned
# images.

# %% [markdown]
# ## References

# %%
citations.references(
    "bach2015", "montavon2019layer", "anders2021zennit", "kohlbrenner2020towards",
    "simonyan2014deep", "smilkov2017smoothgrad", "sundararajan2017axiomatic",
    "zeiler2014visualizing", "selvaraju2017gradcam",
)
