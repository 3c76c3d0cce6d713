"""Config of the whole training chain (`xdub train chain`, `xdub.train.chain`). Stdlib only.

The chain runs codec -> scorer -> occluders -> landmarks -> stage 1 -> phase measurement ->
robust decoder -> pairs -> stage 2 -> export, each step in its own sub-folder of the chain's
output folder, skipped when its output exists.
Every step reads its own config file (paths relative to the chain YAML); the chain only wires
outputs to inputs (codec folder -> stage 1 and the robust decoder, scorer -> pairs and stage 2,
inpainter (and robust decoder) -> pairs, inpainter -> stage-2 init, pairs -> stage 2, robust
decoder -> export). Imports: stdlib + xdub.errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xdub.errors import ConfigError

PAIR_KINDS = ("stage1", "shuffle")
CHAIN_STEPS = ("codec", "scorer", "occluders", "landmarks", "stage1", "phases", "robust_decoder",
               "pairs", "stage2", "export")


@dataclass(frozen=True, slots=True)
class PairSourceConfig:
    """Which source clips pair generation turns into pairs (synthetic single clips)."""

    scenario: str = "mixed"  # scenario of the source clips
    size: tuple[int, int] = (256, 256)  # rendered frame (width, height)
    clip_seconds: float = 2.0  # clip length
    first_seed: int = 200_000  # clip k = this + k: above the stage-1 clip range (seeds
    #   0 .. 99_999) and below every held-out range (bench: >= 1_000_000)
    num_clips: int = 128  # source clips (accepted pairs are fewer: see the filters)
    kind: str = "stage1"  # stage1: stage 1 redraws the lips with another clip's audio (the
    #   method's pairs); shuffle: each clip's own mouth from elsewhere in the clip, no stage 1,
    #   stored for the lip prior's pretraining only (`train.pairgen.ShufflePairGenerator`)

    def __post_init__(self) -> None:
        if self.num_clips < 2 or self.clip_seconds <= 0:
            raise ConfigError("chain.pair_source: num_clips >= 2 and clip_seconds > 0")
        if self.kind not in PAIR_KINDS:
            raise ConfigError(f"chain.pair_source.kind must be one of {PAIR_KINDS}")


@dataclass(frozen=True, slots=True)
class ChainConfig:
    """Config files of every step plus the wiring options; paths relative to the chain file."""

    codec_model: str = "../codec/tiny.yaml"  # CodecConfig of the tiny codec
    codec_train: str = "../codec/train_tiny.yaml"  # CodecTrainConfig
    scorer_train: str = "../sync/train_tiny.yaml"  # SyncTrainConfig
    occluders_train: str = ""  # OccluderTrainConfig of the occluder segmenter exported with the
    #   editor (dubbing keeps the input under hands and objects); "" = none
    landmarks_train: str = ""  # LandmarkTrainConfig of the landmark refiner exported with the
    #   editor (dubbing moves the detector's landmarks to where the engine puts them, as in the
    #   editor's training crops); "" = none
    stage1: str = "stage1_tiny.yaml"  # Stage1Config
    pairs: str = "pairs_tiny.yaml"  # PairGenConfig
    robust_decoder_train: str = ""  # CodecTrainConfig of a decoder-only fine-tune of the chain's
    #   codec with latent noise (../codec/train_tiny_robust.yaml): slightly-off latents decode
    #   without the tiny decoder's colour speckle; "" = none (the codec's own decoder everywhere)
    robust_decoder_pairs: bool = False  # it decodes stage 1's latents in pair generation (V'
    #   mouths: realism classifier 75 -> 61 % on the accepted pairs, design 3.1 session 15)
    robust_decoder_dubbing: bool = False  # it is the exported default's decoder (the editor's
    #   latents are unchanged; held out +0.09 dB mouth PSNR, design 3.1 session 15)
    stage2: str = "stage2_tiny.yaml"  # Stage2Config
    pair_source: PairSourceConfig = field(default_factory=PairSourceConfig)
    extra_pair_sources: tuple[PairSourceConfig, ...] = ()  # more source clips (e.g. a scenario
    #   the mixed pool draws rarely), each made into pairs on its own (donors from the same
    #   source) in pairs/extra_<k>/ and added to the pair store after the main source's shards
    measure_phases: bool = True  # measure the lip band on the stage-1 model and use it in
    #   stage 2 (else the stage-2 config's boundaries are kept)
    phase_fraction: float = 0.5  # lip band = sigmas where audio attribution >= this x peak
    max_lip_band: float = 0.7  # a wider measured band is uninformative (flat profile, e.g. an
    #   undertrained model): the stage-2 config's boundaries are kept and that is recorded
    export_default: str = ""  # also copy the exported default here (e.g. the package's
    #   src/xdub/assets/default); "" = only <out>/default
    stop_after: str = ""  # stop after this step (one of CHAIN_STEPS); "" = run all

    def __post_init__(self) -> None:
        if self.pair_source.kind != "stage1":  # the editor learns from the method's pairs
            raise ConfigError("chain.pair_source.kind must be stage1 (shuffle sources go in "
                              "extra_pair_sources)")
        if self.stop_after and self.stop_after not in CHAIN_STEPS:
            raise ConfigError(f"chain.stop_after must be one of {CHAIN_STEPS}")
        if not 0.0 < self.phase_fraction < 1.0 or not 0.0 < self.max_lip_band <= 1.0:
            raise ConfigError("chain.phase_fraction and max_lip_band must be in (0, 1)")
