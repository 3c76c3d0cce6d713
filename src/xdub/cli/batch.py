"""`xdub batch JOBS.(csv|yaml) --out DIR`: dub many (video, audio, options) jobs.

Every job goes through `xdub.api.DubbingPipeline`, the dubbing call of `xdub dub`, with the
model loaded once per process. Launched as several processes (torchrun, accelerate, MPI,
Slurm) or given `--shard i/n`, each process takes its own jobs (`xdub.pipeline.batch`) and,
with GPUs, its own device (cuda:<local rank>). Rerunning the command skips finished jobs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from xdub.cli.app import (FastOption, NullContextOption, OffloadOption, ThreadsOption, app,
                          set_cpu_threads)
from xdub.cli.dub import DType, _value

EPILOG = (
    "Exit codes: 0 every job of this process done or skipped (with several processes: always "
    "0 once the batch ran, since a launcher stops all processes when one fails; read the "
    "status table); 2 bad jobs file or option; 6 one process and some job failed."
)


def _pipeline_loader(weights: dict, device: str, dtype: str):
    """A zero-argument loader that builds the pipeline on first use and then reuses it (a
    batch whose every job has a bad input never loads the model)."""
    from xdub.api import DubbingPipeline

    loaded = []

    def get_pipeline():
        if not loaded:
            rest = {k: v for k, v in weights.items() if k != "checkpoint"}
            loaded.append(DubbingPipeline.from_pretrained(
                weights["checkpoint"], device=device, dtype=dtype, sync_scorer="none", **rest))
        return loaded[0]

    return get_pipeline


def _device_for(device: str | None, worker) -> str | None:
    """With several processes on a GPU machine, process i uses cuda:<local rank i>."""
    if worker.count == 1 or device not in (None, "auto"):
        return device
    import torch

    return f"cuda:{worker.local_index}" if torch.cuda.is_available() else device


def _print_table(results, out: Path, worker) -> None:
    from rich.console import Console
    from rich.table import Table

    from xdub.pipeline.batch import summarize

    table = Table(title=f"xdub batch -> {out} (worker {worker.label})")
    for column in ("job", "status", "seconds", "error"):
        table.add_column(column, overflow="fold")
    for r in results:
        style = {"failed": "red", "done": "green"}.get(r.status, "")
        table.add_row(r.name, f"[{style}]{r.status}[/]" if style else r.status,
                      f"{r.seconds:.1f}" if r.status != "skipped" else "", r.error)
    console = Console(width=max(100, Console().width))
    console.print(table)
    counts = summarize(results)
    print(f"summary [{worker.label}]: " + ", ".join(f"{v} {k}" for k, v in counts.items()))


@app.command(epilog=EPILOG)
def batch(
    jobs_file: Path = typer.Argument(..., help="Jobs: .csv (header row) or .yaml list; columns "
                                     "video, audio (+ name, output, dub options)."),
    out: Path = typer.Option(..., "--out", help="Output folder (one file per job + status/)."),
    checkpoint: Path | None = typer.Option(None, "--checkpoint",
                                           help="Dubbing checkpoint folder (default: embedded)."),
    dit: Path | None = typer.Option(None, "--dit", help="Official X-Dub_model.safetensors."),
    vae: Path | None = typer.Option(None, "--vae", help="Official Wan2.2 VAE."),
    whisper: Path | None = typer.Option(None, "--whisper", help="Whisper large-v2 folder."),
    wav2vec2: Path | None = typer.Option(None, "--wav2vec2", help="wav2vec2-base-960h folder."),
    null_context: NullContextOption = None,
    random_init: bool = typer.Option(False, "--random-init",
                                     help="Untrained tiny model (smoke tests)."),
    config: Path | None = typer.Option(None, "--config", help="InferConfig YAML for all jobs."),
    fast: FastOption = False,
    offload: OffloadOption = None,
    threads: ThreadsOption = None,
    device: str | None = typer.Option(None, "--device", help="auto (default: cuda:<local "
                                      "rank> with several processes), cpu, or a device."),
    dtype: DType | None = typer.Option(None, "--dtype", help="Model dtype."),
    shard: str | None = typer.Option(None, "--shard", help="i/n: run only jobs k with "
                                     "k % n == i (default: from the launcher)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Dub every job of JOBS into OUT: resumable, one job per process, failures per job."""
    from xdub.api import infer_config, open_inputs
    from xdub.cli.progress import progress_for
    from xdub.config import load
    from xdub.config.infer import InferConfig
    from xdub.errors import BatchError
    from xdub.pipeline.batch import BatchJob, read_jobs, run_batch, summarize
    from xdub.sharding import current_worker

    set_cpu_threads(threads)
    jobs = read_jobs(jobs_file)
    worker = current_worker(shard)
    base = infer_config(load(InferConfig, config) if config is not None else None,
                        device=_device_for(device, worker), dtype=_value(dtype),
                        fast=fast or None)
    weights = {"checkpoint": checkpoint, "dit": dit, "vae": vae, "whisper": whisper,
               "wav2vec2": wav2vec2, "null_context": null_context, "random_init": random_init,
               "offload": offload, "seed": base.sampling.seed}
    get_pipeline = _pipeline_loader(weights, base.device, base.dtype)

    def dub(job: BatchJob, output: Path) -> None:
        inputs = open_inputs(job.video, job.audio, output)  # exit-2/3 errors before the model
        cfg = infer_config(base, **job.options)
        with progress_for(quiet) as progress:
            result = get_pipeline()(inputs, config=cfg, progress=progress, score_sync=False)
        for warning in result.warnings:
            announce(f"warning: {job.name}: {warning}")

    def announce(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    results = run_batch(jobs, out, worker, dub, announce)
    _print_table(results, out, worker)
    if summarize(results)["failed"] and worker.count == 1:
        raise BatchError(f"{summarize(results)['failed']} job(s) failed (see the table above "
                         f"and {out / 'status'})")
