"""Stage 1 of X-Dub: a mask-based inpainting DiT trained by self-reconstruction.

A window of F aligned face crops is conditioned on [masked crops + mask] (source stream),
reference crops of the same clip drawn away from the window, and the clip's own audio; the
target is the window itself. Single clips only: no paired data is ever used (the synthetic
engine's pairs exist for evaluation). Loss: flow matching, weighted inside the mouth mask.
Reference/audio conditions are dropped at random so three-stream guidance works; the first
latent frames are sometimes given clean (motion frames) so clips can be generated in chunks.
The frozen codec encodes on the fly. Output: the loop's run dir + `inpainter/` (EMA weights).
With `lip_prior.enabled` a prior-only run (`lip_prior/`, `xdub.train.prior_runs`) comes first:
the editor's audio lip prior, its guess starting from the window's identity references (the
masked frames hold no mouth), learns the target windows directly; the DiT then trains on
the source as the frozen prior rewrote it (`SourceFusedDiT`), and the exported inpainter keeps
it.
Imports: torch, numpy, xdub.{config, sharding, models, diffusion, audio, conditioning, data,
train}.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import torch

from xdub.audio import build_featurizer
from xdub.conditioning import (
    assemble_condition,
    encode_condition,
    encode_frames,
    latent_region,
)
from xdub.config import replace
from xdub.config.train import STAGE1_EVAL_SEED_BASE, InpainterSpec, Stage1Config
from xdub.data.crops import attach_latents, prepare_clip
from xdub.data.dataset import WindowDataset, window_loader
from xdub.data.prepare.store import PreparedClipSource
from xdub.data.sources import ClipSource, SynthClipSource, VideoClipSource
from xdub.diffusion import (
    TrainSigmaSampler,
    drop_for_training,
    noisy_input,
    sigma_to_timestep,
    velocity_target,
)
from xdub.models import DiTConditioning, XDubDiT, build_dit
from xdub.models.codec import VideoCodec
from xdub.models.fusion import SourceFusedDiT
from xdub.models.lip_prior import LipPrior
from xdub.sharding import Worker
from xdub.train import loop, processes
from xdub.train.batches import InpaintBatch
from xdub.train.inpaint import Inpainter, check_compatible, load_codec, weights_version
from xdub.train.losses import flow_error_logs, region_flow_loss
from xdub.train.prior_runs import build_prior, final_weights, run_prior
from xdub.train.samples import trim_clip, write_samples

log = logging.getLogger(__name__)

PRIOR_RUN = "lip_prior"  # the prior's own run, inside the stage-1 run folder


def make_source(cfg: Stage1Config, held_out: bool = False) -> ClipSource:
    """Training clips (or `sample_clips` held-out ones: seeds from STAGE1_EVAL_SEED_BASE)."""
    if cfg.data.source == "video":
        return VideoClipSource(cfg.data.video)
    if cfg.data.source == "prepared":  # samples come from the training clips too
        return PreparedClipSource(cfg.data.prepared)
    if held_out:
        seeds = [STAGE1_EVAL_SEED_BASE + k for k in range(cfg.sample_clips)]
        return SynthClipSource(cfg.data.synth, seeds)
    return SynthClipSource(cfg.data.synth)


def spec_of(cfg: Stage1Config) -> InpainterSpec:
    """What the trained folder must remember to be used without this config."""
    d = cfg.data
    return InpainterSpec(mode="inpaint", codec=cfg.codec.kind, audio=cfg.audio, face=cfg.face,
                         diffusion=cfg.diffusion, window_frames=d.window_frames,
                         ref_frames=d.ref_frames, ref_min_gap=d.ref_min_gap,
                         ref_choice=cfg.ref_choice, motion_frames=cfg.motion_frames,
                         mask_hold_s=d.mask_hold_s, wan_weights=cfg.codec.wan.weights_path)


def _prior(cfg: Stage1Config, weights: str | Path | None = None) -> LipPrior:
    """The inpainter's lip prior (seeded fresh, or with `weights`)."""
    assert cfg.model.audio_dim is not None  # Stage1Config checks it
    return build_prior(cfg.lip_prior, cfg.model.latent_channels, cfg.model.audio_dim,
                       cfg.loop.seed + 1, weights)


