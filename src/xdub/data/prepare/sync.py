"""Step 5: the clip's 16 kHz mono audio, its offset to the video, and the corrected audio.

The offset is found by the lip-sync scorer's offset search (`xdub.models.sync_offsets`, the
same search the benchmark's LSE numbers use) on mouth crops cut from the ALIGNED crops
(`crop_mouths_68`), i.e. on what training will see. Protocol sign: audio that lags the video by
d frames scores offset -d. Correction reads the audio d frames later (from a margin read around
the clip), so the corrected clip scores offset 0; offsets beyond `max_correction` are
"offset_too_large" and clips whose confidence (LSE-C) is below `min_confidence` are
"low_sync_confidence". Imports: numpy, xdub.{models, media, config, types}.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xdub.config.prepare import SyncRules
from xdub.data.prepare.reasons import Rejected
from xdub.media import read_audio
from xdub.models.sync_offsets import SyncScores, sync_scores
from xdub.models.syncnet import SyncScorer
from xdub.models.syncnet_features import crop_mouths_68, log_mel
from xdub.types import AUDIO_SAMPLE_RATE


@dataclass(frozen=True)
class SyncResult:
    """`samples: [N]` float32 16 kHz of the clip, corrected; `offset` as found (protocol sign)
    and `confidence` of the uncorrected audio."""

    samples: np.ndarray
    offset: int
    confidence: float


def read_clip_audio(path: Path, start: int, stop: int, fps: float, margin: int) -> np.ndarray:
    """16 kHz mono samples of frames [start - margin, stop + margin); silence outside the file."""
    per_frame = AUDIO_SAMPLE_RATE / fps
    begin = (start - margin) / fps
    audio = read_audio(path, AUDIO_SAMPLE_RATE, start=max(begin, 0.0), end=(stop + margin) / fps)
    lead = np.zeros(round(max(-begin, 0.0) * AUDIO_SAMPLE_RATE), np.float32)
    want = round((stop - start + 2 * margin) * per_frame)
    samples = np.concatenate([lead, audio.samples])[:want]
    return np.pad(samples, (0, want - len(samples))).astype(np.float32)


def clip_sync_scores(scorer: SyncScorer, crops: np.ndarray, landmarks: np.ndarray,
                     samples: np.ndarray, fps: float, max_offset: int) -> SyncScores:
    """Offset search of aligned `crops: [T, S, S, 3]` (crop-space `landmarks`) vs `samples`."""
    mouths = SyncScorer.normalize_crops(crop_mouths_68(crops, landmarks, scorer.cfg))
    return sync_scores(scorer, mouths, log_mel(samples, scorer.cfg), fps, max_offset)


def sync_clip(scorer: SyncScorer, crops: np.ndarray, landmarks: np.ndarray,
              padded: np.ndarray, margin: int, fps: float, rules: SyncRules) -> SyncResult:
    """Score the clip against the audio in `padded` (`margin` frames each side), correct it.

    Rejected("offset_too_large" | "low_sync_confidence") when the rules say so.
    """
    per_frame = AUDIO_SAMPLE_RATE / fps
    length = round(len(crops) * per_frame)

    def window(delay: int) -> np.ndarray:
        begin = round((margin + delay) * per_frame)
        return padded[begin: begin + length]

    scores = clip_sync_scores(scorer, crops, landmarks, window(0), fps, rules.max_offset)
    if abs(scores.offset) > rules.max_correction:
        raise Rejected("offset_too_large", f"offset {scores.offset:+d} frames")
    if scores.confidence < rules.min_confidence:
        raise Rejected("low_sync_confidence",
                       f"confidence {scores.confidence:.2f} < {rules.min_confidence}")
    return SyncResult(window(-scores.offset).copy(), scores.offset, scores.confidence)
