"""``poisondetect scan`` on a poisoned ImageFolder and a model trained on it, saved both ways; its clear errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from poisondetect import models
from poisondetect.__main__ import main
from poisondetect.scan import Normalization, ScanSettings, load_images, load_model, scan
from poisondetect.scan.demo import DemoConfig, write_demo

#: Small enough to train in about a minute on 2 cores, large enough that the backdoor is learned.
TEST_DEMO = DemoConfig(n_images=900, epochs=7)
FACTORY = "poisondetect.scan.demo:demo_model"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A poisoned SynthSigns ImageFolder, the model trained on it (state_dict and TorchScript), and the truth."""
    folder = tmp_path_factory.mktemp("demo")
    found = write_demo(folder, TEST_DEMO, progress=False)
    assert found["attack_success"] >= 0.9, f"the demo model did not learn the backdoor: {found}"
    return folder


def _poison_recall(out: Path, demo: Path) -> tuple[pd.DataFrame, float, float]:
    samples = pd.read_csv(out / "scores.csv")
    truth = {str(demo / line) for line in (demo / "poisons.txt").read_text().splitlines()}
    is_poison = samples["path"].isin(truth)
    assert is_poison.sum() == len(truth)
    return samples, samples.loc[is_poison, "flagged"].mean(), samples.loc[~is_poison, "flagged"].mean()


@pytest.mark.slow
def test_scan_state_dict_flags_the_target_first_and_finds_its_poisons(demo, tmp_path, capsys):
    out = tmp_path / "scan"
    code = main(["scan", "--model", str(demo / "model.pt"), "--factory", FACTORY, "--data", str(demo / "train"),
                 "--out", str(out), "--quiet"])
    assert code == 0, capsys.readouterr().err
    summary = json.loads((out / "scores.json").read_text())
    assert summary["ranking"][0]["name"] == "05 80 km-h"
    assert summary["suspicious_classes"] == ["05 80 km-h"]
    samples, recall, false_alarms = _poison_recall(out, demo)
    assert recall >= 0.8 and false_alarms <= 0.02, (recall, false_alarms)
    assert set(samples.columns) >= {"path", "class_name", "spray_euclidean_score", "ac_paper_flag", "flagged"}
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") >= 3 and "05 80 km-h" in page and "<script" not in page


@pytest.mark.slow
def test_scan_torchscript_model_with_a_hook_free_explainer(demo, tmp_path, capsys):
    out = tmp_path / "scan"
    code = main(["scan", "--model", str(demo / "model.ts"), "--data", str(demo / "train"), "--out", str(out),
                 "--explainer", "gradient_x_input", "--detectors", "spray_euclidean", "--quiet"])
    assert code == 0, capsys.readouterr().err
    assert json.loads((out / "scores.json").read_text())["ranking"][0]["name"] == "05 80 km-h"
    # LRP and activations need hooks, which TorchScript lacks: a clear error, not a traceback
    code = main(["scan", "--model", str(demo / "model.ts"), "--data", str(demo / "train"), "--out", str(tmp_path / "lrp")])
    assert code == 2 and "TorchScript" in capsys.readouterr().err


@pytest.mark.slow
def test_report_renders_in_headless_chromium(demo, tmp_path):
    out = tmp_path / "scan"
    assert main(["scan", "--model", str(demo / "model.pt"), "--factory", FACTORY, "--data", str(demo / "train"),
                 "--classes", "02 50 km-h", "05 80 km-h", "14 stop", "--out", str(out), "--quiet"]) == 0
    browser = shutil.which("chromium")
    assert browser, "Debian's chromium is missing: make test installs it (apt-get install chromium)"
    page, png = (out / "report.html").resolve().as_uri(), tmp_path / "report.png"
    headless = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    subprocess.run([*headless, f"--screenshot={png}", "--window-size=1100,1400", page], capture_output=True, timeout=120, check=True)
    text = subprocess.run([*headless, "--dump-dom", page], capture_output=True, text=True, timeout=120, check=True).stdout
    pixels = np.asarray(Image.open(png).convert("L"), dtype=float)
    assert pixels.std() > 10, "the screenshot is blank"
    assert "80 km-h" in text and "50 km-h" in text


def test_console_script_and_module_entry_point_show_help():
    for command in ([sys.executable, "-m", "poisondetect", "scan", "--help"], [str(Path(sys.executable).parent / "poisondetect"), "scan", "--help"]):
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0 and "--factory" in done.stdout, done.stderr


def _image_folder(root: Path, counts: dict[str, int], size: int = 32) -> Path:
    rng = np.random.default_rng(0)
    for name, count in counts.items():
        (root / name).mkdir(parents=True)
        for i in range(count):
            Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(root / name / f"{i}.png")
    return root


def test_image_folder_skips_non_images_with_a_warning_that_names_them(tmp_path):
    root = _image_folder(tmp_path / "data", {"a": 3, "b": 4})
    (root / "a" / "notes.txt").write_text("not an image")
    with pytest.warns(UserWarning, match="notes.txt"):
        found = load_images(root)
    assert found.class_names == ("a", "b") and np.bincount(found.labels).tolist() == [3, 4]
    assert found.images.shape == (7, 32, 32, 3) and found.paths[0].endswith("0.png")


def test_clear_errors_for_what_a_user_gets_wrong(tmp_path, capsys):
    with pytest.raises(ValueError, match="fewer than 3 images.*'b' \\(2\\)"):
        load_images(_image_folder(tmp_path / "small", {"a": 3, "b": 2}))
    torch.manual_seed(0)
    torch.save(models.Net(n_classes=3).state_dict(), tmp_path / "net.pt")
    with pytest.raises(ValueError, match="does not fit the model"):
        load_model(tmp_path / "net.pt", FACTORY)  # 6 outputs, not 3
    with pytest.raises(ValueError, match="not a TorchScript file"):
        load_model(tmp_path / "net.pt")
    with pytest.raises(ValueError, match="cannot import"):
        load_model(tmp_path / "net.pt", "no_such_package:build")
    large = load_images(_image_folder(tmp_path / "large", {"a": 3, "b": 3, "c": 3}, size=40))
    with pytest.raises(ValueError, match="does not take images of size 40x40"):
        scan(models.Net(n_classes=3).eval(), large, Normalization(), ScanSettings(), progress=False)
    (tmp_path / "out").mkdir()
    code = main(["scan", "--model", str(tmp_path / "net.pt"), "--factory", FACTORY, "--data", str(tmp_path / "large"),
                 "--out", str(tmp_path / "out")])
    assert code == 2 and "--force" in capsys.readouterr().err
