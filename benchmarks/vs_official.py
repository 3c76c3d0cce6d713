"""Stage-by-stage equivalence of xdub's full-scale path with the official X-Dub pipeline.

Both sides get the same reduced-size components with shared random weights (a narrow Wan2.2
VAE, a DiT of a few blocks, a narrow Whisper and wav2vec2, the audio projection), the same
crops, audio and seed, and dub two chained 77-frame chunks (the second starts from 5 motion
frames, as in the official long-video loop). Every stage is compared and its maximum
relative difference printed: max |xdub - official| / max |official|.

    python benchmarks/vs_official.py --official-repo PATH [--steps 4] [--size 128]

PATH is a checkout of KlingAIResearch/X-Dub or its bare git repository; nothing from it is
kept. Differences on purpose (fps, crops, chunk chaining, paste-back) are listed in
docs/design.md ("Equivalence with the official pipeline").
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
import official_side as official  # noqa: E402

from xdub.audio.speech import WhisperWav2VecFeaturizer  # noqa: E402
from xdub.audio.whisper_convert import convert_openai_whisper  # noqa: E402
from xdub.config.audio import SpeechEncoderConfig  # noqa: E402
from xdub.config.codec import WanVAEConfig  # noqa: E402
from xdub.config.diffusion import DiffusionConfig  # noqa: E402
from xdub.config.model import DiTConfig  # noqa: E402
from xdub.conditioning import encode_frames  # noqa: E402
from xdub.diffusion import sample  # noqa: E402
from xdub.generation import ChunkInput  # noqa: E402
from xdub.generation.generators import ModelGenerator  # noqa: E402
from xdub.generation.guided import SamplerSettings, guided_sample  # noqa: E402
from xdub.generation.samplers import SAMPLERS, register_sampler  # noqa: E402
from xdub.models.codec import wan_keys  # noqa: E402
from xdub.models.codec.wan import WanVAECodec, build_autoencoder  # noqa: E402
from xdub.models.dit import build_on_meta, load_weights  # noqa: E402
from xdub.models.official import _fill_position_tables  # noqa: E402

CLIP_FRAMES, MOTION_FRAMES, FPS = 77, 5, 25  # the official long-video loop's constants
SAMPLE_RATE = 16000


@dataclass(frozen=True)
class Sizes:
    """Reduced widths shared by both sides."""

    crop: int = 128
    steps: int = 4
    dit_dim: int = 256
    dit_layers: int = 2
    vae_dim: int = 16
    whisper_width: int = 64
    wav2vec_width: int = 32
    text_dim: int = 64
    seed: int = 42

    def dit_config(self) -> DiTConfig:
        return DiTConfig(dim=self.dit_dim, num_layers=self.dit_layers,
                         num_heads=self.dit_dim // 128,  # head_dim 128, as in Wan
                         ffn_dim=2 * self.dit_dim, text_dim=self.text_dim,
                         audio_dim=self.whisper_width + self.wav2vec_width, audio_proj_dim=128,
                         audio_proj_layers=1, audio_proj_heads=2)


@dataclass
class Report:
    """Max relative difference per stage (insertion order = pipeline order)."""

    rows: dict[str, float] = field(default_factory=dict)

    def add(self, stage: str, ours: torch.Tensor, theirs: torch.Tensor) -> None:
        ours, theirs = ours.detach().double(), theirs.detach().double()
        assert ours.shape == theirs.shape, f"{stage}: {tuple(ours.shape)} vs {tuple(theirs.shape)}"
        scale = theirs.abs().max().clamp_min(1e-12)
        self.rows[stage] = float((ours - theirs).abs().max() / scale)

    def worst(self) -> float:
        return max(self.rows.values())

    def summary(self) -> dict[str, float]:
        """The rows with every denoising step folded into one row per stage (the max)."""
        folded: dict[str, float] = {}
        for stage, value in self.rows.items():
            key = re.sub(r"step \d+ ", "every step: ", stage)
            folded[key] = max(folded.get(key, 0.0), value)
        return folded

    def table(self, every_step: bool = False) -> str:
        rows = self.rows if every_step else self.summary()
        lines = ["| stage | max rel. diff |", "|---|---|"]
        lines += [f"| {k} | {v:.1e} |" for k, v in rows.items()]
        return "\n".join(lines)


def test_inputs(sizes: Sizes, frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Smooth moving crops `[T, S, S, 3]` uint8 and a speech-like 16 kHz track."""
    rng = np.random.default_rng(sizes.seed)
    s = sizes.crop
    yy, xx = np.mgrid[0:s, 0:s] / s
    phase = rng.uniform(0, 2 * np.pi, size=(3, 3))
    crops = np.empty((frames, s, s, 3), np.uint8)
    for t in range(frames):
        for c in range(3):
            a, b, d = phase[c]
            wave = np.sin(6 * xx + a + 0.1 * t) * np.cos(5 * yy + b - 0.07 * t)
            wave = wave + 0.3 * np.sin(d + t)
            crops[t, :, :, c] = np.clip(127.5 + 100 * wave, 0, 255).astype(np.uint8)
    seconds = frames / FPS + 0.2
    time_s = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3.0 * time_s)
    audio = envelope * (np.sin(2 * np.pi * 180 * time_s) + 0.4 * np.sin(2 * np.pi * 720 * time_s))
    audio = audio + 0.05 * rng.standard_normal(len(time_s))
    return crops, (0.3 * audio).astype(np.float32)


