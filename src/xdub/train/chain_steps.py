"""The steps of the training chain, each a function `(ChainContext) -> bool` (True = complete).

Every step trains/writes inside `<out>/<step>/` with the step's own resumable recipe, reading
its own config file; the only thing a step knows about the others is where their outputs are:

    codec/final/            tiny codec folder          (xdub.train.codec.train_codec)
    scorer/final/           sync scorer folder         (xdub.train.syncnet.train_sync_scorer)
    occluders/final/        occluder segmenter folder  (xdub.train.occluders, when configured)
    landmarks/final/        landmark refiner folder    (xdub.train.landmarks, when configured)
    stage1/inpainter/       inpainter folder           (xdub.train.stage1.train_stage1)
    phases/phases.json      measured lip band          (xdub.train.phases.measure on stage 1)
    robust_decoder/final/   the codec with a noise-robust decoder (when configured)
    pairs/                  pair store                 (xdub.train.pairgen.generate_pairs)
    stage2/editor/          dubbing checkpoint         (xdub.train.stage2.train_stage2)
    default/                codec + scorer + editor + manifest (xdub.train.export_default)
Imports: torch, xdub.{config, data, diffusion, models, train}.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from xdub.atomic import write_json_atomic
from xdub.config import load, replace, to_dict
from xdub.config.chain import ChainConfig
from xdub.config.codec import CodecConfig, CodecTrainConfig
from xdub.config.stage2 import Stage2Config, load_stage2
from xdub.config.sync import SyncTrainConfig
from xdub.config.train import STAGE1_EVAL_SEED_BASE, PairGenConfig, Stage1Config, SynthSourceConfig

log = logging.getLogger(__name__)

PHASES_FILE = "phases.json"
MEASURE_SEED_OFFSET = 100  # measurement clips: STAGE1_EVAL_SEED_BASE + 100 + k (held out)


@dataclass(frozen=True)
class ChainContext:
    """The chain config, the folder its relative paths start from, and the output folder."""

    cfg: ChainConfig
    config_dir: Path
    out: Path

    def path(self, relative: str) -> Path:
        """A config path relative to the chain file."""
        return (self.config_dir / relative).resolve()

    @property
    def codec_dir(self) -> Path:
        return self.out / "codec" / "final"

    @property
    def scorer_dir(self) -> Path:
        return self.out / "scorer" / "final"

    @property
    def occluder_dir(self) -> Path:
        return self.out / "occluders" / "final"

    @property
    def landmark_dir(self) -> Path:
        return self.out / "landmarks" / "final"

    @property
    def robust_decoder_dir(self) -> Path:
        return self.out / "robust_decoder" / "final"

    @property
    def inpainter_dir(self) -> Path:
        return self.out / "stage1" / "inpainter"

    @property
    def editor_dir(self) -> Path:
        return self.out / "stage2" / "editor"

    def stage1_config(self) -> Stage1Config:
        """Stage-1 config wired to the chain's codec."""
        return replace(load(Stage1Config, self.path(self.cfg.stage1)),
                       codec_weights=str(self.codec_dir))

    def stage2_config(self) -> Stage2Config:
        """Stage-2 config wired to the chain's codec, scorer, inpainter, pairs and phases."""
        cfg = load_stage2(self.path(self.cfg.stage2))
        diffusion = cfg.diffusion
        measured = self.out / "phases" / PHASES_FILE
        band = json.loads(measured.read_text()) if measured.is_file() else {}
        if self.cfg.measure_phases and band.get("used"):
            diffusion = replace(diffusion, lip_texture_sigma=band["lip_texture_sigma"],
                                structure_lip_sigma=band["structure_lip_sigma"])
        return replace(cfg, codec_weights=str(self.codec_dir), pairs=str(self.out / "pairs"),
                       scorer_weights=str(self.scorer_dir), diffusion=diffusion,
                       init_from=str(self.inpainter_dir / "dit"))


