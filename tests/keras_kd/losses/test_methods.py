"""DKD, DIST, FitNet, AT and RKD against their papers' equations, each
re-implemented independently in NumPy (float64) on random inputs."""

import keras
import numpy as np
import pytest
from _gradients import gradient
from _numpy_losses import numpy_dist
from _numpy_losses import numpy_dkd
from _numpy_losses import numpy_rkd
from _numpy_losses import softmax

from keras_kd import losses
from keras_kd.losses.base import ModelOutputs


def to_numpy(value):
    return keras.ops.convert_to_numpy(value)


def views(t, s, t_features=None, s_features=None, kind="logits"):
    return ModelOutputs(t, kind, t_features), ModelOutputs(s, "logits", s_features)


# -- DKD (Zhao et al., 2022, Eq. 1-5) -----------------------------------------


@pytest.mark.parametrize(
    "alpha,beta,temperature", [(1.0, 8.0, 4.0), (0.5, 2.0, 1.0), (2.0, 0.0, 7.0)]
)
def test_dkd_matches_the_paper(alpha, beta, temperature):
    rng = np.random.default_rng(0)
    t = rng.normal(scale=3, size=(8, 10)).astype("float32")
    s = rng.normal(scale=3, size=(8, 10)).astype("float32")
    y = rng.integers(0, 10, size=8)
    expected = numpy_dkd(t, s, y, alpha, beta, temperature)
    loss = losses.DKD(alpha=alpha, beta=beta, temperature=temperature)
    np.testing.assert_allclose(to_numpy(loss(*views(t, s), y)), expected, rtol=1e-4, atol=1e-6)
    one_hot = np.eye(10, dtype="float32")[y]
    np.testing.assert_allclose(
        to_numpy(loss(*views(t, s), one_hot)), expected, rtol=1e-4, atol=1e-6
    )
    column = y.reshape(-1, 1).astype("int32")
    np.testing.assert_allclose(to_numpy(loss(*views(t, s), column)), expected, rtol=1e-4, atol=1e-6)


def test_dkd_reads_a_probability_teacher_and_is_zero_for_equal_outputs():
    rng = np.random.default_rng(1)
    t = rng.normal(size=(5, 6))
    s = rng.normal(size=(5, 6)).astype("float32")
    y = rng.integers(0, 6, size=5)
    teacher, student = views(softmax(t).astype("float32"), s, kind="probabilities")
    value = to_numpy(losses.DKD(temperature=2.0)(teacher, student, y))
    np.testing.assert_allclose(value, numpy_dkd(t, s, y, 1.0, 8.0, 2.0), rtol=1e-4, atol=1e-6)
    same = to_numpy(losses.DKD()(*views(s, s), y))
    np.testing.assert_allclose(same, 0.0, atol=1e-5)


def test_dkd_without_labels_names_the_fix():
    t = np.zeros((2, 3), "float32")
    with pytest.raises(ValueError, match=r"DKD needs the labels.*y is None.*Pass \(x, y\)"):
        losses.DKD()(*views(t, t), None)


# -- DIST (Huang et al., 2022) ------------------------------------------------


@pytest.mark.parametrize(
    "beta,gamma,temperature", [(1.0, 1.0, 1.0), (2.0, 2.0, 4.0), (1.0, 0.0, 2.0)]
)
def test_dist_matches_pearson_relations(beta, gamma, temperature):
    rng = np.random.default_rng(2)
    t = rng.normal(scale=2, size=(16, 7)).astype("float32")
    s = rng.normal(scale=2, size=(16, 7)).astype("float32")
    value = to_numpy(losses.DIST(beta, gamma, temperature)(*views(t, s)))
    assert value.shape == ()
    np.testing.assert_allclose(value, numpy_dist(t, s, beta, gamma, temperature), rtol=1e-4)