def shared_encoders(off, sizes: Sizes, folder: Path) -> tuple[Path, Path]:
    """Random narrow Whisper (OpenAI .pt) and wav2vec2 (transformers folder) on disk."""
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2Model

    whisper_pt = folder / "whisper.pt"
    dims = official.whisper_dims(80, sizes.whisper_width, 2, 2)
    official.build_whisper_checkpoint(off, dims, whisper_pt, sizes.seed)
    torch.manual_seed(sizes.seed)
    w = sizes.wav2vec_width
    cfg = Wav2Vec2Config(hidden_size=w, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=2 * w, conv_dim=(w,) * 7, num_conv_pos_embeddings=16,
                         num_conv_pos_embedding_groups=2, vocab_size=32)
    wav2vec_dir = folder / "wav2vec2"
    Wav2Vec2Model(cfg).eval().save_pretrained(wav2vec_dir)
    Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=False).save_pretrained(
        wav2vec_dir)
    return whisper_pt, wav2vec_dir


def our_codec(off_vae, sizes: Sizes) -> WanVAECodec:
    """Our codec holding the official VAE's weights (converted key by key)."""
    cfg = WanVAEConfig(base_dim=sizes.vae_dim, decoder_base_dim=sizes.vae_dim, slicing=False)
    vae = build_autoencoder(cfg)
    vae.load_state_dict(wan_keys.original_to_diffusers(off_vae.model.state_dict()), strict=True)
    return WanVAECodec(cfg, vae.eval()).eval()


def our_dit(off_dit, cfg: DiTConfig, context: torch.Tensor, dtype: torch.dtype = torch.float32):
    """Our DiT holding the official model's weights (same key names), empty-prompt context."""
    state = {k: v.clone() for k, v in off_dit.state_dict().items()}
    model = build_on_meta(cfg)
    _fill_position_tables(model, state, next(off_dit.parameters()).device)
    load_weights(model, state, dtype=dtype, where="official model")
    model.set_null_context(context[0])
    return model.eval()


class OurRecorder:
    """Registers a recording Euler sampler and hooks the DiT: every stream and step kept."""

    NAME = "recording_euler"

    def __init__(self, dit: torch.nn.Module) -> None:
        self.streams: list[torch.Tensor] = []
        self.merged: list[torch.Tensor] = []
        self.inputs: list[torch.Tensor] = []
        dit.register_forward_hook(lambda _m, _a, out: self.streams.append(out.detach().clone()))
        SAMPLERS.pop(self.NAME, None)  # a later harness run in the same process re-registers
        register_sampler(self.NAME)(self._sample)

    def _sample(self, model_fn, noise, sigmas):
        def recording(x, sigma, step):
            v = model_fn(x, sigma, step)
            self.inputs.append(x.detach().clone())
            self.merged.append(v.detach().clone())
            return v

        return sample(recording, noise, sigmas)

    def clear(self) -> None:
        self.streams.clear(), self.merged.clear(), self.inputs.clear()


