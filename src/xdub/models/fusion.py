"""Aligned source fusion for small DiTs trained from scratch (stop-gap, see below).

The XDubDiT sees the source clip only as extra in-context tokens (the official layout). A large
pretrained DiT reads them well; a tiny one trained from scratch learns to, but slowly. On a copy
task (target = source, tiny preset, 2x2 patches, 3 frames, batch 8, AdamW 2e-3) the velocity
loss after 150 steps is 0.41 in-context only vs 0.094 when the source tokens are also added,
through a zero-initialised 1x1 projection, to the target tokens at the SAME grid position (the
token-level equivalent of channel concatenation); with the source zeroed both are at ~2.1.
The in-context stream is kept, so a fused model starts exactly as the plain one.

`residual=True` (config `source_fusion: aligned_residual`, issue #12) also changes what the
network's output means: it is the clean latent's difference from the SOURCE, x0 = source +
out, returned as the flow velocity (x_t - x0) / sigma that samplers and losses expect. A tiny
velocity-predicting DiT cannot carry the full-rank noise through its tokens, so everything it
outputs -- unchanged cheeks and background included -- comes back as block-shaped colour noise
(one block per token); with the residual output an untouched region is copied exactly and the
network only has to learn what changes (the lips). sigma is floored at `SIGMA_FLOOR` so the
division stays bounded; sampling never goes below it (the last Euler step lands on x0).

With a lip prior (`xdub.models.lip_prior`, config `lip_prior.enabled`) the source's mouth is
replaced by the prior's audio-driven guess before anything else sees it: the in-context source
tokens, the aligned fusion and the residual base are all the prior.

`SourceFusedDiT` wraps an XDubDiT without changing it: forward hooks on its patch embeddings
take the source embedding (first embedding call of a forward) and add `fuse(source)` to the
target embedding (last call). A fused model saves as `dit/` (plain XDubDiT) +
`fusion.safetensors`; `load_dit` rebuilds whichever a folder holds (training and the pipeline's
loader both use it); the prior's weights sit in the same file under `lip_prior.`, its config in
the metadata. Imports: torch, xdub.config, xdub.models.{checkpoint, dit, layout, lip_prior}.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import nn

from xdub.config import from_dict, to_dict
from xdub.config.model import LipPriorConfig
from xdub.models.checkpoint import read_tensors, save_tensors
from xdub.models.dit import XDubDiT
from xdub.models.layout import DiTConditioning
from xdub.models.lip_prior import LipPrior
from xdub.models.step_cache import FirstBlockCache

FUSION_NAME = "fusion.safetensors"
PRIOR_PREFIX = "lip_prior."
SIGMA_FLOOR = 0.05  # below this the residual model's velocity uses the floor (training only)


class SourceFusedDiT(nn.Module):
    """`XDubDiT` + a zero-initialised aligned source->target token projection (+ optionally a
    lip prior that rewrites the source's mouth first)."""

    def __init__(self, dit: XDubDiT, residual: bool = False,
                 num_train_timesteps: int = 1000, lip_prior: LipPrior | None = None) -> None:
        super().__init__()
        self.dit = dit
        self.lip_prior = lip_prior
        self._prior_memo: dict[int, tuple[DiTConditioning, DiTConditioning]] | None = None
        self.residual, self.num_train_timesteps = residual, num_train_timesteps
        self.config = dit.config
        dim = dit.config.dim
        self.fuse = nn.Conv3d(dim, dim, 1)
        nn.init.zeros_(self.fuse.weight)
        nn.init.zeros_(self.fuse.bias)
        self._outputs: list[torch.Tensor] = []
        self._expected = 0

    def _record(self, module: nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor:
        """Forward hook: embedding output `[B, D, F', H', W']`; the last call is the target."""
        self._outputs.append(output)
        if len(self._outputs) == self._expected:
            source = self._outputs[0]
            assert source.shape == output.shape, "source and target grids must match"
            return output + self.fuse(source)
        return output

    def forward(self, noisy_latents: torch.Tensor, timestep: torch.Tensor,
                cond: DiTConditioning, step_cache: FirstBlockCache | None = None
                ) -> torch.Tensor:
        """Same contract as `XDubDiT.forward`."""
        if self.lip_prior is not None:
            cond = self._with_prior(cond)
        # Embedding calls per forward: source, identity refs (if any), target.
        self._outputs, self._expected = [], 2 + (cond.ref_latents is not None)
        modules = {self.dit.patch_embedding}
        if self.dit.cond_embedding is not None:
            modules.add(self.dit.cond_embedding)
        handles = [m.register_forward_hook(self._record) for m in modules]
        try:
            out = self.dit(noisy_latents, timestep, cond, step_cache)
        finally:
            for handle in handles:
                handle.remove()
            self._outputs = []
        if not self.residual:
            return out
        source = cond.source_latents[:, : out.shape[1]].to(out)
        sigma = (timestep.reshape(-1).to(out) / self.num_train_timesteps).clamp(min=SIGMA_FLOOR)
        sigma = sigma.expand(out.shape[0]) if sigma.numel() == 1 else sigma
        return (noisy_latents - (source + out)) / sigma.view(-1, 1, 1, 1, 1)

    @contextmanager
    def constant_inputs(self) -> Iterator[None]:
        """`XDubDiT.constant_inputs`, and the lip prior's conditioning computed once per
        condition object: it depends on the source and the audio, never on the step. Sampling
        only; outputs are identical."""
        previous, self._prior_memo = self._prior_memo, {}
        try:
            with self.dit.constant_inputs():
                yield
        finally:
            self._prior_memo = previous

    def start_latents(self, cond: DiTConditioning) -> torch.Tensor:
        """Where a partial denoise starts: the source as the editor sees it (the lip prior's
        rewrite where it applies), latent channels only."""
        if self.lip_prior is not None:
            cond = self._with_prior(cond)
        return cond.source_latents[:, : self.dit.config.latent_channels]

    def _with_prior(self, cond: DiTConditioning) -> DiTConditioning:
        """`cond` with the lip prior applied (memoised inside `constant_inputs`)."""
        assert self.lip_prior is not None
        if self._prior_memo is None:
            return self.lip_prior.condition(cond)
        if id(cond) not in self._prior_memo:  # the key object is kept: its id stays its own
            self._prior_memo[id(cond)] = (cond, self.lip_prior.condition(cond))
        return self._prior_memo[id(cond)][1]

    def save_pretrained(self, directory: str | Path) -> None:
        """`directory/` as XDubDiT.save_pretrained + `fusion.safetensors`."""
        self.dit.save_pretrained(directory)
        meta = {"residual": str(self.residual), "num_train_timesteps": str(self.num_train_timesteps)}
        state = dict(self.fuse.state_dict())
        if self.lip_prior is not None:
            prior = self.lip_prior
            meta["lip_prior"] = json.dumps({"config": to_dict(prior.cfg),
                                            "latent_channels": prior.latent_channels,
                                            "audio_dim": prior.audio_dim})
            state.update({PRIOR_PREFIX + k: v for k, v in prior.state_dict().items()})
        save_tensors(Path(directory) / FUSION_NAME, state, metadata=meta)

    @classmethod
    def from_pretrained(cls, directory: str | Path,
                        device: torch.device | str | None = None) -> SourceFusedDiT:
        """Inverse of `save_pretrained`."""
        state, meta = read_tensors(Path(directory) / FUSION_NAME, "fusion")
        prior = None
        if "lip_prior" in meta:
            spec = json.loads(meta["lip_prior"])
            prior = LipPrior(from_dict(LipPriorConfig, spec["config"]), spec["latent_channels"],
                             spec["audio_dim"])
            prior.load_state_dict({k[len(PRIOR_PREFIX):]: v for k, v in state.items()
                                   if k.startswith(PRIOR_PREFIX)})
        model = cls(XDubDiT.from_pretrained(directory, device=device),
                    residual=meta.get("residual") == "True",
                    num_train_timesteps=int(meta.get("num_train_timesteps", 1000)),
                    lip_prior=prior)
        model.fuse.load_state_dict({k: v for k, v in state.items()
                                    if not k.startswith(PRIOR_PREFIX)})
        return model.to(device) if device is not None else model


def load_dit(directory: str | Path, device: torch.device | str | None = None) -> nn.Module:
    """A plain XDubDiT, or a SourceFusedDiT when the folder has fusion weights."""
    if (Path(directory) / FUSION_NAME).is_file():
        return SourceFusedDiT.from_pretrained(directory, device)
    return XDubDiT.from_pretrained(directory, device=device)
