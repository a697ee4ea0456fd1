"""The argument parser of `keras-kd`: every sub-command, registered by its module.

Imported by `keras_kd.cli.main` only after TensorFlow's start-up logging is
silenced: the sub-command modules import Keras.
"""

import argparse

from keras_kd.cli import _cache
from keras_kd.cli import _compare
from keras_kd.cli import _demo
from keras_kd.cli import _distill
from keras_kd.cli import _export
from keras_kd.cli import _quiet
from keras_kd.cli import _report
from keras_kd.cli import _tfmot
from keras_kd.cli import _tune

# Each adds its sub-commands with `register(add_command)`.
COMMAND_MODULES = (_demo, _distill, _cache, _tune, _compare, _export, _report, _tfmot)


def _common_options():
    """Options every sub-command accepts, as an argparse parent parser."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        _quiet.VERBOSE_FLAG,
        action="store_true",
        default=argparse.SUPPRESS,
        help="Keep TensorFlow's and absl's start-up logging.",
    )
    return common


def build_parser():
    """The parser of `keras-kd` and its sub-commands (`keras_kd.cli.build_parser`)."""
    common = _common_options()
    parser = argparse.ArgumentParser(
        prog="keras-kd",
        description="Knowledge distillation for Keras 3 (TensorFlow, JAX, "
        "PyTorch) and export to quantized TFLite for Android.",
        parents=[common],
    )
    subparsers = parser.add_subparsers(dest="command", required=True)

    def add_command(name, handler, help):
        """Adds sub-command `name`, run by `handler(args)`; returns its parser."""
        command = subparsers.add_parser(name, parents=[common], help=help, description=help)
        command.set_defaults(handler=handler)
        return command

    for module in COMMAND_MODULES:
        module.register(add_command)
    return parser
