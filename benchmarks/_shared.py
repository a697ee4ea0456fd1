"""What the export and TFMOT benchmarks share: the trained teacher and
distilled student on Fashion-MNIST (cached in `_work/`)."""

import os

import keras

import keras_kd
from keras_kd.demo import PRESETS
from keras_kd.reference_models import student_cnn
from keras_kd.reference_models import teacher_cnn

# The demo's Fashion-MNIST recipe, so that the exported student is the one
# the demo's table describes.
RECIPE = PRESETS["fashion_mnist"]
HERE = os.path.dirname(os.path.abspath(__file__))
WORK = os.path.join(HERE, "_work")
ROOT = os.path.dirname(HERE)


def cached_pair(x, y, teacher_epochs, student_epochs, seed):
    """The trained teacher and distilled student, from `_work/` if trained
    before with the same settings (saves minutes on reruns)."""
    key = (
        f"{keras.backend.backend()}_{len(x)}_{teacher_epochs}_{student_epochs}_{seed}"
        f"_T{RECIPE['temperature']}_a{RECIPE['alpha']}"
    )
    paths = [os.path.join(WORK, f"tfmot_{role}_{key}.keras") for role in ("teacher", "student")]
    if all(os.path.exists(p) for p in paths):
        print(f"Reusing the teacher and student trained before: {paths}")
        return tuple(keras.saving.load_model(p) for p in paths)
    keras.utils.set_random_seed(seed)
    pair = train_pair(x, y, teacher_epochs, student_epochs)
    os.makedirs(WORK, exist_ok=True)
    for model, path in zip(pair, paths):
        model.save(path)
    return pair


def train_pair(x, y, teacher_epochs, student_epochs):
    """Trains the teacher, then distills the student from it (the demo's
    recipe: Adam 2e-3, batch 128, `RECIPE`'s temperature and alpha)."""
    sparse_ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    teacher = teacher_cnn()
    teacher.compile(keras.optimizers.Adam(2e-3), sparse_ce, metrics=["accuracy"])
    teacher.fit(x, y, epochs=teacher_epochs, batch_size=128, verbose=2)
    distiller = keras_kd.Distiller(
        teacher, student_cnn(),
        distillation_loss=keras_kd.losses.SoftTargetKD(RECIPE["temperature"]),
        alpha=RECIPE["alpha"],
    )  # fmt: skip
    distiller.compile(keras.optimizers.Adam(2e-3), sparse_ce, metrics=["accuracy"])
    distiller.fit(x, y, epochs=student_epochs, batch_size=128, verbose=2)
    return teacher, distiller.student
