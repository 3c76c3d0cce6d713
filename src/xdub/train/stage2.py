"""Stage 2 of X-Dub: the mask-free editing DiT, trained on pseudo-pairs with multi-phase learning.

Input of a sample: the COMPLETE source window V' (lips follow a donor audio; `encode_condition`
mode "edit", frame-aligned in-context tokens), identity references from V', the clean latents
of the previous chunk (motion frames, present for `p_motion` of the samples) and the audio A of
the real clip; target: the real window V. Only pairs from `xdub make-pairs` are used. The
reference/audio conditions are dropped at random (three-stream guidance at inference).

Initialisation from the stage-1 inpainter (`transfer_stage1`): every tensor with the same name
and shape is copied (patch/time/audio embeddings, all blocks, head). The inpainter's source
embedding `cond_embedding` sees [masked latents | mask] (C + tf channels): with
`model.cond_channels = C` the editor keeps its own source embedding initialised from the first
C input channels (an inpainter input with an empty mask); with `cond_channels: null` (official
layout) the source shares `patch_embedding` and `cond_embedding` is dropped. With
`source_fusion: aligned_add` (as stage 1 at tiny scale) the editor is a `SourceFusedDiT` and
the stage-1 fusion projection is copied too.

Training is a list of sub-runs from `phases.plan_subruns` (single-phase baseline, LoRA experts
on a shared base, or sequential full-weight SFT), each a `loop.run` in its own sub-folder,
resumable, with `final/` written when it completes; `editor/` (a dubbing checkpoint) at the end.
With a lip prior (`lip_prior.enabled`, tiny editors) a prior-only sub-run `lip_prior/` comes
first when `lip_prior.pretrain_steps` > 0; the prior keeps training on its own loss in the base
sub-run and is frozen with the base under the LoRA experts.
Imports: torch, numpy, xdub.{config, sharding, models, diffusion, audio, conditioning, data,
pipeline, train}.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import torch
from accelerate import PartialState

from xdub.audio import build_featurizer
from xdub.conditioning import (
    assemble_condition,
    encode_condition,
    encode_frames,
    latent_region,
)
from xdub.config.stage2 import Stage2Config
from xdub.errors import ConfigError
from xdub.data.pairs import PairStore
from xdub.diffusion import (
    PhaseMap,
    TrainSigmaSampler,
    drop_for_training,
    noisy_input,
    sigma_to_timestep,
    velocity_target,
)
from xdub.models import (
    DiTConditioning,
    XDubDiT,
    attach_lora,
    build_dit,
    save_lora,
    set_active_adapter,
)
from xdub.models.codec import VideoCodec
from xdub.sharding import Worker
from xdub.train import fsdp, loop, processes
from xdub.train.batches import EditBatch
from xdub.train.editor import export_editor
from xdub.models.fusion import SourceFusedDiT, load_dit
from xdub.models.lip_prior import LipPrior
from xdub.train.inpaint import check_compatible, load_codec
from xdub.train.pair_windows import PairWindows
from xdub.train.prior_runs import FINAL, PRIOR_WEIGHTS, build_prior, final_weights, run_prior
from xdub.train.phases import (
    PhaseBatch,
    PhaseObjective,
    SubRun,
    decoded_sync_loss,
    middle_window,
    mouth_box,
    plan_subruns,
    sample_phase_sigmas,
)
from xdub.train.stage2_parts import clip_encoder, load_scorer, write_pair_samples

log = logging.getLogger(__name__)


PRIOR_RUN, PRIOR_SYNC_RUN = "lip_prior", "lip_prior_sync"  # the prior's own sub-runs


@dataclass
class StepContext:
    """What every step of every sub-run shares."""

    cfg: Stage2Config
    codec: VideoCodec
    objective: PhaseObjective
    sampler: TrainSigmaSampler
    phase_map: PhaseMap
    gen: torch.Generator  # the same seed on every process: draws are made for the global batch
    worker: Worker = Worker()  # this process's rows of each global draw


def step_fn(ctx: StepContext, run: SubRun, model: torch.nn.Module,
            batch: EditBatch) -> tuple[torch.Tensor, dict[str, float]]:
    """One micro-batch: encode V / V' / refs, drop conditions, noise in the sub-run's phase,
    predict, phase objective."""
    cfg = ctx.cfg
    target, cond, region = encode_with_region(ctx, batch)
    prior = getattr(getattr(model, "module", model), "lip_prior", None)  # DDP wraps in .module
    trains_prior = prior is not None and any(p.requires_grad for p in prior.parameters())
    prior_loss = prior.loss(cond, target, region) * cfg.lip_prior.loss_weight if trains_prior else None
    worker = ctx.worker
    cond, valid = drop_for_training(cond, target, cfg.diffusion, cfg.motion_frames, cfg.p_motion,
                                    ctx.gen, worker)
    global_batch = target.shape[0] * worker.count
    sigma = worker.own_rows(sample_phase_sigmas(ctx.sampler, ctx.phase_map, run, global_batch,
                                                ctx.gen)).to(target.device)
    noise = worker.own_rows(torch.randn((global_batch, *target.shape[1:]), generator=ctx.gen))
    noise = noise.to(target)
    x_t = noisy_input(target, noise, sigma)
    pred = model(x_t, sigma_to_timestep(sigma, cfg.diffusion.num_train_timesteps), cond)
    mel = batch.mel_windows
    parts = PhaseBatch(pred, velocity_target(target, noise), x_t, sigma, target, region, valid,
                       mel.to(target.device) if mel is not None else None)
    loss, logs = ctx.objective(parts, run.baseline)
    if prior_loss is not None:  # the prior trains on its own regression loss (module docstring)
        loss, logs = loss + prior_loss, {**logs, "prior": prior_loss.item()}
    return loss, {**logs, "sigma": float(sigma.mean())}


def encode_with_region(ctx: StepContext, batch: EditBatch
                       ) -> tuple[torch.Tensor, DiTConditioning, torch.Tensor]:
    """`encode_batch` plus the mouth region `[B, F', h, w]` in [0, 1] at latent resolution."""
    target, cond = encode_batch(ctx, batch)
    region = latent_region(batch.region.float() / 255.0, ctx.codec.temporal_factor,
                           ctx.codec.spatial_factor).to(target)
    return target, cond, region


def encode_batch(ctx: StepContext, batch: EditBatch) -> tuple[torch.Tensor, DiTConditioning]:
    """Target latents `[B, C, F', h, w]` and the edit conditioning of a batch (from the cached
    latents when the stream has them: identical to encoding, see `PairWindows`)."""
    codec, use_refs = ctx.codec, ctx.cfg.data.ref_frames > 0
    if batch.target_latents is None:
        cond = encode_condition(codec, batch.input_crops, mode="edit",
                                ref_crops=batch.ref_crops if use_refs else None,
                                audio_windows=batch.audio)
        return encode_frames(codec, batch.target_crops), cond
    place = next(codec.parameters())

    def placed(latents: torch.Tensor) -> torch.Tensor:
        return latents.to(device=place.device, dtype=place.dtype)

    refs = placed(batch.ref_latents) if use_refs else None
    cond = assemble_condition(placed(batch.input_latents), refs, batch.audio,
                              codec.temporal_factor)
    return placed(batch.target_latents), cond


def transfer_stage1(editor: XDubDiT, stage1: dict[str, torch.Tensor]) -> dict[str, list[str]]:
    """Copy stage-1 weights into `editor` where names match (see the module docstring)."""
    own = editor.state_dict()
    usable, report = {}, {"copied": [], "adapted": [], "dropped": []}
    for key, value in stage1.items():
        if key in own and own[key].shape == value.shape:
            usable[key] = value
            report["copied"].append(key)
        elif key == "cond_embedding.weight" and key in own:
            usable[key] = value[:, : own[key].shape[1]]  # masked-latent channels, mask dropped
            report["adapted"].append(key)
        else:
            report["dropped"].append(key)
    editor.load_state_dict(usable, strict=False)
    return report


def core(model: torch.nn.Module) -> XDubDiT:
    """The XDubDiT inside a model (itself, or the one a `SourceFusedDiT` wraps): LoRA experts
    attach to it, so adapter files have plain XDubDiT layer paths."""
    return model.dit if isinstance(model, SourceFusedDiT) else model  # type: ignore[return-value]


def _initial_dit(cfg: Stage2Config, prior_file: Path | None = None) -> torch.nn.Module:
    """Fresh editor DiT (seeded), initialised from the stage-1 weights when given, wrapped in
    `SourceFusedDiT` (fusion weights copied from stage 1) with `source_fusion: aligned_add`;
    its lip prior from `prior_file` (the pretraining sub-run) when given."""
    dit = build_dit(cfg.model, seed=cfg.loop.seed)
    stage1 = load_dit(cfg.init_from) if cfg.init_from else None
    if stage1 is not None:
        report = transfer_stage1(dit, core(stage1).state_dict())
        log.info("init from %s: %d copied, adapted %s, dropped %s", cfg.init_from,
                 len(report["copied"]), report["adapted"], report["dropped"])
    if cfg.source_fusion == "in_context":
        return dit
    residual = cfg.source_fusion == "aligned_residual"
    if residual:  # the output is now x0 - source: start as an exact copy of the source
        torch.nn.init.zeros_(dit.head.head.weight)
        torch.nn.init.zeros_(dit.head.head.bias)
    prior = None
    if cfg.lip_prior.enabled:
        prior = _build_prior(cfg, prior_file)
    fused = SourceFusedDiT(dit, residual=residual,
                           num_train_timesteps=cfg.diffusion.num_train_timesteps, lip_prior=prior)
    if isinstance(stage1, SourceFusedDiT):
        fused.fuse.load_state_dict(stage1.fuse.state_dict())
    return fused


def _build_prior(cfg: Stage2Config, weights: str | Path | None = None) -> LipPrior:
    """The editor's lip prior, freshly initialised (seeded) or with the given weights."""
    assert cfg.model.audio_dim is not None  # Stage2Config checks it
    return build_prior(cfg.lip_prior, cfg.model.latent_channels, cfg.model.audio_dim,
                       cfg.loop.seed + 1, weights)


