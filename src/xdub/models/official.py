"""Loading the official X-Dub DiT weights (`X-Dub_model.safetensors`) into `XDubDiT`.

Our module tree spells the official state-dict keys, so loading is a strict key/shape check and
an `assign` into a model built on the meta device (one copy of the ~12.6 GB bf16 weights in
memory, never two). The only keys we regenerate if a file lacks them are the fixed sinusoidal
tables of the audio projection (`...pos_embed.pe`), which are deterministic.

The official model was run with the umT5 encoding of the empty prompt as text context; that
tensor is not part of the DiT file. Pass it as `null_context` (a safetensors file holding one
tensor `[512, 4096]` or `[1, 512, 4096]`, as `scripts/encode_null_context.py` writes it) to
reproduce the official outputs exactly; without it the DiT uses an all-zero context and logs a
warning. Imports: torch, safetensors, xdub.*.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file

from xdub.config.model import MODEL_PRESETS
from xdub.errors import WeightsError
from xdub.models.audio_proj import sinusoidal_table
from xdub.models.dit import XDubDiT, build_on_meta, load_weights

log = logging.getLogger(__name__)

OFFICIAL_FILENAME = "X-Dub_model.safetensors"
OFFICIAL_SOURCE = "https://huggingface.co/KlingTeam/X-Dub"


def resolve_official_path(path: str | Path) -> Path:
    """`path` itself if a file, else `path / X-Dub_model.safetensors`; WeightsError if absent."""
    path = Path(path)
    candidate = path / OFFICIAL_FILENAME if path.is_dir() else path
    if not candidate.is_file():
        raise WeightsError(
            f"official DiT weights not found at {candidate}: download {OFFICIAL_FILENAME} from "
            f"{OFFICIAL_SOURCE} and pass its path (or its folder)"
        )
    return candidate


def load_official_dit(
    path: str | Path,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = torch.bfloat16,
    null_context: str | Path | None = None,
) -> XDubDiT:
    """Build the `wan5b` DiT and fill it with the official weights (strict keys and shapes)."""
    config = MODEL_PRESETS["wan5b"]
    # The small file first: a bad null context fails before 12.6 GB are read.
    context = None if null_context is None else read_null_context(
        null_context, (config.null_context_len, config.text_dim))
    file = resolve_official_path(path)
    device = torch.device(device) if device is not None else torch.device("cpu")
    try:
        state = load_file(str(file), device=str(device))
    except Exception as err:  # safetensors raises several types for truncated/corrupt files
        raise WeightsError(f"{file}: cannot read safetensors ({err})") from None
    model = build_on_meta(config)
    _fill_position_tables(model, state, device)
    load_weights(model, state, dtype=dtype, where=str(file))
    if context is not None:
        model.set_null_context(context)
    else:
        log.warning("no null_context given: using zeros instead of the umT5 empty-prompt encoding")
    model.eval()
    return model


def _fill_position_tables(
    model: XDubDiT, state: dict[str, torch.Tensor], device: torch.device
) -> None:
    """Add the deterministic audio position tables if the file does not store them."""
    for key, tensor in model.state_dict().items():
        if key.endswith("pos_embed.pe") and key not in state:
            _, max_len, dim = tensor.shape
            state[key] = sinusoidal_table(dim, max_len).to(device)


def read_null_context(path: str | Path, shape: tuple[int, int]) -> torch.Tensor:
    """The one tensor of a null-context file, `shape` = (tokens, text width) with or without a
    leading batch of 1; WeightsError (exit 5) for a missing, unreadable or misshapen file."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"null context file not found: {path} (make it with "
                           "scripts/encode_null_context.py)")
    try:
        with safe_open(str(path), framework="pt") as handle:
            keys = list(handle.keys())
            if len(keys) != 1:
                raise WeightsError(f"{path}: expected exactly one tensor, found {len(keys)}")
            tensor = handle.get_tensor(keys[0])
    except WeightsError:
        raise
    except Exception as err:  # safetensors raises several types for corrupt files
        raise WeightsError(f"{path}: cannot read safetensors ({err})") from None
    if tuple(tensor.shape) not in (shape, (1, *shape)):
        raise WeightsError(f"{path}: null context has shape {tuple(tensor.shape)}, expected "
                           f"{list(shape)} (the umT5-XXL encoding of \"\" padded to "
                           f"{shape[0]} tokens)")
    return tensor
