"""SynthSigns: an embedded, deterministic generator of GTSRB-like 32x32 traffic signs.

Every chapter must run offline on a fresh machine, so the default data set is drawn
rather than downloaded. SynthSigns keeps the GTSRB class ids and the GTSRB array
format (:class:`~poisondetect.data.SignData`) for thirteen classes: the eight speed
limits (ids 0, 1, 2, 3, 4, 5, 7, 8), priority road (12), yield (13), stop (14), no
entry (17) and keep right (38). Like GTSRB :cite:`stallkamp2012` it is built
from *tracks*: a track is one physical sign with its own colours, wear, lettering,
pole, background and viewing angle, seen in ``frames_per_track`` frames as the
camera approaches, so that its native resolution grows from about 13 to 70 pixels
while the sign fills 50-85 % of the frame.

How one frame is made
---------------------
1. Per track, the sign is drawn at 128x160 pixels (PIL, text in DejaVu Sans Bold
   from matplotlib) as a premultiplied RGBA canvas, including its pole and,
   sometimes, a supplementary plate; dirt darkens it by a low-frequency field.
2. Per frame, the canvas is shrunk with antialiasing and projected into an
   :math:`r \\times r` frame (:math:`r` the native resolution) by the homography
   of a plane rotated by yaw, pitch and roll and seen by a pinhole camera at
   distance :math:`d` (sign radii):

   .. math:: (x, y) = c + \\rho \\, \\frac{d}{d + p_z} (p_x, p_y), \\qquad
             p = R_z(\\gamma) R_x(\\beta) R_y(\\alpha) (u, v, 0)^\\top,

   then composited over a crop of the track's background scene (sky, foliage,
   buildings, road, clutter).
3. Camera effects at native resolution: motion and focus blur, lighting
   :math:`I' = 255\\,(b\\,k_c\\,(I/255))^{\\gamma}` with brightness :math:`b`, colour
   cast :math:`k_c`, gamma :math:`\\gamma` and a brightness ramp, then sensor noise.
4. The frame is resized to 32x32 (bilinear up, antialiased down), as GTSRB's
   frames were.

Class sizes follow the GTSRB class frequencies (:data:`GTSRB_TRAIN_COUNTS`,
:data:`GTSRB_TEST_COUNTS`), in whole tracks. Each track has its own random stream
seeded by ``(seed, split, class, track)``, so a data set is reproducible bit for bit
and growing ``n_train`` keeps the existing tracks.
"""

from __future__ import annotations

import colorsys
import math
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import matplotlib
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from tqdm.auto import tqdm

from .. import artifacts
from ..config import by_profile
from .base import SignData
from .classes import N_CLASSES, class_name

#: GTSRB class ids that SynthSigns draws.
SYNTH_CLASSES: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 7, 8, 12, 13, 14, 17, 38)

#: Official GTSRB training images per class (ids 0..42): the class proportions.
GTSRB_TRAIN_COUNTS: tuple[int, ...] = (
    210, 2220, 2250, 1410, 1980, 1860, 420, 1440, 1410, 1470, 2010, 1320, 2100, 2160, 780,
    630, 420, 1110, 1200, 210, 360, 330, 390, 510, 270, 1500, 600, 240, 540, 270, 450, 780,
    240, 689, 420, 1200, 390, 210, 2070, 300, 360, 240, 240,
)
#: Official GTSRB test images per class (ids 0..42).
GTSRB_TEST_COUNTS: tuple[int, ...] = (
    60, 720, 750, 450, 660, 630, 150, 450, 450, 480, 660, 420, 690, 720, 270, 210, 150, 360,
    390, 60, 90, 90, 120, 150, 90, 480, 180, 60, 150, 90, 150, 270, 60, 210, 120, 390, 120,
    60, 690, 90, 90, 60, 90,
)

SPEED_LIMITS = {0: "20", 1: "30", 2: "50", 3: "60", 4: "70", 5: "80", 7: "100", 8: "120"}
SHAPES = {**{label: "speed" for label in SPEED_LIMITS}, 12: "priority", 13: "yield", 14: "stop", 17: "no_entry", 38: "keep_right"}

