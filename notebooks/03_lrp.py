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
# 1. the idea of LRP (conservation of relevance) and its rules, written out completely,
#    with a worked example small enough to check by hand;
# 2. the generic form of the rules and their four-step implementation, in a few lines of NumPy;
# 3. where the rules come from: deep Taylor decomposition and root points;
# 4. how the networks are prepared (BatchNorm merged into the preceding layer), and where
#    LRP-0 and gradient times input part ways;
# 5. heatmaps of a poisoned model for clean and poisoned images, with LRP and other methods,
#    and how faithful each method is (region perturbation);
# 6. how well relevance is conserved, and what the magnitude of relevance says;
# 7. exercises with solutions, and what to remember.
#
# All heatmaps come from `poisondetect.explain`; the rules run through zennit
# (Anders et al., 2021). The teaching helpers are in `poisondetect.lrp_teaching`, the
# perturbation test in `poisondetect.faithfulness`.
#
# **Notation.** $a_i$ are the inputs of a layer, $w_{ij}$ its weights, $b_j$ its biases,
# $z_j = \sum_i a_i w_{ij} + b_j$ its pre-activations, $R_j$ relevances. $\epsilon$, $\gamma$, $\alpha$,
# $\beta$ always name the parameters of LRP rules; the parameters of a normalisation layer carry
# the subscript BN: scale $\gamma_\mathrm{BN}$, shift $\beta_\mathrm{BN}$, variance floor $\varepsilon_\mathrm{BN}$.
# $w^+ = \max(w, 0)$ and $w^- = \min(w, 0)$.

# %% tags=["parameters"]
profile = "quick"
dataset = "synth"
seed = 0

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import display

from poisondetect import citations, data, drawing, lab, report
from poisondetect import lrp_teaching as teaching
from poisondetect.attacks import AmplitudePattern, LabelConsistent
from poisondetect.calls import cached
from poisondetect.config import by_profile
from poisondetect.data.transforms import to_tensor
from poisondetect.detection.detectors import GWKMeansSettings, SpraySettings, TopkShareSettings
from poisondetect.experiments import explanations, poisoned_model, showcase_experiment
from poisondetect.explain import ExplainSettings, canonized_logits, explain, relevance_magnitude
from poisondetect.explain.canonizers import merged_batchnorm_count
from poisondetect.faithfulness import aopc, perturbation_curves, random_maps

# the attribution grid and the perturbation test are cached by their code and arguments: a second run loads them
cached_explain, perturbation_curves = cached(explain), cached(perturbation_curves)

ch = report.Chapter("03_lrp", profile, dataset)
n_conservation = by_profile(profile, smoke=16, quick=300, full=1000)
n_faithful = by_profile(profile, smoke=8, quick=64, full=128)      # images of the perturbation test
faithful_steps = by_profile(profile, smoke=6, quick=16, full=16)
amplitudes = by_profile(profile, smoke=(255,), quick=(255, 64), full=(255, 128, 64, 32))  # quick: the models of chapter 2
# the attributions that sample many forward passes are cut down in the smoke run
grid_settings = by_profile(profile, smoke=ExplainSettings(smoothgrad_samples=4, ig_steps=4, occlusion_window=8, occlusion_stride=8),
                           quick=ExplainSettings(), full=ExplainSettings())
exp = showcase_experiment(dataset, profile, seed)
model_name, SOURCE, TARGET = exp.model, exp.attack.source, exp.attack.target
EXACT = ExplainSettings(stabilizer=1e-12)   # for the toy network: no visible stabiliser
print(f"model {model_name}; attack: 3x3 sticker on {data.class_name(SOURCE)}, relabelled {data.class_name(TARGET)}")

