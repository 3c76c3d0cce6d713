"""Per-frame scene signals: head motion, blinks, gaze, brows and lighting.

All signals are functions of time in seconds sampled at the frame times, so a scenario looks
the same at any fps, and all are drawn from the scene RNG stream, never the speech stream:
two clips of a pair share them exactly. Imports: numpy, xdub.config.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xdub.config.synth import LightingConfig, MotionConfig

LIGHTING_COLUMNS = ("brightness", "gain_r", "gain_g", "gain_b", "light_angle", "light_strength")
POSE_COLUMNS = ("center_x", "center_y", "roll_deg", "scale", "squash_x", "squash_y")


def smooth_walk(rng: np.random.Generator, times: np.ndarray, keyframe_s: float, dims: int,
                persistence: float = 0.6) -> np.ndarray:
    """Smooth mean-reverting random walk `[T, dims]` with unit standard deviation.

    Keyframe values follow an AR(1) process (`persistence` = correlation between neighbours)
    and are joined by Catmull-Rom splines, so the path is C1-smooth at any frame rate.
    """
    duration = float(times[-1]) if len(times) else 0.0
    n_keys = int(np.ceil(duration / keyframe_s)) + 4
    keys = np.empty((n_keys, dims))
    keys[0] = rng.standard_normal(dims)
    innov = rng.standard_normal((n_keys - 1, dims)) * np.sqrt(1.0 - persistence**2)
    for k in range(1, n_keys):
        keys[k] = persistence * keys[k - 1] + innov[k - 1]
    pos = times / keyframe_s + 1.0  # key 1 sits at t = 0 so key 0 is a valid left neighbour
    i = np.floor(pos).astype(int)
    f = (pos - i)[:, None]
    p0, p1, p2, p3 = keys[i - 1], keys[i], keys[i + 1], keys[i + 2]
    return 0.5 * (2 * p1 + (p2 - p0) * f + (2 * p0 - 5 * p1 + 4 * p2 - p3) * f**2
                  + (3 * p1 - p0 - 3 * p2 + p3) * f**3)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _events(rng: np.random.Generator, duration: float, rate: float) -> np.ndarray:
    """Poisson event times in [0, duration)."""
    n = int(rng.poisson(rate * duration)) if rate > 0 else 0
    return np.sort(rng.uniform(0.0, duration, n))


@dataclass(frozen=True)
class HeadMotion:
    """Head pose relative to the clip's base placement, `[T]` each."""

    dx: np.ndarray  # horizontal offset, fraction of the frame's short side
    dy: np.ndarray  # vertical offset, fraction of the short side
    roll_deg: np.ndarray  # in-plane rotation, degrees (positive = clockwise on screen)
    scale: np.ndarray  # zoom multiplier around 1
    squash: np.ndarray  # [T, 2] horizontal/vertical squash multipliers (fake yaw/pitch)


def head_motion(rng: np.random.Generator, times: np.ndarray, cfg: MotionConfig) -> HeadMotion:
    """Smooth random head motion plus occasional quick turns (`cfg.jerk_rate`)."""
    walk = smooth_walk(rng, times, cfg.keyframe_s, 6)
    duration = float(times[-1]) + 1e-6 if len(times) else 0.0
    jerk = np.zeros((len(times), 4))
    for t0 in _events(rng, duration, cfg.jerk_rate):
        size = rng.choice([-1.0, 1.0], 4) * rng.uniform(0.5, 1.0, 4) * cfg.jerk_size
        rise = _smoothstep((times - t0) / rng.uniform(0.08, 0.16))
        decay = np.exp(-np.clip(times - t0, 0.0, None) / rng.uniform(0.6, 1.6))
        jerk += (rise * decay)[:, None] * size
    soft = 2.5  # tanh limit (in typical amplitudes) keeps the face inside the frame

    def limited(x: np.ndarray) -> np.ndarray:
        """Soft clip to +-`soft` typical amplitudes."""
        return soft * np.tanh(x / soft)

    return HeadMotion(
        dx=cfg.translate * limited(walk[:, 0] + jerk[:, 0]),
        dy=0.6 * cfg.translate * limited(walk[:, 1] + jerk[:, 1]),
        roll_deg=cfg.roll_deg * limited(walk[:, 2] + jerk[:, 2]),
        scale=1.0 + cfg.scale * limited(walk[:, 3] + 0.5 * jerk[:, 3]),
        squash=1.0 - cfg.squash * np.abs(limited(walk[:, 4:6] + 0.5 * jerk[:, :2]) / soft),
    )


