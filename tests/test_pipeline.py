import io
import json
import os
import textwrap

import pytest

from poisondetect import pipeline

GOOD = '''\
# %% [markdown]
# # A demo chapter

# %% tags=["parameters"]
profile = "quick"
dataset = "synth"

# %%
print(f"running {profile} on {dataset}")
'''


def _write(path, text):
    path.write_text(textwrap.dedent(text))
    return path


def test_discover_finds_chapters_in_order_and_selects():
    all_notebooks = pipeline.discover()
    names = [p.stem for p in all_notebooks]
    assert names == sorted(names) and names[0] == "01_data"
    assert [p.stem for p in pipeline.discover(["01"])] == ["01_data"]
    with pytest.raises(pipeline.NotebookError, match="no notebook matches 99"):
        pipeline.discover(["99"])


def test_parameters_are_injected(tmp_path):
    notebook = _write(tmp_path / "01_demo.py", GOOD)
    run = pipeline.run_notebook(notebook, "smoke", "gtsrb", output_dir=tmp_path / "out")
    executed = json.loads(run.output.read_text())
    outputs = "".join("".join(o.get("text", "")) for c in executed["cells"] for o in c.get("outputs", []))
    assert "running smoke on gtsrb" in outputs
    assert run.wall_s >= run.cells_s >= 0


def test_missing_parameters_cell_is_reported(tmp_path):
    notebook = _write(tmp_path / "01_bad.py", GOOD.replace(' tags=["parameters"]', ""))
    with pytest.raises(pipeline.NotebookError, match=r"01_bad.py: expected exactly one code cell tagged 'parameters'"):
        pipeline.run_notebook(notebook, "smoke", "synth", output_dir=tmp_path)


def test_failing_cell_is_named_with_its_error(tmp_path, capsys):
    notebook = _write(tmp_path / "02_fails.py", GOOD + '\n# %%\nraise ValueError("sticker larger than window")\n')
    with pytest.raises(pipeline.NotebookError) as error:
        pipeline.run_notebook(notebook, "smoke", "synth", output_dir=tmp_path)
    message = str(error.value)
    assert "notebook 02_fails failed in cell" in message
    assert 'raise ValueError("sticker larger than window")' in message
    assert "ValueError: sticker larger than window" in message


def test_command_line_rejects_unknown_profile(capsys):
    with pytest.raises(SystemExit):
        pipeline.main(["--profile", "huge"])
    assert "invalid choice: 'huge'" in capsys.readouterr().err


def test_command_line_returns_nonzero_on_unknown_notebook(capsys):
    assert pipeline.main(["--profile", "smoke", "--only", "99"]) == 1
    assert "no notebook matches 99" in capsys.readouterr().err


def test_progress_shows_each_cell_and_the_notebooks_bars_while_it_runs(tmp_path, capfd):
    bar = '\n# %%\nfrom tqdm.auto import tqdm\nfor _ in tqdm(range(3), desc="epochs"):\n    pass\n'
    notebook = _write(tmp_path / "03_bars.py", GOOD + bar)
    run = pipeline.run_notebook(notebook, "smoke", "synth", output_dir=tmp_path / "out", progress=True)
    err = capfd.readouterr().err
    assert "[03_bars] cell 1/5: import warnings" in err  # the injected first cell: text bars
    assert '[03_bars] cell 5/5: from tqdm.auto import tqdm' in err
    assert "epochs: 100%" in err and "3/3" in err  # the notebook's own bar, streamed from the kernel
    assert "running smoke on synth" not in err  # printed output stays in the notebook
    assert run.output.exists()


RENDEZVOUS = '''
# %%
import os, pathlib, time
here, other = pathlib.Path({folder!r}) / {mine!r}, pathlib.Path({folder!r}) / {theirs!r}
here.write_text(os.environ.get("OMP_NUM_THREADS", "unset"))  # the kernel's share of the cores
deadline = time.time() + 60
while not other.exists():  # only a notebook running at the same time can create it
    assert time.time() < deadline, "the other notebook never ran alongside"
    time.sleep(0.1)
'''


def test_jobs_run_notebooks_side_by_side_and_report_failures(tmp_path, monkeypatch, capfd):
    folder = tmp_path / "chapters"
    folder.mkdir()
    for mine, theirs in (("01_meet", "02_meet"), ("02_meet", "01_meet")):
        _write(folder / f"{mine}.py", GOOD + RENDEZVOUS.format(folder=str(tmp_path), mine=mine, theirs=theirs))
    monkeypatch.setattr(pipeline.paths, "NOTEBOOKS", folder)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    runs = pipeline.run_notebooks("smoke", "synth", output_dir=tmp_path / "out", out=io.StringIO(), jobs=2, progress=True)
    assert [run.name for run in runs] == ["01_meet", "02_meet"] and all(run.output.exists() for run in runs)
    err = capfd.readouterr().err
    assert "[01_meet] cell 4/4: import os, pathlib, time" in err and "[02_meet] cell 4/4" in err  # cells, named by chapter
    share = str(max(1, os.cpu_count() // 2))
    assert (tmp_path / "01_meet").read_text() == (tmp_path / "02_meet").read_text() == share
    _write(folder / "03_fails.py", GOOD + '\n# %%\nraise ValueError("broken chapter")\n')
    with pytest.raises(pipeline.NotebookError, match="ValueError: broken chapter"):
        pipeline.run_notebooks("smoke", "synth", only=["03"], output_dir=tmp_path / "out", out=io.StringIO(), jobs=2)
    with pytest.raises(ValueError, match="jobs must be at least 1"):
        pipeline.run_notebooks("smoke", "synth", jobs=0)
