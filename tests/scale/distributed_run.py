"""Launched by tests/scale/test_scale_training.py under torchrun (or alone): micro-scale
stage-1 / stage-2 runs, recording on every process, after every optimiser step, the logged
loss and a digest of the process's weights (rank<r>.json in the output folder).

    python -m torch.distributed.run --standalone --nproc_per_node 2 distributed_run.py JOBS.json OUT

JOBS.json: a list of {"stage": "stage1" | "stage2", "run_dir", "steps", "batch_size",
"pairs" (stage 2), "fsdp" (optional: shard with FSDP2)}; the jobs run one after another in
the same processes.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import torch

TESTS = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(TESTS / "train"), str(TESTS / "stage2")]

from stage2_testkit import tiny_stage2_config  # noqa: E402
from test_train_stage1 import _config as micro_stage1_config  # noqa: E402

from xdub.config import replace  # noqa: E402
from xdub.config.model import LipPriorConfig  # noqa: E402
from xdub.train import fsdp, loop, processes  # noqa: E402
from xdub.train.stage1 import train_stage1  # noqa: E402
from xdub.train.stage2 import train_stage2  # noqa: E402


def weights_digest(model: torch.nn.Module) -> str:
    """sha256 over every tensor of the whole state dict (FSDP shards gathered: a collective),
    names and bytes, in name order."""
    digest = hashlib.sha256()
    for name, value in sorted(fsdp.full_tensors(model.state_dict()).items()):
        digest.update(name.encode())
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def stage1_config(steps: int, batch_size: int):
    cfg = micro_stage1_config(sample_clips=0)
    return replace(cfg, loop=replace(cfg.loop, steps=steps, batch_size=batch_size))


def stage2_config(pairs: str, steps: int, batch_size: int, lip_prior: bool = False):
    cfg = tiny_stage2_config(Path(pairs), mode="single", steps=steps)
    if lip_prior:  # a tiny editor with the audio lip prior (its loss runs beside the forward)
        cfg = replace(cfg, source_fusion="aligned_residual",
                      lip_prior=LipPriorConfig(enabled=True, audio_width=8, width=8, layers=1))
    return replace(cfg, loop=replace(cfg.loop, batch_size=batch_size, ckpt_every=1))


def main(jobs_file: str, out: str) -> None:
    records: list[dict] = []
    original = loop._Loop._after_step

    def recording(self, logs, loss, grad_norm, seconds):  # after each optimiser step
        param = next(self.state.model.parameters())
        records.append({"step": self.state.step, "loss": loss,
                        "weights": weights_digest(self.state.model),
                        "sharded": type(param).__name__ == "DTensor"})
        original(self, logs, loss, grad_norm, seconds)

    loop._Loop._after_step = recording
    torch.set_num_threads(1)
    runs = []
    for job in json.loads(Path(jobs_file).read_text()):
        records = []
        if "fsdp" in job:  # else as launched (accelerate's FSDP config sets it)
            os.environ["ACCELERATE_USE_FSDP"] = "true" if job["fsdp"] else "false"
        if job["stage"] == "stage1":
            train_stage1(stage1_config(job["steps"], job["batch_size"]), job["run_dir"])
        else:
            train_stage2(stage2_config(job["pairs"], job["steps"], job["batch_size"],
                                       job.get("lip_prior", False)),
                         job["run_dir"])
        runs.append({"run_dir": job["run_dir"], "steps": records})
    state = processes.process_state()
    Path(out).mkdir(parents=True, exist_ok=True)
    (Path(out) / f"rank{state.process_index}.json").write_text(json.dumps(
        {"rank": state.process_index, "world": state.num_processes, "runs": runs}))


if __name__ == "__main__":
    main(*sys.argv[1:3])
