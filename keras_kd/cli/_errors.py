"""The command line's error for a user's mistake, and how `main` reports it."""

import sys

# Exit status of a command the user got wrong (argparse uses the same).
USAGE_EXIT_STATUS = 2


class UsageError(Exception):
    """A mistake in what the user asked for, not a bug.

    `keras_kd.cli.main` prints it as `error: <message>` on stderr, without a
    traceback, and exits with status 2. The message says what was received
    and how to fix it.

    Example:

    >>> error = UsageError("--output must end in .keras. Received: 'student.h5'.")
    >>> report(error, stream=sys.stdout)
    error: --output must end in .keras. Received: 'student.h5'.
    2
    """


# What the library raises for a user's mistake: a bad argument or path.
# Anything else is a bug and keeps its traceback.
# OSError covers a missing file, a read-only folder and a full disk; the
# library's messages name the path.
USER_ERRORS = (
    UsageError,
    ValueError,
    OSError,
)

# Exit status of a command whose reader went away (`keras-kd export | head`),
# as for a Unix tool ended by SIGPIPE (128 + 13).
BROKEN_PIPE_EXIT_STATUS = 141


def report(error, stream=None):
    """Prints a user's mistake as one `error: ...` message.

    Args:
        error: One of `USER_ERRORS`.
        stream: Where to print; defaults to `sys.stderr`.

    Returns:
        `USAGE_EXIT_STATUS`, the exit status for the command.

    Example:

    >>> report(UsageError("no .tflite files given."))  # prints to stderr
    2
    """
    message = str(error).strip() or type(error).__name__
    print(f"error: {message}", file=stream or sys.stderr)
    return USAGE_EXIT_STATUS