# %% [markdown]
# ## 1. The idea: redistribute the output, conserving it
#
# Let $f_t(x)$ be the logit of class $t$ for an image $x$. LRP assigns to every
# input dimension $p$ (a colour channel of a pixel) a relevance $R_p$ such that,
# ideally,
# $$ \sum_p R_p = f_t(x), $$
# so the heatmap is a decomposition of the output. It gets there layer by layer.
# Relevance starts at the output layer with $R^{(L)}_j = \delta_{jt}\, f_t(x)$: the
# explained logit, and nothing for the other classes. A linear layer (dense or
# convolutional) then hands the relevance $R_j$ of each output neuron to its inputs in
# proportion to their contributions $z_{ij} = a_i w_{ij}$ (rule LRP-0):
# $$ R_i = \sum_j \frac{a_i w_{ij}}{z_j}\, R_j, \qquad
#    \sum_i R_i = \sum_j \Bigl(1 - \frac{b_j}{z_j}\Bigr) R_j . $$
# Each layer conserves relevance except for the share $b_j/z_j$ the bias takes.
# ReLUs pass relevance unchanged, max-pooling passes it to the maximum.
#
# **LRP-0 is gradient times input.** In a network of linear layers and ReLUs, LRP-0 gives
# exactly $R_p = x_p\, \partial f_t / \partial x_p$: by induction from the output, $R_j = a_j\, \partial f_t/\partial a_j$
# holds in every layer, because $\sum_j \frac{a_i w_{ij}}{z_j} a_j \frac{\partial f_t}{\partial a_j} = a_i \sum_j w_{ij} \frac{\partial f_t}{\partial z_j}$ when
# $a_j = z_j$ for active units and the inactive ones carry nothing (exercise 3). Max-pooling and dropout
# in evaluation mode keep the identity; the InstanceNorm of the small network breaks it (section 4.2).
#
# ## 2. The rules, written completely
#
# LRP-0 is exact but noisy: a small $z_j$ amplifies everything. The other rules change the
# contributions or the denominator (Montavon et al., 2019). For every linear layer:
#
# - **LRP-$\epsilon$** adds a stabiliser with the sign of $z_j$:
#   $$R_i = \sum_j \frac{a_i w_{ij}}{z_j + \epsilon_j\,\mathrm{sign}(z_j)} R_j, \qquad \epsilon_j = \epsilon\cdot\mathrm{rms}(z) ,$$
#   with $\epsilon = 0.25$ times the root mean square of the layer's pre-activations for the image (relative,
#   so that a heatmap scales with its image). $\epsilon$ absorbs weak or contradictory contributions.
# - **LRP-$\gamma$** boosts the positive weights, the bias included:
#   $$R_i = \sum_j \frac{a_i (w_{ij} + \gamma w_{ij}^+)}{\sum_{i'} a_{i'} (w_{i'j} + \gamma w_{i'j}^+) + b_j + \gamma b_j^+}\, R_j, \qquad a_i \ge 0,\ \gamma = 0.25 .$$
#   The condition $a_i \ge 0$ holds behind every ReLU or max-pool: there $a_i w_{ij}^+$ is exactly the positive part
#   of a contribution. The normalised input image has negative entries; zennit's generalised rule
#   (Andéol et al., 2021) then boosts the contributions that are positive, whatever the sign of $a_i$: for $z_j > 0$
#   the numerator is $a_i^+ (w_{ij} + \gamma w_{ij}^+) + a_i^- (w_{ij} + \gamma w_{ij}^-)$ (and $w + \gamma w^-$ for the
#   units with $z_j < 0$). For $a_i \ge 0$ this is the formula above.
# - **LRP-$\alpha\beta$** normalises positive and negative contributions separately, each with its share of the bias:
#   $$R_i = \sum_j \Bigl(\alpha \frac{(a_i w_{ij})^+}{\sum_{i'} (a_{i'} w_{i'j})^+ + b_j^+} - \beta \frac{(a_i w_{ij})^-}{\sum_{i'} (a_{i'} w_{i'j})^- + b_j^-}\Bigr) R_j .$$
#   Summed over $i$ the bracket is $\alpha \frac{P_j}{P_j + b_j^+} - \beta\frac{N_j}{N_j + b_j^-}$ with $P_j, N_j$ the sums of
#   positive and negative contributions, so relevance is **conserved when $\alpha - \beta = 1$, the biases are zero, and
#   every unit has contributions of both signs**; a unit without negative contributions passes on $\alpha R_j$
#   (exercise 2). $\alpha = 1, \beta = 0$ is the $z^+$ rule: only positive evidence.
# - **flat**: $R_i = \sum_j \frac{1}{\#\{i' \to j\}} R_j$, spreading relevance evenly over the receptive field;
#   and **box** ($z^\mathcal{B}$) for the input layer, with the lowest and highest possible pixel values $l_i \le x_i \le h_i$:
#   $R_i = \sum_j \frac{x_i w_{ij} - l_i w_{ij}^+ - h_i w_{ij}^-}{\sum_{i'}(x_{i'} w_{i'j} - l_{i'} w_{i'j}^+ - h_{i'} w_{i'j}^-)} R_j$.
#
# *Composite* LRP uses different rules in different layers (Kohlbrenner et al., 2020). What the
# package applies where (`poisondetect/explain/lrp.py`):
#
# | method | input layer(s) | other convolutions | dense layers |
# |---|---|---|---|
# | `lrp0`, `epsilon`, `alpha1beta0`, `alpha2beta1` | the same rule (on signed pixels) | the same rule | the same rule |
# | `gamma` | generalised LRP-$\gamma$ (signed pixels) | LRP-$\gamma$ | LRP-$\gamma$ |
# | `epsilon_plus_flat` | flat | $z^+$ | LRP-$\epsilon$ |
# | `epsilon_gamma_box` | box $z^\mathcal{B}$ | LRP-$\gamma$ | LRP-$\epsilon$ |
#
# "Input layers" are all layers that read the image, in every Inception branch.
#
# **Which rule the detectors use, and why.** SpRAy and the GW clustering (HC) of chapter 5, and the GW
# spaces of chapter 4, use `gamma`: it keeps a small trigger sharp, while the flat rule of `epsilon_plus_flat`
# spreads the relevance of every first-layer unit evenly over its $5\times5$ kernel and so blurs a $3\times3$
# sticker into a $7\times7$ blob. The detectors that only measure how concentrated a heatmap is (largest
# pixel, top-$k$ share) use `epsilon_plus_flat`, whose magnitudes section 6 studies. The cell prints the
# settings chapter 5 uses.

# %%
for name, settings in (("SpRAy", SpraySettings()), ("HC (GW k-means)", GWKMeansSettings()), ("top-k share", TopkShareSettings())):
    print(f"{name:16s} explains with {settings.explanation!r}")
assert SpraySettings().explanation == GWKMeansSettings().explanation == "gamma"

# %% [markdown]
# ### 2.1 A worked example, by hand
#
# Three inputs $x = (1, 2, 1)$, three hidden ReLU units and one output $y = h_1 + h_2 + 2 h_3$:
#
# | unit | weights on $(x_1, x_2, x_3)$ | bias | pre-activation | after the ReLU |
# |---|---|---|---|---|
# | $h_1$ | $(1, 1, 1)$ | 0 | $1 + 2 + 1 = 4$ | 4 |
# | $h_2$ | $(3, -1, 1)$ | 2 | $3 - 2 + 1 + 2 = 4$ | 4 |
# | $h_3$ | $(-1, -1, -1)$ | 0 | $-4$ | 0: switched off |
# | $y$ | $(1, 1, 2)$ on $(h_1, h_2, h_3)$ | 0 | $4 + 4 + 0 = 8$ | |
#
# Relevance starts with $R_y = 8$. The switched-off unit $h_3$ contributes $0 \cdot 2 = 0$ to $y$, so it
# receives no relevance under any rule, and nothing flows through it to the inputs.
#
# **LRP-0.** $R_{h} = (\tfrac48, \tfrac48, 0)\cdot 8 = (4, 4, 0)$. $h_1$ splits its 4 as its contributions
# $(1, 2, 1)$ out of $4$: $(1, 2, 1)$. $h_2$ has contributions $(3, -2, 1)$ and bias $2$ out of $4$: $(3, -2, 1)$,
# and the bias keeps $\tfrac24 \cdot 4 = 2$. So $R_x = (4, 0, 2)$, summing to $6 = 8 - 2$. Gradient times input
# gives the same: $\partial y/\partial x = (1,1,1) + (3,-1,1) = (4, 0, 2)$, and times $x = (1, 2, 1)$ that is $(4, 0, 2)$.
#
# **LRP-$\epsilon$** (relative, $\epsilon = 0.25$). At the output $\mathrm{rms}(z) = 8$, so $\epsilon_y = 2$ and
# $R_h = (\tfrac{4}{10}, \tfrac{4}{10}, 0)\cdot 8 = (3.2, 3.2, 0)$: $\epsilon$ keeps $20\,\%$. In the hidden layer
# $\mathrm{rms}(4, 4, -4) = 4$, so $\epsilon_h = 1$ and the denominators are $4 + 1 = 5$:
# $h_1$ gives $(1, 2, 1)\cdot\tfrac{3.2}{5} = (0.64, 1.28, 0.64)$, $h_2$ gives $(3, -2, 1)\cdot\tfrac{3.2}{5} = (1.92, -1.28, 0.64)$.
# $R_x = (2.56, 0, 1.28)$: the positive evidence of $x_2$ through $h_1$ cancels its negative evidence through $h_2$.
#
# **LRP-$\gamma$** ($\gamma = 0.25$). At the output all weights are positive: $w + \gamma w^+ = 1.25\,w$ cancels,
# $R_h = (4, 4, 0)$. $h_1$: weights $1.25\,(1,1,1)$, again $(1, 2, 1)$. $h_2$: weights $(3.75, -1, 1.25)$, bias
# $2 + 0.5 = 2.5$, contributions $(3.75, -2, 1.25)$, denominator $3 + 2.5 = 5.5$:
# $(3.75, -2, 1.25)\cdot\tfrac{4}{5.5} = (\tfrac{30}{11}, -\tfrac{16}{11}, \tfrac{10}{11})$.
# $R_x = (\tfrac{41}{11}, \tfrac{6}{11}, \tfrac{21}{11}) \approx (3.73, 0.55, 1.91)$: $\gamma$ tips the balance of $x_2$ towards its
# positive evidence, and the bias keeps $\tfrac{2.5}{5.5}\cdot 4 = \tfrac{20}{11}$.
#
# The package computes the same numbers:

