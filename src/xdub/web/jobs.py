"""One dubbing job of the web app: checked uploads, its own temporary folder, the run itself.

Everything the page shows comes from `xdub.api`: `find_faces` for the thumbnails,
`DubbingPipeline` for the run, `DebugVideos` for the side-by-side video. Uploads are checked
before any work (readable, not too long, has a face) and every problem becomes one sentence
for the page (`UploadError`, or an `XdubError`'s own message), never a stack trace.
Imports: xdub.{api, pipeline, media, config, errors}.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from xdub.api import DubbingPipeline, DubResult, ProgressUpdate, find_faces, open_inputs
from xdub.api.faces import FaceThumbnail
from xdub.config.web import WebConfig
from xdub.errors import XdubError
from xdub.media import probe, read_audio
from xdub.pipeline.debug import DebugVideos

log = logging.getLogger(__name__)


class UploadError(XdubError):
    """An upload the app cannot use; the message is shown in the page."""


def check_video(path: str | Path | None, cfg: WebConfig) -> Path:
    """The uploaded video, probed: UploadError when missing, unreadable or too long."""
    return _checked(path, cfg, "video", "upload a video first", lambda p: probe(p).duration)


def check_audio(path: str | Path | None, cfg: WebConfig) -> Path:
    """The uploaded audio, decoded once: UploadError when missing, corrupt or too long."""
    return _checked(path, cfg, "audio", "upload or record the new audio first",
                    lambda p: read_audio(p).duration)


def _checked(path: str | Path | None, cfg: WebConfig, noun: str, missing: str,
             duration_of: Callable[[str | Path], float]) -> Path:
    """`path` when present, readable (`duration_of` raises no XdubError) and short enough."""
    if not path:
        raise UploadError(missing)
    try:
        duration = duration_of(path)
    except XdubError as err:
        article = "a " if noun == "video" else ""
        raise UploadError(f"this file is not {article}{noun} we can read ({_short(err)})") from None
    if duration > cfg.max_seconds:
        raise UploadError(f"the {noun} is {duration:.1f} s long; this server accepts up to "
                          f"{cfg.max_seconds:g} s")
    return Path(path)


def _short(err: Exception) -> str:
    """An error message without the server's temporary upload path in it."""
    return str(err).split(": ", 1)[-1] if "/" in str(err).split(": ", 1)[0] else str(err)


def list_faces(pipe: DubbingPipeline, video: str | Path | None,
               cfg: WebConfig) -> list[FaceThumbnail]:
    """The face tracks of an uploaded video (UploadError when there is none)."""
    path = check_video(video, cfg)
    faces = find_faces(path, pipe.face_config, finder=pipe.pipeline.finder)
    if not faces:
        raise UploadError("no face was found in this video: upload a video where a face is "
                          "visible")
    return faces


@dataclass
class JobOutput:
    """What a finished job hands to the page (files live in the job's folder until cleanup)."""

    result: DubResult
    video: Path
    side_by_side: Path


class Job:
    """A job's own temporary folder, removed by `cleanup()` once the page has its files."""

    def __init__(self, root: Path | None = None) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="xdub-job-", dir=root))

    def run(self, pipe: DubbingPipeline, video: str | Path | None, audio: str | Path | None,
            cfg: WebConfig, options: dict, progress: Callable[[ProgressUpdate], None]
            ) -> JobOutput:
        """Check the uploads, dub into the job folder, write the side-by-side video."""
        video_path, audio_path = check_video(video, cfg), check_audio(audio, cfg)
        out = self.folder / "dubbed.mp4"
        inputs = open_inputs(video_path, audio_path, out)
        debug = DebugVideos(self.folder / "debug", pipe.pipeline.dubber.crop_size,
                            inputs=(video_path, audio_path))
        result = pipe(inputs, progress=progress, observer=debug, **options)
        return JobOutput(result, out, self.folder / "debug" / "side_by_side.mp4")

    def cleanup(self) -> None:
        """Remove the job folder and everything in it."""
        shutil.rmtree(self.folder, ignore_errors=True)
        log.info("removed job folder %s", self.folder)
