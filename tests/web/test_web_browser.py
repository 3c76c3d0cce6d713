"""The web app in a real browser: upload a synthetic clip and new audio, dub on the embedded
default, download the result and decode it; a bad upload shows a readable message.
Screenshots (before / after the run) go to artifacts/web/ (git-ignored)."""

from __future__ import annotations

import time

import pytest
from xdub.config.synth import SynthConfig
from xdub.media import probe, write_video, write_wav
from xdub.synth.clip import render_pair

RUN_TIMEOUT_MS = 240_000  # one dub of 15 frames at 1 step, on a busy 2-core box


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """0.6 s synthetic talking clip (192x192, 25 fps) and other speech of the same length."""
    folder = tmp_path_factory.mktemp("inputs")
    clip_a, clip_b = render_pair(11, SynthConfig(size=(192, 192), fps=25.0, duration=0.6))
    video = write_video(folder / "talk.mp4", clip_a.frames, 25.0, audio=clip_a.audio)
    audio = write_wav(folder / "new_voice.wav", clip_b.audio)
    return video, audio


def _open(browser, server):
    page = browser.new_page(viewport={"width": 1280, "height": 1000}, accept_downloads=True)
    page.goto(server, wait_until="load")
    page.wait_for_selector("#run", timeout=60_000)
    return page


def _prepare(page, video, audio) -> None:
    """Upload both files, pick the face from its thumbnail, set 1 sampling step."""
    page.locator("#video-in input[type=file]").set_input_files(str(video))
    page.locator("#audio-in input[type=file]").set_input_files(str(audio))
    page.wait_for_selector("#faces img", timeout=60_000)  # the face thumbnail to pick
    page.wait_for_selector("#tracks video", timeout=30_000)  # the face track, before the run
    page.locator("#faces img").first.click()
    page.get_by_text("face 0 will be dubbed").wait_for(timeout=30_000)
    page.get_by_text("Options").click()
    steps = page.locator("#steps input[type=number]")
    steps.fill("1")
    steps.press("Enter")


def test_upload_dub_download(browser, server, inputs, tmp_path, artifacts):
    video, audio = inputs
    began = time.monotonic()
    page = _open(browser, server)
    _prepare(page, video, audio)
    page.screenshot(path=str(artifacts / "before_run.png"), full_page=True)

    page.locator("#run").click()
    link = page.locator("#download a").first
    link.wait_for(timeout=RUN_TIMEOUT_MS)
    with page.expect_download() as download:
        link.click()
    saved = tmp_path / "dubbed.mp4"
    download.value.save_as(saved)
    page.get_by_text("frames dubbed (generated)").wait_for(timeout=30_000)
    page.screenshot(path=str(artifacts / "after_run.png"), full_page=True)
    page.close()
    print(f"browser run: {time.monotonic() - began:.1f} s")

    got, want = probe(saved), probe(video)
    assert (got.width, got.height) == (want.width, want.height) == (192, 192)
    assert got.fps == want.fps == 25
    assert got.num_frames == want.num_frames == 15
    assert abs(got.duration - 0.6) < 0.05


def test_a_text_file_named_mp4_gets_a_readable_message(browser, server, tmp_path):
    fake = tmp_path / "holiday.mp4"
    fake.write_text("this is a text file, not a video\n")
    page = _open(browser, server)
    page.locator("#video-in input[type=file]").set_input_files(str(fake))
    status = page.locator("#status")
    status.get_by_text("not a video we can read").wait_for(timeout=60_000)
    text = status.inner_text()
    assert text.startswith("Error:") and "Traceback" not in text
    page.close()


def test_two_users_at_once_both_finish(browser, server, inputs):
    """The queue runs one job at a time; the second waits (seeing its place) and finishes."""
    video, audio = inputs
    pages = [_open(browser, server) for _ in range(2)]
    for page in pages:
        _prepare(page, video, audio)
    for page in pages:
        page.locator("#run").click()
    for page in pages:
        page.locator("#download a").first.wait_for(timeout=RUN_TIMEOUT_MS)
        assert "done:" in page.locator("#status").inner_text()
        page.close()


def test_an_upload_over_the_size_limit_is_refused_with_a_message(browser, server, tmp_path):
    big = tmp_path / "big.mp4"
    big.write_bytes(b"\0" * 1_500_000)  # over the server's --max-upload-mb 1
    page = _open(browser, server)
    page.locator("#video-in input[type=file]").set_input_files(str(big))
    page.get_by_text("exceed the maximum allowed size of 1.0 Mb").first.wait_for(timeout=30_000)
    assert page.locator("#faces img").count() == 0  # refused: nothing was processed
    page.close()