# %%
toy, x_toy = teaching.toy_network()
by_hand = {"lrp0": [4, 0, 2], "gradient_x_input": [4, 0, 2], "epsilon": [2.56, 0, 1.28], "gamma": [41 / 11, 6 / 11, 21 / 11]}
for method, expected in by_hand.items():
    r = explain(toy, x_toy, 0, method, progress=False, settings=EXACT).relevance.ravel()
    print(f"{method:17s} R = {np.round(r, 4)}  sum = {r.sum():.4f}   by hand: {np.round(expected, 4)}")
    np.testing.assert_allclose(r, expected, atol=1e-6)

# %% [markdown]
# ### 2.2 The generic rule and its four steps
#
# LRP-0, $\epsilon$ and $\gamma$ are one rule with two knobs (Montavon et al., 2019): a weight map $\rho(w)$ and an
# increment $\mathrm{incr}(z)$ of the denominator,
# $$ R_i = \sum_j \frac{a_i\, \rho(w_{ij})}{\mathrm{incr}\bigl(\sum_{i'} a_{i'} \rho(w_{i'j}) + \rho(b_j)\bigr)} R_j , $$
# with $\rho(w) = w$, $\mathrm{incr}(z) = z$ for LRP-0; $\mathrm{incr}(z) = z + \epsilon_j\,\mathrm{sign}(z)$ for LRP-$\epsilon$;
# $\rho(w) = w + \gamma w^+$ for LRP-$\gamma$. Written with vectors it is four steps, the third of which is a gradient:
#
# 1. forward: $z = \mathrm{incr}(\rho(W)\, a + \rho(b))$;
# 2. divide: $s = R \oslash z$;
# 3. backward: $c = \rho(W)^\top s$;
# 4. multiply: $R_\text{in} = a \odot c$.
#
# Here they are in NumPy for the toy network, compared with the package (zennit) for the three rules:

# %%
W_toy, b_toy, v_toy, d_toy, x_np = (teaching.TOY[k] for k in ("W", "b", "v", "c", "x"))
rules = {"lrp0": (lambda w: w, lambda z: z),
         "epsilon": (lambda w: w, lambda z: z + 0.25 * np.sqrt(np.mean(z**2)) * np.where(z >= 0, 1, -1)),
         "gamma": (lambda w: w + 0.25 * np.clip(w, 0, None), lambda z: z)}
for name, (rho, incr) in rules.items():
    h = np.maximum(W_toy @ x_np + b_toy, 0)
    R = v_toy @ h + d_toy                     # relevance of the output: the logit itself
    for a, W, b in ((h, v_toy, d_toy), (x_np, W_toy, b_toy)):
        z = incr(rho(W) @ a + rho(b))         # 1. forward with the modified weights
        s = R / z                             # 2. divide
        c = rho(W).T @ s                      # 3. backward
        R = a * c                             # 4. multiply
    package = explain(toy, x_toy, 0, name, progress=False, settings=EXACT).relevance.ravel()
    print(f"{name:8s} four steps: {np.round(R, 4)}   zennit: {np.round(package, 4)}")
    np.testing.assert_allclose(R, package, atol=1e-6)

# %% [markdown]
# The same function, `lrp_teaching.four_step_lrp`, agrees with the package on random ReLU networks
# (`tests/test_lrp_teaching.py`). The figure draws the toy network twice, with the contribution $a_i w_{ij}$ on every
# edge: the forward pass with LRP-$\epsilon$ relevances, and with LRP-$\gamma$ relevances on the units (thesis
# Figure 2.13, computed).

# %%
h_toy = np.maximum(W_toy @ x_np + b_toy, 0)
activations_toy = [x_np, h_toy, v_toy @ h_toy + d_toy]
fig, axes = plt.subplots(1, 2, figsize=(7.2, 2.9), layout="constrained")
for ax, rule in zip(axes, ("epsilon", "gamma")):
    relevances = teaching.four_step_lrp([W_toy, v_toy], [b_toy, d_toy], x_np, 0, *teaching.rule_functions(rule))
    drawing.draw_toy_lrp(ax, [W_toy, v_toy], activations_toy, relevances, title=f"forward pass, LRP-{rule} backward")
ch.save_figure(fig, "toy_lrp")

