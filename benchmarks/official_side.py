"""The official X-Dub pipeline, imported from a user-fetched copy, at reduced size.

Used only by `benchmarks/vs_official.py` and its opt-in test: nothing in `src/xdub` imports
this. The official code is read from the path the user gives (a checkout, or a bare git
repository that is exported to a temporary folder); nothing of it is copied into xdub.

Its optional imports that the comparison never exercises (video I/O, dataset and download
helpers, the T5 tokenizer's text cleaner) are satisfied by inert stand-in modules installed
at import time, in this process only.
"""

from __future__ import annotations

import atexit
import importlib
import importlib.abc
import importlib.machinery
import shutil
import subprocess
import sys
import tempfile
import types
from dataclasses import asdict
from pathlib import Path

import torch

# Packages the official modules import but the compared code paths never call.
STUBBED = ("torchvision", "imageio", "ffmpeg", "pandas", "modelscope", "ftfy")


class _Inert:
    """Accepts any call or attribute and returns another inert object."""

    def __init__(self, *args, **kwargs) -> None:
        pass

    def __call__(self, *args, **kwargs):
        return _Inert()

    def __getattr__(self, name: str):
        return _Inert()

    def __mro_entries__(self, bases):
        return (object,)


def _module_attr(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    return _Inert()


class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Import hook: every module under a STUBBED top-level name is an inert package."""

    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in STUBBED:
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        module = types.ModuleType(spec.name)
        module.__path__ = []
        module.__getattr__ = _module_attr
        return module

    def exec_module(self, module) -> None:
        pass


def scratch_folder(prefix: str) -> Path:
    """A temporary folder removed when this process exits: the official modules are imported
    from it and the shared weights read from it while the comparison runs."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def source_root(repo: str | Path) -> Path:
    """A folder holding the official `diffsynth/` package: `repo` itself, or an export of it
    when `repo` is a bare git repository (only the `diffsynth` tree is exported)."""
    repo = Path(repo)
    if (repo / "diffsynth" / "pipelines" / "lip_sync.py").is_file():
        return repo
    if (repo / "HEAD").is_file() and (repo / "objects").is_dir():
        out = scratch_folder("xdub_official_")
        archive = subprocess.run(["git", "--git-dir", str(repo), "archive", "HEAD", "diffsynth"],
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(out)], input=archive, check=True)
        return out
    raise FileNotFoundError(f"{repo}: neither an X-Dub checkout nor its bare git repository")


def import_official(repo: str | Path) -> types.SimpleNamespace:
    """The official modules the comparison drives, imported from `repo`."""
    # transformers probes optional packages when first imported; import it before the stubs
    # so it never sees them.
    import transformers.models.auto.processing_auto  # noqa: F401
    from transformers import Wav2Vec2FeatureExtractor, Wav2Vec2Model  # noqa: F401

    root = str(source_root(repo))
    if not any(isinstance(f, _StubFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _StubFinder())
    if root not in sys.path:
        sys.path.insert(0, root)
    names = {
        "pipeline": "diffsynth.pipelines.lip_sync",
        "dit": "diffsynth.models.wan_video_dit_lip_sync",
        "audio_proj": "diffsynth.models.audio_modules",
        "vae": "diffsynth.models.wan_video_vae",
        "audio": "diffsynth.thirdparties.audio_processor",
        "whisper": "diffsynth.thirdparties.whisper.model",
    }
    return types.SimpleNamespace(**{k: importlib.import_module(v) for k, v in names.items()})


class EmptyPromptEncoder:
    """Stands in for the umT5 tokenizer + encoder: the empty prompt's fixed encoding."""

    def __init__(self, encoding: torch.Tensor, tokens: int) -> None:
        self.encoding, self.tokens = encoding, tokens  # [1, 512, text_dim], real tokens

    def tokenize(self, prompt, return_mask=True, add_special_tokens=True):
        length = self.encoding.shape[1]
        mask = torch.zeros(1, length, dtype=torch.long)
        mask[:, : self.tokens] = 1
        return torch.zeros(1, length, dtype=torch.long), mask

    def encode(self, ids, mask):
        return self.encoding.clone()


def build_whisper_checkpoint(off, dims: dict, path: Path, seed: int) -> None:
    """A random OpenAI-layout Whisper `.pt` (what the official processor loads)."""
    torch.manual_seed(seed)
    model = off.whisper.Whisper(off.whisper.ModelDimensions(**dims))
    state = {k: v for k, v in model.state_dict().items() if k != "alignment_heads"}
    torch.save({"dims": dims, "model_state_dict": state}, path)


def build_vae(off, dim: int, dec_dim: int, seed: int):
    """The official Wan2.2 VAE wrapper around a narrow VideoVAE38_ (48 latent channels)."""
    vae = off.vae.WanVideoVAE38()
    torch.manual_seed(seed)
    vae.model = off.vae.VideoVAE38_(dim=dim, z_dim=48, dec_dim=dec_dim).eval()
    return vae


def build_dit(off, cfg, seed: int, device: str | torch.device = "cpu",
              dtype: torch.dtype = torch.float32):
    """The official LipSyncModel with the widths of our DiTConfig `cfg`, built directly on
    `device` in `dtype` (no float32 copy of a large model ever exists)."""
    torch.manual_seed(seed)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = off.dit.LipSyncModel(
                dim=cfg.dim, in_dim=cfg.latent_channels, ffn_dim=cfg.ffn_dim,
                out_dim=cfg.latent_channels, text_dim=cfg.text_dim, freq_dim=cfg.freq_dim,
                eps=cfg.eps, patch_size=cfg.patch_size, num_heads=cfg.num_heads,
                num_layers=cfg.num_layers, has_image_input=False,
            )
            head_dim = cfg.audio_proj_dim // cfg.audio_proj_heads
            model.audio_embedding = off.audio_proj.AudioProjModule(
                audio_feat_channels=(cfg.audio_dim, 0), intermediate_dim=cfg.audio_proj_dim,
                output_dim=cfg.dim, num_layers=cfg.audio_proj_layers,
                use_attn=cfg.audio_proj_attn, attn_head_dim=head_dim,
                attn_num_heads=cfg.audio_proj_heads,
            )
    finally:
        torch.set_default_dtype(previous)
    # Random init leaves the zero-initialised parts of Wan at zero; perturb every tensor so
    # that each one influences the output (otherwise a wrong key could go unnoticed).
    gen = torch.Generator(device).manual_seed(seed + 1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=gen, device=p.device, dtype=p.dtype) * 0.02)
    return model.eval()


