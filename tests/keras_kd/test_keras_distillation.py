"""Code written for `keras.distillation`, run on `keras_kd.Distiller`.

Numerics against NumPy and against Keras' own Distiller on the same models;
Keras' arguments and config keys; a hostile table of misplaced arguments,
Keras losses given as distillation losses, and hard losses whose
`from_logits` disagrees with the student's head. Every backend.
"""

import keras
import numpy as np
import pytest

import keras_kd
from keras_kd import _keras_distillation
from keras_kd.losses import FitNetHint
from keras_kd.losses import SoftTargetKD

LogitsDistillation = keras.distillation.LogitsDistillation
FeatureDistillation = keras.distillation.FeatureDistillation
LOGITS_LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def mlp(hidden, classes=4, activation=None, name=None):
    inputs = keras.Input((5,))
    features = keras.layers.Dense(hidden, activation="relu", name="hidden")(inputs)
    outputs = keras.layers.Dense(classes, activation=activation, name="head")(features)
    return keras.Model(inputs, outputs, name=name)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(24, 5)).astype("float32")
    y = rng.integers(0, 4, size=24).astype("int32")
    return x, y


@pytest.fixture
def models():
    keras.utils.set_random_seed(1)
    teacher = mlp(8, name="teacher")
    # Sharper teacher logits, so that the temperature matters.
    kernel, bias = teacher.get_layer("head").get_weights()
    teacher.get_layer("head").set_weights([3.0 * kernel, bias])
    return teacher, mlp(8, name="student")


def log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def hinton(t, s, temperature):
    log_p, log_q = log_softmax(t / temperature), log_softmax(s / temperature)
    return temperature**2 * np.mean(np.sum(np.exp(log_p) * (log_p - log_q), -1))


def distillation_loss(distiller, x, y):
    """The distillation term on one batch of the whole data, as evaluated."""
    distiller.compile(optimizer="sgd", loss=LOGITS_LOSS)
    results = distiller.evaluate(x, y, batch_size=len(x), verbose=0, return_dict=True)
    return results["distillation_loss"]


def features(model, x, layer):
    return keras.Model(model.inputs, model.get_layer(layer).output).predict(x, verbose=0)


# -- Numerics ------------------------------------------------------------------


@pytest.mark.parametrize("loss", ["kl_divergence", "kld", "categorical_crossentropy"])
def test_logits_distillation_is_hinton_kd_whatever_its_loss_string(models, data, loss):
    teacher, student = models
    x, y = data
    distiller = keras_kd.Distiller(
        teacher,
        student,
        distillation_losses=LogitsDistillation(temperature=3.0, loss=loss),
        student_loss_weight=0.0,
    )
    t, s = teacher.predict(x, verbose=0), student.predict(x, verbose=0)
    expected = hinton(t, s, 3.0)
    assert distillation_loss(distiller, x, y) == pytest.approx(expected, rel=1e-4)
    [mapped] = distiller.distillation_losses
    assert isinstance(mapped, SoftTargetKD) and mapped.temperature == 3.0


def test_keras_default_kl_divergence_reads_scaled_logits_without_softmax(models, data):
    """What docs/migrating.md says Keras 3.15 computes, measured on Keras' own."""
    teacher, student = models
    x, y = data
    keras_distiller = keras.distillation.Distiller(
        teacher,
        student,
        distillation_losses=LogitsDistillation(temperature=3.0),  # "kl_divergence"
        student_loss_weight=0.0,
    )
    t = teacher.predict(x, verbose=0) / 3.0
    s = student.predict(x, verbose=0) / 3.0
    eps = keras.config.epsilon()
    t_clipped, s_clipped = np.clip(t, eps, 1), np.clip(s, eps, 1)
    no_softmax = np.mean(np.sum(t_clipped * np.log(t_clipped / s_clipped), -1))
    measured = distillation_loss(keras_distiller, x, y)
    assert measured == pytest.approx(no_softmax, rel=1e-4, abs=1e-6)
    assert measured != pytest.approx(hinton(t * 3.0, s * 3.0, 3.0), rel=0.05)


