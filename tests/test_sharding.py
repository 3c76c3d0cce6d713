"""xdub.sharding: launcher ranks from the environment, `--shard i/n`, the shard split."""

import pytest

from xdub.errors import ConfigError
from xdub.sharding import (
    Worker,
    current_worker,
    items_for,
    num_shards,
    parse_shard,
    shard_items,
    shards_for,
    worker_from_env,
)


@pytest.mark.parametrize("env, expected", [
    ({}, Worker(0, 1, 0)),
    ({"RANK": "3", "WORLD_SIZE": "8", "LOCAL_RANK": "1"}, Worker(3, 8, 1)),
    ({"OMPI_COMM_WORLD_RANK": "1", "OMPI_COMM_WORLD_SIZE": "2"}, Worker(1, 2, 1)),
    ({"PMI_RANK": "2", "PMI_SIZE": "4", "MPI_LOCALRANKID": "0"}, Worker(2, 4, 0)),
    ({"SLURM_PROCID": "5", "SLURM_NTASKS": "6", "SLURM_LOCALID": "1"}, Worker(5, 6, 1)),
    ({"RANK": "1"}, Worker(0, 1, 0)),  # a rank without a world size is no launcher
])
def test_worker_from_each_launcher(env, expected):
    assert worker_from_env(env) == expected


def test_torchrun_wins_over_slurm():
    env = {"RANK": "1", "WORLD_SIZE": "2", "SLURM_PROCID": "0", "SLURM_NTASKS": "1"}
    assert worker_from_env(env) == Worker(1, 2, 1)


def test_explicit_shard_overrides_the_launcher():
    env = {"RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "0"}
    assert current_worker("3/4", env) == Worker(3, 4, 0)
    assert current_worker(None, env).label == "0/2"


@pytest.mark.parametrize("text", ["1", "a/b", "2/2", "-1/3", "1/0"])
def test_bad_shard_text_is_a_config_error(text):
    with pytest.raises(ConfigError, match="--shard"):
        parse_shard(text)


def test_bad_launcher_values_are_config_errors():
    with pytest.raises(ConfigError, match="RANK"):
        worker_from_env({"RANK": "x", "WORLD_SIZE": "2"})
    with pytest.raises(ConfigError, match="rank"):
        worker_from_env({"RANK": "2", "WORLD_SIZE": "2"})


@pytest.mark.parametrize("num_items, shard_size, count", [(10, 3, 2), (7, 1, 3), (0, 4, 2),
                                                          (5, 10, 4)])
def test_every_item_belongs_to_exactly_one_worker(num_items, shard_size, count):
    owned = [item for index in range(count)
             for item in items_for(num_items, Worker(index, count), shard_size)]
    assert sorted(owned) == list(range(num_items))


def test_shard_layout():
    assert num_shards(10, 3) == 4
    assert shards_for(10, 3, 1, 2) == [1, 3]
    assert list(shard_items(3, 3, 10)) == [9]
    with pytest.raises(ValueError):
        shards_for(10, 3, 2, 2)