# ---------------------------------------------------------------------------------------------
# Steps
# ---------------------------------------------------------------------------------------------


def run_codec(ctx: ChainContext) -> bool:
    """Tiny codec on face crops of the synthetic engine; `codec/final/` with latent stats."""
    from xdub.train.codec import train_tiny_codec_on_synth

    model = load(CodecConfig, ctx.path(ctx.cfg.codec_model)).tiny
    train = load(CodecTrainConfig, ctx.path(ctx.cfg.codec_train))
    psnr = train_tiny_codec_on_synth(ctx.out / "codec", ctx.codec_dir, model, train)
    log.info("codec: held-out PSNR %.2f dB", psnr)
    return (ctx.codec_dir / "config.json").is_file()


def run_scorer(ctx: ChainContext) -> bool:
    """Tiny lip-sync scorer; writes `scorer/final/` itself (complete or on its CPU budget)."""
    from xdub.train.syncnet import train_sync_scorer

    train_sync_scorer(load(SyncTrainConfig, ctx.path(ctx.cfg.scorer_train)), ctx.out / "scorer")
    return (ctx.scorer_dir / "config.json").is_file()


def run_occluders(ctx: ChainContext) -> bool:
    """The occluder segmenter (`occluders/final/`) on the editor's crop; nothing to do when the
    chain configures none."""
    from xdub.config.occluders import OccluderTrainConfig
    from xdub.errors import ConfigError
    from xdub.train.occluders import train_occluder_net

    if not ctx.cfg.occluders_train:
        return True
    cfg = load(OccluderTrainConfig, ctx.path(ctx.cfg.occluders_train))
    editor_crop = ctx.stage2_config().face.align
    if cfg.align != editor_crop:
        raise ConfigError(f"chain: {ctx.cfg.occluders_train} crops faces differently from the "
                          f"editor ({cfg.align} vs {editor_crop}); its masks would not fit")
    train_occluder_net(cfg, ctx.out / "occluders")
    return (ctx.occluder_dir / "config.json").is_file()


def run_landmarks(ctx: ChainContext) -> bool:
    """The landmark refiner (`landmarks/final/`); nothing to do when the chain configures none."""
    from xdub.config.landmarks import LandmarkTrainConfig
    from xdub.train.landmarks import train_landmark_net

    if not ctx.cfg.landmarks_train:
        return True
    train_landmark_net(load(LandmarkTrainConfig, ctx.path(ctx.cfg.landmarks_train)),
                       ctx.out / "landmarks")
    return (ctx.landmark_dir / "config.json").is_file()


def run_stage1(ctx: ChainContext) -> bool:
    """Mask-based inpainter by self-reconstruction; complete when all steps ran."""
    from xdub.train.stage1 import train_stage1

    cfg = ctx.stage1_config()
    result = train_stage1(cfg, ctx.out / "stage1")
    return result.stopped == "done" and (ctx.inpainter_dir / "inpainter.json").is_file()


def run_phases(ctx: ChainContext) -> bool:
    """Measure the lip band on the stage-1 model (`phases.json` + the profile)."""
    from xdub.train.phase_measure import measure_on_inpainter, plot_profile

    stage1 = ctx.stage1_config()
    seeds = [STAGE1_EVAL_SEED_BASE + MEASURE_SEED_OFFSET + k for k in range(4)]
    result = measure_on_inpainter(ctx.inpainter_dir, stage1.data.synth, seeds,
                                  ctx.cfg.phase_fraction)
    width = result["structure_lip_sigma"] - result["lip_texture_sigma"]
    result["used"] = bool(ctx.cfg.measure_phases and width <= ctx.cfg.max_lip_band)
    folder = ctx.out / "phases"
    folder.mkdir(parents=True, exist_ok=True)
    write_json_atomic(folder / PHASES_FILE, result)
    plot_profile(result, folder / "attribution.png")
    log.info("lip band measured on stage 1: %.3f .. %.3f (%s)", result["lip_texture_sigma"],
             result["structure_lip_sigma"], "used" if result["used"] else "too wide: not used")
    return True


