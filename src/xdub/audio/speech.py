"""Full-scale audio features: frozen Whisper large-v2 + wav2vec2-base-960h hidden states.

Feature facts of the released X-Dub model (read from its public code, reimplemented here):
- Whisper: the whole track's log-mel (`whisper_mel`) is cut into 30 s windows; each window's
  encoder output (1500 frames, 50/s) is trimmed to the real audio; the feature is the output
  of the LAST transformer block before the final LayerNorm; width 1280 (large-v2).
- wav2vec2-base-960h: the clip is normalised to zero mean / unit variance and encoded in one
  pass; the feature is the last hidden state (50/s, width 768).
- Both streams are windowed separately (their lengths can differ by one frame) with indices
  clamped to the ends, then concatenated Whisper-first: 1280 + 768 = 2048 per feature.
- At 25 fps video frame k gets features [2k, 2k+1]; the DiT groups 4 frames per latent token
  (`xdub.audio.windows.wan_token_spans`, window 8 + 4 * context).
Imports: numpy, torch, transformers, xdub.config, xdub.errors, xdub.audio.
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from transformers import Wav2Vec2Model
from transformers.models.whisper.modeling_whisper import WhisperEncoder

from xdub.audio import whisper_mel
from xdub.audio.featurizer import AudioFeaturizer, FeatureSequence, check_samples
from xdub.audio.speech_weights import load_wav2vec, load_whisper_encoder
from xdub.config.audio import SpeechEncoderConfig

log = logging.getLogger(__name__)

_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def tap_whisper_layer(
    encoder: WhisperEncoder, layer: int
) -> tuple[list[torch.Tensor], torch.utils.hooks.RemovableHandle]:
    """Hook that records hidden state `layer` of [embeddings, block 1 .. block N] per call.

    transformers only exposes the final LayerNorm's output as the last hidden state, while the
    released model reads the last block's raw output, so we tap the block directly.
    """
    num_blocks = len(encoder.layers)
    index = layer % (num_blocks + 1)
    store: list[torch.Tensor] = []
    if index == 0:

        def pre_hook(_module, args):  # input of block 1 = position-embedded conv features
            store.append(args[0])

        handle = encoder.layers[0].register_forward_pre_hook(pre_hook)
    else:

        def hook(_module, _args, output):
            store.append(output[0] if isinstance(output, tuple) else output)

        handle = encoder.layers[index - 1].register_forward_hook(hook)
    return store, handle


class WhisperWav2VecFeaturizer(AudioFeaturizer):
    """Whisper + wav2vec2 windows per video frame: `features(...) -> [T, window, 2048]`."""

    def __init__(
        self,
        cfg: SpeechEncoderConfig,
        device: torch.device | str = "cpu",
        whisper: WhisperEncoder | None = None,
        wav2vec: Wav2Vec2Model | None = None,
        wav2vec_normalize: bool = True,
    ) -> None:
        self.cfg = cfg
        self.device = torch.device(device)
        self.dtype = _DTYPES[cfg.dtype]
        if whisper is None:
            whisper = load_whisper_encoder(cfg.whisper_dir)
        if wav2vec is None:
            wav2vec, wav2vec_normalize = load_wav2vec(cfg.wav2vec_dir)
        self.whisper = whisper.to(self.device, self.dtype).eval()
        self.wav2vec = wav2vec.to(self.device, self.dtype).eval()
        self.wav2vec_normalize = wav2vec_normalize
        self.mel_filters = whisper_mel.whisper_mel_filters(whisper.config.num_mel_bins)
        # One encoder window in mel frames: positions x the two convolutions' strides (3000).
        self.chunk_frames = whisper.config.max_source_positions * 2
        self.whisper_dim = int(whisper.config.d_model)
        self.wav2vec_dim = int(wav2vec.config.hidden_size)
        self.dim = self.whisper_dim + self.wav2vec_dim
        self.window = cfg.window
        self.rate = cfg.rate
        self.pad_mode = cfg.pad_mode

    @torch.no_grad()
    def whisper_features(self, samples: np.ndarray) -> torch.Tensor:
        """Whisper stream of a whole track: `[sum over 30 s windows of real_mel // 2, 1280]`."""
        wave = torch.from_numpy(check_samples(samples))
        mel = whisper_mel.whisper_log_mel(wave, self.mel_filters)
        store, handle = tap_whisper_layer(self.whisper, self.cfg.whisper_layer)
        pieces = []
        try:
            for chunk, kept in whisper_mel.split_chunks(mel, self.chunk_frames):
                store.clear()
                self.whisper(chunk[None].to(self.device, self.dtype))
                pieces.append(store[-1][0, :kept].float().cpu())
        finally:
            handle.remove()
        if not pieces:
            return torch.zeros((0, self.whisper_dim))
        return torch.cat(pieces, dim=0)

    @torch.no_grad()
    def wav2vec_features(self, samples: np.ndarray) -> torch.Tensor:
        """wav2vec2 stream of a whole track: `[L, 768]` at 50 features/s."""
        wave = torch.from_numpy(check_samples(samples)).double()
        if len(wave) < 400:  # shorter than the conv front end's receptive field: no frames
            return torch.zeros((0, self.wav2vec_dim))
        if self.wav2vec_normalize:
            wave = (wave - wave.mean()) / torch.sqrt(wave.var(unbiased=False) + 1e-7)
        inputs = wave.float()[None].to(self.device, self.dtype)
        if self.cfg.wav2vec_layer == -1:
            hidden = self.wav2vec(inputs).last_hidden_state
        else:
            hidden = self.wav2vec(inputs, output_hidden_states=True).hidden_states[
                self.cfg.wav2vec_layer
            ]
        return hidden[0].float().cpu()

    def encode(self, samples: np.ndarray) -> FeatureSequence:
        """Both streams over the whole track (Whisper first)."""
        streams = (self.whisper_features(samples), self.wav2vec_features(samples))
        log.debug("speech features: whisper %s, wav2vec %s", streams[0].shape, streams[1].shape)
        return FeatureSequence(streams=streams, rate=self.rate)
