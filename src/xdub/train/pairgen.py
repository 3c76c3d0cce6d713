"""Pseudo-pair generation (`xdub make-pairs`): the inpainter turns real clips into pairs.

For source clip V with audio A (item i of the input list):
1. donor: another item's audio A' (`pick_donor`: seeded by (donor_seed, i), never i itself),
   length-matched to A by `match_length` (rule `DONOR_RULE`: read A' from its start, looping
   the whole track back-to-back when it is shorter, and cut to exactly len(A) samples);
2. the inpainter regenerates V's masked lower face chunk by chunk driven by A' (guided
   sampling, noise seeded by (donor_seed, i)) -> raw V'_raw; with `PairGenConfig.retrieval`
   it starts from V's own mouths that go best with A' (`xdub.train.retrieval`), and at
   strength 0 those real mouths are V'_raw (`stage1_crops`);
3. V' = V outside a feathered region, V'_raw inside (`composite`), so input and target differ
   only where the lips differ; the region (`composite_region`) is the inpainting mask or the
   clip's grown mouth region (`PairGenConfig.composite`); the pair is input (V', A) -> target
   V, region kept as its `mask`;
4. scores: P(sync) of V' (pasted back into V's frames) with A' and with A from the lip-sync
   scorer, PSNR of V'_raw vs V outside the mask, and the worst extra frame-to-frame jump inside
   the mask (flicker, chunk seams); `FilterConfig` decides acceptance;
5. once every shard is written, `PairGenConfig.realism` (when enabled) stops accepting the
   pairs whose stage-1 mouths a small classifier tells from real ones (`xdub.train.realism`).
Work is cut into shards of `shard_size` consecutive items; shard k goes to process k % n
(`--shard i/n`, or one per launched process: `xdub.sharding`). A finished shard is written atomically
(`xdub.data.pairs.write_shard`); a rerun skips finished shards, so an interruption loses at
most the shard in progress, and results do not depend on sharding (seeds are per item).
Imports: numpy, torch, tqdm, xdub.{config, errors, models, face, data, conditioning, train}.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from xdub.config.face import BlendConfig
from xdub.config.train import FilterConfig, MouthRetrievalConfig, PairGenConfig
from xdub.data.crops import PreparedClip, audio_windows_for, prepare_clip
from xdub.data.manifest import PairRecord, pair_id, read_rows, summarize
from xdub.data.pairs import checksum, merge_manifests, shard_done, shard_stem, write_shard
from xdub.data.sources import ClipRecord, ClipSource
from xdub.errors import ConfigError
from xdub.face.align import warp_to_crop
from xdub.face.blend import paste_back
from xdub.face.mask import SUPPORT, clip_mouth_region
from xdub.generation import composite
from xdub.models.syncnet import SyncScorer
from xdub.models.syncnet_features import crop_mouths, eye_roll, log_mel
from xdub.sharding import Worker, current_worker, num_shards, shard_items, shards_for
from xdub.train.inpaint import Inpainter, inpaint_clip
from xdub.train.realism import filter_by_realism
from xdub.train.retrieval import best_path, frame_similarity, relit
from xdub.types import AUDIO_SAMPLE_RATE

log = logging.getLogger(__name__)

DONOR_RULE = "loop-from-start,trim"
SHUFFLE_RULE = "shuffle"  # ShufflePairGenerator's donor rule and model version
PRIOR_ONLY = "prior_only"  # the reason a self-made pair is not accepted (the lip prior's only)
_INSIDE = 0.5  # ... and above this as "inside" for the flicker measure


# ---------------------------------------------------------------------------------------------
# Pure pieces: donor choice, length matching, scores, filters
# ---------------------------------------------------------------------------------------------


def pick_donor(item: int, num_items: int, seed: int) -> int:
    """Index of the donor clip for `item`: uniform over the other items, seeded per item."""
    if num_items < 2:
        raise ValueError("pair generation needs at least 2 clips (the donor must differ)")
    offset = int(np.random.default_rng([seed, item, 0]).integers(1, num_items))
    return (item + offset) % num_items


def match_length(donor: np.ndarray, num_samples: int) -> np.ndarray:
    """A' for a clip of `num_samples` samples: donor looped back-to-back from its start, cut."""
    if donor.size == 0:
        raise ValueError("donor audio is empty")
    repeats = -(-num_samples // donor.size)  # ceil
    return np.tile(donor.astype(np.float32), repeats)[:num_samples]


def psnr_outside(generated: np.ndarray, original: np.ndarray, mask: np.ndarray) -> float:
    """PSNR (dB, peak 255) of `[T, S, S, 3]` uint8 crops outside the support of
    `mask: [T, S, S]` (`SUPPORT`)."""
    outside = mask <= SUPPORT
    if not outside.any():
        return float("nan")
    diff = generated.astype(np.float64) - original.astype(np.float64)
    mse = float(np.mean(np.square(diff[outside])))
    return 10.0 * np.log10(255.0**2 / max(mse, 1e-10))


def temporal_jump(generated: np.ndarray, original: np.ndarray, mask: np.ndarray) -> float:
    """Worst extra mean |frame_t - frame_{t-1}| inside the mask of `generated` over `original`
    (grey levels 0..255): how much more V' flickers than V does on its own."""
    if len(generated) < 2:
        return 0.0
    inside = (mask[1:] > _INSIDE) & (mask[:-1] > _INSIDE)
    counts = inside.sum(axis=(1, 2)).clip(min=1)

    def step_change(frames: np.ndarray) -> np.ndarray:
        delta = np.abs(np.diff(frames.astype(np.float32), axis=0)).mean(axis=-1)
        return (delta * inside).sum(axis=(1, 2)) / counts

    return float(np.max(step_change(generated) - step_change(original)))


def failed_filters(scores: dict[str, float], cfg: FilterConfig) -> list[str]:
    """Names of the filters a pair fails (empty = accepted). NaN sync scores fail when used;
    a NaN outside PSNR (no inpainter output to judge: `runs_inpainter`) passes."""
    outside = scores["psnr_outside"]
    checks = {
        "psnr_outside": bool(np.isnan(outside)) or outside >= cfg.min_psnr_outside,
        "temporal_jump": scores["temporal_jump"] <= cfg.max_temporal_jump,
    }
    if cfg.use_sync:
        checks["donor_sync"] = scores["donor_sync"] >= cfg.min_donor_sync
        checks["source_sync"] = scores["source_sync"] <= cfg.max_source_sync
        checks["sync_margin"] = scores["donor_sync"] - scores["source_sync"] > cfg.min_sync_margin
    return [name for name, ok in checks.items() if not ok]


# ---------------------------------------------------------------------------------------------
# Lip-sync judge
# ---------------------------------------------------------------------------------------------


class SyncJudge:
    """Mean P(in sync) at zero offset of frames + landmarks with a waveform (tiny scorer)."""

    def __init__(self, scorer: SyncScorer) -> None:
        self.scorer = scorer.eval()

    @torch.no_grad()
    def embeddings(self, frames: np.ndarray, landmarks: np.ndarray, boxes: np.ndarray,
                   samples: np.ndarray, fps: float) -> tuple[torch.Tensor, torch.Tensor]:
        """The scorer's window embeddings (video, audio), each `[T - W + 1, D]`: frames
        [T, H, W, 3] uint8, landmarks [T, 68, 2], boxes [T, 4] px, samples [N] 16 kHz."""
        cfg = self.scorer.cfg
        marks = landmarks.astype(np.float64)
        roll = eye_roll(marks[:, 36:42].mean(1), marks[:, 42:48].mean(1))
        crops = crop_mouths(frames, marks[:, 48:68], boxes.astype(np.float64), cfg, roll)
        return self.scorer.clip_embeddings(SyncScorer.normalize_crops(crops),
                                           log_mel(samples, cfg), fps)

    @torch.no_grad()
    def probability(self, frames: np.ndarray, landmarks: np.ndarray, boxes: np.ndarray,
                    samples: np.ndarray, fps: float) -> float:
        """Mean P(in sync) (arguments as `embeddings`); NaN below one window of frames."""
        if len(frames) < self.scorer.cfg.window_frames:
            return float("nan")
        video_emb, audio_emb = self.embeddings(frames, landmarks, boxes, samples, fps)
        return float(torch.sigmoid(self.scorer.sync_logit(video_emb, audio_emb)).mean())

    def mouth_path(self, record: ClipRecord, samples: np.ndarray, cfg: MouthRetrievalConfig,
                   allowed: np.ndarray | None = None) -> np.ndarray:
        """For each frame of `record`, the frame of it whose lips go best with `samples` there
        (`xdub.train.retrieval.best_path`; `allowed: [T]` bool); the frames themselves when the
        clip is shorter than one scorer window."""
        num, window = record.num_frames, self.scorer.cfg.window_frames
        if num < window:
            return np.arange(num)
        video_emb, audio_emb = self.embeddings(record.frames, record.landmarks,
                                               record.face_boxes, samples, record.fps)
        similarity = frame_similarity(video_emb.numpy(), audio_emb.numpy(), num, window)
        return best_path(similarity, cfg, allowed)


# ---------------------------------------------------------------------------------------------
# One pair, one shard, a whole run
# ---------------------------------------------------------------------------------------------


def composite_region(clip: PreparedClip, cfg: PairGenConfig) -> np.ndarray:
    """Where the pair's input takes the inpainter's output: `[T, S, S]` in [0, 1] (before
    known occluders are taken out of it, `PairGenerator.make_pair`)."""
    c = clip.crops
    if cfg.composite == "lower_face":
        return c.masks
    return clip_mouth_region(c.mouth_masks, cfg.mouth_grow * c.crops.shape[1])


def occluders_in_crops(occluders: np.ndarray, affines: np.ndarray, size: int) -> np.ndarray:
    """Frame-space occluder masks `[T, H, W]` bool warped into the face crops: `[T, S, S]`
    float32 in [0, 1] (anti-aliased edges)."""
    assert len(occluders) == len(affines), "one occluder mask per cropped frame"
    return np.stack([warp_to_crop(mask.astype(np.float32), affine, size, "linear")
                     for mask, affine in zip(occluders, affines)]).clip(0.0, 1.0)


def occluder_cover(occluders: np.ndarray, region: np.ndarray) -> float:
    """Share of the composite region (`[T, S, S]` in [0, 1], `composite_region`) under the
    occluders (same shape and range)."""
    return float((occluders * region).sum() / max(float(region.sum()), 1.0))


def occluded_frames(occluders: np.ndarray, region: np.ndarray, min_px: float = 1.0) -> np.ndarray:
    """`[T]` bool: frames where the occluders (`[T, S, S]` in [0, 1]) cover more than `min_px`
    pixels of `region` (same shape): references to avoid, since a reference passes its hand on
    to the frames it is the identity of."""
    return (occluders * region).sum(axis=(1, 2)) > min_px


def known_occluders(record: ClipRecord, clip: PreparedClip) -> np.ndarray | None:
    """The clip's known occluders (`record.occluders`) in its crops `[T, S, S]` in [0, 1], or
    None without."""
    if record.occluders is None:
        return None
    c = clip.crops
    return occluders_in_crops(record.occluders, c.affines, c.crops.shape[1])


def compose_input(clip: PreparedClip, raw: np.ndarray, occluders: np.ndarray | None,
                  cfg: PairGenConfig) -> tuple[np.ndarray, np.ndarray, float]:
    """V' (`raw` inside the composite region, V outside), the region and the share of it under
    the clip's known occluders in its crops (`occluders`, None without); with
    `cfg.keep_occluders` V' keeps V's pixels under them."""
    c = clip.crops
    region = composite_region(clip, cfg)
    cover = 0.0
    if occluders is not None:
        cover = occluder_cover(occluders, region)
        if cfg.keep_occluders:
            region = region * (1.0 - occluders)
    return composite(raw, c.crops, region), region, cover


def pair_arrays(clip: PreparedClip, record: ClipRecord, edited: np.ndarray, region: np.ndarray,
                donor_audio: np.ndarray, occluders: np.ndarray | None) -> dict[str, np.ndarray]:
    """What a pair store holds for one pair (`xdub.data.pairs`)."""
    c = clip.crops
    arrays = {"input_crops": edited, "target_crops": c.crops,
              "mask": np.rint(region * 255).astype(np.uint8),
              "audio": record.samples.astype(np.float32), "donor_audio": donor_audio,
              "affines": c.affines.astype(np.float32)}
    if occluders is not None:  # for occluder augmentation in stage 2 (pair_windows)
        arrays["occluders"] = np.rint(occluders * 255).astype(np.uint8)
    return arrays


def shuffled_source(crops: np.ndarray, samples: np.ndarray, key: int
                    ) -> tuple[np.ndarray, np.ndarray, int]:
    """A clip's crops `[T, S, S, 3]` and speech `[N]` rolled by the same `shift` frames
    (circularly; drawn in the middle half of the clip, seeded by `key`, the clip's seed): real
    lips of other speech, the speech they say (float32), and the shift."""
    total = len(crops)
    shift = int(np.random.default_rng([key, 7]).integers(total // 4, total - total // 4 + 1))
    speech = np.roll(samples.astype(np.float32), shift * len(samples) // total)
    return np.roll(crops, shift, axis=0), speech, shift


def stage1_crops(inp: Inpainter, judge: SyncJudge | None, cfg: PairGenConfig,
                 record: ClipRecord, clip: PreparedClip, donor_audio: np.ndarray,
                 generator: torch.Generator, ref_rng: np.random.Generator,
                 occluders: np.ndarray | None) -> np.ndarray:
    """Stage 1's raw crops `[T, S, S, 3]` uint8 of `clip` speaking `donor_audio`, not yet
    composited into V (`compose_input` does that, once): the inpainter from noise, or
    (`cfg.retrieval`) from the clip's own mouths that go best with the donor audio, composited
    into V and noised to `cfg.retrieval.strength`; at strength 0 (`runs_inpainter` False) the
    retrieved crops themselves. References, and retrieved frames, avoid frames whose lower
    face a known occluder covers."""
    avoid = None if occluders is None else occluded_frames(occluders, clip.crops.masks)
    starts, strength = None, None
    if cfg.retrieval.enabled:
        if judge is None:
            raise ConfigError("pairs.retrieval needs the lip-sync scorer (no judge was given)")
        path = judge.mouth_path(record, donor_audio, cfg.retrieval,
                                None if avoid is None else ~avoid)
        sources = (relit(clip.crops.crops, path, composite_region(clip, cfg))
                   if cfg.retrieval.match_light else clip.crops.crops[path])
        if not runs_inpainter(cfg):
            return sources
        starts = compose_input(clip, sources, occluders, cfg)[0]
        strength = cfg.retrieval.strength
    windows = audio_windows_for(inp.featurizer, donor_audio, clip.fps, clip.num_frames)
    return inpaint_clip(inp, clip, windows, cfg.steps, generator, ref_rng, cfg.ref_scale,
                        cfg.audio_scale, ref_avoid=avoid, starts=starts,
                        denoise_strength=strength)


def runs_inpainter(cfg: PairGenConfig) -> bool:
    """Whether stage 1's DiT makes V'_raw (not so for retrieval at strength 0)."""
    return not (cfg.retrieval.enabled and cfg.retrieval.strength == 0.0)


def stage1_version(inp: Inpainter, cfg: PairGenConfig) -> str:
    """The `model_version` of stage-1 pairs: the inpainter's, and its start when retrieved."""
    if not cfg.retrieval.enabled:
        return inp.version
    return f"{inp.version}+retrieval{cfg.retrieval.strength:g}"


@dataclass
class PairGenerator:
    """Everything needed to turn input items into pairs."""

    source: ClipSource
    inpainter: Inpainter
    judge: SyncJudge | None
    cfg: PairGenConfig

    def prepare(self, record: ClipRecord) -> PreparedClip:
        spec = self.inpainter.spec
        return prepare_clip(record, spec.face, self.inpainter.featurizer, spec.mask_hold_s)

    def make_pair(self, item: int, shard: int) -> tuple[PairRecord, dict[str, np.ndarray] | None]:
        """Generate, score and judge the pair of input item `item`."""
        cfg, inp = self.cfg, self.inpainter
        record = self.source.load(item)
        clip = self.prepare(record)
        donor = pick_donor(item, len(self.source), cfg.donor_seed)
        donor_audio = match_length(self.source.load_audio(donor), len(record.samples))
        noise_seed = int(np.random.SeedSequence([cfg.donor_seed, item]).generate_state(1)[0])
        occluders = known_occluders(record, clip)
        raw = stage1_crops(inp, self.judge, cfg, record, clip, donor_audio,
                           torch.Generator().manual_seed(noise_seed),
                           np.random.default_rng([cfg.donor_seed, item, 1]), occluders)
        edited, region, cover = compose_input(clip, raw, occluders, cfg)
        scores = self.score(record, clip, raw, edited, donor_audio, region)
        if occluders is not None:
            scores["occluder_cover"] = cover  # stage 2 picks occluder donors by it
        reasons = failed_filters(scores, cfg.filters)
        arrays = None
        if not reasons or cfg.keep_rejected:
            arrays = pair_arrays(clip, record, edited, region, donor_audio, occluders)
        return self._row(item, shard, record, clip, self.source.clip_id(donor), DONOR_RULE,
                         {"noise": noise_seed, "pick": cfg.donor_seed}, donor,
                         stage1_version(inp, cfg),
                         scores, reasons, arrays), arrays

    def _row(self, item: int, shard: int, record: ClipRecord, clip: PreparedClip, donor_clip: str,
             donor_rule: str, seeds: dict[str, int], donor: int | None, version: str,
             scores: dict[str, float], reasons: list[str],
             arrays: dict[str, np.ndarray] | None) -> PairRecord:
        """The manifest row of one pair (`donor`: the donor item, None for none)."""
        seed_of = getattr(self.source, "seed", None)
        if seed_of is not None:
            seeds["source_seed"] = int(seed_of(item))
            if donor is not None:
                seeds["donor_seed"] = int(seed_of(donor))
        return PairRecord(
            pair_id=pair_id(item), item=item, shard=shard, source_clip=record.clip_id,
            donor_clip=donor_clip, donor_rule=donor_rule, seeds=seeds,
            model_version=version, num_frames=clip.num_frames, fps=clip.fps,
            crop_size=int(clip.crops.crops.shape[1]), sample_rate=AUDIO_SAMPLE_RATE,
            scores=scores, accepted=not reasons, reasons=reasons,
            file=f"{shard_stem(shard)}.safetensors" if arrays is not None else None,
            checksum=checksum(arrays) if arrays is not None else None)

    def score(self, record: ClipRecord, clip: PreparedClip, raw: np.ndarray, edited: np.ndarray,
              donor_audio: np.ndarray, region: np.ndarray) -> dict[str, float]:
        """Filter scores of one pair (sync scores NaN without a judge); `region`: where the
        composite took V' (raw PSNR is still judged outside the whole inpainting mask)."""
        c, nan = clip.crops, float("nan")
        # Outside the mask the inpainter should give V back; retrieved crops are other frames
        # there, which the composite never takes: nothing to judge.
        outside = psnr_outside(raw, c.crops, c.masks) if runs_inpainter(self.cfg) else nan
        scores = {"psnr_outside": outside,
                  "temporal_jump": temporal_jump(edited, c.crops, region)}
        scores.update(donor_sync=nan, source_sync=nan, original_sync=nan)
        if self.judge is not None:
            blend = BlendConfig(color_match="none")
            frames = np.stack([paste_back(f, crop, a, blend, m) for f, crop, a, m
                               in zip(record.frames, edited, c.affines, c.masks)])
            lm, boxes, fps = record.landmarks, record.face_boxes, record.fps
            scores["donor_sync"] = self.judge.probability(frames, lm, boxes, donor_audio, fps)
            scores["source_sync"] = self.judge.probability(frames, lm, boxes, record.samples, fps)
            scores["original_sync"] = self.judge.probability(record.frames, lm, boxes,
                                                             record.samples, fps)
        return scores

    def run_shard(self, out_dir: Path, shard: int, bar: tqdm | None = None) -> list[PairRecord]:
        """Make every pair of one shard and write it (atomically)."""
        rows, arrays = [], {}
        for item in shard_items(shard, self.cfg.shard_size, len(self.source)):
            row, stored = self.make_pair(item, shard)
            rows.append(row)
            if stored is not None:
                arrays[row.pair_id] = stored
            if bar is not None:
                bar.update(1)
        write_shard(out_dir, shard, rows, arrays)
        return rows


@dataclass
class ShufflePairGenerator(PairGenerator):
    """Pairs that need no stage 1: V' is V with the composite region taken from V itself
    `shift` frames away (`shuffled_source`), so its lips are real and sharp but belong to other
    speech (the "shuffle" kind of `scripts/make_reference_pairs.py`, except that V' keeps V's
    pixels under known occluders, as the stage-1 pairs do: `PairGenConfig.keep_occluders`).
    Every row is stored and marked `PRIOR_ONLY` (not accepted): the lip prior pretrains on them
    (`lip_prior.pretrain_pairs: all`) and the editor, which reads accepted pairs only, never
    sees them. `inpainter` gives the crop path (the same as the stage-1 pairs'); its DiT does
    not run."""

    def make_pair(self, item: int, shard: int) -> tuple[PairRecord, dict[str, np.ndarray] | None]:
        record = self.source.load(item)
        clip = self.prepare(record)
        seed_of = getattr(self.source, "seed", None)  # the clip's own seed: the same shifts
        key = int(seed_of(item)) if seed_of is not None else item  # as make_reference_pairs.py
        shuffled, donor_audio, shift = shuffled_source(clip.crops.crops, record.samples, key)
        occluders = known_occluders(record, clip)
        edited, region, cover = compose_input(clip, shuffled, occluders, self.cfg)
        scores = {"shift": float(shift)}
        if occluders is not None:
            scores["occluder_cover"] = cover
        arrays = pair_arrays(clip, record, edited, region, donor_audio, occluders)
        return self._row(item, shard, record, clip, record.clip_id, SHUFFLE_RULE,
                         {"pick": self.cfg.donor_seed}, None, SHUFFLE_RULE, scores,
                         [PRIOR_ONLY], arrays), arrays


def generate_pairs(gen: PairGenerator, out_dir: str | Path, worker: Worker | None = None,
                   progress: bool = True) -> dict:
    """Process this worker's unfinished shards; merge the manifest once all are done.

    `worker`: this process's place (default: from the launcher's environment, see
    `xdub.sharding`). Returns the summary of the rows this call can see (its own shards) plus
    `skipped_shards`.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    worker = worker or current_worker()
    size = gen.cfg.shard_size
    mine = shards_for(len(gen.source), size, worker.index, worker.count)
    todo = [k for k in mine if not shard_done(out_dir, k)]
    count = sum(len(shard_items(k, size, len(gen.source))) for k in todo)
    rows: list[PairRecord] = []
    with tqdm(total=count, desc="pairs", unit="clip", disable=not progress) as bar:
        for k in todo:
            rows += gen.run_shard(out_dir, k, bar)
    merged = merge_manifests(out_dir, num_shards(len(gen.source), size))
    # The whole store exists: judge its stage-1 mouths (when enabled), then count its verdicts.
    realism = filter_by_realism(out_dir, gen.cfg.realism, progress) if merged else None
    if realism is not None:
        rows = [r for r in read_rows(merged) if r.shard in todo]
    summary = summarize(rows)
    summary.update(worker=worker.label, shards_done=todo, skipped_shards=len(mine) - len(todo),
                   manifest=str(merged) if merged else None)
    if realism is not None:
        summary["realism"] = {k: v for k, v in realism.items() if k != "config"}
    return summary
