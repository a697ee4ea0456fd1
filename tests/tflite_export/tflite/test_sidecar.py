"""`_sidecar.read_output_kind`: what the JSON sidecar beside a `.tflite` file
says its outputs are (read by `evaluate` to threshold a one-unit head), and
every sidecar it must not trust."""

import json

import pytest

from tflite_export.tflite import _sidecar


def _sidecar_of(model_file="m.tflite", **changes):
    content = {"format": _sidecar.FORMAT, "model_file": model_file, "output_kind": "logits"}
    content.update(changes)
    return json.dumps(content)


# (the sidecar's text, or None for no sidecar; the kind read)
HOSTILE = [
    (None, None),
    ("", None),
    ("{not json", None),
    ("[1, 2]", None),
    ('"logits"', None),
    (_sidecar_of(format="keras-kd tflite sidecar 0"), None),
    (_sidecar_of(model_file="other.tflite"), None),  # copied beside another file
    (_sidecar_of(output_kind="sigmoid"), None),
    (_sidecar_of(output_kind=None), None),
    (_sidecar_of(output_kind=["logits"]), None),
    (_sidecar_of(), "logits"),
    (_sidecar_of(output_kind="probabilities"), "probabilities"),
]


@pytest.mark.parametrize("text, kind", HOSTILE)
def test_hostile_sidecars(tmp_path, text, kind):
    path = tmp_path / "m.tflite"
    path.write_bytes(b"")
    if text is not None:
        (tmp_path / "m.json").write_text(text, encoding="utf-8")
    assert _sidecar.read_output_kind(path) == kind
    assert _sidecar.read_output_kind(str(path)) == kind


def test_a_sidecar_folder_is_no_sidecar(tmp_path):
    (tmp_path / "m.json").mkdir()
    assert _sidecar.read_output_kind(tmp_path / "m.tflite") is None
