"""`run_job`: runs a `Job` in a TensorFlow child process, from the user's one.

The child is `python -m tflite_export._worker job.json` with
`KERAS_BACKEND=tensorflow` (and `TF_USE_LEGACY_KERAS=1` for TFMOT). Its
stdout (the progress bars) is streamed to this process's stdout; its stderr
is kept, and shown in full if it fails.
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading

from tflite_export._errors import ExportError

_ENTRY_POINT = "tflite_export._worker"


def run_job(job, what, arrays=None):
    """Runs `job` in a TensorFlow child process and returns its outcome.

    Args:
        job: A `Job`; the model file it names must already be written.
        what: What the job does, for error messages, e.g.
            `"converts the model to TFLite"`.
        arrays: Optional dict of NumPy arrays for the child
            (`Job.read_arrays`).

    Returns:
        The child's outcome: the dict its task returned.

    Raises:
        ExportError: The task failed (the message is the child's own), or
            the child process failed (the message holds its stderr).
    """
    path = job.write(arrays)
    _start_child(path, job.folder, what, job.legacy_keras)
    return read_outcome(job.result_path)


def _start_child(job_path, folder, what, legacy_keras):
    env = dict(os.environ, KERAS_BACKEND="tensorflow")
    if legacy_keras:
        env["TF_USE_LEGACY_KERAS"] = "1"
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    stderr_path = os.path.join(folder, "stderr.txt")
    command = [sys.executable, "-m", _ENTRY_POINT, job_path]
    with open(stderr_path, "wb") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, env=env)
        try:
            _stream(process.stdout)
            code = process.wait()
        finally:  # an interrupt here must not leave the child running
            if process.poll() is None:
                process.kill()
                process.wait()
            process.stdout.close()
    if code != 0:
        with open(stderr_path, encoding="utf-8", errors="replace") as f:
            log = f.read()
        raise ExportError(
            f"The TensorFlow process that {what} failed ({describe_exit(code)}). "
            f"Command: {' '.join(command)}\nIts stderr, in full:\n{log}"
        )


def _stream(pipe):
    """Copies the child's stdout to ours until it ends; a closed stdout
    (`keras-kd export | head`) stops the copy, not the child."""
    copying = True
    # Chunks, not lines: the Keras progress bar redraws with "\r".
    while chunk := os.read(pipe.fileno(), 4096):
        if not copying:
            continue
        try:
            sys.stdout.write(chunk.decode("utf-8", errors="replace"))
            sys.stdout.flush()
        except BrokenPipeError:
            copying = False
            silence_stdout()


def silence_stdout():
    """Points stdout at /dev/null after a broken pipe, so that Python's
    final flush does not fail again (the recipe of Python's `signal` docs)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real stdout (captured)
        pass


def describe_exit(code):
    """`"exit code 1"`, or `"killed by signal SIGSEGV (a crash)"` for a signal.

    Example:

    >>> describe_exit(-9)
    'killed by signal SIGKILL (out of memory, or killed by someone)'
    """
    if code >= 0:
        return f"exit code {code}"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = f"{-code}"
    cause = {
        "SIGSEGV": "a crash inside TensorFlow; check the model and its inputs "
        "for NaN or infinite values",
        "SIGKILL": "out of memory, or killed by someone",
        "SIGTERM": "terminated by someone",
        "SIGINT": "interrupted",
        "SIGABRT": "aborted by TensorFlow",
    }.get(name, "a signal")
    return f"killed by signal {name} ({cause})"


# The disposition a job takes a signal over; any other (SIG_IGN, a handler the
# user installed) stays theirs.
_DEFAULT_HANDLERS = {signal.SIGTERM: signal.SIG_DFL, signal.SIGINT: signal.default_int_handler}


class _Recorder:
    """The handler a `terminate_as_exit` block installs: records the signal
    for its block and every block around it (a job inside a job), then
    raises the signal's exception."""

    def __init__(self, outer):
        self.received = []
        self.outer = outer

    def __call__(self, signum, frame):
        recorder = self
        while recorder is not None:
            recorder.received.append(signum)
            recorder = recorder.outer
        raise _exception_for(signum)


@contextlib.contextmanager
def terminate_as_exit():
    """Makes SIGTERM raise `SystemExit(143)` and Ctrl-C (SIGINT) raise
    `KeyboardInterrupt` inside the block, so that a job's temporary folder is
    removed and its child stopped on the way out (a plain SIGTERM would end
    this process without cleaning up).

    A signal whose exception Python swallowed (one raised inside a garbage
    collector callback is printed as "Exception ignored" and dropped: seen
    with JAX's) is raised again when the block ends, so work interrupted
    that way is never published; if the block ends with another exception
    instead (the child, interrupted too, failed), the signal's is raised,
    from that one. A signal the process ignores (SIG_IGN: a
    background job's SIGINT) or handles itself stays as it is, also when the
    handler is installed inside the block. Blocks nest (a job inside a job:
    the inner one raises); outside the main thread, where handlers cannot
    be installed, the block changes nothing.
    """
    main_thread = threading.current_thread() is threading.main_thread()
    recorder, previous = None, {}
    # Both signals held back while the handlers go in: one arriving between
    # the two installs raised its exception before they were all in, and the
    # handler installed first stayed for good (a later SIGTERM, outside any
    # block, became a SystemExit).
    held = _hold(_DEFAULT_HANDLERS) if main_thread else None
    try:
        if main_thread:
            # Known to `finally` before the first install: the hold does not
            # stop a signal that another thread of the process takes (the
            # backends' threads), whose handler then runs in the main thread
            # between two installs.
            recorder = _recorder_for(signal.getsignal(signum) for signum in _DEFAULT_HANDLERS)
            _install(recorder, previous)
        # A signal that arrived while the handlers went in runs the recorder
        # here, inside the block.
        _release(held)
        yield
    except Exception as error:  # (a signal's own exception is not an Exception)
        if recorder and recorder.received:
            raise _exception_for(recorder.received[0]) from error
        raise
    finally:
        _restore(previous, recorder)
        _release(held)  # (again: a no-op unless installing failed)
    if recorder and recorder.received:  # the block ended as if nothing had happened
        raise _exception_for(recorder.received[0])


def _recorder_for(handlers):
    """A new block's recorder, inside the block around it if there is one."""
    return _Recorder(next((h for h in handlers if isinstance(h, _Recorder)), None))


def _install(recorder, previous):
    """Installs `recorder` for each signal still at its default (or at an
    outer block's recorder), noting in `previous` what it replaced."""
    for signum, default in _DEFAULT_HANDLERS.items():
        handler = signal.getsignal(signum)
        if handler == default or isinstance(handler, _Recorder):
            previous[signum] = handler
            signal.signal(signum, recorder)


def _restore(previous, recorder):
    """Puts back the handlers a block replaced, with both signals held back
    meanwhile (one arriving between two restores would leave ours in place);
    a handler installed inside the block is left."""
    held = _hold(previous)
    try:
        for signum, handler in previous.items():
            if signal.getsignal(signum) is recorder:
                signal.signal(signum, handler)
    finally:
        _release(held)


def _hold(signals):
    """Blocks `signals` (delivered when released); returns the mask to put
    back, or `None` where signals cannot be blocked (Windows)."""
    mask = getattr(signal, "pthread_sigmask", None)
    return mask(signal.SIG_BLOCK, set(signals)) if mask and signals else None


def _release(held):
    """Puts back the mask `_hold` returned: a signal held meanwhile runs its
    handler now."""
    if held is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _exception_for(signum):
    if signum == signal.SIGINT:
        return KeyboardInterrupt()
    return SystemExit(128 + signum)


def read_outcome(result_path):
    """The outcome the child wrote; raises `ExportError` for a failed task."""
    with open(result_path) as f:
        outcome = json.load(f)
    if "error" in outcome:
        raise ExportError(outcome["error"])
    return outcome


def write_outcome(result_path, work):
    """Runs the child's `work()` and writes its outcome for the parent.

    Args:
        result_path: Path of the JSON file the parent reads.
        work: Callable returning a JSON-serializable dict. A `ValueError`
            (bad input, or an `ExportError`) becomes `{"error": message}`,
            which the parent raises as `ExportError`; anything else fails the
            process, whose stderr the parent shows in full.
    """
    try:
        outcome = work()
    except ValueError as error:
        outcome = {"error": str(error)}
    with open(result_path, "w") as f:
        json.dump(outcome, f)
