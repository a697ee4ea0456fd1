"""Hostile inputs to the Python API (issue 14): a table of cases.

Each case builds small models, does one hostile thing and expects either a
clear error (its type and the words of its message) or the correct result.
After every case the models it touched are intact: their weights read back
(unchanged when the case failed before any training) and the student saves.
Runs on every backend; on JAX a failure inside the train step must not leave
the variables detached by Keras' stateless trainer.
"""

import collections
import math
import re

import keras
import numpy as np
import pytest

import keras_kd
from keras_kd import callbacks
from keras_kd import losses
from keras_kd.apps import recipes
from keras_kd.losses.rkd import rkd_loss

NAN, INF = float("nan"), float("inf")
Case = collections.namedtuple("Case", "id run error words")


class Models:
    """The models a case builds, to check them afterwards."""

    def __init__(self):
        self.models = []
        self.initial_weights = []

    def add(self, model):
        self.models.append(model)
        self.initial_weights.append(model.get_weights())
        return model

    def dense(self, classes=3, features=16, activation=None, name=None):
        return self.add(
            keras.Sequential(
                [
                    keras.Input((features,)),
                    keras.layers.Dense(4, activation="relu", name="hidden"),
                    keras.layers.Dense(classes, activation=activation, name="head"),
                ],
                name=name,
            )
        )

    def two_heads(self, as_dict=False):
        inputs = keras.Input((16,))
        hidden = keras.layers.Dense(4, name="hidden")(inputs)
        a = keras.layers.Dense(3, name="class_head")(hidden)
        b = keras.layers.Dense(3, name="aux_head")(hidden)
        outputs = {"class_head": a, "aux_head": b} if as_dict else [a, b]
        return self.add(keras.Model(inputs, outputs, name="two_heads"))

    def dict_subclassed(self):
        class DictOutputs(keras.Model):
            def __init__(self):
                super().__init__(name="dict_outputs")
                self.head = keras.layers.Dense(3)

            def call(self, x):
                return {"logits": self.head(x)}

        model = DictOutputs()
        model(np.zeros((1, 16), "float32"))
        return self.add(model)


def data(n=16, features=16):
    rng = np.random.default_rng(0)
    return (
        rng.normal(size=(n, features)).astype("float32"),
        rng.integers(0, 3, size=n).astype("int32"),
    )


def fit(distiller, x, y=None, alpha_loss=True, **kwargs):
    distiller.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True) if alpha_loss else None,
        metrics=kwargs.pop("metrics", None),
    )
    kwargs.setdefault("batch_size", 8)
    return distiller.fit(x, y, epochs=kwargs.pop("epochs", 1), verbose=0, **kwargs)


def distiller(m, loss="kd", alpha=0.0, teacher=None, student=None, **kwargs):
    return keras_kd.Distiller(
        teacher if teacher is not None else m.dense(name="teacher"),
        student if student is not None else m.dense(name="student"),
        distillation_loss=loss,
        alpha=alpha,
        **kwargs,
    )


class RaisingLoss(losses.DistillationLoss):
    def call(self, teacher, student, y=None):
        raise RuntimeError("custom loss failed on purpose")


def schedule_of(value):
    return lambda epoch: value


# -- Results that must be correct --------------------------------------------


def numpy_scalar_temperature(m):
    assert losses.SoftTargetKD(np.float32(4.0)).temperature == 4.0
    assert losses.DKD(temperature=np.float64(2.0)).temperature == 2.0
    assert losses.DIST(temperature=np.int64(3)).temperature == 3.0


def numpy_scalar_hyperparameters(m):
    d = distiller(m, alpha=np.float32(0.25))
    assert d.alpha == 0.25 and type(d.alpha) is float
    assert losses.DKD(alpha=np.float32(1), beta=np.int32(8)).beta == 8.0
    assert losses.SoftTargetKD(weight=np.float16(0.5)).weight == 0.5


def numpy_ensemble_weights(m):
    d = distiller(
        m,
        teacher=[m.dense(name="t1"), m.dense(name="t2")],
        teacher_weights=np.array([3, 1], "float32"),
    )
    assert d.teacher.member_weights == [0.75, 0.25]


def numpy_decay_and_warmup_epochs(m):
    student = m.dense(name="student")
    assert keras_kd.teachers.EMATeacher(student, decay=np.float32(0.5)).decay == 0.5
    assert callbacks.DistillationWarmup(np.int64(4)).epochs == 4