def run_robust_decoder(ctx: ChainContext) -> bool:
    """A decoder-only fine-tune of the chain's codec with latent noise (`robust_decoder/final/`):
    slightly-off latents (stage 1's in the pairs' V', the editor's when dubbing) decode without
    colour speckle. Nothing to do when the chain configures none."""
    from xdub.errors import ConfigError
    from xdub.train.codec import train_tiny_codec_on_synth

    if not ctx.cfg.robust_decoder_train:
        return True
    train = load(CodecTrainConfig, ctx.path(ctx.cfg.robust_decoder_train))
    if not train.decoder_only:  # a new encoder would not read the DiTs' latents
        raise ConfigError(f"chain: {ctx.cfg.robust_decoder_train} must set decoder_only: true")
    model = load(CodecConfig, ctx.path(ctx.cfg.codec_model)).tiny
    psnr = train_tiny_codec_on_synth(ctx.out / "robust_decoder", ctx.robust_decoder_dir, model,
                                     replace(train, init_from=str(ctx.codec_dir)))
    log.info("robust decoder: held-out PSNR %.2f dB", psnr)
    return (ctx.robust_decoder_dir / "config.json").is_file()


def run_pairs(ctx: ChainContext) -> bool:
    """Pseudo-pairs from the pair-source clips (then each extra source's, in `extra_<k>/`,
    adopted as further shards); complete when the merged manifest over all of them exists."""
    from xdub.data.manifest import read_rows, summarize
    from xdub.data.pairs import adopt_shards, merge_manifests
    from xdub.data.sources import SynthClipSource
    from xdub.models.syncnet import SyncScorer
    from xdub.sharding import current_worker, num_shards
    from xdub.train import processes
    from xdub.train.inpaint import load_inpainter, with_decoder
    from xdub.train.pairgen import (
        PairGenerator,
        ShufflePairGenerator,
        SyncJudge,
        generate_pairs,
    )

    cfg = load(PairGenConfig, ctx.path(ctx.cfg.pairs))
    needs_scorer = cfg.filters.use_sync or cfg.retrieval.enabled  # retrieval follows its lips
    judge = SyncJudge(SyncScorer.from_pretrained(ctx.scorer_dir)) if needs_scorer else None
    torch.set_num_threads(1)
    inpainter = load_inpainter(ctx.inpainter_dir)
    if ctx.cfg.robust_decoder_train and ctx.cfg.robust_decoder_pairs:
        inpainter = with_decoder(inpainter, ctx.robust_decoder_dir)
    folder = ctx.out / "pairs"
    sources = (ctx.cfg.pair_source, *ctx.cfg.extra_pair_sources)
    folders = [folder] + [folder / f"extra_{k}" for k in range(len(sources) - 1)]
    shard_counts, summaries = [], []
    for src, out in zip(sources, folders):
        source = SynthClipSource(SynthSourceConfig(scenario=src.scenario, size=src.size,
                                                   clip_seconds=src.clip_seconds,
                                                   first_seed=src.first_seed,
                                                   num_clips=src.num_clips))
        kind = ShufflePairGenerator if src.kind == "shuffle" else PairGenerator
        summaries.append(generate_pairs(kind(source, inpainter, judge, cfg), out, progress=True))
        shard_counts.append(num_shards(len(source), cfg.shard_size))
    # Several processes: each made its own shards; once all have, the manifest is complete.
    processes.process_state().wait_for_everyone()
    if not all(merge_manifests(out, n) for out, n in zip(folders, shard_counts)):
        return False
    if current_worker().is_main:
        first = shard_counts[0]
        for out in folders[1:]:
            first += adopt_shards(folder, out, first)
        merged = merge_manifests(folder, sum(shard_counts))
        assert merged is not None  # every shard of every source is done and adopted
        # this process's work on the main source, counts over every source's rows
        summary = dict(summaries[0], **summarize(read_rows(merged)), manifest=str(merged))
        if len(summaries) > 1:
            summary["extra_sources"] = summaries[1:]
        write_json_atomic(folder / "summary.json", summary, default=str)
    processes.process_state().wait_for_everyone()
    return (folder / "summary.json").is_file()


