"""tflite_export.evaluate: accuracy, agreement and latency in LiteRT, checked
against numbers computed independently from the Keras model."""

import keras
import numpy as np
import pytest
from _tfmot_models import cnn
from _tfmot_models import images

import tflite_export


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    keras.utils.set_random_seed(0)
    x, y = images(n=300)
    model = cnn(x, y)
    folder = tmp_path_factory.mktemp("evaluate")
    model.save(folder / "cnn.keras")
    float_file = tflite_export.convert(model, folder / "f.tflite", verbose=0).path
    int8_file = tflite_export.convert(
        model, folder / "q.tflite", quantization="int8_io", representative_data=x, verbose=0
    ).path
    return x, y, model, folder, float_file, int8_file


def test_float_file_matches_keras_exactly(files):
    x, y, model, *_, float_file, _ = files
    expected = model.predict(x, verbose=0)
    report = tflite_export.evaluate(float_file, x, y, reference=model, batch_size=64)
    assert report.accuracy == pytest.approx(np.mean(np.argmax(expected, -1) == y))
    assert report.agreement == 1.0 and report.max_abs_diff < 1e-4
    np.testing.assert_allclose(report.outputs, expected, atol=1e-4)
    assert report.samples == 300 and report.bytes > 0


def test_int8_io_inputs_are_quantized_by_the_files_parameters(files):
    x, y, model, _, _, int8_file = files
    expected = model.predict(x, verbose=0)
    report = tflite_export.evaluate(int8_file, x, y, reference=expected, latency_samples=0)
    # Were the inputs fed as raw floats cast to int8, the outputs would be far off.
    assert report.agreement >= 0.97
    assert report.max_abs_diff < 0.1 * (expected.max() - expected.min())
    assert report.latency_ms is None


def test_latency_is_measured_at_batch_one(files):
    x, _, _, _, float_file, _ = files
    report = tflite_export.evaluate(float_file, x, latency_samples=30, num_threads=1)
    assert 0 < report.latency_ms < 1000 and report.latency_p90_ms > 0
    assert report.accuracy is None and report.agreement is None


def test_reference_as_keras_file(files):
    x, _, _, folder, float_file, _ = files
    report = tflite_export.evaluate(
        float_file, x, reference=str(folder / "cnn.keras"), latency_samples=0
    )
    assert report.agreement == 1.0


def test_bad_input(files, tmp_path):
    x, y, *_, float_file, _ = files
    with pytest.raises(ValueError, match="y has 10 labels but x has 300 samples"):
        tflite_export.evaluate(float_file, x, y[:10], latency_samples=0)
    with pytest.raises(
        ValueError, match=r"x has samples of shape \(4, 4, 1\), but the file expects \(8, 8, 1\)"
    ):
        tflite_export.evaluate(float_file, x[:, :4, :4], latency_samples=0)
    with pytest.raises(ValueError, match="No such .tflite file"):
        tflite_export.evaluate(str(tmp_path / "absent.tflite"), x)


def _positive_logit(name="positive"):
    """A one-unit logit head outputting 0.3 for every input: class 1."""
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)], name=name)
    model.set_weights([np.zeros((4, 1), "float32"), np.full((1,), 0.3, "float32")])
    return model


def test_a_one_unit_head_is_read_by_its_kind():
    """Were: logits that all lie in [0, 1] were read as probabilities
    (threshold 0.5), whatever the head; the kind can now be given."""
    logits = np.array([[0.2], [0.9], [0.4]])
    assert tflite_export.top1_accuracy(logits, [1, 1, 1], output_kind="logits") == 1.0
    assert tflite_export.top1_accuracy(logits, [1, 1, 1], output_kind="probabilities") == (
        pytest.approx(1 / 3)
    )
    assert tflite_export.top1_accuracy(logits, [1, 1, 1]) == pytest.approx(1 / 3)  # auto
    assert tflite_export.top1_accuracy(np.array([[-0.5], [2.0]]), [0, 1]) == 1.0
    with pytest.raises(ValueError, match=r"`output_kind` must be one of 'auto', 'logits'"):
        tflite_export.top1_accuracy(logits, [1, 1, 1], output_kind="sigmoid")


def test_evaluate_reads_a_one_unit_head_by_the_files_sidecar(tmp_path):
    """Was: 0.0, the logit 0.3 read as a probability below 0.5; without its
    sidecar the file's outputs alone decide (as before)."""
    path = tflite_export.convert(_positive_logit(), tmp_path / "p.tflite", verbose=0).path
    x = np.random.default_rng(0).normal(size=(8, 4)).astype("float32")
    report = tflite_export.evaluate(path, x, np.ones(8, "int64"), latency_samples=0)
    assert report.accuracy == 1.0
    (tmp_path / "p.json").unlink()
    assert tflite_export.evaluate(path, x, np.ones(8, "int64"), latency_samples=0).accuracy == 0.0


def test_a_sidecar_left_from_an_earlier_conversion_is_not_read(tmp_path):
    """Was 0.0: p.tflite re-converted from a sigmoid head without a sidecar
    (and without metadata) kept the logit head's p.json, whose "logits" read
    the probability 0.3 as a logit above 0 (class 1). Now the sidecar's
    recorded size differs from the file's: it is not read."""
    path = tflite_export.convert(_positive_logit(), tmp_path / "p.tflite", verbose=0).path
    sigmoid = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")], name="sigmoid"
    )
    sigmoid.set_weights([np.zeros((4, 1), "float32"), np.full((1,), -0.85, "float32")])
    tflite_export.convert(sigmoid, path, verbose=0, sidecar=False, metadata=False)
    x = np.random.default_rng(0).normal(size=(8, 4)).astype("float32")
    report = tflite_export.evaluate(path, x, np.zeros(8, "int64"), latency_samples=0)
    assert report.accuracy == 1.0  # 0.3 < 0.5: class 0


@pytest.mark.parametrize(
    "outputs, y, expected",
    [
        # Was 0.0: the arg-max of the whole column, one index for every sample.
        (np.array([2.0, -1.0, 3.0, -2.0]), [1, 0, 1, 0], 1.0),
        (np.array([0.9, 0.1]), [1, 1], 0.5),
    ],
)
def test_top1_accuracy_reads_a_squeezed_one_unit_head_per_sample(outputs, y, expected):
    assert tflite_export.top1_accuracy(outputs, y) == pytest.approx(expected)


@pytest.mark.parametrize(
    "outputs, y",
    [
        (np.zeros((0, 1)), []),  # Was: NumPy's "zero-size array to reduction".
        (np.zeros((2, 3, 2, 3)), [0, 1]),  # Per-pixel: compared along the width.
    ],
)
def test_top1_accuracy_refuses_outputs_not_one_row_per_sample(outputs, y):
    with pytest.raises(ValueError, match=r"one row of class scores per sample.*Received"):
        tflite_export.top1_accuracy(outputs, y)