def test_kl_divergence_object_agrees_with_keras_own_distiller(models, data):
    """`loss=keras.losses.KLDivergence()` is the one Keras form that soft-maxes."""
    teacher, student = models
    x, y = data
    make = lambda cls: cls(  # noqa: E731
        teacher,
        student,
        distillation_losses=[
            LogitsDistillation(temperature=2.0, loss=keras.losses.KLDivergence()),
            LogitsDistillation(temperature=5.0, loss=keras.losses.KLDivergence()),
        ],
        distillation_loss_weights=[0.7, 0.3],
        student_loss_weight=0.0,
    )
    ours = distillation_loss(make(keras_kd.Distiller), x, y)
    theirs = distillation_loss(make(keras.distillation.Distiller), x, y)
    t, s = teacher.predict(x, verbose=0), student.predict(x, verbose=0)
    assert ours == pytest.approx(0.7 * hinton(t, s, 2.0) + 0.3 * hinton(t, s, 5.0), rel=1e-4)
    assert ours == pytest.approx(theirs, rel=1e-4)


@pytest.mark.parametrize(
    "keras_loss, distance, offset",
    [("mse", "mse", 0.0), ("mae", "l1", 0.0), ("cosine_similarity", "cosine", 1.0)],
)
def test_feature_distillation_is_fitnet_on_the_same_layers(
    models, data, keras_loss, distance, offset
):
    teacher, student = models
    x, y = data
    make = lambda cls: cls(  # noqa: E731
        teacher,
        student,
        distillation_losses=FeatureDistillation(keras_loss, "hidden", "hidden"),
        student_loss_weight=0.0,
    )
    distiller = make(keras_kd.Distiller)
    [mapped] = distiller.distillation_losses
    assert isinstance(mapped, FitNetHint)
    assert (mapped.teacher_layer, mapped.student_layer, mapped.loss) == (
        "hidden",
        "hidden",
        distance,
    )
    ft, fs = features(teacher, x, "hidden"), features(student, x, "hidden")
    if distance == "mse":
        expected = np.mean((ft - fs) ** 2)
    elif distance == "l1":
        expected = np.mean(np.abs(ft - fs))
    else:
        norms = np.maximum(np.linalg.norm(ft, axis=-1) * np.linalg.norm(fs, axis=-1), 1e-12)
        expected = np.mean(1.0 - np.sum(ft * fs, -1) / norms)
    ours = distillation_loss(distiller, x, y)
    assert ours == pytest.approx(expected, rel=1e-4, abs=1e-6)
    # Keras' cosine_similarity loss is -cos; keras-kd's distance is 1 - cos.
    theirs = distillation_loss(make(keras.distillation.Distiller), x, y)
    assert ours == pytest.approx(theirs + offset, rel=1e-3, abs=1e-5)


# -- Keras' arguments, metrics and config ----------------------------------------


def test_keras_arguments_train_report_total_loss_and_round_trip(models, data, tmp_path):
    teacher, student = models
    x, y = data
    distiller = keras_kd.Distiller(
        teacher,
        student,
        distillation_losses=[
            LogitsDistillation(temperature=3.0),
            FeatureDistillation("mse", "hidden", "hidden"),
        ],
        distillation_loss_weights=[1.0, 0.5],
    )
    assert distiller.student_loss_weight == distiller.alpha == 0.5  # Keras' default.
    assert distiller.distillation_loss_weights == [1.0, 0.5]
    distiller.compile(optimizer="adam", loss=LOGITS_LOSS, metrics=["accuracy"])
    history = distiller.fit(x, y, validation_data=(x, y), epochs=1, verbose=0).history
    for key in ("loss", "total_loss", "val_total_loss", "student_loss", "distillation_loss"):
        assert np.isfinite(history[key]).all(), key
    assert history["total_loss"] == pytest.approx(history["loss"], rel=1e-5)
    config = distiller.get_config()
    assert config["student_loss_weight"] == 0.5
    assert config["distillation_loss_weights"] == [1.0, 0.5]
    assert "alpha" not in config and "distillation_loss" not in config
    path = tmp_path / "distiller.keras"
    distiller.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.student_loss_weight == 0.5
    assert loaded.distillation_loss_weights == [1.0, 0.5]
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), distiller.predict(x, verbose=0), rtol=1e-5, atol=1e-6
    )
    assert "total_loss" in loaded.fit(x, y, epochs=1, verbose=0).history
    loaded.student_loss_weight = 0.25  # Keras' attribute sets keras-kd's alpha.
    assert loaded.alpha == 0.25


