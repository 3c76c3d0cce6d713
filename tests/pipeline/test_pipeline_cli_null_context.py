"""`--null-context` of `xdub dub`, `xdub batch` and `xdub serve` reaches the official loader
(the loader itself is stubbed: the real files are GBs)."""

from __future__ import annotations

import signal

import pytest
from pipeline_testkit import run_cli

from xdub.errors import WeightsError


@pytest.fixture
def loaded(monkeypatch):
    """The `null_context` each official load was given (the stub then fails with exit 5)."""
    seen = []

    def stub(dit, vae, whisper, wav2vec2, null_context=None, device="auto", dtype="auto"):
        seen.append(null_context)
        raise WeightsError("stub loader")

    monkeypatch.setattr("xdub.pipeline.loading.load_official", stub)
    return seen


def _official(tmp_path):
    return ("--dit", tmp_path / "m.st", "--vae", tmp_path / "v.pth", "--whisper", tmp_path,
            "--wav2vec2", tmp_path, "--null-context", tmp_path / "empty.safetensors")


def test_dub_and_batch_pass_the_null_context(capsys, tmp_path, clip_files, loaded):
    video, audio = clip_files["video"], clip_files["audio"]
    rc, _, err = run_cli(capsys, "dub", video, audio, "-o", tmp_path / "o.mp4",
                         *_official(tmp_path))
    assert rc == 5 and "stub loader" in err
    jobs = tmp_path / "jobs.csv"
    jobs.write_text(f"video,audio\n{video},{audio}\n")
    rc, _, _ = run_cli(capsys, "batch", jobs, "--out", tmp_path / "out", *_official(tmp_path))
    assert rc == 6  # the job failed on the stub
    assert [str(p) for p in loaded] == [str(tmp_path / "empty.safetensors")] * 2


def test_serve_passes_the_null_context(capsys, tmp_path, loaded, monkeypatch):
    pytest.importorskip("gradio")
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path))  # serve sets it; restored after
    monkeypatch.setattr(signal, "signal", lambda *args: None)
    rc, _, err = run_cli(capsys, "serve", "--work-dir", tmp_path / "work", *_official(tmp_path))
    assert rc == 5 and "stub loader" in err
    assert [str(p) for p in loaded] == [str(tmp_path / "empty.safetensors")]
