"""First-block step cache: skip the DiT's later blocks on steps where its first block barely
changed (the first-block-cache variant of TeaCache-style caching).

Between neighbouring denoising steps most blocks add nearly the same residual to their input.
The first block is a cheap probe of how much changed: every step runs it; a batch row whose
first-block residual (output minus input) differs from the one of its last full step by less
than `threshold` (mean |difference| / mean |last|) reuses that full step's residual of the
remaining blocks (their output minus their input) instead of running them. The comparison is
always against the last FULL step, so small changes add up until they force a full step.

One `FirstBlockCache` belongs to one caller-side condition (a guidance stream, or the three
stacked): each batch row decides alone, so batched and sequential guidance skip the same rows.
It holds tensors of the last full step (two [B, L, D] per condition), so it lives for one
sampling call: `guided_sample` keeps a `StepCaches` per chunk and clears it when the network
changes (an expert switch).
Imports: torch.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

BlocksFn = Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor]  # (tokens, rows or None)


class FirstBlockCache:
    """Per-row state of one condition's last full step, and how many rows ran or reused."""

    def __init__(self, threshold: float) -> None:
        if threshold < 0:
            raise ValueError(f"step cache threshold must be >= 0, got {threshold}")
        self.threshold = threshold
        self.first_residual: torch.Tensor | None = None  # [B, L, D] first block, last full step
        self.rest_residual: torch.Tensor | None = None  # [B, L, D] the other blocks, same step
        self.full_rows = 0  # batch rows that ran every block
        self.cached_rows = 0  # batch rows that ran the first block only

    def reusable_rows(self, first_residual: torch.Tensor) -> torch.Tensor:
        """Bool [B]: rows whose first-block residual is within `threshold` of the stored one."""
        stored = self.first_residual
        if stored is None or stored.shape != first_residual.shape or self.threshold == 0:
            return torch.zeros(first_residual.shape[0], dtype=torch.bool,
                               device=first_residual.device)
        change = (first_residual - stored).abs().flatten(1).mean(1, dtype=torch.float32)
        scale = stored.abs().flatten(1).mean(1, dtype=torch.float32)
        return change < self.threshold * scale

    def run(self, tokens: torch.Tensor, first_block: BlocksFn, other_blocks: BlocksFn
            ) -> torch.Tensor:
        """Tokens after every block: the first always runs; the others run only for the rows
        that cannot reuse (`other_blocks(tokens_of_those_rows, rows)`; rows None = all)."""
        after_first = first_block(tokens, None)
        first_residual = after_first - tokens
        reuse = self.reusable_rows(first_residual)
        if not bool(reuse.any()):  # the usual full step: no row selection, same kernels
            out = other_blocks(after_first, None)
            self.first_residual = first_residual
            self.rest_residual = out - after_first
            self.full_rows += tokens.shape[0]
            return out
        assert self.rest_residual is not None
        out = after_first + self.rest_residual
        rows = (~reuse).nonzero().flatten()
        if len(rows):
            computed = other_blocks(after_first[rows], rows)
            out[rows] = computed
            self.first_residual[rows] = first_residual[rows]
            self.rest_residual[rows] = computed - after_first[rows]
        self.full_rows += len(rows)
        self.cached_rows += int(reuse.sum())
        return out


class StepCaches:
    """The caches of one sampling call: one `FirstBlockCache` per condition object the caller
    passes (by identity: guidance passes the same stream objects every step); none when the
    threshold is 0. `clear()` when the network changes; `counts` covers the cleared ones too."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self._live: dict[int, tuple[object, FirstBlockCache]] = {}  # the key object is kept,
        #   so its id cannot be reused by another condition while the cache lives
        self._all: list[FirstBlockCache] = []

    def for_condition(self, cond: object) -> FirstBlockCache | None:
        """The cache of `cond` (made on first use); None when caching is off."""
        if self.threshold <= 0:
            return None
        if id(cond) not in self._live:
            self._live[id(cond)] = (cond, FirstBlockCache(self.threshold))
            self._all.append(self._live[id(cond)][1])
        return self._live[id(cond)][1]

    def clear(self) -> None:
        """Forget every stored step (the next call of each condition runs every block)."""
        self._live.clear()

    @property
    def counts(self) -> tuple[int, int]:
        """(batch rows that ran every block, rows that ran the first block only)."""
        return (sum(c.full_rows for c in self._all), sum(c.cached_rows for c in self._all))
