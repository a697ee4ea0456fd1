"""`Distiller`: trains a student on a teacher's soft targets and the labels."""

import contextlib
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import MutableMapping
from collections.abc import Sequence
from typing import Any
from typing import Union

import keras
import numpy as np
from keras import ops

from keras_kd import _keras_compat
from keras_kd import _keras_distillation
from keras_kd import _saving
from keras_kd import augment as augment_lib
from keras_kd import checks
from keras_kd import hyperparameters
from keras_kd import outputs as outputs_lib
from keras_kd import teachers as teachers_lib
from keras_kd import validation
from keras_kd import views as views_lib
from keras_kd.losses.base import DistillationLoss
from keras_kd.losses.base import ModelOutputs
from keras_kd.losses.reduction import PositionWeights
from keras_kd.taps import Tapped
from keras_kd.teachers.base import resolve_output_kind
from keras_kd.teachers.cache import CachedBatches

# A distillation loss as the Distiller takes it: a registered name or an object.
LossSpec = Union[str, DistillationLoss]


@keras.saving.register_keras_serializable(package="keras_kd")
class Distiller(keras.Model):
    """Knowledge distillation from a frozen teacher into a student.

    Each training step runs the teacher once (`training=False`, no gradient)
    and the student once, exposing from those same passes any intermediate
    layers the distillation losses read, and minimizes

    `alpha * hard_loss(y, student(x)) + (1 - alpha) * s * sum_i w_i * loss_i`

    where `hard_loss` is the loss given to `compile()` and `s` is
    `distillation_scale`, 1 unless a `keras_kd.callbacks.DistillationWarmup`
    ramps it up. The callbacks of `keras_kd.callbacks` change `alpha`, `s`
    and the losses' temperatures between epochs. Keras' own trainer
    for the active backend (TensorFlow, JAX or PyTorch) computes and applies
    the gradients, so optimizers, loss scaling, `jit_compile`, callbacks and
    distribution strategies behave as for any Keras model.

    Args:
        teacher: A built `keras.Model`, frozen (`trainable = False`); a
            list of them, whose softened distributions are averaged (an
            ensemble; architectures may differ, output shapes may not); or
            any `keras_kd.teachers.Teacher`, such as an `EMATeacher` of the
            student (self-distillation). Held as one `Teacher` object in
            `distiller.teacher`; `distiller.teachers` lists its models.
        student: A `keras.Model` with the same output shape. An unbuilt
            one (a subclassed model never called) is built on a batch of
            zeros shaped like the teacher's inputs.
        distillation_loss: A `keras_kd.losses.DistillationLoss`, a registered
            name such as `"kd"`, a `keras.distillation.LogitsDistillation`
            or `FeatureDistillation` (mapped onto `SoftTargetKD` and
            `FitNetHint`: see docs/migrating.md), or a list of those (summed
            with their `weight`s). Defaults to `SoftTargetKD(temperature=4.0)`.
        alpha: Weight in [0, 1] of the student's hard-label loss;
            `1 - alpha` goes to distillation. With `alpha=0` no labels are
            needed. Defaults to 0.1 (0.5, Keras' default, when the losses
            are given as `distillation_losses=` or as `keras.distillation`
            objects).
        teacher_outputs: `"auto"` (read the teacher's head: a softmax or
            sigmoid means probabilities), `"logits"` or `"probabilities"`.
        student_outputs: Same, for the student.
        teacher_weights: For an ensemble, one weight >= 0 per teacher
            (normalized to sum 1); `None` for equal weights.
        augmentation: `None`, or a Keras preprocessing layer or a list of
            them (`keras.layers.RandomFlip`, `RandomTranslation`, `MixUp`,
            `CutMix`, ... with a `seed`), applied in training steps only,
            once per step, to `x` before the teacher and the student read
            it, so both see the same view (function matching; see
            `keras_kd.apps.recipes.function_matching`). Needs a live teacher;
            MixUp / CutMix need `alpha=0`. Saved with the Distiller.
        teacher_preprocessor: `None`, or a Keras layer or function (of
            `keras.ops`) that makes the teacher's inputs from the student's
            in every step, e.g. `keras.layers.Resizing(28, 28)` for a
            teacher of a higher resolution. Part of the teacher: frozen,
            in inference mode, saved with the Distiller (a function must be
            registered with `keras.saving.register_keras_serializable` to
            be saved). Alternatively, give each model its own inputs with
            `x = {"teacher": x_teacher, "student": x_student}`; `predict`
            and `evaluate` then take the student's inputs alone. See
            docs/inputs.md.
        distillation_losses: `keras.distillation.Distiller`'s name for
            `distillation_loss`. Given this way, or as `keras.distillation`
            objects, the Distiller also reports `total_loss` and writes its
            config with Keras' keys, so code written for
            `keras.distillation` runs unchanged.
        distillation_loss_weights: One weight >= 0 per distillation loss,
            set as each loss's `weight`; `None` keeps their weights.
        student_loss_weight: `keras.distillation.Distiller`'s name for
            `alpha`.
        **kwargs: Passed to `keras.Model`.

    Attributes:
        alpha: The current `alpha`, a float; assigning it (e.g. from a
            callback, between epochs) takes effect in the compiled step.
        distillation_scale: Float multiplier of the distillation term,
            1.0 unless a callback changes it. Not part of the config.

    Example:

    >>> distiller = keras_kd.Distiller(
    ...     teacher=teacher, student=student,
    ...     distillation_loss=keras_kd.losses.SoftTargetKD(temperature=4.0),
    ...     alpha=0.1)
    >>> distiller.compile(
    ...     optimizer="adam",
    ...     loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    ...     metrics=["accuracy"])
    >>> distiller.fit(x_train, y_train, epochs=5)
    >>> student = distiller.student
    """

    # Floats that the compiled step reads through variables: see
    # `keras_kd.hyperparameters`.
    alpha = hyperparameters.Hyperparameter(validation.check_alpha)
    distillation_scale = hyperparameters.Hyperparameter(validation.check_distillation_scale)

    def __init__(
        self,
        teacher: "keras.Model | Sequence[keras.Model] | teachers_lib.Teacher",
        student: keras.Model,
        distillation_loss: "LossSpec | Sequence[LossSpec] | None" = None,
        alpha: float | None = None,
        teacher_outputs: str = "auto",
        student_outputs: str = "auto",
        teacher_weights: Sequence[float] | None = None,
        augmentation: "keras.layers.Layer | Sequence[keras.layers.Layer] | None" = None,
        teacher_preprocessor: "keras.layers.Layer | Callable | None" = None,
        distillation_losses: Any = None,
        distillation_loss_weights: Sequence[float] | None = None,
        student_loss_weight: float | None = None,
        **kwargs,
    ) -> None:
        _keras_distillation.check_misplaced_arguments(kwargs, "Distiller()")
        arguments = _keras_distillation.resolve(
            distillation_loss,
            alpha,
            distillation_losses,
            distillation_loss_weights,
            student_loss_weight,
        )
        _keras_compat.check_distribution(teacher, student)
        super().__init__(**kwargs)
        self.teacher = teachers_lib.get(teacher, teacher_weights)
        if teacher_preprocessor is None:
            # An unbuilt (subclassed) student is built before anything reads
            # it, from the teacher's inputs: here they are the student's too.
            validation.build_from_teacher(student, self.teacher.models)
        validation.check_model(student, "student")
        validation.check_not_shared(self.teacher.models, student)
        self.alpha = arguments.alpha
        self.augmentation = augment_lib.check(
            augmentation, self.teacher, self.alpha, validation.input_shape(student)
        )
        self.distillation_scale = 1.0
        self.student = student
        self.distillation_losses = arguments.losses
        self._keras_style = arguments.keras_style
        teachers_lib.bind_teacher(
            self.teacher,
            student,
            _tapped_layers(self.distillation_losses, "teacher"),
            teacher_outputs,
            preprocessor=teacher_preprocessor,
        )
        self.student_kind = resolve_output_kind(student, student_outputs, "student")
        outputs_lib.check_heads(
            self.distillation_losses,
            [*self.teacher.models, student],
            [*self.teacher.kinds, self.student_kind],
        )
        self._teacher_outputs_setting = teacher_outputs
        self._student_outputs_setting = student_outputs
        if _uses_final_outputs(self.distillation_losses):
            self.teacher.check_output_shape(student)
        self._student_taps = Tapped(
            student, _tapped_layers(self.distillation_losses, "student"), "student"
        )
        for loss in self.distillation_losses:
            loss.build(
                self.teacher.feature_shapes(),
                self._student_taps.feature_shapes(),
            )
        # Tracked here so their weights train, save and load with the
        # Distiller; they never become part of `self.student`.
        self.loss_layers = [
            layer for loss in self.distillation_losses for layer in loss.trainable_layers
        ]
        self._scheduled_variables = hyperparameters.variables([self, *self.distillation_losses])
        self._trained_without_labels = False
        self.student_loss_tracker = _BatchMean(name="student_loss")
        self.distillation_loss_tracker = _BatchMean(name="distillation_loss")
        if self._keras_style:
            # keras.distillation.Distiller reports it, beside `loss`.
            self.total_loss_tracker = _BatchMean(name="total_loss")
        self._step_outputs = False
        self.built = True

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _keras_compat.UNTRACKED_STEP_ATTRIBUTES:
            # The JAX trainer's state, set in every step: nothing to track.
            object.__setattr__(self, name, value)
            return
        super().__setattr__(name, value)

    @property
    def student_loss_weight(self) -> float:
        """`alpha`, by the name `keras.distillation.Distiller` gives it."""
        return self.alpha

    @student_loss_weight.setter
    def student_loss_weight(self, value: float) -> None:
        self.alpha = value

    @property
    def distillation_loss_weights(self) -> list[float]:
        """The `weight` of each distillation loss, in order."""
        return [loss.weight for loss in self.distillation_losses]

    @property
    def teachers(self) -> list[keras.Model]:
        """The teacher's models: a list of one, unless an ensemble."""
        return self.teacher.models

    # -- The forward pass ----------------------------------------------------

    @contextlib.contextmanager
    def _exposing_step_outputs(self):
        """Within a train or test step, `call` returns every model's outputs.

        The flag is read while the step is traced (tf.function, jax.jit) or
        run (torch, eager), so one `call` serves `predict` (student outputs
        only) and the steps (teacher, student and taps) on every backend.
        """
        # A plain attribute write: Keras' tracking `__setattr__` would cost
        # more than a small student's step on PyTorch, which runs it per step.
        previous = self._step_outputs
        object.__setattr__(self, "_step_outputs", True)
        try:
            yield
        finally:
            object.__setattr__(self, "_step_outputs", previous)

    def fit(self, *args, **kwargs) -> keras.callbacks.History:
        # alpha may have been assigned since construction, or be scheduled.
        augment_lib.check_alpha(self.augmentation, self.alpha)
        self._check_scheduled_alpha(kwargs)
        self._check_labels("fit()", args, kwargs)
        validation_data = kwargs.get("validation_data")
        if isinstance(validation_data, (tuple, list)) and len(validation_data) >= 2:
            self._check_labels("fit() validation_data", validation_data[:2], {})
        elif validation_data is not None:  # e.g. TeacherCache.dataset(x_val, y_val)
            self._check_labels("fit() validation_data", (validation_data,), {})
        # On any failure, the models stay usable (see _keras_compat).
        with _keras_compat.variables_kept_on_failure(self):
            return super().fit(*args, **kwargs)

    def _check_scheduled_alpha(self, kwargs):
        """An AlphaSchedule must not raise alpha above 0 with MixUp/CutMix."""
        if not augment_lib.mixes_labels(self.augmentation):
            return
        epochs = kwargs.get("epochs", 1)
        for callback in kwargs.get("callbacks") or []:
            # An AlphaSchedule (keras_kd.callbacks, which imports this module)
            # names the hyper-parameter it schedules.
            if getattr(callback, "log_name", None) == "alpha" and hasattr(callback, "value"):
                for epoch in range(kwargs.get("initial_epoch", 0), epochs):
                    augment_lib.check_alpha(self.augmentation, callback.value(epoch))

    def _check_labels(self, owner, args, kwargs):
        """Class labels out of the student's range, refused before a step;
        labels Keras cannot read as the student's one output (a Python list,
        several arrays) too, by name."""
        given = kwargs.get("y", args[1] if len(args) > 1 else None)
        y = _label_array(given, owner)
        if isinstance(y, list):  # A ragged list or one value named first.
            checks.check_one_label_per_sample(y, owner)
        _check_label_structure(given, owner)
        if y is None:
            y = _labels_held_by(kwargs.get("x", args[0] if args else None), owner)
        if y is None:
            return  # None, or a dataset: read batch by batch by Keras.
        checks.check_one_label_per_sample(y, owner)
        self._check_label_values(y, owner)

    def _check_label_values(self, y, owner):
        """The labels' shape and values against the loss and the student."""
        shape = validation.output_shape(self.student)
        if outputs_lib.reads_binary_labels(self.loss):
            _check_label_shape(y, shape, owner, binary=True)
            checks.check_binary_labels(y, validation.output_units(self.student), owner)
            return
        if outputs_lib.reads_class_indices(self.loss):
            _check_label_shape(y, shape, owner, binary=False)
            checks.check_whole_labels(y, owner)
        if not shape:
            return
        positions = shape[:-1]
        ignored = outputs_lib.ignored_class(self.loss)
        if ignored is not None:  # Masked positions (e.g. padding) are no labels.
            values = np.asarray(y)
            y, positions = values[values != ignored], None
        checks.check_labels(y, shape[-1], owner, positions=positions)

    def evaluate(self, *args, **kwargs) -> float | list[float] | dict[str, float]:
        self._check_labels("evaluate()", args, kwargs)
        with _keras_compat.variables_kept_on_failure(self):
            return super().evaluate(*args, **kwargs)

    def predict(self, *args, **kwargs) -> np.ndarray | list[np.ndarray] | dict[str, np.ndarray]:
        with _keras_compat.variables_kept_on_failure(self):
            return super().predict(*args, **kwargs)

    def train_step(self, *args) -> dict[str, Any] | tuple[dict[str, Any], tuple]:
        # *args: (data,) on TensorFlow and PyTorch, (state, data) on JAX.
        with self._exposing_step_outputs():
            result = super().train_step(*args)
        # After the optimizer step, in the same traced step (the EMA update).
        return self.teacher.after_train_step(self, result)

    def test_step(self, *args) -> dict[str, Any] | tuple[dict[str, Any], tuple]:
        with self._exposing_step_outputs():
            return super().test_step(*args)

    def call(self, inputs: Any, training: bool = False) -> Any:
        if self._step_outputs and training:
            # Once, before the split: teacher and student see the same view.
            inputs = augment_lib.apply(self.augmentation, inputs)
        student_inputs, teacher_inputs = self.teacher.split_inputs(inputs)
        # evaluate() on the student's inputs alone, which the teacher cannot
        # read, evaluates the student alone.
        if not self._step_outputs or (teacher_inputs is None and not training):
            return self.student(student_inputs, training=training)
        student_outputs, student_features = self._student_taps(student_inputs, training=training)
        return {
            "student": student_outputs,
            "student_features": student_features,
            "teacher": self.teacher.targets(teacher_inputs),
        }

    # -- Losses and metrics --------------------------------------------------

    def compile(
        self,
        optimizer: str | keras.optimizers.Optimizer = "rmsprop",
        loss: str | keras.losses.Loss | Callable | None = None,
        **kwargs,
    ) -> None:
        """Configures training; `loss` is the student's hard-label loss.

        Args:
            optimizer: As in `keras.Model.compile`.
            loss: Loss between labels and student outputs. Required when
                `alpha > 0`; optional with `alpha=0` (then only reported).
            **kwargs: Passed to `keras.Model.compile` (metrics apply to the
                student's outputs).

        Raises:
            ValueError: for a `loss` whose `from_logits` disagrees with the
                student's head (a name such as
                `"sparse_categorical_crossentropy"` means `from_logits=False`
                in Keras), a sparse categorical cross-entropy on a one-unit
                student (0 whatever the label), or an argument keras-kd takes elsewhere
                (`temperature=`, `alpha=`).
        """
        _keras_distillation.check_misplaced_arguments(kwargs, "compile()")
        outputs_lib.check_hard_loss_matches_head(loss, self.student_kind, self.student)
        outputs_lib.check_hard_loss_fits_units(loss, self.student)
        if loss is None and self.alpha > 0:
            raise ValueError(
                f"compile() received no `loss`, but alpha={self.alpha} gives "
                "weight to the student's hard-label loss. Pass a loss, e.g. "
                "loss=keras.losses.SparseCategoricalCrossentropy("
                "from_logits=True), or construct the Distiller with alpha=0 "
                "to train on the teacher's soft targets alone."
            )
        outputs_lib.warn_regression_with_soft_targets(loss, self.distillation_losses)
        super().compile(optimizer=optimizer, loss=loss, **kwargs)

    def compute_loss(
        self,
        x: Any = None,
        y: Any = None,
        y_pred: Any = None,
        sample_weight: Any = None,
        training: bool = True,
    ) -> Any:
        if not (isinstance(y_pred, dict) and "teacher" in y_pred):
            # The student's predictions only: Keras building the compiled
            # loss before the first step, or a user's own call.
            if not self._has_labels(y):
                return ops.zeros((), dtype="float32")
            weights = _position_weights(y_pred, sample_weight)
            return super().compute_loss(
                x,
                y,
                _unmasked(y_pred, weights),
                weights.keras_sample_weight(),
                training,
            )
        teacher = self.teacher.view(y_pred["teacher"])
        # Sequence and per-pixel outputs: masks and per-position weights
        # reduce the hard and the distillation loss the same way.
        weights = _position_weights(y_pred["student"], sample_weight)
        student = ModelOutputs(
            y_pred["student"],
            self.student_kind,
            y_pred["student_features"],
            mask=weights.mask,
        )
        if training:
            # Read by AlphaSchedule: a step traced without labels has no
            # hard loss for a later alpha > 0 to weigh. A bool: a plain
            # write, not Keras' tracking `__setattr__` in every eager step.
            object.__setattr__(self, "_trained_without_labels", y is None)
        batch_size = ops.shape(ops.convert_to_tensor(student.outputs))[0]
        hard_loss = self._hard_loss(y, student.outputs, weights)
        soft_loss = self._distillation_loss(teacher, student, y, weights)
        # Variables, not floats, so that callbacks reach the compiled step.
        alpha = hyperparameters.value(self, "alpha")
        scale = hyperparameters.value(self, "distillation_scale")
        # Keras scales its compiled (hard) loss per replica under
        # tf.distribute; the distillation term is scaled the same way, so
        # that N replicas train as one device does.
        total = (1.0 - alpha) * scale * _keras_compat.scale_for_replicas(soft_loss)
        if hard_loss is not None:
            total = total + alpha * hard_loss
            self.student_loss_tracker.update_state(
                _keras_compat.unscale_for_replicas(hard_loss),
                sample_weight=batch_size,
            )
        for extra in self.losses:
            total = total + ops.cast(
                _keras_compat.aggregate_additional_loss(self, extra), total.dtype
            )
        self.distillation_loss_tracker.update_state(soft_loss, sample_weight=batch_size)
        if self._keras_style:
            self.total_loss_tracker.update_state(total, sample_weight=batch_size)
        return total

    def _has_labels(self, y):
        """False for unlabeled data, which only `alpha=0` accepts."""
        if y is not None:
            return True
        if self.alpha > 0:
            raise ValueError(
                f"alpha={self.alpha} weights the student's hard-label "
                "loss, but the data has no labels (y is None). Pass "
                "(x, y) to fit(), or construct the Distiller with "
                "alpha=0 to train on the teacher's soft targets alone."
            )
        return False

    def _hard_loss(self, y, student_outputs, weights):
        compiled_loss = _keras_compat.compiled_loss(self)
        if not self._has_labels(y) or compiled_loss is None:
            return None
        loss = compiled_loss(y, _unmasked(student_outputs, weights), weights.keras_sample_weight())
        return None if loss is None else ops.cast(loss, "float32")

    def _distillation_loss(self, teacher, student, y, weights):
        # The sum of `weight * value` over the losses, without the product by
        # 1 and the sum with 0 that would leave the value as it is (ops, and
        # on PyTorch autograd nodes, in every step).
        total = None
        for loss in self.distillation_losses:
            if loss.weight == 0:
                continue
            value = weights.reduce(loss(teacher, student, y))
            if loss.weight != 1:
                value = loss.weight * value
            total = value if total is None else total + value
        return ops.zeros((), dtype="float32") if total is None else total

    def compute_metrics(
        self, x: Any, y: Any, y_pred: Any, sample_weight: Any = None
    ) -> dict[str, Any]:
        if isinstance(y_pred, dict) and "student" in y_pred:
            y_pred = y_pred["student"]
        elif y is not None:
            # evaluate() on the student's inputs alone (see `call`): the
            # student's loss and metrics, without the distillation terms.
            results = super().compute_metrics(x, y, y_pred, sample_weight)
            for tracker in (self.student_loss_tracker, self.distillation_loss_tracker):
                results.pop(tracker.name, None)
            return results
        if y is None:
            # Unlabeled data: no hard loss and no label metrics to report.
            return {
                tracker.name: tracker.result()
                for tracker in (
                    _keras_compat.total_loss_tracker(self),
                    self.distillation_loss_tracker,
                    *([self.total_loss_tracker] if self._keras_style else []),
                )
            }
        # `weighted_metrics` get the weight of every position (0 where it
        # does not count; a (batch,) weight repeated over the positions);
        # `metrics`, unweighted in Keras, read the outputs' mask themselves
        # (applying a 0/1 mask twice changes nothing).
        if sample_weight is None and _keras_compat.keras_mask(y_pred) is None:
            # Nothing to weigh (`metric_sample_weight` would be None): not
            # built in every step, which PyTorch runs eagerly.
            return super().compute_metrics(x, y, y_pred, None)
        weights = _position_weights(y_pred, sample_weight)
        return super().compute_metrics(x, y, y_pred, weights.metric_sample_weight())

    def get_metrics_result(self) -> dict[str, Any]:
        # Unlabeled data (alpha=0) never builds the label metrics given to
        # compile(): they have no result to report, so they are left out
        # instead of failing at the end of the first epoch.
        results = {}
        for metric in self.metrics:
            if not getattr(metric, "built", True):
                continue
            result = metric.result()
            results.update(result if isinstance(result, dict) else {metric.name: result})
        return results

    # -- Saving --------------------------------------------------------------

    def save_own_variables(self, store: MutableMapping[str, Any]) -> None:
        # The scheduled values are saved as floats in the config; their
        # variables only mirror them, and files stay as before.
        for i, variable in enumerate(self._saved_own_variables()):
            store[f"{i}"] = variable

    def load_own_variables(self, store: Mapping[str, Any]) -> None:
        variables = self._saved_own_variables()
        if len(store.keys()) != len(variables):
            raise ValueError(
                f"The Distiller '{self.name}' expected {len(variables)} "
                f"variables of its own in the file, but received "
                f"{len(store.keys())}."
            )
        for i, variable in enumerate(variables):
            variable.assign(store[f"{i}"])

    def _saved_own_variables(self):
        scheduled = {id(v) for v in self._scheduled_variables}
        own = _keras_compat.own_variables(self)
        return [v for v in own if id(v) not in scheduled]

    def compile_from_config(self, config: dict[str, Any]) -> None:
        # Keras skips this for models that override compile(); training must
        # resume after load_model, optimizer state included.
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        self.optimizer.build(self.trainable_variables)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "teacher": keras.saving.serialize_keras_object(self.teacher),
                "student": _saving.serialize_without_compile(self.student),
                "distillation_loss": [
                    keras.saving.serialize_keras_object(loss) for loss in self.distillation_losses
                ],
                "alpha": self.alpha,
                "teacher_outputs": self._teacher_outputs_setting,
                "student_outputs": self._student_outputs_setting,
                "augmentation": [
                    keras.saving.serialize_keras_object(layer) for layer in self.augmentation
                ]
                or None,
            }
        )
        preprocessor = self.teacher.preprocessor_config()
        if preprocessor is not None:
            config["teacher_preprocessor"] = preprocessor
        if self._keras_style:
            config = _keras_distillation.keras_style_config(config, self.distillation_losses)
        return config

    @classmethod
    def from_config(
        cls, config: dict[str, Any], custom_objects: dict[str, Any] | None = None
    ) -> "Distiller":
        config = _saving.deserialize_config(config, custom_objects)
        config["teacher"] = teachers_lib.get(
            config.pop("teacher"),
            config.pop("teacher_weights", None),  # In files of keras-kd 0.1.
            custom_objects=custom_objects,
        )
        return cls(**config)


