"""Shared fixtures. The same tests run under each backend, chosen with the
KERAS_BACKEND environment variable."""

import atexit
import pathlib
import shutil
import sys
import tempfile

import keras
import numpy as np
import pytest

try:
    from hypothesis import settings
except ImportError:  # hypothesis comes with keras-kd[dev]; its tests need it
    settings = None
else:
    # The fast tier (`-m "not slow"`) draws this many examples per property
    # test, the full suite the count each test names (see tests/README.md).
    # On JAX each new shape is a new XLA compilation: seconds per example.
    FAST_EXAMPLES = 2 if keras.backend.backend() == "jax" else 5
    settings.register_profile("fast", max_examples=FAST_EXAMPLES)

# Test files live in folders that mirror the package tree and are imported in
# pytest's importlib mode; their shared helpers (`_once`, `_tfmot_models`) sit
# here, at the top of tests/.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))


def _reuse_jax_compilations():
    """On JAX, lets a test reuse the XLA programs an earlier test of this
    process compiled: the tests build many models of the same few shapes,
    and each compiles its train step anew otherwise (17-20% of the CPU time
    of tests/keras_kd/test_distiller.py, test_taps.py and test_callbacks.py
    measured, the cache starting empty). JAX's persistent compilation cache,
    keyed by the program itself, in a folder of this process removed at exit.
    """
    import jax

    folder = tempfile.mkdtemp(prefix="keras-kd-tests-xla-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    jax.config.update("jax_compilation_cache_dir", folder)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


if keras.backend.backend() == "jax":
    _reuse_jax_compilations()


def pytest_configure(config):
    """`-m "not slow"` loads the "fast" hypothesis profile, unless the command
    names a profile itself (`--hypothesis-profile`)."""
    fast_tier = "not slow" in (config.option.markexpr or "")
    if settings and fast_tier and not config.getoption("hypothesis_profile", None):
        settings.load_profile("fast")


@pytest.fixture(autouse=True)
def _seeded():
    keras.utils.set_random_seed(0)
    yield
    keras.config.set_dtype_policy("float32")


@pytest.fixture
def backend():
    return keras.backend.backend()


@pytest.fixture
def blobs():
    """A small 3-class problem a few dense units can learn: (x, y)."""
    rng = np.random.default_rng(0)
    centers = rng.normal(scale=3.0, size=(3, 16))
    y = rng.integers(0, 3, size=384).astype("int32")
    x = (centers[y] + rng.normal(size=(384, 16))).astype("float32")
    return x, y


def _dense_model(units, classes, activation=None, name=None):
    return keras.Sequential(
        [
            keras.Input((16,)),
            keras.layers.Dense(units, activation="relu", name="hidden"),
            keras.layers.Dense(classes, activation=activation, name="head"),
        ],
        name=name,
    )


@pytest.fixture
def trained_teacher(blobs):
    """A trained 3-class teacher with a softmax head."""
    x, y = blobs
    teacher = _dense_model(32, 3, activation="softmax", name="teacher")
    teacher.compile("adam", "sparse_categorical_crossentropy")
    teacher.fit(x, y, epochs=5, batch_size=64, verbose=0)
    return teacher


@pytest.fixture
def make_student():
    """Factory of small logits students: make_student(units=4, classes=3)."""

    def make(units=4, classes=3, name="student"):
        return _dense_model(units, classes, name=name)

    return make