def _model_for(run: SubRun, base_dir: Path | None, cfg: Stage2Config,
               prior_file: Path | None = None) -> torch.nn.Module:
    """The sub-run's trainable model: full weights, or a LoRA expert on a frozen base."""
    dit = load_dit(base_dir) if base_dir is not None else _initial_dit(cfg, prior_file)
    prior = getattr(dit, "lip_prior", None)
    if run.adapter is None and prior is not None and not cfg.lip_prior.train_with_editor:
        prior.requires_grad_(False)  # step_fn then skips its loss
    if run.adapter is not None:
        dit.requires_grad_(False)
        attach_lora(core(dit), [run.adapter], cfg.phases.lora_rank, cfg.phases.lora_alpha)
        set_active_adapter(dit, run.adapter)
    return dit.train()


def _finish_subrun(run: SubRun, model: torch.nn.Module, run_dir: Path) -> Path:
    """Write `<sub>/final/` (dit/ or the expert's LoRA file) from the EMA weights."""
    loop.load_final_weights(model, run_dir)
    final = run_dir / FINAL
    final.mkdir(parents=True, exist_ok=True)
    if run.adapter is not None:
        save_lora(core(model), run.adapter, final / f"{run.adapter}.safetensors")
    else:
        model.save_pretrained(final / "dit")  # + fusion.safetensors for a SourceFusedDiT
    return final