def test_keras_positional_arguments_bring_keras_defaults(models):
    """`Distiller(teacher, student, losses)`: Keras' third positional argument."""
    teacher, student = models
    distiller = keras_kd.Distiller(teacher, student, LogitsDistillation(temperature=2.0))
    assert distiller.student_loss_weight == 0.5
    assert "student_loss_weight" in distiller.get_config()


def test_keras_kd_arguments_keep_their_defaults_metrics_and_config(models, data):
    teacher, student = models
    x, y = data
    distiller = keras_kd.Distiller(teacher, student)
    assert distiller.alpha == 0.1
    distiller.compile(optimizer="adam", loss=LOGITS_LOSS)
    history = distiller.fit(x, y, epochs=1, verbose=0).history
    assert "total_loss" not in history
    config = distiller.get_config()
    assert {"alpha", "distillation_loss"} <= set(config)
    assert "student_loss_weight" not in config


def test_distillation_loss_weights_weigh_keras_kd_losses(models, data):
    """The weights set each loss's `weight`: one weighting, not two."""
    teacher, student = models
    x, y = data
    distiller = keras_kd.Distiller(
        teacher,
        student,
        distillation_loss=[SoftTargetKD(temperature=2.0), "fitnet"],
        distillation_loss_weights=[0.25, 3.0],
        alpha=0.0,
    )
    assert [loss.weight for loss in distiller.distillation_losses] == [0.25, 3.0]
    t, s = teacher.predict(x, verbose=0), student.predict(x, verbose=0)
    expected = 0.25 * hinton(t, s, 2.0) + 3.0 * np.mean((t - s) ** 2)
    assert distillation_loss(distiller, x, y) == pytest.approx(expected, rel=1e-4)
    assert distiller.get_config()["distillation_loss"][0]["config"]["weight"] == 0.25


def test_string_hard_loss_on_a_probabilities_head_trains(data):
    keras.utils.set_random_seed(2)
    teacher, student = mlp(8, activation="softmax"), mlp(4, activation="softmax")
    x, y = data
    distiller = keras_kd.Distiller(
        teacher, student, distillation_losses=LogitsDistillation(temperature=2.0)
    )
    distiller.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert np.isfinite(distiller.fit(x, y, epochs=1, verbose=0).history["total_loss"]).all()


# -- Hostile table -----------------------------------------------------------------


class CustomKerasLoss(keras.distillation.DistillationLoss):
    def compute_loss(self, teacher_outputs, student_outputs, **kwargs):
        return keras.ops.mean(keras.ops.square(teacher_outputs - student_outputs))


def distiller(head=None, student_outputs="auto", **kwargs):
    keras.utils.set_random_seed(3)
    return keras_kd.Distiller(
        mlp(8, activation=head),
        mlp(4, activation=head),
        student_outputs=student_outputs,
        **kwargs,
    )


def compiled(loss, head=None, classes=4, **kwargs):
    keras.utils.set_random_seed(3)
    teacher = mlp(8, classes=classes, activation=head)
    student = mlp(4, classes=classes, activation=head)
    distiller = keras_kd.Distiller(teacher, student, **kwargs)
    distiller.compile(optimizer="adam", loss=loss)
    return distiller


def compile_with(**kwargs):
    distiller().compile(optimizer="adam", loss=LOGITS_LOSS, **kwargs)


