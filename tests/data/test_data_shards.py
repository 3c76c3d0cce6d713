"""xdub.data.shards: tar shards written atomically, streamed back locally or by URL."""

import numpy as np
import pytest
import torch

from xdub.data.shards import (
    ShardStream,
    ShardWriter,
    iter_shard,
    list_shards,
    read_shard,
    shard_done,
    shard_name,
    write_shard,
)
from xdub.errors import MediaError


def _samples(first: int, count: int):
    for k in range(first, first + count):
        yield f"c{k:04d}", {"crops": np.full((2, 4, 4, 3), k, np.uint8),
                            "audio": np.arange(k, k + 5, dtype=np.float32),
                            "meta": {"fps": 25.0, "item": k}, "clip.mp4": b"\x00mp4" + bytes([k])}


def test_round_trip_keeps_every_field(tmp_path):
    path = write_shard(tmp_path / shard_name("clips", 0), _samples(0, 3))
    samples = read_shard(path)
    assert [s["__key__"] for s in samples] == ["c0000", "c0001", "c0002"]
    two = samples[2]
    assert two["crops"].dtype == np.uint8 and two["crops"].shape == (2, 4, 4, 3)
    assert (two["crops"] == 2).all()
    np.testing.assert_array_equal(two["audio"], np.arange(2, 7, dtype=np.float32))
    assert two["meta"] == {"fps": 25.0, "item": 2}
    assert two["clip.mp4"] == b"\x00mp4\x02"


def test_equal_samples_give_byte_identical_shards(tmp_path):
    a = write_shard(tmp_path / "a" / shard_name("x", 0), _samples(0, 2))
    b = write_shard(tmp_path / "b" / shard_name("x", 0), _samples(0, 2))
    assert a.read_bytes() == b.read_bytes()


def test_a_failed_writer_leaves_no_shard(tmp_path):
    with pytest.raises(RuntimeError), ShardWriter(tmp_path / shard_name("x", 0)) as shard:
        shard.add("a", {"v": np.zeros(3)})
        raise RuntimeError("killed mid-shard")
    assert not shard_done(tmp_path, "x", 0)
    assert list(tmp_path.iterdir()) == []  # no temp file left behind either


def test_bad_keys_and_fields_are_refused(tmp_path):
    with ShardWriter(tmp_path / "s.tar") as shard:
        for key in ("", "a.b", "a/b"):
            with pytest.raises(ValueError):
                shard.add(key, {"v": np.zeros(1)})
        with pytest.raises(ValueError):
            shard.add("k", {"raw": b"no extension"})
        shard.add("k", {"v": np.zeros(1)})
        with pytest.raises(ValueError):
            shard.add("k", {"v": np.zeros(1)})


def test_truncated_shard_is_a_media_error(tmp_path):
    path = write_shard(tmp_path / "s.tar", _samples(0, 3))
    broken = tmp_path / "broken.tar"
    broken.write_bytes(path.read_bytes()[:700])
    with pytest.raises(MediaError, match="shard"):
        list(iter_shard(broken))
    with pytest.raises(MediaError, match="cannot open"):
        list(iter_shard(tmp_path / "missing.tar"))


def test_list_and_read_by_url(tmp_path):
    for k in range(3):
        write_shard(tmp_path / shard_name("clips", k), _samples(10 * k, 2))
    (tmp_path / "other-000000.tar").write_bytes(b"")
    local = list_shards(tmp_path, "clips")
    assert [p.rsplit("/", 1)[1] for p in local] == [shard_name("clips", k) for k in range(3)]
    urls = list_shards(f"file://{tmp_path}", "clips")
    assert len(urls) == 3 and all(u.startswith("file://") for u in urls)
    assert [s["__key__"] for s in iter_shard(urls[1])] == ["c0010", "c0011"]


def test_stream_gives_each_sample_once_per_epoch_over_processes(tmp_path):
    shards = [str(write_shard(tmp_path / shard_name("c", k), _samples(3 * k, 3)))
              for k in range(5)]
    seen = [s["__key__"] for rank in range(2)
            for s in ShardStream(shards, rank, 2, seed=1, shuffle_buffer=4, epochs=1)]
    assert sorted(seen) == [f"c{k:04d}" for k in range(15)]
    one = [s["__key__"] for s in ShardStream(shards, seed=1, epochs=2)]
    assert len(one) == 30 and one[:15] != one[15:]  # a new shard order each epoch


def test_stream_through_dataloader_workers(tmp_path):
    shards = [str(write_shard(tmp_path / shard_name("c", k), _samples(3 * k, 3)))
              for k in range(4)]
    loader = torch.utils.data.DataLoader(ShardStream(shards, epochs=1), batch_size=None,
                                         num_workers=2)
    keys = [s["__key__"] for s in loader]
    assert sorted(keys) == [f"c{k:04d}" for k in range(12)]


def test_index_reads_one_sample_by_key(tmp_path):
    from xdub.data.shards import ShardIndex

    path = write_shard(tmp_path / shard_name("c", 0), _samples(0, 4))
    for location in (path, f"file://{path}"):
        index = ShardIndex(location)
        assert index.keys() == ["c0000", "c0001", "c0002", "c0003"]
        sample = index.read("c0002", ("crops", "meta"))
        assert set(sample) == {"__key__", "crops", "meta"} and (sample["crops"] == 2).all()
        assert index.read("c0003")["clip.mp4"] == b"\x00mp4\x03"
        with pytest.raises(MediaError, match="no sample"):
            index.read("missing")
