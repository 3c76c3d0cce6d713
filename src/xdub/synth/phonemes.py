"""Phone inventory of the procedural speech engine: acoustics and mouth targets per phone.

Each `PhoneSpec` carries what the formant synthesizer needs (formants F1-F3 with bandwidths, a
voicing level, an optional noise band for frication/bursts) and what the mouth model needs
(a target per `MOUTH_PARAMS` column plus a per-column dominance for co-articulation).
Formants are adult-male averages (Peterson & Barney 1952; Klatt 1980 consonant loci); the
renderer scales them per speaker. Sung vowels are written `"~a"` and share the spec of `"a"`.
Imports: stdlib, xdub.synth.tracks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from xdub.synth.tracks import MOUTH_PARAMS

PhoneKind = Literal["vowel", "fricative", "plosive", "nasal", "approximant", "silence"]
SILENCE = "_"
SUNG_PREFIX = "~"

Mouth = tuple[float, float, float, float, float]  # (opening, width, rounding, teeth, tongue)


@dataclass(frozen=True)
class PhoneSpec:
    """Acoustic and visual description of one phone."""

    symbol: str
    kind: PhoneKind
    voiced: bool
    formants: tuple[float, float, float]  # F1..F3 in Hz (targets or consonant loci)
    bandwidths: tuple[float, float, float]  # B1..B3 in Hz
    voice_level: float  # relative RMS of the voiced (formant) branch; 0 = no voicing
    noise_band: tuple[float, float] | None  # Hz band of frication / burst noise
    noise_level: float  # relative RMS of the noise branch
    mouth: Mouth  # targets in [0, 1], ordered like MOUTH_PARAMS
    dominance: Mouth  # Cohen-Massaro style weight per mouth column (1 = vowel-like)
    spread_s: float  # how far (s) the dominance reaches outside the phone
    duration: float  # typical duration in seconds at speaking_rate 1


_VOWEL_BW = (80.0, 100.0, 140.0)
_NASAL_BW = (120.0, 200.0, 250.0)


def _dom(
    opening: float = 1.0,
    width: float = 1.0,
    rounding: float = 1.0,
    teeth: float = 1.0,
    tongue: float = 1.0,
) -> Mouth:
    return (opening, width, rounding, teeth, tongue)


def _vowel(sym: str, f: tuple[float, float, float], level: float, mouth: Mouth) -> PhoneSpec:
    # Open vowels are intrinsically louder (jaw opening raises F1 and radiated intensity), which
    # also keeps audio energy and mouth opening correlated.
    return PhoneSpec(sym, "vowel", True, f, _VOWEL_BW, level, None, 0.0, mouth, _dom(), 0.025, 0.11)


# Vowel mouths: (opening, width, rounding, teeth, tongue).
_VOWELS = (
    _vowel("i", (270, 2290, 3010), 0.50, (0.25, 0.90, 0.00, 0.80, 0.10)),
    _vowel("ih", (390, 1990, 2550), 0.55, (0.35, 0.75, 0.05, 0.65, 0.10)),
    _vowel("e", (530, 1840, 2480), 0.70, (0.50, 0.75, 0.05, 0.60, 0.15)),
    _vowel("ae", (660, 1720, 2410), 0.85, (0.75, 0.70, 0.05, 0.45, 0.20)),
    _vowel("a", (730, 1090, 2440), 0.95, (0.90, 0.55, 0.15, 0.30, 0.20)),
    _vowel("@", (640, 1190, 2390), 0.75, (0.55, 0.50, 0.20, 0.30, 0.15)),
    _vowel("o", (570, 840, 2410), 0.80, (0.60, 0.30, 0.80, 0.15, 0.10)),
    _vowel("uh", (440, 1020, 2240), 0.60, (0.40, 0.30, 0.60, 0.15, 0.10)),
    _vowel("u", (300, 870, 2240), 0.50, (0.30, 0.15, 1.00, 0.05, 0.05)),
)


def _cons(
    sym: str,
    kind: PhoneKind,
    voiced: bool,
    f: tuple[float, float, float],
    levels: tuple[float, float],
    band: tuple[float, float] | None,
    mouth: Mouth,
    dom: Mouth,
    spread_s: float,
    duration: float,
) -> PhoneSpec:
    bw = _NASAL_BW if kind == "nasal" else (100.0, 130.0, 180.0)
    return PhoneSpec(sym, kind, voiced, f, bw, levels[0], band, levels[1], mouth, dom, spread_s,
                     duration)


# Bilabials dominate the opening column strongly but over a short reach (spread_s): lips must
# close during /p b m/ yet open quickly for the next vowel (Cohen & Massaro 1993).
_LIPS_SHUT = (0.0, 0.50, 0.15, 0.0, 0.0)
_LIPS_DOM = _dom(opening=15.0, width=0.6, rounding=0.3, teeth=3.0, tongue=0.5)
_CONSONANTS = (
    # plosives: closure + burst; levels = (voice bar, burst)
    _cons("p", "plosive", False, (300, 900, 2200), (0.0, 0.35), (400, 2000), _LIPS_SHUT,
          _LIPS_DOM, 0.008, 0.085),
    _cons("b", "plosive", True, (250, 900, 2200), (0.10, 0.25), (400, 2000), _LIPS_SHUT,
          _LIPS_DOM, 0.008, 0.075),
    _cons("t", "plosive", False, (350, 1750, 2700), (0.0, 0.35), (3000, 6500),
          (0.20, 0.55, 0.05, 0.60, 0.60), _dom(2.0, 1.0, 0.5, 2.0, 3.0), 0.015, 0.08),
    _cons("d", "plosive", True, (300, 1700, 2600), (0.10, 0.25), (3000, 6500),
          (0.20, 0.55, 0.05, 0.60, 0.60), _dom(2.0, 1.0, 0.5, 2.0, 3.0), 0.015, 0.07),
    _cons("k", "plosive", False, (350, 2000, 2600), (0.0, 0.30), (1500, 3500),
          (0.30, 0.50, 0.10, 0.40, 0.15), _dom(0.7, 0.7, 0.7, 0.7, 0.7), 0.018, 0.085),
    _cons("g", "plosive", True, (300, 1900, 2500), (0.10, 0.22), (1500, 3500),
          (0.30, 0.50, 0.10, 0.40, 0.15), _dom(0.7, 0.7, 0.7, 0.7, 0.7), 0.018, 0.075),
    # fricatives: band-shaped noise; levels = (voicing, noise)
    _cons("s", "fricative", False, (350, 1800, 2700), (0.0, 0.22), (4000, 7800),
          (0.12, 0.70, 0.00, 0.90, 0.10), _dom(4.0, 2.0, 1.0, 6.0, 1.0), 0.018, 0.11),
    _cons("z", "fricative", True, (300, 1700, 2600), (0.15, 0.15), (4000, 7800),
          (0.12, 0.70, 0.00, 0.90, 0.10), _dom(4.0, 2.0, 1.0, 6.0, 1.0), 0.018, 0.09),
    _cons("sh", "fricative", False, (350, 1900, 2500), (0.0, 0.24), (2000, 6000),
          (0.18, 0.35, 0.60, 0.70, 0.10), _dom(3.0, 2.0, 4.0, 4.0, 1.0), 0.02, 0.12),
    _cons("f", "fricative", False, (350, 1100, 2300), (0.0, 0.10), (1500, 7500),
          (0.12, 0.55, 0.00, 0.90, 0.00), _dom(8.0, 1.0, 0.5, 8.0, 1.0), 0.012, 0.10),
    _cons("v", "fricative", True, (300, 1100, 2300), (0.15, 0.08), (1500, 7500),
          (0.12, 0.55, 0.00, 0.90, 0.00), _dom(8.0, 1.0, 0.5, 8.0, 1.0), 0.012, 0.08),
    _cons("th", "fricative", False, (350, 1400, 2600), (0.0, 0.07), (1500, 7500),
          (0.20, 0.50, 0.00, 0.60, 0.90), _dom(3.0, 1.0, 0.5, 4.0, 8.0), 0.015, 0.10),
    # /h/ is breath through the next vowel's mouth: low dominance everywhere.
    _cons("h", "fricative", False, (550, 1500, 2500), (0.0, 0.10), (400, 4000),
          (0.45, 0.50, 0.10, 0.30, 0.10), _dom(0.2, 0.2, 0.2, 0.2, 0.2), 0.025, 0.07),
    # nasals: low murmur through a closed mouth (m) or tongue-tip closure (n)
    _cons("m", "nasal", True, (250, 1000, 2200), (0.22, 0.0), None, _LIPS_SHUT, _LIPS_DOM,
          0.008, 0.075),
    _cons("n", "nasal", True, (250, 1700, 2500), (0.22, 0.0), None,
          (0.20, 0.55, 0.05, 0.55, 0.60), _dom(2.0, 1.0, 0.5, 2.0, 3.0), 0.015, 0.07),
    # approximants
    _cons("l", "approximant", True, (360, 1300, 2900), (0.45, 0.0), None,
          (0.35, 0.55, 0.05, 0.50, 0.90), _dom(1.5, 1.0, 0.7, 1.5, 6.0), 0.018, 0.07),
    _cons("r", "approximant", True, (310, 1060, 1380), (0.45, 0.0), None,
          (0.30, 0.35, 0.60, 0.30, 0.30), _dom(1.5, 2.0, 3.0, 1.0, 1.0), 0.02, 0.07),
    _cons("w", "approximant", True, (300, 610, 2200), (0.35, 0.0), None,
          (0.15, 0.10, 1.00, 0.00, 0.00), _dom(3.0, 6.0, 8.0, 1.0, 1.0), 0.018, 0.06),
    _cons("y", "approximant", True, (260, 2070, 3020), (0.40, 0.0), None,
          (0.20, 0.80, 0.00, 0.70, 0.20), _dom(1.5, 3.0, 1.0, 2.0, 1.0), 0.018, 0.06),
)

# Silence: a relaxed, slightly closed mouth; moderately dominant so pauses actually relax.
_SILENCE = PhoneSpec(SILENCE, "silence", False, (500, 1500, 2500), _VOWEL_BW, 0.0, None, 0.0,
                     (0.04, 0.50, 0.15, 0.05, 0.00), _dom(1.5, 1.0, 1.0, 1.0, 1.0), 0.03, 0.2)

PHONES: dict[str, PhoneSpec] = {p.symbol: p for p in (*_VOWELS, *_CONSONANTS, _SILENCE)}
VOWELS: tuple[str, ...] = tuple(p.symbol for p in _VOWELS)
CONSONANTS: tuple[str, ...] = tuple(p.symbol for p in _CONSONANTS)
# /h w y/ only start syllables in English-like phonotactics.
CODAS: tuple[str, ...] = tuple(s for s in CONSONANTS if s not in ("h", "w", "y"))
BILABIALS: tuple[str, ...] = ("p", "b", "m")
FRICATIVES: tuple[str, ...] = tuple(p.symbol for p in _CONSONANTS if p.kind == "fricative")

assert len(MOUTH_PARAMS) == 5, "mouth targets above are written for 5 columns"


def is_sung(symbol: str) -> bool:
    """True for sustained sung vowels such as `"~a"`."""
    return symbol.startswith(SUNG_PREFIX)


def sung(vowel: str) -> str:
    """Symbol of the sung (sustained) version of a vowel: `"a"` -> `"~a"`."""
    assert vowel in VOWELS, f"only vowels can be sung, got {vowel!r}"
    return SUNG_PREFIX + vowel


def phone_spec(symbol: str) -> PhoneSpec:
    """Spec of a phone symbol (sung vowels map to their spoken vowel); KeyError if unknown."""
    base = symbol[len(SUNG_PREFIX):] if is_sung(symbol) else symbol
    try:
        return PHONES[base]
    except KeyError:
        raise KeyError(f"unknown phone {symbol!r}; known: {sorted(PHONES)}") from None
