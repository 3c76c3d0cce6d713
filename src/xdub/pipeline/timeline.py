"""Output timeline: which source frame each output frame shows, which frames are dubbed, and
the output audio track. Pure functions of counts and arrays (no media I/O); the output track
is spliced as it is read, so a long one is never held in memory.

Frame grid: output frame k is shown at k / fps, fps = the input video's own rate. The new audio
is N_a = round(duration * fps) frames long. With N source frames:

    --length audio     T = N_a frames, all dubbed. A shorter video is extended (`extend`):
                       loop 0..N-1,0..; pingpong 0..N-1,N-2..0,1..; freeze 0..N-1,N-1,N-1..
                       A longer video is cut at N_a (`tail=trim`) or kept whole (`tail=keep`):
                       frames past the audio show the original lips, with silence.
    --length video     T = N; frames past the audio's end keep their original lips (silence).
    --length shortest  T = min(N, N_a), all dubbed.
    range (start/end)  T = N; only frames in [start, min(end, start + N_a)) are dubbed; the new
                       audio replaces the original audio there and the original audio (silence if
                       the video has none) plays everywhere else.
Imports: numpy, scipy, xdub.config, xdub.errors, xdub.types.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xdub.audio.resample import resample
from xdub.config.infer import TimelineConfig
from xdub.errors import ConfigError
from xdub.types import AudioTrack, load_track


@dataclass(frozen=True)
class Timeline:
    """The frame plan of one run; arrays have one entry per OUTPUT frame."""

    fps: float
    num_source_frames: int
    source_index: np.ndarray  # [T] int64 source frame shown at output frame k
    dubbed: np.ndarray  # [T] bool, frame is driven by the new audio
    audio_start_frame: int  # output frame at which the new audio starts
    range_mode: bool

    @property
    def num_frames(self) -> int:
        """T, frames in the output."""
        return int(self.source_index.shape[0])

    @property
    def duration(self) -> float:
        """Output length in seconds."""
        return self.num_frames / self.fps

    def continuous(self) -> np.ndarray:
        """`[T]` bool: frame k continues frame k-1 (no jump, e.g. a loop wrapping); [0] False."""
        steps = np.abs(np.diff(self.source_index))
        return np.concatenate([[False], steps <= 1])

    def source_span(self) -> tuple[int, int] | None:
        """(first, last + 1) of the source frames that dubbed frames show; None if none."""
        used = self.source_index[self.dubbed]
        return (int(used.min()), int(used.max()) + 1) if used.size else None


def audio_frames(audio_duration: float, fps: float) -> int:
    """Video frames the new audio spans: round(duration * fps), at least 1."""
    return max(1, round(audio_duration * fps))


def extend_indices(num_out: int, num_source: int, mode: str) -> np.ndarray:
    """Source index `[num_out]` for output frames 0..num_out-1 of a `num_source`-frame video."""
    k = np.arange(num_out, dtype=np.int64)
    if num_source <= 1:
        return np.zeros(num_out, np.int64)
    if mode == "loop":
        return k % num_source
    if mode == "pingpong":
        period = 2 * num_source - 2
        phase = k % period
        return np.where(phase < num_source, phase, period - phase)
    if mode == "freeze":
        return np.minimum(k, num_source - 1)
    raise ConfigError(f"unknown extend mode {mode!r}; use loop, pingpong or freeze")


def plan_timeline(
    num_source_frames: int, fps: float, audio_duration: float, cfg: TimelineConfig
) -> Timeline:
    """The output frame plan for a video of `num_source_frames` at `fps` and new audio."""
    if num_source_frames < 1 or fps <= 0:
        raise ValueError(f"need >= 1 source frame and fps > 0, got {num_source_frames}, {fps}")
    n, n_audio = num_source_frames, audio_frames(audio_duration, fps)
    if cfg.range_mode:
        return _plan_range(n, fps, n_audio, cfg)
    if cfg.length == "audio":
        total = max(n_audio, n) if cfg.tail == "keep" else n_audio
        source = extend_indices(total, n, cfg.extend) if total > n else np.arange(total)
        dubbed = np.arange(total) < n_audio
    elif cfg.length == "video":
        source, dubbed = np.arange(n), np.arange(n) < n_audio
    elif cfg.length == "shortest":
        total = min(n, n_audio)
        source, dubbed = np.arange(total), np.ones(total, bool)
    else:
        raise ConfigError(f"unknown length mode {cfg.length!r}; use audio, video or shortest")
    return Timeline(fps, n, source.astype(np.int64), dubbed, 0, False)


def describe_length(timeline: Timeline, audio_duration: float, cfg: TimelineConfig) -> str:
    """The length decision in one sentence, e.g. "audio 10.0 s > video 5.1 s: video extended
    by pingpong" (the run summary states it, #15)."""
    video_s, audio_s = timeline.num_source_frames / timeline.fps, audio_duration
    out = f"output {timeline.duration:.1f} s"
    if cfg.range_mode:
        dubbed = int(timeline.dubbed.sum())
        return (f"range mode: {dubbed / timeline.fps:.1f} s re-dubbed from {cfg.start:g} s, "
                f"the rest of the {video_s:.1f} s video kept; {out}")
    if timeline.num_source_frames == audio_frames(audio_duration, timeline.fps):
        return f"audio {audio_s:.1f} s = video {video_s:.1f} s: nothing to fit; {out}"
    longer = audio_s > video_s
    sides = f"audio {audio_s:.1f} s {'>' if longer else '<'} video {video_s:.1f} s"
    if cfg.length == "shortest":
        cut = "video" if longer else "audio"
        return f"{sides}: {cut} cut to the shorter (--length shortest); {out}"
    if cfg.length == "video":
        action = ("audio cut at the video's end" if longer
                  else "frames past the audio keep their lips, with silence")
        return f"{sides}: {action} (--length video); {out}"
    if longer:
        return f"{sides}: video extended by {cfg.extend} (--extend); {out}"
    if cfg.tail == "keep":
        return f"{sides}: video kept whole, past the audio original lips and silence; {out}"
    return f"{sides}: video trimmed at the audio's end (--tail trim); {out}"