def build_dit_for(cfg: Stage1Config, seed: int | None = None,
                  prior_file: str | Path | None = None) -> torch.nn.Module:
    """Fresh DiT (seeded), optionally warm-started from `init_from` where shapes match, wrapped
    in `SourceFusedDiT` when `source_fusion` asks for it or a lip prior is configured (frozen,
    from `prior_file`: its pretraining run)."""
    dit = build_dit(cfg.model, seed=cfg.loop.seed if seed is None else seed)
    if cfg.init_from:
        init = XDubDiT.from_pretrained(cfg.init_from).state_dict()
        own = dit.state_dict()
        usable = {k: v for k, v in init.items() if k in own and v.shape == own[k].shape}
        dit.load_state_dict(usable, strict=False)
        log.info("init_from %s: %d/%d tensors loaded", cfg.init_from, len(usable), len(own))
    if cfg.lip_prior.enabled:
        return SourceFusedDiT(dit, lip_prior=_prior(cfg, prior_file).requires_grad_(False))
    return SourceFusedDiT(dit) if cfg.source_fusion == "aligned_add" else dit


def prior_step(cfg: Stage1Config, codec: VideoCodec, prior: torch.nn.Module,
               batch: InpaintBatch) -> tuple[torch.Tensor, dict[str, float]]:
    """One micro-batch of the prior alone: its regression loss on the target window (mouth
    weighted as the prior's config says)."""
    cond, target = _condition(cfg, codec, batch)
    region = latent_region(batch.mouth_mask, codec.temporal_factor, codec.spatial_factor)
    loss = prior.loss(cond, target, region.to(target))  # type: ignore[operator]
    return loss, {"prior": loss.item()}


def _condition(cfg: Stage1Config, codec: VideoCodec,
               batch: InpaintBatch) -> tuple[DiTConditioning, torch.Tensor]:
    """(conditioning, target latents [B, C, F', h, w]) from cached latents or from crops."""
    device = next(codec.parameters()).device
    with_refs = cfg.data.ref_frames > 0
    if batch.target_latents is not None:  # encoded once per clip by the data pipeline
        refs = batch.ref_latents.to(device) if with_refs else None
        cond = assemble_condition(batch.source_latents.to(device), refs, batch.audio,
                                  codec.temporal_factor)
        return cond, batch.target_latents.to(device)
    cond = encode_condition(codec, batch.crops, mode="inpaint", mask=batch.mask,
                            ref_crops=batch.ref_crops if with_refs else None,
                            audio_windows=batch.audio)
    return cond, encode_frames(codec, batch.crops)


def step_fn(cfg: Stage1Config, codec: VideoCodec, gen: torch.Generator, worker: Worker,
            model: torch.nn.Module, batch: InpaintBatch) -> tuple[torch.Tensor, dict[str, float]]:
    """One micro-batch of self-reconstruction: encode, drop, noise, predict, weighted loss.
    Random draws are made for the global batch and this process keeps its rows, so any
    number of processes with the same global batch trains the same model."""
    cond, target = _condition(cfg, codec, batch)
    tf, sf = codec.temporal_factor, codec.spatial_factor
    region = latent_region(batch.mouth_mask, tf, sf).to(target)
    inside = latent_region(batch.mask, tf, sf).to(target)
    base = cfg.outside_weight + (1.0 - cfg.outside_weight) * inside
    cond, valid = drop_for_training(cond, target, cfg.diffusion, cfg.motion_frames, cfg.p_motion,
                                    gen, worker)
    batch_size, world = target.shape[0], worker.count
    sigma = worker.own_rows(TrainSigmaSampler.from_config(cfg.diffusion)(batch_size * world, gen))
    sigma = sigma.to(target.device)
    noise = worker.own_rows(torch.randn((batch_size * world, *target.shape[1:]), generator=gen))
    noise = noise.to(target)
    pred = model(noisy_input(target, noise, sigma),
                 sigma_to_timestep(sigma, cfg.diffusion.num_train_timesteps), cond)
    velocity = velocity_target(target, noise)
    loss = region_flow_loss(pred, velocity, region, cfg.mouth_weight, valid, base).mean()
    return loss, {**flow_error_logs(pred, velocity, region, valid), "sigma": float(sigma.mean())}


