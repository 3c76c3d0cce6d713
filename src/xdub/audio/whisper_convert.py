"""Convert an official OpenAI Whisper checkpoint (e.g. `large-v2.pt`) to the transformers layout.

The OpenAI file is a torch pickle `{"dims": {...}, "model_state_dict": {...}}` (loaded with
`weights_only=True`: plain tensors and numbers only). We rename every tensor to the key names
of `transformers.WhisperModel` and derive a `WhisperConfig` from `dims`, writing
`config.json` + `model.safetensors` into `out_dir` (each file via a temp name + rename).
Only the encoder is used by xdub; the decoder is kept (unless `encoder_only`) so the folder is
a complete WhisperModel, but no tokenizer / generation config is written.
Imports: torch, safetensors, transformers, xdub.errors.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
from safetensors.torch import save_file
from transformers import WhisperConfig

from xdub.atomic import atomic_path, write_text_atomic
from xdub.errors import OutputError, WeightsError

# Per-block renames, OpenAI -> transformers (applied after the block prefix is rewritten).
_BLOCK_PARTS = {
    "attn.query": "self_attn.q_proj",
    "attn.key": "self_attn.k_proj",
    "attn.value": "self_attn.v_proj",
    "attn.out": "self_attn.out_proj",
    "attn_ln": "self_attn_layer_norm",
    "cross_attn.query": "encoder_attn.q_proj",
    "cross_attn.key": "encoder_attn.k_proj",
    "cross_attn.value": "encoder_attn.v_proj",
    "cross_attn.out": "encoder_attn.out_proj",
    "cross_attn_ln": "encoder_attn_layer_norm",
    "mlp.0": "fc1",
    "mlp.2": "fc2",
    "mlp_ln": "final_layer_norm",
}
# Whole-key renames outside the blocks.
_TOP_LEVEL = {
    "encoder.positional_embedding": "encoder.embed_positions.weight",
    "encoder.ln_post.weight": "encoder.layer_norm.weight",
    "encoder.ln_post.bias": "encoder.layer_norm.bias",
    "decoder.positional_embedding": "decoder.embed_positions.weight",
    "decoder.token_embedding.weight": "decoder.embed_tokens.weight",
    "decoder.ln.weight": "decoder.layer_norm.weight",
    "decoder.ln.bias": "decoder.layer_norm.bias",
}
_BLOCK_KEY = re.compile(r"^(encoder|decoder)\.blocks\.(\d+)\.(.+)\.(weight|bias)$")
_CONV_KEY = re.compile(r"^encoder\.conv[12]\.(weight|bias)$")


def openai_to_hf_key(key: str) -> str:
    """Rename one OpenAI Whisper state-dict key to its transformers `WhisperModel` name."""
    if key in _TOP_LEVEL:
        return _TOP_LEVEL[key]
    if _CONV_KEY.match(key):
        return key
    match = _BLOCK_KEY.match(key)
    if match and match.group(3) in _BLOCK_PARTS:
        side, index, part, kind = match.groups()
        return f"{side}.layers.{index}.{_BLOCK_PARTS[part]}.{kind}"
    raise KeyError(key)


def whisper_config_from_dims(dims: dict[str, int]) -> WhisperConfig:
    """transformers config equivalent to OpenAI's `ModelDimensions` dict."""
    vocab = int(dims["n_vocab"])
    # Special tokens of the GPT-2-based vocab (<|endoftext|> = 50257, <|startoftranscript|> next);
    # tiny test vocabularies fall back to their last ids. Only decoding would use them.
    eot = 50257 if vocab > 50258 else vocab - 1
    start = eot + 1 if eot + 1 < vocab else eot
    return WhisperConfig(
        vocab_size=vocab,
        num_mel_bins=int(dims["n_mels"]),
        max_source_positions=int(dims["n_audio_ctx"]),
        d_model=int(dims["n_audio_state"]),
        encoder_attention_heads=int(dims["n_audio_head"]),
        encoder_layers=int(dims["n_audio_layer"]),
        encoder_ffn_dim=4 * int(dims["n_audio_state"]),
        max_target_positions=int(dims["n_text_ctx"]),
        decoder_attention_heads=int(dims["n_text_head"]),
        decoder_layers=int(dims["n_text_layer"]),
        decoder_ffn_dim=4 * int(dims["n_text_state"]),
        pad_token_id=eot,
        bos_token_id=eot,
        eos_token_id=eot,
        decoder_start_token_id=start,
    )


def _read_checkpoint(pt_path: Path) -> tuple[dict, dict[str, torch.Tensor]]:
    if not pt_path.is_file():
        raise WeightsError(
            f"OpenAI Whisper checkpoint not found: '{pt_path}' (download large-v2.pt from "
            "openai/whisper's model list and pass its path)"
        )
    try:
        data = torch.load(pt_path, map_location="cpu", weights_only=True)
    except Exception as err:  # pickle errors vary by cause; all mean "not a usable checkpoint"
        raise WeightsError(f"cannot read Whisper checkpoint '{pt_path}': {err}") from None
    if not isinstance(data, dict) or "dims" not in data or "model_state_dict" not in data:
        raise WeightsError(f"'{pt_path}' is not an OpenAI Whisper checkpoint (no dims/state dict)")
    return dict(data["dims"]), data["model_state_dict"]


def convert_openai_whisper(
    pt_path: str | Path,
    out_dir: str | Path,
    encoder_only: bool = False,
    dtype: torch.dtype | None = None,
) -> Path:
    """Write `out_dir/{config.json, model.safetensors}` from an OpenAI `.pt`; returns `out_dir`."""
    pt_path, out_dir = Path(pt_path), Path(out_dir)
    dims, state = _read_checkpoint(pt_path)
    config = whisper_config_from_dims(dims)
    converted: dict[str, torch.Tensor] = {}
    for key, tensor in state.items():
        if encoder_only and not key.startswith("encoder."):
            continue
        try:
            new_key = openai_to_hf_key(key)
        except KeyError:
            raise WeightsError(f"unexpected tensor '{key}' in Whisper file '{pt_path}'") from None
        tensor = tensor if dtype is None else tensor.to(dtype)
        converted[new_key] = tensor.contiguous().clone()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"cannot create '{out_dir}': {err}") from None
    with atomic_path(out_dir / "model.safetensors") as weights_tmp:
        save_file(converted, str(weights_tmp), metadata={"format": "pt"})
    # The config goes last: a folder with a config always has complete weights.
    write_text_atomic(out_dir / "config.json", config.to_json_string())
    return out_dir