#: Training images and test images per profile.
PROFILE_SIZES = {"smoke": (400, 130), "quick": (20_000, 4_000), "full": (40_000, 8_000)}

_CANVAS = (128, 160)  # width, height of the drawn sign with its pole
_CENTRE = (64.0, 60.0)  # sign centre on the canvas
_RADIUS = 54.0  # sign radius on the canvas, pixels
_BACKGROUND = 96  # side of a track's background scene, pixels
_SPLIT_CODE = {"train": 0, "test": 1}


@dataclass(frozen=True)
class SynthConfig:
    """Everything that determines a SynthSigns data set (the cache key)."""

    n_train: int
    n_test: int
    seed: int = 0
    classes: tuple[int, ...] = SYNTH_CLASSES
    frames_per_track: int = 10


def load(profile: str) -> SignData:
    """SynthSigns at the size of ``profile`` (:data:`PROFILE_SIZES`), cached in
    ``artifacts/synthsigns`` so that it is generated once per code version."""
    n_train, n_test = by_profile(profile, **PROFILE_SIZES)
    return load_config(SynthConfig(n_train=n_train, n_test=n_test))


def load_config(config: SynthConfig) -> SignData:
    """SynthSigns of any :class:`SynthConfig`, cached in ``artifacts/synthsigns`` per config and code version."""
    arrays = artifacts.cached_arrays("synthsigns", config, lambda: _as_arrays(generate_config(config)), sys.modules[__name__])
    return SignData(name="synth", source=_describe(config), **arrays)


def generate(
    n_train: int,
    n_test: int,
    seed: int = 0,
    classes: tuple[int, ...] = SYNTH_CLASSES,
    frames_per_track: int = 10,
) -> SignData:
    """Draw a SynthSigns data set.

    Parameters
    ----------
    n_train, n_test : int
        Approximate numbers of training and test images. They are split over
        ``classes`` in proportion to the GTSRB training and test class counts, in
        whole tracks of ``frames_per_track`` frames, with at least one track per
        class, so the actual numbers differ by up to a few tracks.
    seed : int
        Same seed, same arrays; test tracks use streams separate from training tracks.
    classes : tuple of int
        GTSRB class ids, a subset of :data:`SYNTH_CLASSES`.
    frames_per_track : int
        Frames of one physical sign, of growing resolution.

    Returns
    -------
    SignData
        ``train_images`` (N, 32, 32, 3) uint8 ordered by class, track and frame;
        ``train_tracks`` numbers the tracks of each class from 0; test images are
        from other tracks, in shuffled order.
    """
    return generate_config(SynthConfig(n_train, n_test, seed, tuple(int(c) for c in classes), frames_per_track))


def generate_config(config: SynthConfig) -> SignData:
    """:func:`generate` for a :class:`SynthConfig`."""
    _check(config)
    classes = np.array(config.classes)
    train_tracks = allocate_tracks(config.n_train, np.array(GTSRB_TRAIN_COUNTS)[classes], config.frames_per_track)
    test_tracks = allocate_tracks(config.n_test, np.array(GTSRB_TEST_COUNTS)[classes], config.frames_per_track)
    jobs = [("train", label, t) for label, n in zip(classes, train_tracks) for t in range(n)]
    jobs += [("test", label, t) for label, n in zip(classes, test_tracks) for t in range(n)]
    frames = {
        job: render_track(int(job[1]), track_rng(config.seed, *job), config.frames_per_track)
        for job in tqdm(jobs, desc="SynthSigns", unit="track")
    }
    train = [job for job in jobs if job[0] == "train"]
    test = [job for job in jobs if job[0] == "test"]
    f = config.frames_per_track
    test_images = np.concatenate([frames[job] for job in test])
    test_labels = np.repeat([job[1] for job in test], f).astype(np.int64)
    order = np.random.default_rng([config.seed, 2]).permutation(len(test_labels))
    return SignData(
        name="synth",
        train_images=np.concatenate([frames[job] for job in train]),
        train_labels=np.repeat([job[1] for job in train], f).astype(np.int64),
        train_tracks=np.repeat([job[2] for job in train], f).astype(np.int64),
        test_images=test_images[order],
        test_labels=test_labels[order],
        source=_describe(config),
    )


