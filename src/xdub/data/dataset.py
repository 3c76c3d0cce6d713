"""Torch dataset of stage-1 training windows, its resumable sampler and collate function.

`WindowDataset[i]` is window `i % windows_per_clip` of clip `i // windows_per_clip`: the clip
is loaded from a `ClipSource` (rendered on the fly for synthetic seeds), prepared once
(`prepare_clip`) and kept in a small LRU cache; the window start and the reference frames come
from a generator seeded by (seed, clip, window), so an index always gives the same sample.
`BlockShuffleSampler` shuffles clips, then the windows of `block` clips together: batches
mix several clips while each clip is prepared only once per pass, and it can start at any
position (resume) and deal positions round-robin to processes. Imports: numpy, torch,
xdub.data, xdub.audio, xdub.config.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from xdub.data.crops import PreparedClip, cut_window
from xdub.data.sources import ClipRecord, ClipSource

Prepare = Callable[[ClipRecord], PreparedClip]


class WindowDataset(Dataset):
    """Training windows of F frames with references, masks and audio (see `cut_window`)."""

    def __init__(self, source: ClipSource, prepare: Prepare, window_frames: int, ref_frames: int,
                 ref_min_gap: int, windows_per_clip: int, seed: int = 0,
                 cache_clips: int = 8) -> None:
        self.source = source
        self.prepare = prepare
        self.window_frames = window_frames
        self.ref_frames = ref_frames
        self.ref_min_gap = ref_min_gap
        self.windows_per_clip = windows_per_clip
        self.seed = seed
        self.cache_clips = max(1, cache_clips)
        self._cache: OrderedDict[int, PreparedClip] = OrderedDict()

    def __len__(self) -> int:
        return len(self.source) * self.windows_per_clip

    def clip(self, clip_index: int) -> PreparedClip:
        """Prepared clip `clip_index` (cached)."""
        if clip_index in self._cache:
            self._cache.move_to_end(clip_index)
            return self._cache[clip_index]
        prepared = self.prepare(self.source.load(clip_index))
        if prepared.num_frames < self.window_frames + (1 if self.ref_frames else 0):
            raise ValueError(f"{prepared.clip_id}: {prepared.num_frames} frames is too short for "
                             f"{self.window_frames}-frame windows with references")
        self._cache[clip_index] = prepared
        while len(self._cache) > self.cache_clips:
            self._cache.popitem(last=False)
        return prepared

    def __getitem__(self, index: int) -> dict[str, Any]:
        clip_index, window = divmod(int(index), self.windows_per_clip)
        clip = self.clip(clip_index)
        rng = np.random.default_rng([self.seed, clip_index, window])
        start = int(rng.integers(0, clip.num_frames - self.window_frames + 1))
        sample = cut_window(clip, start, self.window_frames, self.ref_frames, self.ref_min_gap, rng)
        sample["index"] = int(index)
        return sample


class BlockShuffleSampler(Sampler[int]):
    """Endless index stream: per epoch, clips shuffled, then windows of `block` clips shuffled
    together. `start` skips that many positions (resume); process `rank` of `world` takes
    positions rank, rank + world, ... so processes never share a sample."""

    def __init__(self, num_clips: int, windows_per_clip: int, block: int, seed: int = 0,
                 start: int = 0, rank: int = 0, world: int = 1) -> None:
        self.num_clips = num_clips
        self.windows_per_clip = windows_per_clip
        self.block = max(1, block)
        self.seed = seed
        self.start = start
        self.rank = rank
        self.world = world

    @property
    def epoch_length(self) -> int:
        return self.num_clips * self.windows_per_clip

    def epoch_order(self, epoch: int) -> np.ndarray:
        """All dataset indices of one epoch, in sampling order."""
        rng = np.random.default_rng([self.seed, epoch])
        clips = rng.permutation(self.num_clips)
        order = []
        for first in range(0, self.num_clips, self.block):
            group = clips[first:first + self.block]
            indices = (group[:, None] * self.windows_per_clip
                       + np.arange(self.windows_per_clip)[None, :]).ravel()
            order.append(rng.permutation(indices))
        return np.concatenate(order)

    def __iter__(self) -> Iterator[int]:
        position = self.start
        epoch, offset = divmod(position, self.epoch_length)
        while True:
            order = self.epoch_order(epoch)
            for k in range(offset, self.epoch_length):
                if (epoch * self.epoch_length + k) % self.world == self.rank:
                    yield int(order[k])
            epoch, offset = epoch + 1, 0

    def __len__(self) -> int:  # endless; DataLoader only needs it for progress estimates
        return 2**62


def collate_windows(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack array/tensor fields into tensors `[B, ...]` (uint8 crops stay uint8); ids as lists."""
    out: dict[str, Any] = {}
    for key, value in samples[0].items():
        values = [s[key] for s in samples]
        if isinstance(value, np.ndarray):
            out[key] = torch.from_numpy(np.stack(values))
        elif isinstance(value, torch.Tensor):
            out[key] = torch.stack(values)
        else:
            out[key] = values
    return out


def window_loader(dataset: WindowDataset, batch_size: int, block: int, seed: int, start: int,
                  rank: int = 0, world: int = 1, num_workers: int = 0) -> torch.utils.data.DataLoader:
    """Endless DataLoader of collated batches, starting after `start` samples of this process."""
    sampler = BlockShuffleSampler(len(dataset.source), dataset.windows_per_clip, block, seed,
                                  start=start * world, rank=rank, world=world)
    return torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, sampler=sampler, collate_fn=collate_windows,
        num_workers=num_workers, persistent_workers=False,
    )
