"""The Voice synthesizer in pure JAX: a sound is θ ∈ [0, 1]^78 (canonical order) plus render settings.

This package imports nothing else from the studio.
"""
from .params import (LFO_SHAPES, MOD_INPUTS, MOD_OUTPUTS, MODULES, N_PARAMS, PARAM_INDEX, PARAM_KEYS, PARAMS, ParamSpec,
                     default_human, default_theta, module_slices, to_human, to_normalized)
from .voice import RenderSettings, check_theta, noise_seeds, render, renderer

__all__ = ["LFO_SHAPES", "MOD_INPUTS", "MOD_OUTPUTS", "MODULES", "N_PARAMS", "PARAM_INDEX", "PARAM_KEYS", "PARAMS",
           "ParamSpec", "default_human", "default_theta", "module_slices", "to_human", "to_normalized",
           "RenderSettings", "check_theta", "noise_seeds", "render", "renderer"]
