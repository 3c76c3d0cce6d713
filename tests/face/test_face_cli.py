"""`xdub faces`: track table, thumbnails, and the no-face error."""

from __future__ import annotations

import numpy as np
from face_testkit import background, two_face_sequence, write_clip

from xdub.cli.main import main


def test_face_cli_prints_tracks_and_writes_thumbnails(tmp_path, capsys):
    video = write_clip(tmp_path / "two.mp4", two_face_sequence(8))
    out = tmp_path / "thumbs"
    code = main(["faces", str(video), "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "2 face track(s)" in captured.out
    assert "0-7" in captured.out and "8/8" in captured.out
    pngs = sorted(out.glob("*.png"))
    assert len(pngs) == 2 and all(p.stat().st_size > 1000 for p in pngs)
    from xdub.media import probe

    preview = probe(out / "tracks.mp4")  # both tracks drawn over the video
    assert preview.num_frames == 8
    assert not list(out.glob(".*partial"))  # no temp files left behind


def test_face_cli_no_face_is_exit_4(tmp_path, capsys):
    frames = np.stack([background(96, 128, seed=s) for s in range(4)])
    video = write_clip(tmp_path / "empty.mp4", frames)
    assert main(["faces", str(video)]) == 4
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == f"error: no face found in {video}"


def test_face_cli_unknown_detector_is_a_usage_error(tmp_path, capsys):
    video = write_clip(tmp_path / "empty.mp4", np.stack([background(96, 128)] * 2))
    assert main(["faces", str(video), "--detector", "nope"]) == 2
    err = capsys.readouterr().err
    assert "'nope' is not one of" in err and "Traceback" not in err


def test_face_cli_checkpoint_options(tmp_path, capsys):
    """`--checkpoint` names the folder whose face settings and refiner are used (a folder that
    is not a checkpoint is a one-line weights error); `--no-refine-landmarks` is accepted."""
    video = write_clip(tmp_path / "two.mp4", two_face_sequence(4))
    assert main(["faces", str(video), "--no-refine-landmarks"]) == 0
    assert "2 face track(s)" in capsys.readouterr().out
    code = main(["faces", str(video), "--checkpoint", str(tmp_path / "nope")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and err[-1].startswith("error:") and "nope" in err[-1]