def _plan_range(n: int, fps: float, n_audio: int, cfg: TimelineConfig) -> Timeline:
    """Range mode: every source frame once, dubbed inside [start, min(end, start + audio))."""
    first = round(cfg.start * fps)
    if first >= n:
        raise ConfigError(
            f"--start {cfg.start:g} s is at or past the end of the video ({n / fps:.3f} s)"
        )
    last = n if cfg.end is None else min(n, max(round(cfg.end * fps), first + 1))
    last = min(last, first + n_audio)
    k = np.arange(n, dtype=np.int64)
    return Timeline(fps, n, k, (k >= first) & (k < last), first, True)


# ---------------------------------------------------------------------------------------------
# Audio
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SplicedAudio:
    """The output track as an `AudioTrack`, computed as it is read (never held whole):
    `num_samples` samples of `base` (silence where there is none) with `new` written over
    `[start, stop)` (silence past the new audio's end)."""

    new: AudioTrack
    sample_rate: int
    num_samples: int
    start: int
    stop: int
    base: AudioTrack | None = None

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.num_samples / self.sample_rate

    def read(self, start: int, stop: int) -> np.ndarray:
        """Samples `[start, min(stop, N))` as float32."""
        stop = min(stop, self.num_samples)
        out = np.zeros(max(stop - start, 0), np.float32)
        if self.base is not None:
            kept = self.base.read(start, stop)
            out[: len(kept)] = kept
        lo, hi = max(start, self.start), min(stop, self.stop)
        if lo < hi:
            out[lo - start: hi - start] = 0.0
            piece = self.new.read(lo - self.start, hi - self.start)
            out[lo - start: lo - start + len(piece)] = piece
        return out


def output_audio(timeline: Timeline, new_audio: AudioTrack,
                 original: AudioTrack | None = None) -> SplicedAudio:
    """The output's audio track (at `new_audio`'s rate), exactly `timeline.duration` long.

    Outside range mode: the new audio from t = 0, trimmed or padded with silence. In range
    mode: `original` (silence if None) with the new audio written over the dubbed range.
    """
    rate = int(new_audio.sample_rate)
    total = round(timeline.duration * rate)
    if not timeline.range_mode:
        return SplicedAudio(new_audio, rate, total, 0, total)
    if original is not None and int(original.sample_rate) != rate:
        original = resample(load_track(original), rate)
    dubbed = np.flatnonzero(timeline.dubbed)
    if not dubbed.size:
        return SplicedAudio(new_audio, rate, total, 0, 0, original)
    start = round(dubbed[0] / timeline.fps * rate)
    stop = min(round((dubbed[-1] + 1) / timeline.fps * rate), total)
    return SplicedAudio(new_audio, rate, total, start, stop, original)