class _BatchMean(keras.metrics.Mean):
    """`keras.metrics.Mean` of one loss value per step, weighted by the batch.

    `update_state(value, batch_size)` adds `value * batch_size` to the total
    and `batch_size` to the count, as `Mean.update_state` does for a scalar
    and a scalar weight, without its broadcasting and reductions (ops that
    PyTorch runs eagerly in every step, for a number that stays the same).
    """

    def update_state(self, values, sample_weight=None):
        weight = ops.cast(1 if sample_weight is None else sample_weight, self.dtype)
        self.total.assign_add(ops.cast(values, self.dtype) * weight)
        self.count.assign_add(weight)


def _tapped_layers(distillation_losses, role):
    names = []
    for loss in distillation_losses:
        names.extend(getattr(loss, f"{role}_layers"))
    return [name for name in names if name is not None]


def _label_array(y, owner):
    """`y` as an array or list to check: a backend tensor (`tf.Tensor`,
    `jax.Array`, `torch.Tensor`) as NumPy; `None` for anything Keras reads
    batch by batch (a dataset, a generator). A backend tensor with no
    values to copy (PyTorch's `meta` device) is refused, naming `owner`.
    A one-element list or tuple of an array or tensor is Keras' structure of
    the student's one output: its element is checked."""
    if isinstance(y, (list, tuple)) and len(y) == 1 and np.ndim(_array_like(y[0])) >= 1:
        y = y[0]
    if isinstance(y, (np.ndarray, list)):
        return y
    if keras.ops.is_tensor(y):
        try:
            return keras.ops.convert_to_numpy(y)
        except (NotImplementedError, RuntimeError, TypeError) as error:
            raise ValueError(
                f"{owner}: the labels are a {type(y).__name__} with no values to read "
                f"({type(error).__name__}: {error}), e.g. a tensor on PyTorch's 'meta' "
                "device. Give labels that hold their values: a NumPy array, or a "
                "tensor on the CPU (tensor.cpu())."
            ) from None
    if hasattr(y, "__array__") and hasattr(y, "shape"):
        try:
            return np.asarray(y)
        except (TypeError, ValueError, RuntimeError):
            return None
    return None


