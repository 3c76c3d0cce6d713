"""docs/api.md runs as written: every ```python block, in order, in one namespace, on a short
synthetic clip (3 frames: one short chunk of the embedded default keeps the suite fast)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def api_doc_blocks() -> list[str]:
    """The ```python blocks of docs/api.md, in order."""
    text = (ROOT / "docs" / "api.md").read_text()
    return re.findall(r"^```python\n(.*?)^```", text, re.S | re.M)


def test_api_doc_examples_run(tmp_path, monkeypatch, capsys):
    from xdub.config.synth import SynthConfig
    from xdub.media import probe, write_video, write_wav
    from xdub.synth.clip import render_pair

    clip, other = render_pair(5, SynthConfig(size=(160, 128), fps=25.0, duration=0.12))
    write_video(tmp_path / "talk.mp4", clip.frames, 25.0, audio=clip.audio)
    write_wav(tmp_path / "new_voice.wav", other.audio)
    monkeypatch.chdir(tmp_path)

    blocks = api_doc_blocks()
    assert len(blocks) >= 5
    namespace: dict = {}
    for k, block in enumerate(blocks):
        exec(compile(block, f"docs/api.md block {k + 1}", "exec"), namespace)

    out = capsys.readouterr().out
    assert "embedded default" in out and "dubbing: 3/3 (100%)" in out
    for name in ("dubbed.mp4", "dubbed_in_memory.mp4"):
        info = probe(tmp_path / name)
        assert (info.width, info.height, info.num_frames) == (160, 128, 3)
    assert namespace["faces"], "the synthetic face is found"
