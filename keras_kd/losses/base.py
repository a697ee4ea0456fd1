"""The contract every distillation loss keeps, and the views it reads.

A distillation loss is a pure function on `keras.ops` (in its own module) plus
a thin `DistillationLoss` subclass that names the layers it needs, holds its
hyper-parameters and serializes them. The `Distiller` gives the loss two
`ModelOutputs` views, one of the teacher and one of the student, both from
the single forward pass of each model in the current step. Names are
registered in `keras_kd.losses.registry` (`register`, `registered_names` and
`get` stay importable from here); the shared numerics live in
`keras_kd.losses._numerics`.
"""

import inspect

import keras
from keras import ops

from keras_kd import checks
from keras_kd.checks import check_non_negative  # noqa: F401  Public here.
from keras_kd.losses import _numerics
from keras_kd.losses._numerics import reduce_per_sample  # noqa: F401  Public here.
from keras_kd.losses.registry import lookup
from keras_kd.losses.registry import register  # noqa: F401  Public here.
from keras_kd.losses.registry import registered_names


class ModelOutputs:
    """What one model produced in this step: its outputs and tapped layers.

    Args:
        outputs: The model's final outputs.
        kind: `"logits"` or `"probabilities"`: what `outputs` are.
        features: Dict from layer name to that layer's output in the same
            forward pass.
        mask: `None`, or a float32 tensor of the outputs' positions
            (`outputs.shape[:-1]`) that is 1 where a position counts and 0
            where it is padding (a Keras mask, or a per-position sample
            weight of 0). Set by the `Distiller` on the student's view for
            sequence and per-pixel outputs; batch-level losses (DIST, RKD)
            read it, per-position losses need not (the `Distiller` weighs
            their values).

    Example:

    >>> import numpy as np
    >>> view = ModelOutputs(np.array([[0.25, 0.75]]), "probabilities")
    >>> print(np.round(ops.convert_to_numpy(view.log_probabilities()), 4))
    [[-1.3863 -0.2877]]
    """

    def __init__(self, outputs, kind, features=None, mask=None):
        self.outputs = outputs
        self.kind = kind
        self.features = features or {}
        self.mask = mask

    def feature(self, layer_name):
        """The output of `layer_name`, or the final outputs for `None`."""
        if layer_name is None:
            return self.outputs
        return self.features[layer_name]

    def logits(self, temperature=1.0, kind=None):
        """Logits whose softmax at `temperature` is this model's soft target.

        For one model these are its logits (read from probabilities if its
        head is a softmax) whatever the temperature; an ensemble overrides
        this with the log of its teachers' mean softened distribution.
        """
        del temperature
        return _numerics.as_logits(self.outputs, kind or self.kind)

    def log_probabilities(self, temperature=1.0, kind=None):
        """`log softmax(logits / temperature)` of the final outputs."""
        return _numerics.log_softmax(self.logits(temperature, kind) / temperature)


class EnsembleOutputs(ModelOutputs):
    """The outputs of several teachers, read as one teacher.

    Its soft targets at temperature `T` are the weighted mean of the
    teachers' softened distributions, `sum_i w_i softmax(z_i / T)`, not the
    softmax of averaged logits. `outputs` holds that mixture at `T = 1` as
    log-probabilities, for losses that read raw outputs.

    Args:
        members: List of the teachers' outputs, all of the same shape.
        kinds: List of `"logits"` / `"probabilities"`, one per teacher.
        weights: List of non-negative floats summing to 1.
    """

    def __init__(self, members, kinds, weights):
        self.members = list(members)
        self.kinds = list(kinds)
        self.weights = [float(w) for w in weights]
        super().__init__(self._mixture(1.0, None), "logits", {})

    def _mixture(self, temperature, kind):
        stacked = ops.stack(
            [
                _numerics.log_softmax(_numerics.as_logits(z, kind or k) / temperature)
                + ops.log(ops.cast(w, "float32"))
                for z, k, w in zip(self.members, self.kinds, self.weights)
                if w > 0
            ],
            axis=0,
        )
        return ops.logsumexp(stacked, axis=0)

    def logits(self, temperature=1.0, kind=None):
        return temperature * self._mixture(temperature, kind)