# %% [markdown]
# ## 3. Where the rules come from: deep Taylor decomposition
#
# Deep Taylor decomposition (Montavon et al., 2017) explains one ReLU unit $a_j = \max(0, z_j)$,
# $z_j = \sum_i a_i w_{ij} + b_j$, by a first-order Taylor expansion of $z_j$ at a *root point* $\tilde a$, a point
# where the unit is just off, $z_j(\tilde a) = 0$. Since $z_j$ is linear in $a$,
# $$ z_j(a) = z_j(\tilde a) + \sum_i (a_i - \tilde a_i)\, w_{ij} = \sum_i (a_i - \tilde a_i)\, w_{ij}, $$
# exactly, and the terms $(a_i - \tilde a_i) w_{ij}$ are the relevances of the inputs (scaled so that they sum to $R_j$).
# The rule is fixed by *where* the root point is searched: on a line $\tilde a = a - t\,v$ through $a$ in a
# direction $v$ that keeps $\tilde a$ in the domain of the inputs. Then $z_j(\tilde a) = 0$ gives
# $t = z_j / \sum_i v_i w_{ij}$ and
# $$ R_i = \frac{v_i w_{ij}}{\sum_{i'} v_{i'} w_{i'j}}\, R_j . $$
#
# - **Inputs behind a ReLU, $a \ge 0$ (positive orthant).** Search along $v_i = a_i\,[w_{ij} > 0]$: shrinking only the inputs with
#   positive weights keeps $\tilde a = a - t v \ge 0$ for $t \le 1$, and reaches the root when $b_j \le 0$. Then
#   $v_i w_{ij} = a_i w_{ij}^+$ and the relevance is the **$z^+$ rule**, $R_i = \frac{a_i w_{ij}^+}{\sum_{i'} a_{i'} w_{i'j}^+} R_j$.
#   (Searching along $v = a$ instead gives LRP-0, but its root point $\tilde a = a - t a$ with $t = z_j / (z_j - b_j)$
#   can leave the orthant.)
# - **Pixels in a box, $l \le x \le h$.** Search along $v_i = x_i - l_i$ where $w_{ij} > 0$ and $v_i = x_i - h_i$ where
#   $w_{ij} < 0$: the root point moves each pixel towards the bound that lowers $z_j$, and stays in the box for
#   $t \in [0, 1]$. Then $v_i w_{ij} = x_i w_{ij} - l_i w_{ij}^+ - h_i w_{ij}^-$, the **$z^\mathcal{B}$ rule**.
#
# Exercise 1 finds the $z^+$ root point of one unit numerically.
#
# ## 4. Preparing the network
#
# ### 4.1 Canonization: BatchNorm merged into the convolution
#
# A BatchNorm in evaluation mode is an affine map per channel,
# $y = k\,(x - \mu) + \beta_\mathrm{BN}$ with $k = \gamma_\mathrm{BN}/\sqrt{\sigma^2 + \varepsilon_\mathrm{BN}}$ and the running mean $\mu$
# and variance $\sigma^2$. Right after a linear layer $x = W a + b$ the two are one linear layer with weights
# $k \odot W$ and bias $k \odot (b - \mu) + \beta_\mathrm{BN}$. LRP has to see the merged layer: its rules reason
# about the contributions the network really adds up. The package's canonizer
# (`explain/canonizers.py`) finds the (layer, BatchNorm) pairs in the traced computation graph, so it
# also merges the BatchNorms inside the four branches of the Inception block. The cell checks that the
# merged network gives the same logits, and compares heatmaps with and without the canonizer; without it,
# each BatchNorm passes relevance with the LRP-0 rule of a fixed affine map,
# $R_x = \frac{k x}{y} R_y$ (`FrozenNormRule`).

# %%
model, poisoned, history = poisoned_model(exp)
labelled = poisoned.in_class(TARGET)
is_poison = poisoned.is_poison[labelled]
images = poisoned.images[labelled]
x_canon = to_tensor(images[np.flatnonzero(is_poison)[:1].tolist() + np.flatnonzero(~is_poison)[:3].tolist()])
before, during = canonized_logits(model, x_canon)
merged, total = merged_batchnorm_count(model)
print(f"{merged} of {total} BatchNorms merged; largest logit change {(before - during).abs().max().item():.2e} "
      f"(logits up to {before.abs().max().item():.1f})")
assert torch.allclose(before, during, atol=1e-4)
canon_rows = {}
model_double, x_double = model.double(), x_canon.double()  # double precision, so that rounding does not hide an identity
for method in ("lrp0", "gamma", "epsilon_plus_flat"):
    with_canonizer = explain(model_double, x_double, TARGET, method, progress=False, settings=EXACT).maps
    without = teaching.uncanonized_relevance(model_double, x_double, TARGET, method, EXACT).sum(axis=1)
    canon_rows[method] = (with_canonizer, without)
    change = np.abs(with_canonizer - without).max() / np.abs(with_canonizer).max()
    print(f"{method:18s} largest heatmap change without the canonizer: {change:.1e} of the largest relevance")
assert np.allclose(*canon_rows["lrp0"], atol=1e-8 * np.abs(canon_rows["lrp0"][0]).max())
fig, axes = plt.subplots(2, 3, figsize=(5.4, 3.8), layout="constrained")
for col, (method, (with_canonizer, without)) in enumerate(canon_rows.items()):
    for row, (heat, label) in enumerate(((with_canonizer[0], "merged"), (without[0], "not merged"))):
        report.show_heatmap(axes[row, col], heat)
        axes[row, col].set_title(f"{method}, BN {label}", fontsize=7)
ch.save_figure(fig, "canonization")

# %% [markdown]
# For LRP-0 the canonizer changes nothing: the affine rule of an unmerged BatchNorm followed by LRP-0
# on the convolution is the same computation (exercise 3 shows why). For LRP-$\gamma$ and $z^+$ it matters:
# these rules look at the signs of the weights, and the BatchNorm's factor $k$ (which can be negative) and
# its shift change the signs and the bias share of the merged layer. The detectors always canonize.
#
# ### 4.2 InstanceNorm, and where LRP-0 and gradient times input differ
#
# The InstanceNorm of the small network normalises each image with its own statistics and cannot be
# merged once for all images. It is treated as a fixed affine map per image, $y = k x + m$, with
# $R_x = \frac{k x}{y} R_y$ (`FrozenNormRule`): its mean and variance count as constants. The gradient, however,
# also differentiates them. So on this model LRP-0 is *not* gradient times input; it equals gradient
# times input computed with the InstanceNorm statistics held fixed:

# %%
lrp0_maps = explain(model_double, x_double, TARGET, "lrp0", progress=False, settings=EXACT).relevance
gxi = explain(model_double, x_double, TARGET, "gradient_x_input", progress=False).relevance
frozen_gxi = teaching.frozen_norm_gradient_x_input(model_double, x_double, TARGET)
model = model.float()  # back to single precision for the rest of the chapter
scale = np.abs(lrp0_maps).max()
print(f"largest |LRP-0 - gradient x input|: {np.abs(lrp0_maps - gxi).max() / scale:.3f} of the largest relevance; "
      f"with the InstanceNorm statistics frozen: {np.abs(lrp0_maps - frozen_gxi).max() / scale:.1e}")
print(f"correlation of LRP-0 with gradient x input: {np.corrcoef(lrp0_maps.ravel(), gxi.ravel())[0, 1]:.3f}")
assert np.abs(lrp0_maps - frozen_gxi).max() < 1e-6 * scale