def _check(config: SynthConfig) -> None:
    unknown = sorted(set(config.classes) - set(SYNTH_CLASSES))
    if unknown or not config.classes or len(set(config.classes)) != len(config.classes):
        raise ValueError(
            f"classes must be distinct GTSRB ids among SYNTH_CLASSES {SYNTH_CLASSES}, got {config.classes}"
            + (f" ({', '.join(class_name(c) if 0 <= c < N_CLASSES else str(c) for c in unknown)} cannot be drawn)" if unknown else "")
        )
    if config.frames_per_track < 1:
        raise ValueError(f"frames_per_track must be at least 1, got {config.frames_per_track}")
    if config.n_train < 1 or config.n_test < 1:
        raise ValueError(f"n_train and n_test must be positive, got {config.n_train} and {config.n_test}")


def _describe(config: SynthConfig) -> str:
    return (
        f"SynthSigns(n_train={config.n_train}, n_test={config.n_test}, seed={config.seed}, "
        f"{len(config.classes)} classes, {config.frames_per_track} frames per track)"
    )


def _as_arrays(signs: SignData) -> dict[str, np.ndarray]:
    names = ("train_images", "train_labels", "train_tracks", "test_images", "test_labels")
    return {name: getattr(signs, name) for name in names}


def allocate_tracks(n_images: int, weights: np.ndarray, frames_per_track: int) -> np.ndarray:
    """Tracks per class: ``n_images / frames_per_track`` tracks split in proportion
    to ``weights`` by largest remainders, at least one per class.

    .. math:: n_c \\approx \\max\\Big(1, \\frac{n}{f} \\frac{w_c}{\\sum_k w_k}\\Big)
    """
    weights = np.asarray(weights, dtype=float)
    total = max(round(n_images / frames_per_track), len(weights))
    share = total * weights / weights.sum()
    tracks = np.maximum(np.floor(share).astype(np.int64), 1)
    remainder = share - np.floor(share)
    for c in np.argsort(-remainder, kind="stable")[: max(total - tracks.sum(), 0)]:
        tracks[c] += 1
    return tracks


def track_rng(seed: int, split: str, label: int, track: int) -> np.random.Generator:
    """The random stream of one track, independent of all other tracks."""
    return np.random.default_rng([seed, _SPLIT_CODE[split], int(label), int(track)])


# --------------------------------------------------------------------------- drawing the sign


@lru_cache(maxsize=1)
def _font_path() -> str:
    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans-Bold.ttf"
    if not path.is_file():
        raise FileNotFoundError(f"SynthSigns needs the font {path}, shipped with matplotlib; reinstall matplotlib")
    return str(path)


@lru_cache(maxsize=64)
def _text_mask(text: str, stroke: int) -> Image.Image:
    """``text`` in bold type as an 8-bit mask. The box is the typographic one (advance
    width, digit height), not the ink, so that "30" and "80" put their "0" at the
    same place, as the stencils of real signs do."""
    font = ImageFont.truetype(_font_path(), 120)
    _, top, _, bottom = font.getbbox("0123456789STOP", stroke_width=stroke)
    width = math.ceil(font.getlength(text)) + 2 * stroke
    mask = Image.new("L", (width, bottom - top), 0)
    ImageDraw.Draw(mask).text((stroke, -top), text, fill=255, font=font, stroke_width=stroke, stroke_fill=255)
    return mask


def _jitter(rng: np.random.Generator, colour: tuple[int, int, int], spread: float) -> tuple[int, ...]:
    return tuple(int(v) for v in np.clip(np.asarray(colour) * rng.normal(1.0, spread, 3) + rng.normal(0, 6, 3), 0, 255))


def _px(points: np.ndarray) -> list[tuple[float, float]]:
    """Sign units (radius 1, y down) -> canvas pixels."""
    return [(_CENTRE[0] + _RADIUS * x, _CENTRE[1] + _RADIUS * y) for x, y in points]


