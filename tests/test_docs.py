"""The docs are tested: the README's Python API block runs as written (on a short synthetic
clip); docs/cli.md and the module map of docs/design.md are what the code generates now
(`python -m xdub.cli.docs docs` rewrites both)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def readme_python_example() -> str:
    """The ```python block after "Python API" in README.md."""
    text = (ROOT / "README.md").read_text()
    match = re.search(r"^Python API.*?```python\n(.*?)```", text, re.S | re.M)
    assert match, "README.md has no ```python block after 'Python API'"
    return match.group(1)


def test_readme_python_example_runs(tmp_path, monkeypatch, capsys):
    from xdub.config.synth import SynthConfig
    from xdub.synth.clip import render_pair
    from xdub.media import read_video, write_video, write_wav

    # 3 frames at 25 fps: one short chunk of the default keeps the suite fast
    clip, other = render_pair(5, SynthConfig(size=(160, 128), fps=25.0, duration=0.12))
    write_video(tmp_path / "talk.mp4", clip.frames, 25.0, audio=clip.audio)
    write_wav(tmp_path / "new_voice.wav", other.audio)
    monkeypatch.chdir(tmp_path)  # the example names its files relative to the working folder

    exec(compile(readme_python_example(), "README.md", "exec"), {})

    dubbed = read_video(tmp_path / "dubbed.mp4")
    assert dubbed.num_frames == len(clip.frames) and dubbed.audio is not None
    assert np.abs(dubbed.frames.astype(int) - clip.frames.astype(int)).mean() < 40
    assert "DubSummary(" in capsys.readouterr().out


def test_cli_docs_match_the_cli():
    from xdub.cli.docs import render_cli_docs

    committed = (ROOT / "docs" / "cli.md").read_text()
    assert committed == render_cli_docs(), (
        "docs/cli.md is stale: run `python -m xdub.cli.docs docs` and commit it"
    )


def test_cli_docs_list_every_command_and_exit_code():
    from xdub.cli.docs import exit_code_rows, render_cli_docs
    from xdub.errors import OutputError, WeightsError

    text = render_cli_docs()
    for command in ("xdub dub", "xdub synth", "xdub faces", "xdub make-pairs", "xdub bench",
                    "xdub train stage1", "xdub train chain"):
        assert f"`{command}`" in text
    codes = [code for code, _, _ in exit_code_rows()]
    assert codes == sorted(codes) and {0, 1, 2, OutputError.exit_code, WeightsError.exit_code,
                                       130} <= set(codes)


def test_design_module_map_matches_the_tree():
    from xdub.cli.docs import render_module_map, update_design

    design = (ROOT / "docs" / "design.md").read_text()
    assert design == update_design(design, render_module_map()), (
        "docs/design.md's module map is stale: run `python -m xdub.cli.docs docs` and commit it"
    )
    for module in ("xdub.atomic", "xdub.mel_scale", "xdub.models.checkpoint", "xdub.cli.docs"):
        assert f"| `{module}` |" in design
