"""Code written for Keras' own `keras.distillation`, read by keras-kd's `Distiller`.

`keras.distillation.Distiller` takes `distillation_losses=` (Keras'
`LogitsDistillation` / `FeatureDistillation` objects, one or a list),
`distillation_loss_weights=` and `student_loss_weight=`. This module maps
those arguments onto keras-kd's (`distillation_loss=`, each loss's `weight`,
`alpha`) and Keras' loss objects onto keras-kd's losses, so that such code
runs on `keras_kd.Distiller` unchanged:

- `LogitsDistillation(temperature=T, loss=...)` becomes
  `SoftTargetKD(temperature=T)`: Hinton's `T^2 * KL(softmax(t/T) ||
  softmax(s/T))`, whichever KL or cross-entropy Keras' object carries. (Keras
  3.15 applies the default `"kl_divergence"`, a plain function, to the
  temperature-scaled logits themselves, without a softmax; see
  docs/migrating.md.)
- `FeatureDistillation(loss, teacher_layer_name, student_layer_name)`
  becomes `FitNetHint(teacher_layer, student_layer, loss)` on the same
  layers (`"mse"`, `"mae"` -> `"l1"`, `"cosine_similarity"` -> `"cosine"`).

It reads only the public attributes of Keras' objects (`temperature`,
`loss`, `teacher_layer_name`, `student_layer_name`). It also gives the
errors that point code written for Keras' API, or for keras.io's
hand-written distillation tutorial, to keras-kd's way of saying the same.
"""

import collections
import dataclasses
from collections.abc import Callable
from collections.abc import Collection

import keras

from keras_kd import losses as losses_lib
from keras_kd.losses.fitnet import FitNetHint
from keras_kd.losses.soft_target import SoftTargetKD

# keras-kd's default `alpha`, and Keras' default `student_loss_weight`.
DEFAULT_ALPHA = 0.1
KERAS_DEFAULT_STUDENT_LOSS_WEIGHT = 0.5

# Keras losses that compare two distributions: as a `LogitsDistillation`
# loss they mean soft-target distillation.
_DIVERGENCES = frozenset(
    (
        "kl_divergence",
        "kld",
        "kullback_leibler_divergence",
        "categorical_crossentropy",
        "KLDivergence",
        "CategoricalCrossentropy",
    )
)
# Keras' feature losses, by name, and keras-kd's FitNet distance for each.
_FEATURE_DISTANCES = {
    "mse": "mse",
    "mean_squared_error": "mse",
    "MeanSquaredError": "mse",
    "mae": "l1",
    "mean_absolute_error": "l1",
    "MeanAbsoluteError": "l1",
    "cosine_similarity": "cosine",
    "CosineSimilarity": "cosine",
}

Arguments = collections.namedtuple("Arguments", ["losses", "alpha", "keras_style"])
Arguments.__doc__ = """The Distiller's arguments in keras-kd's terms.

Fields:
    losses: List of `keras_kd.losses.DistillationLoss`, weighted.
    alpha: The weight of the student's hard-label loss, a float.
    keras_style: True when given as `keras.distillation.Distiller`'s
        arguments (`distillation_losses=`) or with Keras' loss objects: the
        Distiller then takes Keras' default `student_loss_weight` (0.5),
        also reports `total_loss` and writes its config with Keras' keys.
"""


def _is_keras(value, class_name):
    """Whether `value` is a `keras.distillation.<class_name>`: never, on a
    Keras without `keras.distillation` (older releases), where no such object
    can exist."""
    module = getattr(keras, "distillation", None)
    return module is not None and isinstance(value, getattr(module, class_name))


def _loss_name(loss):
    """A Keras loss's name: its string, class name or function name."""
    if isinstance(loss, str):
        return loss
    if isinstance(loss, keras.losses.Loss):
        return type(loss).__name__
    return getattr(loss, "__name__", type(loss).__name__)


