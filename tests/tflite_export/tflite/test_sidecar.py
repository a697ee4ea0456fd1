"""`_sidecar.read_output_kind`: what the JSON sidecar beside a `.tflite` file
says its outputs are (read by `evaluate` to threshold a one-unit head), and
every sidecar it must not trust."""

import json
import os

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
    # Was "logits": a sidecar left from an earlier conversion to the same name.
    (_sidecar_of(bytes=1272), None),
    (_sidecar_of(bytes="0"), None),
    (_sidecar_of(bytes=0), "logits"),  # m.tflite is 0 bytes long
    # Was: RecursionError out of json.load, a traceback out of evaluate().
    ("[" * 100_000 + "]" * 100_000, None),
    # Was: None (json.load refuses the byte-order mark a Windows editor writes).
    ("\ufeff" + _sidecar_of(), "logits"),
    # Larger than any sidecar: not read (was: read whole, whatever its size).
    (_sidecar_of(padding="x" * _sidecar.MAX_SIDECAR_BYTES), None),
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


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes")
def test_a_named_pipe_is_no_sidecar(tmp_path):
    """Was: open() waited forever for a writer; evaluate() hung."""
    os.mkfifo(tmp_path / "m.json")
    assert _sidecar.read_output_kind(tmp_path / "m.tflite") is None


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links")
def test_a_linked_file_is_read_by_the_sidecar_of_the_file_it_links_to(tmp_path):
    """Was: None for `link.tflite -> real/m.tflite` (no `link.json`, or a
    `link.json -> real/m.json` naming `m.tflite`): one-unit logits read as "auto"."""
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "m.tflite").write_bytes(b"")
    (tmp_path / "real" / "m.json").write_text(_sidecar_of(), encoding="utf-8")
    os.symlink(tmp_path / "real" / "m.tflite", tmp_path / "link.tflite")
    assert _sidecar.read_output_kind(tmp_path / "link.tflite") == "logits"
    os.symlink(tmp_path / "real" / "m.json", tmp_path / "link.json")
    assert _sidecar.read_output_kind(tmp_path / "link.tflite") == "logits"
    # A sidecar linked beside another file still names another file.
    (tmp_path / "other.tflite").write_bytes(b"")
    os.symlink(tmp_path / "real" / "m.json", tmp_path / "other.json")
    assert _sidecar.read_output_kind(tmp_path / "other.tflite") is None
