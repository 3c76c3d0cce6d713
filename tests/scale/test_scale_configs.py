"""configs/accelerate parse and agree with the loop; docs/scaling.md's memory table is the
script's output; the loop refuses sharded strategies it cannot checkpoint."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest
from accelerate.commands.config.config_args import load_config_from_file

from xdub.config import load
from xdub.config.train import Stage1Config
from xdub.models import blocks

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "configs" / "accelerate"


def test_accelerate_configs_parse_with_the_right_strategy():
    kinds = {name: load_config_from_file(str(CONFIGS / f"{name}.yaml")).distributed_type.value
             for name in ("ddp", "fsdp", "deepspeed_zero2")}
    assert kinds == {"ddp": "MULTI_GPU", "fsdp": "FSDP", "deepspeed_zero2": "DEEPSPEED"}


def test_fsdp_wraps_dit_blocks_and_zero2_matches_the_wan5b_loop():
    fsdp = load_config_from_file(str(CONFIGS / "fsdp.yaml")).fsdp_config
    assert fsdp["fsdp_auto_wrap_policy"] == "TRANSFORMER_BASED_WRAP"
    assert hasattr(blocks, fsdp["fsdp_transformer_layer_cls_to_wrap"])
    assert fsdp["fsdp_reshard_after_forward"] is True  # full shard
    zero = load_config_from_file(str(CONFIGS / "deepspeed_zero2.yaml")).deepspeed_config
    loop = load(Stage1Config, ROOT / "configs" / "train" / "stage1_wan5b.yaml").loop
    assert zero["zero_stage"] == 2
    assert zero["gradient_accumulation_steps"] == loop.grad_accum
    assert zero["gradient_clipping"] == loop.grad_clip


def test_scaling_doc_memory_rows_are_the_scripts_output():
    spec = importlib.util.spec_from_file_location("train_memory",
                                                  ROOT / "benchmarks" / "train_memory.py")
    script = importlib.util.module_from_spec(spec)
    sys.modules["train_memory"] = script  # its dataclass looks its module up there
    spec.loader.exec_module(script)
    doc = (ROOT / "docs" / "scaling.md").read_text()
    generated = re.search(r"<!-- memory table.*?-->\n(.*?)\n<!-- end", doc, re.S).group(1)
    tiny = script.table([script.estimate(str(ROOT / "configs/train/stage1_tiny.yaml"))], 8)
    rows = [line for line in tiny.splitlines() if line.startswith("| stage1_tiny")]
    assert len(rows) == 3 and all(row in generated for row in rows)
    wan = [line for line in generated.splitlines() if line.startswith("| stage1_wan5b")]
    assert len(wan) == 3 and "6292.6M" in wan[0]


def test_loop_refuses_deepspeed_and_warns_when_accelerate_falls_back(monkeypatch, caplog):
    from accelerate.utils import DistributedType

    from xdub.errors import ConfigError
    from xdub.train.processes import check_strategy

    class FakeAccelerator:
        distributed_type = DistributedType.DEEPSPEED
        is_main_process = True

    with pytest.raises(ConfigError, match="DeepSpeed"):
        check_strategy(FakeAccelerator())
    FakeAccelerator.distributed_type = DistributedType.MULTI_CPU
    monkeypatch.setenv("ACCELERATE_USE_DEEPSPEED", "true")
    check_strategy(FakeAccelerator())  # accelerate fell back to DDP: a warning, no error
    assert "runs MULTI_CPU" in caplog.text