def _single_loss(owner, loss):
    if isinstance(loss, (list, tuple, dict)):
        raise ValueError(
            f"{owner} holds a nested loss structure ({loss!r}), which Keras "
            "uses for models with several outputs. keras-kd distills one "
            "output: give one loss, e.g. "
            "keras.distillation.LogitsDistillation(temperature=3.0)."
        )
    return loss


@dataclasses.dataclass(frozen=True)
class _Mapping:
    """How one `keras.distillation` loss class becomes keras-kd's loss.

    Attributes:
        names: The inner Keras loss names (`loss.loss`) keras-kd maps.
        build: `(keras loss, inner name) -> keras-kd loss`.
        refusal: `inner name -> message` for a name it does not map.
    """

    names: Collection[str]
    build: Callable
    refusal: Callable


_MAPPINGS = {
    "LogitsDistillation": _Mapping(
        _DIVERGENCES,
        lambda loss, name: SoftTargetKD(temperature=loss.temperature),
        lambda name: (
            f"LogitsDistillation(loss={name!r}) compares temperature-"
            "scaled logits value for value; keras-kd maps "
            "LogitsDistillation onto soft targets (Hinton's T^2 * KL, "
            "for 'kl_divergence' or 'categorical_crossentropy'). To match "
            "the outputs themselves use FeatureDistillation(loss='mse') "
            "or keras-kd's distillation_loss='mse'."
        ),
    ),
    "FeatureDistillation": _Mapping(
        _FEATURE_DISTANCES,
        lambda loss, name: FitNetHint(
            loss.teacher_layer_name, loss.student_layer_name, loss=_FEATURE_DISTANCES[name]
        ),
        lambda name: (
            f"FeatureDistillation(loss={name!r}) has no keras-kd "
            "counterpart. keras-kd's FitNetHint matches features with "
            f"{sorted(set(_FEATURE_DISTANCES))}; pass one of those."
        ),
    ),
}


def from_keras_loss(loss):
    """keras-kd's loss for one `keras.distillation` loss object.

    Args:
        loss: A `keras.distillation.LogitsDistillation` or
            `FeatureDistillation`.

    Returns:
        A `keras_kd.losses.SoftTargetKD` or `FitNetHint`.

    Raises:
        ValueError: for a loss with no keras-kd counterpart, naming what to
            use instead.

    Example:

    >>> from_keras_loss(keras.distillation.LogitsDistillation(temperature=3.0))
    SoftTargetKD(weight=1.0, name='kd', temperature=3.0, \
teacher_outputs=None, student_outputs=None, divergence='forward', beta=0.5, \
standardize=False)
    """
    for class_name, mapping in _MAPPINGS.items():
        if _is_keras(loss, class_name):
            name = _loss_name(_single_loss(class_name, loss.loss))
            if name not in mapping.names:
                raise ValueError(mapping.refusal(name))
            return mapping.build(loss, name)
    raise ValueError(
        f"keras-kd cannot run the custom keras.distillation loss "
        f"{type(loss).__name__}: its compute_loss(teacher_outputs, "
        "student_outputs) sees neither the outputs' kind (logits or "
        "probabilities) nor the masks. Write it as a "
        "keras_kd.losses.DistillationLoss (docs/adding_a_loss.md), or use "
        "LogitsDistillation / FeatureDistillation, which keras-kd maps."
    )


def _keras_loss_error(identifier):
    """The error for a Keras loss given where a distillation loss goes."""
    name = _loss_name(identifier)
    kd_hint = (
        'distillation_loss="kd" (keras_kd.losses.SoftTargetKD(temperature='
        "4.0)), Hinton's T^2 * KL(softmax(teacher / T) || softmax(student / T))"
    )
    if name in _DIVERGENCES:
        return ValueError(
            f"{name!r} is a Keras loss between labels and predictions; as a "
            "distillation loss it would compare the raw outputs, with no "
            f"temperature and no softmax. The KL of distillation is {kd_hint}. "
            "Pass that, or keras.distillation.LogitsDistillation(temperature=T)."
        )
    return ValueError(
        f"{name!r} is a Keras loss, not a distillation loss. Give it to "
        "compile(loss=...) for the labels, and pass a distillation loss to "
        f"the Distiller: {kd_hint}, or one of "
        f"{losses_lib.registered_names()}."
    )