def _check_label_structure(y, owner):
    """Labels that Keras reads as a structure other than the student's one
    output, refused naming the fix: a Python list of labels (Keras fails
    with 'Unrecognized data type' or 'tuple index out of range'), several
    arrays (Keras' 'y_true and y_pred have different structures'), or a dict
    (its keys read as labels: 'could not convert string to float')."""
    if isinstance(y, dict):
        raise ValueError(
            f"{owner}: the labels are a dict (keys {sorted(map(str, y))}), but the "
            "student has one output, which reads one array of labels. Give that one "
            "array (e.g. y=labels, not {'name': labels})."
        )
    if not isinstance(y, (list, tuple)):
        return
    arrays = [item for item in y if np.ndim(_array_like(item)) >= 1]
    if len(y) == 1 and arrays:
        return  # Keras' structure of the one output: [y] or (y,).
    if arrays:
        raise ValueError(
            f"{owner}: the labels are a {type(y).__name__} of {len(y)} arrays, but the "
            "student has one output, which reads one array of labels. Give that one "
            "array (e.g. y=labels, not (labels, other_labels))."
        )
    fix = "np.asarray(labels[0])" if len(y) == 1 and np.ndim(y) >= 2 else "np.asarray(labels)"
    raise ValueError(
        f"{owner}: the labels are a Python {type(y).__name__} (shape {np.shape(y)}), "
        f"which Keras does not read as one array of labels. Give a NumPy array: y={fix}."
    )