def train_stage2(cfg: Stage2Config, run_dir: str | Path) -> Path | None:
    """Train (or resume) every sub-run in `run_dir`; returns `run_dir/editor` when complete,
    None when the time budget (`loop.max_minutes`, over all sub-runs) stopped it first."""
    torch.set_num_threads(cfg.loop.num_threads)
    run_dir, state, began = Path(run_dir), processes.process_state(), time.monotonic()
    # 1. Frozen codec, audio featurizer, sync scorer; the DiT must fit them.
    codec = load_codec(cfg.codec, cfg.codec_weights).to(state.device)
    featurizer = build_featurizer(cfg.audio, device=state.device)
    check_compatible(cfg.model, codec, featurizer, "edit", cfg.data.window_frames)
    scorer = load_scorer(cfg.scorer_weights)
    # 2. Data: windows of accepted pseudo-pairs.
    d = cfg.data
    encoder = clip_encoder(codec) if cfg.cache_latents and codec.temporal_factor == 1 else None

    def windows(accepted_only: bool) -> PairWindows:
        return PairWindows(PairStore(cfg.pairs, accepted_only), featurizer, d.window_frames,
                           d.ref_frames, d.ref_min_gap, cfg.loop.seed,
                           scorer.cfg if scorer else None,
                           cache_bytes=int(cfg.pair_cache_gib * (1 << 30)), encoder=encoder,
                           mouth_swap=cfg.mouth_swap, mouth_swap_gap=cfg.mouth_swap_gap,
                           occluder_paste=cfg.occluder_paste,
                           occluder_paste_real=cfg.occluder_paste_real)

    pairs = windows(accepted_only=True)
    # 3. Phase map, sigma sampler, the phase objective (sync crop box on aligned crops).
    phase_map = PhaseMap.from_config(cfg.diffusion)
    box = (mouth_box(cfg.face.align.crop_size, cfg.face.align, scorer.cfg,
                     cfg.objectives.sync_box) if scorer else None)
    objective = PhaseObjective(cfg.objectives, phase_map, codec, scorer, box)
    gen = torch.Generator().manual_seed(cfg.loop.seed * 1000)
    ctx = StepContext(cfg, codec, objective, TrainSigmaSampler.from_config(cfg.diffusion),
                      phase_map, gen, processes.worker_of(state))
    if cfg.lip_prior.enabled and fsdp.requested(""):  # its loss runs outside the forward
        raise ConfigError("stage2: lip_prior does not train under FSDP; use DDP (a tiny "
                          "editor fits one device)")
    # 4. Sub-runs in order; finished ones are skipped, the base moves on after full-weight runs.
    #    The lip prior's own pretraining (if any) comes first: the editor starts from it.
    if cfg.lip_prior.enabled and _prior_runs(cfg):
        # Rejected pairs still hold a real target mouth with its audio, which is all the
        # prior learns from (their off-sync V' mouth is what it replaces): "all" uses them.
        prior_pairs = pairs if cfg.lip_prior.pretrain_pairs == "accepted" else windows(False)
        start = None
        for prior_run in _prior_runs(cfg):
            if not _pretrain_prior(ctx, run_dir, prior_run, start, prior_pairs, began, state):
                return None
            start = run_dir / prior_run.name / FINAL / PRIOR_WEIGHTS
        del prior_pairs  # its cache (every pair, up to pair_cache_gib) is not read again
    base_dir, adapters = None, {}
    for run in plan_subruns(cfg.phases, cfg.loop.steps):
        sub_dir = run_dir / run.name
        if not (sub_dir / FINAL).is_dir():
            spent = (time.monotonic() - began) / 60
            if cfg.loop.max_minutes and spent >= cfg.loop.max_minutes:
                return None
            if not _train_subrun(ctx, run, sub_dir, base_dir, pairs, spent, state):
                return None
        if run.adapter is not None:
            adapters[run.adapter] = sub_dir / FINAL / f"{run.adapter}.safetensors"
        else:
            base_dir = sub_dir / FINAL / "dit"
    # 5. The dubbing checkpoint: shared base / last SFT weights + experts + codec.
    if base_dir is None:  # experts only (base_fraction 0): the initial weights are the base
        base_dir = run_dir / "initial" / "dit"
        _initial_dit(cfg, _pretrained_prior(run_dir, cfg)).save_pretrained(base_dir)
    return export_editor(run_dir / "editor", cfg, base_dir, adapters, codec)


