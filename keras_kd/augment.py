"""Augmentation inside the distillation step: one view for teacher and student.

`Distiller(augmentation=...)` takes Keras preprocessing layers
(`keras.layers.RandomFlip`, `RandomTranslation`, `RandomZoom`, `MixUp`,
`CutMix`, ...). In a training step they run once on the batch's `x`, before
the teacher and the student read it, so both models see the same augmented
view ("function matching", Beyer et al., 2022). They never run in `evaluate`
or `predict`.
"""

import keras

__all__ = ["LABEL_MIXING_LAYERS", "apply", "check", "mixes_labels"]

# Layers that blend images of the batch: the labels of the mixed images are
# mixed too, which the student's hard-label loss (on unmixed labels) ignores.
LABEL_MIXING_LAYERS = (keras.layers.MixUp, keras.layers.CutMix)


def check(augmentation, teacher, alpha):
    """The augmentation layers as a list, or raises saying what is wrong.

    Args:
        augmentation: `None`, a `keras.layers.Layer`, or a list of them.
        teacher: The `Distiller`'s `keras_kd.teachers.Teacher`.
        alpha: The weight of the student's hard-label loss.

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
    return layers


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
    """The names of the layers in `layers` that blend images, e.g. `['MixUp']`."""
    return [type(layer).__name__ for layer in layers if isinstance(layer, LABEL_MIXING_LAYERS)]


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