def numpy_schedule_values(m):
    x, y = data()
    d = distiller(m, alpha=0.1)
    history = fit(
        d,
        x,
        y,
        epochs=2,
        callbacks=[
            callbacks.TemperatureSchedule(schedule_of(np.float32(2.0))),
            callbacks.AlphaSchedule(schedule_of(np.float64(0.5))),
        ],
    )
    assert history.history["temperature"] == [2.0, 2.0]
    assert d.alpha == 0.5


def zero_probability_teacher(m):
    """A softmax teacher whose probabilities are exactly 0 (defect 5)."""
    teacher_probs = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], "float32")
    student = np.array([[2.0, -1.0, 0.5], [0.1, 0.2, 3.0]], "float32")
    y = np.array([0, 2])
    for loss in (losses.SoftTargetKD(4.0), losses.DKD(), losses.DIST()):
        value = loss(
            losses.ModelOutputs(teacher_probs, "probabilities"),
            losses.ModelOutputs(student, "logits"),
            y,
        )
        assert np.all(np.isfinite(keras.ops.convert_to_numpy(value))), loss


def zero_probability_teacher_in_training(m):
    """A saturated softmax teacher trained through: every epoch finite."""
    teacher = m.dense(activation="softmax", name="teacher")
    head = teacher.get_layer("head")
    kernel, bias = head.get_weights()
    head.set_weights([kernel * 0, np.array([200.0, 0.0, -200.0], "float32")])
    x, y = data()
    history = fit(distiller(m, teacher=teacher, alpha=0.5), x, y, epochs=2)
    assert all(math.isfinite(v) for v in history.history["loss"])


class MaskLastClass(keras.layers.Layer):
    """Sets the last logit to -inf: a class the teacher forbids (a language
    model's masked tokens)."""

    def call(self, logits):
        return keras.ops.where(
            keras.ops.arange(logits.shape[-1]) == logits.shape[-1] - 1, -INF, logits
        )


def masked_logits_teacher_in_training(m):
    """Before: every loss of the teacher's soft targets NaN from the first
    step, and the student's weights with it."""
    inputs = keras.Input((16,))
    teacher = keras.Model(inputs, MaskLastClass()(m.dense(name="teacher")(inputs)))
    x, y = data()
    y = y % 2  # the masked class is never a label
    for loss in (
        losses.SoftTargetKD(4.0),
        losses.SoftTargetKD(2.0, divergence="jsd"),
        losses.DKD(),
        losses.MLD(),
    ):
        history = fit(distiller(m, loss=loss, teacher=teacher, alpha=0.5), x, y, epochs=2)
        assert all(math.isfinite(v) for v in history.history["loss"]), loss.name


def mixed_precision_softmax_teacher(m):
    keras.config.set_dtype_policy("mixed_float16")
    try:
        teacher = m.dense(activation="softmax", name="teacher")
        head = teacher.get_layer("head")
        kernel, _ = head.get_weights()
        head.set_weights([kernel * 0, np.array([30.0, 0.0, -30.0], "float32")])
        student = m.dense(name="student")
    finally:
        keras.config.set_dtype_policy("float32")
    x, y = data()
    history = fit(distiller(m, teacher=teacher, student=student, alpha=0.5), x, y)
    assert math.isfinite(history.history["loss"][0])


def rkd_batch_of_one(m):
    e = np.random.default_rng(0).normal(size=(1, 8)).astype("float32")
    value = rkd_loss(e, 2.0 * e)
    assert float(keras.ops.convert_to_numpy(value)) == 0.0


def rkd_short_final_batch(m):
    x, y = data(n=9)  # Batches of 8 and 1.
    history = fit(distiller(m, loss="rkd", alpha=0.5), x, y)
    assert math.isfinite(history.history["loss"][0])


def unlabeled_with_metrics(m):
    """alpha=0, no labels, metrics given to compile: label metrics skipped."""
    x, _ = data()
    d = distiller(m, alpha=0.0)
    history = fit(d, x, None, alpha_loss=False, metrics=["accuracy"], epochs=2)
    assert "accuracy" not in history.history
    assert all(math.isfinite(v) for v in history.history["distillation_loss"])
    assert set(d.evaluate(x, verbose=0, return_dict=True)) >= {"loss"}


def one_output_in_a_list(m):
    inputs = keras.Input((16,))
    model = m.add(keras.Model(inputs, [keras.layers.Dense(3)(inputs)], name="listed"))
    distiller(m, teacher=model)


def fit_again_after_failure(m):
    """A failing fit leaves a Distiller that trains on the next fit."""
    x, y = data()
    d = distiller(m, loss="dkd")
    with pytest.raises(ValueError, match="needs the labels"):
        fit(d, x, None, alpha_loss=False)
    history = fit(d, x, y)
    assert math.isfinite(history.history["loss"][0])


