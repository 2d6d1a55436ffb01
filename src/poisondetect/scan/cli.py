"""``poisondetect scan``: scan a training set with the model trained on it; write scores and an HTML report.

Example (the shipped SynthSigns data and a model of this project)::

    poisondetect scan --model model.pt --factory poisondetect.models:Net --data train/ --out scan-report
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
import warnings
from pathlib import Path

from .. import detection
from ..explain import METHODS as EXPLAINERS
from .html import write_report
from .inputs import Normalization, load_images, load_model, parse_classes
from .run import DEFAULT_DETECTORS, ScanResult, ScanSettings, scan


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``poisondetect scan``."""
    parser.add_argument("--model", required=True, type=Path, help="TorchScript file, or a state_dict checkpoint with --factory")
    parser.add_argument("--factory", help="'package.module:function' that builds the model for a state_dict checkpoint")
    parser.add_argument("--data", required=True, type=Path, help="ImageFolder directory (one folder per class) or .npz (train_images, train_labels)")
    parser.add_argument("--mean", type=float, nargs=3, default=Normalization().mean, metavar=("R", "G", "B"),
                        help="per-channel mean of the model's input normalisation, pixels in [0, 1] (default: this project's)")
    parser.add_argument("--std", type=float, nargs=3, default=Normalization().std, metavar=("R", "G", "B"),
                        help="per-channel standard deviation of the normalisation (default: this project's)")
    parser.add_argument("--image-size", type=int, help="resize ImageFolder images to this square size")
    parser.add_argument("--classes", nargs="+", help="class names or indices to scan (default: all)")
    parser.add_argument("--detectors", nargs="+", default=list(DEFAULT_DETECTORS), choices=list(detection.DETECTORS),
                        help=f"detectors to run (default: {' '.join(DEFAULT_DETECTORS)}); the first explanation-based one ranks the classes")
    parser.add_argument("--explainer", default="gamma", choices=EXPLAINERS, help="explanation method of the heatmaps (default: LRP-gamma)")
    parser.add_argument("--layer", help="module whose output the activation detectors read (default: the input of the last Linear)")
    parser.add_argument("--threshold", type=float, default=3.0, help="anomaly index above which a class is suspicious (default 3)")
    parser.add_argument("--assumed-share", type=float, help="poison share assumed by spectral_signatures and spectre")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cuda (default cpu)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--out", type=Path, default=Path("scan-report"), help="output folder (default scan-report)")
    parser.add_argument("--force", action="store_true", help="write into --out even if it exists")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def write_outputs(result: ScanResult, out: Path, command: str, seconds: float) -> dict[str, Path]:
    """Write ``scores.csv``, ``scores.json`` and ``report.html`` into ``out``; return their paths."""
    samples = result.samples()
    files = {"csv": out / "scores.csv", "json": out / "scores.json", "html": out / "report.html"}
    samples.to_csv(files["csv"], index=False)
    summary = {"command": command, "data": result.images.source, "explainer": result.settings.explainer,
               "detectors": list(result.settings.detectors), "ranking_detector": result.settings.ranking_detector,
               "threshold": result.settings.threshold, "suspicious_classes": [result.classes[c].name for c in result.suspicious],
               "ranking": json.loads(result.ranking.to_json(orient="records")),
               "seconds": {**result.seconds, "total": round(seconds, 2)},
               "samples": json.loads(samples.to_json(orient="records"))}
    files["json"].write_text(json.dumps(summary, indent=1) + "\n")
    result.seconds["total"] = round(seconds, 2)
    write_report(result, files["html"], command)
    return files


def run(args: argparse.Namespace, command: str) -> int:
    """Carry out a parsed ``scan`` command; errors the user can fix are printed and return 2."""
    start = time.perf_counter()
    try:
        if args.out.exists() and not args.force:
            raise ValueError(f"{args.out} exists; choose another --out or pass --force to write into it")
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = lambda message, *_: print(f"warning: {message}", file=sys.stderr)
            images = load_images(args.data, args.image_size)
        settings = ScanSettings(tuple(args.detectors), args.explainer, parse_classes(args.classes, images.class_names),
                                args.threshold, args.assumed_share, args.layer, args.batch_size, args.device)
        model = load_model(args.model, args.factory, args.device)
        result = scan(model, images, Normalization(tuple(args.mean), tuple(args.std)), settings, progress=not args.quiet)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.out.exists() and args.force:
        shutil.rmtree(args.out)
    args.out.mkdir(parents=True)
    files = write_outputs(result, args.out, command, time.perf_counter() - start)
    verdict = ", ".join(result.classes[c].name for c in result.suspicious) or "none"
    print(f"suspicious classes: {verdict}\nreport: {files['html']}\nscores: {files['csv']}, {files['json']}")
    return 0