def _train_subrun(ctx: StepContext, run: SubRun, sub_dir: Path, base_dir: Path | None,
                  pairs: PairWindows, spent_minutes: float, state: PartialState) -> bool:
    """One `loop.run`; True when it completed (then `final/` exists)."""
    cfg = ctx.cfg
    loop_cfg = loop.sub_run(cfg.loop, run.steps, cfg.loop.lr * run.lr_scale, spent_minutes)
    prior_file = _pretrained_prior(sub_dir.parent, cfg)
    model = _model_for(run, base_dir, cfg, prior_file)

    def sample_fn(ema_model: torch.nn.Module, step: int, folder: Path) -> None:
        write_pair_samples(cfg, ema_model, ctx.codec, pairs, folder, run.adapter)

    result = loop.run(loop_cfg, sub_dir, model, partial(step_fn, ctx, run),
                      _batch_source(ctx, pairs),
                      run_config=cfg, sample_fn=sample_fn, generators={"noise": ctx.gen},
                      title=f"xdub stage 2 ({run.name})")
    log.info("%s: %s at step %d, loss %.4f", run.name, result.stopped, result.step,
             result.last_loss)
    if result.stopped != "done":
        return False
    if state.is_main_process:  # a fresh model: the trained one may be FSDP shards
        _finish_subrun(run, _model_for(run, base_dir, cfg, prior_file), sub_dir)
    state.wait_for_everyone()  # the next sub-run loads this one's final/ on every process
    return True


