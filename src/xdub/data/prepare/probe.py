"""Step 1: probe a raw video without decoding it; reject unreadable, short, small, silent files.

Imports: xdub.media, xdub.config, xdub.errors, xdub.types.
"""

from __future__ import annotations

from pathlib import Path

from xdub.config.prepare import ProbeRules
from xdub.data.prepare.reasons import Rejected
from xdub.errors import MediaError
from xdub.media import probe
from xdub.types import VideoInfo


def probe_video(path: Path, rules: ProbeRules) -> VideoInfo:
    """The file's `VideoInfo`, or `Rejected` with the first rule it breaks."""
    try:
        info = probe(path)
    except MediaError as err:
        raise Rejected("unreadable", str(err)) from None
    if info.extra.get("still_image"):
        raise Rejected("too_short", "a still image")
    if info.duration < rules.min_seconds:
        raise Rejected("too_short", f"{info.duration:.2f} s < {rules.min_seconds} s")
    if min(info.width, info.height) < rules.min_side:
        raise Rejected("low_resolution", f"{info.width}x{info.height} < {rules.min_side} px")
    if rules.require_audio and not info.has_audio:
        raise Rejected("no_audio", "no audio stream")
    return info
