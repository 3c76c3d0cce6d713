"""Stage 1's retrieved start: the best path over a clip's own frames (`xdub.train.retrieval`)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from xdub.config import load
from xdub.config.chain import ChainConfig
from xdub.config.train import MouthRetrievalConfig, PairGenConfig
from xdub.errors import ConfigError
from xdub.train.retrieval import best_path, frame_similarity

FREE = MouthRetrievalConfig(enabled=True, hold_cost=0.0, jump_cost=0.0, distance_cost=0.0,
                            min_gap=0)


def test_without_costs_every_frame_takes_its_best_source():
    rng = np.random.default_rng(0)
    similarity = rng.normal(size=(12, 12))
    np.testing.assert_array_equal(best_path(similarity, FREE), similarity.argmax(axis=1))


def test_cuts_cost_so_a_long_run_beats_scattered_best_frames():
    """Frame t slightly prefers source (3 t) mod 10; the diagonal run from 0 is almost as good.
    Costly cuts keep the run (the real motion plays on); free cuts take the scattered best."""
    num = 10
    similarity = np.full((num, num), 0.5)
    similarity[np.arange(num), np.arange(num)] = 0.9
    similarity[np.arange(num), (3 * np.arange(num)) % num] = 1.0
    similarity[0, 0] = 1.0
    costly = MouthRetrievalConfig(enabled=True, hold_cost=0.5, jump_cost=0.5, distance_cost=0.0,
                                  min_gap=0)
    np.testing.assert_array_equal(best_path(similarity, costly), np.arange(num))
    assert len(set(np.diff(best_path(similarity, FREE)))) > 1


def test_holding_a_frame_costs_less_than_a_cut_and_more_than_playing_on():
    similarity = np.zeros((4, 4))
    similarity[:, 2] = 1.0  # every frame wants source 2
    cfg = MouthRetrievalConfig(enabled=True, hold_cost=0.1, jump_cost=5.0, distance_cost=0.0,
                               min_gap=0)
    np.testing.assert_array_equal(best_path(similarity, cfg), [2, 2, 2, 2])  # held, no cut
    cfg = MouthRetrievalConfig(enabled=True, hold_cost=2.0, jump_cost=5.0, distance_cost=0.0,
                               min_gap=0)
    path = best_path(similarity, cfg)
    assert set(np.diff(path)) == {1}  # holding dearer than missing source 2: plays on


def test_left_out_frames_are_never_chosen_and_distance_pulls_sources_near():
    similarity = np.ones((6, 6))
    allowed = np.array([True, False, True, False, True, True])
    path = best_path(similarity, FREE, allowed)
    assert allowed[path].all()
    near = MouthRetrievalConfig(enabled=True, hold_cost=0.0, jump_cost=0.0, distance_cost=1.0,
                                min_gap=0)
    np.testing.assert_array_equal(best_path(similarity, near), np.arange(6))
    everything_out = np.zeros(6, bool)  # nothing allowed: every frame is
    assert len(best_path(similarity, near, everything_out)) == 6


def test_sources_keep_their_distance_from_the_frame():
    """A frame's own lips (or lips a few frames off) would be the pair's answer: never taken,
    however well they fit; in a clip too short for the gap, the farthest frame is."""
    similarity = np.eye(20) + 0.01
    cfg = MouthRetrievalConfig(enabled=True, min_gap=6)
    path = best_path(similarity, cfg)
    assert (np.abs(path - np.arange(20)) >= 6).all()
    short = best_path(np.eye(4), cfg)
    np.testing.assert_array_equal(short, [3, 3, 0, 0])


def test_frame_similarity_centres_windows_on_frames():
    window, num = 5, 9
    rows = num - window + 1
    video = np.eye(rows, 8)
    audio = np.eye(rows, 8)
    similarity = frame_similarity(video, audio, num, window)
    assert similarity.shape == (num, num)
    # Frames 0..2 share window 0 (clamped), frame 4 has window 2, frames 6..8 window 4.
    assert similarity[0, 2] == 1.0 and similarity[4, 4] == 1.0 and similarity[8, 6] == 1.0
    assert similarity[4, 5] == 0.0


def test_config_rejects_bad_strength_and_negative_costs():
    with pytest.raises(ConfigError):
        MouthRetrievalConfig(strength=1.5)
    with pytest.raises(ConfigError):
        MouthRetrievalConfig(jump_cost=-1.0)


def test_relit_sources_take_their_frame_s_light_on_the_ring():
    """Frame 1 is frame 0 lit 1.5x brighter in red: frame 1's mouth taken from frame 0 is scaled
    to frame 1's light, measured on the skin ring around the region (not inside it)."""
    from xdub.train.retrieval import relit

    base = np.full((16, 16, 3), 100, np.uint8)
    base[6:10, 6:10] = (200, 40, 40)  # the "mouth"
    brighter = base.copy()
    brighter[..., 0] = np.clip(base[..., 0] * 1.5, 0, 255).astype(np.uint8)
    crops = np.stack([base, brighter])
    region = np.zeros((2, 16, 16), np.float32)
    region[:, 5:11, 5:11] = 1.0
    out = relit(crops, np.array([1, 0]), region)
    assert out[1, 8, 8, 0] == 255 and out[1, 8, 8, 1] == 40  # red x1.5 (clipped), green kept
    assert abs(int(out[0, 0, 0, 0]) - 100) <= 1  # frame 0 from frame 1: red / 1.5
    np.testing.assert_array_equal(relit(crops, np.array([0, 1]), region), crops)  # own light


CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "train"


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("pairs_*.yaml")), ids=lambda p: p.name)
def test_pair_yaml_loads(path):
    assert load(PairGenConfig, path).steps >= 1


def test_the_shipped_chain_retrieves_its_stage1_mouths():
    """The default's recipe: the plain stage-1 pairs, but started from retrieved real mouths at
    strength 0 (the DiT does not draw them) scaled to each frame's light."""
    shipped = load(ChainConfig, CONFIGS / "chain_tiny.yaml")
    pairs = load(PairGenConfig, CONFIGS / shipped.pairs)
    assert pairs.retrieval.enabled and pairs.retrieval.strength == 0.0
    assert pairs.retrieval.match_light
    assert dataclasses.replace(pairs, retrieval=MouthRetrievalConfig()) == load(
        PairGenConfig, CONFIGS / "pairs_tiny_stage2.yaml")
