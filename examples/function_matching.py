"""Function matching on Fashion-MNIST: a consistent and patient teacher.

Beyer et al. (2022), "Knowledge distillation: A good teacher is patient and
consistent": show the teacher and the student the *same* augmented view of
every image (mixup included), train on the teacher's outputs alone, and
train long. `keras_kd.apps.recipes.function_matching` sets this up:

1. train a teacher with flips and translations;
2. distil it into a small student with `function_matching` and a cosine
   `patient_schedule`;
3. train the same student alone on the labels, with the same flips,
   translations and schedule, and compare test accuracies.

Usage:

    KERAS_BACKEND=jax python examples/function_matching.py --train-size 10000 --epochs 10
    KERAS_BACKEND=torch python examples/function_matching.py --quick   # seconds
"""

import argparse

import keras

from keras_kd.apps import recipes
from keras_kd.apps.data import load_fashion_mnist
from keras_kd.apps.reference_models import small_teacher_cnn
from keras_kd.apps.reference_models import tiny_student_cnn


def accuracy(model, x, y):
    return float((model.predict(x, batch_size=1000, verbose=0).argmax(-1) == y).mean())


def trained_alone(model, x, y, epochs, batch_size, seed, translation):
    """`model` trained on the labels with the recipe's flips and translations."""
    layers = recipes.function_matching_augmentation(
        mixup_alpha=None, translation=translation, seed=seed
    )
    wrapper = keras.Sequential([keras.Input(x.shape[1:]), *layers, model])
    steps = -(-len(x) // batch_size)
    wrapper.compile(
        keras.optimizers.Adam(recipes.patient_schedule(2e-3, epochs, steps)),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    wrapper.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0)
    return model


def main():
    parser = argparse.ArgumentParser(description="Function matching.")
    parser.add_argument("--train-size", type=int, default=10000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="A tiny run, to check the script.")
    args = parser.parse_args()
    # The quick mode (a test) leaves out the translations, which take JAX
    # tens of seconds to compile on a loaded machine.
    translation = None if args.quick else 0.1
    if args.quick:
        args.train_size, args.epochs = 128, 1
    keras.utils.set_random_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = load_fashion_mnist()
    x, y = x_train[: args.train_size], y_train[: args.train_size]
    if args.quick:
        x_test, y_test = x_test[:128], y_test[:128]

    settings = (args.epochs, args.batch_size, args.seed, translation)
    teacher = trained_alone(small_teacher_cnn(), x, y, *settings)
    alone = trained_alone(tiny_student_cnn(), x, y, *settings)

    distiller = recipes.function_matching(
        teacher, tiny_student_cnn(), translation=translation, seed=args.seed
    )
    steps = -(-len(x) // args.batch_size)
    distiller.compile(keras.optimizers.Adam(recipes.patient_schedule(2e-3, args.epochs, steps)))
    # alpha=0: the labels are not used, only the teacher's outputs.
    distiller.fit(x, y, epochs=args.epochs, batch_size=args.batch_size, verbose=0)

    print("| model | parameters | test accuracy |")
    print("|---|---:|---:|")
    for name, model in (
        ("teacher", teacher),
        ("student alone", alone),
        ("student, function matching", distiller.student),
    ):
        score = 100 * accuracy(model, x_test, y_test)
        print(f"| {name} | {model.count_params():,} | {score:.2f}% |")


if __name__ == "__main__":
    main()