def test_dist_is_invariant_to_affine_changes_of_the_student_probabilities():
    # Pearson relations ignore scale and shift: the point of DIST.
    rng = np.random.default_rng(3)
    t = rng.normal(size=(12, 5)).astype("float32")
    pt = keras.ops.exp(ModelOutputs(t, "logits").log_probabilities(1.0))
    np.testing.assert_allclose(to_numpy(losses.dist_loss(pt, pt)), 0.0, atol=1e-5)
    np.testing.assert_allclose(to_numpy(losses.dist_loss(pt, 3.0 * pt + 1.0)), 0.0, atol=1e-5)


# -- FitNet hints (Romero et al., 2015) ---------------------------------------


def test_fitnet_distances_match_numpy():
    rng = np.random.default_rng(4)
    t = rng.normal(size=(4, 3, 3, 5)).astype("float32")
    s = rng.normal(size=(4, 3, 3, 5)).astype("float32")
    t64, s64 = t.astype("float64"), s.astype("float64")
    cos = (t64 * s64).sum(-1) / (np.linalg.norm(t64, axis=-1) * np.linalg.norm(s64, axis=-1))
    expected = {
        "mse": ((s64 - t64) ** 2).reshape(4, -1).mean(-1),
        "l1": np.abs(s64 - t64).reshape(4, -1).mean(-1),
        "cosine": (1 - cos).reshape(4, -1).mean(-1),
    }
    for distance, value in expected.items():
        hint = losses.FitNetHint("a", "b", loss=distance)
        hint.build({"a": (None, 3, 3, 5)}, {"b": (None, 3, 3, 5)})
        assert hint.projector is None
        got = hint(*views(None, None, {"a": t}, {"b": s}))
        np.testing.assert_allclose(to_numpy(got), value, rtol=1e-5, atol=1e-6)


def test_fitnet_projector_is_a_1x1_conv_onto_the_teacher_channels():
    rng = np.random.default_rng(5)
    t = rng.normal(size=(2, 4, 4, 6)).astype("float32")
    s = rng.normal(size=(2, 4, 4, 3)).astype("float32")
    hint = losses.FitNetHint("t", "s")
    hint.build({"t": (None, 4, 4, 6)}, {"s": (None, 4, 4, 3)})
    kernel, bias = (to_numpy(w) for w in hint.projector.weights)
    assert kernel.shape == (1, 1, 3, 6)
    projected = np.einsum("bhwc,cd->bhwd", s, kernel[0, 0]) + bias
    expected = ((projected - t) ** 2).reshape(2, -1).mean(-1)
    got = hint(*views(None, None, {"t": t}, {"s": s}))
    np.testing.assert_allclose(to_numpy(got), expected, rtol=1e-4)
    assert hint.trainable_layers == [hint.projector]


@pytest.mark.parametrize(
    "student_shape,teacher_shape,layer_types",
    [
        ((8, 8, 4), (4, 4, 16), ["Resizing", "Conv2D"]),
        ((2, 2, 4), (4, 4, 4), ["Resizing", "Conv2D"]),
        ((12,), (32,), ["Dense"]),
    ],
)
def test_fitnet_projector_maps_any_size_onto_the_teacher(student_shape, teacher_shape, layer_types):
    hint = losses.FitNetHint("t", "s")
    hint.build({"t": (None,) + teacher_shape}, {"s": (None,) + student_shape})
    assert [type(layer).__name__ for layer in hint.projector.layers] == layer_types
    features = np.ones((3,) + student_shape, "float32")
    assert tuple(hint.projector(features).shape) == (3,) + teacher_shape


def test_fitnet_projector_always_and_never():
    always = losses.FitNetHint("t", "s", projector="always")
    always.build({"t": (None, 5)}, {"s": (None, 5)})
    assert always.projector is not None
    never = losses.FitNetHint("t", "s", projector="never")
    with pytest.raises(
        ValueError, match=r"projector='never'.*\(None, 6\).*\(None, 5\).*projector='auto'"
    ):
        never.build({"t": (None, 6)}, {"s": (None, 5)})


