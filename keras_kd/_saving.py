"""How models and losses are written into a config and read back."""

import keras


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

    The teacher stays a config (the `Distiller` reads it through
    `keras_kd.teachers.get`, which also reads the model or list of models
    that files written by keras-kd 0.1 hold).

    Args:
        config: The config dict.
        custom_objects: As in `keras.saving.deserialize_keras_object`.

    Returns:
        A new dict with the student, the distillation losses, the teacher
        preprocessor and the augmentation layers (if any) deserialized.
    """
    config = dict(config)
    config["student"] = keras.saving.deserialize_keras_object(
        config["student"], custom_objects=custom_objects
    )
    # "distillation_losses": Keras' key, in configs of a Distiller made with
    # keras.distillation's arguments.
    key = "distillation_losses" if "distillation_losses" in config else "distillation_loss"
    config[key] = [
        keras.saving.deserialize_keras_object(loss, custom_objects=custom_objects)
        for loss in config[key]
    ]
    if config.get("teacher_preprocessor") is not None:
        config["teacher_preprocessor"] = keras.saving.deserialize_keras_object(
            config["teacher_preprocessor"], custom_objects=custom_objects
        )
    if config.get("augmentation"):
        config["augmentation"] = [
            keras.saving.deserialize_keras_object(layer, custom_objects=custom_objects)
            for layer in config["augmentation"]
        ]
    return config
