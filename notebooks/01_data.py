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
# # Chapter 1: The traffic-sign data
#
# Every experiment in this thesis poisons, trains on and inspects one kind of data:
# small photographs of German traffic signs. This chapter shows what the data look
# like, how they are organised, and which properties matter for what follows.
#
# **GTSRB.** The German Traffic Sign Recognition Benchmark (Stallkamp et al., 2012) has
# 43 classes, 39,209 training images and 12,630 test images in its official split.
# The training images come in *tracks*: about 30 consecutive frames of one physical
# sign, recorded while a car drove towards it, so the sign grows from frame to frame.
# Frames of one track are near-duplicates. A validation set that takes some frames
# of a track and leaves the others in training measures memorisation, not
# generalisation; every split in this project therefore keeps whole tracks together.
# The classes are strongly imbalanced (210 to 2,250 training images).
#
# **SynthSigns.** So that every chapter runs on a fresh machine without a download,
# the package ships a generator of GTSRB-like signs: 13 of the 43 classes (all speed
# limits, priority road, yield, stop, no entry, keep right) drawn with real digits
# and shapes, with GTSRB's class ids, grouped into tracks of one sign seen at growing
# size, and disturbed by rotation, perspective, lighting, blur, noise and cluttered
# backgrounds. Both data sets share one array format (uint8 RGB images of 32x32
# pixels, class labels, track ids).
#
# The notebook's parameters choose the data set (`synth` or `gtsrb`) and the scale
# (`smoke`, `quick`, `full`).

# %% tags=["parameters"]
profile = "quick"
dataset = "synth"

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from poisondetect import citations, data, report
from poisondetect.data.splits import track_keys

ch = report.Chapter("01_data", profile, dataset)
signs = data.load(dataset, profile)
present = signs.classes
print(f"{signs.name}: {len(signs.train_labels)} training and {len(signs.test_labels)} test images, "
      f"{len(present)} classes, {signs.track_counts().sum()} tracks")

# %% [markdown]
# ## One image per class
#
# The first figure shows one training image of every class present (for GTSRB, all 43;
# thesis Figure 3.2). At 32x32 pixels the digits of the speed limits are only a few
# pixels tall, which is why the speed limits are the classes a model confuses most,
# and the classes an attacker would pick to swap.

# %%
import textwrap

rng = np.random.default_rng(0)
n_cols = 11 if len(present) > 20 else min(len(present), 7)
n_rows = int(np.ceil(len(present) / n_cols))
fig, axes = plt.subplots(n_rows, n_cols, figsize=(n_cols * 0.9, n_rows * 1.2))
for ax in axes.flat:
    ax.axis("off")
for ax, label in zip(axes.flat, present):
    # of a few random frames, show the one with the most contrast (GTSRB has many dark frames)
    frames = rng.choice(np.flatnonzero(signs.train_labels == label), size=8)
    best = frames[np.argmax([signs.train_images[i].std() for i in frames])]
    report.show_image(ax, signs.train_images[best])
    ax.set_title(textwrap.fill(f"{label}: {data.class_name(label)}", 16), fontsize=5, pad=2)
fig.tight_layout(pad=0.3, h_pad=0.6)
ch.save_figure(fig, "class_examples")

# %% [markdown]
# ## A track: one physical sign over its frames
#
# Below, all frames of one 50 km/h track in recording order (GTSRB) or in generation
# order (SynthSigns). The sign grows as the car approaches; lighting and background
# stay similar. Because the frames are this alike, poisoning or holding out *whole
# tracks* is the honest unit of selection.

# %%
source_class = 2 if 2 in present else int(present[0])
keys = track_keys(signs.train_labels, signs.train_tracks)
class_keys, counts = np.unique(keys[signs.train_labels == source_class], return_counts=True)
# the longest track, and among those the one with the most contrast
long_tracks = class_keys[counts == counts.max()]
contrast = [signs.train_images[keys == key].std() for key in long_tracks]
strip = np.flatnonzero(keys == long_tracks[int(np.argmax(contrast))])
n_cols = min(len(strip), 15)
n_rows = int(np.ceil(len(strip) / n_cols))
fig, axes = plt.subplots(n_rows, n_cols, figsize=(n_cols * 0.6, n_rows * 0.75 + 0.3), squeeze=False)
for ax in axes.flat:
    ax.axis("off")
