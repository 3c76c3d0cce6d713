"""Configs of the lip-sync scorer (`xdub.models.syncnet`) and its training recipe. Stdlib only.

`SyncScorerConfig` describes the network and its input contract (crop size, window, log-mel);
it is saved next to the weights so a checkpoint rebuilds itself. `SyncTrainConfig` drives
`xdub.train.syncnet`. Presets: `SCORER_PRESETS`, `SYNC_TRAIN_PRESETS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from xdub.config.loop import LoopConfig


@dataclass(frozen=True, slots=True)
class SyncScorerConfig:
    """The tiny SyncNet-style scorer: input contract and layer widths."""

    # --- input contract (changing any of these invalidates trained weights) -------------------
    fps: float = 25.0  # video rate the window is defined at; SyncNet protocol uses 25
    window_frames: int = 5  # video frames per window: 0.2 s at 25 fps, as in SyncNet
    crop_height: int = 48  # lower-face crop rows; 48x96 is Wav2Lip's expert crop shape
    crop_width: int = 96  # lower-face crop columns (mouth corner to corner + cheeks)
    channels: int = 1  # 1 = grayscale crops (sync lives in shape, not colour), 3 = RGB
    crop_scale: float = 0.65  # crop width as a fraction of face-box width; 0.5 .. 1.0
    sample_rate: int = 16000  # every audio model in xdub consumes 16 kHz mono
    n_mels: int = 40  # mel bands; 40 is plenty for mouth-shape cues, 80 costs 2x audio compute
    hop_length: int = 160  # 10 ms hop -> 100 mel frames/s (4 per video frame at 25 fps)
    win_length: int = 400  # 25 ms analysis window
    n_fft: int = 512  # FFT size >= win_length
    audio_window_s: float = 0.2  # audio span per window, centred on the video window's centre
    # --- network ------------------------------------------------------------------------------
    video_widths: tuple[int, ...] = (16, 32, 64, 128)  # conv stages after a stride-2 stem
    audio_widths: tuple[int, ...] = (16, 32, 64, 128)  # same for the audio branch
    embed_dim: int = 128  # size of the L2-normalised embedding; 64 .. 512

    @property
    def audio_window_frames(self) -> int:
        """Mel frames per audio window (20 for 0.2 s at a 10 ms hop)."""
        return round(self.audio_window_s * self.sample_rate / self.hop_length)

    @property
    def mel_rate(self) -> float:
        """Mel frames per second."""
        return self.sample_rate / self.hop_length


# The scorer recipe's loop: plain AdamW betas, cosine to lr / 20, clipping at 5, no EMA (the
# exported scorer is the trained weights, as the shipped one), a 20-minute CPU-time budget.
SYNC_LOOP = LoopConfig(steps=3000, batch_size=12, lr=2e-3, min_lr_ratio=0.05, warmup=100,
                       weight_decay=1e-2, betas=(0.9, 0.999), grad_clip=5.0, ema_decay=0.0,
                       ckpt_every=250, log_every=25, sample_every=0, max_minutes=20.0,
                       budget_clock="cpu")


@dataclass(frozen=True, slots=True)
class SyncTrainConfig:
    """Contrastive training of the scorer on clips rendered by the synthetic engine."""

    model: SyncScorerConfig = field(default_factory=SyncScorerConfig)
    loop: LoopConfig = field(default_factory=lambda: SYNC_LOOP)  # steps (~0.3 s each on one
    #   CPU thread), batch (clips per step), AdamW, checkpoints, budget; training clip seeds
    #   are loop.seed * 1_000_000 + k
    anchors_per_clip: int = 4  # consecutive video windows per clip; they share audio windows
    max_shift: int = 5  # audio offsets +-1..max_shift frames (at least) are hard negatives
    bce_weight: float = 1.0  # weight of the sigmoid (calibrated probability) loss vs InfoNCE
    pool_clips: int = 96  # rendered clips held in memory to draw windows from
    refresh_every: int = 150  # micro-batches between re-rendering part of the pool
    refresh_clips: int = 16  # clips replaced per refresh
    scenario: str = "mixed"  # synthetic-engine scenario (xdub.config.synth.SCENARIOS key)
    clip_seconds: float = 3.0  # length of each rendered training clip


# Seeds >= this are never used for training clips, so held-out evaluation draws from here.
EVAL_SEED_BASE = 900_000_000

SCORER_PRESETS: dict[str, SyncScorerConfig] = {
    "tiny": SyncScorerConfig(),
    # Test-sized network: same input contract, ~20x fewer parameters.
    "test": SyncScorerConfig(video_widths=(8, 16), audio_widths=(8, 16), embed_dim=32),
}

SYNC_TRAIN_PRESETS: dict[str, SyncTrainConfig] = {
    "tiny": SyncTrainConfig(),
    "test": SyncTrainConfig(
        model=SCORER_PRESETS["test"],
        loop=replace(SYNC_LOOP, steps=4, batch_size=4, ckpt_every=2, log_every=1),
        anchors_per_clip=2,
        max_shift=3,
        pool_clips=4,
        refresh_every=1000,
        clip_seconds=1.0,
    ),
}