def run(repo: str, sizes: Sizes, log=print) -> Report:
    """Build both sides, dub two chained chunks, compare every stage."""
    torch.set_grad_enabled(False)
    off = official.import_official(repo)
    report = Report()
    total = 2 * CLIP_FRAMES - MOTION_FRAMES
    crops, audio = test_inputs(sizes, total)
    folder = official.scratch_folder("xdub_vs_official_")
    cfg = sizes.dit_config()

    # Audio encoders: the official processors vs our featurizer (converted Whisper weights).
    whisper_pt, wav2vec_dir = shared_encoders(off, sizes, folder)
    context = torch.randn(1, 512, sizes.text_dim, generator=torch.Generator().manual_seed(1))
    context[:, 3:] = 0  # the empty prompt's encoding: a few real tokens, zero padding
    prompt = official.EmptyPromptEncoder(context, tokens=3)
    off_vae = official.build_vae(off, sizes.vae_dim, sizes.vae_dim, sizes.seed)
    off_dit = official.build_dit(off, cfg, sizes.seed)
    pipe = official.build_pipeline(off, off_dit, off_vae, whisper_pt, wav2vec_dir, prompt,
                                   CLIP_FRAMES)
    recorder = official.Recorder(pipe)
    t0 = time.perf_counter()
    off_whisper = pipe.whisper_processor.audio2feat(audio)
    off_wav2vec = pipe.wav2vec_processor.audio2feat(audio)
    speech = SpeechEncoderConfig(whisper_dir=str(convert_openai_whisper(whisper_pt, folder / "wh")),
                                 wav2vec_dir=str(wav2vec_dir))
    featurizer = WhisperWav2VecFeaturizer(speech)
    prepared = featurizer.encode(audio)
    report.add("audio: whisper features", prepared.streams[0], off_whisper[:, -1])
    report.add("audio: wav2vec2 features", prepared.streams[1], off_wav2vec[:, -1])
    log(f"audio encoders compared ({time.perf_counter() - t0:.1f} s)")

    codec, dit = our_codec(off_vae, sizes), our_dit(off_dit, cfg, context)
    ours = OurRecorder(dit)
    diffusion = DiffusionConfig(num_inference_steps=sizes.steps, sampler=OurRecorder.NAME,
                                border_latents=1)  # as the official inference script
    generator = ModelGenerator(dit, codec, featurizer, sizes.crop,
                               SamplerSettings(diffusion, sizes.steps), motion_frames=MOTION_FRAMES)
    motion = None
    for index, start in enumerate((0, CLIP_FRAMES - MOTION_FRAMES)):
        t0 = time.perf_counter()
        name = f"chunk {index + 1}"
        clip = crops[start:start + CLIP_FRAMES]
        recorder.streams.clear(), recorder.merged.clear(), recorder.inputs.clear()
        with contextlib.redirect_stdout(sys.stderr):  # the official units print progress
            video, outputs = pipe(
                prompt="", ref_video=[Image.fromarray(f) for f in clip], start_idx=start,
                whisper_feat=off_whisper, wav2vec_feat=off_wav2vec,
                motion_video=None if motion is None else [Image.fromarray(f) for f in motion],
                height=sizes.crop, width=sizes.crop, num_frames=CLIP_FRAMES,
                motion_latents_num_frames=2, ref_cfg_scale=diffusion.ref_scale,
                audio_cfg_scale=diffusion.audio_scale, use_dynamic_cfg=True,
                replace_border_latents=True, replace_border_latents_width=1,
                num_inference_steps=sizes.steps, seed=sizes.seed, output_type="floatpoint",
                progress_bar_cmd=lambda x: x)
        ours.clear()
        windows = generator.audio_windows(prepared, start, CLIP_FRAMES, FPS)
        chunk = ChunkInput(clip, windows, motion_crops=motion)
        motion_latents = None if motion is None else encode_frames(codec, motion)
        cond = generator.condition(chunk, motion_latents)
        rng = torch.Generator().manual_seed(sizes.seed)  # the official noise: CPU, same seed
        latents = guided_sample(dit, cond, generator.sampler, rng)
        decoded = codec.decode(latents)
        report.add(f"{name}: audio features per latent frame", cond.audio_features,
                   outputs["audio_feats"][-1:])
        report.add(f"{name}: VAE latents of the source crops", cond.source_latents,
                   outputs["ref_latents"][-1:])
        if motion_latents is not None:
            report.add(f"{name}: VAE latents of the motion frames", motion_latents,
                       outputs["motion_latents"])
        motion_latent_frames = 0 if motion is None else 2
        for step in range(sizes.steps):
            theirs, mine = recorder.streams[step].chunk(3), ours.streams[step].chunk(3)
            for label, a, b in zip(("null", "ref", "ref+audio"), mine, theirs):
                report.add(f"{name}: step {step + 1} stream {label}", a, b)
            report.add(f"{name}: step {step + 1} guided merge", ours.merged[step],
                       recorder.merged[step])
            # (the pinned border ring is compared through what the model makes of it)
            inner = (slice(None), slice(None), slice(motion_latent_frames, None),
                     slice(1, -1), slice(1, -1))
            report.add(f"{name}: step {step + 1} latents in", ours.inputs[step][inner],
                       recorder.inputs[step][inner])
        report.add(f"{name}: final latents", latents, outputs["latents"])
        report.add(f"{name}: decoded frames", decoded[0], video[0])
        # Both sides continue from the official chunk's last frames (quantised as the official
        # loop's PIL frames are), so each chunk is compared on identical inputs.
        frames = ((video[0].clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 3, 0)
        motion = frames[-MOTION_FRAMES:].numpy()
        log(f"{name} compared ({time.perf_counter() - t0:.1f} s)")
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--official-repo", required=True, help="X-Dub checkout or bare git repo")
    parser.add_argument("--steps", type=int, default=Sizes.steps)
    parser.add_argument("--size", type=int, default=Sizes.crop, help="crop side (multiple of 32)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--every-step", action="store_true", help="one row per step")
    parser.add_argument("--json", help="also write every row here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    report = run(args.official_repo, Sizes(crop=args.size, steps=args.steps),
                 log=lambda m: print(m, file=sys.stderr, flush=True))
    print(report.table(args.every_step))
    print(f"worst: {report.worst():.2e} (target <= 1e-4, float32)")
    if args.json:
        Path(args.json).write_text(json.dumps(report.rows, indent=1))


if __name__ == "__main__":
    main()
