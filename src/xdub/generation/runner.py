"""The one chunk runner: generate a run of aligned crops chunk by chunk, without seams.

`ChunkRunner.run` takes the chunks of a segment in order (`plan_chunks`): it pads each chunk
to the codec's frame rule (repeating the last frame), hands the generator the previous
chunk's output for its first `motion_frames` frames, and cross-fades the frames two chunks
share (`crossfade`). The dubbing pipeline's `ChunkStream` drives it frame-streamed; pair
generation, the benchmark's generators and training samples drive it over a whole clip with
`generate_clip`. Imports: numpy, torch, xdub.{conditioning, generation}.
"""

from __future__ import annotations

import numpy as np
import torch

from xdub.conditioning import select_reference_indices
from xdub.generation.chunking import Chunk, crossfade, pad_frames, plan_chunks, valid_length
from xdub.generation.interface import ChunkInput, CropGenerator


class ChunkRunner:
    """Runs consecutive chunks through one generator; holds the frames awaiting a cross-fade."""

    def __init__(self, generator: CropGenerator, rng: torch.Generator) -> None:
        self.generator, self.rng = generator, rng
        self.pending: dict[int, np.ndarray] = {}  # frame -> earlier chunk's crop (float32)
        self.previous: tuple[Chunk, np.ndarray] | None = None  # last chunk and its raw output

    def padded_length(self, num_frames: int) -> int:
        """Frames the generator is given for a chunk of `num_frames` (the codec's rule)."""
        return valid_length(num_frames, self.generator.temporal_factor)

    def run(self, chunk: Chunk, crops: np.ndarray, audio_windows: torch.Tensor | None,
            ref_crops: np.ndarray | None = None, masks: np.ndarray | None = None,
            starts: np.ndarray | None = None) -> dict[int, np.ndarray]:
        """Generate `chunk` from its `crops: [n, S, S, 3]` uint8 (`audio_windows: [L, W, D]`
        for the padded length L, `masks: [n, S, S]`, `starts: [n, S, S, 3]` what a partial
        denoise starts from); returns `{frame: crop}` uint8 of the
        frames that are final (the rest wait for the next chunk's cross-fade)."""
        gen, n = self.generator, chunk.length
        assert len(crops) == n, f"chunk of {n} frames got {len(crops)} crops"
        length = self.padded_length(n)
        motion = None
        if chunk.index > 0 and gen.motion_frames > 0 and self.previous is not None:
            prev_chunk, prev_out = self.previous
            offset = chunk.start - prev_chunk.start
            motion = prev_out[offset: offset + gen.motion_frames]
        padded_masks = pad_frames(masks, length) if masks is not None else None
        padded_starts = pad_frames(starts, length) if starts is not None else None
        out = gen.generate(ChunkInput(pad_frames(crops, length), audio_windows, ref_crops, motion,
                                      padded_masks, padded_starts), self.rng)
        size = crops.shape[1]
        assert out.shape == (length, size, size, 3), f"generator returned {out.shape}"
        out = out[:n]
        blended = out.astype(np.float32)
        shared = [k for k in range(chunk.start, chunk.stop) if k in self.pending]
        if shared:
            earlier = np.stack([self.pending.pop(k) for k in shared])
            blended[: len(shared)] = crossfade(earlier, out[: len(shared)])
        self.previous = (chunk, out)
        finals: dict[int, np.ndarray] = {}
        for j, k in enumerate(range(chunk.start, chunk.stop)):
            if k >= chunk.keep_until:
                self.pending[k] = blended[j]
            else:
                finals[k] = np.clip(np.rint(blended[j]), 0, 255).astype(np.uint8)
        return finals


def generate_clip(generator: CropGenerator, crops: np.ndarray, audio_windows: np.ndarray | None,
                  chunk_frames: int, overlap: int, rng: torch.Generator,
                  ref_rng: np.random.Generator | None = None, ref_min_gap: int = 8,
                  masks: np.ndarray | None = None, ref_nearest: bool = False,
                  ref_avoid: np.ndarray | None = None, starts: np.ndarray | None = None
                  ) -> np.ndarray:
    """New crops `[T, S, S, 3]` uint8 for a whole clip of aligned `crops: [T, S, S, 3]`.

    `audio_windows: [T, W, D]` (one per frame), `masks: [T, S, S]` (inpainting generators).
    Chunks of `chunk_frames` share `overlap` frames, as in `xdub dub`; each chunk's identity
    references are drawn from the clip's crops outside it (`select_reference_indices`, with
    `ref_nearest` and `ref_avoid: [T]` bool). `starts: [T, S, S, 3]`: what a partial
    denoise starts from (None: the generator's own start).
    """
    total = len(crops)
    if audio_windows is not None:
        assert len(audio_windows) == total, "one audio window per frame"
    runner = ChunkRunner(generator, rng)
    out = np.empty_like(crops)
    for chunk in plan_chunks([(0, total)], chunk_frames, overlap):
        length = runner.padded_length(chunk.length)
        # The tf - 1 frames before a chunk are its first latent frame's audio lead-in
        # (`conditioning.group_audio_windows`); the clip's first chunk has none.
        lead_in = generator.temporal_factor - 1
        lead_in = lead_in if 0 < lead_in <= chunk.start else 0
        index = np.minimum(np.arange(chunk.start - lead_in, chunk.start + length), total - 1)
        windows = torch.as_tensor(audio_windows[index]) if audio_windows is not None else None
        refs = None
        if generator.ref_frames:
            chosen = select_reference_indices(total, (chunk.start, chunk.stop),
                                              generator.ref_frames, ref_min_gap, ref_rng,
                                              ref_nearest, ref_avoid)
            refs = crops[chosen]
        chunk_masks = masks[chunk.start:chunk.stop] if masks is not None else None
        chunk_starts = starts[chunk.start:chunk.stop] if starts is not None else None
        for k, crop in runner.run(chunk, crops[chunk.start:chunk.stop], windows, refs,
                                  chunk_masks, chunk_starts).items():
            out[k] = crop
    assert not runner.pending, "frames left without a final crop"
    return out
