"""Real GTSRB in the 32x32 cache format.

The cache is one file, ``$POISONDETECT_DATA/gtsrb32.npz``, holding the official
training set (with the track id of every physical sign) and the official test set
(labelled by ``GT-final_test.csv``); see :class:`poisondetect.data.SignData`.

:func:`load` reads it; :func:`build_cache` makes it from the official release, which
``torchvision.datasets.GTSRB`` downloads. ``python -m poisondetect.data.gtsrb``
(``make data``) builds the cache when it is missing.

References: ``stallkamp2012`` (the benchmark and its official split).

Layout of the release as torchvision unpacks it below ``<root>/gtsrb``::

    GTSRB/Training/000CC/TTTTT_FFFFF.ppm    class CC, track TTTTT, frame FFFFF
    GTSRB/Training/000CC/GT-000CC.csv        Filename;Width;Height;Roi.X1;...;ClassId
    GTSRB/Final_Test/Images/NNNNN.ppm
    GT-final_test.csv                        the same columns, official test labels
"""

from __future__ import annotations

import argparse
import csv
import re
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from .. import paths
from ..artifacts import atomic_path
from .base import IMAGE_SHAPE, SignData

FILENAME = "gtsrb32.npz"
#: Arrays every cache file must hold (SignData's fields).
REQUIRED_KEYS = ("train_images", "train_labels", "train_tracks", "test_images", "test_labels")
#: Official file names of the training images: track and frame number.
TRAIN_NAME = re.compile(r"^(?P<track>\d{5})_(?P<frame>\d{5})\.ppm$")
GEOMETRY_COLUMNS = ("Width", "Height", "Roi.X1", "Roi.Y1", "Roi.X2", "Roi.Y2")


def cache_path() -> Path:
    """Where the cache is looked for: ``$POISONDETECT_DATA/gtsrb32.npz``."""
    return paths.data_dir() / FILENAME


def load(path: Path | None = None) -> SignData:
    """Read the GTSRB cache (default :func:`cache_path`) and check its format.

    Parameters
    ----------
    path : Path, optional
        An ``.npz`` file with the arrays ``train_images`` (N, 32, 32, 3) uint8,
        ``train_labels`` (N,), ``train_tracks`` (N,), ``test_images`` (M, 32, 32, 3)
        uint8 and ``test_labels`` (M,). Further arrays (frames, original sizes) are
        ignored.

    Raises
    ------
    FileNotFoundError
        When the file does not exist (the message says how to make it).
    ValueError
        When the file is not a readable ``.npz``, lacks an array, or an array has
        the wrong shape, dtype or label range.
    """
    path = Path(path) if path is not None else cache_path()
    if not path.is_file():
        raise FileNotFoundError(
            f"GTSRB cache {path} not found: run `make data` or set POISONDETECT_DATA "
            f"to the folder holding {FILENAME}"
        )
    try:
        with np.load(path, allow_pickle=False) as stored:
            missing = [key for key in REQUIRED_KEYS if key not in stored.files]
            arrays = {key: stored[key] for key in REQUIRED_KEYS if key in stored.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(
            f"GTSRB cache {path} is unreadable ({error}); delete it and run `make data` again"
        ) from error
    if missing:
        raise ValueError(
            f"GTSRB cache {path} lacks the arrays {', '.join(missing)}; delete it and run `make data` again"
        )
    return SignData(name="gtsrb", source=str(path), **arrays)


def build_cache(target: Path | None = None, download_root: Path | None = None) -> Path:
    """Download GTSRB when needed and write the 32x32 cache atomically.

    Every image (the whole official frame, including the margin around the
    sign) is resized to 32x32 with PIL's antialiased Lanczos filter. The training
    set is read class by class in the order of each class's ``GT-000CC.csv``; the
    test set in the order of ``GT-final_test.csv``.

    Parameters
    ----------
    target : Path, optional
        The ``.npz`` to write (default :func:`cache_path`).
    download_root : Path, optional
        Where torchvision keeps the official release (default: folder
        ``gtsrb-download`` beside ``target``). An existing unpacked release there
        is used as it is, without network access.

    Returns
    -------
    Path
        ``target``. Besides the arrays of :func:`load` it holds ``train_frames``
        (N,), ``train_orig_sizes`` / ``test_orig_sizes`` (N, 2) as (Width, Height),
        and ``train_orig_rois`` / ``test_orig_rois`` (N, 4) as (X1, Y1, X2, Y2)
        in original pixel coordinates.
    """
    target = Path(target) if target is not None else cache_path()
    root = Path(download_root) if download_root is not None else target.parent / "gtsrb-download"
    download(root)
    base = root / "gtsrb"
    arrays = {
        **read_training(base / "GTSRB" / "Training"),
        **read_test(base / "GTSRB" / "Final_Test" / "Images", base / "GT-final_test.csv"),
    }
    SignData(name="gtsrb", source=str(target), **{key: arrays[key] for key in REQUIRED_KEYS})
    with atomic_path(target) as tmp:
        np.savez_compressed(tmp, **arrays)
    return target


def download(root: Path) -> None:
    """Fetch and unpack the official training and test release into ``root/gtsrb``
    with torchvision; does nothing for a split that is already unpacked there."""
    from torchvision.datasets import GTSRB

    for split in ("train", "test"):
        try:
            GTSRB(root, split=split, download=True)
        except Exception as error:  # network errors, bad checksums, missing CSV
            raise RuntimeError(
                f"could not download the GTSRB {split} split into {root} ({error}). Without "
                f"internet, copy a ready {FILENAME} into a folder and set POISONDETECT_DATA to it"
            ) from error


def read_csv(path: Path) -> list[dict[str, str]]:
    """Rows of an official GTSRB annotation file (``;``-separated)."""
    if not path.is_file():
        raise FileNotFoundError(f"GTSRB annotation file {path} is missing; delete the download folder and rebuild")
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle, delimiter=";", skipinitialspace=True))


