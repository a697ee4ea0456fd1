"""The models and views of `benchmarks/pays.py`: its teachers and students,
the augmentation every arm trains on, and the flip-averaged teacher the
students learn from."""

import keras
from _args import BATCH
from _args import MIXUP_ALPHA
from _args import TRANSLATION

import keras_kd
from keras_kd.apps.reference_models import student_cnn
from keras_kd.apps.reference_models import teacher_cnn
from keras_kd.apps.reference_models import tiny_student_cnn


def _batch_norm_cnn(blocks, input_shape, classes):
    """`(filters, convolutions)` blocks of 3x3 convolutions with batch norm,
    each block ending in a max pooling; then dropout, Dense(256), dropout."""
    inputs = keras.Input(input_shape)
    x = inputs
    for filters, convolutions in blocks:
        for _ in range(convolutions):
            x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
            x = keras.layers.BatchNormalization()(x)
            x = keras.layers.ReLU()(x)
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Dropout(0.3)(keras.layers.Flatten()(x))
    x = keras.layers.Dense(256, activation="relu")(x)
    x = keras.layers.Dropout(0.3)(x)
    return keras.Model(inputs, keras.layers.Dense(classes)(x), name="teacher")


def wide_teacher(input_shape=(28, 28, 1), classes=10):
    """Two 3x3 convolutions per block (48, 96), one of 192, batch norm,
    dropout: 770k parameters, 85x the student."""
    return _batch_norm_cnn(((48, 2), (96, 2), (192, 1)), input_shape, classes)


def bn_teacher(input_shape=(28, 28, 1), classes=10):
    """One 3x3 convolution of 32 at full size, two of 64 and two of 128 after
    each pooling, batch norm, dropout: 575k parameters, 63x the student, at
    a third of `wide_teacher`'s cost per image (its full-size convolutions
    are the cost)."""
    return _batch_norm_cnn(((32, 1), (64, 2), (128, 2)), input_shape, classes)


TEACHERS = {"wide": wide_teacher, "bn": bn_teacher, "cnn": teacher_cnn}


def make_teacher(kind):
    return TEACHERS[kind]()


STUDENT_MODELS = {"tiny": tiny_student_cnn, "cnn": student_cnn}


def make_student(kind):
    return STUDENT_MODELS[kind]()


def view_augmentation(seed, mixup=False):
    """The views every arm trains on: flips and translations (and mixup)."""
    layers = [
        keras.layers.RandomFlip("horizontal", seed=seed),
        keras.layers.RandomTranslation(TRANSLATION, TRANSLATION, seed=seed + 1),
    ]
    if mixup:
        layers.append(keras.layers.MixUp(alpha=MIXUP_ALPHA, seed=seed + 2))
    return layers


def teacher_batches(x, y):
    """Shuffled, augmented batches for the teacher (tf.data; its views are
    not replayed, so the teacher takes the fastest pipeline)."""
    import tensorflow as tf

    layers = view_augmentation(seed=100)

    def augment(images, labels):
        for layer in layers:
            images = layer(images, training=True)
        return images, labels

    data = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=100)
    return data.batch(BATCH).map(augment, num_parallel_calls=2).prefetch(2)


@keras.saving.register_keras_serializable(package="pays")
class HorizontalFlip(keras.layers.Layer):
    """Mirrors images left to right: (batch, height, width[, channels]), or
    (batch, [channels,] height, width) where the data format is
    channels_first."""

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format or keras.config.image_data_format()

    def call(self, images):
        width = -1 if self.data_format == "channels_first" else 2
        return keras.ops.flip(images, axis=width)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


@keras.saving.register_keras_serializable(package="pays")
class LogProbabilities(keras.layers.Layer):
    """A softmax head's probabilities as logits (their logarithms:
    `keras_kd.outputs.as_logits`)."""

    def call(self, probabilities):
        return keras_kd.outputs.as_logits(probabilities, "probabilities")


def flip_averaged(teacher):
    """The teacher the students learn from: the mean of its logits for an
    image and for its mirror image (test-time augmentation; the `bn` teacher
    of 30 epochs: 93.40 % alone, 93.69 % so, on the test set).

    A teacher with a softmax head is averaged in log-probabilities, which
    are its logits up to a constant per image (softmax ignores it): the
    same average, a normalized geometric mean of the two probability
    vectors, not their arithmetic mean. The result always outputs logits.

    Args:
        teacher: A Keras model of images, (batch, height, width[, channels])
            (channels first where `keras.config.image_data_format()` says).

    Returns:
        A Keras model of the same input, named "teacher_flip_averaged".
    """
    shape = tuple(teacher.input_shape[1:]) if not isinstance(teacher.input_shape, list) else None
    if shape is None or len(shape) not in (2, 3):
        raise ValueError(
            "flip_averaged mirrors images, (batch, height, width[, channels]), but the "
            f"teacher's input is {teacher.input_shape}. Give a teacher of one image input."
        )
    kind = keras_kd.outputs.detect_output_kind(teacher)
    if kind == "probabilities" and keras_kd.outputs.multi_label_units(teacher):
        raise ValueError(
            "flip_averaged averages class scores, but the teacher ends in a sigmoid over "
            "several units (a multi-label head). Give a teacher with logits or a softmax head."
        )
    inputs = keras.Input(shape)
    views = [teacher(inputs), teacher(HorizontalFlip()(inputs))]
    if kind == "probabilities":
        views = [LogProbabilities()(view) for view in views]
    logits = keras.layers.Average()(views)
    return keras.Model(inputs, logits, name=FLIP_AVERAGED)


FLIP_AVERAGED = "teacher_flip_averaged"
