"""Browser fixtures: a headless Chromium (Debian's `chromium`, driven by Playwright) and an
`xdub serve` on a free loopback port. Without a startable Chromium the browser tests are
skipped with the reason; in CI (CI=true) they fail instead, so they can never pass silently."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("XDUB_ARTIFACTS", ROOT / "artifacts")) / "web"  # git-ignored
SERVER_START_S = 180  # gradio import + model load + first page on a loaded 2-core box


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """The folder for screenshots (git-ignored; XDUB_ARTIFACTS moves it)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def _unavailable(reason: str) -> None:
    """Skip with the reason, or fail in CI where the browser tests must run."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"browser tests must run in CI: {reason}")
    pytest.skip(reason)


def chromium_path() -> str | None:
    """The system Chromium (XDUB_CHROMIUM overrides; Playwright's own download is not used)."""
    return os.environ.get("XDUB_CHROMIUM") or shutil.which("chromium") or shutil.which(
        "chromium-browser")


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """A headless Chromium through Playwright."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable('playwright is not installed (pip install -e ".[test]")')
    executable = chromium_path()
    if executable is None:
        _unavailable("no chromium on PATH (apt-get install chromium)")
    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(executable_path=executable,
                                                  args=["--no-sandbox"])
        except Exception as err:  # any launch failure is the reason to report
            _unavailable(f"chromium at {executable} cannot start: {str(err).splitlines()[0]}")
        yield chromium
        chromium.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Iterator[str]:
    """`xdub serve` (embedded default) on a free loopback port; its URL. Afterwards: no job
    folder was left behind, and SIGTERM removed the server's whole working folder."""
    pytest.importorskip("gradio")
    port = _free_port()
    log_path = tmp_path_factory.mktemp("serve") / "server.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "xdub.cli.main", "serve", "--port", str(port), "--examples", "0",
         "--max-seconds", "10", "--max-upload-mb", "1"], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + SERVER_START_S
    try:
        while True:
            if process.poll() is not None:
                pytest.fail(f"xdub serve exited: {log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(url, timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"xdub serve did not answer in {SERVER_START_S} s")
            time.sleep(0.5)
        work = Path(re.search(r"working folder (\S+)\)", log_path.read_text()).group(1))
        yield url
        jobs = list((work / "jobs").iterdir())
        assert not jobs, f"job folders left behind: {jobs}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
    assert not work.exists(), f"xdub serve left its working folder {work}"