def _regular(n: int, radius: float, phase: float) -> np.ndarray:
    angles = phase + 2 * np.pi * np.arange(n) / n
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def _disc(draw: ImageDraw.ImageDraw, radius: float, fill) -> None:
    cx, cy, r = _CENTRE[0], _CENTRE[1], _RADIUS * radius
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)


def _paste_text(canvas: Image.Image, text: str, colour, stroke: int, width: float, height: float, dx: float, dy: float) -> None:
    """Put ``text`` squeezed into ``width`` x ``height`` sign units, centred at (dx, dy)."""
    size = (max(1, round(width * _RADIUS)), max(1, round(height * _RADIUS)))
    mask = _text_mask(text, stroke).resize(size, Image.Resampling.LANCZOS)
    x = round(_CENTRE[0] + _RADIUS * dx - size[0] / 2)
    y = round(_CENTRE[1] + _RADIUS * dy - size[1] / 2)
    canvas.paste(colour, (x, y, x + size[0], y + size[1]), mask)


def draw_sign(label: int, rng: np.random.Generator) -> np.ndarray:
    """One physical sign of class ``label`` with its pole, as float RGBA.

    Returns
    -------
    ndarray, uint8, (160, 128, 4)
        RGBA (alpha not premultiplied); the sign has radius 54 pixels around (64, 60).
    """
    shape = SHAPES[label]
    white = _jitter(rng, (236, 236, 230), 0.04)
    red = _jitter(rng, (196, 28, 36), 0.10)
    blue = _jitter(rng, (24, 74, 160), 0.12)
    yellow = _jitter(rng, (238, 184, 24), 0.07)
    black = _jitter(rng, (24, 24, 28), 0.2)
    grey = _jitter(rng, (140, 140, 136), 0.15)
    canvas = Image.new("RGB", _CANVAS, (0, 0, 0))
    alpha = Image.new("L", _CANVAS, 0)
    draw, mask = ImageDraw.Draw(canvas), ImageDraw.Draw(alpha)

    if rng.random() < 0.8:  # pole below the sign
        half = rng.uniform(0.05, 0.09) * _RADIUS
        box = (_CENTRE[0] - half, _CENTRE[1], _CENTRE[0] + half, _CANVAS[1])
        draw.rectangle(box, fill=grey)
        mask.rectangle(box, fill=255)
    if rng.random() < 0.15:  # supplementary plate below
        top, bottom, half = rng.uniform(1.05, 1.15), rng.uniform(1.5, 1.8), rng.uniform(0.6, 0.9)
        box = _px(np.array([[-half, top], [half, bottom]]))
        draw.rectangle(box, fill=white, outline=black, width=2)
        mask.rectangle(box, fill=255)

    stroke = int(rng.integers(0, 4))
    dx, dy = rng.normal(0, 0.03, 2)
    if shape in ("speed", "no_entry", "keep_right"):
        _disc(mask, 1.0, 255)
        _disc(draw, 1.0, white)
    if shape == "speed":
        inner = rng.uniform(0.72, 0.80)
        _disc(draw, 0.95, red)
        _disc(draw, inner, white)
        text = SPEED_LIMITS[label]
        width = rng.uniform(0.95, 1.15) if len(text) == 2 else rng.uniform(1.15, 1.32)
        _paste_text(canvas, text, black, stroke, width, rng.uniform(0.72, 0.82), dx, dy)
    elif shape == "no_entry":
        _disc(draw, 0.95, red)
        bar = np.array([[-1, -1], [1, 1]]) * [rng.uniform(0.62, 0.72), rng.uniform(0.14, 0.19)] + [dx, dy]
        draw.rectangle(_px(bar), fill=white)
    elif shape == "keep_right":
        _disc(draw, 0.95, blue)
        shaft, head = rng.uniform(0.11, 0.15), rng.uniform(0.30, 0.38)
        arrow = np.array([[-shaft, -0.62], [shaft, -0.62], [shaft, 0.12], [head, 0.12], [0, 0.62], [-head, 0.12], [-shaft, 0.12]])
        turn = np.deg2rad(-45 + rng.normal(0, 3))  # pointing down to the right
        rotation = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
        draw.polygon(_px(arrow @ rotation.T + [dx, dy]), fill=white)
    elif shape == "stop":
        outline = _regular(8, 1.0, np.pi / 8)
        mask.polygon(_px(outline), fill=255)
        draw.polygon(_px(outline), fill=white)
        draw.polygon(_px(_regular(8, 0.93, np.pi / 8)), fill=red)
        _paste_text(canvas, "STOP", white, min(stroke, 2), rng.uniform(1.3, 1.45), rng.uniform(0.42, 0.5), dx, dy)
    elif shape == "yield":
        outline = _regular(3, 1.0, np.pi / 2)  # apex at the bottom
        mask.polygon(_px(outline), fill=255)
        draw.polygon(_px(outline), fill=white)
        draw.polygon(_px(_regular(3, 0.94, np.pi / 2)), fill=red)
        draw.polygon(_px(_regular(3, rng.uniform(0.52, 0.6), np.pi / 2)), fill=white)
    elif shape == "priority":
        outline = _regular(4, 1.0, 0.0)
        mask.polygon(_px(outline), fill=255)
        draw.polygon(_px(outline), fill=white)
        draw.polygon(_px(_regular(4, 0.97, 0.0)), outline=black, width=2)
        draw.polygon(_px(_regular(4, rng.uniform(0.62, 0.7), 0.0)), fill=yellow)

    rgb = np.asarray(canvas, dtype=np.float32)
    dirt = _smooth_noise(rng, 5, _CANVAS[::-1])[..., :1]
    rgb *= 1.0 - rng.uniform(0.0, 0.35) * dirt  # uneven wear and grime
    return np.concatenate([rgb.astype(np.uint8), np.asarray(alpha)[..., None]], axis=2)


