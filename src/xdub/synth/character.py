"""Parametric characters: sample the look of one talking head from a `CharacterConfig`.

A `CharacterSpec` is pure data (sizes in *face units*, colours as RGB tuples); `sprite.py`
draws its static parts once per clip and `face_parts.py` draws the animated parts per frame.

Canonical head frame (face units, y points down): the face box spans roughly y in
[-0.45, 0.5] (brows to chin) and x in [-half_w, half_w]; the chin is at y = CHIN_Y, the head is
widest at y = JAW_Y. Imports: numpy, xdub.config.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xdub.config.synth import CharacterConfig

Rgb = tuple[int, int, int]

CHIN_Y = 0.5  # chin in face units below the face centre
JAW_Y = -0.12  # height where the head is widest (ear level)
FACE_BOX_H = 0.95  # nominal face-box height in face units (brow top to chin)

# Realistic human skin tones (light .. dark) and unnatural cartoon skins.
_HUMAN_SKINS: tuple[Rgb, ...] = (
    (255, 224, 196), (241, 194, 160), (224, 172, 130), (198, 134, 96), (160, 102, 70),
    (120, 75, 50), (90, 56, 40),
)
_UNNATURAL_SKINS: tuple[Rgb, ...] = (
    (110, 160, 235), (120, 200, 120), (170, 120, 220), (240, 120, 160), (90, 200, 200),
    (230, 210, 90), (200, 90, 70),
)
_FUR: tuple[Rgb, ...] = (
    (190, 120, 60), (140, 100, 70), (90, 80, 75), (230, 220, 200), (210, 150, 80), (60, 55, 55),
    (170, 170, 180),
)
_SCALES: tuple[Rgb, ...] = ((90, 150, 80), (60, 120, 110), (150, 160, 70), (120, 90, 60),
                            (70, 100, 150))
_HAIR: tuple[Rgb, ...] = (
    (30, 25, 20), (70, 45, 30), (120, 80, 40), (200, 160, 90), (160, 60, 30), (200, 200, 200),
    (60, 90, 200), (220, 80, 160),
)
_IRIS: tuple[Rgb, ...] = ((70, 45, 25), (40, 90, 160), (60, 120, 70), (110, 80, 40), (30, 30, 30),
                          (200, 160, 30), (150, 40, 40))
_CLOTHES: tuple[Rgb, ...] = ((40, 60, 110), (150, 30, 40), (40, 40, 40), (220, 220, 220),
                             (60, 120, 70), (200, 150, 40), (110, 60, 140))


@dataclass(frozen=True)
class CharacterSpec:
    """Everything that defines one character's appearance (face units, RGB colours)."""

    kind: str  # one of xdub.config.synth.KINDS
    style: str  # one of xdub.config.synth.STYLES
    skin: Rgb
    skin2: Rgb  # muzzle / belly / inner-ear colour
    outline: Rgb
    line_w: float  # outline thickness, face units
    half_w: float  # half width of the head at JAW_Y
    skull_h: float  # from JAW_Y up to the top of the skull
    skull_n: float  # superellipse exponent of the skull (2 = ellipse, larger = boxier)
    jaw_n: float  # superellipse exponent of the jaw (< 2 pointy chin, > 2 square jaw)
    ears: str  # none | human | pointy | round | long | floppy
    ear_size: float
    muzzle: bool
    muzzle_r: tuple[float, float]  # half axes of the muzzle ellipse around nose + mouth
    nose: str  # human | animal | slits | none
    nose_y: float
    nose_w: float
    eye_y: float
    eye_dx: float  # horizontal distance of each eye centre from the midline
    eye_r: tuple[float, float]  # half width, half height of the open eye
    iris: Rgb
    iris_frac: float  # iris radius / eye half height
    pupil: str  # round | slit
    sclera: bool  # False draws "dot" cartoon eyes (whole opening is iris colour)
    lashes: bool
    brows: bool
    brow_gap: float  # brow height above the eye centre
    brow_w: float  # brow thickness
    brow_tilt: float  # inner end lower (> 0, stern) or higher (< 0, worried)
    hair_colour: Rgb
    mouth_y: float
    mouth_hw: float  # mouth half width at neutral width
    lip_t: tuple[float, float]  # upper, lower lip thickness
    max_open: float  # inner-mouth height at opening = 1
    lip: Rgb
    inner: Rgb  # dark inside of the mouth
    teeth: Rgb
    tongue: Rgb
    hair: str  # none | short | long | bun | spiky | curly | crest | antennae
    hat: str  # none | cap | beanie | tophat | headband
    hat_colour: Rgb
    texture: str  # none | noise | fur | scales | spots
    blush: bool
    clothes: Rgb


def _pick(rng: np.random.Generator, options: tuple) -> object:
    return options[int(rng.integers(len(options)))]