def run_stage2(ctx: ChainContext) -> bool:
    """The mask-free editor with multi-phase learning; complete when `editor/` is written."""
    from xdub.train.stage2 import train_stage2

    return train_stage2(ctx.stage2_config(), ctx.out / "stage2") is not None


def run_export(ctx: ChainContext) -> bool:
    """`default/`: codec + scorer + editor + manifest; optionally copied into the package."""
    from xdub.train.export_default import export_default

    occluders = ctx.occluder_dir if ctx.cfg.occluders_train else None
    landmarks = ctx.landmark_dir if ctx.cfg.landmarks_train else None
    refine = None
    if ctx.cfg.landmarks_train:
        from xdub.config.landmarks import LandmarkTrainConfig

        refine = load(LandmarkTrainConfig, ctx.path(ctx.cfg.landmarks_train)).dubbing
    decoder = (ctx.robust_decoder_dir if ctx.cfg.robust_decoder_train
               and ctx.cfg.robust_decoder_dubbing else None)
    folder = export_default(ctx.editor_dir, ctx.scorer_dir, ctx.out / "default",
                            training=training_record(ctx), occluder_dir=occluders,
                            decoder_dir=decoder, landmark_dir=landmarks,
                            landmark_refine=refine)
    if ctx.cfg.export_default:
        target = ctx.path(ctx.cfg.export_default)
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(folder, target)
    return True


def training_record(ctx: ChainContext) -> dict[str, Any]:
    """What the manifest records about how the default was made (configs, data seeds)."""
    stage1, stage2 = ctx.stage1_config(), ctx.stage2_config()
    pairs = ctx.cfg.pair_source
    synth = stage1.data.synth
    record: dict[str, Any] = {
        "chain": to_dict(ctx.cfg),
        "stage1": to_dict(stage1),
        "stage2": to_dict(stage2),
        "data_seeds": {
            "stage1_clips": [synth.first_seed, synth.first_seed + synth.num_clips - 1],
            "pair_source_clips": [pairs.first_seed, pairs.first_seed + pairs.num_clips - 1],
            "scorer": "xdub.config.sync: seed * 1_000_000 + k (see scorer/config.yaml)",
            "held_out_from": STAGE1_EVAL_SEED_BASE,
        },
    }
    from xdub.config.landmarks import LandmarkTrainConfig
    from xdub.config.occluders import OccluderTrainConfig

    for key, path, cls, final in (
            ("occluders", ctx.cfg.occluders_train, OccluderTrainConfig, ctx.occluder_dir),
            ("landmarks", ctx.cfg.landmarks_train, LandmarkTrainConfig, ctx.landmark_dir)):
        if path:  # the recipe, and its held-out figures once trained
            record[key] = to_dict(load(cls, ctx.path(path)))
            held_out = final / "metrics.json"
            if held_out.is_file():
                record[f"{key}_held_out"] = json.loads(held_out.read_text())
    measured = ctx.out / "phases" / PHASES_FILE
    if measured.is_file():
        record["phases"] = json.loads(measured.read_text())
    times = ctx.out / "chain_times.json"
    if times.is_file():
        record["step_seconds"] = json.loads(times.read_text())
    pair_summary = ctx.out / "pairs" / "summary.json"
    if pair_summary.is_file():
        record["pairs"] = json.loads(pair_summary.read_text())
    return record


STEP_FUNCTIONS = {
    "codec": run_codec,
    "scorer": run_scorer,
    "occluders": run_occluders,
    "landmarks": run_landmarks,
    "stage1": run_stage1,
    "phases": run_phases,
    "robust_decoder": run_robust_decoder,
    "pairs": run_pairs,
    "stage2": run_stage2,
    "export": run_export,
}