HOSTILE = [
    # Arguments in keras.io's tutorial's places, or Keras' names given twice.
    (
        "temperature_on_distiller",
        lambda: distiller(temperature=10),
        r"Distiller\(\) does not take temperature=10.*SoftTargetKD\(temperature=10\)",
    ),
    (
        "temperature_on_distiller_beside_keras_losses",
        lambda: distiller(distillation_losses=LogitsDistillation(temperature=3.0), temperature=10),
        r"Distiller\(\) does not take temperature=10.*"
        r"distillation_losses=keras.distillation.LogitsDistillation\(temperature=10\)",
    ),
    (
        "temperature_in_compile",
        lambda: compile_with(temperature=10),
        r"compile\(\) does not take temperature=10.*SoftTargetKD\(temperature=10\)",
    ),
    (
        "keras_io_tutorial_compile",
        lambda: compile_with(
            student_loss_fn=LOGITS_LOSS,
            distillation_loss_fn=keras.losses.KLDivergence(),
            alpha=0.1,
            temperature=10,
        ),
        r"compile\(\) does not take temperature=10, alpha=0.1, student_loss_fn=.*, "
        r"distillation_loss_fn=.*\. temperature: .*SoftTargetKD\(temperature=10\).* "
        r"alpha: .*Distiller\(\.\.\., alpha=0.1\).* student_loss_fn: .*compile\(loss=\.\.\.\)"
        r".* distillation_loss_fn: .*KLDivergence\(\) becomes 'kd'",
    ),
    (
        "alpha_in_compile",
        lambda: compile_with(alpha=0.1),
        r"compile\(\) does not take alpha=0.1.*Distiller\(\.\.\., alpha=0.1\)",
    ),
    (
        "student_loss_fn_in_compile",
        lambda: compile_with(student_loss_fn=LOGITS_LOSS),
        r"student_loss_fn.*compile\(loss=\.\.\.\)",
    ),
    (
        "distillation_loss_fn_in_compile",
        lambda: compile_with(distillation_loss_fn=keras.losses.KLDivergence()),
        r"distillation_loss_fn.*distillation_loss='kd'.*KLDivergence\(\) becomes 'kd'",
    ),
    (
        "both_loss_arguments",
        lambda: distiller(distillation_loss="kd", distillation_losses=LogitsDistillation()),
        r"both distillation_loss= and distillation_losses=.*Pass one",
    ),
    (
        "both_alpha_arguments",
        lambda: distiller(alpha=0.1, student_loss_weight=0.5),
        r"both alpha= and student_loss_weight=.*Pass one",
    ),
    (
        "keras_weights_in_alphas_position",
        lambda: keras_kd.Distiller(
            mlp(8), mlp(4), [LogitsDistillation(), LogitsDistillation()], [0.7, 0.3]
        ),
        r"alpha received a list.*fourth positional argument is distillation_loss_weights",
    ),
    (
        "student_loss_weight_out_of_range",
        lambda: distiller(student_loss_weight=1.5),
        r"alpha.*1\.5",
    ),
    (
        "weights_of_wrong_length",
        lambda: distiller(
            distillation_losses=[LogitsDistillation(), LogitsDistillation()],
            distillation_loss_weights=[1.0],
        ),
        r"1 weights for 2 distillation losses",
    ),
    (
        "empty_keras_losses",
        lambda: distiller(distillation_losses=[]),
        r"`distillation_losses` is an empty list.*LogitsDistillation\(temperature=3.0\)",
    ),
    (
        "weights_not_a_list",
        lambda: distiller(distillation_losses=LogitsDistillation(), distillation_loss_weights=0.5),
        r"distillation_loss_weights must be a list with one weight per distillation loss.*\[0.5\]",
    ),
    (
        "weight_set_twice",
        lambda: distiller(
            distillation_loss=SoftTargetKD(weight=0.5), distillation_loss_weights=[0.7]
        ),
        r"weight=0.5.*gives it 0.7.*one place",
    ),
    # Keras losses where a distillation loss goes.
    (
        "kl_divergence_object",
        lambda: distiller(distillation_loss=keras.losses.KLDivergence()),
        r"'KLDivergence'.*no temperature and no softmax.*distillation_loss=\"kd\".*SoftTargetKD",
    ),
    (
        "kl_divergence_string",
        lambda: distiller(distillation_loss="kl_divergence"),
        r"'kl_divergence'.*distillation_loss=\"kd\".*SoftTargetKD",
    ),
    ("kld_string", lambda: distiller(distillation_loss="kld"), r"'kld'.*distillation_loss=\"kd\""),
    (
        "kl_divergence_function",
        lambda: distiller(distillation_loss=keras.losses.kl_divergence),
        r"'kl_divergence'.*distillation_loss=\"kd\"",
    ),
    (
        "kl_divergence_in_keras_list",
        lambda: distiller(distillation_losses=[LogitsDistillation(), "kld"]),
        r"'kld'.*distillation_loss=\"kd\"",
    ),
    (
        "categorical_crossentropy_string",
        lambda: distiller(distillation_loss="categorical_crossentropy"),
        r"'categorical_crossentropy'.*distillation_loss=\"kd\"",
    ),
    (
        "other_keras_loss",
        lambda: distiller(distillation_loss=keras.losses.Hinge()),
        r"'Hinge' is a Keras loss, not a distillation loss.*compile\(loss=\.\.\.\).*'kd'",
    ),
    # Keras distillation objects keras-kd cannot map.
    (
        "logits_distillation_with_mse",
        lambda: distiller(distillation_losses=LogitsDistillation(loss="mse")),
        r"LogitsDistillation\(loss='mean_squared_error'\).*FeatureDistillation\(loss='mse'\)",
    ),
    (
        "logits_distillation_nested",
        lambda: distiller(distillation_losses=LogitsDistillation(loss=["kl_divergence", None])),
        r"nested loss structure.*several outputs",
    ),
    (
        "feature_distillation_with_huber",
        lambda: distiller(distillation_losses=FeatureDistillation("huber", "hidden", "hidden")),
        r"FeatureDistillation\(loss='huber'\) has no keras-kd counterpart.*'mse'",
    ),
    (
        "feature_distillation_missing_layer",
        lambda: distiller(distillation_losses=FeatureDistillation("mse", "nope", "hidden")),
        r"has no layer named 'nope'",
    ),
    (
        "custom_keras_distillation_loss",
        lambda: distiller(distillation_losses=CustomKerasLoss()),
        r"custom keras.distillation loss CustomKerasLoss.*docs/adding_a_loss.md",
    ),
    # Hard losses whose from_logits disagrees with the student's head.
    (
        "string_loss_on_logits",
        lambda: compiled("sparse_categorical_crossentropy"),
        r"loss='sparse_categorical_crossentropy'.*from_logits=False.*outputs logits"
        r".*SparseCategoricalCrossentropy\(from_logits=True\)",
    ),
    (
        "default_loss_object_on_logits",
        lambda: compiled(keras.losses.SparseCategoricalCrossentropy()),
        r"SparseCategoricalCrossentropy.*outputs logits.*from_logits=True",
    ),
    (
        "loss_function_on_logits",
        lambda: compiled(keras.losses.categorical_crossentropy),
        r"keras.losses.categorical_crossentropy.*CategoricalCrossentropy\(from_logits=True\)",
    ),
    (
        "binary_string_on_logits",
        lambda: compiled("binary_crossentropy", classes=1),
        r"'binary_crossentropy'.*BinaryCrossentropy\(from_logits=True\)",
    ),
    (
        "from_logits_on_softmax",
        lambda: compiled(LOGITS_LOSS, head="softmax"),
        r"from_logits=True, but the student .* outputs probabilities.*from_logits=False"
        r".*'sparse_categorical_crossentropy'",
    ),
    (
        "from_logits_on_sigmoid",
        lambda: compiled(
            keras.losses.BinaryCrossentropy(from_logits=True),
            head="sigmoid",
            classes=1,
            distillation_loss="binary_kd",
        ),
        r"BinaryCrossentropy with from_logits=True.*probabilities",
    ),
]