def _jitter(rng: np.random.Generator, colour: Rgb, amount: float = 18.0) -> Rgb:
    """Colour with a small random offset per channel (keeps palettes from looking stamped)."""
    c = np.clip(np.asarray(colour, np.float64) + rng.normal(0.0, amount, 3), 0, 255)
    return (int(c[0]), int(c[1]), int(c[2]))


def _vary_skin(rng: np.random.Generator, colour: Rgb) -> Rgb:
    """Skin tone with a common brightness change and only a little hue noise (no olive casts)."""
    return _jitter(rng, scale_colour(colour, rng.uniform(0.9, 1.08)), 4.0)


def scale_colour(colour: Rgb, k: float) -> Rgb:
    """Colour times `k`, clipped to [0, 255] (k < 1 darker, k > 1 lighter)."""
    return tuple(int(min(255, max(0, v * k))) for v in colour)  # type: ignore[return-value]


def mix_colour(a: Rgb, b: Rgb, t: float) -> Rgb:
    """Linear blend of two colours, `t = 0` gives `a`, `t = 1` gives `b`."""
    return tuple(round(x * (1 - t) + y * t) for x, y in zip(a, b))  # type: ignore[return-value]


def sample_character(rng: np.random.Generator, cfg: CharacterConfig) -> CharacterSpec:
    """Draw one character (kind, style, shapes, colours, accessories) from `cfg`."""
    kind = str(_pick(rng, cfg.kinds))
    style = str(_pick(rng, cfg.styles))
    base = _KIND_SAMPLERS[kind](rng, cfg)
    base["hat"] = str(_pick(rng, ("cap", "beanie", "tophat", "headband"))) \
        if rng.random() < cfg.hat_prob else "none"
    base["hat_colour"] = _jitter(rng, _pick(rng, _CLOTHES), 25.0)
    base["clothes"] = _jitter(rng, _pick(rng, _CLOTHES), 25.0)
    base["outline"] = scale_colour(base["skin"], 0.45)
    if style == "lineart":  # paper-white fills; the outline carries the drawing
        paper = _jitter(rng, (245, 242, 235), 6.0)
        base.update(skin=paper, skin2=scale_colour(paper, 0.93), lip=scale_colour(paper, 0.9),
                    hair_colour=scale_colour(paper, 0.8), hat_colour=scale_colour(paper, 0.85),
                    outline=(20, 20, 25), texture="none", blush=False)
    line_w = {"flat": 0.018, "shaded": 0.01, "textured": 0.008, "lineart": 0.022}[style]
    return CharacterSpec(kind=kind, style=style, line_w=line_w * rng.uniform(0.8, 1.3),
                         **_face_layout(rng, kind), **base)


def _face_layout(rng: np.random.Generator, kind: str) -> dict:
    """Placement of eyes, nose and mouth; non-human kinds get bigger, wider-set features."""
    big = kind in ("animal", "alien")
    eye_rx = rng.uniform(0.08, 0.11) if big else rng.uniform(0.062, 0.082)
    return {
        "eye_y": rng.uniform(-0.24, -0.17),
        "eye_dx": rng.uniform(0.16, 0.22) if big else rng.uniform(0.145, 0.185),
        "eye_r": (eye_rx, eye_rx * (rng.uniform(0.7, 1.0) if big else rng.uniform(0.42, 0.6))),
        "iris_frac": rng.uniform(0.7, 0.95),
        "brow_gap": rng.uniform(0.09, 0.13) + (0.03 if big else 0.0),
        "brow_w": rng.uniform(0.018, 0.035),
        "brow_tilt": rng.uniform(-0.03, 0.03),
        "nose_y": rng.uniform(0.03, 0.09),
        "nose_w": rng.uniform(0.05, 0.085),
        "mouth_y": rng.uniform(0.23, 0.29),
        "mouth_hw": rng.uniform(0.11, 0.15),
        "lip_t": (rng.uniform(0.015, 0.03), rng.uniform(0.02, 0.038)),
        "max_open": rng.uniform(0.13, 0.17),
        "teeth": _jitter(rng, (240, 238, 228), 6.0),
        "tongue": _jitter(rng, (200, 80, 90), 12.0),
    }


