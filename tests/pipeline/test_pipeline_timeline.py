"""Timeline planning: length modes, extension, tail, range; output audio; pure chunking."""

import numpy as np
import pytest

from xdub.config.infer import TimelineConfig
from xdub.errors import ConfigError
from xdub.generation.chunking import (
    crossfade,
    find_segments,
    pad_frames,
    plan_chunks,
    split_segment,
    valid_length,
)
from xdub.pipeline.timeline import extend_indices, output_audio, plan_timeline
from xdub.types import Audio, load_track


def test_extend_modes():
    assert extend_indices(7, 3, "loop").tolist() == [0, 1, 2, 0, 1, 2, 0]
    assert extend_indices(8, 3, "pingpong").tolist() == [0, 1, 2, 1, 0, 1, 2, 1]
    assert extend_indices(5, 3, "freeze").tolist() == [0, 1, 2, 2, 2]
    assert extend_indices(4, 1, "pingpong").tolist() == [0, 0, 0, 0]  # a still image


def test_length_audio_extends_a_short_video_and_trims_a_long_one():
    plan = plan_timeline(10, 25.0, 2.0, TimelineConfig(extend="loop"))
    assert plan.num_frames == 50 and plan.dubbed.all()
    assert plan.source_index[10] == 0 and not plan.continuous()[10]  # the loop jump
    trimmed = plan_timeline(100, 25.0, 2.0, TimelineConfig())
    assert trimmed.num_frames == 50 and trimmed.source_span() == (0, 50)
    kept = plan_timeline(100, 25.0, 2.0, TimelineConfig(tail="keep"))
    assert kept.num_frames == 100 and kept.dubbed.sum() == 50 and not kept.dubbed[50:].any()


def test_length_video_and_shortest():
    video = plan_timeline(100, 30.0, 1.0, TimelineConfig(length="video"))
    assert video.num_frames == 100 and video.dubbed.sum() == 30
    shortest = plan_timeline(100, 30.0, 1.0, TimelineConfig(length="shortest"))
    assert shortest.num_frames == 30 and shortest.dubbed.all()
    assert plan_timeline(10, 30.0, 5.0, TimelineConfig(length="shortest")).num_frames == 10


def test_range_mode_dubs_only_the_range_and_splices_audio():
    plan = plan_timeline(100, 25.0, 1.0, TimelineConfig(start=1.0, end=3.0))
    assert plan.range_mode and plan.num_frames == 100
    assert np.flatnonzero(plan.dubbed).tolist() == list(range(25, 50))  # audio shorter: 25
    original = Audio(np.full(4 * 16000, 0.25, np.float32), 16000)
    new = Audio(np.full(16000, -0.5, np.float32), 16000)
    track = load_track(output_audio(plan, new, original))
    assert len(track.samples) == 4 * 16000
    assert track.samples[:16000].max() == pytest.approx(0.25)  # original before the range
    assert np.allclose(track.samples[16000:32000], -0.5)  # new audio placed at --start
    assert np.allclose(track.samples[32000:], 0.25)  # original again after the new audio
    with pytest.raises(ConfigError, match="past the end"):
        plan_timeline(100, 25.0, 1.0, TimelineConfig(start=10.0))


def test_output_audio_is_padded_with_silence_to_the_output_length():
    plan = plan_timeline(100, 25.0, 2.0, TimelineConfig(length="video"))
    track = load_track(output_audio(plan, Audio(np.ones(32000, np.float32), 16000)))
    assert track.duration == pytest.approx(4.0) and track.samples[32000:].max() == 0.0


def test_segments_split_at_gaps_and_jumps():
    active = np.array([1, 1, 1, 0, 1, 1, 1, 1], bool)
    continuous = np.array([0, 1, 1, 1, 1, 1, 0, 1], bool)
    assert find_segments(active, continuous) == [(0, 3), (4, 6), (6, 8)]


def test_chunks_overlap_and_every_frame_is_covered_at_most_twice():
    bounds = split_segment(0, 30, 8, 2)
    assert bounds[0] == (0, 8) and bounds[1] == (6, 14) and bounds[-1][1] == 30
    cover = np.zeros(30, int)
    for a, b in bounds:
        cover[a:b] += 1
    assert cover.min() == 1 and cover.max() == 2
    chunks = plan_chunks([(0, 30), (40, 45)], 8, 2)
    assert chunks[0].keep_until == 6 and chunks[-1].segment == 1 and chunks[-1].index == 0
    assert split_segment(5, 9, 16, 4) == [(5, 9)]  # a short segment is one chunk


def test_valid_length_padding_and_crossfade():
    assert valid_length(10, 4) == 13 and valid_length(13, 4) == 13 and valid_length(7, 1) == 7
    padded = pad_frames(np.arange(3)[:, None], 5)
    assert padded[:, 0].tolist() == [0, 1, 2, 2, 2]
    faded = crossfade(np.zeros((3, 1)), np.full((3, 1), 4.0))
    assert faded[:, 0].tolist() == [1.0, 2.0, 3.0]  # linear ramp towards the later chunk


@pytest.mark.parametrize("options", [{"length": "video"}, {"start": 1.0, "end": 3.0}])
def test_output_audio_read_in_pieces_equals_the_whole(options):
    """The output track is spliced as it is read (#13): any piece equals the whole's slice."""
    plan = plan_timeline(100, 25.0, 1.5, TimelineConfig(**options))
    new = Audio(np.linspace(-1, 1, 24000, dtype=np.float32), 16000)
    original = Audio(np.full(4 * 16000, 0.25, np.float32), 16000)
    track = output_audio(plan, new, original)
    whole = load_track(track).samples
    pieces = [track.read(i, i + 777) for i in range(0, track.num_samples, 777)]
    np.testing.assert_array_equal(np.concatenate(pieces), whole)
    assert len(whole) == 4 * 16000 and whole.dtype == np.float32
