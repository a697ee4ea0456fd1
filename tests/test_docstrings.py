"""Runs the docstring examples (`>>>` blocks) of every module of keras_kd and
tflite_export, one test per module that has examples.

Private modules are included (`_numerics`, `tflite/_convert`, ...): the
public functions they define are documented there. `__main__` entry points
are not imported.

The examples run in a namespace prepared here: the module's own globals,
then the names the examples use without defining them (`teacher`,
`student`, `x_train`, ...). The data are tiny, so an example that fits for
240 epochs or converts to int8 costs seconds, not minutes; each module runs
in a fresh temporary working directory, so files an example writes vanish.
`Model.fit` runs at most `MAX_EPOCHS` epochs, whatever an example asks for
(240 epochs of one step cost minutes on PyTorch): the examples are run for
their errors and outputs, not for the accuracy they would reach.

An example that shows no output is run for errors only (its printed output,
such as a progress bar, is not compared); one that shows output is compared
with ELLIPSIS and NORMALIZE_WHITESPACE.
"""

import ast
import doctest
import gzip
import importlib
import os
import pathlib
import re

import keras
import numpy as np
import pytest
from _once import conversion_example_runs_on_tensorflow
from _once import example_runs_on_tensorflow

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGES = ("keras_kd", "tflite_export")

# Modules whose examples fail for now, owned by work in progress elsewhere;
# each entry says why. Remove an entry when its examples pass: a listed
# module whose examples pass makes its test fail (strict xfail).
KNOWN_FAILING = {}

OPTIONS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
MAX_EPOCHS = 2


