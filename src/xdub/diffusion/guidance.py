"""Three-stream classifier-free guidance over a reference and an audio condition.

Streams (all see the same noisy latent and sigma):

    null       reference dropped, audio dropped
    ref        reference kept,    audio dropped
    ref_audio  reference kept,    audio kept

    v = v_null + s_ref * (v_ref - v_null) + s_audio * (v_ref_audio - v_ref)

so s_ref = s_audio = 1 gives the fully conditioned prediction and s_ref = s_audio = 0 the
unconditional one. "Dropped" means replaced by zeros, both at inference (`zero_fields`) and in
training (`mask_condition`), which is what teaches the network the null/ref-only streams.

The conditioning is any object `C` the network's callable accepts: a tensor, a dict or a
(frozen) dataclass of tensors. `stack_conditions` concatenates three of them along the batch
axis, field by field, so one batched forward evaluates all streams; `batched=False` runs the
streams one after another (a third of the activation memory) with the same result.
`drop_for_training` is the training side: random condition dropout and motion frames.
Imports: torch, config.diffusion, diffusion.schedule, diffusion.guidance_scales, sharding.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import torch

from xdub.config.diffusion import DiffusionConfig
from xdub.diffusion.guidance_scales import ScaleFn
from xdub.diffusion.schedule import expand_sigma
from xdub.sharding import Worker

C = TypeVar("C")
CondModelFn = Callable[[torch.Tensor, torch.Tensor, Any], torch.Tensor]  # (x_t, sigma[B], cond)
ModelFn = Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]  # (x_t, sigma[B], step)


# ---------------------------------------------------------------------------------------------
# Combining the three predictions
# ---------------------------------------------------------------------------------------------


def combine_guidance(
    v_null: torch.Tensor,
    v_ref: torch.Tensor,
    v_ref_audio: torch.Tensor,
    ref_scale: torch.Tensor | float,
    audio_scale: torch.Tensor | float,
) -> torch.Tensor:
    """`v_null + ref_scale*(v_ref - v_null) + audio_scale*(v_ref_audio - v_ref)`.

    Velocities: [B, C, F, H, W] (any ndim >= 1); scales: float or [B].
    """
    ref = expand_sigma(ref_scale, v_null)  # same broadcasting rule as sigma: scalar or [B]
    audio = expand_sigma(audio_scale, v_null)
    return v_null + ref * (v_ref - v_null) + audio * (v_ref_audio - v_ref)


# ---------------------------------------------------------------------------------------------
# Building and stacking the streams' conditions
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GuidanceStreams(Generic[C]):
    """The three conditions, in the order they are stacked: null, ref, ref_audio."""

    null: C
    ref: C
    ref_audio: C

    @classmethod
    def from_drops(
        cls, cond: C, drop_ref: Callable[[C], C], drop_audio: Callable[[C], C]
    ) -> GuidanceStreams[C]:
        """Derive the streams from the full condition and two "drop" functions."""
        ref_only = drop_audio(cond)
        return cls(null=drop_ref(ref_only), ref=ref_only, ref_audio=cond)

    def as_list(self) -> list[C]:
        """`[null, ref, ref_audio]`."""
        return [self.null, self.ref, self.ref_audio]


def stack_conditions(conds: Sequence[Any]) -> Any:
    """Concatenate conditions along batch: tensors, dataclasses, dicts, lists/tuples, recursively.

    `None` fields must be None in every condition; other non-tensor fields (ints, strings)
    must be equal and are kept as is.
    """
    first = conds[0]
    if isinstance(first, torch.Tensor):
        return torch.cat(list(conds), dim=0)
    if first is None:
        if any(c is not None for c in conds):
            raise ValueError("a condition field is None in one stream but not in another")
        return None
    if dataclasses.is_dataclass(first) and not isinstance(first, type):
        fields = {
            f.name: stack_conditions([getattr(c, f.name) for c in conds])
            for f in dataclasses.fields(first)
        }
        return dataclasses.replace(first, **fields)
    if isinstance(first, dict):
        return {k: stack_conditions([c[k] for c in conds]) for k in first}
    if isinstance(first, (list, tuple)):
        return type(first)(stack_conditions(list(items)) for items in zip(*conds))
    if any(c != first for c in conds):
        raise ValueError(f"non-tensor condition field differs between streams: {first!r}")
    return first


def zero_fields(cond: C, names: Iterable[str]) -> C:
    """Copy of a dataclass/dict condition with the named tensor fields replaced by zeros."""
    names = list(names)
    if isinstance(cond, dict):
        zeroed = {**cond, **{n: torch.zeros_like(cond[n]) for n in names}}
        return zeroed  # type: ignore[return-value]
    if dataclasses.is_dataclass(cond) and not isinstance(cond, type):
        zeros = {n: torch.zeros_like(getattr(cond, n)) for n in names}
        return dataclasses.replace(cond, **zeros)  # type: ignore[type-var]
    raise TypeError(f"zero_fields needs a dict or dataclass condition, got {type(cond).__name__}")


# ---------------------------------------------------------------------------------------------
# The guided model callable handed to the sampler
# ---------------------------------------------------------------------------------------------


def is_unguided(ref_scale: torch.Tensor | float, audio_scale: torch.Tensor | float) -> bool:
    """Both scales exactly 1: the merge IS the ref+audio stream, so the null and ref streams
    need not run (a third of the cost)."""
    return all(bool(torch.all(torch.as_tensor(s) == 1)) for s in (ref_scale, audio_scale))


def is_reuse_step(step_index: int, reuse_from: int | None) -> bool:
    """Whether guidance reuse skips the null and ref streams at `step_index`: every other step
    from `reuse_from` on (the step at `reuse_from` itself runs all three); None = never."""
    if reuse_from is None or step_index < reuse_from:
        return False
    return (step_index - reuse_from) % 2 == 1


def guided_model_fn(
    cond_model_fn: CondModelFn,
    streams: GuidanceStreams[Any],
    scales: ScaleFn,
    batched: bool = True,
    stack: Callable[[Sequence[Any]], Any] = stack_conditions,
    reuse_from: int | None = None,
) -> ModelFn:
    """Sampler-ready `model_fn(x_t, sigma, step)` evaluating three streams and combining them.

    cond_model_fn(x_t [B', ...], sigma [B'], cond) -> velocity [B', ...]. With `batched=True`
    the conditions are stacked once (via `stack`) and each step runs one forward on a 3B batch;
    with `batched=False` each step runs three B-sized forwards. Guidance reuse: from step
    `reuse_from` on, every other step runs only the ref+audio stream and adds the guidance
    correction (merged - ref+audio) of the step before, which changes slowly late in sampling.
    A step whose scales are both 1 runs the ref+audio stream alone (`is_unguided`).
    """
    batched_cond = stack(streams.as_list()) if batched else None
    last_correction: list[torch.Tensor] = []  # of the latest full step

    def model_fn(x_t: torch.Tensor, sigma: torch.Tensor, step_index: int) -> torch.Tensor:
        ref_scale, audio_scale = scales(sigma)
        if is_unguided(ref_scale, audio_scale):
            v_ref_audio = cond_model_fn(x_t, sigma, streams.ref_audio)
            if reuse_from is not None:  # no guidance correction at this step
                last_correction[:] = [torch.zeros_like(v_ref_audio)]
            return v_ref_audio
        if is_reuse_step(step_index, reuse_from) and last_correction:
            return cond_model_fn(x_t, sigma, streams.ref_audio) + last_correction[0]
        if batched:
            v_all = cond_model_fn(torch.cat([x_t] * 3), torch.cat([sigma] * 3), batched_cond)
            v_null, v_ref, v_ref_audio = v_all.chunk(3, dim=0)
        else:
            v_null, v_ref, v_ref_audio = (
                cond_model_fn(x_t, sigma, cond) for cond in streams.as_list()
            )
        merged = combine_guidance(v_null, v_ref, v_ref_audio, ref_scale, audio_scale)
        if reuse_from is not None:
            last_correction[:] = [merged - v_ref_audio]
        return merged

    return model_fn


# ---------------------------------------------------------------------------------------------
# Training-time condition dropout
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConditionMasks:
    """Per-sample keep flags `[B]` (bool) for the reference and the audio condition."""

    keep_ref: torch.Tensor
    keep_audio: torch.Tensor


def drop_conditions(
    batch_size: int, p_ref: float, p_audio: float, p_both: float, generator: torch.Generator
) -> ConditionMasks:
    """Draw which samples lose the reference, the audio, or both (mutually exclusive events).

    Dropping the audio alone trains the `ref` stream, dropping both trains the `null` stream.
    Masks live on the generator's device.
    """
    if min(p_ref, p_audio, p_both) < 0 or p_ref + p_audio + p_both > 1:
        raise ValueError("drop probabilities must be >= 0 and sum to <= 1")
    u = torch.rand(batch_size, generator=generator, device=generator.device)
    # One uniform per sample split into [both | audio only | ref only | keep] intervals.
    drop_both = u < p_both
    drop_audio_only = (u >= p_both) & (u < p_both + p_audio)
    drop_ref_only = (u >= p_both + p_audio) & (u < p_both + p_audio + p_ref)
    return ConditionMasks(
        keep_ref=~(drop_both | drop_ref_only), keep_audio=~(drop_both | drop_audio_only)
    )


def mask_condition(cond: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Zero the dropped samples of a batched condition. cond: [B, ...]; keep: [B] bool."""
    if keep.shape != cond.shape[:1]:
        raise ValueError(f"keep must be [B={cond.shape[0]}], got {tuple(keep.shape)}")
    keep_b = keep.to(cond.device).view(-1, *([1] * (cond.ndim - 1)))
    return torch.where(keep_b, cond, torch.zeros_like(cond))


def drop_for_training(cond: C, target: torch.Tensor, cfg: DiffusionConfig, motion_frames: int,
                      p_motion: float, gen: torch.Generator,
                      worker: Worker = Worker()) -> tuple[C, torch.Tensor]:
    """The training side of three-stream guidance and of chunking, shared by both stages.

    Per sample, drop the reference (the source and reference latents) and/or the audio with
    the config's `p_drop_*` probabilities, then give the first `motion_frames` latent frames
    of `target` [B, C, F', h, w] clean to `p_motion` of the samples (the previous chunk at
    inference). `cond` is a dataclass with the `DiTConditioning` fields. Returns the new
    conditioning and `frame_valid` [B, F'] (0 = a clean motion frame: no loss there).
    With several processes each draws for the global batch (B x `worker.count`) and keeps its
    own rows (`Worker.own_rows`), so the draws do not depend on the number of processes.
    """
    batch, device = target.shape[0], target.device
    masks = drop_conditions(batch * worker.count, cfg.p_drop_ref, cfg.p_drop_audio,
                            cfg.p_drop_both, gen)
    keep_ref = worker.own_rows(masks.keep_ref).to(device)
    keep_audio = worker.own_rows(masks.keep_audio).to(device)
    changes: dict[str, Any] = {"source_latents": mask_condition(cond.source_latents, keep_ref)}
    if cond.ref_latents is not None:
        changes["ref_latents"] = mask_condition(cond.ref_latents, keep_ref)
    if cond.audio_features is not None:
        changes["audio_features"] = mask_condition(cond.audio_features, keep_audio)
    valid = torch.ones(batch, target.shape[2], device=device)
    if motion_frames:
        use = worker.own_rows(torch.rand(batch * worker.count, generator=gen) < p_motion)
        use = use.to(device)
        changes |= {"motion_latents": target[:, :, :motion_frames], "motion_mask": use}
        valid[:, :motion_frames] = (~use).float()[:, None]
    return dataclasses.replace(cond, **changes), valid