# -- Errors ------------------------------------------------------------------


def kd(**kwargs):
    return lambda m: losses.SoftTargetKD(**kwargs)


def failing_fit(loss, y_given=True, **kwargs):
    def run(m):
        x, y = data()
        fit(
            distiller(m, loss=loss, **kwargs),
            x,
            y if y_given else None,
            alpha_loss=kwargs.get("alpha", 0.0) > 0,
        )

    return run


def with_schedule(callback):
    def run(m):
        x, y = data()
        fit(distiller(m, alpha=0.1), x, y, callbacks=[callback])

    return run


def assign(attribute, value, of_loss=False):
    def run(m):
        d = distiller(m)
        setattr(d.distillation_losses[0] if of_loss else d, attribute, value)

    return run


TEMPERATURE = r"temperature must be a number > 0, finite and in \[0.01, 1000\]"

CASES = [
    # Defect 7 and 19: temperatures.
    Case(
        "kd_temperature_nan",
        kd(temperature=NAN),
        ValueError,
        [TEMPERATURE, "Received: temperature=nan"],
    ),
    Case("kd_temperature_inf", kd(temperature=INF), ValueError, [TEMPERATURE, "temperature=inf"]),
    Case(
        "kd_temperature_1e30",
        kd(temperature=1e30),
        ValueError,
        [TEMPERATURE, r"temperature=1e\+30"],
    ),
    Case(
        "kd_temperature_1e-30",
        kd(temperature=1e-30),
        ValueError,
        [TEMPERATURE, "temperature=1e-30"],
    ),
    Case("kd_temperature_zero", kd(temperature=0), ValueError, [TEMPERATURE, "temperature=0"]),
    Case(
        "kd_temperature_bool", kd(temperature=True), ValueError, [TEMPERATURE, "temperature=True"]
    ),
    Case(
        "kd_temperature_string", kd(temperature="4"), ValueError, [TEMPERATURE, "temperature='4'"]
    ),
    Case("kd_temperature_array", kd(temperature=np.array([4.0, 2.0])), ValueError, [TEMPERATURE]),
    Case("dkd_temperature_nan", lambda m: losses.DKD(temperature=NAN), ValueError, [TEMPERATURE]),
    Case("dist_temperature_inf", lambda m: losses.DIST(temperature=INF), ValueError, [TEMPERATURE]),
    Case(
        "temperature_assigned_nan",
        assign("temperature", NAN, of_loss=True),
        ValueError,
        [TEMPERATURE],
    ),
    # Loss weights and each loss's own parameters.
    Case(
        "loss_weight_nan",
        kd(weight=NAN),
        ValueError,
        [
            "SoftTargetKD `weight` multiplies the loss .* must be a number >= 0, not NaN or infinite",
            "weight=nan",
        ],
    ),
    Case(
        "loss_weight_inf",
        kd(weight=INF),
        ValueError,
        ["must be a number >= 0, not NaN or infinite", "weight=inf"],
    ),
    Case(
        "loss_weight_negative",
        lambda m: losses.DKD(weight=-1),
        ValueError,
        ["DKD `weight`", "weight=-1"],
    ),
    Case(
        "loss_weight_bool",
        kd(weight=False),
        ValueError,
        ["`weight` .*must be a number >= 0", "weight=False"],
    ),
    Case(
        "dkd_alpha_nan",
        lambda m: losses.DKD(alpha=NAN),
        ValueError,
        ["DKD `alpha` must be a number >= 0, not NaN or infinite", "alpha=nan"],
    ),
    Case(
        "dkd_beta_inf",
        lambda m: losses.DKD(beta=INF),
        ValueError,
        ["DKD `beta` must be a number >= 0, not NaN or infinite", "beta=inf"],
    ),
    Case(
        "dist_beta_nan",
        lambda m: losses.DIST(beta=NAN),
        ValueError,
        ["DIST `beta` must be a number >= 0, not NaN or infinite"],
    ),
    Case(
        "dist_gamma_inf",
        lambda m: losses.DIST(gamma=INF),
        ValueError,
        ["DIST `gamma` must be a number >= 0, not NaN", "gamma=inf"],
    ),
    Case(
        "rkd_angle_weight_nan",
        lambda m: losses.RKD(angle_weight=NAN),
        ValueError,
        ["RKD `angle_weight` must be a number >= 0, not NaN"],
    ),
    Case(
        "attention_p_inf",
        lambda m: losses.AttentionTransfer([("a", "b")], p=INF),
        ValueError,
        ["AttentionTransfer `p` must be a number > 0, not NaN or infinite", "p=inf"],
    ),
    # The Distiller's own hyper-parameters.
    Case(
        "alpha_nan",
        lambda m: distiller(m, alpha=NAN),
        ValueError,
        [
            r"`alpha` is the weight of the student's hard-label loss and must be a number in \[0, 1\]",
            "alpha=nan",
        ],
    ),
    Case(
        "alpha_bool",
        lambda m: distiller(m, alpha=True),
        ValueError,
        [r"must be a number in \[0, 1\]", "alpha=True"],
    ),
    Case(
        "alpha_above_one",
        lambda m: distiller(m, alpha=np.float32(1.5)),
        ValueError,
        [r"in \[0, 1\]", r"alpha=np.float32\(1.5\)"],
    ),
    Case(
        "distillation_scale_inf",
        assign("distillation_scale", INF),
        ValueError,
        [
            "`distillation_scale` multiplies the distillation term and must be a number >= 0, not NaN or infinite",
            "distillation_scale=inf",
        ],
    ),
    # Defect 18: ensemble weights.
    Case(
        "ensemble_weights_nan",
        lambda m: distiller(m, teacher=[m.dense(), m.dense()], teacher_weights=[NAN, 1]),
        ValueError,
        [
            "`teacher_weights` must hold one number >= 0 per teacher, finite",
            r"teacher_weights=\[nan, 1\]",
        ],
    ),
    Case(
        "ensemble_weights_inf",
        lambda m: distiller(m, teacher=[m.dense(), m.dense()], teacher_weights=[INF, 1]),
        ValueError,
        ["finite and not all zero", "inf"],
    ),
    Case(
        "ensemble_weights_bool",
        lambda m: distiller(m, teacher=[m.dense(), m.dense()], teacher_weights=[True, 1]),
        ValueError,
        ["`teacher_weights` must hold one number"],
    ),
    # EMA decay and the callbacks.
    Case(
        "ema_decay_nan",
        lambda m: keras_kd.teachers.EMATeacher(m.dense(), decay=NAN),
        ValueError,
        [r"EMATeacher `decay` must be a number in \[0, 1\)", "decay=nan"],
    ),
    Case(
        "ema_decay_one",
        lambda m: keras_kd.teachers.EMATeacher(m.dense(), decay=np.float32(1.0)),
        ValueError,
        [r"in \[0, 1\)", r"decay=np.float32\(1.0\)"],
    ),
    Case(
        "warmup_epochs_bool",
        lambda m: callbacks.DistillationWarmup(True),
        ValueError,
        ["must be an integer >= 1", "epochs=True"],
    ),
    Case(
        "warmup_epochs_nan",
        lambda m: callbacks.DistillationWarmup(NAN),
        ValueError,
        ["must be an integer >= 1", "epochs=nan"],
    ),
    Case(
        "temperature_schedule_nan",
        with_schedule(callbacks.TemperatureSchedule(schedule_of(NAN))),
        ValueError,
        [
            r"schedule\(0\) returned temperature=nan",
            r"must be a finite number > 0, in \[0.01, 1000\]",
        ],
    ),
    Case(
        "temperature_schedule_1e30",
        with_schedule(callbacks.TemperatureSchedule(schedule_of(1e30))),
        ValueError,
        [r"returned temperature=1e\+30"],
    ),
    Case(
        "alpha_schedule_nan",
        with_schedule(callbacks.AlphaSchedule(schedule_of(np.float32("nan")))),
        ValueError,
        [r"returned alpha=np.float32\(nan\)", r"must be a number in \[0, 1\]"],
    ),
    Case(
        "alpha_schedule_bool",
        with_schedule(callbacks.AlphaSchedule(schedule_of(True))),
        ValueError,
        ["returned alpha=True"],
    ),
    # Defects 6 and 21: several outputs, dict outputs.
    Case(
        "teacher_two_outputs",
        lambda m: distiller(m, teacher=m.two_heads()),
        ValueError,
        [
            "The teacher 'two_heads' has 2 outputs",
            r"\['class_head', 'aux_head'\]",
            r"teacher.outputs\[0\]",
        ],
    ),
    Case(
        "student_two_outputs",
        lambda m: distiller(m, student=m.two_heads()),
        ValueError,
        ["The student 'two_heads' has 2 outputs", "Select the head to distil"],
    ),
    Case(
        "teacher_dict_outputs",
        lambda m: distiller(m, teacher=m.two_heads(as_dict=True)),
        ValueError,
        ["has a dict of 2 outputs", "aux_head", "class_head"],
    ),
    Case(
        "subclassed_teacher_dict_outputs",
        lambda m: distiller(m, teacher=m.dict_subclassed()),
        ValueError,
        ["The teacher 'dict_outputs' has a dict of 1 outputs", r"keys \['logits'\]"],
    ),
    Case(
        "ensemble_member_two_outputs",
        lambda m: distiller(m, teacher=[m.dense(), m.two_heads()]),
        ValueError,
        ["The teacher 1 'two_heads' has 2 outputs"],
    ),
    # Defect 25: input shapes (checked in the step, since x may be a dict {"teacher": ..., "student": ...}).
    Case(
        "teacher_input_shape_differs",
        lambda m: fit(distiller(m, teacher=m.dense(features=8, name="teacher")), *data()),
        ValueError,
        [
            "input shapes differ",
            r"teacher 'teacher' input shape \(None, 8\)",
            r"student 'student' input shape \(None, 16\)",
            "Resizing",
        ],
    ),
    Case(
        "ensemble_member_input_shape_differs",
        lambda m: fit(distiller(m, teacher=[m.dense(), m.dense(features=12)]), *data()),
        ValueError,
        ["input shapes differ", r"\(None, 12\)"],
    ),
    # Defect 1: failures inside the train step leave the models intact.
    Case(
        "dkd_without_labels_in_fit",
        failing_fit("dkd", y_given=False),
        ValueError,
        ["The distillation loss DKD needs the labels", "y is None"],
    ),
    Case(
        "custom_loss_raises_in_fit",
        failing_fit(RaisingLoss()),
        RuntimeError,
        ["custom loss failed on purpose"],
    ),
    Case(
        "labels_missing_with_alpha",
        failing_fit("kd", y_given=False, alpha=0.5),
        ValueError,
        ["alpha=0.5 weights the student's hard-label loss", "no labels"],
    ),
    # Recipes.
    Case(
        "born_again_generations_nan",
        lambda m: recipes.born_again(lambda: m.dense(), m.dense(), *data(), generations=NAN),
        ValueError,
        ["`generations` must be an integer >= 1"],
    ),
    # Correct results.
    Case("numpy_scalar_temperature", numpy_scalar_temperature, None, []),
    Case("numpy_scalar_hyperparameters", numpy_scalar_hyperparameters, None, []),
    Case("numpy_ensemble_weights", numpy_ensemble_weights, None, []),
    Case("numpy_decay_and_warmup_epochs", numpy_decay_and_warmup_epochs, None, []),
    Case("numpy_schedule_values", numpy_schedule_values, None, []),
    Case("zero_probability_teacher", zero_probability_teacher, None, []),
    Case("zero_probability_teacher_in_training", zero_probability_teacher_in_training, None, []),
    Case("masked_logits_teacher_in_training", masked_logits_teacher_in_training, None, []),
    Case("mixed_float16_softmax_teacher", mixed_precision_softmax_teacher, None, []),
    Case("rkd_batch_of_one", rkd_batch_of_one, None, []),
    Case("rkd_short_final_batch", rkd_short_final_batch, None, []),
    Case("unlabeled_with_label_metrics", unlabeled_with_metrics, None, []),
    Case("one_output_in_a_list", one_output_in_a_list, None, []),
    Case("fit_again_after_failure", fit_again_after_failure, None, []),
]


def test_the_suite_is_large_enough():
    errors = sum(case.error is not None for case in CASES)
    assert len(CASES) >= 35 and errors >= 25 and len(CASES) - errors >= 10
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_hostile_input(case, tmp_path):
    m = Models()
    if case.error is None:
        case.run(m)
    else:
        with pytest.raises(case.error) as raised:
            case.run(m)
        for words in case.words:
            assert re.search(words, str(raised.value)), (words, str(raised.value))
    assert_intact(m, tmp_path, unchanged=case.error is not None)


def assert_intact(m, tmp_path, unchanged):
    """Every model still reads its weights, all finite, and saves.

    After a failure (every error case fails before any optimizer step)
    the weights are also those the model had when it was built.
    """
    for i, (model, initial) in enumerate(zip(m.models, m.initial_weights)):
        weights = model.get_weights()
        assert all(np.all(np.isfinite(w)) for w in weights), model.name
        if unchanged:
            for before, after in zip(initial, weights):
                np.testing.assert_array_equal(before, after)
        model.save(tmp_path / f"model_{i}.keras")
