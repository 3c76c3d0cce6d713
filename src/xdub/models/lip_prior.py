"""Audio lip prior: a direct audio -> mouth regressor whose guess replaces the source's mouth.

Why (issue #12, design 3.1): a tiny editor DiT trained with the flow objective learns to copy
the source and barely uses the audio (its clean estimate changes 1-2% when the audio is
zeroed), because under a latent MSE the audio is worth little next to "copy the frame". A
small regressor trained *directly* on the target mouth (mouth-weighted MSE, no noise) learns
audio -> mouth shape within minutes on a CPU. `LipPrior` is that regressor, gated:

    guess = mean_t(source) + delta(source_t, mean_t(source), audio around t)
    prior = source_t + gate**p * (guess - source_t)       gate in (0, 1) per latent pixel

With `identity: references` the mean is over the chunk's identity references instead (frames
drawn >= `ref_min_gap` away): at dubbing the chunk's own frames hold the old lips, and a mean
over them passes those lips on (the window-mean leak, design 3.1 session 12).

With `hide_box` (the aligned crop's mouth area) the decoder sees the clip's mean frame there
instead of source_t, and the guess replaces it there whatever the gate: the old lips cannot
reach the editor through the prior at all (issue #12's leak, design 3.1).

The gate learns where the source is wrong (the mouth) and where it is right (cheeks,
background, an occluding hand), so the prior is the source with an audio-driven mouth. The
power p is 1 in training; a dubber may open the gate (`DubberConfig.prior_gate_power` < 1):
a gate that stays partly shut in the mouth is what lets the old lips through (design 3.1). It
may also trim the chunk mean (`DubberConfig.prior_chunk_trim`, `chunk_start`): an object that
crosses the face in a few of the chunk's frames then leaves no faint copy in the others. What
the occluder segmenter marks (`DiTConditioning.source_visibility`, from the dubbing generator)
is left out of that mean altogether, however many frames it is in; an inpainter's masked
latents count as unseen too (its mask channels). With `identity: references` and
`match_light` the references' mean is moved to the chunk's light (`light_shift`; measured
next to the unseen area only with `light_ring`). The
editor then sees the prior in place of the source (`SourceFusedDiT`): the old lips never reach
it, and its job shrinks to sharpening a correct but soft mouth. The full-scale (official)
editor has no prior.

Audio: one window `[P, C]` per latent frame (the DiT's audio input), each embedded by a 1-D
conv pooled to 4 steps (any P), `context_frames` windows on each side (edge-padded at the
clip ends) concatenated. Samples without audio or without a source (the guidance null
streams: zeros) keep their source unchanged, so audio guidance points from the old mouth to
the prior's. Imports: torch, xdub.config.model, xdub.model_types.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

from xdub.config.model import LipPriorConfig
from xdub.model_types import DiTConditioning

POOLED_STEPS = 4  # audio window length after pooling (keeps the order of sounds in a window)
GATE_BIAS = 2.0  # the gate starts at sigmoid(-2) = 0.12: the prior starts near the source


def _nonzero(batch: torch.Tensor) -> torch.Tensor:
    """[B] bool: samples with any non-zero value (dropped and null streams are all zeros)."""
    return batch.flatten(1).abs().amax(dim=1) > 0


def chunk_start(frames: torch.Tensor, trim: float,
                visibility: torch.Tensor | None = None) -> torch.Tensor:
    """`[B, F, ...]` -> `[B, 1, ...]`: the mean over F per element, without the `trim` share of
    highest and of lowest values (0 = the mean, 0.5 = the median).

    `visibility` (`[B, F, 1, ...]` in [0, 1]): hidden elements first take the mean of what is
    seen at that place in the other frames, so an occluder in more than the trimmed share of
    frames still leaves nothing behind. All ones gives the same values bit for bit.
    """
    if visibility is not None:
        weight = visibility.to(frames)
        total = weight.sum(dim=1, keepdim=True)
        seen = (weight * frames).sum(dim=1, keepdim=True) / total.clamp(min=1e-6)
        # a place hidden in every frame has only the hidden values to offer
        seen = torch.where(total > 1e-6, seen, frames.mean(dim=1, keepdim=True))
        frames = frames + (1.0 - weight) * (seen - frames)
    if trim <= 0:
        return frames.mean(dim=1, keepdim=True)
    if trim >= 0.5:
        return frames.median(dim=1, keepdim=True).values
    f = frames.shape[1]
    k = min(int(trim * f), (f - 1) // 2)
    return frames.sort(dim=1).values[:, k:f - k].mean(dim=1, keepdim=True)


def light_shift(frames: torch.Tensor, identity: torch.Tensor,
                visibility: torch.Tensor | None, ring: int = 0) -> torch.Tensor:
    """`[B, 1, C, 1, 1]`: per channel, the mean of the chunk's frames `[B, F, C, H, W]` minus
    that of `identity` `[B, 1, C, H, W]`, over the places seen in every frame
    (`visibility` `[B, F, 1, H, W]`, None = everywhere): what moves a far reference to the
    chunk's light. `ring` > 0: only the seen places within `ring` latent pixels of an unseen
    one (all seen places in a sample with none)."""
    if visibility is None:
        visibility = torch.ones_like(frames[:, :, :1])
    seen = visibility.to(frames).amin(dim=1, keepdim=True)  # [B, 1, 1, H, W]
    if ring > 0:
        unseen = (1.0 - seen).flatten(0, 1)  # [B, 1, H, W]
        near = F.max_pool2d(unseen, 2 * ring + 1, stride=1, padding=ring).view_as(seen)
        has_ring = (near * seen).flatten(1).sum(dim=1) > 1e-6
        seen = torch.where(has_ring.view(-1, 1, 1, 1, 1), near * seen, seen)
    total = seen.sum(dim=(-2, -1), keepdim=True).clamp(min=1e-6)
    chunk = (frames.mean(dim=1, keepdim=True) * seen).sum(dim=(-2, -1), keepdim=True) / total
    return chunk - (identity * seen).sum(dim=(-2, -1), keepdim=True) / total


class WindowEncoder(nn.Module):
    """One audio window `[N, P, C]` -> `[N, width]` (LayerNorm, conv over P, pool, linear)."""

    def __init__(self, audio_dim: int, width: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(audio_dim)
        self.conv = nn.Conv1d(audio_dim, width, 3, padding=1)
        self.out = nn.Linear(width * POOLED_STEPS, width)

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        x = self.conv(self.norm(windows).transpose(1, 2))
        x = F.adaptive_avg_pool1d(F.gelu(x), POOLED_STEPS).flatten(1)
        return F.gelu(self.out(x))


class LipPrior(nn.Module):
    """Source latents `[B, C, F, H, W]` + audio windows `[B, F, P, C_a]` -> the source with an
    audio-driven mouth, same shape (see the module docstring)."""

    def __init__(self, cfg: LipPriorConfig, latent_channels: int, audio_dim: int) -> None:
        super().__init__()
        self.cfg, self.latent_channels, self.audio_dim = cfg, latent_channels, audio_dim
        self.window = WindowEncoder(audio_dim, cfg.audio_width)
        span = 2 * cfg.context_frames + 1
        self.context = nn.Sequential(nn.Linear(span * cfg.audio_width, cfg.audio_width), nn.GELU())
        layers: list[nn.Module] = []
        # frame (its mouth hidden with `hide_box`), clip mean, audio; with a hidden box also
        # each frame's mean outside it (lighting changes the box's interior cannot see)
        channels = (3 if cfg.hide_box else 2) * latent_channels + cfg.audio_width
        for _ in range(cfg.layers):
            layers += [nn.Conv2d(channels, cfg.width, 3, padding=1), nn.GELU()]
            channels = cfg.width
        self.decoder = nn.Sequential(*layers)
        self.out = nn.Conv2d(cfg.width, latent_channels + 1, 3, padding=1)  # delta + gate logit
        self.gate_power = 1.0  # set by the dubbing generator (dubber.json); training keeps 1
        self.chunk_trim = 0.0  # the same; > 0: what the guess starts from ignores what is in
        #   only a few of the chunk's frames (a moving hand or object; `chunk_start`)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def _audio_embedding(self, audio: torch.Tensor) -> torch.Tensor:
        """[B, F, P, C_a] -> [B, F, audio_width], each frame seeing its neighbours' windows."""
        b, f = audio.shape[:2]
        per_frame = self.window(audio.flatten(0, 1)).view(b, f, -1)
        k = self.cfg.context_frames
        index = (torch.arange(f, device=audio.device)[:, None]
                 + torch.arange(-k, k + 1, device=audio.device)[None]).clamp(0, f - 1)
        return self.context(per_frame[:, index].flatten(2))

    def hidden_area(self, h: int, w: int, like: torch.Tensor) -> torch.Tensor:
        """`[H, W]` share of each latent pixel inside `cfg.hide_box` (0 everywhere without one;
        fractional at the box's edges, so any latent size gets the same box)."""
        if not self.cfg.hide_box:
            return like.new_zeros(h, w)
        top, bottom, left, right = self.cfg.hide_box

        def cover(n: int, low: float, high: float) -> torch.Tensor:
            edges = torch.arange(n + 1, device=like.device, dtype=like.dtype) / n
            return (edges[1:].clamp(max=high) - edges[:-1].clamp(min=low)).clamp(min=0) * n

        return cover(h, top, bottom)[:, None] * cover(w, left, right)[None]

    def forward(self, source: torch.Tensor, audio: torch.Tensor, gate_power: float | None = None,
                reference: torch.Tensor | None = None,
                visibility: torch.Tensor | None = None) -> torch.Tensor:
        """source `[B, C, F, H, W]` (latent channels), audio `[B, F, P, C_a]` -> `[B, C, F, H, W]`;
        `gate_power` None = `self.gate_power`; `reference` `[B, C, R, H, W]`: identity frames
        whose mean replaces the chunk's (samples whose references are zeros keep the chunk's);
        `visibility` `[B, 1, F, H, W]`: what the chunk's mean may use (`chunk_start`)."""
        b, c, f, h, w = source.shape
        frames = source.permute(0, 2, 1, 3, 4)  # [B, F, C, H, W]
        seen = None if visibility is None else visibility.permute(0, 2, 1, 3, 4)
        mean = chunk_start(frames, self.chunk_trim, seen)
        if reference is not None:
            identity = reference.mean(dim=2).unsqueeze(1).to(mean)  # [B, 1, C, H, W]
            if self.cfg.match_light:
                identity = identity + light_shift(frames, identity, seen, self.cfg.light_ring)
            mean = torch.where(_nonzero(reference).view(-1, 1, 1, 1, 1), identity, mean)
        mean = mean.expand_as(frames)
        sound = self._audio_embedding(audio.to(source.dtype))[..., None, None].expand(-1, -1, -1, h, w)
        inputs = [frames, mean, sound]
        if self.cfg.hide_box:  # the frame's own mouth is never seen, never passed on
            hidden = self.hidden_area(h, w, source)
            shown = 1.0 - hidden
            outside = (frames * shown).sum(dim=(-2, -1)) / shown.sum()  # [B, F, C]
            frames = frames + hidden * (mean - frames)
            inputs = [frames, mean, sound, outside[..., None, None].expand(-1, -1, -1, h, w)]
        x = torch.cat(inputs, dim=2).flatten(0, 1)
        out = self.out(self.decoder(x)).view(b, f, c + 1, h, w)
        guess = mean + out[:, :, :c]
        gate = torch.sigmoid(out[:, :, c:] - GATE_BIAS)
        power = self.gate_power if gate_power is None else gate_power
        if power != 1.0:
            gate = gate ** power
        if self.cfg.hide_box:
            # Inside the hidden box the guess always replaces the (mean) frame: a gate there
            # has nothing to keep, and with none to open it, it shuts everywhere early in
            # training and its saturated sigmoid stops every gradient (dead after 90 steps).
            gate = gate + hidden * (1.0 - gate)
        prior = frames + gate * (guess - frames)
        return prior.permute(0, 2, 1, 3, 4)

    def applies_to(self, cond: DiTConditioning) -> torch.Tensor:
        """[B] bool: samples that have both audio and a source (the null streams are zeros)."""
        assert cond.audio_features is not None, "the lip prior needs audio features"
        return _nonzero(cond.audio_features) & _nonzero(cond.source_latents)

    def _visibility(self, cond: DiTConditioning) -> torch.Tensor | None:
        """`[B, 1, F, H, W]`: the source latents that show the frame: not under an occluder
        (`source_visibility`) and, for an inpainter, not under its mask (the source's channels
        past the latent ones are the mask's, `xdub.conditioning`); None = all of them."""
        seen = cond.source_visibility
        mask = cond.source_latents[:, self.latent_channels:]
        if mask.shape[1]:
            shown = 1.0 - mask.amax(dim=1, keepdim=True).clamp(0.0, 1.0)
            seen = shown if seen is None else seen * shown.to(seen)
        return seen

    def _reference(self, cond: DiTConditioning) -> torch.Tensor | None:
        """The identity frames the guess starts from (`cfg.identity`), or None (chunk mean)."""
        if self.cfg.identity != "references" or cond.ref_latents is None:
            return None
        return cond.ref_latents[:, : self.latent_channels]

    def condition(self, cond: DiTConditioning) -> DiTConditioning:
        """`cond` with the source's latent channels replaced by the (detached) prior where it
        applies: the editor's gradient never trains the prior, only `loss` does."""
        use = self.applies_to(cond)
        if not bool(use.any()):
            return cond
        source = cond.source_latents
        latents = source[:, : self.latent_channels]
        with torch.no_grad():
            prior = self(latents, cond.audio_features, reference=self._reference(cond),
                         visibility=self._visibility(cond))
        mixed = torch.where(use.view(-1, 1, 1, 1, 1), prior.to(latents), latents)
        return dataclasses.replace(
            cond, source_latents=torch.cat([mixed, source[:, self.latent_channels:]], dim=1))

    def predict(self, cond: DiTConditioning) -> tuple[torch.Tensor, torch.Tensor | None]:
        """`[B]` bool of the samples it applies to, and its output on those `[N, C, F, H, W]` as
        trained (gate power 1, with gradient): what its losses compare with the target; None
        when it applies to no sample."""
        use = self.applies_to(cond)
        if not bool(use.any()):
            return use, None
        latents = cond.source_latents[use, : self.latent_channels]
        reference = self._reference(cond)
        seen = self._visibility(cond)
        prior = self(latents, cond.audio_features[use], gate_power=1.0,
                     reference=reference[use] if reference is not None else None,
                     visibility=seen[use] if seen is not None else None)
        return use, prior

    def regression_loss(self, prior: torch.Tensor, target: torch.Tensor,
                        region: torch.Tensor) -> torch.Tensor:
        """Mouth-weighted MSE (or L1, `cfg.loss`) of `predict`'s output to the target `[N, C, F,
        H, W]`; region `[N, F, H, W]` in [0, 1] (latent resolution)."""
        weight = 1.0 + (self.cfg.mouth_weight - 1.0) * region[:, None]
        error = prior - target
        error = error.abs() if self.cfg.loss == "l1" else error ** 2
        return (error * weight).mean()

    def loss(self, cond: DiTConditioning, target: torch.Tensor,
             region: torch.Tensor) -> torch.Tensor:
        """`regression_loss` over the samples it applies to (0 when none); target `[B, C, F, H,
        W]`, region `[B, F, H, W]`."""
        use, prior = self.predict(cond)
        if prior is None:
            return target.sum() * 0.0
        return self.regression_loss(prior, target[use], region[use])
