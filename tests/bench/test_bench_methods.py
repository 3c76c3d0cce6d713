"""The method registry, black-box contract checks, the codec ceiling and the weight slots."""

from __future__ import annotations

import numpy as np
import pytest

from xdub.bench.methods import (
    DubMethod,
    MethodContext,
    build_methods,
    codec_roundtrip,
    register_method,
)
from xdub.bench.perceptual import fid, identity_cosine, load_backend, lpips, register_backend
from xdub.errors import ConfigError, WeightsError
from xdub.types import Audio, Video


def _video(num: int = 3, value: int = 10) -> Video:
    return Video(np.full((num, 16, 16, 3), value, np.uint8), 25.0)


def test_reference_methods_get_the_answer_and_results_are_checked():
    copy, oracle = build_methods(["copy_input", "oracle"])
    source, answer, audio = _video(value=10), _video(value=200), Audio(np.zeros(1920, np.float32))
    assert copy.run(source, audio, answer, seed=0)[0].frames[0, 0, 0, 0] == 10
    video, info = oracle.run(source, audio, answer, seed=0)
    assert video.frames[0, 0, 0, 0] == 200 and info == {}
    broken = DubMethod("short", lambda v, a: Video(v.frames[:1], v.fps))
    with pytest.raises(ConfigError, match="short"):
        broken.run(source, audio, answer, seed=0)


def test_registry_specs_and_errors():
    register_method("double", lambda ctx: DubMethod(ctx.name or "double", lambda v, a: v))
    names = [m.name for m in build_methods(["double", "xdub.bench.methods:copy_input"])]
    assert names == ["double", "copy_input"]
    with pytest.raises(ConfigError, match="unknown method"):
        build_methods(["nope"])
    with pytest.raises(ConfigError, match="duplicate"):
        build_methods(["copy_input", "copy_input"])
    with pytest.raises(ConfigError, match="codec"):
        build_methods(["codec_ceiling"])
    with pytest.raises(ConfigError, match="not found"):
        build_methods([], checkpoints=["/nonexistent/ckpt"])


def test_codec_roundtrip_keeps_shape(tmp_path):
    import torch

    from xdub.config.codec import TinyCodecConfig
    from xdub.models.codec import TinyVideoCodec

    torch.manual_seed(0)
    TinyVideoCodec(TinyCodecConfig(image_size=16)).save_pretrained(tmp_path / "codec")
    (method,) = build_methods(["codec_ceiling"], codec=str(tmp_path / "codec"))
    assert method.source == "answer"
    frames = np.random.default_rng(0).integers(0, 256, (5, 18, 22, 3), dtype=np.uint8)
    from xdub.bench.methods import _load_codec

    out = codec_roundtrip(_load_codec(str(tmp_path / "codec"), "cpu"), frames, chunk=2)
    assert out.shape == frames.shape and out.dtype == np.uint8


def test_weight_slots_fail_clearly_then_accept_a_backend(tmp_path):
    with pytest.raises(WeightsError, match="needs weights"):
        load_backend("fid", "")
    with pytest.raises(WeightsError, match="not found"):
        lpips(
            np.zeros((1, 8, 8, 3), np.uint8), np.zeros((1, 8, 8, 3), np.uint8), tmp_path / "x.pth"
        )
    weights = tmp_path / "feat.pth"
    weights.write_bytes(b"stub")
    with pytest.raises(WeightsError, match="register_backend"):
        load_backend("fvd", weights)
    register_backend(
        "fid", lambda path: lambda frames: frames.reshape(len(frames), -1)[:, :2] / 255.0
    )
    frames = np.random.default_rng(0).integers(0, 256, (50, 4, 4, 3), dtype=np.uint8)
    assert fid(frames, frames, weights) == pytest.approx(0.0, abs=1e-9)


def test_identity_cosine_with_a_user_model():
    class MeanColour:
        def embed(self, faces: np.ndarray) -> np.ndarray:
            return faces.reshape(len(faces), -1, 3).mean(axis=1) + 1.0

    faces = np.random.default_rng(1).integers(0, 256, (4, 8, 8, 3), dtype=np.uint8)
    assert identity_cosine(MeanColour(), faces, faces) == pytest.approx(1.0)
    assert identity_cosine(MeanColour(), faces, 255 - faces) < 1.0
    assert MethodContext().device == "cpu"


def test_pipeline_like_factory_products_are_wrapped():
    from types import SimpleNamespace

    from xdub.bench.methods import as_method

    class FakePipeline:
        """Quacks like DubPipeline: __call__(video, audio, cfg) -> result with .video/.summary."""

        dubber = SimpleNamespace(chunk_frames=10, overlap=2)
        generator = SimpleNamespace(name="codec-ceiling")
        bench_source = "answer"

        def __call__(self, video, audio, cfg):
            self.seed = cfg.sampling.seed
            summary = SimpleNamespace(frames_without_face=1, chunks=3)
            return SimpleNamespace(video=video, summary=summary)

    pipe = FakePipeline()
    method = as_method(pipe, "pkg.mod:make")
    assert (method.name, method.source, method.seeded) == ("codec-ceiling", "answer", True)
    source, answer, audio = _video(4, 10), _video(4, 200), Audio(np.zeros(2560, np.float32))
    video, info = method.run(source, audio, answer, seed=7)
    assert video.frames[0, 0, 0, 0] == 200 and pipe.seed == 7
    assert info == {"no_face_frac": 0.25, "chunks": 3.0}
    # chunks [0,10) [8,18) [16,25): content changes at 8 and 16 (starts) and 10, 18 (ends)
    assert list(method.chunk_starts(25)) == [8, 10, 16, 18]
    with pytest.raises(ConfigError, match="not a method"):
        as_method(object(), "pkg.mod:make")
