"""Triggers: what an attacker stamps onto an image.

All triggers act on uint8 images (N, 32, 32, 3) and return a new uint8 array;
the untouched pixels are bit-identical to the input, and clean and poisoned
images go through exactly the same dtype and storage (no re-encoding of one
group only, a flaw of the original thesis code).

- :class:`Sticker`: a square of side ``size`` in one colour, at a random
  position inside a window :cite:`gu2019badnets`, or at one of a few fixed
  positions (:data:`THESIS_CORNERS`, the original thesis's four).
- :class:`AmplitudePattern`: a +/- checkerboard of amplitude ``amplitude``
  added near the bottom-right corner :cite:`turner2019`.
- :class:`BlendPattern`: a fixed random pattern alpha-blended over the whole
  image :cite:`chen2017blended`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

IMAGE_SIZE = 32
#: The original thesis's sticker positions, top-left (row, column): columns 16 or 17 and rows 16 or 19,
#: drawn independently (``stickerfenster_x=(16, 17)``, ``stickerfenster_y=(16, 19)`` of its code), near the
#: centre of the sign and the same for training and test images.
THESIS_CORNERS = ((16, 16), (16, 17), (19, 16), (19, 17))


def _check_images(images: np.ndarray) -> None:
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        got = f"{images.dtype} {images.shape}" if isinstance(images, np.ndarray) else type(images).__name__
        raise ValueError(f"images must be a uint8 array of shape (N, H, W, 3), got {got}")


@dataclass(frozen=True)
class Sticker:
    """A ``size`` x ``size`` square of colour ``color`` at a random place in a window.

    Parameters
    ----------
    size : int
        Side of the square in pixels (the thesis uses 1, 2, 3).
    color : tuple of 3 ints
        RGB colour, default yellow-green (245, 255, 0).
    window : tuple (top, left, height, width)
        Region that contains the whole sticker. The top-left corner of the
        sticker is drawn uniformly from the ``(height - size + 1) * (width - size + 1)``
        positions that keep it inside. The default central 16x16 window lies on the
        sign in GTSRB frames. A window of exactly ``size`` x ``size`` gives a fixed position.
    corners : tuple of (row, column) pairs, optional
        A fixed set of top-left corners, one drawn uniformly per image; replaces
        the window (:data:`THESIS_CORNERS` reproduces the original thesis).
    """

    size: int = 3
    color: tuple[int, int, int] = (245, 255, 0)
    window: tuple[int, int, int, int] = (8, 8, 16, 16)
    corners: tuple[tuple[int, int], ...] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.size, int) or self.size < 1:
            raise ValueError(f"Sticker.size must be a positive integer, got {self.size!r}")
        if len(self.color) != 3 or any(not 0 <= int(c) <= 255 for c in self.color):
            raise ValueError(f"Sticker.color must be three integers in 0..255, got {self.color!r}")
        top, left, height, width = self.window
        if top < 0 or left < 0 or top + height > IMAGE_SIZE or left + width > IMAGE_SIZE:
            raise ValueError(f"Sticker.window {self.window} (top, left, height, width) must lie inside the {IMAGE_SIZE}x{IMAGE_SIZE} image")
        if self.size > min(height, width):
            raise ValueError(
                f"Sticker.size {self.size} is larger than the window {height}x{width}: "
                "enlarge Sticker.window or use a smaller sticker"
            )
        if self.corners is not None:
            corners = np.asarray(self.corners)
            if corners.ndim != 2 or corners.shape[1] != 2 or len(corners) == 0:
                raise ValueError(f"Sticker.corners must be a non-empty tuple of (row, column) pairs, got {self.corners!r}")
            if corners.min() < 0 or corners.max() + self.size > IMAGE_SIZE:
                raise ValueError(f"Sticker.corners {self.corners} must keep the {self.size}x{self.size} sticker inside the image")

    @property
    def n_positions(self) -> int:
        """Number of distinct sticker positions (corners, or positions inside the window)."""
        if self.corners is not None:
            return len(set(self.corners))
        _, _, height, width = self.window
        return (height - self.size + 1) * (width - self.size + 1)

    def positions(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Top-left corners (n, 2) as (row, column), uniform over the corners or the window."""
        if self.corners is not None:
            return np.asarray(self.corners, dtype=np.int64)[rng.integers(len(self.corners), size=n)]
        top, left, height, width = self.window
        rows = rng.integers(top, top + height - self.size + 1, size=n)
        cols = rng.integers(left, left + width - self.size + 1, size=n)
        return np.stack([rows, cols], axis=1)

    def apply(self, images: np.ndarray, rng: np.random.Generator | int = 0, positions: np.ndarray | None = None) -> np.ndarray:
        """Stamp the sticker on every image; returns a new uint8 array (N, 32, 32, 3).

        ``positions`` (N, 2) overrides the random top-left corners.
        """
        _check_images(images)
        rng = np.random.default_rng(rng)
        if positions is None:
            positions = self.positions(len(images), rng)
        out = images.copy()
        color = np.asarray(self.color, dtype=np.uint8)
        for image, (row, col) in zip(out, positions):
            image[row:row + self.size, col:col + self.size] = color
        return out


