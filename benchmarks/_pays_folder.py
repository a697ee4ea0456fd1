"""What a `pays.py` work folder holds, read back: its run and learning-rate
selection records, each checked against its file name, and the tables made
from them (the README's, RESULTS_pays.md's and `--report-only`'s).

Nothing here trains or loads data: `pays.py` makes the records, this module
reads them, so a report of a folder is cheap and another process may be
adding to the folder meanwhile.
"""

import math
import os
import statistics

from _work import RecordError
from _work import cpu_spent
from _work import load_record

ARMS = ("alone", "kd", "kd_std", "dkd", "mld", "fm", "fm_plain")

STUDENTS = "students.json"  # The settings every arm of --work trains with.

RUN_KEYS = ("arm", "seed", "test", "val", "cpu_seconds")  # what the tables read


def run_record(path):
    """The record of the (arm, seed) run at `path` (`None` when there is none).

    Args:
        path: `<arm>_seed<seed>.json` in the work folder.

    Raises:
        RecordError: naming the file and the fix when it lacks one of
            `RUN_KEYS`, or records another arm or seed than its name says,
            instead of a KeyError from the tables or another run counted twice.
    """
    record = load_record(path)
    if record is None:
        return None
    missing = [key for key in RUN_KEYS if key not in record]
    if missing:
        problem = "no " + ", ".join(map(repr, missing))
    elif f"{record['arm']}_seed{record['seed']}.json" != os.path.basename(path):
        problem = f"the run of {record['arm']!r} seed {record['seed']!r}"
    else:
        return record
    raise RecordError(
        f"{path} does not record the run its name says ({problem}). Remove it (that run "
        "trains again) or put back a good copy."
    )


# The seed of the selection runs: none of the reported runs', so no reported
# student is the one its learning rate was chosen on.
SELECTION_SEED = 1000


def selection_part(arm, rate):
    return f"select_{arm}_lr{rate:g}"


SELECTION_KEYS = ("arm", "learning_rate", "epochs", "val")


def chosen_rate(scores, listed):
    """The learning rate an arm trains at, from its selection runs' scores.

    Args:
        scores: `{rate: validation accuracy}` of the runs finished.
        listed: The rates to choose from, in `--learning-rates` order.

    Returns:
        The rate of the highest score, the first listed on a tie; `None`
        while a listed rate has no score yet (a selection under way).
    """
    if not set(listed) <= set(scores):
        return None
    return max(listed, key=scores.get)  # max keeps the first of equals


def selection_record(path, epochs=None):
    """The record of the selection run at `path` (`None` when there is none).

    Args:
        path: `select_<arm>_lr<rate>.json` in the work folder.
        epochs: The folder's `--select-epochs`, or `None` not to check them.

    Raises:
        RecordError: naming the file and the fix when it lacks one of
            `SELECTION_KEYS`, or records another arm, rate or (when given)
            epochs than its name and the folder say, instead of a KeyError
            or another arm's score read as this one's.
    """
    record = load_record(path)
    if record is None:
        return None
    missing = [key for key in SELECTION_KEYS if key not in record]
    arm, rate = record.get("arm"), record.get("learning_rate")
    if missing:
        problem = "no " + ", ".join(map(repr, missing))
    elif not isinstance(rate, (int, float)) or (
        f"{selection_part(arm, rate)}.json" != os.path.basename(path)
    ):
        problem = f"the run of {arm!r} at {rate!r}"
    elif epochs is not None and record["epochs"] != epochs:
        problem = f"a run of {record['epochs']} epochs, not --select-epochs {epochs}"
    else:
        return record
    raise RecordError(
        f"{path} does not record the selection run its name says ({problem}). Remove it "
        "(that selection run trains again) or put back a good copy."
    )


def selection_paths(work):
    """The selection records' files in `work` (`select_*.json`), sorted."""
    names = sorted(os.listdir(work)) if os.path.isdir(work) else ()
    return [
        os.path.join(work, name)
        for name in names
        if name.startswith("select_") and name.endswith(".json")
    ]


