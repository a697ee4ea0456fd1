"""Per-pixel (dense) soft targets: outputs (batch, height, width, classes),
segmentation-shaped, distil pixel by pixel; a Keras mask or a per-pixel
sample weight decides which pixels count. Checked against NumPy."""

import keras
import numpy as np
import pytest
from _numpy_losses import kl
from _numpy_losses import numpy_dkd
from _numpy_losses import softmax
from keras import ops

import keras_kd
from keras_kd import losses

CLASSES, SIZE, BATCH, TEMPERATURE = 4, 6, 4, 3.0


class MaskFromImage(keras.layers.Layer):
    """Passes the logits through, masking the pixels where the image is 0
    (an "ignore" region, as segmentation data sets mark with a void label)."""

    def call(self, inputs):
        return inputs[0]

    def compute_mask(self, inputs, previous_mask=None):
        return ops.not_equal(inputs[1][..., 0], 0.0)


def segmenter(filters, masked, name, seed):
    keras.utils.set_random_seed(seed)
    spread = keras.initializers.RandomNormal(stddev=1.0)
    image = keras.Input((SIZE, SIZE, 2))
    hidden = keras.layers.Conv2D(
        filters, 3, padding="same", activation="tanh", kernel_initializer=spread
    )(image)
    logits = keras.layers.Conv2D(CLASSES, 1, kernel_initializer=spread)(hidden)
    if masked:
        logits = MaskFromImage()([logits, image])
    return keras.Model(image, logits, name=name)


def images(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(BATCH, SIZE, SIZE, 2)).astype("float32")
    x[:, :2, :, :] = 0.0  # Two rows of void pixels...
    x[1, :, 3:, :] = 0.0  # ...and half of one image.
    y = rng.integers(0, CLASSES, size=(BATCH, SIZE, SIZE)).astype("int32")
    return x, y


def numpy_per_pixel(t, s, y):
    """(soft-target KD + 0.5 DKD per pixel, cross-entropy per pixel)."""
    kd = TEMPERATURE**2 * kl(softmax(t / TEMPERATURE), softmax(s / TEMPERATURE))
    dkd = numpy_dkd(
        t.reshape(-1, CLASSES), s.reshape(-1, CLASSES), y.reshape(-1), 1.0, 4.0, TEMPERATURE
    ).reshape(y.shape)
    p = softmax(s)
    ce = -np.log(np.take_along_axis(p, y[..., None], -1)[..., 0])
    return kd + 0.5 * dkd, ce


def distiller_for(teacher, student):
    distiller = keras_kd.Distiller(
        teacher,
        student,
        alpha=0.25,
        distillation_loss=[
            losses.SoftTargetKD(TEMPERATURE),
            losses.DKD(alpha=1.0, beta=4.0, temperature=TEMPERATURE, weight=0.5),
        ],
    )
    distiller.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return distiller


def check(logs, soft, hard):
    np.testing.assert_allclose(logs["distillation_loss"], soft, rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(logs["student_loss"], hard, rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(logs["loss"], 0.25 * hard + 0.75 * soft, rtol=2e-5, atol=1e-6)


@pytest.mark.slow
def test_per_pixel_soft_targets_with_a_mask_and_pixel_weights_match_numpy():
    teacher = segmenter(8, masked=False, name="teacher", seed=1)
    student = segmenter(3, masked=True, name="student", seed=2)
    x, y = images()
    mask = (x[..., 0] != 0).astype("float64")
    t = np.asarray(teacher.predict(x, verbose=0), "float64")
    s = np.asarray(student.predict(x, verbose=0), "float64")
    soft, hard = numpy_per_pixel(t, s, y)
    pixel_weight = np.random.default_rng(3).uniform(0.5, 2.0, size=y.shape).astype("float32")

    distiller = distiller_for(teacher, student)
    # The mask: the mean over the pixels that count.
    logs = distiller.evaluate(x, y, batch_size=BATCH, verbose=0, return_dict=True)
    check(logs, (soft * mask).sum() / mask.sum(), (hard * mask).sum() / mask.sum())
    # Mask and per-pixel weights, in a training step (values before its update).
    weights = pixel_weight * mask
    logs = distiller.train_on_batch(x, y, sample_weight=pixel_weight, return_dict=True)
    check(logs, (soft * weights).sum() / mask.sum(), (hard * weights).sum() / mask.sum())

    # No Keras mask: a 0/1 per-pixel weight is the mask.
    plain_student = segmenter(3, masked=False, name="plain", seed=2)
    plain_student.set_weights(student.get_weights())
    s = np.asarray(student.predict(x, verbose=0), "float64")
    soft, hard = numpy_per_pixel(t, s, y)
    logs = distiller_for(teacher, plain_student).evaluate(
        x, y, sample_weight=mask.astype("float32"), batch_size=BATCH, verbose=0, return_dict=True
    )
    check(logs, (soft * mask).sum() / mask.sum(), (hard * mask).sum() / mask.sum())


def test_per_pixel_weights_of_another_shape_name_both_shapes():
    teacher = segmenter(8, masked=False, name="teacher", seed=1)
    student = segmenter(3, masked=False, name="student", seed=2)
    x, y = images()
    with pytest.raises(
        ValueError,
        match=(
            r"shape \(batch, \*positions\) = \(\w+, 6, 6\)\. Received: sample_weight of "
            r"shape \(\w+, 6\) for student outputs of shape \(\w+, 6, 6, 4\)"
        ),
    ):
        distiller_for(teacher, student).evaluate(
            x, y, sample_weight=np.ones((BATCH, SIZE), "float32"), batch_size=BATCH, verbose=0
        )
