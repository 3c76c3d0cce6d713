"""Export to mp4/wav/npz/json reads back; the CLI writes clips and pairs."""

import json

import numpy as np

from xdub.cli.main import main
from xdub.config import replace
from xdub.config.synth import SCENARIOS
from xdub.synth.clip import plan_clips, render_clip
from xdub.synth.export import export_clip, export_plan, load_masks, load_sidecar
from xdub.media import read_audio, read_video


def _cfg(**changes):
    return replace(SCENARIOS["occlusion"], **{"size": (96, 80), "duration": 1.2, **changes})


def test_export_reads_back(tmp_path):
    clip = render_clip(3, _cfg())
    paths = export_clip(clip, tmp_path, "clip")
    video = read_video(paths.video)
    assert video.frames.shape == clip.frames.shape
    err = np.abs(video.frames.astype(np.float32) - clip.frames).mean()
    assert err < 6.0  # lossy H.264, but the same pictures
    assert video.audio is not None
    audio = read_audio(paths.audio)
    assert audio.sample_rate == 16000 and len(audio.samples) == len(clip.audio.samples)
    assert np.abs(audio.samples - clip.audio.samples).max() < 1e-3  # 16-bit PCM
    masks = load_masks(paths.masks)
    assert np.array_equal(masks["mouth_mask"], clip.truth.mouth_mask)
    assert np.array_equal(masks["occluder_mask"], clip.truth.occluder_mask)
    side = load_sidecar(paths.sidecar)
    assert side["seed"] == 3 and side["scenario"] == "occlusion" and side["size"] == [96, 80]
    assert side["engine_version"] == clip.meta["engine_version"]
    assert np.allclose(side["frames"]["landmarks"], clip.truth.landmarks, atol=1e-3)
    assert side["frames"]["mouth_params"].shape == (30, 5)
    assert side["files"]["masks"] == "clip.masks.npz" and side["phones"]
    assert not list(tmp_path.glob(".*partial*"))  # no temp files left behind


def test_streamed_export_matches_in_memory_clip(tmp_path):
    cfg = _cfg(duration=0.6)
    paths = export_plan(plan_clips(5, cfg)[0], tmp_path, "streamed")
    clip = render_clip(5, cfg)
    side = load_sidecar(paths.sidecar)
    assert np.allclose(side["frames"]["face_box"], clip.truth.face_box, atol=1e-3)
    assert np.array_equal(load_masks(paths.masks)["mouth_mask"], clip.truth.mouth_mask)


def test_cli_writes_clips_and_pairs(tmp_path):
    out = tmp_path / "synth"
    code = main(["synth", "--scenario", "stylized", "--num", "2", "--seed", "4", "--out",
                 str(out), "--size", "96x64", "--duration", "0.4", "--fps", "20"])
    assert code == 0
    for seed in (4, 5):
        for ext in ("mp4", "wav", "json", "masks.npz"):
            assert (out / f"stylized_{seed:06d}.{ext}").is_file()
    meta = json.loads((out / "stylized_000004.json").read_text())
    assert meta["size"] == [96, 64] and meta["fps"] == 20.0 and meta["num_frames"] == 8
    code = main(["synth", "--scenario", "standard", "--pairs", "--out", str(out), "--size",
                 "64x64", "--duration", "0.4"])
    assert code == 0
    assert (out / "standard_000000_a.mp4").is_file() and (out / "standard_000000_b.mp4").is_file()


def test_cli_rejects_bad_input(tmp_path):
    assert main(["synth", "--out", str(tmp_path), "--size", "big"]) == 2
    assert main(["synth", "--out", str(tmp_path), "--scenario", "nope"]) == 2
    assert main(["synth", "--out", str(tmp_path), "--config", str(tmp_path / "x.yaml")]) == 2