def train_stage1(cfg: Stage1Config, run_dir: str | Path) -> loop.LoopResult:
    """Train (or resume) the inpainter in `run_dir`; writes `run_dir/inpainter/` at the end."""
    torch.set_num_threads(cfg.loop.num_threads)
    run_dir, state = Path(run_dir), processes.process_state()
    # 1. Frozen codec and audio featurizer; the DiT must fit both.
    codec = load_codec(cfg.codec, cfg.codec_weights).to(state.device)
    featurizer = build_featurizer(cfg.audio, device=state.device)
    check_compatible(cfg.model, codec, featurizer, "inpaint", cfg.data.window_frames)
    # 2. Data: windows of single clips, prepared with the shared conditioning code.
    d = cfg.data
    prepare = partial(prepare_clip, face=cfg.face, featurizer=featurizer,
                      mask_hold_s=d.mask_hold_s)
    cache = cfg.cache_latents and codec.temporal_factor == 1 and (
        d.num_workers == 0 or state.device.type == "cpu")  # no accelerator work in workers
    prepare_train = (lambda r: attach_latents(prepare(r), codec)) if cache else prepare
    dataset = WindowDataset(make_source(cfg), prepare_train, d.window_frames, d.ref_frames,
                            d.ref_min_gap, d.windows_per_clip, cfg.loop.seed, d.shuffle_block)

    def batches(consumed: int) -> Iterator[InpaintBatch]:
        loader = window_loader(dataset, cfg.loop.batch_size, d.shuffle_block, cfg.loop.seed,
                               consumed * cfg.loop.batch_size, state.process_index,
                               state.num_processes, d.num_workers)
        return map(InpaintBatch.from_collated, loader)

    # 3. The DiT, after its lip prior's own run when one is configured.
    prior_file = None
    if cfg.lip_prior.enabled:
        p = cfg.lip_prior
        prior_cfg = replace(loop.sub_run(cfg.loop, p.pretrain_steps, p.pretrain_lr),
                            sample_every=0)
        stopped = run_prior(prior_cfg, run_dir / PRIOR_RUN, _prior(cfg),
                            partial(prior_step, cfg, codec), batches, cfg,
                            "xdub stage 1 (lip prior)", state)
        if stopped != "done":
            return loop.LoopResult(0, stopped, 0, float("nan"))
        prior_file = final_weights(run_dir / PRIOR_RUN)
    dit = build_dit_for(cfg, prior_file=prior_file)
    # 4. Objective; its noise generator (the same on every process) is checkpointed.
    gen = torch.Generator().manual_seed(cfg.loop.seed * 1000)
    # 5. Samples from held-out clips with the EMA weights.
    held_out = make_source(cfg, held_out=True)
    sample_clips = [trim_clip(prepare(held_out.load(k)), 3 * d.window_frames + 2)
                    for k in range(min(cfg.sample_clips, len(held_out)))]

    def sample_fn(ema_dit: torch.nn.Module, step: int, folder: Path) -> None:
        inp = Inpainter(ema_dit, codec, featurizer, spec_of(cfg), f"step{step}")
        write_samples(inp, sample_clips, folder, cfg.sample_steps)

    # 6. Train.
    objective = partial(step_fn, cfg, codec, gen, processes.worker_of(state))
    result = loop.run(cfg.loop, run_dir, dit, objective, batches,
                      run_config=cfg, sample_fn=sample_fn, generators={"noise": gen},
                      title="xdub stage 1 (inpainter)")
    # 7. Export the EMA weights as a self-describing inpainter folder.
    if state.is_main_process:
        export_inpainter(cfg, run_dir, codec, featurizer)
    return result


def export_inpainter(cfg: Stage1Config, run_dir: Path, codec: VideoCodec, featurizer) -> Path:
    """`run_dir/inpainter/` from the newest checkpoint's EMA weights (the prior's included)."""
    dit = loop.load_final_weights(build_dit_for(replace(cfg, init_from=""), seed=0), run_dir)
    folder = Inpainter(dit.eval(), codec, featurizer, spec_of(cfg), "").save(run_dir / "inpainter")
    log.info("inpainter %s written to %s", weights_version(folder / "dit"), folder)
    return folder

