"""Phase offload: each phase's models move to the compute device for that phase only, and the
outputs are the same with the option on and off."""

import numpy as np
import torch
from pipeline_testkit import talking_clip

from xdub.config.infer import InferConfig, SamplingConfig, TimelineConfig
from xdub.generation.offload import PhaseOffload, modules_of
from xdub.pipeline import random_pipeline
from xdub.types import Video

CFG = InferConfig(sampling=SamplingConfig(steps=1, seed=3, chunk_frames=4, overlap=1),
                  timeline=TimelineConfig(length="video"))


def _clip():
    frames, own, other = talking_clip()
    return Video(np.array(frames[:6]), 30.0, own), other


def _log_moves(monkeypatch, names: dict[int, str]) -> list[tuple[str, str]]:
    """Record every `Module.to(device)` of the named modules as (name, device)."""
    log: list[tuple[str, str]] = []
    original = torch.nn.Module.to

    def to(self, *args, **kwargs):
        if id(self) in names:
            log.append((names[id(self)], str(args[0] if args else kwargs.get("device"))))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.nn.Module, "to", to)
    return log


def test_offload_gives_the_same_video():
    video, audio = _clip()
    plain = random_pipeline(crop_size=32, device="cpu")
    expected = plain(video, audio, CFG).video.frames
    plain.generator.enable_offload("cpu")
    assert plain.generator.offload is not None
    assert np.array_equal(plain(video, audio, CFG).video.frames, expected)


def test_each_phase_moves_only_its_models_and_parks_them(monkeypatch):
    video, audio = _clip()
    pipe = random_pipeline(crop_size=32, device="cpu")
    gen = pipe.generator
    gen.offload = PhaseOffload(compute="cpu", idle="cpu")
    names = {id(gen.dit): "dit", id(gen.codec): "codec"}
    log = _log_moves(monkeypatch, names)
    gen.dit.register_forward_pre_hook(lambda *_: log.append(("dit", "forward")))
    pipe(video, audio, CFG)
    assert log, "no model was moved"
    # Per chunk: codec in (encode), out; DiT in, its forward(s), out; codec in (decode), out.
    steps = [entry for k, entry in enumerate(log) if k == 0 or entry != log[k - 1]
             or entry[1] != "forward"]  # one entry per run of forwards
    chunk = [("codec", "cpu")] * 2 + [("dit", "cpu"), ("dit", "forward"), ("dit", "cpu")] + [
        ("codec", "cpu")] * 2
    chunks = len(steps) // len(chunk)
    assert chunks >= 2 and steps == chunk * chunks

def test_park_and_phase_use_the_configured_devices(monkeypatch):
    owner = type("Featurizer", (), {})()
    owner.encoder, owner.rate = torch.nn.Linear(2, 2), 16_000
    assert modules_of(owner) == [owner.encoder]
    log = _log_moves(monkeypatch, {id(owner.encoder): "encoder"})
    offload = PhaseOffload(compute="cpu", idle="meta")
    with torch.inference_mode(), offload.phase(owner):  # `generate` runs in inference mode
        assert owner.encoder.weight.device.type == "cpu"  # computes on the compute device
    assert owner.encoder.weight.device.type == "meta"  # parked on the idle device
    assert not owner.encoder.weight.is_inference()  # moved as an ordinary (trainable) tensor
    assert log == [("encoder", "cpu"), ("encoder", "meta")]


def test_load_pipeline_offload_option():
    from xdub.pipeline import load_pipeline

    pipe = load_pipeline(random_init=True, device="cpu", offload="cpu")
    assert pipe.generator.offload.idle == torch.device("cpu")
    assert load_pipeline(random_init=True, device="cpu").generator.offload is None
