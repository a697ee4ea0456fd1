"""The `keras-kd` command.

`demo`, `distill`, `cache` and `compare` need Keras alone (`tune` adds
KerasTuner, the `keras-kd[tuning]` extra); `export`, `evaluate`, `report`, `qat`
and `prune` call `tflite_export` and need the `keras-kd[tensorflow]` extra.
A user's mistake is reported as `error: <what and how to fix it>` with exit
status 2 and no traceback; TensorFlow's start-up logging is silenced unless
`--verbose` is given.

Example:

    keras-kd demo --dataset digits
    keras-kd distill --teacher teacher.keras --student student.keras \\
        --data train.npz -o student_distilled.keras
    keras-kd cache teacher.keras --data train.npz -o cache_dir --top-k 10
    keras-kd distill --teacher cache_dir --student student.keras \\
        --data train.npz -o student_distilled.keras
    keras-kd tune --teacher teacher.keras --student student.keras --data train.npz \\
        --temperature 1 2 4 --alpha 0.1 0.5 --directory search -o best.json
    keras-kd compare teacher.keras student_alone.keras student_distilled.keras \\
        --data test.npz --output-dir comparison
    keras-kd export student.keras --quantization int8 --calibration calib.npz \\
        -o student_int8.tflite
    keras-kd evaluate student_int8.tflite --data test.npz --reference student.keras
    keras-kd report student_float32.tflite student_int8.tflite --data test.npz --html report.html
    keras-kd qat student.keras --teacher teacher.keras --data train.npz -o student_qat_int8.tflite
    keras-kd prune student.keras --teacher teacher.keras --data train.npz -o student_pruned.tflite
"""

import sys

# Imports nothing of Keras or TensorFlow: `main` silences their start-up
# logging first, then builds the parser, whose sub-command modules import Keras.
from keras_kd.cli import _errors
from keras_kd.cli import _quiet
from keras_kd.cli._errors import UsageError

__all__ = ["UsageError", "build_parser", "main"]


def build_parser():
    """The argument parser of `keras-kd`, with all its sub-commands.

    Imports the sub-command modules (and with them Keras).

    Returns:
        An `argparse.ArgumentParser`; parsed arguments carry the command's
        `handler`.

    Example:

    >>> args = build_parser().parse_args(["demo", "--dataset", "digits"])
    >>> args.command
    'demo'
    """
    from keras_kd.cli import _parser

    return _parser.build_parser()


def main(argv=None):
    """Runs `keras-kd` with `argv` (default: `sys.argv[1:]`).

    Args:
        argv: The arguments, without the program name.

    Returns:
        The exit status: 0, or 2 for a user's mistake (printed as
        `error: ...` on stderr), or 141, silently, when stdout was closed
        (`keras-kd export ... | head`). A wrong option exits through argparse
        with status 2; a bug raises with its traceback.

    Example:

    >>> main(["export", "absent.keras"])  # prints the error on stderr
    2
    """
    argv = sys.argv[1:] if argv is None else [str(arg) for arg in argv]
    if not _quiet.wants_verbose(argv):
        _quiet.silence()  # before the sub-commands import Keras (and TensorFlow)
    args = build_parser().parse_args(argv)
    try:
        status = args.handler(args) or 0
        sys.stdout.flush()  # a closed pipe shows here, not at the exit
        return status
    except BrokenPipeError:  # the reader went away (`| head`): end quietly
        _silence_stdout()
        return _errors.BROKEN_PIPE_EXIT_STATUS
    except _errors.USER_ERRORS as error:
        return _errors.report(error)


def _silence_stdout():
    """Points stdout at /dev/null, so that the final flush stays quiet."""
    import os

    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # a captured stdout
        pass
