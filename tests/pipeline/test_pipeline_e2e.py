"""End to end with a randomly initialised tiny model: CLI, file output, debug videos, loading."""

import functools

import numpy as np
import pytest
from pipeline_testkit import run_cli, talking_clip

from xdub.config.infer import InferConfig, SamplingConfig, TimelineConfig
from xdub.media import iter_frames, probe, read_audio
from xdub.pipeline import load_pipeline, random_pipeline, save_pipeline
from xdub.types import Video


def test_dub_cli_random_tiny_model_non_square_30fps(capsys, tmp_path, clip_files, monkeypatch):
    # The real --random-init model (tiny DiT + tiny codec + log-mel), at 32 px crops for speed.
    monkeypatch.setattr("xdub.pipeline.loading.random_pipeline",
                        functools.partial(random_pipeline, crop_size=32))
    out, debug = tmp_path / "dubbed.mp4", tmp_path / "debug"
    rc, _, err = run_cli(capsys, "dub", clip_files["video"], clip_files["audio"], "-o", out,
                              "--random-init", "--steps", "1", "--chunk-frames", "16",
                              "--overlap", "2", "--seed", "1", "--save-debug", debug)
    assert rc == 0, err
    info = probe(out)
    assert (info.width, info.height) == (320, 240) and info.fps == pytest.approx(30.0)
    assert info.num_frames == 30 and info.duration == pytest.approx(1.0, abs=0.01)
    assert info.has_audio and read_audio(out).duration == pytest.approx(1.0, abs=0.03)
    assert "frames dubbed" in err and "time: generate" in err  # the summary table
    source = np.stack(list(iter_frames(clip_files["video"])))
    dubbed = np.stack(list(iter_frames(out)))
    changed = np.abs(dubbed.astype(int) - source.astype(int)).max(axis=-1) > 40
    assert 0.005 < changed.mean() < 0.25  # the lower face changed, the rest did not
    for name, size in (("crops", (64, 32)), ("track", (320, 240)),
                       ("side_by_side", (640, 240))):
        assert (probe(debug / f"{name}.mp4").width, probe(debug / f"{name}.mp4").height) == size


def test_save_pretrained_then_load_gives_identical_output(tmp_path):
    frames, _, other = talking_clip()
    video = Video(np.array(frames[:5]), 30.0)
    cfg = InferConfig(sampling=SamplingConfig(steps=1, seed=0, chunk_frames=8, overlap=1),
                      timeline=TimelineConfig(length="video"))
    pipe = random_pipeline(crop_size=32, seed=5, device="cpu")
    first = pipe(video, other, cfg).video.frames
    save_pipeline(pipe, tmp_path / "ckpt")
    loaded = load_pipeline(tmp_path / "ckpt", device="cpu")
    assert loaded.dubber == pipe.dubber
    assert np.array_equal(loaded(video, other, cfg).video.frames, first)


def test_checkpoint_with_occluder_net_saves_loads_and_needs_its_folder(tmp_path):
    """dubber.json `occluders.enabled` loads occluders/; without the folder: WeightsError."""
    import shutil
    from dataclasses import replace

    from xdub.config.infer import OccluderKeepConfig
    from xdub.config.occluders import OccluderNetConfig
    from xdub.errors import WeightsError
    from xdub.generation.folder import read_dubber_config, write_dubber_config
    from xdub.models.occluder_net import OccluderNet

    pipe = random_pipeline(crop_size=32, seed=5, device="cpu")
    folder = save_pipeline(pipe, tmp_path / "ckpt")
    OccluderNet(OccluderNetConfig(width=8, levels=3, groups=4)).save_pretrained(folder / "occluders")
    spec = read_dubber_config(folder)
    write_dubber_config(folder, replace(spec, occluders=OccluderKeepConfig(enabled=True)))
    loaded = load_pipeline(folder, device="cpu")
    assert isinstance(loaded.generator.occluder_net, OccluderNet)
    again = save_pipeline(loaded, tmp_path / "again")
    assert (again / "occluders" / "model.safetensors").is_file()
    shutil.rmtree(folder / "occluders")
    with pytest.raises(WeightsError, match="occluders/"):
        load_pipeline(folder, device="cpu")
