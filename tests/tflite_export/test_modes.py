"""The one table of quantization modes: what it holds, how a bad name is
refused, and that a new row is all a new mode needs."""

import dataclasses
import os

import keras
import pytest

import tflite_export
from tflite_export import modes

ON_TENSORFLOW = keras.backend.backend() == "tensorflow"


def test_table_lists_every_mode_in_order():
    assert tflite_export.MODES is modes.MODES
    assert modes.names() == ("float32", "dynamic", "float16", "int8", "int8_io", "int16x8")
    calibrated = [m.name for m in modes.MODES.values() if m.needs_calibration]
    assert calibrated == ["int8", "int8_io", "int16x8"]
    int8_io = modes.get("int8_io")
    assert (int8_io.input_dtype, int8_io.output_dtype) == ("int8", "int8")
    assert all(m.description for m in modes.MODES.values())


def test_none_means_float32():
    assert modes.get(None).name == modes.get("none").name == "float32"
    assert modes.public_name("float32") is None and modes.public_name("int8") == "int8"


@pytest.mark.parametrize("name", ["int4", 8, "INT8"])
def test_unknown_mode_lists_the_table(name):
    listed = ", ".join(repr(n) for n in modes.names())
    message = (
        f"quantization must be one of None (float32), {listed}. Received: quantization={name!r}"
    )
    with pytest.raises(ValueError) as error:
        modes.get(name)
    assert str(error.value) == message


def test_rows_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        modes.get("int8").needs_calibration = False


def test_a_new_row_is_a_new_mode_everywhere(monkeypatch, tmp_path):
    """One row added to the table: convert and prune_distill accept it, and
    it asks for calibration data because the row says so."""
    row = dataclasses.replace(
        modes.get("dynamic"), name="dynamic_calibrated", needs_calibration=True
    )
    monkeypatch.setitem(modes.MODES, row.name, row)
    assert "dynamic_calibrated" in modes.names()
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    with pytest.raises(
        ValueError, match="quantization='dynamic_calibrated' needs representative_data"
    ):
        tflite_export.convert(model, tmp_path / "m.tflite", quantization=row.name)
    with pytest.raises(ValueError, match="Received: quantization='int4'"):
        tflite_export.prune_distill(model, None, [[0.0] * 4], [0], quantization="int4")
    if ON_TENSORFLOW:  # a child process would not see the monkeypatched row
        result = tflite_export.convert(
            model,
            tmp_path / "m.tflite",
            quantization=row.name,
            representative_data=keras.random.normal((8, 4), seed=0),
            verbose=0,
        )
        assert result.mode == "dynamic_calibrated" and result.calibration_samples == 8
        assert os.path.isfile(result.path)