def to_loss(identifier):
    """keras-kd's loss for anything given as a distillation loss.

    Args:
        identifier: A keras-kd loss, registered name or config; a
            `keras.distillation` loss object (mapped by `from_keras_loss`).

    Returns:
        A `keras_kd.losses.DistillationLoss`.

    Raises:
        ValueError: for a Keras loss (`keras.losses.KLDivergence()`,
            `"kl_divergence"`, ...), naming `"kd"`.
    """
    if _is_keras(identifier, "DistillationLoss"):
        return from_keras_loss(identifier)
    if isinstance(identifier, (losses_lib.DistillationLoss, dict)):
        return losses_lib.get(identifier)
    if isinstance(identifier, str):
        if identifier not in losses_lib.registered_names() and _is_keras_loss_name(identifier):
            raise _keras_loss_error(identifier)
        return losses_lib.get(identifier)
    if isinstance(identifier, keras.losses.Loss) or callable(identifier):
        raise _keras_loss_error(identifier)
    return losses_lib.get(identifier)


def _is_keras_loss_name(name):
    try:
        return keras.losses.get(name) is not None
    except (ValueError, TypeError):
        return False


def _as_list(losses):
    return list(losses) if isinstance(losses, (list, tuple)) else [losses]


def _weighted(losses, weights):
    """Each loss with its weight from `distillation_loss_weights`."""
    if weights is None:
        return losses
    if isinstance(weights, (str, bytes)) or not hasattr(weights, "__len__"):
        raise ValueError(
            "distillation_loss_weights must be a list with one weight per "
            f"distillation loss, e.g. [0.5] for one loss. Received: {weights!r}"
        )
    weights = list(weights)
    if len(weights) != len(losses):
        raise ValueError(
            f"distillation_loss_weights has {len(weights)} weights for "
            f"{len(losses)} distillation losses. Give one weight per loss."
        )
    weighted = []
    for loss, weight in zip(losses, weights):
        if loss.weight not in (1.0, weight):
            raise ValueError(
                f"The distillation loss {loss.name!r} has weight="
                f"{loss.weight}, and distillation_loss_weights gives it "
                f"{weight}. Set the weight in one place."
            )
        config = {**loss.get_config(), "weight": weight}
        weighted.append(type(loss).from_config(config))
    return weighted


def resolve(
    distillation_loss,
    alpha,
    distillation_losses=None,
    distillation_loss_weights=None,
    student_loss_weight=None,
):
    """The Distiller's losses and `alpha`, from either API's arguments.

    Args:
        distillation_loss: keras-kd's argument, or `None`.
        alpha: keras-kd's argument, or `None` for its default.
        distillation_losses: Keras' argument, or `None`.
        distillation_loss_weights: One weight per loss, or `None`; sets each
            loss's `weight` (keras-kd's way of weighting a list of losses).
        student_loss_weight: Keras' name for `alpha`.

    Returns:
        An `Arguments` tuple.

    Raises:
        ValueError: when both names of one argument are given.

    Example:

    >>> arguments = resolve(None, None, ["kd", "kd"], [0.7, 0.3], 0.2)
    >>> [loss.weight for loss in arguments.losses], arguments.alpha
    ([0.7, 0.3], 0.2)
    """
    if isinstance(alpha, (list, tuple)):
        raise ValueError(
            f"alpha received a list, {alpha!r}. In keras.distillation.Distiller "
            "the fourth positional argument is distillation_loss_weights; in "
            "keras_kd.Distiller it is alpha. Pass the weights by name: "
            "distillation_loss_weights=[...]."
        )
    # Keras' loss objects, given by either name, bring Keras' defaults.
    keras_style = distillation_losses is not None or any(
        _is_keras(loss, "DistillationLoss") for loss in _as_list(distillation_loss)
    )
    for keras_name, keras_value, own_name, own_value in (
        ("distillation_losses", distillation_losses, "distillation_loss", distillation_loss),
        ("student_loss_weight", student_loss_weight, "alpha", alpha),
    ):
        if keras_value is not None and own_value is not None:
            raise ValueError(
                f"The Distiller received both {own_name}= and {keras_name}= "
                f"(Keras' name for the same argument). Pass one of them."
            )
    given = "distillation_loss"
    if distillation_losses is not None:
        distillation_loss, given = distillation_losses, "distillation_losses"
    distillation_loss = _as_list("kd" if distillation_loss is None else distillation_loss)
    if not distillation_loss:
        example = (
            "distillation_losses=keras.distillation.LogitsDistillation(temperature=3.0)"
            if given == "distillation_losses"
            else "distillation_loss='kd'"
        )
        raise ValueError(f"`{given}` is an empty list. Give at least one loss, e.g. {example}.")
    losses = _weighted([to_loss(loss) for loss in distillation_loss], distillation_loss_weights)
    if student_loss_weight is not None:
        alpha = student_loss_weight
    if alpha is None:
        alpha = KERAS_DEFAULT_STUDENT_LOSS_WEIGHT if keras_style else DEFAULT_ALPHA
    return Arguments(losses, alpha, keras_style)


