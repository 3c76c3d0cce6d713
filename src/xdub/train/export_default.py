"""The embedded default checkpoint: editor + codec + scorer + `manifest.json`, <= 40 MB.

Layout (a dubbing checkpoint folder, so `xdub.pipeline.loading.load_checkpoint` reads it, plus
the scorer and the manifest):

    dubber.json  dit/  codec/  <phase>.safetensors     the editor (see xdub.train.editor)
    occluders/                                         the occluder segmenter, when exported
                                                       with one (dubber.json enables it)
    landmarks/                                         the landmark refiner, likewise
    syncnet/                                           the lip-sync scorer (config + weights)
    manifest.json                                      format, version, creation time, git sha,
                                                       dubber config, training record (configs,
                                                       data seeds, phase measurement, times),
                                                       metrics, every file's size and sha256

`export_default` builds the folder beside its target and renames it into place;
`update_metrics` adds evaluation numbers later without touching the weights;
`check_manifest` lists schema problems (empty = valid). Imports: stdlib, xdub.version,
xdub.{atomic, config, errors, generation.folder, train}.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from xdub.atomic import atomic_dir, write_json_atomic
from xdub.config import replace
from xdub.config.infer import OccluderKeepConfig
from xdub.config.landmarks import LandmarkRefineConfig
from xdub.errors import OutputError, WeightsError
from xdub.generation.folder import (
    CODEC_DIR,
    DUBBER_FILE,
    LANDMARK_DIR,
    OCCLUDER_DIR,
    read_dubber_config,
    write_dubber_config,
)

MANIFEST_NAME = "manifest.json"
SCORER_DIR = "syncnet"
FORMAT = "xdub-default-1"
MAX_BYTES = 40 * 1024 * 1024  # the package budget for the shipped default
REQUIRED_KEYS = {"format": str, "version": str, "name": str, "created": str, "git_sha": str,
                 "dubber": dict, "training": dict, "metrics": dict, "files": dict,
                 "total_bytes": int}
SCORER_FILES = ("config.json", "model.safetensors")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_table(folder: Path) -> dict[str, dict[str, Any]]:
    """`{relative path: {"bytes", "sha256"}}` of every file but the manifest, sorted."""
    table = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if rel != MANIFEST_NAME:
            table[rel] = {"bytes": path.stat().st_size, "sha256": _sha256(path)}
    return table


def _write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    write_json_atomic(folder / MANIFEST_NAME, manifest, default=str)


def export_default(editor_dir: str | Path, scorer_dir: str | Path, out: str | Path,
                   training: dict[str, Any], metrics: dict[str, Any] | None = None,
                   name: str = "xdub-tiny-default", occluder_dir: str | Path | None = None,
                   occluder_keep: OccluderKeepConfig | None = None,
                   decoder_dir: str | Path | None = None,
                   landmark_dir: str | Path | None = None,
                   landmark_refine: LandmarkRefineConfig | None = None) -> Path:
    """Build the default folder `out` from a stage-2 editor folder and a scorer folder, with
    the occluder segmenter folder `occluder_dir` (enabled with `occluder_keep`'s thresholds,
    default ones when None) when given, the landmark refiner folder `landmark_dir` likewise
    (enabled with `landmark_refine`'s passes), and the codec of `decoder_dir` (a decoder-only
    fine-tune of the editor's codec: same latents, another decoder) in place of its own."""
    from xdub.models.codec import TinyVideoCodec
    from xdub.train.loop import git_sha
    from xdub.version import __version__

    editor_dir, scorer_dir, out = Path(editor_dir), Path(scorer_dir), Path(out)
    needs = [editor_dir / DUBBER_FILE, *(scorer_dir / f for f in SCORER_FILES)]
    if occluder_dir is not None:
        needs += [Path(occluder_dir) / f for f in SCORER_FILES]  # the same two files
    if landmark_dir is not None:
        needs += [Path(landmark_dir) / f for f in SCORER_FILES]
    for needed in needs:
        if not needed.is_file():
            raise WeightsError(f"cannot export the default: {needed} is missing")
    with atomic_dir(out) as tmp:
        shutil.copytree(editor_dir, tmp, dirs_exist_ok=True)
        if decoder_dir is not None:
            own = TinyVideoCodec.from_pretrained(tmp / CODEC_DIR)
            if not own.encodes_like(TinyVideoCodec.from_pretrained(decoder_dir)):
                raise WeightsError(f"cannot export the default: {decoder_dir} is not a "
                                   "decoder-only fine-tune of the editor's codec")
            shutil.rmtree(tmp / CODEC_DIR)
            shutil.copytree(decoder_dir, tmp / CODEC_DIR)
        if occluder_dir is not None:
            shutil.rmtree(tmp / OCCLUDER_DIR, ignore_errors=True)
            shutil.copytree(occluder_dir, tmp / OCCLUDER_DIR)
            keep = replace(occluder_keep or OccluderKeepConfig(), enabled=True)
            write_dubber_config(tmp, replace(read_dubber_config(tmp), occluders=keep))
        if landmark_dir is not None:
            shutil.rmtree(tmp / LANDMARK_DIR, ignore_errors=True)
            shutil.copytree(landmark_dir, tmp / LANDMARK_DIR)
            refine = replace(landmark_refine or LandmarkRefineConfig(), enabled=True)
            write_dubber_config(tmp, replace(read_dubber_config(tmp), landmarks=refine))
        (tmp / SCORER_DIR).mkdir()
        for filename in SCORER_FILES:
            shutil.copy2(scorer_dir / filename, tmp / SCORER_DIR / filename)
        files = file_table(tmp)
        total = _within_budget(files)
        manifest = {
            "format": FORMAT, "version": __version__, "name": name,
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "git_sha": git_sha(), "dubber": json.loads((tmp / DUBBER_FILE).read_text()),
            "training": training, "metrics": metrics or {}, "files": files, "total_bytes": total,
        }
        _write_manifest(tmp, manifest)
    return out


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """The manifest of a default folder (WeightsError if absent/corrupt)."""
    path = Path(folder) / MANIFEST_NAME
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise WeightsError(f"unreadable default manifest {path}: {err}") from None


def check_manifest(folder: str | Path, verify_hashes: bool = True) -> list[str]:
    """Problems with a default folder's manifest (types, files, sizes, hashes); [] = valid."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    problems = [f"{key}: missing or not {kind.__name__}" for key, kind in REQUIRED_KEYS.items()
                if not isinstance(manifest.get(key), kind)]
    if problems:
        return problems
    if manifest["format"] != FORMAT:
        problems.append(f"format {manifest['format']!r} != {FORMAT!r}")
    actual = file_table(folder) if verify_hashes else None
    for rel, entry in manifest["files"].items():
        path = folder / rel
        if not path.is_file():
            problems.append(f"{rel}: listed but missing")
        elif actual is not None and actual.get(rel) != entry:
            problems.append(f"{rel}: size/sha256 differ from the manifest")
    if manifest["total_bytes"] > MAX_BYTES:
        problems.append(f"total {manifest['total_bytes']} bytes exceeds {MAX_BYTES}")
    for needed in (DUBBER_FILE, "dit/model.safetensors", "codec/model.safetensors",
                   f"{SCORER_DIR}/model.safetensors"):
        if needed not in manifest["files"]:
            problems.append(f"{needed}: not in the folder")
    return problems


def refresh_manifest(folder: str | Path) -> None:
    """Re-read `dubber.json` and re-hash every file into the manifest, after a setting of the
    exported folder was changed by hand (e.g. a dubbing setting chosen on tuning seeds)."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    manifest["dubber"] = json.loads((folder / DUBBER_FILE).read_text())
    manifest["files"] = file_table(folder)
    manifest["total_bytes"] = _within_budget(manifest["files"])
    _write_manifest(folder, manifest)


def _within_budget(files: dict[str, dict[str, Any]]) -> int:
    """Total bytes of a file table; OutputError when over the package's 40 MB budget."""
    total = sum(entry["bytes"] for entry in files.values())
    if total > MAX_BYTES:
        raise OutputError(f"default checkpoint is {total / 2**20:.1f} MB > 40 MB budget")
    return total


def update_metrics(folder: str | Path, metrics: dict[str, Any]) -> None:
    """Merge evaluation numbers into the manifest's `metrics` (weights untouched)."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    manifest["metrics"] = {**manifest.get("metrics", {}), **metrics}
    _write_manifest(folder, manifest)