def _labels_held_by(data, owner):
    """The whole label array that keras-kd's own batches keep
    (`TeacherCache.dataset`, `keras_kd.views.ViewBatches`), so that they are
    checked before a step like arrays are; `None` for any other data."""
    if isinstance(data, (views_lib.ViewBatches, CachedBatches)):
        return _label_array(data.y, owner)
    return None


# The fix for one-hot labels `(samples, 2)` given to a one-unit binary head.
_BINARY_ONE_HOT_FIX = (
    " One-hot labels of a binary classifier: pass y[:, 1] (the positive class's column)."
)


def _samples_shape(dims):
    """`"(samples, d1, d2)"` for the per-sample `dims`; `"(samples,)"` for none."""
    return f"(samples, {', '.join(str(d) for d in dims)})" if dims else "(samples,)"


def _check_label_shape(y, shape, owner, binary):
    """Labels with the outputs' rank but another last axis, refused naming
    the loss's reading and the fix (Keras fails inside the first step).

    Sparse categorical cross-entropy reads one class index per sample (per
    position), so labels `(samples, classes)` are one-hot or soft labels;
    binary cross-entropy reads one label per output unit.
    """
    if shape is None:
        return
    values = np.asarray(y)
    if binary and not shape and values.ndim == 2 and values.shape[-1] != 1:
        # One score per sample (squeezed): one label per sample.
        fix = (
            _BINARY_ONE_HOT_FIX
            if values.shape[-1] == 2
            else " Give one 0/1 label per sample, or a student with one output per unit."
        )
        raise ValueError(
            f"{owner}: binary cross-entropy reads one label per score, and the student "
            "outputs one score per sample (shape (samples,)), but the labels have "
            f"shape {values.shape}.{fix}"
        )
    if not shape:
        return
    units = ", ".join(str(d) for d in shape)
    if binary and 1 <= values.ndim < len(shape):
        raise ValueError(
            f"{owner}: binary cross-entropy reads one label per output unit (labels of "
            f"shape {_samples_shape(shape)}), but the labels have shape {values.shape}. "
            f"Give one 0/1 label per unit and position, e.g. y.reshape((-1, {units}))."
        )
    if not binary and 1 <= values.ndim < len(shape):
        raise ValueError(
            f"{owner}: sparse categorical cross-entropy reads one class index per "
            f"sample and position (labels of shape {_samples_shape(shape[:-1])}, the "
            f"student's outputs being {_samples_shape(shape)}), but the labels have "
            f"shape {values.shape}. Give one label per position."
        )
    if values.ndim != len(shape) + 1 or values.shape[-1] == (shape[-1] if binary else 1):
        return
    if binary:
        fix = (
            _BINARY_ONE_HOT_FIX
            if shape[-1] == 1 and values.shape[-1] == 2
            else f" Give one 0/1 label per unit, or a student with {values.shape[-1]} output units."
        )
        raise ValueError(
            f"{owner}: binary cross-entropy reads one label per output unit (labels "
            f"of shape {_samples_shape(shape)}), but the labels have shape {values.shape}.{fix}"
        )
    raise ValueError(
        f"{owner}: sparse categorical cross-entropy reads one class index per sample "
        f"(labels of shape {_samples_shape(shape[:-1])}), but the labels have shape "
        f"{values.shape}: one-hot or soft labels? Pass y.argmax(-1), or compile with "
        "keras.losses.CategoricalCrossentropy to read them as they are."
    )


def _array_like(value):
    """`value` if it is an array or a tensor (something with a shape), else `None`."""
    return value if hasattr(value, "shape") and hasattr(value, "dtype") else None


def _uses_final_outputs(distillation_losses):
    return any(
        None in loss.teacher_layers and None in loss.student_layers for loss in distillation_losses
    )


def _position_weights(student_outputs, sample_weight):
    return PositionWeights(
        student_outputs, _keras_compat.keras_mask(student_outputs), sample_weight
    )


def _unmasked(student_outputs, weights):
    """The outputs for Keras' compiled loss: a mask already in the weights
    must not be applied a second time."""
    if weights.masked:
        return _keras_compat.without_keras_mask(student_outputs)
    return student_outputs