def build_pipeline(off, dit, vae, whisper_path: Path, wav2vec_dir: Path,
                   prompt: EmptyPromptEncoder, num_frames: int):
    """A LipSyncPipeline in float32 on the CPU with the given components."""
    pipe = off.pipeline.LipSyncPipeline(device="cpu", torch_dtype=torch.float32)
    pipe.dit, pipe.vae = dit, vae
    pipe.height_division_factor = pipe.width_division_factor = vae.upsampling_factor * 2
    pipe.tokenizer, pipe.text_encoder = prompt.tokenize, prompt.encode
    pipe.whisper_processor = off.audio.WhisperProcessor(
        model_path=str(whisper_path), device="cpu", num_frames=num_frames).eval()
    pipe.wav2vec_processor = off.audio.Wav2VecProcessor(
        model_path=str(wav2vec_dir), device="cpu", num_frames=num_frames).eval()
    pipe.vram_management_enabled = False
    return pipe


class Recorder:
    """Wraps the official model_fn and scheduler step to keep every stream and step."""

    def __init__(self, pipe) -> None:
        self.streams: list[torch.Tensor] = []  # per step: [3B, C, F, H, W] null|ref|ref+audio
        self.merged: list[torch.Tensor] = []  # per step: guided velocity
        self.inputs: list[torch.Tensor] = []  # per step: latents entering the step
        model_fn, step = pipe.model_fn, pipe.scheduler.step

        def recording_model_fn(**kwargs):
            out = model_fn(**kwargs)
            self.streams.append(out.detach().clone())
            return out

        def recording_step(model_output, timestep, sample, **kwargs):
            self.merged.append(model_output.detach().clone())
            self.inputs.append(sample.detach().clone())
            return step(model_output, timestep, sample, **kwargs)

        pipe.model_fn, pipe.scheduler.step = recording_model_fn, recording_step


def whisper_dims(n_mels: int, width: int, heads: int, layers: int) -> dict:
    """OpenAI ModelDimensions of a narrow Whisper (30 s windows, a token decoder of one block)."""
    return dict(n_mels=n_mels, n_audio_ctx=1500, n_audio_state=width, n_audio_head=heads,
                n_audio_layer=layers, n_vocab=64, n_text_ctx=8, n_text_state=width,
                n_text_head=heads, n_text_layer=1)


__all__ = ["STUBBED", "EmptyPromptEncoder", "Recorder", "asdict", "build_dit",
           "build_pipeline", "build_vae", "build_whisper_checkpoint", "import_official",
           "source_root", "whisper_dims"]
