"""One writer at a time for a `TeacherCache` folder.

Private to `keras_kd.teachers.cache`. Two processes writing the same cache
(two jobs started together) take turns: the second waits, then finds the
cache finished and opens it. The lock is an advisory `flock` on a file in
the folder, released by the system when its holder exits or is killed, so
a killed write never blocks the resume. Where `fcntl` is missing
(Windows), writes are not serialized; each file is still written whole.
"""

import contextlib
import os

from keras_kd.teachers import _cache_reader as reader

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

LOCK = ".write.lock"


@contextlib.contextmanager
def writing(directory):
    """Holds the folder's write lock; creates the folder if missing."""
    os.makedirs(directory, exist_ok=True)
    if fcntl is None:
        yield
        return
    with open(os.path.join(directory, LOCK), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def finished(directory):
    """Removes the lock file once the manifest is written: later writers
    find the manifest first and take no lock."""
    if fcntl is not None:
        try:
            os.remove(os.path.join(directory, LOCK))
        except FileNotFoundError:
            pass


def remove_written(directory):
    """Removes what a failed fresh write left: its plan and shards."""
    for name in os.listdir(directory):
        if name == reader.PLAN or (name.startswith("shard_") and name.endswith(".npy")):
            os.remove(os.path.join(directory, name))
