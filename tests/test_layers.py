"""The package layer contract (pyproject [tool.importlinter]) holds: lower layers never import
higher ones, and sibling layers stay independent."""

import shutil
import subprocess

import pytest


def test_import_layers_contract():
    exe = shutil.which("lint-imports")
    if exe is None:
        pytest.skip("import-linter not installed (pip install -e '.[test]')")
    out = subprocess.run([exe], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
