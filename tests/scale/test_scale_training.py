"""Two CPU processes (torchrun + gloo) train stage 1 and stage 2 exactly like one process.

One torchrun launch runs three micro jobs (tests/scale/distributed_run.py): stage 1 fresh,
stage 1 resumed from a single-process checkpoint, stage 2 fresh, each with batch 1 per process.
The single-process references run here with batch 2: the same global batch.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from launch_testkit import ok, torchrun

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "stage2"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from distributed_run import stage1_config, stage2_config  # noqa: E402
from stage2_testkit import make_pair_store  # noqa: E402

from xdub.train.stage1 import train_stage1  # noqa: E402
from xdub.train.stage2 import train_stage2  # noqa: E402

WORKER = Path(__file__).resolve().parent / "distributed_run.py"


def _losses(run_dir: Path) -> list[float]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [row["loss"] for row in rows]


def _weights(run_dir: Path, step: int) -> dict[str, np.ndarray]:
    return load_file(str(run_dir / "checkpoints" / f"step_{step:08d}" / "model.safetensors"))


def _assert_same_weights(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    """Equal up to float noise. Two processes sum gradients in another order; AdamW divides by
    sqrt(v), so on an element whose gradient is ~0 that last-bit noise can move the weight by
    ~1e-6 (seen on some CPUs). A wrong average or a lost loss moves every weight by ~lr."""
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_allclose(a[name], b[name], rtol=1e-5, atol=1e-5, err_msg=name)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """Single-process references, then the one 2-process launch."""
    root = tmp_path_factory.mktemp("scale")
    pairs = make_pair_store(root / "pairs")
    names = ("one", "one_to_two", "two", "one_s2", "two_s2", "fsdp", "one_to_fsdp", "fsdp_s2",
             "one_prior", "two_prior")
    paths = {name: root / name for name in names}
    train_stage1(stage1_config(2, 2), paths["one"])
    shutil.copytree(paths["one"], paths["one_to_two"])
    shutil.copytree(paths["one"], paths["one_to_fsdp"])
    train_stage2(stage2_config(str(pairs), 2, 2), paths["one_s2"])
    train_stage2(stage2_config(str(pairs), 2, 2, lip_prior=True), paths["one_prior"])
    s2 = {"stage": "stage2", "pairs": str(pairs), "steps": 2, "batch_size": 1}
    ddp = {"stage": "stage1", "steps": 2, "batch_size": 1, "fsdp": False}
    jobs = [{**ddp, "run_dir": str(paths["two"])},
            {**ddp, "run_dir": str(paths["one_to_two"]), "steps": 3},
            {**s2, "run_dir": str(paths["two_s2"]), "fsdp": False},
            {"stage": "stage1", "run_dir": str(paths["fsdp"]), "steps": 2, "batch_size": 1,
             "fsdp": True},
            {"stage": "stage1", "run_dir": str(paths["one_to_fsdp"]), "steps": 3,
             "batch_size": 1, "fsdp": True},
            {**s2, "run_dir": str(paths["fsdp_s2"]), "fsdp": True},
            {**s2, "run_dir": str(paths["two_prior"]), "fsdp": False, "lip_prior": True}]
    (root / "jobs.json").write_text(json.dumps(jobs))
    ok(torchrun([str(WORKER), str(root / "jobs.json"), str(root / "ranks")]))
    paths["ranks"] = root / "ranks"
    return paths


def test_both_ranks_ran_with_identical_weights_after_every_step(runs):
    ranks = [json.loads((runs["ranks"] / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["rank"] for r in ranks] == [0, 1] and {r["world"] for r in ranks} == {2}
    for job in range(6):  # FSDP jobs: the gathered weights
        steps = [r["runs"][job]["steps"] for r in ranks]
        assert len(steps[0]) >= 1 and len(steps[0]) == len(steps[1])
        for mine, theirs in zip(*steps):
            assert mine["step"] == theirs["step"] and mine["weights"] == theirs["weights"]
            assert mine["sharded"] == (job >= 3)  # FSDP jobs train DTensor shards


def test_two_processes_match_one_at_the_same_global_batch(runs):
    np.testing.assert_allclose(_losses(runs["two"]), _losses(runs["one"]), rtol=1e-5)
    _assert_same_weights(_weights(runs["two"], 2), _weights(runs["one"], 2))
    np.testing.assert_allclose(_losses(runs["two_s2"] / "single"),
                               _losses(runs["one_s2"] / "single"), rtol=1e-5)


def test_fsdp_over_two_processes_matches_one_process(runs):
    np.testing.assert_allclose(_losses(runs["fsdp"]), _losses(runs["one"]), rtol=1e-5)
    _assert_same_weights(_weights(runs["fsdp"], 2), _weights(runs["one"], 2))
    np.testing.assert_allclose(_losses(runs["fsdp_s2"] / "single"),
                               _losses(runs["one_s2"] / "single"), rtol=1e-5)
    assert (runs["fsdp_s2"] / "editor").is_dir()  # the exported editor, from gathered weights


def test_checkpoints_resume_across_process_counts(runs, tmp_path):
    two_to_one = tmp_path / "two_to_one"
    shutil.copytree(runs["two"], two_to_one)
    train_stage1(stage1_config(3, 2), two_to_one)  # a 2-process checkpoint, 1 process
    reference = tmp_path / "one_only"
    shutil.copytree(runs["one"], reference)
    train_stage1(stage1_config(3, 2), reference)  # 1 process throughout
    fsdp_to_one = tmp_path / "fsdp_to_one"
    shutil.copytree(runs["fsdp"], fsdp_to_one)
    train_stage1(stage1_config(3, 2), fsdp_to_one)  # an FSDP checkpoint, 1 process
    # ... and a 1-process checkpoint in 2 processes, with DDP and with FSDP
    for resumed in (two_to_one, fsdp_to_one, runs["one_to_two"], runs["one_to_fsdp"]):
        np.testing.assert_allclose(_losses(resumed), _losses(reference), rtol=1e-5)
        _assert_same_weights(_weights(resumed, 3), _weights(reference, 3))


def test_lip_prior_trains_over_two_processes_like_one(runs):
    """DDP wraps the editor: the prior's loss must still reach it, averaged like the rest."""
    one, two = runs["one_prior"] / "single", runs["two_prior"] / "single"
    np.testing.assert_allclose(_losses(two), _losses(one), rtol=1e-5)
    a, b = _weights(one, 2), _weights(two, 2)
    assert any(name.startswith("lip_prior.") for name in a)
    _assert_same_weights(a, b)