@pytest.mark.parametrize(
    "run, pattern", [case[1:] for case in HOSTILE], ids=[case[0] for case in HOSTILE]
)
def test_hostile(run, pattern):
    with pytest.raises(ValueError, match=pattern):
        run()


ACCEPTED = [
    ("logits_loss_on_logits", lambda: compiled(LOGITS_LOSS)),
    ("string_loss_on_softmax", lambda: compiled("sparse_categorical_crossentropy", head="softmax")),
    (
        "string_loss_on_head_declared_probabilities",
        lambda: compiled("sparse_categorical_crossentropy", student_outputs="probabilities"),
    ),
    ("regression_loss_has_no_from_logits", lambda: compiled("mse", distillation_loss="mse")),
    (
        "registered_name_shadowing_a_keras_loss",
        lambda: compiled(LOGITS_LOSS, distillation_loss="mse"),
    ),
    (
        "keras_kd_loss_config",
        lambda: compiled(
            LOGITS_LOSS,
            distillation_loss=keras.saving.serialize_keras_object(SoftTargetKD(temperature=2.0)),
        ),
    ),
]


@pytest.mark.parametrize("run", [case[1] for case in ACCEPTED], ids=[case[0] for case in ACCEPTED])
def test_accepted(run):
    assert isinstance(run(), keras_kd.Distiller)


def test_mapping_is_the_one_the_distiller_uses():
    loss = _keras_distillation.to_loss(FeatureDistillation(keras.losses.MeanAbsoluteError()))
    assert isinstance(loss, FitNetHint)
    assert (loss.teacher_layer, loss.student_layer, loss.loss) == (None, None, "l1")