class DistillationLoss:
    """Base class of the distillation losses.

    Subclasses implement `call(teacher, student, y)` and return either one
    loss value per sample, shape `(batch,)`, or, for outputs with positions
    (a sequence `(batch, time, classes)`, an image `(batch, height, width,
    classes)`), one value per position, shape `outputs.shape[:-1]`, which
    the `Distiller` averages with the sample weights and masks (see
    `PositionWeights`), or a scalar for losses defined on the whole batch
    (relational ones, which read `student.mask`). Losses that compare intermediate layers list
    them in `teacher_layers` / `student_layers`; `None` stands for the final
    outputs. Losses that own trainable layers (projectors) create them in
    `build` and return them from `trainable_layers`; those layers are trained
    with the student but are never part of it. A loss that needs `y` sets
    the class attribute `requires_labels = True`. `@register("name")` sets
    `registered_name`. See `docs/adding_a_loss.md`.

    Args:
        weight: Non-negative multiplier of this loss in a weighted list.
        name: Optional display name.

    Example:

    >>> import numpy as np
    >>> class MeanSquaredOutputs(DistillationLoss):
    ...     def call(self, teacher, student, y=None):
    ...         return ops.mean(ops.square(teacher.outputs - student.outputs), -1)
    >>> loss = MeanSquaredOutputs(weight=0.5)
    >>> value = loss(ModelOutputs(np.ones((2, 3)), "logits"),
    ...              ModelOutputs(np.zeros((2, 3)), "logits"))
    >>> ops.convert_to_numpy(value).tolist()
    [1.0, 1.0]
    """

    registered_name = None
    requires_labels = False

    def __init__(self, weight=1.0, name=None):
        self.weight = checks.check_number(
            f"{type(self).__name__}",
            "weight",
            weight,
            low=0,
            role="multiplies the loss in a weighted list and",
        )
        self.name = name or self.registered_name or type(self).__name__

    @property
    def teacher_layers(self):
        """Names of the teacher layers this loss reads (`None`: outputs).

        Defaults to the loss's `teacher_layer` attribute, if it has one.
        """
        return (getattr(self, "teacher_layer", None),)

    @property
    def student_layers(self):
        """Names of the student layers this loss reads (`None`: outputs)."""
        return (getattr(self, "student_layer", None),)

    def build(self, teacher_shapes, student_shapes):
        """Creates any trainable state, given `{layer name: shape}` dicts."""
        del teacher_shapes, student_shapes

    @property
    def trainable_layers(self):
        """Keras layers this loss trains alongside the student."""
        return []

    def call(self, teacher, student, y=None):
        """Computes the loss.

        Args:
            teacher: `ModelOutputs` of the teacher (no gradient flows to it).
            student: `ModelOutputs` of the student.
            y: The labels, or `None` for unlabeled data.

        Returns:
            A `(batch,)` tensor of per-sample losses, or a scalar.
        """
        raise NotImplementedError(
            f"{type(self).__name__} must implement `call(teacher, student, y)`."
        )

    def __call__(self, teacher, student, y=None):
        if self.requires_labels and y is None:
            raise ValueError(
                f"The distillation loss {type(self).__name__} needs the "
                "labels, but the data has none (y is None). Pass (x, y) to "
                "fit(), or use a loss that works without labels such as "
                "SoftTargetKD."
            )
        return self.call(teacher, student, y)

    def get_config(self):
        return {"weight": self.weight, "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def get(identifier):
    """Returns a `DistillationLoss` for a name, config dict or instance.

    Args:
        identifier: A registered name such as `"kd"` or its class name
            (`"SoftTargetKD"`), a `DistillationLoss`, or a dict with the
            `class_name` (either name) and `config` of one, or what
            `keras.saving.serialize_keras_object` produces.

    Returns:
        A `DistillationLoss` instance.

    Example:

    >>> get("kd")
    SoftTargetKD(weight=1.0, name='kd', temperature=4.0, \
teacher_outputs=None, student_outputs=None, divergence='forward', beta=0.5, \
standardize=False)
    """
    if isinstance(identifier, DistillationLoss):
        return identifier
    if isinstance(identifier, str):
        return lookup(identifier)()
    if isinstance(identifier, dict):
        return _from_dict(identifier)
    raise ValueError(
        "`distillation_loss` must be a DistillationLoss, one of the names "
        f"{registered_names()}, or a list of those. Received: "
        f"{identifier!r} of type {type(identifier).__name__}."
    )


def _from_dict(identifier):
    """A loss from `{"class_name": ..., "config": {...}}`, the class named by
    its registered name or class name; a dict Keras wrote whole (with its
    `module` or `registered_name`) is Keras' to read, so that a loss
    registered only with `keras.saving.register_keras_serializable` comes
    back too."""
    if "module" in identifier or "registered_name" in identifier:
        return keras.saving.deserialize_keras_object(identifier)
    if not isinstance(identifier.get("class_name"), str):
        raise ValueError(
            "A distillation loss given as a dict needs a 'class_name' naming "
            f"the loss, one of {registered_names()} or its class name, and "
            "optionally a 'config' dict of its arguments, e.g. "
            "{'class_name': 'kd', 'config': {'temperature': 2.0}}. Received: "
            f"{identifier!r}"
        )
    cls = lookup(identifier["class_name"])
    config = identifier.get("config") or {}
    if not isinstance(config, dict):
        raise ValueError(
            f"The 'config' of the distillation loss {cls.__name__} must be a dict "
            f"of its arguments. Received: {config!r} of type {type(config).__name__}."
        )
    try:
        return cls.from_config(dict(config))
    except TypeError as error:
        accepted = sorted(inspect.signature(cls.__init__).parameters.keys() - {"self", "kwargs"})
        raise ValueError(
            f"The 'config' of the distillation loss {cls.__name__} does not fit its "
            f"arguments ({error}). Its arguments: {accepted}. Received: {config!r}"
        ) from None


def with_temperature(identifier, temperature):
    """`get(identifier)`, at `temperature` if the loss has one.

    A loss without a temperature (e.g. `"rkd"`) is returned as `get` gives
    it. Used wherever a temperature is chosen apart from the loss: the
    `keras-kd distill` command and `keras_kd.apps.tuning.search`.

    Args:
        identifier: As for `get`.
        temperature: Positive float.

    Returns:
        A `DistillationLoss` instance.

    Example:

    >>> with_temperature("kd", 2.0).temperature
    2.0
    >>> "temperature" in with_temperature("rkd", 2.0).get_config()
    False
    """
    loss = get(identifier)
    config = loss.get_config()
    if "temperature" not in config:
        return loss
    return type(loss).from_config({**config, "temperature": temperature})
