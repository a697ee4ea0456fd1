"""The private Keras APIs keras-kd reads exist in the installed Keras, and
are read nowhere but in `keras_kd/_keras_compat.py`."""

import ast

import keras
import pytest
from _paths import REPO_ROOT

from keras_kd import _keras_compat

ROOT = REPO_ROOT
PACKAGES = ("keras_kd", "tflite_export")
COMPAT_MODULE = ROOT / "keras_kd" / "_keras_compat.py"

# Private attributes of Keras objects that only the compatibility module may
# touch. `keras.src` is matched as the attribute chain or module path.
PRIVATE_ATTRIBUTES = (
    "_compile_loss",
    "_loss_tracker",
    "_run_through_graph",
    "_keras_history",
    "_functional",
    "_build_shapes_dict",
)


def test_check_internals_passes_on_the_installed_keras():
    checked = _keras_compat.check_internals()
    assert checked == list(_keras_compat._INTERNALS)
    assert checked, "check_internals() checked nothing"


def test_a_missing_internal_is_named_with_the_keras_version(monkeypatch):
    name = next(iter(_keras_compat._INTERNALS))
    monkeypatch.setitem(_keras_compat._INTERNALS, name, lambda: False)
    with pytest.raises(RuntimeError) as error:
        _keras_compat.check_internals()
    message = str(error.value)
    assert name in message
    assert keras.__version__ in message
    others = [other for other in _keras_compat._INTERNALS if other != name]
    assert not any(repr(other) in message for other in others), message


def test_a_probe_that_raises_counts_as_missing(monkeypatch):
    name = list(_keras_compat._INTERNALS)[-1]

    def moved():
        raise AttributeError("moved in a new Keras")

    monkeypatch.setitem(_keras_compat._INTERNALS, name, moved)
    with pytest.raises(RuntimeError, match=keras.__version__.replace(".", r"\.")):
        _keras_compat.check_internals()


def _dotted(node):
    """`a.b.c` for a chain of attributes on a name, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def private_keras_uses(path):
    """`[(line, what)]`: the private Keras APIs a file reads."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [
                (node.lineno, f"import {a.name}")
                for a in node.names
                if a.name == "keras.src" or a.name.startswith("keras.src.")
            ]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            module = node.module
            if module == "keras.src" or module.startswith("keras.src."):
                found.append((node.lineno, f"from {module} import ..."))
            elif module == "keras" and any(a.name == "src" for a in node.names):
                found.append((node.lineno, "from keras import src"))
        elif isinstance(node, ast.Attribute):
            if node.attr in PRIVATE_ATTRIBUTES:
                found.append((node.lineno, f".{node.attr}"))
            elif node.attr == "src" and _dotted(node) == "keras.src":
                found.append((node.lineno, "keras.src"))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            # getattr(model, "_compile_loss"), importlib.import_module("keras.src...")
            value = node.value
            if value in PRIVATE_ATTRIBUTES:
                found.append((node.lineno, f"{value!r}"))
            elif value == "keras.src" or value.startswith("keras.src."):
                found.append((node.lineno, f"{value!r}"))
    return sorted(set(found))


def test_private_keras_apis_only_in_the_compat_module():
    offenders = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path == COMPAT_MODULE or "__pycache__" in path.parts:
                continue
            for line, what in private_keras_uses(path):
                offenders.append(f"{path.relative_to(ROOT)}:{line}: {what}")
    assert not offenders, (
        "Private Keras APIs belong in keras_kd/_keras_compat.py, behind a "
        "function and a probe in its _INTERNALS (so that check_internals() "
        "names them when Keras moves them). Found elsewhere:\n" + "\n".join(offenders)
    )


def test_the_scan_finds_each_kind_of_use(tmp_path):
    path = tmp_path / "m.py"
    path.write_text(
        "import keras\n"
        "from keras.src.models import functional\n"
        "isinstance(m, keras.src.models.functional.Functional)\n"
        "m._compile_loss\n"
        "getattr(m, '_build_shapes_dict', None)\n"
        "m.compile_loss\n"
    )
    assert private_keras_uses(path) == [
        (2, "from keras.src.models import ..."),
        (3, "keras.src"),
        (4, "._compile_loss"),
        (5, "'_build_shapes_dict'"),
    ]


def test_keras_tuner_internals_are_probed():
    keras_tuner = pytest.importorskip("keras_tuner")
    from keras_kd.apps import _keras_tuner_compat

    assert "BaseTuner._try_run_and_update_trial" in _keras_tuner_compat.check_internals(keras_tuner)


def test_a_missing_keras_tuner_internal_is_named(monkeypatch):
    keras_tuner = pytest.importorskip("keras_tuner")
    from keras_kd.apps import _keras_tuner_compat

    monkeypatch.setitem(_keras_tuner_compat._INTERNALS, "keras_tuner.Gone", lambda kt: kt.gone)
    with pytest.raises(RuntimeError, match=r"KerasTuner .* does not have: \['keras_tuner.Gone'\]"):
        _keras_tuner_compat.check_internals(keras_tuner)
