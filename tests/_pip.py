"""`pip install` for CI and the client environments, tried again when the network drops.

CI's downloads have failed mid-file ("incomplete-download", 0 of 7.1 MB after
pip's own six attempts), which ended a run in its first 25 seconds. A failure
whose output names the network is tried again after a pause; any other failure
(a version that does not exist, a resolver conflict) is reported at once.

Usage: `python tests/_pip.py [pip install arguments]` installs into the Python
that runs it.
"""

from __future__ import annotations

import subprocess
import sys
import time

# Matched without regard to case ("Connection reset", "connection refused",
# "HTTPSConnectionPool" all by "connection").
NETWORK_WORDS = (
    "incomplete-download",
    "connection",
    "timed out",
    "temporary failure in name resolution",
    "network is unreachable",
    "protocolerror",
)


def is_network_failure(output: str) -> bool:
    """Whether pip's output says the download, not the request, failed."""
    output = output.lower()
    return any(word in output for word in NETWORK_WORDS)


def install(
    python: str,
    *arguments: str,
    attempts: int = 4,
    pause: float = 30.0,
    timeout: float = 1800.0,
) -> str:
    """Runs `python -m pip install arguments`, again after `pause`, `2 * pause`, ...
    seconds while it fails on the network, at most `attempts` times.

    Args:
        python: the interpreter whose environment receives the packages.
        *arguments: what follows `pip install`.
        attempts: how many times to run pip in all (at least 1).
        pause: seconds before the second attempt; doubled before each next one.
        timeout: seconds one attempt may take.

    Returns:
        pip's output of the attempt that succeeded.

    Raises:
        ValueError: `attempts` is below 1.
        RuntimeError: pip failed for a reason other than the network, or on
            the network `attempts` times; the message holds pip's output.

    Example:
    >>> install(sys.executable, "-q", "six")  # doctest: +SKIP
    ''
    """
    if attempts < 1:
        raise ValueError(f"attempts={attempts}: pip must be run at least once; pass attempts >= 1.")
    command = [python, "-m", "pip", "install", "--disable-pip-version-check", *arguments]
    for attempt in range(1, attempts + 1):
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        output = done.stdout + done.stderr
        if done.returncode == 0:
            return output
        if not is_network_failure(output):
            raise RuntimeError(
                f"{' '.join(command)} failed (not a network error, not tried again):\n{output}"
            )
        if attempt < attempts:
            wait = pause * 2 ** (attempt - 1)
            print(
                f"pip lost the network (attempt {attempt} of {attempts}); again in {wait:.0f} s",
                file=sys.stderr,
            )
            time.sleep(wait)
    raise RuntimeError(f"{' '.join(command)} failed on the network {attempts} times:\n{output}")


if __name__ == "__main__":
    try:
        sys.stdout.write(install(sys.executable, *sys.argv[1:]))
    except RuntimeError as error:
        sys.exit(str(error))
