"""XDubDiT: the dubbing Diffusion Transformer (Wan2.2-TI2V-5B layout + audio cross-attention).

`XDubDiT.forward(noisy_latents, timestep, cond) -> prediction` is the whole contract with the
noise process (`xdub.diffusion` talks to it through a callable). The token layout of the
conditioning streams lives in `xdub.models.layout`; blocks in `xdub.models.blocks`.
Checkpoints are directories: `config.json` (the DiTConfig) + `model.safetensors`.
Imports: torch, safetensors, einops, xdub.config, xdub.errors, xdub.models.*.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from einops import rearrange
from torch import nn
from torch.utils.checkpoint import checkpoint

from xdub.config.model import DiTConfig
from xdub.errors import WeightsError
from xdub.models.audio_proj import AudioProjection
from xdub.models.blocks import DiTBlock, OutputHead, timestep_sinusoid
from xdub.models.checkpoint import WEIGHTS_NAME, load_folder, load_tensors, save_folder
from xdub.models.layout import DiTConditioning, TokenGrid, stream_positions, token_timesteps
from xdub.models.lora import LORA_ATTR
from xdub.models.rope import rope_angles
from xdub.models.step_cache import BlocksFn, FirstBlockCache

log = logging.getLogger(__name__)

NULL_CONTEXT_NAME = "null_context.safetensors"
LORA_MARKER = f".{LORA_ATTR}."  # state-dict keys of attached LoRA adapters contain this


class XDubDiT(nn.Module):
    """Video DiT that denoises target latents given in-context source/identity/motion tokens,
    per-latent-frame audio windows and (optionally) a text context."""

    def __init__(self, config: DiTConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        # Registration order mirrors the official module so state dicts list keys alike.
        self.patch_embedding = nn.Conv3d(c.latent_channels, c.dim, c.patch_size, c.patch_size)
        self.cond_embedding = (
            nn.Conv3d(c.cond_channels, c.dim, c.patch_size, c.patch_size)
            if c.cond_channels is not None
            else None
        )
        self.text_embedding = (
            nn.Sequential(nn.Linear(c.text_dim, c.dim), nn.GELU("tanh"), nn.Linear(c.dim, c.dim))
            if c.text_dim is not None
            else None
        )
        self.time_embedding = nn.Sequential(
            nn.Linear(c.freq_dim, c.dim), nn.SiLU(), nn.Linear(c.dim, c.dim)
        )
        self.time_projection = nn.Sequential(nn.SiLU(), nn.Linear(c.dim, c.dim * 6))
        self.audio_embedding = (
            AudioProjection(
                c.audio_dim, c.dim, c.audio_proj_dim, c.audio_proj_layers,
                c.audio_proj_heads, c.audio_proj_attn, c.audio_max_window,
            )
            if c.audio_dim is not None
            else None
        )
        has_text = c.text_dim is not None
        self.blocks = nn.ModuleList(
            [
                DiTBlock(c.dim, c.num_heads, c.ffn_dim, c.eps, has_text, c.has_audio_in(i))
                for i in range(c.num_layers)
            ]
        )
        self.head = OutputHead(c.dim, c.latent_channels, c.patch_size, c.eps)
        # The official model only ever saw the (T5-encoded, zero-padded) empty prompt; this
        # buffer stands in for it when no context is given. Non-persistent: official keys stay.
        null = torch.zeros(1, c.null_context_len, c.text_dim) if c.text_dim is not None else None
        self.register_buffer("null_context", null, persistent=False)
        self.gradient_checkpointing = False
        self._constants: dict | None = None  # set inside `constant_inputs()`

    # ----------------------------------------------------------------------------- utilities
    @property
    def dtype(self) -> torch.dtype:
        """Dtype of the weights (inputs are cast to it)."""
        return self.patch_embedding.weight.dtype

    def enable_gradient_checkpointing(self, enabled: bool = True) -> None:
        """Recompute block activations in backward (saves memory, ~30% slower training)."""
        self.gradient_checkpointing = enabled

    def set_null_context(self, context: torch.Tensor | None) -> None:
        """Set the context used when `cond.context` is None: [L, text_dim] or [1, L, text_dim]
        (e.g. the umT5 encoding of "" zero-padded to 512); None resets it to zeros."""
        if self.config.text_dim is None:
            raise ValueError("this DiT has no text cross-attention")
        device = self.patch_embedding.weight.device
        if device.type == "meta":
            device = torch.device("cpu")
        if context is None:
            context = torch.zeros(1, self.config.null_context_len, self.config.text_dim)
        context = context[None] if context.ndim == 2 else context
        expected = (1, self.config.null_context_len, self.config.text_dim)
        assert tuple(context.shape) == expected, f"null context must be {expected}"
        self.null_context = context.to(device=device, dtype=self.dtype)

    @contextmanager
    def constant_inputs(self) -> Iterator[None]:
        """Within: what does not change between denoising steps is computed once and reused --
        the empty-prompt context's projection and every block's cross-attention keys/values,
        and the RoPE tables of each token layout. For sampling only (fixed weights, no grad);
        outputs are identical. Skipped when a LoRA adapter sits on those layers (an expert
        switch would change them)."""
        previous = self._constants
        self._constants = {"rope": {}}
        if self.text_embedding is not None and not self._context_has_adapters():
            with torch.no_grad():
                projected = self.text_embedding(self.null_context.to(self.dtype))
                self._constants["context"] = [
                    block.cross_attn.memory_kv(projected) if block.cross_attn is not None else None
                    for block in self.blocks
                ]
        try:
            yield
        finally:
            self._constants = previous

    def _context_has_adapters(self) -> bool:
        layers = [self.text_embedding] + [b.cross_attn for b in self.blocks]
        return any(LORA_MARKER in f".{name}." for layer in layers if layer is not None
                   for name, _ in layer.named_modules())

    def _rope(self, grid: TokenGrid, ref_frames: int, device: torch.device):
        """Cos/sin tables of the token layout (cached inside `constant_inputs`)."""
        key = (grid, ref_frames, device)
        cache = self._constants["rope"] if self._constants is not None else {}
        if key not in cache:
            positions = stream_positions(grid, ref_frames, device=device)
            cache[key] = rope_angles(positions, self.config.head_dim, self.config.rope_theta)
        return cache[key]

    # ------------------------------------------------------------------------------- forward
    def forward(
        self, noisy_latents: torch.Tensor, timestep: torch.Tensor, cond: DiTConditioning,
        step_cache: FirstBlockCache | None = None,
    ) -> torch.Tensor:
        """Predict the flow velocity for `noisy_latents: [B, C, F, H, W]` at `timestep: [B]`
        (0..1000, Wan scale) given `cond`; returns [B, C, F, H, W] (motion frames included;
        their prediction is meaningless and the caller keeps its clean motion latents).
        `step_cache`: the caller's cache for this condition (`xdub.models.step_cache`)."""
        cond.validate(noisy_latents)
        source_channels = self.config.cond_channels or self.config.latent_channels
        got = cond.source_latents.shape[1]
        assert got == source_channels, f"source_latents: {got} channels, expected {source_channels}"
        batch = noisy_latents.shape[0]
        timestep = timestep.reshape(-1).expand(batch) if timestep.numel() == 1 else timestep
        assert timestep.shape == (batch,), f"timestep must be [B], got {tuple(timestep.shape)}"
        dtype = self.dtype
        # 1. Motion frames overwrite the first target frames (the official pipeline does this too).
        target_latents = noisy_latents.to(dtype)
        motion_frames = 0
        if cond.motion_latents is not None:
            target_latents = self._insert_motion(target_latents, cond)
            motion_frames = cond.motion_latents.shape[2]
        # 2. Tokens: [source | identity refs | target].
        source_embedding = self.patch_embedding
        if self.cond_embedding is not None:  # own channels (e.g. masked latents + mask)
            source_embedding = self.cond_embedding
        streams = [self._patchify(source_embedding, cond.source_latents.to(dtype))[0]]
        ref_frames = 0
        if cond.ref_latents is not None:
            streams.append(self._patchify(self.patch_embedding, cond.ref_latents.to(dtype))[0])
            ref_frames = cond.ref_latents.shape[2] // self.config.patch_size[0]
        target_tokens, grid = self._patchify(self.patch_embedding, target_latents)
        num_cond = sum(s.shape[1] for s in streams)
        tokens = torch.cat([*streams, target_tokens], dim=1)
        # 3. Positions, per-token timesteps, conditioning embeddings.
        rope = self._rope(grid, ref_frames, tokens.device)
        motion_tokens = motion_frames // self.config.patch_size[0]
        per_token_t = token_timesteps(timestep, grid, num_cond, motion_tokens, cond.motion_mask)
        # Timesteps are rounded to the latents' dtype first, as in the official pipeline.
        t_emb, t_mod = self._embed_timesteps(per_token_t.to(noisy_latents.dtype))
        audio = self._embed_audio(cond.audio_features, grid)
        cached = self._constants.get("context") if self._constants is not None else None
        if cond.context is not None or cached is None:
            cached = [self._embed_context(cond.context, batch)] * len(self.blocks)
        # 4. Blocks; a step cache runs the first, then the others only for rows it cannot reuse.
        inputs = (t_mod, cached, audio)

        def blocks(first: int, last: int) -> BlocksFn:
            return lambda x, rows: self._run_blocks(x, first, last, _rows(inputs, rows, batch),
                                                    rope, num_cond)

        if step_cache is None:
            tokens = blocks(0, len(self.blocks))(tokens, None)
        else:
            tokens = step_cache.run(tokens, blocks(0, 1), blocks(1, len(self.blocks)))
        # 5. Head on target tokens only.
        out = self.head(tokens[:, num_cond:], t_emb[:, num_cond:])
        return self._unpatchify(out, grid)

    def _run_blocks(self, tokens: torch.Tensor, first: int, last: int, inputs: tuple,
                    rope, num_cond: int) -> torch.Tensor:
        """Blocks `first..last-1`; inputs: per-token modulation, per-block contexts, audio."""
        t_mod, contexts, audio = inputs
        for block, context in zip(self.blocks[first:last], contexts[first:last]):
            args = (tokens, t_mod, rope, num_cond, context, audio)
            if self.gradient_checkpointing and torch.is_grad_enabled():
                tokens = checkpoint(block, *args, use_reentrant=False)
            else:
                tokens = block(*args)
        return tokens

    def _insert_motion(self, latents: torch.Tensor, cond: DiTConditioning) -> torch.Tensor:
        """Replace the first F_motion frames by the clean motion latents (where motion_mask)."""
        assert cond.motion_latents is not None
        motion = cond.motion_latents.to(latents.dtype)
        frames = motion.shape[2]
        head = latents[:, :, :frames]
        if cond.motion_mask is not None:
            keep = cond.motion_mask.to(device=latents.device, dtype=torch.bool)
            motion = torch.where(keep[:, None, None, None, None], motion, head)
        return torch.cat([motion, latents[:, :, frames:]], dim=2)

    def _patchify(
        self, embedding: nn.Conv3d, latents: torch.Tensor
    ) -> tuple[torch.Tensor, TokenGrid]:
        """latents: [B, C, F, H, W] -> tokens [B, F'*H'*W', D] and their grid size."""
        pf, ph, pw = self.config.patch_size
        _, _, f, h, w = latents.shape
        assert f % pf == 0 and h % ph == 0 and w % pw == 0, (
            f"latent size {(f, h, w)} must be divisible by patch size {(pf, ph, pw)}"
        )
        embedded = embedding(latents)
        grid = TokenGrid(*embedded.shape[2:])
        return rearrange(embedded, "b d f h w -> b (f h w) d"), grid

    def _unpatchify(self, tokens: torch.Tensor, grid: TokenGrid) -> torch.Tensor:
        """tokens: [B, L, pf*ph*pw*C] -> latents [B, C, F, H, W]."""
        pf, ph, pw = self.config.patch_size
        return rearrange(
            tokens, "b (f h w) (x y z c) -> b c (f x) (h y) (w z)",
            f=grid.frames, h=grid.height, w=grid.width, x=pf, y=ph, z=pw,
        )

    def _embed_timesteps(self, per_token_t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """[B, L] timesteps -> time embedding [B, L, D] and block modulation [B, L, 6, D].

        A clip has only a few distinct timesteps (0 and t), so the MLPs run once per distinct
        value and the result is gathered: identical per token, ~L/2 times fewer FLOPs."""
        values, index = torch.unique(per_token_t.flatten(), return_inverse=True)
        sinusoid = timestep_sinusoid(values, self.config.freq_dim).to(values.dtype).to(self.dtype)
        emb = self.time_embedding(sinusoid)
        mod = self.time_projection(emb).unflatten(-1, (6, self.config.dim))
        shape = per_token_t.shape
        return emb[index].reshape(*shape, -1), mod[index].reshape(*shape, 6, self.config.dim)

    def _embed_context(self, context: torch.Tensor | None, batch: int) -> torch.Tensor | None:
        """Text context [B|1, M, text_dim] (None = null context) -> [B|1, M, D]."""
        if self.text_embedding is None:
            if context is not None:
                raise ValueError("context given but this DiT has no text cross-attention")
            return None
        if context is None:
            context = self.null_context
        assert context.ndim == 3 and context.shape[0] in (1, batch), "context must be [B|1, M, C]"
        return self.text_embedding(context.to(self.dtype))

    def _embed_audio(self, features: torch.Tensor | None, grid: TokenGrid) -> torch.Tensor | None:
        """Audio windows [B, F, P, C_audio] -> [B, F, P, D]; F must equal the latent frames."""
        if features is None or self.audio_embedding is None:
            return None
        assert features.shape[1] == grid.frames, (
            f"audio_features has {features.shape[1]} windows for {grid.frames} latent frames"
        )
        return self.audio_embedding(features.to(self.dtype))

    # ------------------------------------------------------------------------- checkpoints
    def base_state_dict(self) -> dict[str, torch.Tensor]:
        """The state dict without attached LoRA adapters (official key names)."""
        return {k: v for k, v in self.state_dict().items() if LORA_MARKER not in k}

    def save_pretrained(self, directory: str | Path) -> None:
        """Write `config.json` + `model.safetensors` (+ null context) into `directory`."""
        extra = {} if self.null_context is None else {
            NULL_CONTEXT_NAME: {"null_context": self.null_context}}
        save_folder(directory, self.config, self.base_state_dict(), extra)

    @classmethod
    def from_pretrained(
        cls,
        directory: str | Path,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> XDubDiT:
        """Rebuild a DiT from a `save_pretrained` directory (strict key match)."""
        directory = Path(directory)
        config, state = load_folder(directory, DiTConfig, "XDubDiT",
                                    device=device if device is not None else "cpu")
        model = build_on_meta(config)
        load_weights(model, state, dtype=dtype, where=str(directory / WEIGHTS_NAME))
        null_path = directory / NULL_CONTEXT_NAME
        if config.text_dim is not None and null_path.is_file():
            model.set_null_context(load_tensors(null_path, "null context")["null_context"])
        return model


def _rows(value, rows: torch.Tensor | None, batch: int):
    """`value` for the batch rows `rows` (None: all): per-row tensors are indexed, in nested
    lists and tuples too; what the batch shares (a batch-1 context, None) passes through."""
    if rows is None:
        return value
    if isinstance(value, (list, tuple)):
        return type(value)(_rows(v, rows, batch) for v in value)
    if isinstance(value, torch.Tensor) and batch > 1 and value.shape[0] == batch:
        return value[rows]
    return value


def build_on_meta(config: DiTConfig) -> XDubDiT:
    """Instantiate without allocating weights (fill with `load_weights`)."""
    with torch.device("meta"):
        return XDubDiT(config)


def load_weights(
    model: XDubDiT, state: dict[str, torch.Tensor], dtype: torch.dtype | None, where: str
) -> None:
    """Strictly assign `state` into a (meta-built) model, casting to `dtype` tensor by tensor."""
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise WeightsError(
            f"{where}: keys do not match the model ({len(missing)} missing e.g. {missing[:3]}, "
            f"{len(unexpected)} unexpected e.g. {unexpected[:3]})"
        )
    bad = [k for k, shape in expected.items() if tuple(state[k].shape) != shape]
    if bad:
        raise WeightsError(f"{where}: shape mismatch for {bad[:3]} (wrong model size?)")
    for key in list(state):
        if dtype is not None and state[key].is_floating_point():
            state[key] = state[key].to(dtype)  # rebinding frees each source tensor in turn
    model.load_state_dict(state, strict=True, assign=True)
    if model.config.text_dim is not None:
        model.set_null_context(None)  # the non-persistent buffer is still on the meta device

