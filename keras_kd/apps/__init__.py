"""Apps built on the keras-kd core: what a user runs, not what one builds on.

- `keras_kd.apps.recipes`: ready recipes (born-again, function matching,
  patient schedules).
- `keras_kd.apps.tuning`: the temperature / alpha / loss search (KerasTuner).
- `keras_kd.apps.comparison`: teacher / student comparison tables and figures.
- `keras_kd.apps.demo`, `keras_kd.apps.data`, `keras_kd.apps.reference_models`:
  the demo, its real data sets and its models.
- `keras_kd.apps.render`: the Markdown / HTML / figure helpers the reports share.

This layer imports the core (`keras_kd`) only; the core never imports it.

Example:

>>> from keras_kd.apps import recipes
>>> distiller = recipes.function_matching(teacher, student)
"""

import importlib

_SUBMODULES = ("comparison", "data", "demo", "recipes", "reference_models", "render", "tuning")

__all__ = list(_SUBMODULES)


def __getattr__(name: str):
    if name not in _SUBMODULES:
        raise AttributeError(f"module 'keras_kd.apps' has no attribute '{name}'")
    return importlib.import_module(f"{__name__}.{name}")
