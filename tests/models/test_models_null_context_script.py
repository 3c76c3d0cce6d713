"""`scripts/encode_null_context.py` on a tiny random umT5 encoder saved to a temp folder (no hub):
the file has the official context's form, the padding is masked and zeroed, the official loader
accepts it, and a folder without weights says what to download."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from models_testkit import micro_config
from safetensors.torch import load_file, save_file

from xdub.models import build_dit, load_official_dit
from xdub.models.official import OFFICIAL_FILENAME

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import encode_null_context  # noqa: E402  (scripts/ is not a package)

WIDTH = 16  # d_model of the tiny encoder = text_dim of the micro DiT


@pytest.fixture(scope="module")
def umt5_folder(tmp_path_factory) -> Path:
    from transformers import T5Tokenizer, UMT5Config, UMT5EncoderModel

    folder = tmp_path_factory.mktemp("umt5")
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)] + [(c, -1.0) for c in "abcdefgh"]
    T5Tokenizer(vocab=vocab, extra_ids=0).save_pretrained(folder)
    config = UMT5Config(vocab_size=len(vocab), d_model=WIDTH, d_kv=8, d_ff=32, num_layers=2,
                        num_heads=2, relative_attention_num_buckets=8)
    torch.manual_seed(0)
    UMT5EncoderModel(config).save_pretrained(folder)
    return folder


def test_encodes_the_empty_prompt_in_the_loaders_form(umt5_folder, tmp_path, monkeypatch):
    out = tmp_path / "empty.safetensors"
    assert encode_null_context.main(["--umt5", str(umt5_folder), "--out", str(out),
                                     "--dtype", "float32"]) == 0
    context = load_file(str(out))["null_context"]
    assert context.shape == (1, 512, WIDTH) and context.dtype == torch.float32
    assert context[0, 0].abs().sum() > 0 and not context[0, 1:].any()  # "" = one token (</s>)
    # Masked attention: the padded encoding's real token equals the token encoded alone.
    from transformers import UMT5EncoderModel

    encoder = UMT5EncoderModel.from_pretrained(str(umt5_folder)).eval()
    with torch.no_grad():
        alone = encoder(input_ids=torch.tensor([[1]])).last_hidden_state
    torch.testing.assert_close(context[:, :1], alone, rtol=1e-5, atol=1e-6)
    # The official loader takes the file (micro DiT standing in for wan5b, as in its own test).
    import xdub.models.official as official

    config = micro_config(text_dim=WIDTH, null_context_len=512)
    save_file(build_dit(config, seed=0).state_dict(), str(tmp_path / OFFICIAL_FILENAME))
    monkeypatch.setitem(official.MODEL_PRESETS, "wan5b", config)
    model = load_official_dit(tmp_path, dtype=None, null_context=out)
    assert torch.equal(model.null_context, context)


def test_missing_weights_name_what_to_download(tmp_path, capsys):
    out = tmp_path / "empty.safetensors"
    assert encode_null_context.main(["--umt5", str(tmp_path), "--out", str(out)]) == 5
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "google/umt5-xxl" in err
    assert not out.exists()


def test_a_bare_sentencepiece_model_needs_sentencepiece(umt5_folder, tmp_path, capsys):
    try:
        import sentencepiece  # noqa: F401
        pytest.skip("sentencepiece is installed here")
    except ImportError:
        pass
    folder = tmp_path / "spm"
    folder.mkdir()
    for name in ("config.json", "model.safetensors"):
        (folder / name).write_bytes((umt5_folder / name).read_bytes())
    (folder / "spiece.model").write_bytes(b"\0")
    assert encode_null_context.main(["--umt5", str(folder), "--out",
                                     str(tmp_path / "o.safetensors")]) == 2
    assert "pip install sentencepiece" in capsys.readouterr().err