def read_image(path: Path) -> np.ndarray:
    """One PPM as uint8 (32, 32, 3) RGB, resized with antialiasing."""
    with Image.open(path) as image:
        small = image.convert("RGB").resize(IMAGE_SHAPE[1::-1], Image.Resampling.LANCZOS)
    return np.asarray(small, dtype=np.uint8)


def _geometry(rows: list[dict[str, str]]) -> tuple[np.ndarray, np.ndarray]:
    table = np.array([[int(row[c]) for c in GEOMETRY_COLUMNS] for row in rows], dtype=np.int64).reshape(-1, 6)
    return table[:, :2], table[:, 2:]


def read_training(folder: Path) -> dict[str, np.ndarray]:
    """The official training set from ``folder`` (``.../GTSRB/Training``).

    Returns ``train_images`` (N, 32, 32, 3), ``train_labels``, ``train_tracks``,
    ``train_frames`` (N,), ``train_orig_sizes`` (N, 2), ``train_orig_rois`` (N, 4).
    """
    class_dirs = sorted(d for d in folder.iterdir() if d.is_dir() and re.fullmatch(r"\d{5}", d.name))
    if not class_dirs:
        raise FileNotFoundError(f"no class folders 000CC in {folder}; the GTSRB training download is incomplete")
    listing = [(d, read_csv(d / f"GT-{d.name}.csv")) for d in class_dirs]
    images, labels, tracks, frames, all_rows = [], [], [], [], []
    with tqdm(total=sum(len(rows) for _, rows in listing), desc="GTSRB train", unit="img") as bar:
        for class_dir, rows in listing:
            label = int(class_dir.name)
            on_disk = sorted(p.name for p in class_dir.glob("*.ppm"))
            if sorted(row["Filename"] for row in rows) != on_disk:
                raise ValueError(f"{class_dir}: the files listed in GT-{class_dir.name}.csv differ from the .ppm files there")
            for row in rows:
                match = TRAIN_NAME.match(row["Filename"])
                if match is None:
                    raise ValueError(f"{class_dir / row['Filename']}: expected a name TTTTT_FFFFF.ppm")
                if int(row["ClassId"]) != label:
                    raise ValueError(f"{class_dir}/GT-{class_dir.name}.csv: ClassId {row['ClassId']} in folder of class {label}")
                images.append(read_image(class_dir / row["Filename"]))
                labels.append(label)
                tracks.append(int(match["track"]))
                frames.append(int(match["frame"]))
                bar.update()
            all_rows.extend(rows)
    sizes, rois = _geometry(all_rows)
    return {
        "train_images": np.stack(images),
        "train_labels": np.array(labels, dtype=np.int64),
        "train_tracks": np.array(tracks, dtype=np.int64),
        "train_frames": np.array(frames, dtype=np.int64),
        "train_orig_sizes": sizes,
        "train_orig_rois": rois,
    }


def read_test(folder: Path, labels_csv: Path) -> dict[str, np.ndarray]:
    """The official test set: images in ``folder``, labels from ``labels_csv``
    (``GT-final_test.csv``), in the CSV's order.

    Returns ``test_images`` (M, 32, 32, 3), ``test_labels`` (M,),
    ``test_orig_sizes`` (M, 2), ``test_orig_rois`` (M, 4).
    """
    rows = read_csv(labels_csv)
    if not rows:
        raise ValueError(f"{labels_csv} lists no test images")
    images = [read_image(folder / row["Filename"]) for row in tqdm(rows, desc="GTSRB test", unit="img")]
    sizes, rois = _geometry(rows)
    return {
        "test_images": np.stack(images),
        "test_labels": np.array([int(row["ClassId"]) for row in rows], dtype=np.int64),
        "test_orig_sizes": sizes,
        "test_orig_rois": rois,
    }


def main(argv: list[str] | None = None) -> int:
    """Build the cache in ``$POISONDETECT_DATA`` unless it is there already."""
    parser = argparse.ArgumentParser(prog="python -m poisondetect.data.gtsrb", description=main.__doc__)
    parser.add_argument("--download-root", type=Path, default=None, help="where the official release is kept")
    args = parser.parse_args(argv)
    target = cache_path()
    if target.exists():
        print(f"{target} exists already; nothing to do (delete it to rebuild)")
        return 0
    print(f"building {target} from the official GTSRB release (downloading it when needed)")
    signs = load(build_cache(target, args.download_root))
    print(
        f"wrote {target}: {len(signs.train_labels)} training images in "
        f"{signs.track_counts().sum()} tracks, {len(signs.test_labels)} test images, "
        f"{len(signs.classes)} classes"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
