"""Recipes, hostile arguments (issue 20, defect 24): NumPy integers are
accepted, booleans, NaN, negative learning rates and strings refused with
the argument's name."""

import keras
import numpy as np
import pytest

from keras_kd.apps import recipes

# (id, call, error words or None for a correct result)
CASES = [
    (
        "lr-nan",
        lambda: recipes.patient_schedule(float("nan"), 5, 10),
        r"`learning_rate` is the peak learning rate and must be a number > 0",
    ),
    (
        "lr-negative",
        lambda: recipes.patient_schedule(-1.0, 5, 10),
        r"`learning_rate`.*Received: learning_rate=-1.0",
    ),
    (
        "epochs-true",
        lambda: recipes.patient_schedule(1e-3, True, 10),
        r"`epochs` must be an integer >= 1. Received: epochs=True",
    ),
    (
        "warmup-string",
        lambda: recipes.patient_schedule(1e-3, 5, 10, warmup_epochs="1"),
        r"`warmup_epochs`",
    ),
    (
        "seed-string",
        lambda: recipes.function_matching_augmentation(seed="a"),
        r"`seed` must be an integer or None. Received: seed='a'",
    ),
    (
        "mixup-alpha-string",
        lambda: recipes.function_matching_augmentation(mixup_alpha="0.2"),
        r"`mixup_alpha`",
    ),
    (
        "generations-true",
        lambda: recipes.born_again(None, None, None, None, generations=True),
        r"`generations` must be an integer >= 1",
    ),
    # Correct results: NumPy integers.
    ("epochs-np-int64", lambda: recipes.patient_schedule(1e-3, np.int64(5), np.int32(10)), None),
    ("seed-np-int64", lambda: recipes.function_matching_augmentation(seed=np.int64(3)), None),
]


@pytest.mark.parametrize("call, words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_recipe_arguments_are_checked(call, words):
    if words is None:
        call()
        return
    with pytest.raises(ValueError, match=words):
        call()


def test_born_again_accepts_a_numpy_generation_count_and_refuses_one_student_twice():
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
    y = np.arange(16) % 3

    def make():
        return keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])

    teacher = make()
    students = recipes.born_again(
        make, teacher, x, y, generations=np.int64(1), fit_kwargs={"epochs": 1, "verbose": 0}
    )
    assert len(students) == 1
    same = make()
    with pytest.raises(ValueError, match=r"the same model"):
        recipes.born_again(
            lambda: same, teacher, x, y, generations=2, fit_kwargs={"epochs": 1, "verbose": 0}
        )