@dataclass(frozen=True)
class FaceAnimation:
    """Non-speech facial animation `[T]`: blinks, gaze `[T, 2]`, brow raise (face units)."""

    blink: np.ndarray  # 0 open .. 1 closed
    gaze: np.ndarray  # [T, 2] in [-1, 1]
    brow: np.ndarray


def face_animation(rng: np.random.Generator, times: np.ndarray) -> FaceAnimation:
    """Blinks (Poisson, ~15/min), wandering gaze and slow brow movement."""
    duration = float(times[-1]) + 1e-6 if len(times) else 0.0
    blink = np.zeros(len(times))
    for t0 in _events(rng, duration, rng.uniform(0.15, 0.45)):
        close, reopen = rng.uniform(0.05, 0.09), rng.uniform(0.1, 0.2)
        x = times - t0
        shape = np.where(x < close, x / close, 1.0 - (x - close) / reopen)
        blink = np.maximum(blink, np.clip(shape, 0.0, 1.0) * (x >= 0))
    gaze = np.clip(0.5 * smooth_walk(rng, times, 1.4, 2, persistence=0.3), -1.0, 1.0)
    brow = 0.012 * np.tanh(smooth_walk(rng, times, 1.1, 1)[:, 0])
    return FaceAnimation(blink=blink, gaze=gaze, brow=brow)


def _temperature_gains(temp: np.ndarray) -> np.ndarray:
    """Colour temperature (-1 warm .. +1 cool) -> RGB gains `[T, 3]` around 1."""
    return np.stack([1.0 - 0.2 * temp, 1.0 - 0.03 * np.abs(temp), 1.0 + 0.2 * temp], axis=1)


def ramp_coords(size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Directional-light ramp coordinates `[W]`, `[H]`: -1..1 across the frame's short side."""
    w, h = size
    short = min(w, h)
    return ((np.arange(w, dtype=np.float32) - w / 2) * (2 / short),
            (np.arange(h, dtype=np.float32) - h / 2) * (2 / short))


def lighting_track(rng: np.random.Generator, times: np.ndarray, cfg: LightingConfig,
                   size: tuple[int, int]) -> np.ndarray:
    """Lighting state per frame `[T, 6]`, columns LIGHTING_COLUMNS, for frames of `size`.

    The ramp strength is capped so the gain stays >= 10 % of the brightness in every corner.
    """
    ramp_x, ramp_y = ramp_coords(size)
    max_strength = 0.9 / float(np.abs(ramp_x).max() + np.abs(ramp_y).max())
    walk = smooth_walk(rng, times, cfg.keyframe_s, 4)
    duration = float(times[-1]) + 1e-6 if len(times) else 0.0
    base = rng.uniform(*cfg.brightness)
    brightness = base * (1.0 + cfg.brightness_var * np.tanh(walk[:, 0]))
    for t0 in _events(rng, duration, cfg.switch_rate):
        factor = rng.uniform(0.6, 0.8) if rng.random() < 0.5 else 1.0 / rng.uniform(0.7, 0.85)
        brightness = brightness * (1.0 + (factor - 1.0) * _smoothstep((times - t0) / 0.08))
    temp = np.clip(rng.uniform(*cfg.temperature) + cfg.temperature_var * walk[:, 1], -1.0, 1.0)
    speed = np.deg2rad(cfg.light_speed_deg) * rng.choice([-1.0, 1.0])
    angle = rng.uniform(0.0, 2 * np.pi) + speed * times + 0.3 * walk[:, 2] * (speed != 0)
    strength = rng.uniform(*cfg.directional) * (1.0 + 0.3 * np.tanh(walk[:, 3]))
    strength = np.minimum(strength, max_strength)
    brightness = np.clip(brightness, 0.25, 2.0)
    gains = _temperature_gains(temp)
    return np.concatenate([brightness[:, None], gains, angle[:, None], strength[:, None]],
                          axis=1).astype(np.float32)
