"""Parameter-free noise process: rectified-flow schedule, train sampling, guidance, sampler.

Talks to the network only through callables (`model_fn(x_t, sigma, step) -> velocity`), so
it never imports `xdub.models` (nor media/data). Convention: `x_t = (1 - sigma) * x0 +
sigma * noise`, velocity `v = noise - x0`, network timestep `sigma * 1000`.
Imports: torch, numpy, tqdm, xdub.config.
"""

from xdub.diffusion.border import border_mask, pin_border, with_pinned_border
from xdub.diffusion.guidance import (
    ConditionMasks,
    GuidanceStreams,
    combine_guidance,
    drop_conditions,
    drop_for_training,
    guided_model_fn,
    is_reuse_step,
    is_unguided,
    mask_condition,
    stack_conditions,
    zero_fields,
)
from xdub.diffusion.guidance_scales import (
    ScaleFn,
    constant_scales,
    dynamic_scales,
    linear_scales,
    lip_only_scales,
    scales_from_config,
)
from xdub.diffusion.objectives import noisy_input, velocity_target
from xdub.diffusion.phases import (
    PHASES,
    Phase,
    PhaseMap,
    active_range,
    per_sigma_profile,
    with_expert_switch,
)
from xdub.diffusion.sampler import (
    ModelFn,
    SamplingTrace,
    StepInfo,
    predict_x0,
    sample,
    sample_trace,
)
from xdub.diffusion.schedule import (
    shift_sigma,
    sigma_to_timestep,
    sigmas_for_sampling,
    sigmas_from,
    timestep_to_sigma,
    unshift_sigma,
)
from xdub.diffusion.timesteps import (
    TrainSigmaSampler,
    logit_normal_sigmas,
    shifted_uniform_sigmas,
)

__all__ = [
    "border_mask",
    "pin_border",
    "with_pinned_border",
    "PHASES",
    "ConditionMasks",
    "GuidanceStreams",
    "ModelFn",
    "Phase",
    "PhaseMap",
    "SamplingTrace",
    "ScaleFn",
    "StepInfo",
    "TrainSigmaSampler",
    "active_range",
    "combine_guidance",
    "constant_scales",
    "drop_conditions",
    "drop_for_training",
    "dynamic_scales",
    "guided_model_fn",
    "is_reuse_step",
    "is_unguided",
    "linear_scales",
    "lip_only_scales",
    "logit_normal_sigmas",
    "mask_condition",
    "noisy_input",
    "per_sigma_profile",
    "predict_x0",
    "sample",
    "sample_trace",
    "scales_from_config",
    "shift_sigma",
    "shifted_uniform_sigmas",
    "sigma_to_timestep",
    "sigmas_for_sampling",
    "sigmas_from",
    "stack_conditions",
    "timestep_to_sigma",
    "unshift_sigma",
    "velocity_target",
    "with_expert_switch",
]