def test_fitnet_bad_arguments_name_the_fix():
    with pytest.raises(
        ValueError, match=r"loss` must be one of \('mse', 'l1', 'cosine'\). Received: loss='l2'"
    ):
        losses.FitNetHint("a", "b", loss="l2")
    with pytest.raises(ValueError, match="Name both layers, or neither"):
        losses.FitNetHint("a", None)
    hint = losses.FitNetHint("t", "s")
    with pytest.raises(
        ValueError, match=r"cannot project .*\(None, 4, 4, 3\).*\(None, 10\).*matching rank"
    ):
        hint.build({"t": (None, 10)}, {"s": (None, 4, 4, 3)})


# -- Attention transfer (Zagoruyko and Komodakis, 2017) -----------------------


def numpy_attention(features, p):
    a = (np.abs(features.astype("float64")) ** p).mean(-1).reshape(len(features), -1)
    return a / np.linalg.norm(a, axis=-1, keepdims=True)


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0])
def test_attention_transfer_matches_the_official_formula(p):
    rng = np.random.default_rng(6)
    t1, t2 = rng.normal(size=(4, 6, 6, 8)), rng.normal(size=(4, 3, 3, 16))
    s1, s2 = rng.normal(size=(4, 6, 6, 2)), rng.normal(size=(4, 3, 3, 4))
    # Official code: (at(x) - at(y)).pow(2).mean() per pair, summed over pairs.
    official = sum(
        ((numpy_attention(t, p) - numpy_attention(s, p)) ** 2).mean()
        for t, s in ((t1, s1), (t2, s2))
    )
    at = losses.AttentionTransfer([("t1", "s1"), ("t2", "s2")], p=p)
    teacher, student = views(
        None,
        None,
        {"t1": t1.astype("float32"), "t2": t2.astype("float32")},
        {"s1": s1.astype("float32"), "s2": s2.astype("float32")},
    )
    per_sample = to_numpy(at(teacher, student))
    assert per_sample.shape == (4,)
    np.testing.assert_allclose(per_sample.mean(), official, rtol=1e-5)
    assert at.weight == 500.0  # beta / 2 with the paper's beta = 1000


def test_attention_transfer_resizes_a_map_of_another_size():
    rng = np.random.default_rng(7)
    t = rng.normal(size=(2, 4, 4, 3)).astype("float32")
    # A student map that is the teacher's, upsampled 2x by repetition.
    s = np.repeat(np.repeat(t, 2, axis=1), 2, axis=2)[..., :2]
    s = np.concatenate([s, s], axis=-1)  # different channel count
    t_same = np.concatenate([t[..., :2]] * 2, axis=-1)
    value = losses.attention_transfer(t_same, s, 2.0)
    assert to_numpy(value).shape == (2,)
    # Bilinear downsampling by 2 of a 2x-repeated map gives the map back.
    np.testing.assert_allclose(to_numpy(value), 0.0, atol=1e-6)
    different = losses.attention_transfer(t, s[:, ::-1], 2.0)
    assert np.all(to_numpy(different) > 1e-4)


def test_attention_transfer_bad_input_names_the_fix():
    with pytest.raises(
        ValueError, match=r"needs `pairs`.*AttentionTransfer\(\[\('conv2', 'conv2'\)\]\)"
    ):
        losses.get("at")
    with pytest.raises(
        ValueError, match=r"pair must be \(teacher layer name, student layer name\)"
    ):
        losses.AttentionTransfer([("a", "b", "c")])
    at = losses.AttentionTransfer([("dense", "dense")])
    with pytest.raises(
        ValueError, match=r"teacher layer 'dense' outputs shape \(None, 10\).*convolutional"
    ):
        at.build({"dense": (None, 10)}, {"dense": (None, 10)})


# -- RKD (Park et al., 2019) --------------------------------------------------


@pytest.mark.parametrize("wd,wa", [(25.0, 50.0), (1.0, 0.0), (0.0, 1.0)])
def test_rkd_matches_distance_and_angle_terms(wd, wa):
    rng = np.random.default_rng(8)
    t = rng.normal(size=(7, 12)).astype("float32")
    s = rng.normal(scale=0.3, size=(7, 2, 2)).astype("float32")  # other size
    rkd = losses.RKD("t", "s", distance_weight=wd, angle_weight=wa)
    value = to_numpy(rkd(*views(None, None, {"t": t}, {"s": s})))
    assert value.shape == ()
    np.testing.assert_allclose(value, numpy_rkd(t, s, wd, wa), rtol=1e-4)


