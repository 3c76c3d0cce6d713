"""Which process am I, and which items are mine: the launcher's ranks and the shard split.

Work that runs over many processes or machines (pair generation, data preparation, batch
dubbing) is cut into shards of `shard_size` consecutive items; shard k belongs to process
k % n. Each process finds its place from the launcher's environment, without starting
`torch.distributed` (no process group is needed to split independent work):

    worker = current_worker(shard=None)         # or "1/4" from a `--shard` option
    for k in shards_for(num_items, shard_size, worker.index, worker.count):
        for item in shard_items(k, shard_size, num_items): ...

Launchers and their variables: torchrun, `accelerate launch` (multi-GPU, via torchrun) and the
DeepSpeed launcher set RANK / WORLD_SIZE / LOCAL_RANK; Open MPI sets OMPI_COMM_WORLD_*,
MPICH / Intel MPI (`accelerate launch --cpu` on several nodes) PMI_*; Slurm's srun
SLURM_PROCID / SLURM_NTASKS / SLURM_LOCALID. No variables: one process, 0/1. An explicit
`--shard i/n` wins over the environment, so independent jobs (a cluster array, several
shells) split work with no launcher at all. The split depends only on (num_items,
shard_size, n), never on timing, so every item is done by exactly one process.
Imports: stdlib, xdub.errors (bottom layer: the CLI, data, train and pipeline layers use it).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from xdub.errors import ConfigError

# (rank, world size, local rank) variable names of each launcher, most specific first.
LAUNCHER_VARIABLES: tuple[tuple[str, str, str], ...] = (
    ("RANK", "WORLD_SIZE", "LOCAL_RANK"),  # torchrun, accelerate, deepspeed
    ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK"),  # Open MPI
    ("PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID"),  # MPICH, Intel MPI
    ("SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID"),  # srun
)


@dataclass(frozen=True)
class Worker:
    """This process's place among `count` workers: `index` (global rank, 0-based) and
    `local_index` (rank on this machine, the device it should use)."""

    index: int = 0
    count: int = 1
    local_index: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            raise ConfigError(f"worker {self.index} of {self.count}: need 0 <= rank < world size")

    @property
    def is_main(self) -> bool:
        """Whether this is worker 0 (the one that writes shared summaries)."""
        return self.index == 0

    def own_rows(self, global_rows):
        """This worker's rows (index, index + count, ...) of a tensor/array drawn for the
        whole global batch: every process draws the same random numbers from the same seed and
        keeps its own, so results do not depend on how many processes share a batch."""
        return global_rows[self.index::self.count]

    @property
    def label(self) -> str:
        """'i/n', the `--shard` spelling of this worker."""
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> tuple[int, int]:
    """'i/n' -> (i, n), with 0 <= i < n; anything else is a one-line `ConfigError`."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise ConfigError(f"--shard must look like 0/4, got '{text}'") from None
    if not 0 <= index < count:
        raise ConfigError(f"--shard {text}: need 0 <= i < n")
    return index, count


def _int_var(environ: Mapping[str, str], name: str) -> int | None:
    value = environ.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"launcher variable {name}={value!r} is not an integer") from None


def worker_from_env(environ: Mapping[str, str] | None = None) -> Worker:
    """This process's `Worker` from the first launcher whose rank and size are both set."""
    env = os.environ if environ is None else environ
    for rank_var, size_var, local_var in LAUNCHER_VARIABLES:
        rank, size = _int_var(env, rank_var), _int_var(env, size_var)
        if rank is not None and size is not None:
            local = _int_var(env, local_var)
            return Worker(rank, size, rank if local is None else local)
    return Worker()


def current_worker(shard: str | None = None, environ: Mapping[str, str] | None = None) -> Worker:
    """The explicit `--shard i/n` when given (local index from the launcher, else 0),
    else the launcher's environment, else worker 0 of 1."""
    launched = worker_from_env(environ)
    if shard is None:
        return launched
    index, count = parse_shard(shard)
    return Worker(index, count, launched.local_index)


def num_shards(num_items: int, shard_size: int) -> int:
    """How many shards `num_items` items make (the last one may be short)."""
    if shard_size < 1:
        raise ValueError(f"shard_size must be >= 1, got {shard_size}")
    return -(-num_items // shard_size)


def shards_for(num_items: int, shard_size: int, index: int, count: int) -> list[int]:
    """The shards (of all `num_shards(num_items, shard_size)`) that worker `index` of `count`
    owns: k with k % count == index."""
    if not 0 <= index < count:
        raise ValueError(f"shard index {index} must be in [0, {count})")
    return list(range(index, num_shards(num_items, shard_size), count))


def shard_items(shard: int, shard_size: int, num_items: int) -> range:
    """The items (positions in the input list) of shard `shard`."""
    first = shard * shard_size
    return range(first, min(first + shard_size, num_items))


def items_for(num_items: int, worker: Worker, shard_size: int = 1) -> list[int]:
    """Every item worker `worker` owns (all items of its shards), in order."""
    return [item for k in shards_for(num_items, shard_size, worker.index, worker.count)
            for item in shard_items(k, shard_size, num_items)]