def selection_table(work, arms=ARMS):
    """The selection runs of `arms` `work` holds, as a Markdown table (`""`
    for none).

    Args:
        work: The work folder.
        arms: The arms to show (`--report-only --arms`).

    Returns:
        One row per arm (in `ARMS` order): the validation accuracy at each
        learning rate tried, the chosen one in bold.

    Raises:
        RecordError: a selection record not of the run its name and the
            folder's `--select-epochs` say (`selection_record`).
    """
    bound = load_record(os.path.join(work, STUDENTS)) or {}  # the folder's settings
    found = {}
    for path in selection_paths(work):
        record = selection_record(path, bound.get("select_epochs"))
        if record["arm"] in arms:
            found.setdefault(record["arm"], []).append(record)
    if not found:
        return ""
    rates = sorted({r["learning_rate"] for records in found.values() for r in records})
    epochs = sorted({r["epochs"] for records in found.values() for r in records})
    listed = bound.get("learning_rates")  # the order that breaks ties
    lines = [
        f"| arm | {' | '.join(f'{rate:g}' for rate in rates)} |",
        "|---|" + "---:|" * len(rates),
    ]
    for arm in ARMS:
        by_rate = {r["learning_rate"]: r["val"] for r in found.get(arm, ())}
        if not by_rate:
            continue
        best = chosen_rate(by_rate, listed or sorted(by_rate))
        cells = [
            ""
            if rate not in by_rate
            else (
                f"**{100 * by_rate[rate]:.2f}**" if rate == best else f"{100 * by_rate[rate]:.2f}"
            )
            for rate in rates
        ]
        lines.append(f"| {arm} | {' | '.join(cells)} |")
    caption = (
        f"Validation accuracy (%) of each arm's selection runs ({', '.join(map(str, epochs))} "
        f"epochs, seed {SELECTION_SEED}) by peak learning rate; in bold the one its runs train "
        "at (the first of --learning-rates on a tie; none until every rate is tried)."
    )
    return caption + "\n\n" + "\n".join(lines)


def mean_std(values, scale=100.0):
    values = [scale * v for v in values]
    if len(values) == 1:
        return f"{values[0]:.2f}"
    spread = statistics.stdev(values)
    return f"{statistics.mean(values):.2f} ± {spread:.2f}"


def table(teacher_record, records, arms, seeds):
    """The table of `arms` over `seeds`: one row per arm in `ARMS` order,
    each run's gap closed against the student alone of its seed (from
    `records`, which may hold alone's runs where `arms` does not)."""
    alone = {r["seed"]: r["test"] for r in records if r["arm"] == "alone"}
    # A record without `test_plain` is of the network alone (saved before its
    # flip average was scored).
    averaged = "mean over a mirror image" if "test_plain" in teacher_record else "network alone"
    lines = [
        "| arm | test accuracy (%) | validation (%) | gap closed (test) |",
        "|---|---|---|---|",
        f"| teacher ({teacher_record['parameters']:,} parameters, {averaged}) | "
        f"{100 * teacher_record['test']:.2f} | {100 * teacher_record['val']:.2f} | |",
    ]
    # The gap is the teacher's lead over the student alone; where the teacher
    # does not lead, "gap closed" has no meaning (its sign flips: an arm worse
    # than alone would read as closing it) and is not given.
    no_gap = sorted(seed for seed, value in alone.items() if teacher_record["test"] <= value)
    for arm in sorted(arms, key=ARMS.index):  # as every other table, whatever --arms' order
        mine = [r for r in records if r["arm"] == arm and r["seed"] in seeds]
        if not mine:
            continue
        gaps = [
            (r["test"] - alone[r["seed"]]) / (teacher_record["test"] - alone[r["seed"]])
            for r in mine
            if arm != "alone" and r["seed"] in alone
        ]
        if arm == "alone" or not gaps:
            gap = ""
        elif no_gap:
            gap = f"none: the teacher does not beat alone (seeds {no_gap})"
        else:
            gap = mean_std(gaps) + " %"
        lines.append(
            f"| {arm} | {mean_std([r['test'] for r in mine])} | "
            f"{mean_std([r['val'] for r in mine])} | {gap} |"
        )
    return "\n".join(lines)


