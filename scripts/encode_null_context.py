"""Encode the empty prompt with umT5-XXL: the text context the official X-Dub model always sees.

The released pipeline tokenizes "" with the umT5 tokenizer (just the end-of-sequence token),
pads to 512 tokens, runs the umT5-XXL encoder (the one Wan2.2 uses) with the padding masked
out of attention, then sets every position past the real tokens to zero. This script does the
same with a local transformers copy of google/umt5-xxl (`UMT5EncoderModel` + its tokenizer)
and writes one tensor `null_context` [1, 512, d_model] to a safetensors file, the form that
`xdub dub --null-context FILE` (and `null_context=` of the Python API) reads:

  python scripts/encode_null_context.py --umt5 umt5-xxl/ --out umt5_empty_prompt.safetensors

Once per install: the file replaces the ~11 GB encoder for every later dub. About 12 GB of
memory in bfloat16 on the CPU, a minute or two. Not importable (scripts/ is outside the package).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from xdub.errors import ConfigError, WeightsError, XdubError
from xdub.models.checkpoint import save_tensors

PROMPT_TOKENS = 512  # the released pipeline pads (and truncates) every prompt to 512 tokens
DTYPES = {"bfloat16": torch.bfloat16, "float32": torch.float32}
DOWNLOAD_HINT = ("download google/umt5-xxl in transformers layout (config.json, the weights, "
                 "tokenizer.json or spiece.model): the umT5-XXL encoder Wan2.2 uses")


def check_folder(folder: Path) -> None:
    """WeightsError naming what to download when `folder` lacks the config or the weights."""
    if not (folder / "config.json").is_file():
        raise WeightsError(f"no umT5 model at {folder} (config.json missing): {DOWNLOAD_HINT}")
    if not any(folder.glob("*.safetensors")) and not any(folder.glob("*.bin")):
        raise WeightsError(f"{folder}: no weight files (*.safetensors / *.bin): {DOWNLOAD_HINT}")


def load_tokenizer(folder: Path):
    """The folder's tokenizer; a tokenizer.json needs nothing more, a bare spiece.model needs
    sentencepiece (optional: not a dependency of xdub)."""
    if not (folder / "tokenizer.json").is_file():
        try:
            import sentencepiece  # noqa: F401
        except ImportError:
            raise ConfigError(f"{folder} has no tokenizer.json: reading its spiece.model needs "
                              "sentencepiece (pip install sentencepiece protobuf)") from None
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(folder))
    except (OSError, ValueError) as err:
        raise WeightsError(f"{folder}: cannot read the umT5 tokenizer ({err}): "
                           f"{DOWNLOAD_HINT}") from None


@torch.no_grad()
def encode_empty_prompt(folder: str | Path, dtype: torch.dtype = torch.bfloat16) -> torch.Tensor:
    """[1, 512, d_model] float32: the encoder's states for "" with the padding zeroed."""
    folder = Path(folder)
    check_folder(folder)
    from transformers import UMT5EncoderModel

    tokenizer = load_tokenizer(folder)
    tokens = tokenizer([""], padding="max_length", truncation=True, max_length=PROMPT_TOKENS,
                       add_special_tokens=True, return_tensors="pt")
    print(f"loading the umT5 encoder from {folder} ({dtype}) ...", file=sys.stderr, flush=True)
    try:
        encoder = UMT5EncoderModel.from_pretrained(str(folder), dtype=dtype).eval()
    except (OSError, ValueError) as err:
        raise WeightsError(f"{folder}: cannot load a UMT5EncoderModel ({err}): "
                           f"{DOWNLOAD_HINT}") from None
    print("encoding the empty prompt ...", file=sys.stderr, flush=True)
    mask = tokens.attention_mask
    states = encoder(input_ids=tokens.input_ids, attention_mask=mask).last_hidden_state
    # The released pipeline zeroes what lies past the real tokens (the encoder fills them).
    return (states.float() * mask[..., None].float()).contiguous()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--umt5", type=Path, required=True,
                        help="google/umt5-xxl folder (transformers layout)")
    parser.add_argument("--out", type=Path, required=True, help="safetensors file to write")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="bfloat16",
                        help="encoder dtype (the release runs its encoder in bfloat16)")
    args = parser.parse_args(argv)
    try:
        context = encode_empty_prompt(args.umt5, DTYPES[args.dtype])
        save_tensors(args.out, {"null_context": context})
    except XdubError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    print(f"wrote {args.out} {list(context.shape)}: pass it as --null-context")
    return 0


if __name__ == "__main__":
    sys.exit(main())
