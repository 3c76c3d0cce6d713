"""Batch dubbing (`xdub batch`): a jobs file, one job per process, resumable, per-job status.

A jobs file lists (video, audio, options) jobs: a CSV with a header row, or a YAML list of
mappings (or `{jobs: [...]}`). Columns / keys:

    video, audio       input paths (relative ones are relative to the jobs file)
    name               job name (default: <video stem>-<audio stem>); unique, no '/'
    output             output file name inside the output folder (default: <name>.mp4)
    length extend tail start end steps ref_scale audio_scale denoise_strength seed
    chunk_frames overlap face no_face keep_occluders refine_landmarks
                       the `xdub dub` options of the same names (`--strength` is
                       denoise_strength, `--no-occluders` is keep_occluders false,
                       `--no-refine-landmarks` is refine_landmarks false; empty = the default)

Job k belongs to worker k % n (`xdub.sharding`: one job per launched process at a time), so
each job runs exactly once however many processes share the batch. A job whose output exists
is finished (outputs are written to a temp name and renamed) and is skipped by a rerun; a
failed job leaves no output, so a rerun tries it again. Each attempt is appended to
`<out>/status/<name>.json` (the job's owner is its only writer). A failing job (bad input, a
bug) is recorded with its one-line error and exit code, and the next job runs.
Imports: csv, yaml, xdub.{atomic, errors, sharding}.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from xdub.atomic import write_text_atomic
from xdub.errors import ConfigError, XdubError
from xdub.sharding import Worker, items_for

# The per-job `xdub dub` options and their types (CSV cells are text).
JOB_OPTIONS: dict[str, type] = {
    "length": str, "extend": str, "tail": str, "start": float, "end": float, "steps": int,
    "ref_scale": float, "audio_scale": float, "denoise_strength": float, "seed": int,
    "chunk_frames": int, "overlap": int,
    "face": str, "no_face": str, "keep_occluders": bool, "refine_landmarks": bool,
}
_BOOLS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
OUTPUT_SUFFIXES = (".mp4", ".mov", ".mkv")
EXIT_INTERNAL = 1  # a job that failed with an unexpected exception (a bug)


@dataclass(frozen=True)
class BatchJob:
    """One dubbing job: inputs, output file name (inside the output folder) and options."""

    name: str
    video: Path
    audio: Path
    output: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class JobResult:
    """How one job went in this run: "done", "skipped" (output already there) or "failed"."""

    name: str
    status: str
    seconds: float = 0.0
    error: str = ""
    exit_code: int = 0
    worker: str = "0/1"


def _option(name: str, value: Any, where: str) -> Any:
    kind = JOB_OPTIONS[name]
    if kind is bool and not isinstance(value, bool):  # CSV text: bool("false") would be True
        if str(value).strip().lower() not in _BOOLS:
            raise ConfigError(f"{where}: {name} must be true or false, got {value!r}")
        return _BOOLS[str(value).strip().lower()]
    try:
        return kind(value) if not isinstance(value, bool) else value
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: {name} must be {kind.__name__}, got {value!r}") from None


def _job(row: dict[str, Any], index: int, base: Path, source: Path) -> BatchJob:
    """A validated job from one row (CSV) or mapping (YAML)."""
    where = f"{source} job {index + 1}"
    row = {str(k).strip(): v for k, v in row.items() if v is not None and str(v).strip() != ""}
    unknown = sorted(set(row) - {"video", "audio", "name", "output", *JOB_OPTIONS})
    if unknown:
        raise ConfigError(f"{where}: unknown column(s) {', '.join(unknown)}")
    missing = [k for k in ("video", "audio") if k not in row]
    if missing:
        raise ConfigError(f"{where}: needs {' and '.join(missing)}")
    video, audio = (base / str(row[k]).strip() for k in ("video", "audio"))
    name = str(row.get("name", f"{video.stem}-{audio.stem}")).strip()
    output = str(row.get("output", f"{name}.mp4")).strip()
    if "/" in name or name.startswith(".") or "/" in output:
        raise ConfigError(f"{where}: name and output must be plain file names, got {name!r}")
    if Path(output).suffix.lower() not in OUTPUT_SUFFIXES:
        raise ConfigError(f"{where}: output {output!r} must end in {'/'.join(OUTPUT_SUFFIXES)}")
    options = {k: _option(k, v, where) for k, v in row.items() if k in JOB_OPTIONS}
    return BatchJob(name, video, audio, output, options)


def read_jobs(path: str | Path) -> list[BatchJob]:
    """Every job of a `.csv` or `.yaml`/`.yml` jobs file; bad files are one `ConfigError`."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise ConfigError(f"cannot read jobs file {path}: {err.strerror or err}") from None
    if path.suffix.lower() == ".csv":
        rows: Any = list(csv.DictReader(text.splitlines()))
    elif path.suffix.lower() in (".yaml", ".yml"):
        try:
            rows = yaml.safe_load(text) or []
        except yaml.YAMLError as err:
            raise ConfigError(f"{path}: not valid YAML ({err})") from None
        rows = rows.get("jobs", []) if isinstance(rows, dict) else rows
    else:
        raise ConfigError(f"jobs file {path} must be .csv, .yaml or .yml")
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ConfigError(f"{path}: expected a list of jobs (mappings)")
    jobs = [_job(row, k, path.parent, path) for k, row in enumerate(rows)]
    if not jobs:
        raise ConfigError(f"{path} lists no jobs")
    for attr in ("name", "output"):
        seen = [getattr(j, attr) for j in jobs]
        twice = sorted({v for v in seen if seen.count(v) > 1})
        if twice:
            raise ConfigError(f"{path}: {attr} used by several jobs: {', '.join(twice)}")
    return jobs


