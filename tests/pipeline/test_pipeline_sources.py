"""Frame sources (any index order at bounded memory) and the choice of faces to dub."""

import numpy as np
import pytest
from pipeline_testkit import encode

from xdub.errors import ConfigError, NoFaceError
from xdub.face.track import FaceTrack
from xdub.media import iter_frames
from xdub.pipeline import FileSource
from xdub.pipeline.faces import choose_tracks
from xdub.pipeline.timeline import extend_indices


@pytest.fixture(scope="module")
def numbered(tmp_path_factory):
    """A 45-frame clip whose frames all differ (a bar moving across a gradient)."""
    frames = np.zeros((45, 48, 64, 3), np.uint8)
    frames[..., 0] = np.linspace(0, 255, 64, dtype=np.uint8)
    for k in range(45):
        frames[k, :, k : k + 4, 1] = 255
    path = encode(tmp_path_factory.mktemp("src") / "numbered.mp4", frames, 25.0)
    return path, np.stack(list(iter_frames(path)))


@pytest.mark.parametrize("mode", ["pingpong", "loop", "freeze"])
def test_file_source_serves_any_extension_order_exactly(numbered, mode):
    path, decoded = numbered
    indices = extend_indices(140, 45, mode)  # pingpong runs backwards over > 1 block
    got = list(FileSource(path).frames(indices))
    assert len(got) == 140
    for k in (0, 44, 45, 60, 88, 89, 100, 139):
        assert np.array_equal(got[k], decoded[indices[k]]), (mode, k)


def test_file_source_scan_counts_real_frames_and_holds_past_the_end(numbered):
    path, decoded = numbered
    source = FileSource(path)
    assert len(list(source.scan(40, None))) == 5 and len(list(source.scan(3, 10))) == 7
    tail = list(source.frames([44, 50, 51]))  # an over-estimated frame count
    assert all(np.array_equal(f, decoded[44]) for f in tail)


def _track(first, last, size, track_id):
    n = last - first + 1
    box = np.array([0, 0, size, size], np.float32)
    return FaceTrack(track_id, np.arange(first, last + 1), np.tile(box, (n, 1)), None,
                     np.ones(n, bool), np.ones(n, np.float32))


def test_choose_tracks_follows_the_speaker_across_cuts_only():
    tracks = [_track(0, 49, 100, 0), _track(55, 80, 90, 1), _track(60, 70, 30, 2),
              _track(40, 59, 95, 3)]
    assert choose_tracks(tracks, "longest") == [0, 1]  # 2 is too small, 3 overlaps track 0
    assert choose_tracks(tracks, "largest") == [0, 1]
    assert choose_tracks(tracks, "2") == [2]
    with pytest.raises(ConfigError):
        choose_tracks(tracks, "9")
    with pytest.raises(NoFaceError):
        choose_tracks([], "longest")
