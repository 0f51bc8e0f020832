"""The models, each registered by name (see `registry`); importing the package imports every
model module in it, so adding a model is adding its file."""

import importlib
import pkgutil

from .registry import (  # noqa: F401  (the package's interface)
    build,
    constraints,
    count_macs,
    count_parameters,
    inputs,
    keys,
    names,
    reads,
    register,
    wants_raw_input,
)

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "registry":
        importlib.import_module(f"{__name__}.{_module.name}")
