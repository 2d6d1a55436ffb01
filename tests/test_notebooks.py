"""Every chapter notebook runs headlessly under papermill with profile="smoke"."""

import json

import pytest

from poisondetect import paths, pipeline


@pytest.mark.slow
@pytest.mark.parametrize("notebook", pipeline.discover(), ids=lambda p: p.stem)
def test_notebook_runs_in_smoke_profile(notebook, tmp_path):
    run = pipeline.run_notebook(notebook, profile="smoke", dataset="synth", output_dir=tmp_path)
    assert run.output.exists()
    manifest = json.loads((paths.figures_dir() / "manifest.json").read_text())
    made = {name: entry for name, entry in manifest.items() if entry["notebook"] == f"notebooks/{notebook.stem}.py"}
    assert made, f"{notebook.stem} wrote no figure, table or number"
    assert all(entry["profile"] == "smoke" for entry in made.values())
    for name in made:
        assert (paths.figures_dir() / name).stat().st_size > 0