def _has_examples(path):
    """True if any docstring in the file holds a `>>>` example."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    nodes = [tree] + [
        node
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    ]
    return any(">>>" in (ast.get_docstring(node, clean=False) or "") for node in nodes)


def _module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules_with_examples():
    """Dotted names of the modules of both packages with `>>>` examples."""
    names = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path.name == "__main__.py" or "__pycache__" in path.parts:
                continue
            if _has_examples(path):
                names.append(_module_name(path))
    return names


class _RunOnlyWhenNoOutputShown(doctest.OutputChecker):
    """An example that shows no output passes whatever it prints."""

    def check_output(self, want, got, optionflags):
        if not want.strip():
            return True
        return super().check_output(want, got, optionflags)


# -- The namespace -------------------------------------------------------------

_IMAGE = (28, 28, 1)
_CLASSES = 10


def _write_idx(path, array):
    codes = {np.dtype("uint8"): 0x08}
    header = bytes([0, 0, codes[array.dtype], array.ndim])
    header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(header + array.tobytes())


@pytest.fixture(scope="session")
def fake_fashion_mnist(tmp_path_factory):
    """A folder of Fashion-MNIST-shaped IDX files (few images, real format)."""
    folder = tmp_path_factory.mktemp("fashion_mnist")
    rng = np.random.default_rng(0)
    for stem, count in (("train", 600), ("t10k", 100)):
        images = rng.integers(0, 256, size=(count, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=count).astype(np.uint8)
        _write_idx(folder / f"{stem}-images-idx3-ubyte.gz", images)
        _write_idx(folder / f"{stem}-labels-idx1-ubyte.gz", labels)
    return folder


def _teacher(name="teacher"):
    from keras_kd.apps.reference_models import teacher_cnn

    return teacher_cnn(_IMAGE, _CLASSES, name=name)


def _student(name="student"):
    from keras_kd.apps.reference_models import student_cnn

    return student_cnn(_IMAGE, _CLASSES, name=name)


def _data(rng, count):
    x = rng.random((count,) + _IMAGE, dtype=np.float32)
    y = rng.integers(0, _CLASSES, size=count).astype("int32")
    return x, y


def _compiled_distiller(names):
    import keras_kd

    distiller = keras_kd.Distiller(
        names["teacher"], names["student"], distillation_loss="kd", alpha=0.5
    )
    distiller.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return distiller


# name -> function(names built so far) -> value; built only for examples
# that use the name. 32 training images: one batch at Keras' default batch
# size, so an example that fits for 240 epochs takes 240 steps.
_FACTORIES = {
    "keras": lambda names: keras,
    "np": lambda names: np,
    "ops": lambda names: keras.ops,
    "os": lambda names: os,
    "keras_kd": lambda names: importlib.import_module("keras_kd"),
    "tflite_export": lambda names: importlib.import_module("tflite_export"),
    "teacher": lambda names: _teacher(),
    "student": lambda names: _student(),
    "teacher_model": lambda names: _teacher("teacher_a"),
    "teacher_model_2": lambda names: _teacher("teacher_b"),
    "make_student": lambda names: _student,
    "distiller": _compiled_distiller,
    "x_train": lambda names: _data(np.random.default_rng(0), 32)[0],
    "y_train": lambda names: _data(np.random.default_rng(0), 32)[1],
    "x_test": lambda names: _data(np.random.default_rng(1), 16)[0],
    "y_test": lambda names: _data(np.random.default_rng(1), 16)[1],
    "x": lambda names: _data(np.random.default_rng(0), 8)[0],
    "y": lambda names: _data(np.random.default_rng(0), 8)[1],
}
_FACTORIES["x_val"], _FACTORIES["y_val"] = _FACTORIES["x_test"], _FACTORIES["y_test"]
_NEEDS = {"distiller": ("teacher", "student")}


def namespace(source=None):
    """The names examples use without defining them, freshly built.

    Args:
        source: The examples' source; only the names it mentions are built.
            None builds them all.
    """
    used = set(_FACTORIES) if source is None else set(re.findall(r"\w+", source))
    wanted = [name for name in _FACTORIES if name in used]
    for name in list(wanted):
        wanted[:0] = [n for n in _NEEDS.get(name, ()) if n not in wanted]
    names = {}
    for name in wanted:
        names[name] = _FACTORIES[name](names)
    return names


_TFLITE_FILES = {}


def _int8_student_file(folder):
    """`student_int8.tflite`, converted once per session, for examples
    that read it."""
    if "student_int8" not in _TFLITE_FILES:
        import tflite_export

        path = str(folder / "student_int8.tflite")
        x, _ = _data(np.random.default_rng(0), 32)
        tflite_export.convert(
            _student(), path, quantization="int8", representative_data=x, verbose=0
        )
        _TFLITE_FILES["student_int8"] = path
    return _TFLITE_FILES["student_int8"]


def _capped_fit(fit):
    """`fit` with at most `MAX_EPOCHS` epochs."""

    def capped(self, *args, **kwargs):
        if len(args) > 3:  # fit(x, y, batch_size, epochs, ...)
            args = args[:3] + (min(args[3], MAX_EPOCHS),) + args[4:]
        if "epochs" in kwargs:
            kwargs["epochs"] = min(kwargs["epochs"], MAX_EPOCHS)
        return fit(self, *args, **kwargs)

    return capped


# -- The tests -----------------------------------------------------------------


# Examples that train or convert for 5-15 s of CPU on JAX: the full suite runs
# them, the fast tier (`-m "not slow"`) does not. Those of keras_kd.apps and
# tflite_export run once, on TensorFlow (tests/_once.py says why).
SLOW_EXAMPLES = {
    "keras_kd",
    "keras_kd.apps.demo",
    "keras_kd.apps.recipes",
    "keras_kd.callbacks",
    "tflite_export.tflite._convert",
    "tflite_export.tflite._evaluate",
    "tflite_export.tflite._metadata",
    "tflite_export.tflite.tflite_file",
}


def _params():
    for name in modules_with_examples():
        marks = []
        if name in KNOWN_FAILING:
            marks.append(pytest.mark.xfail(reason=KNOWN_FAILING[name], strict=True))
        if name in SLOW_EXAMPLES:
            marks.append(pytest.mark.slow)
            if name.startswith("tflite_export."):
                marks.append(conversion_example_runs_on_tensorflow)
            elif name.startswith("keras_kd.apps."):
                marks.append(example_runs_on_tensorflow)
        yield pytest.param(name, id=name, marks=marks)


@pytest.mark.parametrize("module_name", list(_params()))
def test_docstring_examples(
    module_name, tmp_path, tmp_path_factory, monkeypatch, fake_fashion_mnist
):
    module = importlib.import_module(module_name)
    tests = [
        test
        for test in doctest.DocTestFinder(exclude_empty=True).find(module, module_name, globs={})
        if test.examples
    ]
    assert tests, f"{module_name}: a docstring has '>>>' but doctest found no example"

    # Files examples read: the Fashion-MNIST IDX files, a converted student.
    monkeypatch.setenv("KERAS_KD_DATA", str(fake_fashion_mnist))
    for source in fake_fashion_mnist.iterdir():
        (tmp_path / source.name).symlink_to(source)
    if any("student_int8.tflite" in ex.source for t in tests for ex in t.examples):
        shared = tmp_path_factory.getbasetemp() / "tflite_files"
        shared.mkdir(exist_ok=True)
        (tmp_path / "student_int8.tflite").symlink_to(_int8_student_file(shared))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(keras.Model, "fit", _capped_fit(keras.Model.fit))

    runner = doctest.DocTestRunner(checker=_RunOnlyWhenNoOutputShown(), optionflags=OPTIONS)
    reports = []
    for test in tests:
        keras.utils.set_random_seed(0)
        source = "".join(example.source for example in test.examples)
        test.globs = {**namespace(source), **vars(module)}
        out = []
        runner.run(test, out=out.append, clear_globs=True)
        reports.extend(out)
    results = runner.summarize(verbose=False)
    assert results.failed == 0, (
        f"{results.failed} of {results.attempted} docstring examples of "
        f"{module_name} failed:\n" + "".join(reports)
    )


def test_modules_are_found():
    names = modules_with_examples()
    assert "keras_kd.apps.reference_models" in names
    listed = set(KNOWN_FAILING)
    assert not listed - set(names), (
        f"KNOWN_FAILING names modules without examples: {sorted(listed - set(names))}"
    )
