"""Config of audio feature extraction (`xdub.audio`). Imports: stdlib + xdub.errors.

`AudioConfig` picks one featurizer (`kind`) and carries the sub-config of each; `AUDIO_PRESETS`
names the two scales. The `full` preset reproduces the feature layout of the official X-Dub
release (values marked "fact" must not change, or the released DiT sees features it was not
trained on); `tiny` is ours (parameter-free log-mel for CPU-scale models).

Time convention shared by every featurizer: audio feature `j` stands for the interval
`[j / rate, (j + 1) / rate)` and video frame `k` for `[k / fps, (k + 1) / fps)`; a frame's window
of `window` features is centred on the frame's centre `(k + 0.5) / fps` (see `xdub.audio.windows`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from xdub.errors import ConfigError

PadMode = Literal["edge", "zero"]  # how windows reaching past the audio ends are filled


@dataclass(frozen=True, slots=True)
class MelConfig:
    """Log-mel features computed with torch.stft (tiny scale, no weights)."""

    sample_rate: int = 16_000  # input rate; every xdub audio path is 16 kHz mono
    n_fft: int = 400  # 25 ms analysis window at 16 kHz; 256 .. 1024
    hop: int = 160  # 10 ms hop -> 100 feature frames per second
    n_mels: int = 80  # mel bands (= feature dim); 40 .. 128
    f_min: float = 0.0  # lowest filter edge in Hz
    f_max: float = 8_000.0  # highest filter edge in Hz; <= sample_rate / 2
    window: int = 20  # features per video frame: 20 x 10 ms = 0.2 s around the frame centre
    pad_mode: PadMode = "edge"  # ends repeat the first/last feature (as the released model)
    log_floor: float = 1e-8  # power floor before log10 (-8 = silence level after scaling)

    def __post_init__(self) -> None:
        if self.hop < 1 or self.n_fft < self.hop:
            raise ConfigError("audio.mel: need 1 <= hop <= n_fft")
        if not 0 <= self.f_min < self.f_max <= self.sample_rate / 2:
            raise ConfigError("audio.mel: need 0 <= f_min < f_max <= sample_rate / 2")
        if self.window < 1 or self.n_mels < 1:
            raise ConfigError("audio.mel: window and n_mels must be >= 1")

    @property
    def rate(self) -> float:
        """Feature frames per second."""
        return self.sample_rate / self.hop


@dataclass(frozen=True, slots=True)
class SpeechEncoderConfig:
    """Frozen Whisper + wav2vec2 hidden states, concatenated per frame (full scale)."""

    whisper_dir: str = ""  # transformers-layout folder (convert large-v2.pt with
    #   `xdub.audio.convert_openai_whisper`, or an HF `openai/whisper-large-v2` download)
    wav2vec_dir: str = ""  # local copy of HF `facebook/wav2vec2-base-960h`
    whisper_layer: int = -1  # index into [input embeddings, block 1 .. block N]; -1 = output of
    #   the last block BEFORE the final LayerNorm (fact: what the released model consumes)
    wav2vec_layer: int = -1  # index into wav2vec2 hidden_states; -1 = last (fact)
    window: int = 2  # features per video frame: 2 x 20 ms = one 25 fps frame (fact at 25 fps;
    #   the DiT groups 4 frames -> 8 features per latent token)
    context: int = 0  # extra video frames of context on each side of a latent token (fact: 0;
    #   `audio_feat_window_size` of the release; token window = 8 + 4 * context at 25 fps)
    pad_mode: PadMode = "edge"  # indices clamp to the first/last feature (fact)
    rate: float = 50.0  # feature frames per second of both encoders (fact: 16 kHz / 320)
    dtype: Literal["float32", "float16", "bfloat16"] = "float32"  # encoder compute dtype (the
    #   release extracts in float32). Whisper's 30 s window comes from the checkpoint config.

    def __post_init__(self) -> None:
        if self.window < 1 or self.context < 0 or self.rate <= 0:
            raise ConfigError("audio.speech: need window >= 1, context >= 0, rate > 0")


@dataclass(frozen=True, slots=True)
class AudioConfig:
    """Which featurizer to build, with the settings of each."""

    kind: Literal["mel", "whisper_wav2vec"] = "mel"
    mel: MelConfig = field(default_factory=MelConfig)
    speech: SpeechEncoderConfig = field(default_factory=SpeechEncoderConfig)


AUDIO_PRESETS: dict[str, AudioConfig] = {
    # 80 log-mel bands, 0.2 s per video frame: feature tensor [T, 20, 80].
    "tiny": AudioConfig(kind="mel"),
    # The official release: Whisper large-v2 (1280) + wav2vec2-base-960h (768) = 2048 per
    # feature, 2 features per video frame at 25 fps: feature tensor [T, 2, 2048].
    "full": AudioConfig(kind="whisper_wav2vec"),
}
