"""CLI shell: version, help, and one-line errors instead of tracebacks."""

import subprocess
import sys


def _run(*args):
    return subprocess.run([sys.executable, "-m", "xdub.cli.main", *args],
                          capture_output=True, text=True, timeout=120)


def test_version_and_help():
    out = _run("--version")
    assert out.returncode == 0 and out.stdout.startswith("xdub ")
    assert "synth" in _run("--help").stdout


def test_unknown_command_is_a_usage_error_not_a_traceback():
    out = _run("no-such-command")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
