"""`keras-kd cache`: a teacher's outputs stored once, for offline distillation.

Runs on any Keras backend without TensorFlow. `keras-kd distill --teacher
cache_dir` then trains from the stored targets without running the teacher.

Example:

    keras-kd cache teacher.keras --data train.npz -o cache_dir --top-k 10
    keras-kd distill --teacher cache_dir --student student.keras \\
        --data train.npz -o student_distilled.keras
"""

import os

from keras_kd.cli import _loaders
from keras_kd.cli._errors import UsageError


def register(add_command):
    """Adds the `cache` sub-command through `add_command(name, handler, help)`."""
    parser = add_command(
        "cache",
        run,
        "Store a saved teacher's outputs on the inputs of an .npz file, for "
        "distillation without running the teacher (keras-kd distill --teacher DIR).",
    )
    parser.add_argument("teacher", help="Teacher .keras file.")
    parser.add_argument("--data", required=True, help=".npz with the inputs 'x'.")
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        help="Folder of the cache (created; a half-written one is completed).",
    )
    parser.add_argument(
        "--top-k",
        type=int,
        default=None,
        help="Store only the K largest log-probabilities per sample (default: all classes).",
    )
    parser.add_argument("--dtype", choices=("float16", "float32"), default="float16")
    parser.add_argument("--batch-size", type=int, default=256)


def run(args):
    """Checks the inputs, writes (or completes) the cache, and says what it holds."""
    if os.path.isfile(args.output):
        raise UsageError(f"-o/--output: {args.output!r} is a file. Give a folder for the cache.")
    if args.top_k is not None and args.top_k < 1:
        raise UsageError(f"--top-k must be at least 1. Received: --top-k {args.top_k}.")
    if args.batch_size < 1:
        raise UsageError(
            f"--batch-size must be at least 1. Received: --batch-size {args.batch_size}."
        )
    x = _loaders.load_npz(args.data, "--data")["x"]
    teacher = _loaders.load_keras_model(args.teacher, "the teacher")
    _loaders.check_fits(teacher, x, "the teacher", args.data)
    from keras_kd.teachers.cache import TeacherCache

    cache = TeacherCache.write(
        teacher, x, args.output, top_k=args.top_k, dtype=args.dtype, batch_size=args.batch_size
    )
    stored = f"top {cache.top_k} classes" if cache.top_k else "every class"
    print(
        f"Cached the teacher's outputs for {len(cache)} samples ({stored}, "
        f"{args.dtype}) in {cache.directory}"
    )
    return 0


def load_teacher(path):
    """The `TeacherCache` in folder `path`, for `keras-kd distill --teacher`."""
    from keras_kd.teachers.cache import TeacherCache

    return TeacherCache(path)


def fit_data(teacher, x, y, args):
    """The data arguments of `fit`: the arrays, or a cache's batches of them."""
    from keras_kd.teachers.cache import TeacherCache

    if not isinstance(teacher, TeacherCache):
        return {
            "x": x,
            "y": y,
            "batch_size": args.batch_size,
            "validation_split": args.validation_split,
        }
    if args.validation_split:
        raise UsageError(
            "--validation-split is not available with a cached teacher (the "
            "cache's batches come as one dataset). Received: --validation-split "
            f"{args.validation_split}. Drop it, or distil from the teacher .keras file."
        )
    return {"x": teacher.dataset(x, y, batch_size=args.batch_size, shuffle=True, seed=0)}