def runs_table(teacher_record, records, baseline=()):
    """Every finished (arm, seed), each against the student alone of its seed.

    Args:
        teacher_record: the teacher's record (its test accuracy sets the gap).
        records: the finished runs, in any order.
        baseline: runs of the student alone not among `records` (not
            shown), for the gaps (`baseline_records`).

    Returns:
        A Markdown table, one row per run, seed by seed.
    """
    alone = {r["seed"]: r["test"] for r in [*records, *baseline] if r["arm"] == "alone"}
    lines = [
        "| arm | seed | test (%) | validation (%) | gap closed (test) | CPU s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in sorted(records, key=lambda r: (r["seed"], ARMS.index(r["arm"]))):
        gap = ""
        if r["arm"] != "alone" and r["seed"] in alone and teacher_record["test"] > alone[r["seed"]]:
            closed = (r["test"] - alone[r["seed"]]) / (teacher_record["test"] - alone[r["seed"]])
            gap = f"{100 * closed:.1f} %"
        lines.append(
            f"| {r['arm']} | {r['seed']} | {100 * r['test']:.2f} | {100 * r['val']:.2f} | "
            f"{gap} | {r['cpu_seconds']:.0f} |"
        )
    return "\n".join(lines)


def arm_summary(teacher_record, records, baseline=()):
    """Each arm over the seeds it finished (rows may average other seeds):
    seeds, test accuracy and gap closed, each run against the student alone
    of its own seed.

    Args:
        teacher_record: the teacher's record (its test accuracy sets the gap).
        records: the finished runs, in any order.
        baseline: runs of the student alone not among `records` (not
            shown), for the gaps (`baseline_records`).

    Returns:
        A Markdown table, one row per arm in `ARMS` order.
    """
    alone = {r["seed"]: r["test"] for r in [*records, *baseline] if r["arm"] == "alone"}
    lines = [
        "| arm | seeds finished | test accuracy (%) | gap closed (test) |",
        "|---|---|---|---|",
    ]
    for arm in ARMS:
        mine = sorted((r for r in records if r["arm"] == arm), key=lambda r: r["seed"])
        if not mine:
            continue
        gaps = [
            (r["test"] - alone[r["seed"]]) / (teacher_record["test"] - alone[r["seed"]])
            for r in mine
            if arm != "alone" and alone.get(r["seed"], 1.0) < teacher_record["test"]
        ]
        seeds = ", ".join(str(r["seed"]) for r in mine)
        gap = mean_std(gaps) + " %" if gaps else ""
        lines.append(f"| {arm} | {seeds} | {mean_std([r['test'] for r in mine])} | {gap} |")
    return "\n".join(lines)


def folder_records(work, arms, seeds):
    """The records of the `arms` x `seeds` runs `work` holds."""
    return [
        record
        for seed in seeds
        for arm in arms
        if (record := run_record(os.path.join(work, f"{arm}_seed{seed}.json")))
    ]


def baseline_records(work, arms, seeds):
    """The student alone's runs of `seeds` in `work` where `arms` leaves it
    out (each arm's gap closed is against it), else none (they are among
    the runs already)."""
    return [] if "alone" in arms else folder_records(work, ["alone"], seeds)


def folder_table(work, teacher_record, records, arms, seeds):
    """The table of the `arms` x `seeds` runs of `records` (`folder_records`
    of `work`), over the seeds every arm finished; with those seeds and the
    CPU seconds of the parts."""
    # Only seeds every arm finished: each row then averages the same seeds.
    seeds = [
        seed
        for seed in seeds
        if all(any(r["arm"] == arm and r["seed"] == seed for r in records) for arm in arms)
    ]
    cpu = total_cpu_seconds(work, teacher_record, records)  # every finished run's
    # The gap closed needs the student alone, shown or not (--arms kd).
    records = [*records, *baseline_records(work, arms, seeds)]
    text = table(teacher_record, [r for r in records if r["seed"] in seeds], arms, seeds)
    return text, seeds, cpu


def finished_runs(work):
    """The arms (in `ARMS` order) and seeds of the runs `work` holds, from
    every process that shared it."""
    found = set()
    for name in os.listdir(work):
        arm, _, seed = name.removesuffix(".json").rpartition("_seed")
        if name.endswith(".json") and arm in ARMS and seed.isdigit():
            found.add((arm, int(seed)))
    return [a for a in ARMS if any(a == arm for arm, _ in found)], sorted({s for _, s in found})


def total_cpu_seconds(work, teacher_record, records):
    """CPU seconds of the teacher, the view caches, the learning-rate
    selection runs and the arms' `records`."""
    caches = sum(
        (load_record(os.path.join(work, f"{name}.json")) or {}).get("cpu_seconds", 0.0)
        for name in ("cache", "cache_mixup")
    )
    selection = sum(
        (load_record(path) or {}).get("cpu_seconds", 0.0) for path in selection_paths(work)
    )
    runs = sum(r["cpu_seconds"] for r in records)
    return teacher_record["cpu_seconds"] + runs + caches + selection


def _part_of_backup(name):
    """`(label, kind, arm)` of the part a `<part>_backup` folder belongs to,
    with kind `"teacher"`, `"run"` or `"selection"` (arm `None` for the
    teacher); `None` for another folder."""
    part = name.removesuffix("_backup")
    if part == name:
        return None
    if part == "teacher":
        return "the teacher", "teacher", None
    arm, _, seed = part.rpartition("_seed")
    # Only the names pays.py makes: `kd_seed00` or `select_kd_lrabc` is no
    # part of it (and `kd_seed00` would be named as seed 0, finished or not).
    if arm in ARMS and seed.isdigit() and str(int(seed)) == seed:
        return f"{arm}, seed {seed}", "run", arm
    if part.startswith("select_"):
        arm, _, rate = part.removeprefix("select_").rpartition("_lr")
        if arm in ARMS and _is_rate(rate):
            return f"{arm}'s selection run at {rate}", "selection", arm
    return None


def _is_rate(text):
    """Whether `text` names a learning rate as `selection_part` does."""
    try:
        rate = float(text)
    except ValueError:
        return False
    return math.isfinite(rate) and rate > 0 and f"{rate:g}" == text


def parts_begun(work, epochs, arms=None):
    """The parts of `work` begun and not finished: each has its backup
    folder (`<part>_backup`, Keras' `BackupAndRestore`) and no record yet.
    Each resumes from its last epoch; its process may have been stopped, or
    may be training now in another process sharing the folder.

    Args:
        work: The work folder.
        epochs: `{"teacher": ..., "run": ..., "selection": ...}`, the epochs
            each kind of part trains for (the command line's); those of
            runs and selection runs the folder's `STUDENTS` binds, and the
            teacher's of its last invocation (settings.json), replace them
            (the ones its parts train for).
        arms: Only the parts of these arms (and the teacher's), e.g.
            `--report-only --arms kd`; `None`: every arm's.

    Returns:
        A list of `(label, epochs done or None when its backup holds no
        readable epoch, epochs in all, CPU seconds so far or None when the
        ledger holds no number of seconds for it)`, sorted by label.
    """
    bound = load_record(os.path.join(work, STUDENTS)) or {}
    # (was: the command line's, so a folder of --epochs 20 read "7 of 100")
    kinds = {"run": "epochs", "selection": "select_epochs"}
    epochs = {**epochs, **{kind: bound[key] for kind, key in kinds.items() if key in bound}}
    # The teacher's: those of the last invocation (settings.json) that began it.
    try:  # (a log of invocations no table reads: not one to stop the report)
        settings = load_record(os.path.join(work, "settings.json")) or {}
    except RecordError:
        settings = {}
    invocations = settings.get("invocations")
    last = invocations[-1] if isinstance(invocations, list) and invocations else settings
    if isinstance(last, dict) and "teacher_epochs" in last:
        epochs["teacher"] = last["teacher_epochs"]
    begun = []
    for name in sorted(os.listdir(work)) if os.path.isdir(work) else ():
        found = _part_of_backup(name)
        part = name.removesuffix("_backup")
        if found is None:
            continue
        label, kind, arm = found
        if arms is not None and arm is not None and arm not in arms:
            continue
        done = _epochs_of(os.path.join(work, name))
        # A finished part's backup is removed; one left over is not under way.
        # Its record looked for after its backup is read: a part finishing
        # meanwhile (record saved, then backup removed) is not read as begun
        # with its epochs unknown (was: before).
        if not os.path.exists(os.path.join(work, f"{part}.json")):
            begun.append((label, done, epochs[kind], _cpu_recorded(work, part)))
    return sorted(begun, key=lambda part: part[0])  # (labels, unique: never a None compared)


def _epochs_of(backup):
    """The epochs done Keras' `BackupAndRestore` recorded in the folder
    `backup` (0 before the first ends); `None` when it is not a folder, or
    its training_metadata.json holds no count of epochs (was: a file, or
    one without "epoch", read as 0 epochs done)."""
    if not os.path.isdir(backup):
        return None
    try:
        metadata = load_record(os.path.join(backup, "training_metadata.json"))
    except RecordError:
        return None
    if metadata is None:
        return 0
    done = metadata.get("epoch")
    number = isinstance(done, int) and not isinstance(done, bool)
    return done if number and done >= 0 else None


def _cpu_recorded(work, part):
    """`cpu_spent`, or `None` when the ledger is not a JSON object of CPU
    seconds (`_work.read_ledger`; was: a RecordError after the tables, or a
    traceback for a string or null)."""
    try:
        return cpu_spent(work, part)
    except RecordError:
        return None


def parts_begun_text(begun):
    """`parts_begun`'s list as a sentence (`""` for none)."""
    if not begun:
        return ""
    parts = "; ".join(
        f"{label}, {_epochs_done(done, total)} ({_cpu_text(cpu)})"
        for label, done, total, cpu in begun
    )
    return (
        "Begun, not finished (each resumes from its last epoch; stopped, or training now in "
        f"another process, which records its CPU when it stops): {parts}."
    )


def _epochs_done(done, total):
    of = "" if total is None else f" of {total}"
    if done is None:
        return (
            f"epochs done unknown{of} (its backup is not a folder whose training_metadata.json "
            "holds a count of epochs as Keras writes it)"
        )
    if isinstance(total, int) and done > total:  # (was: "150 of 100 epochs done")
        return (
            f"{done} epochs done, more than the {total} it trains for (its backup is of other "
            "settings: remove it, and the part trains again from its first epoch)"
        )
    return f"{done}{of} epochs done"


def _cpu_text(cpu):
    if cpu is None:
        return (
            "CPU unknown: the ledger cpu.json holds no number of seconds for it; mend it, "
            "or the part's CPU cannot be added when it stops"
        )
    return f"{cpu:,.0f} CPU s recorded"