# %% [markdown]
# The original thesis stopped propagating at the output of the first Inception block
# and used a squared-activation rule. Here relevance runs all the way to the pixels.

# %% [markdown]
# ## 5. A poisoned model and its heatmaps
#
# The model is trained on the poisoned training set (the sticker attack of chapter 2).
# We explain, for the training images *labelled* 80 km/h, the logit of 80 km/h, with the
# $\epsilon$+flat composite (what the concentration measures of section 6 use) and with LRP-$\gamma$
# (what SpRAy and HC use).

# %%
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
gamma_map = explain(model, to_tensor(sub_images[first_poison:first_poison + 1]), TARGET, "gamma", progress=False).maps[0]
fig, axes = plt.subplots(1, 3, figsize=(6.0, 2.2), layout="constrained")
report.show_image(axes[0], sub_images[first_poison], "poisoned image")
report.show_heatmap(axes[1], lrp.maps[first_poison], colorbar=True)
axes[1].set_title(f"$\\epsilon$+flat for {data.class_name(TARGET)}", fontsize=8)
report.show_heatmap(axes[2], gamma_map, colorbar=True)
axes[2].set_title(f"LRP-$\\gamma$ for {data.class_name(TARGET)}", fontsize=8)
ch.save_figure(fig, "poisoned_heatmap")

# %% [markdown]
# The relevance for 80 km/h sits on the sticker: the model has learned the trigger. LRP-$\gamma$ keeps it to the
# sticker's pixels, $\epsilon$+flat spreads it over the first layer's kernel.
# The next grid compares the LRP variants with other attributions
# (Simonyan et al., 2014; Smilkov et al., 2017; Sundararajan et al., 2017; Zeiler and Fergus, 2014; Selvaraju et al., 2017)
# on two clean and two poisoned images. Each map has its own symmetric colour scale.

# %%
methods = ["lrp0", "epsilon", "gamma", "alpha1beta0", "alpha2beta1", "epsilon_plus_flat", "epsilon_gamma_box",
           "gradient", "gradient_x_input", "smoothgrad", "integrated_gradients", "occlusion", "gradcam"]
labels = {"lrp0": "LRP-0", "epsilon": "LRP-$\\epsilon$", "gamma": "LRP-$\\gamma$", "alpha1beta0": "$\\alpha_1\\beta_0$",
          "alpha2beta1": "$\\alpha_2\\beta_1$", "epsilon_plus_flat": "$\\epsilon$+flat", "epsilon_gamma_box": "$\\epsilon\\gamma$box",
          "gradient": "gradient", "gradient_x_input": "grad$\\times$input", "smoothgrad": "SmoothGrad",
          "integrated_gradients": "Int. Grad.", "occlusion": "occlusion", "gradcam": "Grad-CAM", "random": "random order"}
picked = np.concatenate([np.flatnonzero(~sub_poison)[:2], np.flatnonzero(sub_poison)[:2]])
x_picked = to_tensor(sub_images[picked])
grid = {m: cached_explain(model, x_picked, TARGET, m, progress=False, settings=grid_settings).maps for m in methods}
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
# ### 5.1 Which heatmaps are faithful? Region perturbation
#
# A heatmap is *faithful* when the pixels it calls relevant are the ones the model's output depends on.
# Region perturbation (Samek et al., 2017) tests this directly: cut the image into $p\times p$ patches, rank them
# by their summed relevance, replace the most relevant ones first (by the mean colour of the images, or by
# uniform noise between the smallest and largest pixel values) and track the explained logit
# $f_t(x^{(k)})$ after each step $k = 0, \dots, K$. The faster it falls, the better the ranking. The *area over the
# perturbation curve*
# $$ \mathrm{AOPC} = \frac{1}{K+1}\sum_{k=0}^{K} \bigl(f_t(x^{(0)}) - f_t(x^{(k)})\bigr) $$
# summarises a curve (larger is better); a random order of the patches is the baseline every method must beat.
# Here up to a quarter of the image is replaced, for pixels ($p = 1$, pixel-flipping), $2\times2$ and $4\times4$ patches,
# on clean and poisoned training images labelled 80 km/h, for all 13 methods of the grid.

