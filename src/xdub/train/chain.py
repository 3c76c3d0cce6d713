"""`xdub train chain`: codec -> scorer -> occluders -> landmarks -> stage 1 -> pairs -> stage 2
-> export.

Between stage 1 and the pairs, `phases` measures the lip band on the stage-1 model and
`robust_decoder` (when configured) fine-tunes a noise-robust decoder for the pairs and/or the
exported default.

    run_chain(load(ChainConfig, "configs/train/chain_tiny.yaml"), config_dir, "runs/chain")

Each step (`xdub.train.chain_steps.STEP_FUNCTIONS`) works in `<out>/<step>/` with its own
resumable recipe. When a step returns complete, the chain writes `<out>/<step>/chain_done.json`
(its wall time); a rerun skips every step with that marker and resumes the first one without
it, so the chain can be interrupted anywhere. `<out>/chain_times.json` sums the wall time per
step over all invocations (the reproduction cost quoted in the README).
Imports: stdlib, xdub.{config, train}.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from xdub.atomic import write_json_atomic
from xdub.config.chain import CHAIN_STEPS, ChainConfig
from xdub.train.chain_steps import STEP_FUNCTIONS, ChainContext

log = logging.getLogger(__name__)

DONE_MARKER = "chain_done.json"
TIMES_FILE = "chain_times.json"
StepFn = Callable[[ChainContext], bool]


def step_done(out: Path, step: str) -> bool:
    """Whether `step` completed in the chain folder `out`."""
    return (out / step / DONE_MARKER).is_file()


def _write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, data)


def _add_time(out: Path, step: str, seconds: float) -> None:
    path = out / TIMES_FILE
    times = json.loads(path.read_text()) if path.is_file() else {}
    times[step] = round(times.get(step, 0.0) + seconds, 1)
    _write_json(path, times)


def run_chain(cfg: ChainConfig, config_dir: str | Path, out: str | Path,
              steps: Mapping[str, StepFn] | None = None,
              report: Callable[[str, str], None] | None = None) -> dict[str, str]:
    """Run the chain's unfinished steps in order; returns {step: "skipped"|"done"|"incomplete"}.

    Stops at the first step that does not complete (time budget, interruption) or after
    `cfg.stop_after`. `steps` replaces the step functions (tests); `report(step, status)` is
    called as steps start and end (the CLI prints it).
    """
    out, functions = Path(out), dict(steps or STEP_FUNCTIONS)
    ctx = ChainContext(cfg, Path(config_dir).resolve(), out)
    out.mkdir(parents=True, exist_ok=True)
    status: dict[str, str] = {}
    notify = report or (lambda step, state: log.info("chain %s: %s", step, state))
    for step in CHAIN_STEPS:
        if step_done(out, step):
            status[step] = "skipped"
            notify(step, "skipped (done before)")
        else:
            notify(step, "running")
            began = time.monotonic()
            complete = functions[step](ctx)
            seconds = time.monotonic() - began
            _add_time(out, step, seconds)
            if not complete:
                status[step] = "incomplete"
                notify(step, f"incomplete after {seconds:.0f} s; rerun to resume")
                return status
            _write_json(out / step / DONE_MARKER, {"seconds": round(seconds, 1)})
            status[step] = "done"
            notify(step, f"done in {seconds:.0f} s")
        if step == cfg.stop_after:
            break
    return status
