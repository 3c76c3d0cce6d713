"""Choosing the phase boundaries by measurement on the stage-1 model.

Held-out windows (clips the inpainter never saw) are encoded as in training; for each sigma on
a grid the clean latents are noised with fixed noise and the inpainter predicts the velocity
with and without the audio. The RMS difference inside the mouth region is the audio
attribution; `phases.lip_band` takes the band where it is at least `fraction` of its peak as
the lip phase: above it the audio barely changes the prediction (structure), below it the
mouth shape is already fixed by x_t (texture). Result: a JSON-ready dict with the boundaries,
the grid and the profile, plus a PNG plot. Imports: numpy, torch, xdub.{conditioning, config,
data, diffusion, train}.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from xdub.conditioning import encode_condition, encode_frames, latent_region
from xdub.config.train import SynthSourceConfig
from xdub.data.crops import cut_window, prepare_clip
from xdub.data.dataset import collate_windows
from xdub.data.sources import SynthClipSource
from xdub.diffusion import sigma_to_timestep, zero_fields
from xdub.train.inpaint import load_inpainter
from xdub.train.phases import audio_attribution_profile, lip_band


@torch.no_grad()
def measure_on_inpainter(inpainter_dir: str | Path, synth: SynthSourceConfig, seeds: list[int],
                         fraction: float = 0.5, windows_per_clip: int = 2,
                         grid: int = 19, seed: int = 0) -> dict[str, Any]:
    """Audio-attribution profile of the inpainter over sigma and the lip band it implies."""
    inp = load_inpainter(inpainter_dir)
    spec, codec = inp.spec, inp.codec
    source = SynthClipSource(synth, seeds)
    samples = []
    rng = np.random.default_rng(seed)
    for k in range(len(source)):
        clip = prepare_clip(source.load(k), spec.face, inp.featurizer, spec.mask_hold_s)
        for _ in range(windows_per_clip):
            start = int(rng.integers(0, clip.num_frames - spec.window_frames + 1))
            samples.append(cut_window(clip, start, spec.window_frames, spec.ref_frames,
                                      spec.ref_min_gap, rng))
    batch = collate_windows(samples)
    x0 = encode_frames(codec, batch["crops"])
    cond = encode_condition(codec, batch["crops"], mode="inpaint", mask=batch["mask"],
                            ref_crops=batch["ref_crops"] if spec.ref_frames else None,
                            audio_windows=batch["audio"])
    region = latent_region(batch["mouth_mask"], codec.temporal_factor, codec.spatial_factor)
    steps = spec.diffusion.num_train_timesteps

    def velocity(x_t: torch.Tensor, sigma: torch.Tensor, c: Any) -> torch.Tensor:
        return inp.dit(x_t, sigma_to_timestep(sigma, steps), c)

    sigmas = [float(s) for s in np.linspace(0.5 / grid, 1 - 0.5 / grid, grid)]
    profile = audio_attribution_profile(velocity, x0, cond, zero_fields(cond, ["audio_features"]),
                                        region.to(x0), sigmas, torch.Generator().manual_seed(seed))
    lo, hi = lip_band(sigmas, profile, fraction)
    return {"lip_texture_sigma": lo, "structure_lip_sigma": hi, "fraction": fraction,
            "sigmas": sigmas, "audio_attribution": [float(v) for v in profile],
            "peak_sigma": sigmas[int(np.argmax(profile))], "windows": len(samples),
            "seeds": seeds, "model_version": inp.version}


def plot_profile(result: dict[str, Any], path: Path) -> None:
    """PNG of the attribution profile with the chosen boundaries."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3), dpi=100)
    ax.plot(result["sigmas"], result["audio_attribution"], "o-", label="audio attribution (mouth)")
    for key in ("lip_texture_sigma", "structure_lip_sigma"):
        ax.axvline(result[key], color="grey", linestyle="--")
    ax.set_xlabel("sigma (noise level)")
    ax.set_ylabel("RMS |v(a) - v(no a)|")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