# --------------------------------------------------------------------------- background scenes


def _smooth_noise(rng: np.random.Generator, cells: int, shape: tuple[int, int]) -> np.ndarray:
    """Low-frequency noise in [0, 1], shape (H, W, 3): a ``cells`` x ``cells``
    random grid upsampled bicubically."""
    grid = (rng.random((cells, cells, 3)) * 255).astype(np.uint8)
    image = Image.fromarray(grid).resize(shape[::-1], Image.Resampling.BICUBIC)
    return np.asarray(image, dtype=np.float32) / 255.0


def _natural_colour(rng: np.random.Generator) -> tuple[int, ...]:
    """A random RGB colour, mostly muted like walls, trees and tarmac, sometimes vivid like a car."""
    hue = rng.random()
    saturation = rng.uniform(0.4, 0.8) if rng.random() < 0.15 else rng.uniform(0.0, 0.35)
    value = rng.uniform(0.15, 0.85)
    return tuple(int(255 * c) for c in colorsys.hsv_to_rgb(hue, saturation, value))


def draw_background(rng: np.random.Generator) -> Image.Image:
    """A cluttered outdoor scene for one track, RGB (96, 96)."""
    n = _BACKGROUND
    kind = rng.choice(["sky", "foliage", "building", "road", "dark"], p=[0.25, 0.25, 0.2, 0.2, 0.1])
    rows = np.linspace(0, 1, n, dtype=np.float32)[:, None, None]
    texture = _smooth_noise(rng, int(rng.integers(3, 9)), (n, n))
    fine = _smooth_noise(rng, int(rng.integers(12, 30)), (n, n))
    if kind == "sky":
        top, bottom = np.array(_jitter(rng, (110, 150, 205), 0.15)), np.array(_jitter(rng, (200, 210, 220), 0.08))
        scene = top + (bottom - top) * rows + 60 * (texture - 0.5)
    elif kind == "foliage":
        base = np.array(_jitter(rng, (60, 95, 45), 0.25))
        scene = base * (0.5 + texture) + 50 * (fine - 0.5)
    elif kind == "building":
        base = np.array(_jitter(rng, rng.choice([(150, 140, 130), (170, 110, 90), (120, 120, 125)]), 0.15))
        scene = np.broadcast_to(base, (n, n, 3)) * (0.8 + 0.4 * texture)
    elif kind == "road":
        horizon = rng.uniform(0.3, 0.7)
        sky, ground = np.array(_jitter(rng, (170, 185, 200), 0.15)), np.array(_jitter(rng, (90, 90, 88), 0.2))
        scene = np.where(rows < horizon, sky, ground) + 40 * (texture - 0.5)
    else:
        scene = np.array(_jitter(rng, (40, 40, 45), 0.3)) * (0.5 + texture)
    scene = np.ascontiguousarray(np.clip(scene, 0, 255).astype(np.uint8))
    image = Image.fromarray(scene)
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(1, 7))):  # clutter: windows, cars, posts, other signs
        colour = _natural_colour(rng)
        x0, y0 = rng.integers(-20, n, 2)
        w, h = rng.integers(4, 40, 2)
        if rng.random() < 0.5:
            draw.rectangle((x0, y0, x0 + w, y0 + h), fill=colour)
        else:
            draw.ellipse((x0, y0, x0 + w, y0 + h), fill=colour)
    if kind == "building":  # window grid
        step, size = int(rng.integers(12, 24)), int(rng.integers(4, 9))
        shade = _jitter(rng, (60, 70, 80), 0.2)
        for x in range(int(rng.integers(0, step)), n, step):
            for y in range(int(rng.integers(0, step)), n, step):
                draw.rectangle((x, y, x + size, y + size), fill=shade)
    return image


