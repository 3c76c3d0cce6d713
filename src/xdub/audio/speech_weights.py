"""Load the frozen speech encoders (Whisper encoder, wav2vec2) from LOCAL folders only.

No hub access: every path is a folder the user filled; anything missing raises `WeightsError`
with a one-line message naming what to download and where to put it. Imports: torch,
safetensors, transformers, xdub.errors.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch
from safetensors import safe_open
from transformers import Wav2Vec2Model, WhisperConfig
from transformers.models.whisper.modeling_whisper import WhisperEncoder

from xdub.errors import WeightsError

log = logging.getLogger(__name__)

WHISPER_HINT = (
    "download OpenAI's whisper large-v2.pt and convert it with "
    "`xdub.audio.convert_openai_whisper(large-v2.pt, {folder})` (or copy HF openai/whisper-large-v2"
    " there)"
)
WAV2VEC_HINT = "download HF facebook/wav2vec2-base-960h (config.json + weights) into {folder}"

_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")


def _weight_file(folder: Path, what: str, hint: str) -> Path:
    """The weights file of a transformers folder, or WeightsError naming what is missing."""
    if str(folder) in ("", "."):
        raise WeightsError(f"no {what} folder configured: {hint.format(folder='<folder>')}")
    if not (folder / "config.json").is_file():
        raise WeightsError(
            f"{what} config.json missing in '{folder}': {hint.format(folder=folder)}"
        )
    for name in _WEIGHT_FILES:
        if (folder / name).is_file():
            return folder / name
    raise WeightsError(f"{what} weights missing in '{folder}': {hint.format(folder=folder)}")


def _read_prefixed(path: Path, prefixes: tuple[str, ...]) -> dict[str, torch.Tensor]:
    """Tensors whose key starts with one of `prefixes`, keys stripped of that prefix."""

    def strip(key: str) -> str | None:
        for prefix in prefixes:
            if key.startswith(prefix):
                return key[len(prefix) :]
        return None

    out: dict[str, torch.Tensor] = {}
    if path.name.endswith(".index.json"):
        shards = sorted(set(json.loads(path.read_text())["weight_map"].values()))
        for shard in shards:
            out.update(_read_prefixed(path.parent / shard, prefixes))
        return out
    if path.suffix == ".safetensors":
        with safe_open(str(path), framework="pt") as handle:
            for key in handle.keys():
                name = strip(key)
                if name is not None:
                    out[name] = handle.get_tensor(key)
        return out
    state = torch.load(path, map_location="cpu", weights_only=True)
    return {name: v for k, v in state.items() if (name := strip(k)) is not None}


def load_whisper_encoder(folder: str | Path) -> WhisperEncoder:
    """Whisper's audio encoder from a transformers-layout folder (WhisperModel or
    WhisperForConditionalGeneration weights), in eval mode, float32, on CPU."""
    folder = Path(folder) if folder else Path("")
    weights = _weight_file(folder, "Whisper", WHISPER_HINT)
    try:
        config = WhisperConfig.from_pretrained(str(folder), local_files_only=True)
    except (OSError, ValueError) as err:
        raise WeightsError(f"unreadable Whisper config in '{folder}': {err}") from None
    state = _read_prefixed(weights, ("model.encoder.", "encoder."))
    if not state:
        hint = WHISPER_HINT.format(folder=folder)
        raise WeightsError(f"no Whisper encoder tensors in '{weights}': {hint}")
    with torch.device("meta"):
        encoder = WhisperEncoder(config)
    missing, unexpected = encoder.load_state_dict(state, strict=False, assign=True)
    if missing or unexpected:
        raise WeightsError(
            f"Whisper encoder in '{weights}' does not match its config: "
            f"missing {missing[:3]}, unexpected {unexpected[:3]}"
        )
    return encoder.float().eval().requires_grad_(False)


def load_wav2vec(folder: str | Path) -> tuple[Wav2Vec2Model, bool]:
    """wav2vec2 base model from a local folder + whether its front end normalises the input."""
    folder = Path(folder) if folder else Path("")
    _weight_file(folder, "wav2vec2", WAV2VEC_HINT)
    try:
        model = Wav2Vec2Model.from_pretrained(str(folder), local_files_only=True)
    except (OSError, ValueError) as err:
        raise WeightsError(f"cannot load wav2vec2 from '{folder}': {err}") from None
    # facebook/wav2vec2-base-960h normalises each clip to zero mean / unit variance
    # (`do_normalize` in its preprocessor_config.json); default to that when the file is absent.
    do_normalize = True
    preprocessor = folder / "preprocessor_config.json"
    if preprocessor.is_file():
        do_normalize = bool(json.loads(preprocessor.read_text()).get("do_normalize", True))
    return model.float().eval().requires_grad_(False), do_normalize