@dataclass(frozen=True)
class AmplitudePattern:
    """A ``size`` x ``size`` checkerboard of +/- ``amplitude`` added near the bottom-right corner.

    .. math::  x'_{ij} = \\operatorname{clip}_{[0, 255]}\\bigl(x_{ij} + a\\,(-1)^{i + j}\\bigr)

    on the pattern's pixels (all three channels), identity elsewhere. With
    ``amplitude = 255`` this is the black-and-white pattern of
    :cite:`turner2019`; smaller amplitudes (128, 64, 32) make it
    less visible. ``offset`` is the distance in pixels of the pattern's
    bottom-right pixel from the image's bottom-right corner.
    """

    amplitude: int = 255
    size: int = 3
    offset: int = 10

    def __post_init__(self) -> None:
        if not 1 <= int(self.amplitude) <= 255:
            raise ValueError(f"AmplitudePattern.amplitude must lie in 1..255, got {self.amplitude!r}")
        if self.size < 1 or self.offset < 0 or self.size + self.offset > IMAGE_SIZE:
            raise ValueError(f"AmplitudePattern.size {self.size} and offset {self.offset} must fit in the {IMAGE_SIZE}-pixel image")

    @property
    def corner(self) -> tuple[int, int]:
        """Top-left (row, column) of the pattern."""
        start = IMAGE_SIZE - self.offset - self.size
        return start, start

    def pattern(self) -> np.ndarray:
        """The +/-1 checkerboard (size, size), +1 at the top-left."""
        i, j = np.indices((self.size, self.size))
        return np.where((i + j) % 2 == 0, 1, -1)

    def apply(self, images: np.ndarray, rng: np.random.Generator | int = 0) -> np.ndarray:
        """Add the pattern to every image; returns a new uint8 array. ``rng`` is unused (fixed position)."""
        _check_images(images)
        row, col = self.corner
        out = images.copy()
        patch = out[:, row:row + self.size, col:col + self.size].astype(np.int16)
        patch += (self.amplitude * self.pattern())[None, :, :, None].astype(np.int16)
        out[:, row:row + self.size, col:col + self.size] = np.clip(patch, 0, 255).astype(np.uint8)
        return out


@dataclass(frozen=True)
class BlendPattern:
    """A fixed random pattern alpha-blended over the whole image.

    .. math::  x' = \\operatorname{round}\\bigl((1 - \\alpha)\\,x + \\alpha\\,p\\bigr)

    with a uniform random uint8 pattern ``p`` (32, 32, 3) drawn from ``pattern_seed``
    :cite:`chen2017blended`.
    """

    alpha: float = 0.1
    pattern_seed: int = 12345

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"BlendPattern.alpha must lie in (0, 1), got {self.alpha!r}")

    def pattern(self) -> np.ndarray:
        """The blended pattern, uint8 (32, 32, 3)."""
        return np.random.default_rng(self.pattern_seed).integers(0, 256, size=(IMAGE_SIZE, IMAGE_SIZE, 3)).astype(np.uint8)

    def apply(self, images: np.ndarray, rng: np.random.Generator | int = 0) -> np.ndarray:
        """Blend the pattern into every image; returns a new uint8 array. ``rng`` is unused."""
        _check_images(images)
        blended = (1 - self.alpha) * images.astype(np.float32) + self.alpha * self.pattern().astype(np.float32)
        return np.clip(np.rint(blended), 0, 255).astype(np.uint8)


Trigger = Sticker | AmplitudePattern | BlendPattern
