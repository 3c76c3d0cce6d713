"""Opt-in: xdub's full-scale path against the official X-Dub pipeline, stage by stage.

Set XDUB_OFFICIAL_REPO to a checkout of KlingAIResearch/X-Dub (or its bare git repository)
to run it; it takes about two minutes on two CPU cores. Same harness as
`benchmarks/vs_official.py`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = os.environ.get("XDUB_OFFICIAL_REPO", "")


@pytest.mark.skipif(not REPO, reason="set XDUB_OFFICIAL_REPO to the official X-Dub repository "
                                     "(a checkout or its bare git repo) to compare against it")
def test_every_stage_matches_the_official_pipeline():
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import vs_official

    report = vs_official.run(REPO, vs_official.Sizes(crop=64, steps=2), log=lambda _m: None)
    print(report.table())
    assert len(report.rows) > 30  # audio, VAE, 3 streams + merge + latents per step, 2 chunks
    bad = {k: v for k, v in report.rows.items() if v > 1e-4}
    assert not bad, f"stages beyond 1e-4 relative: {bad}"
