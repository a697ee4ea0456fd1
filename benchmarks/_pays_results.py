"""RESULTS_pays.md: where `pays.py` publishes a work folder's table, one
table per student settings between its own markers, each beginning with a
`Settings:` line, so that a table of other settings is refused instead of
replaced.

`pays.py` names the marker and the settings (they come from its options);
this module checks the file and writes the table.
"""

import json
import re

from _markdown import MarkdownFileError
from _markdown import check_markers
from _markdown import publish
from _markdown import read_between_markers
from _pays_folder import arm_summary
from _pays_folder import finished_runs
from _pays_folder import folder_records
from _pays_folder import folder_table
from _pays_folder import runs_table
from _pays_folder import selection_table
from _work import claimed

TITLE = "Distillation that pays: results of benchmarks/pays.py"

# The line a table of `write_table` begins with: the settings of its folder.
SETTINGS_LINE = re.compile(r"^Settings: `(\{.*\})`", re.MULTILINE)


def table_conflict(path, marker, settings):
    """Why `path` cannot take the table `marker` of these settings, or `None`.

    Args:
        path: the results file (RESULTS_pays.md).
        marker: the table's marker name.
        settings: the settings the table is of (a dict of option values).

    Returns:
        A message naming the problem and the fix: the file's markers are
        broken or it is read-only (`check_markers`), or its table at `marker`
        is of other settings, which this one would replace. `None` when
        the table can be written.
    """
    try:
        check_markers([path], marker)
    except MarkdownFileError as error:
        return str(error)
    match = SETTINGS_LINE.search(read_between_markers(path, marker) or "")
    try:
        there = json.loads(match.group(1)) if match else {}
    except (json.JSONDecodeError, RecursionError):
        there = {}  # a line edited by hand (or nested past the parser): nothing to compare
    if not isinstance(there, dict):
        there = {}
    differing = [key for key in settings if key in there and there[key] != settings[key]]
    if not differing:
        return None
    named = ", ".join(
        f"--{key.replace('_', '-')} {there[key]} there, {settings[key]} now" for key in differing
    )
    return (
        f"{path}'s table {marker!r} is of other settings ({named}); this folder's "
        "would replace it. Rename that table's markers (e.g. to "
        f"<!-- {marker}_old:begin -->) to keep it, or remove it, and run again."
    )


def write_table(path, marker, settings, work, teacher_record):
    """Writes the table of every run `work` holds at `marker` in `path`
    (another process sharing the folder may have finished other seeds or
    arms: the file shows them all, whichever process ends last).

    Args:
        path: the results file (RESULTS_pays.md).
        marker: the table's marker name.
        settings: the settings the table is of; its `Settings:` line adds
            the arms and seeds shown.
        work: the work folder.
        teacher_record: the teacher's record (its accuracy and CPU).

    Raises:
        MarkdownFileError: the message of `table_conflict`, checked again under
            the folder's lock (another folder's process may have written
            meanwhile); nothing is written then.
    """
    with claimed(work, "results"):
        conflict = table_conflict(path, marker, settings)
        if conflict:
            raise MarkdownFileError(conflict)
        arms, all_seeds = finished_runs(work)
        finished = folder_records(work, arms, all_seeds)
        text, seeds, cpu = folder_table(work, teacher_record, finished, arms, all_seeds)
        shown = {**settings, "arms": arms, "seeds": seeds}
        selection = selection_table(work)
        # Between markers: the notes around the table (earlier runs) stay.
        publish(
            f"Settings: `{json.dumps(shown)}` (seeds every arm finished)\n\n"
            f"{text}\n\nCPU time, all parts: {cpu / 3600:.2f} h.\n\n"
            "Each arm over the seeds it finished:\n\n"
            f"{arm_summary(teacher_record, finished)}\n\n"
            "Every finished run, each against the student alone of its seed:\n\n"
            f"{runs_table(teacher_record, finished)}" + (f"\n\n{selection}" if selection else ""),
            marker,
            TITLE,
            [path],
        )