def _human(rng: np.random.Generator, cfg: CharacterConfig) -> dict:
    unnatural = rng.random() < cfg.unnatural_skin_prob
    skin = _vary_skin(rng, _pick(rng, _UNNATURAL_SKINS if unnatural else _HUMAN_SKINS))
    hair = str(_pick(rng, ("short", "long", "bun", "spiky", "curly"))) \
        if rng.random() < cfg.hair_prob else "none"
    return {
        "skin": skin, "skin2": scale_colour(skin, 0.92), "half_w": rng.uniform(0.37, 0.44),
        "skull_h": rng.uniform(0.72, 0.82), "skull_n": rng.uniform(2.0, 2.4),
        "jaw_n": rng.uniform(1.7, 2.6), "ears": "human", "ear_size": rng.uniform(0.09, 0.12),
        "muzzle": False, "muzzle_r": (0.0, 0.0), "nose": "human", "iris": _pick(rng, _IRIS), "pupil": "round",
        "sclera": True, "lashes": bool(rng.random() < 0.4), "brows": True,
        "hair_colour": _jitter(rng, _pick(rng, _HAIR), 12.0), "lip": mix_colour(skin, (190, 70, 80), 0.45),
        "inner": (70, 20, 28), "hair": hair, "texture": "noise", "blush": bool(rng.random() < 0.3),
    }


def _animal(rng: np.random.Generator, cfg: CharacterConfig) -> dict:
    fur = _jitter(rng, _pick(rng, _FUR), 12.0)
    ears = str(_pick(rng, ("pointy", "round", "long", "floppy")))
    return {
        "skin": fur, "skin2": mix_colour(fur, (245, 235, 220), rng.uniform(0.4, 0.8)),
        "half_w": rng.uniform(0.44, 0.52), "skull_h": rng.uniform(0.66, 0.78),
        "skull_n": rng.uniform(2.0, 2.6), "jaw_n": rng.uniform(2.0, 2.8), "ears": ears,
        "ear_size": rng.uniform(0.18, 0.3), "muzzle": True,
        "muzzle_r": (rng.uniform(0.2, 0.27), rng.uniform(0.2, 0.25)), "nose": "animal",
        "iris": _pick(rng, _IRIS), "pupil": str(_pick(rng, ("round", "slit"))),
        "sclera": bool(rng.random() < 0.5), "lashes": False, "brows": bool(rng.random() < 0.6),
        "hair_colour": scale_colour(fur, 0.7), "lip": scale_colour(fur, 0.55), "inner": (60, 15, 25),
        "hair": "crest" if rng.random() < cfg.hair_prob * 0.4 else "none",
        "texture": str(_pick(rng, ("fur", "fur", "spots"))), "blush": False,
    }


def _reptile(rng: np.random.Generator, cfg: CharacterConfig) -> dict:
    skin = _jitter(rng, _pick(rng, _SCALES), 15.0)
    return {
        "skin": skin, "skin2": mix_colour(skin, (230, 220, 150), 0.5), "half_w": rng.uniform(0.4, 0.48),
        "skull_h": rng.uniform(0.6, 0.72), "skull_n": rng.uniform(2.2, 3.0),
        "jaw_n": rng.uniform(2.2, 3.2), "ears": "none", "ear_size": 0.0, "muzzle": True,
        "muzzle_r": (rng.uniform(0.24, 0.3), rng.uniform(0.18, 0.23)), "nose": "slits",
        "iris": _pick(rng, ((200, 170, 30), (220, 120, 30), (150, 200, 60))), "pupil": "slit",
        "sclera": False, "lashes": False, "brows": False, "hair_colour": scale_colour(skin, 0.6),
        "lip": scale_colour(skin, 0.6), "inner": (90, 30, 40),
        "hair": "crest" if rng.random() < cfg.hair_prob * 0.5 else "none",
        "texture": "scales", "blush": False,
    }


def _alien(rng: np.random.Generator, cfg: CharacterConfig) -> dict:
    skin = _jitter(rng, _pick(rng, _UNNATURAL_SKINS), 15.0)
    return {
        "skin": skin, "skin2": scale_colour(skin, 0.85), "half_w": rng.uniform(0.38, 0.5),
        "skull_h": rng.uniform(0.8, 0.95), "skull_n": rng.uniform(1.8, 2.3),
        "jaw_n": rng.uniform(1.5, 2.0), "ears": str(_pick(rng, ("none", "pointy", "human"))),
        "ear_size": rng.uniform(0.1, 0.2), "muzzle": False, "muzzle_r": (0.0, 0.0),
        "nose": str(_pick(rng, ("slits", "none"))), "iris": _pick(rng, _IRIS + ((20, 20, 20),)),
        "pupil": str(_pick(rng, ("round", "slit"))), "sclera": bool(rng.random() < 0.5),
        "lashes": False, "brows": bool(rng.random() < 0.3), "hair_colour": _jitter(rng, _pick(rng, _HAIR)),
        "lip": scale_colour(skin, 0.7), "inner": (40, 20, 60),
        "hair": "antennae" if rng.random() < 0.6 else "none",
        "texture": str(_pick(rng, ("spots", "noise", "scales"))), "blush": False,
    }


_KIND_SAMPLERS = {"human": _human, "animal": _animal, "reptile": _reptile, "alien": _alien}