def status_path(out_dir: Path, job: BatchJob) -> Path:
    """Where job `job`'s attempts are recorded."""
    return out_dir / "status" / f"{job.name}.json"


def read_attempts(out_dir: Path, job: BatchJob) -> list[dict[str, Any]]:
    """Every recorded attempt of `job` (oldest first), [] when it never ran."""
    path = status_path(out_dir, job)
    return json.loads(path.read_text())["attempts"] if path.is_file() else []


def _record(out_dir: Path, job: BatchJob, result: JobResult) -> None:
    attempts = [*read_attempts(out_dir, job), {**asdict(result), "time": time.time()}]
    record = {"name": job.name, "video": str(job.video), "audio": str(job.audio),
              "output": job.output, "status": result.status, "attempts": attempts}
    path = status_path(out_dir, job)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(record, indent=2) + "\n")


DubJob = Callable[[BatchJob, Path], None]  # dub one job into the given output path


def run_batch(jobs: list[BatchJob], out_dir: str | Path, worker: Worker, dub: DubJob,
              announce: Callable[[str], None] = lambda line: None) -> list[JobResult]:
    """Run this worker's jobs in order; never stops at a failed job. `announce` gets one line
    per job as it starts (progress that also reads well in a log file)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    mine = items_for(len(jobs), worker)
    results = []
    for count, k in enumerate(mine, start=1):
        job, output = jobs[k], out_dir / jobs[k].output
        if output.exists():
            results.append(JobResult(job.name, "skipped", worker=worker.label))
            continue
        announce(f"[{worker.label}] job {count}/{len(mine)}: {job.name}")
        began = time.monotonic()
        try:
            dub(job, output)
            result = JobResult(job.name, "done", worker=worker.label)
        except XdubError as err:
            result = JobResult(job.name, "failed", error=str(err), exit_code=err.exit_code,
                               worker=worker.label)
        except Exception as err:  # a bug in one job must not stop the others
            result = JobResult(job.name, "failed", error=f"internal error: "
                               f"{type(err).__name__}: {err}", exit_code=EXIT_INTERNAL,
                               worker=worker.label)
        result = JobResult(**{**asdict(result), "seconds": round(time.monotonic() - began, 2)})
        _record(out_dir, job, result)
        results.append(result)
    return results


def summarize(results: list[JobResult]) -> dict[str, int]:
    """Counts per status."""
    return {status: sum(r.status == status for r in results)
            for status in ("done", "skipped", "failed")}
