"""The versioned benchmark manifest: which (scenario, seed) pairs are rendered, and how.

A manifest is a pure function of a `BenchConfig`'s clip settings, `BENCH_VERSION` and the synth
`ENGINE_VERSION`; `manifest_id` hashes all of them, so two results files are comparable iff
their ids match (same clips, same renderer, same metric definitions).
Imports: stdlib, xdub.config, xdub.synth (version constant only).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from xdub.config.bench import BENCH_VERSION, BenchConfig
from xdub.errors import ConfigError
from xdub.synth.clip import ENGINE_VERSION


@dataclass(frozen=True)
class ManifestEntry:
    """One benchmark pair: render scenario `scenario` with `seed` for `duration` seconds."""

    scenario: str
    index: int  # clip number within the scenario
    seed: int
    duration: float


@dataclass(frozen=True)
class BenchManifest:
    """Everything that fixes the benchmark's inputs."""

    bench_version: str
    engine_version: str
    size: tuple[int, int]  # (width, height)
    fps: float
    entries: tuple[ManifestEntry, ...]

    @property
    def manifest_id(self) -> str:
        """12-hex-digit content hash: equal ids = comparable numbers."""
        text = json.dumps(self.to_dict(include_id=False), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def to_dict(self, include_id: bool = True) -> dict[str, Any]:
        """JSON-friendly form (with `manifest_id` unless asked not to)."""
        out: dict[str, Any] = {
            "bench_version": self.bench_version,
            "engine_version": self.engine_version,
            "size": list(self.size),
            "fps": self.fps,
            "entries": [asdict(e) for e in self.entries],
        }
        if include_id:
            out["manifest_id"] = self.manifest_id
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BenchManifest:
        """Inverse of `to_dict`; a stored `manifest_id` must match the content."""
        try:
            manifest = cls(
                bench_version=str(data["bench_version"]),
                engine_version=str(data["engine_version"]),
                size=(int(data["size"][0]), int(data["size"][1])),
                fps=float(data["fps"]),
                entries=tuple(ManifestEntry(**e) for e in data["entries"]),
            )
        except (KeyError, TypeError, IndexError) as err:
            raise ConfigError(f"malformed bench manifest: {err}") from None
        stored = data.get("manifest_id")
        if stored is not None and stored != manifest.manifest_id:
            raise ConfigError(
                f"bench manifest id {stored} does not match its content "
                f"({manifest.manifest_id}); the file was edited"
            )
        return manifest


def build_manifest(cfg: BenchConfig) -> BenchManifest:
    """The manifest of `cfg`: `cfg.clips` held-out seeds per scenario, in scenario order."""
    entries = tuple(
        ManifestEntry(scenario, i, cfg.seed_of(scenario, i), cfg.duration_of(scenario))
        for scenario in cfg.scenarios
        for i in range(cfg.clips)
    )
    return BenchManifest(BENCH_VERSION, ENGINE_VERSION, tuple(cfg.size), float(cfg.fps), entries)
