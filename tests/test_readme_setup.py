"""README set-up command 1 leaves nothing for `git status` to list: its output folder is named
in the README and ignored by .gitignore (#15)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def setup_command_1() -> str:
    """The line after "# 1." in the README's set-up block."""
    text = (ROOT / "README.md").read_text()
    match = re.search(r"^# 1\..*\n(.+)$", text, re.M)
    assert match, "README.md has no set-up command 1"
    return match.group(1)


def test_setup_demo_output_is_git_ignored_and_named():
    command = setup_command_1()
    folders = set(re.findall(r"--out (\S+)", command)) | {
        Path(p).parent.as_posix() for p in re.findall(r"-o (\S+)", command)}
    assert folders == {"demo"}, command  # every output of command 1 goes to one folder
    readme = (ROOT / "README.md").read_text()
    assert "`demo/`, which git ignores" in readme
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    for name in ("dubbed.mp4", "standard_000000_a.json", "standard_000000_a.masks.npz"):
        ignored = subprocess.run(["git", "check-ignore", "-q", f"demo/{name}"], cwd=ROOT)
        assert ignored.returncode == 0, f"git status would list demo/{name}"
