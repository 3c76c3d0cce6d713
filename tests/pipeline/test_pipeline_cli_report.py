"""`xdub dub` as a new user meets it (#15): progress in a log file, one-line option errors,
every default in --help, an honest summary, the input's own fps and exact size."""

import pytest
from pipeline_testkit import run_cli, talking_clip, write_wav

from xdub.config.infer import TimelineConfig
from xdub.media import probe, write_video
from xdub.pipeline.progress import CallbackProgress
from xdub.pipeline.timeline import describe_length, plan_timeline


def _dub(capsys, video, audio, out, *extra):
    """Dub with the identity model and everything on (no -q): (stdout, stderr)."""
    rc, stdout, err = run_cli(capsys, "dub", video, audio, "-o", out, "--random-init", *extra)
    assert rc == 0, err
    return stdout, err


def test_progress_is_plain_lines_when_stderr_is_not_a_terminal(capsys, tmp_path, clip_files,
                                                                fast_cli):
    _, err = _dub(capsys, clip_files["video"], clip_files["audio"], tmp_path / "o.mp4")
    assert "tracking faces: 0/30 (0%), 0.0 s, eta ?" in err
    assert "dubbing: 0/30 (0%)" in err
    assert "dubbing: 30/30 (100%)" in err and ", done" in err
    assert "\x1b[" not in err and "━" not in err  # no terminal bars in a log file


def test_progress_lines_are_periodic_with_an_eta():
    now = [0.0]
    lines = []
    progress = CallbackProgress(lambda u: lines.append(u.line()), interval=2.0,
                                clock=lambda: now[0])
    progress.start("dubbing", 10)
    for _ in range(10):
        now[0] += 0.5
        progress.advance()
    progress.finish()
    # start, every 2 s (after 4 and 8 frames), finish
    assert lines == ["dubbing: 0/10 (0%), 0.0 s, eta ?", "dubbing: 4/10 (40%), 2.0 s, eta 3 s",
                     "dubbing: 8/10 (80%), 4.0 s, eta 1 s", "dubbing: 10/10 (100%), 5.0 s, done"]


@pytest.mark.parametrize("flag", [("--length", "foo"), ("--steps", "0"), ("--bogus",)])
def test_option_errors_are_one_line_with_exit_2(capsys, flag):
    rc, stdout, err = run_cli(capsys, "dub", "in.mp4", "new.wav", "-o", "out.mp4", *flag)
    assert rc == 2
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert flag[0] in err and "xdub dub --help" in err


def test_help_shows_every_default(capsys, monkeypatch):
    from xdub.cli.dub import EMBEDDED_SAMPLING
    from xdub.generation.folder import read_dubber_config
    from xdub.pipeline.loading import default_checkpoint

    monkeypatch.setenv("COLUMNS", "250")
    rc, help_text, _ = run_cli(capsys, "dub", "--help")
    assert rc == 0
    lines = {line.split()[1]: line for line in help_text.splitlines()
             if line.strip("│ ").startswith("--")}
    for flag in ("--steps", "--ref-scale", "--audio-scale", "--strength", "--seed",
                 "--chunk-frames", "--overlap", "--length", "--extend", "--tail", "--face",
                 "--no-face", "--device", "--dtype", "--start", "--end"):
        assert "[default:" in lines[flag], lines[flag]
    # The embedded default's values quoted by --help are the shipped checkpoint's.
    shipped = read_dubber_config(default_checkpoint())
    assert EMBEDDED_SAMPLING == {
        "steps": shipped.diffusion.num_inference_steps,
        "ref_scale": shipped.diffusion.ref_scale, "audio_scale": shipped.diffusion.audio_scale,
        "denoise_strength": shipped.diffusion.denoise_strength,
        "chunk_frames": shipped.chunk_frames, "overlap": shipped.overlap}
    assert "embedded default 2" in lines["--steps"]


def test_summary_counts_dubbed_apart_from_kept_frames(capsys, tmp_path, clip_files, fast_cli):
    _, err = _dub(capsys, clip_files["video"], clip_files["audio"], tmp_path / "o.mp4",
                  "--start", "0.5")
    cells = [[c.strip() for c in line.split("│")] for line in err.splitlines() if "│" in line]
    rows = {c[1]: c[2] for c in cells if len(c) > 2}
    assert rows["frames dubbed (generated)"] == "15"  # 0.5 s .. 1.0 s at 30 fps
    assert rows["frames kept (unchanged)"] == "15"
    assert "identity" in err and "random init" in err  # which model ran
    assert "range mode: 0.5 s re-dubbed from 0.5 s" in " ".join(err.split())
    assert "dubbed frames/s" in err


def test_threads_option_sets_torch_threads(capsys, tmp_path, clip_files, fast_cli):
    import torch

    before = torch.get_num_threads()
    try:
        _dub(capsys, clip_files["video"], clip_files["audio"], tmp_path / "o.mp4",
             "--threads", "1", "--start", "0.8")
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    rc, _, err = run_cli(capsys, "dub", "in.mp4", "new.wav", "-o", "o.mp4", "--threads", "0")
    assert rc == 2 and err.count("\n") == 1 and "--threads" in err


@pytest.mark.parametrize(("cfg", "audio_s", "says"), [
    (TimelineConfig(), 10.0, "audio 10.0 s > video 5.1 s: video extended by pingpong"),
    (TimelineConfig(extend="loop"), 10.0, "video extended by loop"),
    (TimelineConfig(), 2.0, "audio 2.0 s < video 5.1 s: video trimmed at the audio's end"),
    (TimelineConfig(tail="keep"), 2.0, "video kept whole"),
    (TimelineConfig(length="shortest"), 10.0, "video cut to the shorter"),
    (TimelineConfig(length="video"), 10.0, "audio cut at the video's end"),
])
def test_the_length_decision_is_stated(cfg, audio_s, says):
    timeline = plan_timeline(127, 25.0, audio_s, cfg)  # a 5.08 s video
    assert says in describe_length(timeline, audio_s, cfg)


def test_odd_size_and_declared_fps_survive_a_cut_input(capsys, tmp_path, fast_cli):
    frames, _, other = talking_clip(width=321, height=241, fps=25.0, seconds=2.0)
    whole = write_video(tmp_path / "whole.mp4", frames, 25.0)  # B-frames: a gap at the cut
    data = whole.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.7)])  # the file ends mid-stream
    audio = write_wav(tmp_path / "a.wav", other.samples[:16000], 16000)
    _, err = _dub(capsys, cut, audio, tmp_path / "o.mp4")
    info = probe(tmp_path / "o.mp4")
    assert (info.width, info.height) == (321, 241)
    assert info.fps == 25
    assert "321x241, same as the input" in err and "(odd: coded H.264" in err
