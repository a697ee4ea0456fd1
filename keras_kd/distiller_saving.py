"""How a `Distiller` writes its models and losses into its config and reads them back."""

import keras


def serialize_teacher(distiller):
    """The config of the teacher: one model, an ensemble's list, or the EMA teacher."""
    if distiller.ema_teacher is not None:
        return keras.saving.serialize_keras_object(distiller.ema_teacher)
    if distiller.teacher_weights is not None:
        return [serialize_without_compile(t) for t in distiller.teacher]
    return serialize_without_compile(distiller.teacher)


def serialize_without_compile(model):
    """A model's config without its compile config.

    A model's own optimizer state means nothing inside a Distiller, and
    restoring it only warns about mismatched variables.
    """
    config = keras.saving.serialize_keras_object(model)
    config.pop("compile_config", None)
    return config


def deserialize_config(config, custom_objects=None):
    """The `Distiller(**kwargs)` of a config written by `Distiller.get_config`.

    Args:
        config: The config dict.
        custom_objects: As in `keras.saving.deserialize_keras_object`.

    Returns:
        A new dict with the teacher (or list of teachers), the student and
        the distillation losses deserialized.
    """
    config = dict(config)
    for key in ("teacher", "student"):
        value = config[key]  # A list for an ensemble of teachers.
        models = [
            keras.saving.deserialize_keras_object(item, custom_objects=custom_objects)
            for item in (value if isinstance(value, list) else [value])
        ]
        config[key] = models if isinstance(value, list) else models[0]
    config["distillation_loss"] = [
        keras.saving.deserialize_keras_object(loss, custom_objects=custom_objects)
        for loss in config["distillation_loss"]
    ]
    return config