@dataclass(frozen=True)
class PriorRun:
    """One prior-only sub-run: its folder name, steps, learning rate and sync-loss weight."""

    name: str
    steps: int
    lr: float
    sync_weight: float = 0.0


def _prior_runs(cfg: Stage2Config) -> list[PriorRun]:
    """The lip prior's own sub-runs, in order: pretraining, then the sync fine-tuning."""
    p = cfg.lip_prior
    runs = [PriorRun(PRIOR_RUN, p.pretrain_steps, p.pretrain_lr),
            PriorRun(PRIOR_SYNC_RUN, p.sync_steps, p.sync_lr, p.sync_weight)]
    return [run for run in runs if run.steps > 0]


def _pretrained_prior(run_dir: Path, cfg: Stage2Config) -> Path | None:
    """The last prior sub-run's weights, when every prior sub-run finished."""
    runs = _prior_runs(cfg) if cfg.lip_prior.enabled else []
    paths = [run_dir / run.name / FINAL / PRIOR_WEIGHTS for run in runs]
    return paths[-1] if paths and all(path.is_file() for path in paths) else None


def _pretrain_prior(ctx: StepContext, run_dir: Path, run: PriorRun, start: Path | None,
                    pairs: PairWindows, began: float, state: PartialState) -> bool:
    """The lip prior alone on its direct loss (+ the sync loss), from `start` (None: fresh); a
    `loop.run` of its own (resumable, EMA, progress, report); True when its `final/` holds
    its weights."""
    cfg, sub_dir = ctx.cfg, run_dir / run.name
    if final_weights(sub_dir).is_file():
        return True
    spent = (time.monotonic() - began) / 60
    loop_cfg = replace(loop.sub_run(cfg.loop, run.steps, run.lr, spent), sample_every=0)
    prior = _build_prior(cfg, start)
    scorer = ctx.objective.scorer if run.sync_weight > 0 else None
    if run.sync_weight > 0 and scorer is None:
        raise ConfigError("stage2: lip_prior.sync_steps needs scorer_weights")

    def prior_step(model: torch.nn.Module, batch: EditBatch) -> tuple[torch.Tensor, dict[str, float]]:
        target, cond, region = encode_with_region(ctx, batch)
        use, guess = model.predict(cond)  # type: ignore[operator]
        if guess is None:  # only null streams in this batch
            return target.sum() * 0.0, {"prior": 0.0}
        loss = model.regression_loss(guess, target[use], region[use])  # type: ignore[operator]
        logs = {"prior": loss.item()}
        if scorer is not None and batch.mel_windows is not None:
            first, last = middle_window(scorer, guess.shape[2])
            mel = batch.mel_windows.to(guess.device)[use][:, first:first + 1]
            sync = decoded_sync_loss(ctx.codec, scorer, ctx.objective.box,
                                     guess[:, :, first:last], mel)
            loss = loss + run.sync_weight * sync
            logs["sync"] = sync.item()
        return loss, logs

    return run_prior(loop_cfg, sub_dir, prior, prior_step, _batch_source(ctx, pairs), cfg,
                     f"xdub stage 2 ({run.name.replace('_', ' ')})", state) == "done"


def _batch_source(ctx: StepContext, pairs: PairWindows):
    """`loop.run`'s batch source: from `consumed` optimiser steps on, this process's rows of
    the global stream."""
    batch_size, world = ctx.cfg.loop.batch_size, ctx.worker.count

    def batches(consumed: int):
        return pairs.batches(consumed * batch_size * world, batch_size, ctx.worker)

    return batches
