"""The streaming benchmark's peak-RSS probe counts the child process only: Linux carries
getrusage's ru_maxrss across fork + exec, which once made a big parent look like growth."""

import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
PROBE = ("import sys; sys.path.insert(0, sys.argv[1]); import resource, streaming_rss; "
         "print(streaming_rss.peak_rss_mib(), "
         "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")


def test_child_peak_excludes_the_parents_memory():
    ballast = np.ones(400 * 2**20, dtype=np.uint8)  # 400 MiB resident in this process
    out = subprocess.run([sys.executable, "-c", PROBE, str(ROOT / "benchmarks")],
                         capture_output=True, text=True, check=True).stdout.split()
    own, inherited = map(float, out)
    assert own < 200, f"child peak {own:.0f} MiB includes the parent"
    assert inherited > 400  # what ru_maxrss reports: the parent's memory at fork
    del ballast
