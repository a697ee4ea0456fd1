"""Born-again networks on Fashion-MNIST: a trained student teaches the next.

Furlanello et al. (2018) showed that a student distilled from a teacher of
its own size can beat it; repeating the process gives generations. Here:

1. train a small CNN on the labels alone (generation 0, the first teacher);
2. distil it into a fresh copy of the same architecture (generation 1);
3. distil generation 1 into generation 2,

and compare their test accuracies. Every generation uses the same data,
epochs and optimizer.

Usage:

    KERAS_BACKEND=jax python examples/born_again.py --epochs 5 --train-size 10000
"""

import argparse

import keras
import numpy as np

import keras_kd
from keras_kd.apps import recipes
from keras_kd.apps.data import load_fashion_mnist
from keras_kd.apps.reference_models import tiny_student_cnn


def small_cnn():
    """Every generation's architecture: the 9,098-parameter `tiny_student_cnn`
    (the name left to Keras, so that each generation's is unique)."""
    return tiny_student_cnn(name=None)


def compile_kwargs(learning_rate):
    return {
        "optimizer": keras.optimizers.Adam(learning_rate),
        "loss": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        "metrics": ["accuracy"],
    }


def accuracy(model, x, y):
    return float((model.predict(x, batch_size=1000, verbose=0).argmax(-1) == y).mean())


def main():
    parser = argparse.ArgumentParser(description="Born-again distillation.")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--train-size", type=int, default=10000)
    parser.add_argument("--generations", type=int, default=2)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    keras.utils.set_random_seed(args.seed)
    (x, y), (x_test, y_test) = load_fashion_mnist()
    subset = np.random.default_rng(args.seed).permutation(len(x))[: args.train_size]
    x, y = x[subset], y[subset]
    fit_kwargs = {"epochs": args.epochs, "batch_size": 128, "verbose": 0}

    generation_0 = small_cnn()
    generation_0.compile(**compile_kwargs(args.learning_rate))
    generation_0.fit(x, y, **fit_kwargs)
    print(f"generation 0 (labels only): test accuracy {accuracy(generation_0, x_test, y_test):.4f}")

    students = recipes.born_again(
        small_cnn,
        teacher=generation_0,
        x=x,
        y=y,
        generations=args.generations,
        distillation_loss=keras_kd.losses.SoftTargetKD(temperature=4.0),
        alpha=0.5,
        compile_kwargs=compile_kwargs(args.learning_rate),
        fit_kwargs=fit_kwargs,
    )
    for i, student in enumerate(students, start=1):
        print(f"generation {i} (born again): test accuracy {accuracy(student, x_test, y_test):.4f}")
    # Any generation is a plain Keras model, ready to save or export.
    students[-1].save("born_again_student.keras")


if __name__ == "__main__":
    main()
