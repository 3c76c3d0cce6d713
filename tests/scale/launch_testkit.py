"""Start N processes the way a user would on a CPU machine: torchrun (see docs/scaling.md)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"


def child_env() -> dict[str, str]:
    """This environment with our source tree first on the path (worktrees, no install)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def torchrun(args: list[str], nproc: int = 2, cwd: Path | None = None,
             timeout: float = 300) -> subprocess.CompletedProcess:
    """`python -m torch.distributed.run --standalone --nproc_per_node N ARGS...`, output kept."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc_per_node", str(nproc), *args]
    return subprocess.run(command, cwd=cwd, env=child_env(), capture_output=True, text=True,
                          timeout=timeout, check=False)


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    """The result, or an AssertionError carrying the tail of its output."""
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    return result
