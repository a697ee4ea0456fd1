"""`keras_kd.losses.get`: every way a user names a loss, and what it refuses."""

import keras
import pytest

from keras_kd import losses

# (identifier, the class it gives, its config entries that must hold)
ACCEPTED = [
    ("kd", losses.SoftTargetKD, {"temperature": 4.0}),
    ("SoftTargetKD", losses.SoftTargetKD, {"temperature": 4.0}),
    ("MLD", losses.MLD, {}),
    ({"class_name": "mld"}, losses.MLD, {}),
    ({"class_name": "DKD", "config": {"beta": 2.0}}, losses.DKD, {"beta": 2.0}),
    (
        {"class_name": "kd", "config": {"temperature": 2.0, "standardize": True}},
        losses.SoftTargetKD,
        {"temperature": 2.0, "standardize": True},
    ),
    ({"class_name": "kd", "config": None}, losses.SoftTargetKD, {}),
]


@pytest.mark.parametrize("identifier, cls, expected", ACCEPTED)
def test_a_loss_by_either_name_or_config(identifier, cls, expected):
    loss = losses.get(identifier)
    assert type(loss) is cls
    config = loss.get_config()
    assert {key: config[key] for key in expected} == expected


def test_what_keras_serializes_comes_back_equal():
    loss = losses.SoftTargetKD(temperature=3.0, divergence="jsd", standardize=True)
    again = losses.get(keras.saving.serialize_keras_object(loss))
    assert type(again) is losses.SoftTargetKD and again.get_config() == loss.get_config()


REFUSED = [
    ("softtargetkd", "Unknown distillation loss 'softtargetkd'"),
    ({"class_name": "Nope"}, "Unknown distillation loss 'Nope'"),
    ({"config": {"temperature": 2.0}}, "needs a 'class_name'"),
    ({"class_name": 3}, "needs a 'class_name'"),
    ({"class_name": "kd", "config": [2.0]}, "'config' of the distillation loss SoftTargetKD must"),
    (
        {"class_name": "kd", "config": {"temprature": 2.0}},
        "does not fit its arguments",
    ),
    (3, "must be a DistillationLoss, one of the names"),
]


@pytest.mark.parametrize("identifier, words", REFUSED)
def test_what_is_not_a_loss_is_refused_by_name(identifier, words):
    with pytest.raises(ValueError) as raised:
        losses.get(identifier)
    assert words in str(raised.value)
    if isinstance(identifier, dict) and identifier.get("class_name") == "kd":
        assert "'temperature'" in str(raised.value) or "must be a dict" in str(raised.value)


def test_a_loss_registered_only_with_keras_comes_back_from_its_serialization():
    @keras.saving.register_keras_serializable(package="test_base")
    class HalfKD(losses.SoftTargetKD):
        """SoftTargetKD under another name, registered with Keras alone."""

    try:
        again = losses.get(keras.saving.serialize_keras_object(HalfKD(temperature=3.0)))
        assert type(again) is HalfKD and again.temperature == 3.0
    finally:
        del keras.saving.get_custom_objects()["test_base>HalfKD"]


@pytest.mark.parametrize("call", [losses.describe, losses.registry.registered_class])
def test_what_takes_registered_names_only_does_not_offer_class_names(call):
    with pytest.raises(ValueError) as raised:
        call("SoftTargetKD")
    assert "Unknown distillation loss 'SoftTargetKD'" in str(raised.value)
    assert "class name" not in str(raised.value)
