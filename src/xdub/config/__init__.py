"""Config mechanism (bottom layer, stdlib + yaml only).

Each concern's dataclass lives in its own module here (e.g. `config.synth`), so components
receive only their sub-config. Presets are plain module-level instances in registries.
"""

from xdub.config.base import deep_merge, from_dict, load, replace, save, to_dict

__all__ = ["deep_merge", "from_dict", "load", "replace", "save", "to_dict"]
