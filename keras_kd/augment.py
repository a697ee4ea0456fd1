"""Augmentation inside the distillation step: one view for teacher and student.

`Distiller(augmentation=...)` takes Keras preprocessing layers
(`keras.layers.RandomFlip`, `RandomTranslation`, `RandomZoom`, `MixUp`,
`CutMix`, ...). In a training step they run once on the batch's `x`, before
the teacher and the student read it, so both models see the same augmented
view ("function matching", Beyer et al., 2022). They never run in `evaluate`
or `predict`.
"""

import keras
import numpy as np

__all__ = ["LABEL_MIXING_LAYERS", "apply", "check", "mixes_labels"]

# Layers that blend images of the batch: the labels of the mixed images are
# mixed too, which the student's hard-label loss (on unmixed labels) ignores.
LABEL_MIXING_LAYERS = (keras.layers.MixUp, keras.layers.CutMix)


def check(augmentation, teacher, alpha, input_shape=None):
    """The augmentation layers as a list, or raises saying what is wrong.

    An augmentation layer must keep the shape of the batch, hold no
    trainable weights, and leave the inputs unchanged in inference (as
    Keras' random layers do): a layer that transforms them in inference too
    (`Rescaling`, `Dense`, `Normalization`) is preprocessing, which belongs
    in the model, since `evaluate` and `predict` never augment.

    Args:
        augmentation: `None`, a `keras.layers.Layer`, or a list of them.
        teacher: The `Distiller`'s `keras_kd.teachers.Teacher`.
        alpha: The weight of the student's hard-label loss.
        input_shape: The per-sample shape of `x`, or `None` if unknown (the
            shape and inference checks are then skipped).

    Returns:
        A list of layers (empty for `None`).

    Example:

    >>> layers = keras_kd.augment.check(
    ...     keras.layers.RandomFlip("horizontal", seed=0),
    ...     keras_kd.teachers.get(teacher), alpha=0.0)
    >>> [type(layer).__name__ for layer in layers]
    ['RandomFlip']
    """
    if augmentation is None:
        return []
    layers = list(augmentation) if isinstance(augmentation, (list, tuple)) else [augmentation]
    for layer in layers:
        if not isinstance(layer, keras.layers.Layer):
            raise ValueError(
                "`augmentation` takes a Keras layer or a list of them, e.g. "
                "[keras.layers.RandomFlip('horizontal', seed=0), "
                "keras.layers.MixUp(alpha=0.2, seed=0)]. Received: an object "
                f"of type {type(layer).__name__}: {layer!r}."
            )
    if layers and not teacher.models:
        raise ValueError(
            f"`augmentation` needs a live teacher, but the teacher is a "
            f"{type(teacher).__name__}, which reads targets stored for the "
            "clean, unaugmented inputs: the student would be trained on "
            "augmented views against the targets of other images. Pass the "
            "teacher model itself (teacher=model) to augment, or drop "
            "`augmentation` to train from the cache."
        )
    check_alpha(layers, alpha)
    if layers and input_shape is not None and None not in input_shape:
        _check_layers_on(layers, tuple(input_shape))
    return layers


def _check_layers_on(layers, input_shape):
    """Probes each layer on a small batch of the inputs' shape, in inference."""
    batch = np.random.default_rng(0).uniform(size=(2,) + input_shape).astype("float32")
    for layer in layers:
        name = f"{type(layer).__name__} ('{layer.name}')"
        try:
            shape = tuple(layer.compute_output_shape((2,) + input_shape))
        except Exception:  # noqa: BLE001 - a layer without shape inference
            shape = None
        if shape is not None and shape != (2,) + input_shape:
            raise ValueError(
                f"The augmentation layer {name} changes the shape of the inputs "
                f"from {(None,) + input_shape} to {(None,) + shape[1:]}, but the "
                "teacher and the student read the augmented batch in place of "
                "x: the input shapes differ. Use augmentations that keep the "
                "shape (RandomFlip, RandomTranslation, RandomZoom, ...), and "
                "put resizing or flattening inside the models."
            )
        changed = keras.ops.convert_to_numpy(layer(batch, training=False))
        if changed.shape != batch.shape or not np.array_equal(changed, batch):
            raise ValueError(
                f"The augmentation layer {name} changes the inputs in inference "
                "too, but `evaluate` and `predict` never augment: the models "
                "would be trained on other inputs than they are evaluated on. "
                "Augmentation layers are random in training and the identity "
                "in inference (RandomFlip, RandomZoom, MixUp, ...); put "
                "preprocessing such as Rescaling or Normalization inside the "
                "models."
            )
        if layer.trainable_weights:
            raise ValueError(
                f"The augmentation layer {name} has trainable weights "
                f"({len(layer.trainable_weights)}), but augmentation is not "
                "trained: put the layer inside the student model."
            )


def check_alpha(layers, alpha):
    """Raises if a mixing layer meets a hard-label loss (`alpha > 0`)."""
    mixing = mixes_labels(layers)
    if mixing and alpha > 0:
        raise ValueError(
            f"`augmentation` holds {mixing}, which blends the images of a "
            f"batch, but alpha={alpha} gives weight to the student's "
            "hard-label loss, which would read the labels of the unmixed "
            "images. Construct the Distiller with alpha=0 (function matching "
            "trains on the teacher's targets alone, which follow the mixed "
            "images), or drop MixUp / CutMix from `augmentation`."
        )


def mixes_labels(layers):
    """The names of the layers in `layers` that blend images, e.g. `['MixUp']`,
    including those nested in a `keras.Sequential` or another model."""
    names = []
    for layer in layers:
        if isinstance(layer, LABEL_MIXING_LAYERS):
            names.append(type(layer).__name__)
        names.extend(mixes_labels(getattr(layer, "layers", [])))
    return names


def apply(layers, inputs):
    """`inputs` passed through `layers` in training mode.

    Args:
        layers: A list of Keras preprocessing layers.
        inputs: One batch of images (a tensor), as the `Distiller` receives
            it as `x`.

    Returns:
        The augmented batch, a tensor of the same shape.
    """
    if not layers:
        return inputs
    if isinstance(inputs, (dict, list, tuple)):
        raise ValueError(
            "`augmentation` transforms one batch of images that the teacher "
            "and the student both read, but `x` is a "
            f"{type(inputs).__name__} of several inputs. Pass a single "
            "tensor as x, or augment separate inputs in your data pipeline."
        )
    for layer in layers:
        inputs = layer(inputs, training=True)
    return inputs