# %%
faithful_ids = np.concatenate([np.flatnonzero(~sub_poison)[:n_faithful - n_faithful // 4], np.flatnonzero(sub_poison)[:n_faithful // 4]])
x_faithful = to_tensor(sub_images[faithful_ids])
faithful_maps = {m: cached_explain(model, x_faithful, TARGET, m, progress=False, settings=grid_settings).maps for m in methods}
faithful_maps["random"] = random_maps(faithful_maps["lrp0"].shape, seed)
settings_grid = [(patch, replace) for replace in ("mean", "noise") for patch in (1, 2, 4)]
aopc_table, shown_curves = {}, {}
for patch, replace in settings_grid:
    column = f"{patch}x{patch}, {replace}"
    for method, maps in faithful_maps.items():
        curves = perturbation_curves(model, x_faithful, TARGET, maps, patch=patch, steps=faithful_steps, replace=replace, seed=seed)
        aopc_table.setdefault(column, {})[method] = aopc(curves).mean()
        if (patch, replace) == (2, "mean"):
            shown_curves[method] = curves
aopc_table = pd.DataFrame(aopc_table)
removed = np.arange(faithful_steps + 1) * 0.25 / faithful_steps
fig = drawing.perturbation_figure(shown_curves, aopc_table, labels, removed, "2x2 patches replaced by the mean colour")
ch.save_figure(fig, "faithfulness")
ranks = aopc_table.rank(ascending=False).mean(axis=1).sort_values()
beats_random = (aopc_table.drop(index="random") > aopc_table.loc["random"]).all(axis=1)
print(f"{len(faithful_ids)} images ({sub_poison[faithful_ids].sum()} poisoned), {faithful_steps} steps")
display(aopc_table.round(3))
print("mean rank over the six settings (1 = largest AOPC):")
print(ranks.round(1).to_string())
print(f"best on average: {ranks.index[0]}; above the random order in every setting: {', '.join(beats_random.index[beats_random])}")

# %% [markdown]
# The printed ranking is the measured conclusion; the thesis quotes it from this run. In the quick profile
# (64 images) occlusion, which itself measures what removing a patch does, ranks best; LRP-0, LRP-$\epsilon$, gradient
# times input and Integrated Gradients follow closely (for ReLU networks they are nearly the same map, section 1);
# the rules that favour positive evidence ($\gamma$, $z^+$, the composites) come next, and the gradient, SmoothGrad
# and Grad-CAM stay near the random order: they measure sensitivity, or work on a coarse grid, rather than
# contribution. Faithfulness to the logit is not the detectors' criterion: LRP-$\gamma$ is chosen because it keeps a
# trigger's relevance on the trigger's pixels, so that heatmaps of poisoned images look alike. (The smoke run
# explains 8 images of a barely trained model; its ranking means nothing.)

# %% [markdown]
# ## 6. Conservation
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
# ### What the heatmaps of the target class look like on average
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
# ### Label-consistent attacks with weaker triggers
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
# ### The magnitude of relevance
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

# %% [markdown]
# ### Try it: LRP-$\gamma$ as $\gamma$ varies
#
# In JupyterLab the cell below shows a slider for $\gamma$ that redraws the LRP-$\gamma$ heatmap of the poisoned
# image of section 5, with the share of the logit that reaches the pixels. At $\gamma = 0$ it is LRP-0; as $\gamma$ grows
# the negative evidence fades, and for $\gamma \to \infty$ the rule becomes $z^+$ (exercise 4). It shows nothing in a
# headless run (papermill, `make figures`, the tests).

# %%
if lab.in_jupyter_frontend():
    display(teaching.gamma_explorer(model, to_tensor(sub_images[first_poison:first_poison + 1]), TARGET))

# %% [markdown]
# ## 7. The foundation figures, computed
#
# The background chapter of the thesis draws a small network (2.7), a convolution (2.8), the Inception
# module and network (2.9, 2.10), the forward and LRP backward pass (2.13, drawn in section 2.2), composite
# LRP (2.14) and the simplified Inception (3.1). Here the networks are drawn from the models' own module
# structure (`drawing.network_diagram` traces each model), and the convolution with its actual numbers.

# %%
from poisondetect.models import build_model
from poisondetect.models.inception import InceptionA

fig = plt.figure(figsize=(7.2, 5.2), layout="constrained")
left, right = fig.subfigures(1, 2, width_ratios=[1.0, 1.25])
ax_net, ax_block = left.subplots(2, 1, height_ratios=[1.5, 1.0])
drawing.network_diagram(ax_net, build_model("net"), "the small Net (Figure 2.7)")
drawing.network_diagram(ax_block, InceptionA(3), "Inception module (Figure 2.9)", spread=1.6)
ax_inception = right.subplots()
drawing.network_diagram(ax_inception, build_model("inception"), "simplified Inception (Figure 3.1)", spread=1.6)
ch.save_figure(fig, "network_diagrams")
fig, ax = plt.subplots(figsize=(7.2, 1.6), layout="constrained")
drawing.network_diagram(ax, build_model("vgg16"), "VGG16 with BatchNorm", horizontal=True)
ch.save_figure(fig, "vgg16_diagram")

# %% [markdown]
# **A convolution (Figure 2.8).** A $2\times2$ filter slides with stride 1 over a $4\times4$ input; each output is
# the sum of the element-wise products of the filter with the patch under it, plus the bias. The cell
# computes the $3\times3$ output with `torch.nn.functional.conv2d` and writes every number into the picture.

# %%
conv_input = torch.tensor([[1.0, 0, 2, 1], [0, 1, 3, 0], [2, 1, 0, 1], [1, 0, 1, 2]])
conv_filter, conv_bias = torch.tensor([[1.0, -1], [0, 2]]), 0.0
conv_out = torch.nn.functional.conv2d(conv_input[None, None], conv_filter[None, None]).squeeze() + conv_bias
assert conv_out[0, 0] == 1 * 1 + 0 * -1 + 0 * 0 + 1 * 2
fig, axes = plt.subplots(1, 3, figsize=(6.0, 2.2), width_ratios=[4, 2, 3], layout="constrained")
for ax, matrix, name in zip(axes, (conv_input, conv_filter, conv_out), ("input 4x4", "filter 2x2", "output 3x3")):
    ax.imshow(matrix, cmap="Greys", vmin=-4, vmax=16)  # light greys, so that the numbers stay readable
    for (r, c), value in np.ndenumerate(matrix.numpy()):
        ax.text(c, r, f"{value:g}", ha="center", va="center", fontsize=9)
    ax.set_title(name, fontsize=8), ax.set_xticks([]), ax.set_yticks([])
axes[0].add_patch(plt.Rectangle((-0.5, -0.5), 2, 2, fill=False, ec="#0072B2", lw=2))
axes[2].add_patch(plt.Rectangle((-0.5, -0.5), 1, 1, fill=False, ec="#0072B2", lw=2))
ch.save_figure(fig, "convolution")

# %% [markdown]
# **Composite LRP (Figure 2.14).** The same poisoned image explained with one rule everywhere and with the two
# composites, $\epsilon = 0.25$ std and $\gamma = 0.25$: the rule of the input layer decides how sharp the map is.

# %%
composites = ["lrp0", "epsilon", "gamma", "epsilon_plus_flat", "epsilon_gamma_box"]
fig, axes = plt.subplots(1, len(composites) + 1, figsize=(7.2, 1.6), layout="constrained")
report.show_image(axes[0], sub_images[picked[-1]], "poisoned image")
for ax, method in zip(axes[1:], composites):
    report.show_heatmap(ax, grid[method][-1])
    ax.set_title(labels[method], fontsize=7)
ch.save_figure(fig, "composite_lrp")

# %%
plain_labels = {"lrp0": "LRP-0", "epsilon": "LRP-epsilon", "gamma": "LRP-gamma", "alpha1beta0": "LRP-alpha1-beta0",
                "alpha2beta1": "LRP-alpha2-beta1", "epsilon_plus_flat": "epsilon+flat", "epsilon_gamma_box": "epsilon-gamma-box",
                "gradient": "gradient", "gradient_x_input": "gradient x input", "smoothgrad": "SmoothGrad",
                "integrated_gradients": "Integrated Gradients", "occlusion": "occlusion", "gradcam": "Grad-CAM", "random": "random order"}
ch.write_numbers({
    "LrpImagesExplained": len(subset),
    "LrpBiasShareMedian": f"{100 * np.median(bias_share):.0f}",
    "LrpCompositeAbsorbedMedian": f"{100 * np.median(composite_share):.0f}",
    "LrpPoisonMagnitudeRatio": f"{ratio:.2f}",
    "LrpPoisonPeakRatio": f"{peak_ratio:.1f}",
    "LrpFaithfulImages": len(faithful_ids),
    "LrpFaithfulBest": plain_labels[ranks.index[0]],
    "LrpFaithfulBestRank": f"{ranks.iloc[0]:.1f}",
    "LrpFaithfulGammaRank": f"{ranks['gamma']:.1f}",
    "LrpFaithfulFlatRank": f"{ranks['epsilon_plus_flat']:.1f}",
    "LrpFaithfulGradientRank": f"{ranks['gradient']:.1f}",
    "LrpFaithfulBeatRandom": int(beats_random.sum()),
})
ch.write_table(aopc_table.rename(index=plain_labels).reset_index(names="method"), "aopc", float_format="{:.2f}")

# %% [markdown]
# ## 8. Exercises
#
# Each exercise is followed by its solution in two collapsed cells, text and code: in
# JupyterLab click the three dots (or the bar left of the cell) to unfold them. The solution
# code runs with the rest of the notebook and checks its answer.
#
# ### Exercise 1: the root point of the $z^+$ rule
#
# For hidden unit $h_2$ of the toy network with its bias set to $b_2 = -1$ (so that $b_2 \le 0$): find the root point
# $\tilde a = a - t\, v$ with $v_i = a_i [w_{2i} > 0]$, check that it lies in the positive orthant and that $z_2(\tilde a) = 0$, and
# show that the first-order Taylor terms $(a_i - \tilde a_i) w_{2i}$, rescaled to sum to $R_{h_2}$, are the $z^+$ relevances of the package
# (method `alpha1beta0` on a one-unit network).

# %% [markdown] jupyter={"source_hidden": true}
# **Solution 1.** $a = x = (1, 2, 1)$, $w = (3, -1, 1)$, $b_2 = -1$: $z_2 = 3 - 2 + 1 - 1 = 1$. The direction is $v = (1, 0, 1)$
# (only the inputs with positive weights), $\sum_i v_i w_{2i} = 4$, so $t = z_2 / 4 = \tfrac14$ and $\tilde a = (\tfrac34, 2, \tfrac34) \ge 0$.
# The Taylor terms are $(a_i - \tilde a_i) w_{2i} = (\tfrac34, 0, \tfrac14)$, summing to $z_2 = 1$: relevance $R_{h_2}$ is split
# $\tfrac34 : 0 : \tfrac14$, exactly $a_i w_{2i}^+ / \sum_{i'} a_{i'} w_{2i'}^+ = (3, 0, 1)/4$. The negative bias costs nothing: it only moves the
# root point. (With $b_2 > 0$ the root would need $t > 1$, outside the orthant; the package's $z^+$ then also
# gives the bias its share $b^+$.)

# %% jupyter={"source_hidden": true}
w_unit, b_unit, a_unit = W_toy[1], -1.0, x_np
z_unit = w_unit @ a_unit + b_unit
v_dir = a_unit * (w_unit > 0)
t_root = z_unit / (v_dir @ w_unit)
root = a_unit - t_root * v_dir
taylor = (a_unit - root) * w_unit
print(f"z = {z_unit:g}, t = {t_root:g}, root point {root}, z(root) = {w_unit @ root + b_unit:g}, Taylor terms {taylor}")
assert np.all(root >= 0) and abs(w_unit @ root + b_unit) < 1e-12 and abs(taylor.sum() - z_unit) < 1e-12
unit, x_unit = teaching.toy_network(W=w_unit[None], b=[b_unit], v=[[1.0]], c=[0.0])
z_plus = explain(unit, x_unit, 0, "alpha1beta0", progress=False, settings=EXACT).relevance.ravel()
np.testing.assert_allclose(z_plus, taylor / taylor.sum() * z_unit, atol=1e-9)
print(f"z+ rule of the package: {z_plus}")

# %% [markdown]
# ### Exercise 2: when does $\alpha - \beta = 1$ conserve?
#
# Compute $\alpha_2\beta_1$ on the toy network by hand and with the package. Is the sum of the input relevances $8$?
# Which layers break conservation, and why?

# %% [markdown] jupyter={"source_hidden": true}
# **Solution 2.** At the output all contributions $(4, 4, 0)$ are positive, so the $\beta$ term has nothing to normalise
# (zennit's stabiliser turns $0/0$ into $0$) and the layer passes on $\alpha R_y = 16$, not $8$: $R_h = (8, 8, 0)$.
# $h_1$ has only positive contributions too: $\alpha\,(1,2,1)\cdot\tfrac84 = (4, 8, 4)$.
# $h_2$ has positive contributions $(3, 0, 1)$ with $b^+ = 2$ (sum 6) and the negative one $-2$ (sum $-2$):
# $R = 2\cdot(3, 0, 1)\cdot\tfrac86 - 1\cdot(0, -2, 0)\cdot\tfrac{8}{-2} = (8, -8, \tfrac83)$. In total $R_x = (12, 0, \tfrac{20}{3})$, summing to
# $\tfrac{56}{3} \approx 18.7$. Conservation needs both signs in every unit (and no bias): the identity
# $\alpha - \beta = 1$ only balances the two sums when both exist, and a positive bias $b^+$ takes its share of the $\alpha$ term.

# %% jupyter={"source_hidden": true}
ab = explain(toy, x_toy, 0, "alpha2beta1", progress=False, settings=EXACT).relevance.ravel()
print(f"alpha2beta1 on the toy: R = {np.round(ab, 4)}, sum {ab.sum():.4f} (logit 8)")
np.testing.assert_allclose(ab, [12, 0, 20 / 3], atol=1e-6)

# %% [markdown]
# ### Exercise 3: LRP-0 is gradient times input, and BatchNorm needs no canonizer for it
#
# (a) Prove by induction over the layers that in a network of linear layers and ReLUs, LRP-0 gives
# $R_i = a_i\, \partial f_t / \partial a_i$ in every layer, biases included. (b) Show that the affine rule $R_x = \frac{k x}{y} R_y$ of an unmerged
# BatchNorm ($y = k x + m$) followed by LRP-0 on the convolution before it gives the same input relevances as LRP-0 on the merged
# layer. (c) Check (a) on a random ReLU network with biases.

# %% [markdown] jupyter={"source_hidden": true}
# **Solution 3.** (a) At the output $R_t = f_t = z_t \cdot 1 = z_t\, \partial f_t/\partial z_t$. Suppose $R_j = z_j\, \partial f_t/\partial z_j$ for the units
# of a layer (for a ReLU unit that is on, $a_j = z_j$; a unit that is off has $\partial f_t / \partial z_j = 0$ and $R_j = 0$). LRP-0 gives
# $R_i = \sum_j \frac{a_i w_{ij}}{z_j} z_j \frac{\partial f_t}{\partial z_j} = a_i \sum_j w_{ij} \frac{\partial f_t}{\partial z_j} = a_i \frac{\partial f_t}{\partial a_i}$, the chain rule; and behind a ReLU that is on,
# $a_i\, \partial f_t/\partial a_i = z_i\, \partial f_t/\partial z_i$, so the induction continues. The bias never appears: it only lowers what reaches the
# inputs. (b) Merged: $R_i = \sum_j \frac{a_i k_j w_{ij}}{y_j} R_j$. Unmerged: $R_{x_j} = \frac{k_j x_j}{y_j} R_j$, then $R_i = \sum_j \frac{a_i w_{ij}}{x_j} R_{x_j} = \sum_j \frac{a_i k_j w_{ij}}{y_j} R_j$,
# the same; the conv bias sits in $x_j$ in both. LRP-$\gamma$ and $z^+$ do not commute with the factor $k_j$ this way (section 4.1).

# %% jupyter={"source_hidden": true}
rng_ex = np.random.default_rng(seed)
for trial in range(5):
    W_r, b_r, v_r, c_r = rng_ex.normal(size=(5, 3)), rng_ex.normal(size=5), rng_ex.normal(size=(3, 5)), rng_ex.normal(size=3)
    net_r, _ = teaching.toy_network(W_r, b_r, v_r, c_r)
    x_r = torch.from_numpy(rng_ex.normal(size=(1, 3, 1, 1)))
    lrp0_r = explain(net_r, x_r, 1, "lrp0", progress=False, settings=EXACT).relevance
    gxi_r = explain(net_r, x_r, 1, "gradient_x_input", progress=False).relevance
    np.testing.assert_allclose(lrp0_r, gxi_r, atol=1e-8)
print(f"{trial + 1} random ReLU networks with biases: LRP-0 = gradient x input, e.g. {np.round(lrp0_r.ravel(), 4)}")

# %% [markdown]
# ### Exercise 4: LRP-$\gamma$ for large $\gamma$ is $z^+$
#
# Show that as $\gamma \to \infty$ the LRP-$\gamma$ rule (for $a_i \ge 0$) tends to the $z^+$ rule with the bias term $b_j^+$, and check it on the
# toy network: LRP-$\gamma$ with $\gamma = 10^6$ against `alpha1beta0`. What does the slider of section 6 show between $\gamma = 0$ and large $\gamma$?

# %% [markdown] jupyter={"source_hidden": true}
# **Solution 4.** Divide numerator and denominator by $\gamma$: $\frac{a_i (w_{ij}/\gamma + w_{ij}^+)}{\sum_{i'} a_{i'} (w_{i'j}/\gamma + w_{i'j}^+) + b_j/\gamma + b_j^+} \to \frac{a_i w_{ij}^+}{\sum_{i'} a_{i'} w_{i'j}^+ + b_j^+}$,
# the $z^+$ rule ($\alpha_1\beta_0$) with the bias share $b_j^+$. On the toy network, $z^+$ gives $h_2$'s relevance $4$ as $(3, 0, 1)\cdot\tfrac46$ and $h_1$'s as
# $(1, 2, 1)$, so $R_x = (3, 2, \tfrac53)$. Between the two ends, $\gamma$ moves the map continuously from LRP-0 (gradient times input,
# noisy, with negative evidence) to $z^+$ (positive evidence only): the slider shows the negative relevance fading.

# %% jupyter={"source_hidden": true}
big_gamma = explain(toy, x_toy, 0, "gamma", progress=False, settings=ExplainSettings(gamma=1e6, stabilizer=1e-12)).relevance.ravel()
z_plus_toy = explain(toy, x_toy, 0, "alpha1beta0", progress=False, settings=EXACT).relevance.ravel()
print(f"gamma = 1e6: {np.round(big_gamma, 5)};  z+: {np.round(z_plus_toy, 5)}")
np.testing.assert_allclose(z_plus_toy, [3, 2, 5 / 3], atol=1e-6)
np.testing.assert_allclose(big_gamma, z_plus_toy, atol=1e-4)

# %% [markdown]
# ## Summary
#
# LRP redistributes the explained logit to the pixels layer by layer. The rules are one generic rule
# ($\rho$, incr) computed in four steps, and deep Taylor decomposition explains the choice of $z^+$ and
# $z^\mathcal{B}$ by where the root point may lie. The rules differ in how they split relevance and in how much of it
# the biases and the stabiliser absorb; LRP-0 is gradient times input for ReLU networks, and on the
# small network it differs from it exactly by the InstanceNorm's statistics. Merging BatchNorm into the preceding
# layers leaves the logits unchanged and matters for $\gamma$ and $z^+$, not for LRP-0. The heatmaps of the poisoned
# model point at the sticker for poisoned images and at the digits for clean ones; region perturbation measures
# which method ranks the pixels best (section 5.1). Chapter 5 uses LRP-$\gamma$ heatmaps for SpRAy and HC, and the
# raw $\epsilon$+flat magnitudes for the concentration measures, without min-max normalisation.

# %% [markdown]
# ## What to remember
#
# > - **Relevance is conserved up to biases and stabilisers**: $\sum_p R_p = f_t(x)$ minus what the biases ($b_j/z_j$), $\epsilon$
# >   and an unbalanced $\alpha\beta$ take or add.
# > - **One rule, two knobs, four steps**: $\rho(w)$ and $\mathrm{incr}(z)$; forward, divide, backward (a gradient), multiply.
# > - **LRP-0 is gradient times input** for ReLU networks; the other rules exist because that is noisy. LRP-$\gamma$ needs
# >   $a_i \ge 0$ in its textbook form, and $\gamma \to \infty$ gives $z^+$.
# > - **Rules come from root points**: $z^+$ for inputs in the positive orthant, $z^\mathcal{B}$ for pixels in a box.
# > - **Canonize first**: merge BatchNorm into the layer before it; the logits do not change, the $\gamma$ and $z^+$ maps do.
# > - **Measure faithfulness**: region perturbation against a random order, not the look of the map.

# %% [markdown]
# ## References

# %%
citations.references(
    "bach2015", "montavon2019layer", "montavon2017", "anders2021zennit", "kohlbrenner2020towards", "andeol2021learning",
    "samek2017evaluating", "simonyan2014deep", "smilkov2017smoothgrad", "sundararajan2017axiomatic",
    "zeiler2014visualizing", "selvaraju2017gradcam",
)
