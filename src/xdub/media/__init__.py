"""xdub.media: the side-effect edge for media files (decode, encode, probe, safe output paths).

Public API: `probe`, `iter_frames`, `read_video`, `VideoWriter`, `write_video`, `read_audio`,
`iter_audio`, `FileAudio` (a track decoded on demand), `write_wav`, `write_audio`, `write_png`,
`check_output_path`. Every user-caused failure raises `xdub.errors.MediaError` (inputs) or
`OutputError` (outputs) with a one-line message.
Imports: av, numpy, xdub.types, xdub.errors (never face/audio/models/diffusion).
"""

from xdub.media.audio import FileAudio, iter_audio, read_audio, write_audio, write_wav
from xdub.media.image import write_png
from xdub.media.output import VIDEO_EXTENSIONS, check_output_path
from xdub.media.probe import probe
from xdub.media.video import iter_frames, read_video
from xdub.media.writer import VideoWriter, write_video

__all__ = [
    "FileAudio",
    "VIDEO_EXTENSIONS",
    "VideoWriter",
    "check_output_path",
    "iter_audio",
    "iter_frames",
    "probe",
    "read_audio",
    "read_video",
    "write_audio",
    "write_png",
    "write_video",
    "write_wav",
]