# --------------------------------------------------------------------------- the camera


def perspective_coefficients(source: np.ndarray, target: np.ndarray) -> tuple[float, ...]:
    """PIL ``PERSPECTIVE`` coefficients mapping output points ``target`` (4, 2)
    back onto input points ``source`` (4, 2):

    .. math:: x = \\frac{a X + b Y + c}{g X + h Y + 1}, \\quad y = \\frac{d X + e Y + f}{g X + h Y + 1}
    """
    rows, rhs = [], []
    for (x, y), (X, Y) in zip(source, target):
        rows.append([X, Y, 1, 0, 0, 0, -X * x, -Y * x])
        rows.append([0, 0, 0, X, Y, 1, -X * y, -Y * y])
        rhs.extend([x, y])
    return tuple(np.linalg.solve(np.array(rows, dtype=float), np.array(rhs, dtype=float)))


def project(points: np.ndarray, yaw: float, pitch: float, roll: float, distance: float) -> np.ndarray:
    """Pinhole projection of points ``(K, 2)`` on the sign plane (sign units) after
    rotating the plane by ``yaw``, ``pitch`` and ``roll`` (radians); shape (K, 2)."""
    cy, sy, cp, sp, cr, sr = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch), np.cos(roll), np.sin(roll)
    r_yaw = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    r_pitch = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    r_roll = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    p = np.c_[points, np.zeros(len(points))] @ (r_roll @ r_pitch @ r_yaw).T
    return p[:, :2] * (distance / (distance + p[:, 2:3]))


