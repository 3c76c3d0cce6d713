"""Equivalence tests: identity edit reproduces the input; one chunk == unchunked; passthrough."""

import numpy as np
import pytest
import torch
from pipeline_testkit import identity_pipeline, psnr, talking_clip

from xdub.config.infer import InferConfig, SamplingConfig, TimelineConfig
from xdub.conditioning import crop_frame
from xdub.face.blend import paste_back
from xdub.face.mask import lower_face_mask
from xdub.pipeline import ChunkInput, IdentityGenerator, random_pipeline
from xdub.types import Video


class NoisyGenerator(IdentityGenerator):
    """Crops plus seeded noise: output depends on the rng stream, like a sampler's."""

    name = "noisy"

    def generate(self, chunk, rng):
        self.calls.append(int(chunk.crops.shape[0]))
        noise = torch.randint(-20, 21, chunk.crops.shape, generator=rng).numpy()
        return np.clip(chunk.crops.astype(int) + noise, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def clip():
    frames, own, other = talking_clip()
    return Video(np.array(frames), 30.0, own), other


def test_identity_edit_reproduces_the_input_through_chunks_and_paste_back(clip):
    video, audio = clip
    # Crop side 256 for a ~110 px face: the crop upsamples, so the round trip is near exact.
    pipe = identity_pipeline(crop=256, chunk_frames=8, overlap=3)
    result = pipe(video, audio, InferConfig())
    out = result.video
    assert out.frames.shape == video.frames.shape and out.fps == 30.0
    assert result.summary.chunks >= 4 and result.summary.frames_dubbed == 30
    assert psnr(out.frames, video.frames) > 45.0
    assert np.abs(out.frames.astype(int) - video.frames.astype(int)).max() <= 12


def test_chunked_identity_equals_unchunked(clip):
    video, audio = clip
    chunked = identity_pipeline(crop=64, chunk_frames=8, overlap=3)(video, audio).video
    single = identity_pipeline(crop=64, chunk_frames=64, overlap=0)(video, audio).video
    assert np.array_equal(chunked.frames, single.frames)


@pytest.mark.parametrize("kind", ["noisy", "model"])
def test_single_chunk_equals_the_unchunked_computation(clip, kind):
    video, audio = clip
    short = Video(np.array(video.frames[:7]), 30.0)
    if kind == "noisy":
        pipe = identity_pipeline(crop=64, generator=NoisyGenerator(64))
    else:  # a random tiny DiT + codec: audio windows, conditioning, guided sampling, decode
        pipe = random_pipeline(crop_size=32, device="cpu")
    cfg = InferConfig(sampling=SamplingConfig(seed=7, steps=1, chunk_frames=64, overlap=1),
                      timeline=TimelineConfig(length="video"))
    result = pipe(short, audio, cfg)
    assert result.summary.chunks == 1
    # By hand: crop every frame, one generator call with the same seed, paste back.
    table, face, size = result.faces, pipe.dubber.face, pipe.dubber.crop_size
    crops = np.stack([crop_frame(f, table.affines[k], size, face.align.interpolation)
                      for k, f in enumerate(short.frames)])
    gen = pipe.generator.configured(cfg.sampling)
    windows = gen.audio_windows(gen.prepare_audio(audio), 0, len(crops), 30.0)
    new = gen.generate(ChunkInput(crops, windows), torch.Generator().manual_seed(7))
    for k in range(len(crops)):
        mask = lower_face_mask(table.crop_landmarks[k], (size, size), face.mask)
        expected = paste_back(short.frames[k], new[k], table.affines[k], face.blend, mask)
        assert np.array_equal(result.video.frames[k], expected), k


def test_frames_without_the_face_pass_through_and_are_counted(clip):
    video, audio = clip
    frames = np.array(video.frames)
    frames[10:14] = frames[0, :1, :1]  # four frames of flat background colour: no face
    blank = Video(frames, 30.0, video.audio)
    result = identity_pipeline(crop=64)(blank, audio)
    assert result.summary.frames_without_face > 0
    missing = ~result.faces.has_face(result.timeline.source_index)
    assert missing[10:14].all()
    assert np.array_equal(result.video.frames[missing], frames[missing])


def test_still_image_is_a_one_frame_video_extended_to_the_audio(clip):
    video, audio = clip
    still = Video(video.frames[:1], 25.0)
    result = identity_pipeline(crop=64)(still, audio, InferConfig(
        timeline=TimelineConfig(extend="loop")))
    assert result.video.num_frames == 25 and result.summary.frames_dubbed == 25
    assert result.video.audio.duration == pytest.approx(1.0)


def test_model_generator_is_deterministic_with_a_seed(clip):
    video, audio = clip
    short = Video(np.array(video.frames[:6]), 30.0)
    pipe = random_pipeline(crop_size=32, device="cpu")
    cfg = InferConfig(sampling=SamplingConfig(steps=1, seed=3, chunk_frames=4, overlap=1),
                      timeline=TimelineConfig(length="video"))
    first = pipe(short, audio, cfg).video.frames
    second = pipe(short, audio, cfg).video.frames
    assert np.array_equal(first, second)
    assert not np.array_equal(first, short.frames)  # the random model did change the lips
