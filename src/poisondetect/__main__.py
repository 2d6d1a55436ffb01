"""``poisondetect`` / ``python -m poisondetect``: the command line (``poisondetect scan --help``)."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from collections.abc import Sequence

from .scan import cli
from .scan.demo import DemoConfig, write_demo


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="poisondetect", description="Detect backdoor poisoning with LRP heatmaps and optimal transport.")
    commands = parser.add_subparsers(dest="command", required=True)
    cli.add_arguments(commands.add_parser("scan", help="scan a training set with the model trained on it", description=cli.__doc__.split("\n\n")[0]))
    demo = commands.add_parser("demo", help="write a poisoned SynthSigns ImageFolder and a model trained on it (about 3 minutes)")
    demo.add_argument("--out", type=Path, default=Path("demo"), help="folder to write (default demo)")
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    if args.command == "demo":
        if args.out.exists():
            parser.error(f"{args.out} exists; choose another --out")
        found = write_demo(args.out, DemoConfig())
        print(f"wrote {args.out}: {found['images']} images, {found['poisons']} poisoned (listed in {args.out / 'poisons.txt'}); "
              f"clean accuracy {100 * found['clean_accuracy']:.1f} %, attack success {100 * found['attack_success']:.1f} %")
        return 0
    return cli.run(args, shlex.join(["poisondetect", *argv]))


if __name__ == "__main__":
    sys.exit(main())