@pytest.mark.slow
def test_rkd_is_zero_for_a_scaled_copy_and_has_finite_gradients():
    rng = np.random.default_rng(9)
    t = rng.normal(size=(6, 4)).astype("float32")
    value = losses.rkd_loss(t, 5.0 * t)
    np.testing.assert_allclose(to_numpy(value), 0.0, atol=1e-4)
    # Duplicate embeddings give zero differences; gradients must stay finite.
    grad = gradient(lambda v: losses.rkd_loss(t, v), np.concatenate([t[:3], t[:3]]))
    assert np.all(np.isfinite(grad))


# -- Every method: registered, serializable, composable -----------------------

ALL = [
    losses.SoftTargetKD(3.0, weight=0.5),
    losses.DKD(alpha=2.0, beta=4.0, temperature=3.0),
    losses.DIST(beta=2.0, gamma=0.5, temperature=4.0),
    losses.FitNetHint("conv2", "conv2", loss="cosine", weight=0.5, projector="always"),
    losses.AttentionTransfer([("conv1", "conv1"), ("conv2", "conv2")], p=3.0, weight=100.0),
    losses.RKD("gap", "gap", distance_weight=10.0, angle_weight=20.0, weight=0.1),
]


@pytest.mark.parametrize("loss", ALL, ids=lambda loss: type(loss).__name__)
def test_every_method_round_trips_its_config(loss):
    clone = type(loss).from_config(loss.get_config())
    assert clone.get_config() == loss.get_config()
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss))
    assert type(restored) is type(loss) and restored.get_config() == loss.get_config()
    assert type(loss).registered_name in losses.registered_names()
    assert losses.describe(type(loss).registered_name).loss_class is type(loss)


BUILT_IN = {
    "at": "AttentionTransfer",
    "dist": "DIST",
    "dkd": "DKD",
    "fitnet": "FitNetHint",
    "kd": "SoftTargetKD",
    "rkd": "RKD",
}


def test_the_built_in_losses_are_registered_and_resolve():
    # A subset, not the exact list: adding a loss must not break this test.
    assert set(BUILT_IN) <= set(losses.registered_names())
    for name, class_name in BUILT_IN.items():
        assert losses.describe(name).loss_class is getattr(losses, class_name)
    assert type(losses.get("dkd")) is losses.DKD


def test_the_registry_describes_what_each_loss_reads():
    info = {entry.name: entry for entry in losses.describe()}
    assert {"kd", "dkd", "dist", "fitnet", "rkd"} <= set(losses.output_level_names())
    assert "at" not in losses.output_level_names()
    assert info["at"].reads == "intermediate layers"
    assert "dkd" in losses.names_where(lambda entry: entry.requires_labels)
    assert "kd" not in losses.names_where(lambda entry: entry.requires_labels)
    assert [info[n].hyperparameters for n in ("kd", "dkd", "dist", "rkd")] == [
        ("temperature",)
    ] * 3 + [()]
    assert info["kd"].summary.startswith("Soft-target knowledge distillation")
    assert losses.listing(["kd", "at"]) == "SoftTargetKD ('kd'), AttentionTransfer ('at')"
    with pytest.raises(
        ValueError, match=r"Unknown distillation loss 'nope'.*'kd'.*SoftTargetKD \('kd'\)"
    ):
        losses.describe("nope")


@pytest.mark.parametrize(
    "make",
    [
        lambda: losses.DKD(alpha=-1.0),
        lambda: losses.DIST(gamma=-0.5),
        lambda: losses.RKD(angle_weight=-50.0),
        lambda: losses.FitNetHint("a", "b", weight=-1.0),
        lambda: losses.AttentionTransfer([("a", "b")], weight=-2),
    ],
)
def test_negative_weights_are_rejected(make):
    with pytest.raises(
        ValueError, match=r"must be a number >= 0, not NaN or infinite. Received: \w+=-"
    ):
        make()