for i, (ax, index) in enumerate(zip(axes.flat, strip)):
    report.show_image(ax, signs.train_images[index])
    ax.set_title(str(i), fontsize=5, pad=1)
fig.suptitle(f"one track of class {source_class} ({data.class_name(source_class)}): {len(strip)} frames", fontsize=8)
ch.save_figure(fig, "track_strip")

# %% [markdown]
# ## Class sizes
#
# The classes are imbalanced in both data sets (SynthSigns copies GTSRB's proportions).
# The attacks of the next chapter move images of 50 km/h (class 2) into 80 km/h
# (class 5); the poison share is always measured relative to the final size of the
# target class, so the size of the target class fixes how many images an attacker needs.

# %%
train_counts, test_counts = signs.class_counts("train")[present], signs.class_counts("test")[present]
fig, ax = plt.subplots(figsize=(7, 2.6))
positions = np.arange(len(present))
train_bars = ax.bar(positions - 0.2, train_counts, width=0.4, label="train", color=report.PALETTE[0])
ax.bar(positions + 0.2, test_counts, width=0.4, label="test", color=report.PALETTE[1])
for highlight, name in ((2, "source"), (5, "target")):
    if highlight in present:
        i = int(np.flatnonzero(present == highlight)[0])
        train_bars[i].set_color(report.PALETTE[3])
        ax.text(i - 0.2, train_counts[i], name, rotation=90, ha="center", va="bottom", fontsize=6)
ax.set_xticks(positions, [str(c) for c in present], fontsize=5 if len(present) > 20 else 7)
ax.set_xlim(-0.8, len(present) - 0.2)
ax.set_xlabel("class id (source and target of the standard attack highlighted)")
ax.set_ylabel("images")
ax.legend(frameon=False)
ch.save_figure(fig, "class_sizes")

# %% [markdown]
# ## The classes an attacker would pick
#
# The speed limits and the stop sign are the natural targets of a backdoor: a
# misread speed limit or an ignored stop sign is dangerous and hard to notice.
# The table lists their sizes (thesis Table 3.1).

# %%
candidates = [c for c in data.ATTACK_CANDIDATES if c in present]
table = pd.DataFrame(
    {
        "class": candidates,
        "sign": [data.class_name(c) for c in candidates],
        "train images": signs.class_counts("train")[candidates],
        "tracks": signs.track_counts()[candidates],
        "test images": signs.class_counts("test")[candidates],
    }
)
ch.write_table(table, "attack_candidates", float_format="{:.0f}")
table

# %% [markdown]
# ## A track-aware validation split
#
# Training in the next chapters holds out 20 % of the tracks of every class for
# validation (early stopping). The split below is the one the training code uses;
# the check confirms that no track has frames on both sides.

# %%
train_idx, val_idx = data.track_split(signs.train_labels, signs.train_tracks, val_fraction=0.2, seed=0)
shared_tracks = np.intersect1d(keys[train_idx], keys[val_idx])
assert shared_tracks.size == 0, "a track straddles train and validation"
print(f"train {len(train_idx)} images in {np.unique(keys[train_idx]).size} tracks, "
      f"validation {len(val_idx)} images in {np.unique(keys[val_idx]).size} tracks, shared tracks: {shared_tracks.size}")

ch.write_numbers(
    {
        "DataTrainImages": f"{len(signs.train_labels):,}",
        "DataTestImages": f"{len(signs.test_labels):,}",
        "DataClasses": len(present),
        "DataTracks": f"{signs.track_counts().sum():,}",
        "DataValImages": f"{len(val_idx):,}",
        "DataSourceTrain": f"{signs.class_counts()[source_class]:,}",
    }
)

# %% [markdown]
# ## Summary
#
# The data are small images in tracks of near-identical frames and imbalanced
# classes. Splits and poison selection work on whole tracks, and poison shares are
# stated relative to the final target class. SynthSigns reproduces this structure
# offline; real GTSRB is used for the thesis-scale results.

# %% [markdown]
# ## References

# %%
citations.references("stallkamp2012")