def keras_style_config(config, distillation_losses):
    """A Distiller config with Keras' keys, for a Distiller made with them.

    Args:
        config: The config with keras-kd's keys (`distillation_loss`,
            `alpha`).
        distillation_losses: The Distiller's keras-kd losses.

    Returns:
        A new dict with `distillation_losses`, `distillation_loss_weights`
        and `student_loss_weight` in their place; `Distiller.from_config`
        reads it back into a Distiller made Keras' way.
    """
    config = dict(config)
    config["distillation_losses"] = config.pop("distillation_loss")
    config["distillation_loss_weights"] = [loss.weight for loss in distillation_losses]
    config["student_loss_weight"] = config.pop("alpha")
    return config


# Arguments of keras.io's hand-written `Distiller` tutorial and of other
# distillation APIs, by where they were given, with keras-kd's place for each.
_MISPLACED = {
    "temperature": (
        "the temperature belongs to the distillation loss: "
        "distillation_loss=keras_kd.losses.SoftTargetKD(temperature={value}) "
        "(or keras_kd.losses.with_temperature('kd', {value})); with "
        "keras.distillation's losses, on each of them: "
        "distillation_losses=keras.distillation.LogitsDistillation(temperature={value})"
    ),
    "alpha": "alpha is an argument of the Distiller: keras_kd.Distiller(..., alpha={value})",
    "student_loss_fn": (
        "the student's loss is compile(loss=...), e.g. "
        "loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)"
    ),
    "distillation_loss_fn": (
        "the distillation loss is an argument of the Distiller: "
        "keras_kd.Distiller(..., distillation_loss='kd'), with its "
        "temperature in the loss (keras_kd.losses.SoftTargetKD(temperature=T)); "
        "keras.losses.KLDivergence() becomes 'kd'"
    ),
}


def check_misplaced_arguments(kwargs, where):
    """Raises for an argument keras-kd takes elsewhere, saying where.

    Args:
        kwargs: The keyword arguments `where` did not recognize.
        where: `"Distiller()"` or `"compile()"`, for the message.

    Raises:
        ValueError: naming every such argument and its place in keras-kd
            (keras.io's tutorial passes four of them to `compile()` at once).

    Example:

    >>> check_misplaced_arguments({"temperature": 10}, "Distiller()")
    Traceback (most recent call last):
    ...
    ValueError: Distiller() does not take temperature=10: the temperature belongs ...
    """
    found = [
        (f"{name}={kwargs[name]!r}", place.format(value=kwargs[name]))
        for name, place in _MISPLACED.items()
        if name in kwargs
    ]
    if len(found) == 1:
        raise ValueError(f"{where} does not take {found[0][0]}: {found[0][1]}.")
    if found:
        raise ValueError(
            f"{where} does not take {', '.join(given for given, _ in found)}. "
            + " ".join(f"{given.split('=')[0]}: {place}." for given, place in found)
        )
