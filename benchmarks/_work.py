"""A benchmark's work folder: the records, locks and CPU ledger that let a
long run resume where it was killed and several processes share one folder.

Every part of a run (a teacher, a cache, one arm and seed) leaves a JSON
record when it is done; a process that finds the record reads it instead of
making the part again. A part is made under its lock (`claimed`), so a
second process sharing the folder waits and then reads the record; its CPU
seconds are added to a ledger (`charged`) by every invocation that worked on
it, so a resumed part's total counts them all.

Example:

    with claimed(work, "kd_seed0"):
        record = load_record(os.path.join(work, "kd_seed0.json"))
        if record is None:
            with charged(work, "kd_seed0"):
                record = train()
            save_record(os.path.join(work, "kd_seed0.json"), record)
"""

import contextlib
import json
import math
import os
import time

import keras_kd

LEDGER = "cpu.json"  # CPU seconds spent on each part, over every invocation.


class RecordError(ValueError):
    """A record of the work folder that is not the JSON object written there."""


def load_record(path):
    """The record at `path`.

    Args:
        path: A `.json` file of the work folder.

    Returns:
        The dict it holds, or `None` when there is no such file.

    Raises:
        RecordError: naming the file and the fix when it is not a JSON object
            (a file truncated, or edited by hand), instead of a traceback from
            whichever part read it.
    """
    value, problem = _json_object(path)
    if problem is not None:
        raise RecordError(
            f"{path} is not a JSON object as this script writes ({problem}). Remove it "
            "(the part it records is made again: a run's record, that run trains "
            "again) or put back a good copy."
        )
    return value


def _json_object(path):
    """`(the dict at path, None)`, `(None, None)` when there is no file, or
    `(None, what is wrong)` when it holds no JSON object."""
    if not os.path.exists(path):
        return None, None
    try:
        if not os.path.isfile(path):  # (was: open() of a FIFO waited forever for a writer)
            raise OSError(f"not a file but a {'folder' if os.path.isdir(path) else 'special file'}")
        with open(path) as file:
            value = json.load(file)
    except (OSError, ValueError) as error:
        # ValueError: bad JSON, bad UTF-8, and an integer of over 4,300 digits
        # Python will not read (was: a traceback).
        return None, error
    if not isinstance(value, dict):
        return None, f"a {type(value).__name__}"
    return value, None


def save_record(path, value):
    """Writes the dict `value` to `path` as JSON, atomically.

    Args:
        path: A `.json` file of the work folder.
        value: A dict of JSON values.
    """
    # A temporary file of its own: two processes sharing the folder (one per
    # seed) may save the same record at once.
    keras_kd.files.atomic_write(path, json.dumps(value, indent=1))


@contextlib.contextmanager
def claimed(work, part):
    """Holds `part`'s lock in `work` for the block.

    An advisory `flock` on `work/.<part>.lock`, released if the process dies:
    a second process sharing the folder waits here (saying so), then finds
    the part done, instead of making it again into the same backup.

    Args:
        work: The work folder.
        part: The part's name, e.g. `"teacher"` or `"kd_seed0"`.
    """
    import fcntl

    with open(os.path.join(work, f".{part}.lock"), "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"{part}: another process sharing {work} is on it; waiting.", flush=True)
            _wait_for_lock(handle, fcntl)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _wait_for_lock(handle, fcntl, poll_seconds=0.5):
    """Takes the lock of `handle`, trying again every `poll_seconds`.

    Not one blocking `flock`: a SIGTERM that the kernel hands to another of
    the process's threads (TensorFlow's) does not interrupt it, so Python's
    handler waited with it, until the other process's part ended (seen: a
    run sent SIGTERM while waiting still waiting minutes later). Between
    tries, the main thread runs the handler.
    """
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            time.sleep(poll_seconds)


@contextlib.contextmanager
def charged(work, part):
    """Adds the CPU seconds spent inside the block to `part`'s total in the
    ledger, also when the block is interrupted (Ctrl-C, or a SIGTERM the
    script turns into an exit), so a resumed part's total counts every
    invocation. A process killed by SIGKILL loses its share.

    Args:
        work: The work folder.
        part: The part's name.
    """
    read_ledger(work)  # a broken ledger refused before the part's hours, not after
    start = time.process_time()
    try:
        yield
    finally:
        with claimed(work, "ledger"):
            ledger = read_ledger(work)
            ledger[part] = ledger.get(part, 0.0) + time.process_time() - start
            save_record(os.path.join(work, LEDGER), ledger)


def read_ledger(work):
    """The CPU ledger of `work`: `{part: CPU seconds}` (`{}` when missing).

    Raises:
        RecordError: naming the file and the fix when it is not a JSON
            object of finite, non-negative numbers (a traceback from
            `charged`'s sum before, after the part's hours of work).
    """
    path = os.path.join(work, LEDGER)
    ledger, bad = _json_object(path)
    ledger = ledger or {}
    if bad is None:
        bad = next(
            (
                f"{part!r}: {seconds!r}"
                for part, seconds in ledger.items()
                if not _is_seconds(seconds)
            ),
            None,
        )
    if bad is not None:
        raise RecordError(
            f"{path}, the CPU ledger, is not a JSON object of CPU seconds per part ({bad}). "
            "Mend it, or remove it: the CPU seconds it recorded leave the tables; no part "
            "trains again."
        )
    return ledger


def _is_seconds(value):
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return number and math.isfinite(value) and value >= 0


def cpu_spent(work, part):
    """CPU seconds the ledger of `work` holds for `part` (0 for none)."""
    return read_ledger(work).get(part, 0.0)
