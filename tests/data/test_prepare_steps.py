"""The small steps of `xdub prepare`, each on hand-made input."""

from __future__ import annotations

import numpy as np
import pytest

from xdub.config.prepare import QualityRules, SegmentRules
from xdub.data.prepare.faces import head_pose_deg
from xdub.data.prepare.inputs import collect_videos
from xdub.data.prepare.quality import blockiness, check_quality, crop_scores
from xdub.data.prepare.reasons import Rejected
from xdub.data.prepare.segments import Segment, split_shots
from xdub.errors import ConfigError, MediaError
from xdub.face.landmarks import MEAN_SHAPE


def test_shots_are_trimmed_at_cuts_and_cut_into_clips():
    rules = SegmentRules(fps=25.0, clip_seconds=2.0, min_clip_seconds=1.0, trim_frames=2)
    kept, short = split_shots((100, 120), 260, rules)
    assert kept == [Segment(0, 0, 50), Segment(0, 50, 98), Segment(2, 122, 172),
                    Segment(2, 172, 222), Segment(2, 222, 260)]
    assert short == [Segment(1, 102, 118)]  # 16 frames < 1 s


def test_quality_scores_see_blur_darkness_and_blocks():
    rng = np.random.default_rng(0)
    sharp = rng.integers(0, 255, (96, 96, 3), np.uint8)
    flat = np.full((96, 96, 3), 128, np.uint8)
    assert crop_scores(sharp)[0] > 100 * max(crop_scores(flat)[0], 1e-3)
    blocks = np.kron(rng.integers(0, 255, (12, 12, 1)), np.ones((8, 8, 3))).astype(np.uint8)
    box = np.array([0, 0, 96, 96], np.float32)
    smooth = np.tile(np.linspace(0, 255, 96, dtype=np.uint8)[None, :, None], (96, 1, 3))
    assert blockiness(blocks, box) > 5 > blockiness(smooth, box)
    scores = {"sharpness": 500.0, "brightness": 20.0, "clipped": 0.0, "blockiness": 1.0}
    with pytest.raises(Rejected) as err:
        check_quality(scores, QualityRules())
    assert err.value.reason == "dark"


def test_head_pose_is_zero_for_the_mean_face_and_signed_for_a_turned_one():
    face = MEAN_SHAPE[None] * 40 + 100
    yaw, _ = head_pose_deg(face)
    assert abs(yaw[0]) < 1
    turned = face.copy()
    turned[0, 27:36, 0] += 20  # nose moved toward the image's right
    assert head_pose_deg(turned)[0][0] > 20


def test_inputs_from_folders_globs_and_lists(tmp_path):
    (tmp_path / "a").mkdir()
    for name in ("a/x.mp4", "a/y.MOV", "a/notes.txt", "z.mkv"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "list.txt").write_text("# raw videos\nz.mkv\n\n")
    found = collect_videos([str(tmp_path / "a"), str(tmp_path / "list.txt"),
                            str(tmp_path / "*.mkv")])
    assert [p.name for p in found] == ["x.mp4", "y.MOV", "z.mkv"]
    with pytest.raises(ConfigError):
        collect_videos([str(tmp_path / "missing.mp4")])


def test_decode_failure_after_probe_is_one_unreadable_row(tmp_path, monkeypatch):
    import xdub.data.prepare.video as video
    from xdub.config.prepare import PrepareConfig

    def broken(*args, **kwargs):
        raise MediaError("cannot decode x.mp4: Invalid data")

    monkeypatch.setattr(video, "probe_video", lambda path, rules: None)
    monkeypatch.setattr(video, "scan_video", broken)
    (tmp_path / "x.mp4").write_bytes(b"")
    (outcome,) = video.prepare_video(tmp_path / "x.mp4", "v000000", PrepareConfig(), None, None)
    assert outcome.row["reason"] == "unreadable" and "Invalid data" in outcome.row["detail"]


def test_cli_refuses_a_file_as_output_folder(tmp_path, capsys):
    from xdub.cli.main import main

    (tmp_path / "in.mp4").write_bytes(b"")
    (tmp_path / "out").write_text("a file")
    code = main(["prepare", str(tmp_path / "in.mp4"), "--out", str(tmp_path / "out")])
    assert code == 3 and capsys.readouterr().err.startswith("error: ")


def test_rerun_with_other_inputs_is_refused(tmp_path):
    from xdub.config.prepare import PrepareConfig
    from xdub.data.prepare import run_prepare
    from xdub.sharding import Worker

    for name in ("a.mp4", "b.mp4"):
        (tmp_path / name).write_bytes(b"not a video")
    out = tmp_path / "out"
    summary = run_prepare([tmp_path / "a.mp4"], out, PrepareConfig(), Worker(), report=False)
    assert summary.complete and summary.rejected == {"unreadable": 1}
    with pytest.raises(ConfigError, match="other inputs"):
        run_prepare([tmp_path / "a.mp4", tmp_path / "b.mp4"], out, PrepareConfig(), Worker())
