"""Full-scale featurizer on tiny random Whisper / wav2vec2 models saved to tmp_path (no downloads),
the OpenAI -> transformers Whisper converter, and WeightsError on missing files."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from transformers import Wav2Vec2Config, Wav2Vec2Model, WhisperFeatureExtractor, WhisperModel

from xdub.audio import whisper_mel
from xdub.audio.speech import WhisperWav2VecFeaturizer, tap_whisper_layer
from xdub.audio.whisper_convert import convert_openai_whisper
from xdub.config.audio import SpeechEncoderConfig
from xdub.errors import WeightsError

SR = 16_000
DIMS = dict(n_mels=80, n_audio_ctx=50, n_audio_state=32, n_audio_head=2, n_audio_layer=2,
            n_vocab=64, n_text_ctx=8, n_text_state=32, n_text_head=2, n_text_layer=1)  # fmt: skip


def _openai_state(gen: torch.Generator) -> dict[str, torch.Tensor]:
    """A random state dict with OpenAI Whisper key names for DIMS."""
    d, m = DIMS["n_audio_state"], DIMS["n_mels"]

    def rnd(*shape):
        return torch.randn(*shape, generator=gen) * 0.2

    def linear(name, n_out, n_in, bias=True):
        return {f"{name}.weight": rnd(n_out, n_in)} | ({f"{name}.bias": rnd(n_out)} if bias else {})

    def norm(name):
        return {f"{name}.weight": 1 + rnd(d), f"{name}.bias": rnd(d)}

    def attn(name):  # OpenAI's key projection has no bias
        parts = [linear(f"{name}.query", d, d), linear(f"{name}.key", d, d, bias=False),
                 linear(f"{name}.value", d, d), linear(f"{name}.out", d, d)]  # fmt: skip
        return {k: v for part in parts for k, v in part.items()}

    state = {"encoder.conv1.weight": rnd(d, m, 3), "encoder.conv1.bias": rnd(d),
             "encoder.conv2.weight": rnd(d, d, 3), "encoder.conv2.bias": rnd(d),
             "encoder.positional_embedding": rnd(DIMS["n_audio_ctx"], d),
             "decoder.token_embedding.weight": rnd(DIMS["n_vocab"], d),
             "decoder.positional_embedding": rnd(DIMS["n_text_ctx"], d)}  # fmt: skip
    state |= norm("encoder.ln_post") | norm("decoder.ln")
    for side, n, cross in (("encoder", DIMS["n_audio_layer"], False), ("decoder", 1, True)):
        for i in range(n):
            p = f"{side}.blocks.{i}"
            state |= attn(f"{p}.attn") | norm(f"{p}.attn_ln") | norm(f"{p}.mlp_ln")
            state |= linear(f"{p}.mlp.0", 4 * d, d) | linear(f"{p}.mlp.2", d, 4 * d)
            if cross:
                state |= attn(f"{p}.cross_attn") | norm(f"{p}.cross_attn_ln")
    return state


def _reference_blocks(state: dict, mel: torch.Tensor) -> torch.Tensor:
    """Whisper encoder math written from its definition, on OpenAI-named tensors.
    mel: [n_mels, 2 * n_audio_ctx] -> last block output before ln_post [n_audio_ctx, d]."""
    s, d, heads = state, DIMS["n_audio_state"], DIMS["n_audio_head"]

    def lin(x, name, bias=True):
        return F.linear(x, s[f"{name}.weight"], s[f"{name}.bias"] if bias else None)

    def ln(x, name):
        return F.layer_norm(x, (d,), s[f"{name}.weight"], s[f"{name}.bias"])

    x = F.gelu(F.conv1d(mel[None], s["encoder.conv1.weight"], s["encoder.conv1.bias"], padding=1))
    x = F.gelu(F.conv1d(x, s["encoder.conv2.weight"], s["encoder.conv2.bias"], stride=2, padding=1))
    x = x[0].T + s["encoder.positional_embedding"]
    for i in range(DIMS["n_audio_layer"]):
        p = f"encoder.blocks.{i}"
        h = ln(x, f"{p}.attn_ln")
        q = lin(h, f"{p}.attn.query")
        k = lin(h, f"{p}.attn.key", bias=False)
        v = lin(h, f"{p}.attn.value")
        q, k, v = (t.reshape(-1, heads, d // heads).transpose(0, 1) for t in (q, k, v))
        att = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(d // heads), dim=-1) @ v
        x = x + lin(att.transpose(0, 1).reshape(-1, d), f"{p}.attn.out")
        x = x + lin(F.gelu(lin(ln(x, f"{p}.mlp_ln"), f"{p}.mlp.0")), f"{p}.mlp.2")
    return x


@pytest.fixture(scope="module")
def openai_ckpt(tmp_path_factory):
    folder = tmp_path_factory.mktemp("openai")
    state = _openai_state(torch.Generator().manual_seed(0))
    torch.save({"dims": DIMS, "model_state_dict": state}, folder / "tiny.pt")
    return folder / "tiny.pt", state


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory, openai_ckpt):
    root = tmp_path_factory.mktemp("weights")
    convert_openai_whisper(openai_ckpt[0], root / "whisper")
    torch.manual_seed(0)
    w2v_cfg = Wav2Vec2Config(hidden_size=24, num_hidden_layers=2, num_attention_heads=2,
                             intermediate_size=32, conv_dim=(8,) * 7, num_conv_pos_embeddings=8,
                             num_conv_pos_embedding_groups=2)  # fmt: skip
    Wav2Vec2Model(w2v_cfg).save_pretrained(root / "wav2vec")
    return root / "whisper", root / "wav2vec"


def test_converter_matches_whisper_math(openai_ckpt, tmp_path):
    pt_path, state = openai_ckpt
    out = convert_openai_whisper(pt_path, tmp_path / "hf")
    model, info = WhisperModel.from_pretrained(out, local_files_only=True, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    mel = torch.randn(80, 100, generator=torch.Generator().manual_seed(1))
    store, handle = tap_whisper_layer(model.encoder, -1)
    with torch.no_grad():
        final = model.encoder(mel[None]).last_hidden_state[0]
        expected = _reference_blocks(state, mel)
    handle.remove()
    torch.testing.assert_close(store[-1][0], expected, atol=1e-4, rtol=1e-4)
    post = state["encoder.ln_post.weight"], state["encoder.ln_post.bias"]
    torch.testing.assert_close(final, F.layer_norm(expected, (32,), *post), atol=1e-4, rtol=1e-4)


def test_featurizer_from_local_dirs(model_dirs):
    whisper_dir, wav2vec_dir = model_dirs
    cfg = SpeechEncoderConfig(whisper_dir=str(whisper_dir), wav2vec_dir=str(wav2vec_dir))
    featurizer = WhisperWav2VecFeaturizer(cfg)
    assert (featurizer.whisper_dim, featurizer.wav2vec_dim, featurizer.dim) == (32, 24, 56)
    samples = np.random.default_rng(3).normal(0, 0.1, int(2.5 * SR)).astype(np.float32)
    seq = featurizer.encode(samples)
    # 250 mel frames in 1 s encoder windows (tiny n_audio_ctx=50): 50 + 50 + 25 features.
    assert seq.streams[0].shape == (125, 32)
    assert seq.streams[1].shape == (124, 24)  # wav2vec2 conv stack: (N - 400) // 320 + 1
    for fps, frames in ((25.0, 62), (30000 / 1001, 75), (60.0, 150)):
        feat = featurizer.features(samples, fps, frames)
        assert feat.shape == (frames, 2, 56) and torch.isfinite(feat).all()
    feat = featurizer.features(samples, 25.0, 62)
    torch.testing.assert_close(feat[10, :, :32], seq.streams[0][20:22])
    torch.testing.assert_close(feat[61, :, 32:], seq.streams[1][122:124])


def test_log_mel_matches_whisper_feature_extractor():
    samples = np.random.default_rng(4).normal(0, 0.1, int(1.3 * SR)).astype(np.float32)
    padded = np.pad(samples, (0, 30 * SR - len(samples)))  # the HF extractor pads to 30 s
    expected = WhisperFeatureExtractor()(padded, sampling_rate=SR, return_tensors="np")
    filters = whisper_mel.whisper_mel_filters(80)
    ours = whisper_mel.whisper_log_mel(torch.from_numpy(padded), filters)
    np.testing.assert_allclose(ours.numpy(), expected["input_features"][0], atol=2e-3)


def test_missing_weights_raise_weights_error(tmp_path, model_dirs):
    with pytest.raises(WeightsError, match="whisper large-v2.pt"):
        WhisperWav2VecFeaturizer(SpeechEncoderConfig(whisper_dir=str(tmp_path / "nope")))
    (tmp_path / "w2v").mkdir()
    (tmp_path / "w2v" / "config.json").write_text("{}")
    cfg = SpeechEncoderConfig(whisper_dir=str(model_dirs[0]), wav2vec_dir=str(tmp_path / "w2v"))
    with pytest.raises(WeightsError, match="facebook/wav2vec2-base-960h"):
        WhisperWav2VecFeaturizer(cfg)
    with pytest.raises(WeightsError, match="large-v2.pt"):
        convert_openai_whisper(tmp_path / "large-v2.pt", tmp_path / "out")
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError):
        convert_openai_whisper(tmp_path / "bad.pt", tmp_path / "out")


def test_token_features_match_release_indexing(model_dirs):
    whisper_dir, wav2vec_dir = model_dirs
    cfg = SpeechEncoderConfig(whisper_dir=str(whisper_dir), wav2vec_dir=str(wav2vec_dir))
    featurizer = WhisperWav2VecFeaturizer(cfg)
    samples = np.random.default_rng(5).normal(0, 0.1, 2 * SR).astype(np.float32)
    seq = featurizer.encode(samples)
    tokens = featurizer.token_features(seq, 25.0, num_tokens=5, window=8, first_frame=4)
    assert tokens.shape == (5, 8, 56)
    whisper = seq.streams[0]
    # Token 0 = frames 1..4 -> features 2..9; token 2 = frames 9..12 -> features 18..25.
    torch.testing.assert_close(tokens[0, :, :32], whisper[2:10])
    torch.testing.assert_close(tokens[2, :, :32], whisper[18:26])
    # At the clip start, indices before 0 repeat the first feature (edge padding).
    start = featurizer.token_features(seq, 25.0, num_tokens=1, window=8)[0, :, :32]
    torch.testing.assert_close(start[:7], whisper[0:1].expand(7, -1))
