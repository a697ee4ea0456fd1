"""The one module behind which every private LiteRT API lives."""

import importlib.metadata

import pytest

from tflite_export import _litert_compat


def test_every_internal_is_present():
    checked = _litert_compat.check_internals()
    assert "Interpreter._get_ops_details" in checked
    assert "Interpreter._get_full_signature_list" in checked


def test_a_moved_internal_is_named_with_the_litert_version(monkeypatch):
    monkeypatch.setitem(_litert_compat._INTERNALS, "Interpreter._moved_away", lambda: False)
    monkeypatch.setitem(_litert_compat._INTERNALS, "Interpreter._raises", lambda: 1 / 0)
    version = importlib.metadata.version("ai-edge-litert")
    with pytest.raises(
        RuntimeError,
        match=rf"ai-edge-litert {version} does not have: \['Interpreter._moved_away', "
        r"'Interpreter._raises'\]. Install an ai-edge-litert version",
    ):
        _litert_compat.check_internals()
