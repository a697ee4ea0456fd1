"""Adding a distillation loss is one module, one import line and one test.

These tests do exactly what `docs/adding_a_loss.md` shows, with the code of
its three blocks: the module is written to a temporary directory that joins
the `keras_kd.losses` package, the import line runs in the package's
namespace (as it would in `keras_kd/losses/__init__.py`), and the page's
NumPy test runs. No file of the repository is edited; the registry, the
package and `sys.modules` are restored afterwards.
"""

import hashlib
import re
import sys

import keras
import numpy as np
import pytest
from _paths import REPO_ROOT

import keras_kd
from keras_kd import losses

ROOT = REPO_ROOT
PAGE = ROOT / "docs" / "adding_a_loss.md"
MODULE = "keras_kd/losses/brier.py"
IMPORT_LINE = "keras_kd/losses/__init__.py"
TEST = "tests/keras_kd/losses/test_brier.py"


def page_blocks():
    """The page's Python blocks, keyed by the path in their first comment.

    The import-line block has no such comment: it is keyed by the file it
    goes into, `keras_kd/losses/__init__.py`.
    """
    blocks = {}
    for code in re.findall(r"```python\n(.*?)```", PAGE.read_text(), re.S):
        first = code.splitlines()[0]
        if first.startswith("# ") and first.endswith(".py"):
            blocks[first[2:]] = code
        elif code.startswith("from keras_kd.losses."):
            blocks[IMPORT_LINE] = code
    return blocks


def package_fingerprint():
    """A hash of the files of keras_kd/losses, to show none was edited."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "keras_kd" / "losses").glob("*.py")):
        digest.update(str(path).encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture
def added_loss(tmp_path):
    """The page's loss, added as the page says; removed again afterwards."""
    blocks = page_blocks()
    assert blocks[IMPORT_LINE].strip().count("\n") == 0, "one import line"
    before = package_fingerprint()
    (tmp_path / "brier.py").write_text(blocks[MODULE])
    package = sys.modules["keras_kd.losses"]
    package.__path__.append(str(tmp_path))
    namespace_before = set(vars(package))
    try:
        exec(blocks[IMPORT_LINE], vars(package))
        yield blocks
    finally:
        package.__path__.remove(str(tmp_path))
        for name in set(vars(package)) - namespace_before:
            delattr(package, name)
        sys.modules.pop("keras_kd.losses.brier", None)
        if "brier" in losses.registered_names():
            losses.unregister("brier")
    assert package_fingerprint() == before
    assert "brier" not in losses.registered_names()
    assert "keras_kd>BrierKD" not in keras.saving.get_custom_objects()


def test_the_page_test_passes_against_numpy(added_loss):
    namespace = {}
    exec(added_loss[TEST], namespace)
    namespace["test_brier_kd_matches_numpy"]()


def test_the_registry_and_its_listings_name_the_new_loss(added_loss):
    assert "brier" in losses.registered_names()
    info = losses.describe("brier")
    assert info.class_name == "BrierKD" and info.loss_class is losses.BrierKD
    assert info.summary.startswith("Brier-score distillation")
    assert info.reads == "final outputs" and not info.requires_labels
    assert info.hyperparameters == ("temperature",)
    assert "brier" in losses.output_level_names()
    assert "brier" in losses.names_where(lambda entry: "temperature" in entry.hyperparameters)
    assert "BrierKD ('brier')" in losses.listing()
    with pytest.raises(
        ValueError, match=r"Unknown distillation loss 'brierr'.*'brier'.*BrierKD \('brier'\)"
    ):
        losses.get("brierr")


def small_models():
    def dense(units, name):
        return keras.Sequential(
            [
                keras.Input((16,)),
                keras.layers.Dense(units, activation="relu"),
                keras.layers.Dense(3),
            ],
            name=name,
        )

    return dense(16, "teacher"), dense(4, "student")


def test_the_distiller_takes_it_by_name_trains_a_step_and_saves_it(added_loss, blobs, tmp_path):
    x, y = blobs
    teacher, student = small_models()
    with pytest.raises(ValueError, match=r"Unknown distillation loss 'brierr'.*'brier'"):
        keras_kd.Distiller(teacher, student, distillation_loss="brierr")

    distiller = keras_kd.Distiller(teacher, student, distillation_loss="brier", alpha=0.5)
    assert type(distiller.distillation_losses[0]) is losses.BrierKD
    distiller.compile(
        optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    before = [np.array(w) for w in student.get_weights()]
    history = distiller.fit(x[:32], y[:32], epochs=1, batch_size=32, verbose=0).history
    assert np.isfinite(history["loss"][0])
    assert any(not np.allclose(b, a) for b, a in zip(before, student.get_weights()))

    path = str(tmp_path / "distiller.keras")
    distiller.save(path)
    loaded = keras.saving.load_model(path)
    restored = loaded.distillation_losses[0]
    assert type(restored) is losses.BrierKD
    assert restored.get_config() == distiller.distillation_losses[0].get_config()
    np.testing.assert_allclose(
        loaded.predict(x[:8], verbose=0), distiller.predict(x[:8], verbose=0), rtol=1e-5, atol=1e-6
    )