def render_track(label: int, rng: np.random.Generator, n_frames: int) -> np.ndarray:
    """The frames of one physical sign of class ``label`` as the camera approaches.

    Returns
    -------
    ndarray, uint8, (n_frames, 32, 32, 3)
    """
    sign = draw_sign(label, rng)
    background = draw_background(rng)
    # premultiplied alpha, so interpolation weighs colours by coverage; a pyramid of
    # box-filtered halvings lets every projection shrink by at most a factor of two
    pyramid = [Image.fromarray(sign).convert("RGBa")]
    while pyramid[-1].height > 20:
        pyramid.append(pyramid[-1].reduce(2))
    h, w = sign.shape[:2]
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=float)
    corners_units = (corners - _CENTRE) / _RADIUS

    # fixed per track: how the sign stands and how the camera sees it
    yaw0, pitch0, roll0 = np.deg2rad([rng.uniform(-40, 40), rng.uniform(-12, 12), rng.normal(0, 4)])
    yaw_drift = np.deg2rad(rng.normal(0, 8))
    distance = rng.uniform(4, 12)
    res0 = rng.uniform(13, 30)
    res1 = rng.uniform(max(res0 + 6, 28), 72)
    fill0, fill1 = rng.uniform(0.5, 0.68), rng.uniform(0.68, 0.86)
    brightness = math.exp(rng.normal(-0.25, 0.45))
    cast = rng.normal(1.0, 0.06, 3)
    gamma = math.exp(rng.normal(0, 0.25))
    noise = rng.uniform(1.0, 7.0)
    focus = rng.uniform(0.0, 0.9)
    bg_centre0 = rng.uniform(0.35, 0.65, 2) * _BACKGROUND

    frames = np.empty((n_frames, 32, 32, 3), dtype=np.uint8)
    for i in range(n_frames):
        t = i / max(n_frames - 1, 1)
        res = int(round(res0 * (res1 / res0) ** t * rng.uniform(0.95, 1.05)))
        fill = fill0 + (fill1 - fill0) * t + rng.normal(0, 0.02)
        radius = fill * res / 2  # sign radius in frame pixels
        centre = res / 2 + rng.normal(0, 0.04, 2) * res

        # background: a window that narrows as the camera approaches
        window = _BACKGROUND * (0.95 - 0.35 * t)
        bc = np.clip(bg_centre0 + rng.normal(0, 2, 2), window / 2, _BACKGROUND - window / 2)
        box = (bc[0] - window / 2, bc[1] - window / 2, bc[0] + window / 2, bc[1] + window / 2)
        frame = np.asarray(background.resize((res, res), Image.Resampling.BILINEAR, box=box), dtype=np.float32)

        # sign: the pyramid level just larger than the frame scale, then project
        level = min(max(int(math.log2(_RADIUS / radius)), 0), len(pyramid) - 1)
        small = pyramid[level]
        angles = (yaw0 + yaw_drift * t, pitch0, roll0 + rng.normal(0, 0.02))
        target = centre + radius * project(corners_units, *angles, distance)
        source = corners * [small.width / w, small.height / h]
        warped = small.transform((res, res), Image.Transform.PERSPECTIVE, perspective_coefficients(source, target), Image.Resampling.BILINEAR)
        rgba = np.asarray(warped, dtype=np.float32)  # RGBa: colours already multiplied by alpha
        frame = rgba[..., :3] + frame * (1.0 - rgba[..., 3:] / 255.0)

        # camera: motion blur, focus blur, lighting, sensor noise
        if rng.random() < 0.35:
            frame = _motion_blur(frame, rng.uniform(0.5, 2.5) * res / 32, rng.uniform(0, np.pi))
        image = Image.fromarray(np.clip(frame, 0, 255).astype(np.uint8))
        if focus > 0.15:
            image = image.filter(ImageFilter.GaussianBlur(focus * res / 48))
        frame = np.asarray(image, dtype=np.float32) / 255.0
        ramp = _ramp(res, rng.uniform(0, 2 * np.pi), rng.uniform(0, 0.35))
        gain = (brightness * math.exp(rng.normal(0, 0.08)) * cast).astype(np.float32) * ramp
        frame = np.clip(frame * gain, 0, 1) ** np.float32(gamma) * 255 + noise * rng.standard_normal(frame.shape, np.float32)
        image = Image.fromarray(np.clip(frame, 0, 255).round().astype(np.uint8))
        frames[i] = np.asarray(image.resize((32, 32), Image.Resampling.BILINEAR if res < 32 else Image.Resampling.LANCZOS))
    return frames


def _motion_blur(frame: np.ndarray, length: float, angle: float) -> np.ndarray:
    """Average of shifted copies along a line of ``length`` pixels at ``angle``."""
    steps = max(2, int(math.ceil(length)) + 1)
    out = np.zeros_like(frame)
    for s in np.linspace(-length / 2, length / 2, steps):
        out += np.roll(frame, (int(round(s * math.sin(angle))), int(round(s * math.cos(angle)))), axis=(0, 1))
    return out / steps


def _ramp(res: int, direction: float, strength: float) -> np.ndarray:
    """Brightness varying linearly across the frame by +-``strength``, (res, res, 1)."""
    coords = _coords(res)
    ramp = np.float32(strength * math.cos(direction)) * coords[None, :] + np.float32(strength * math.sin(direction)) * coords[:, None]
    return (1.0 + ramp)[..., None]


@lru_cache(maxsize=128)
def _coords(res: int) -> np.ndarray:
    return np.linspace(-1, 1, res, dtype=np.float32)
