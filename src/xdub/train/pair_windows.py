"""Stage-2 training windows cut from the pseudo-pair store, as a resumable batch stream.

A pair (from `xdub make-pairs`) holds the whole clip: input crops V' (lips follow a donor
audio A'), target crops V, the source audio A and the inpainting mask. A training sample is a
window of F frames: V'[s:s+F] is the editor's source, V[s:s+F] its target, A's feature
windows its audio; identity references are frames of V' (the video being dubbed, as at
inference) drawn away from the window. The mouth region for the lip-phase weighting is the
pair's `mouth_mask` when the store has one, else its inpainting mask (a superset).

Sample position k of the stream is fully determined by (seed, k): the pair comes from a
seeded permutation per epoch, the window start and references from `default_rng([seed, k])`,
so `batches(start)` (typed `EditBatch`es) resumes exactly. With a per-frame codec (temporal
factor 1) an `encoder` encodes each clip once and windows slice the cached latents, which
equals encoding the window (and each reference alone) but costs one encode per pair instead of
one per step.

Mouth swap (issue #12, "no reward for copying"): with probability `mouth_swap` a sample's source
mouth region is replaced by the REAL clip's mouth from frames at least `mouth_swap_gap` frames
away (`swap_mouths`). The source then shows sharp, real lips of the same person that do not
follow the audio, as a dubbing input does; with stage-1 mouths alone (blurry) the editor learns
that sharp input lips are right and copies them at inference.

Occluder paste (issue #12, occluders): with probability `occluder_paste` a rectangle from
another pair (one frame of it, held still, taken where that pair shows no mouth) is pasted over
the mouth of BOTH the source and the target window (`paste_occluder`): whatever covers the mouth
in the source is right in the target, so an editor (or its lip prior's gate) learns to keep it.
A share `occluder_paste_real` of those pastes use a real occluder instead (`paste_real_occluder`):
another pair's stored `occluders` mask (a hand, microphone or cup; engine truth) and its pixels,
moving over the window as they moved there. The crops are face-aligned, so it lands where it
was on that face; a rectangle of cheek never looks like the hands the editor meets.
Imports: numpy, torch, xdub.{audio, conditioning, config, data, models, train}.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from xdub.audio.featurizer import AudioFeaturizer
from xdub.conditioning import select_reference_indices
from xdub.config.sync import SyncScorerConfig
from xdub.data.crops import audio_windows_for
from xdub.data.dataset import collate_windows
from xdub.data.pairs import PairStore
from xdub.models.syncnet_features import audio_window_starts, audio_windows, log_mel
from xdub.sharding import Worker
from xdub.train.batches import EditBatch

LatentEncoder = Callable[[np.ndarray], np.ndarray]  # crops [T, S, S, 3] -> latents [C, T, h, w]
# Least recently used pairs leave the cache beyond this. Windows are drawn from every pair in
# turn, so a cache smaller than the pair set misses on most draws: a count cap of 512 pairs made
# the lip prior's pretraining on 688 pairs 5x slower (1.3 instead of 7 steps/s, session 14).
# A tiny pair takes 3.5 MB (crops, latents of both clips, audio features): ~1,750 pairs fit.
CACHE_BYTES = 6 << 30
MIN_OCCLUDER_COVER = 0.05  # share of a pair's composite region under occluders to donate them


@dataclass(frozen=True)
class PairClip:
    """One pair, model-ready: crops `[T, S, S, 3]` uint8, region `[T, S, S]` uint8 (255 =
    mouth), audio windows `[T, W, D]` float32, scorer log-mel `[M, n_mels]` or None, and with
    a per-frame codec the cached latents `[C, T, h, w]` float32 of both clips (or None)."""

    pair_id: str
    fps: float
    input_crops: np.ndarray
    target_crops: np.ndarray
    region: np.ndarray
    audio_windows: np.ndarray
    mel: torch.Tensor | None
    input_latents: np.ndarray | None = None
    target_latents: np.ndarray | None = None
    occluders: np.ndarray | None = None  # [T, S, S] uint8 (255 = covered), when stored

    @property
    def num_frames(self) -> int:
        return int(self.input_crops.shape[0])

    @property
    def nbytes(self) -> int:
        """Memory held by its arrays (what the `PairWindows` cache budgets)."""
        arrays = (self.input_crops, self.target_crops, self.region, self.audio_windows, self.mel,
                  self.input_latents, self.target_latents, self.occluders)
        return sum(int(a.nbytes) if isinstance(a, np.ndarray) else
                   a.numel() * a.element_size() for a in arrays if a is not None)


class PairWindows:
    """Deterministic, resumable stream of stage-2 samples over a `PairStore`."""

    def __init__(self, store: PairStore, featurizer: AudioFeaturizer, window_frames: int,
                 ref_frames: int, ref_min_gap: int, seed: int = 0,
                 scorer: SyncScorerConfig | None = None, cache_bytes: int = CACHE_BYTES,
                 encoder: LatentEncoder | None = None, mouth_swap: float = 0.0,
                 mouth_swap_gap: int = 8, occluder_paste: float = 0.0,
                 occluder_paste_real: float = 0.0) -> None:
        if len(store) == 0:
            raise ValueError(f"no accepted pairs in {store.location}")
        self.store, self.featurizer, self.scorer = store, featurizer, scorer
        self.window_frames, self.ref_frames, self.ref_min_gap = window_frames, ref_frames, ref_min_gap
        self.seed, self.cache_bytes, self.encoder = seed, cache_bytes, encoder
        self.mouth_swap, self.mouth_swap_gap = mouth_swap, mouth_swap_gap
        self.occluder_paste, self.occluder_paste_real = occluder_paste, occluder_paste_real
        # Donors of real occluders: pairs whose occluders cover part of the mouth area.
        self.occluded = [k for k, row in enumerate(store.rows)
                         if row.scores.get("occluder_cover", 0.0) >= MIN_OCCLUDER_COVER]
        self._cache: OrderedDict[int, PairClip] = OrderedDict()
        self._cached_bytes = 0

    def __len__(self) -> int:
        return len(self.store)

    def clip(self, index: int) -> PairClip:
        """Pair `index` with its audio features (cached)."""
        if index in self._cache:
            self._cache.move_to_end(index)
            return self._cache[index]
        arrays, row = self.store.load(index), self.store.rows[index]
        region = arrays.get("mouth_mask", arrays["mask"])
        if region.dtype != np.uint8:
            region = np.rint(np.clip(region, 0, 1) * 255).astype(np.uint8)
        num = int(arrays["input_crops"].shape[0])
        windows = audio_windows_for(self.featurizer, arrays["audio"], row.fps, num)
        mel = log_mel(arrays["audio"], self.scorer) if self.scorer is not None else None
        latents = {}
        if self.encoder is not None:  # a per-frame codec: encoding a window = slicing the clip
            latents = {f"{k}_latents": self.encoder(arrays[f"{k}_crops"])
                       for k in ("input", "target")}
        clip = PairClip(row.pair_id, float(row.fps), arrays["input_crops"],
                        arrays["target_crops"], region, windows, mel, **latents,
                        occluders=arrays.get("occluders"))
        if num < self.window_frames + (1 if self.ref_frames else 0):
            raise ValueError(f"pair {row.pair_id}: {num} frames is too short for the windows")
        self._cache[index] = clip
        self._cached_bytes += clip.nbytes
        while self._cached_bytes > self.cache_bytes and len(self._cache) > 1:
            self._cached_bytes -= self._cache.popitem(last=False)[1].nbytes
        return clip

    def sample(self, position: int) -> dict[str, Any]:
        """Sample `position` of the stream (numpy arrays; see the module docstring)."""
        epoch, offset = divmod(position, len(self))
        index = int(np.random.default_rng([self.seed, epoch]).permutation(len(self))[offset])
        clip = self.clip(index)
        rng = np.random.default_rng([self.seed, 1, position])
        f = self.window_frames
        start = int(rng.integers(0, clip.num_frames - f + 1))
        refs = select_reference_indices(clip.num_frames, (start, start + f), self.ref_frames,
                                        self.ref_min_gap, rng)
        sample = {
            "input_crops": clip.input_crops[start:start + f],
            "target_crops": clip.target_crops[start:start + f],
            "ref_crops": clip.input_crops[refs],
            "region": clip.region[start:start + f],
            "audio": clip.audio_windows[start:start + f],
            "pair_id": clip.pair_id,
            "start": start,
        }
        if clip.input_latents is not None and clip.target_latents is not None:
            sample["input_latents"] = clip.input_latents[:, start:start + f]
            sample["target_latents"] = clip.target_latents[:, start:start + f]
            sample["ref_latents"] = clip.input_latents[:, refs]
        if self.mouth_swap > 0 and rng.random() < self.mouth_swap:
            swap_mouths(sample, clip, start, f, self.mouth_swap_gap, rng)
        if self.occluder_paste > 0 and rng.random() < self.occluder_paste:
            if self.occluded and rng.random() < self.occluder_paste_real:
                donor = self.clip(self.occluded[int(rng.integers(len(self.occluded)))])
                paste_real_occluder(sample, donor, rng, self.encoder)
            else:
                paste_occluder(sample, self.clip(int(rng.integers(len(self)))), rng)
        if clip.mel is not None and f >= self.scorer.window_frames:
            count = f - self.scorer.window_frames + 1
            starts = audio_window_starts(count, clip.fps, self.scorer, offset=start)
            mel = audio_windows(clip.mel, starts, self.scorer.audio_window_frames)
            sample["mel_windows"] = mel.numpy()
        return sample

    def batches(self, start: int, batch_size: int,
                worker: Worker = Worker()) -> Iterator[EditBatch]:
        """Endless typed batches beginning at sample position `start` of the global stream:
        with several processes each global batch of `batch_size * worker.count` positions is
        dealt round-robin, this process taking `Worker.own_rows` of it."""
        position, world = start, worker.count
        while True:
            mine = worker.own_rows(range(position, position + batch_size * world))
            position += batch_size * world
            yield EditBatch.from_collated(collate_windows([self.sample(k) for k in mine]))


def swap_mouths(sample: dict[str, Any], clip: PairClip, start: int, frames: int, gap: int,
                rng: np.random.Generator) -> None:
    """Replace the source window's mouth region (crops, and latents when cached) by the real
    clip V's mouth from frames shifted by k in [gap, T - gap] (cyclic), in place. The blend
    weight is the union of both frames' mouth regions (at latent resolution: its block max)."""
    total = clip.num_frames
    if total < 2 * gap + 1:
        return  # too short for lips that are `gap` frames away
    shift = int(rng.integers(gap, total - gap + 1))
    own = np.arange(start, start + frames)
    donor = (own + shift) % total
    region = np.maximum(clip.region[own], clip.region[donor]).astype(np.float32) / 255.0
    weight = region[..., None]  # [F, S, S, 1] over crops [F, S, S, 3]
    crops = (1 - weight) * clip.input_crops[own] + weight * clip.target_crops[donor]
    sample["input_crops"] = np.rint(crops).astype(np.uint8)
    if clip.input_latents is not None and clip.target_latents is not None:
        size, (h, w) = region.shape[-1], clip.input_latents.shape[-2:]
        blocks = region.reshape(frames, h, size // h, w, size // w).max(axis=(2, 4))[None]
        sample["input_latents"] = ((1 - blocks) * clip.input_latents[:, own]
                                   + blocks * clip.target_latents[:, donor]).astype(np.float32)


def paste_occluder(sample: dict[str, Any], donor: PairClip, rng: np.random.Generator,
                   tries: int = 16) -> None:
    """Paste one still rectangle of `donor`'s target (a random frame, taken from where the donor
    shows no mouth) over the mouth of the sample's source AND target, crops and cached latents
    alike, in place. Both rectangles lie on the codec's latent grid so the pastes agree.

    The patch must not be a mouth: another face's lips pasted over the mouth of source and
    target alike teach the editor that input lips are right (the leak). Leaves the sample alone
    when no mouth-free patch is found in `tries` draws."""
    crops = sample["target_crops"]
    size = crops.shape[1]
    grid = size // sample["target_latents"].shape[-1] if "target_latents" in sample else 1
    rows, cols = np.nonzero(sample["region"].max(axis=0) > 127)
    cy, cx = (rows.mean(), cols.mean()) if len(rows) else (size * 0.6, size / 2)
    height_px = int(rng.integers(size // 8, size // 3 + 1))
    width_px = int(rng.integers(size // 6, size // 2 + 1))
    jitter = size // 8
    top_px = int(np.clip(cy - height_px / 2 + rng.integers(-jitter, jitter + 1), 0,
                         size - height_px))
    left_px = int(np.clip(cx - width_px / 2 + rng.integers(-jitter, jitter + 1), 0,
                          size - width_px))
    top, left = top_px // grid, left_px // grid  # snapped outward onto the latent grid
    height = -(-(top_px + height_px) // grid) - top
    width = -(-(left_px + width_px) // grid) - left
    cells = size // grid
    frame = int(rng.integers(donor.num_frames))
    donor_mouth = donor.region[frame] > 12
    for _ in range(tries):
        src_top = int(rng.integers(cells - height + 1))
        src_left = int(rng.integers(cells - width + 1))
        patch = (slice(src_top * grid, (src_top + height) * grid),
                 slice(src_left * grid, (src_left + width) * grid))
        if not donor_mouth[patch].any():
            break
    else:
        return
    place = (slice(top * grid, (top + height) * grid), slice(left * grid, (left + width) * grid))
    for key in ("input_crops", "target_crops"):
        pasted = sample[key].copy()
        pasted[:, place[0], place[1]] = donor.target_crops[frame, patch[0], patch[1]]
        sample[key] = pasted
    if "target_latents" in sample and donor.target_latents is not None:
        src = donor.target_latents[:, frame, src_top:src_top + height, src_left:src_left + width]
        for key in ("input_latents", "target_latents"):
            pasted = np.array(sample[key], copy=True)
            pasted[:, :, top:top + height, left:left + width] = src[:, None]
            sample[key] = pasted


def paste_real_occluder(sample: dict[str, Any], donor: PairClip, rng: np.random.Generator,
                        encoder: LatentEncoder | None, tries: int = 4) -> None:
    """Paste `donor`'s stored occluders (a window of its frames, the one most covered of
    `tries` draws) with their pixels over the sample's source AND target crops, in place;
    cached latents are re-encoded (`encoder`: the per-frame codec that made them). A donor without
    stored occluders, or shorter than the window, leaves the sample alone."""
    frames = len(sample["target_crops"])
    if donor.occluders is None or donor.num_frames < frames:
        return
    starts = rng.integers(0, donor.num_frames - frames + 1, size=tries)
    cover = [donor.occluders[s:s + frames].sum() for s in starts]
    start = int(starts[int(np.argmax(cover))])
    alpha = donor.occluders[start:start + frames, ..., None].astype(np.float32) / 255.0
    pixels = donor.target_crops[start:start + frames].astype(np.float32)
    for key in ("input_crops", "target_crops"):
        mixed = (1.0 - alpha) * sample[key].astype(np.float32) + alpha * pixels
        sample[key] = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
    if "target_latents" in sample:  # cached latents come from `encoder` (a per-frame codec)
        assert encoder is not None, "cached latents without their encoder"
        for key in ("input", "target"):
            sample[f"{key}_latents"] = encoder(sample[f"{key}_crops"])
