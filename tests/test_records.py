"""records.py: the one atomic writer (JSON, PNG, npz), strict JSON, early writability checks."""

from __future__ import annotations

import json
import math
import stat
from pathlib import Path

import numpy as np
import pytest

from lstm_repro.errors import ReproError
from lstm_repro.records import (
    NON_FINITE_KEY,
    check_writable,
    output_dir,
    read_json,
    weights_sha256,
    write_atomic,
    write_json,
)


def test_outputs_are_0644_whatever_mkstemp_made(tmp_path):
    """mkstemp creates 0600 files; results are meant to be shared like any other output.
    Kills: dropping the chmod (the temp file's mode would survive the rename)."""
    path = write_json(tmp_path / "r.json", {"a": 1})
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_json_is_strict_and_says_which_nulls_were_not_finite(tmp_path):
    """JSON has no NaN or Infinity: they become null and their paths are listed. Kills:
    allow_nan=True output that jq, browsers and most JSON parsers reject."""
    payload = {"loss": [1.0, float("nan"), float("inf")], "ok": 2.5, "deep": {"x": -math.inf}}
    path = write_json(tmp_path / "r.json", payload)
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    doc = json.loads(text, parse_constant=lambda c: pytest.fail(f"bare {c} in output"))
    assert doc["loss"] == [1.0, None, None] and doc["ok"] == 2.5
    assert doc[NON_FINITE_KEY] == ["$.loss[1]", "$.loss[2]", "$.deep.x"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    def explode(f):
        f.write(b"partial")
        raise OSError(28, "No space left on device")

    with pytest.raises(ReproError, match="No space left"):
        write_atomic(target, explode)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]


def test_every_writer_goes_through_write_atomic(monkeypatch, tmp_path):
    """One writer for JSON, PNG and npz. Kills: a second, non-atomic copy creeping back."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lstm_repro import records
    from lstm_repro.imdb import save_imdb_file

    calls = []
    real = records.write_atomic
    monkeypatch.setattr(records, "write_atomic", lambda p, w: calls.append(p) or real(p, w))
    records.write_json(tmp_path / "a.json", {})
    fig = plt.figure()
    records.save_figure(fig, tmp_path / "a.png")
    plt.close(fig)
    save_imdb_file(tmp_path / "a.npz", x_train=[[1]], y_train=[0], x_test=[[1]], y_test=[1])
    assert [p.name for p in calls] == ["a.json", "a.png", "a.npz"]
    assert (tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_output_path_is_refused_not_taken_as_the_current_directory(value):
    with pytest.raises(ReproError, match="empty"):
        check_writable(value, flag="--json")
    with pytest.raises(ReproError, match="empty"):
        output_dir(value)


def test_a_directory_is_not_a_file_target(tmp_path):
    with pytest.raises(ReproError, match="is a directory"):
        check_writable(tmp_path, flag="--json")


def test_read_json_refuses_non_objects_and_deep_nesting(tmp_path):
    for text, message in (
        ("[1]", "top level"),
        ("[" * 50_000 + "]" * 50_000, "nested"),
        ("{", "line 1"),
    ):
        path = tmp_path / "x.json"
        path.write_text(text)
        with pytest.raises(ReproError, match=message):
            read_json(path)


def test_weights_fingerprint_sees_dtype_shape_and_bytes():
    a = np.arange(6, dtype=np.float32)
    base = weights_sha256([a])
    assert weights_sha256([a.copy()]) == base
    assert weights_sha256([a.reshape(2, 3)]) != base
    assert weights_sha256([a.astype(np.float64)]) != base
    b = a.copy()
    b[3] = np.nextafter(b[3], np.float32(10))  # one ulp
    assert weights_sha256([b]) != base


def test_a_record_names_every_imported_package_and_the_lock_that_installed_them():
    """environment() carries the installed version of each distribution this process has
    imported, and the committed lock that matches them with the lock's SHA-256. Kills: a fixed
    package list (hypothesis, imported here and by no library module, would be missing), a
    version read from anything but the installed metadata, a hash of the wrong file."""
    import hashlib
    import importlib.metadata

    import hypothesis

    from lstm_repro.records import LOCK_DIR, environment, lock_pins

    env = environment()
    assert env["packages"]["numpy"] == np.__version__
    assert env["packages"]["hypothesis"] == hypothesis.__version__
    assert env["packages"]["pytest"] == importlib.metadata.version("pytest")
    lock = env["lock"]
    if lock is None:
        assert not list(LOCK_DIR.glob("*.txt")), "locks are committed but none was matched"
        return
    path = LOCK_DIR.parent / lock["file"]
    assert lock["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    pins = lock_pins(path)
    expected = {
        name: {"locked": pins[name], "installed": version}
        for name, version in env["packages"].items()
        if name in pins and pins[name] != version
    }
    assert lock["differs"] == expected


def test_the_matching_lock_is_the_one_with_fewest_differences_then_most_pins(tmp_path):
    """Kills: taking the first lock in the folder, ignoring differences, or a tie broken
    towards the lock that pins fewer of the packages."""
    from lstm_repro.records import matching_lock

    (tmp_path / "a.txt").write_text("numpy==1.0 \\\n    --hash=sha256:00\nscipy==2.0\n")
    (tmp_path / "b.txt").write_text("numpy==1.1\n")
    (tmp_path / "c.txt").write_text("# comment\nnumpy==1.1\nscipy==2.0\n")
    (tmp_path / "constraints.txt").write_text("numpy==1.1\nscipy==2.0\nkeras==3.0\n")
    found = matching_lock({"numpy": "1.1", "scipy": "2.0", "keras": "3.0"}, tmp_path)
    assert found["file"].endswith("/c.txt") and found["differs"] == {}
    found = matching_lock({"numpy": "1.1", "scipy": "2.1"}, tmp_path)  # b agrees on all it pins
    assert found["file"].endswith("/b.txt") and found["differs"] == {}
    found = matching_lock({"numpy": "1.0", "scipy": "2.1"}, tmp_path)  # each differs in one
    assert found["file"].endswith("/a.txt")
    assert found["differs"] == {"scipy": {"locked": "2.0", "installed": "2.1"}}
    assert matching_lock({"numpy": "1.1"}, tmp_path / "missing") is None


def test_package_differences_name_the_record_here_and_the_lock(tmp_path, monkeypatch):
    """Kills: a difference list that misses a package no longer installed, lists packages
    that agree, or reads the lock's pin from a lock other than the record's."""
    from lstm_repro import records
    from lstm_repro.report import package_difference_lines

    (tmp_path / "requirements").mkdir()
    (tmp_path / "requirements" / "x.txt").write_text("numpy==9.9\n")
    monkeypatch.setattr(records, "LOCK_DIR", tmp_path / "requirements")
    recorded = {
        "packages": {"numpy": "1.0", "scipy": "2.0", "gone": "0.1"},
        "lock": {"file": "requirements/x.txt"},
    }
    diffs = records.package_differences(recorded, installed={"numpy": "9.9", "scipy": "2.0"})
    assert diffs == [
        {"package": "gone", "recorded": "0.1", "here": None, "locked": None},
        {"package": "numpy", "recorded": "1.0", "here": "9.9", "locked": "9.9"},
    ]
    assert package_difference_lines(diffs) == [
        "gone: 0.1 in the record, not installed here (not in the lock)",
        "numpy: 1.0 in the record, 9.9 here (the lock pins 9.9)",
    ]
    assert records.package_differences({"packages": {"numpy": "9.9"}}, installed={}) == [
        {"package": "numpy", "recorded": "9.9", "here": None, "locked": None}
    ]


def test_the_verdict_says_when_package_versions_differ():
    """`verify` still says bit-identical when the bits repeat, and says in the same line that
    versions differ. Kills: package differences computed and never shown."""
    from lstm_repro.report import verification_text

    outcome = {
        "verdict": "bit-identical",
        "environment_differences": [],
        "package_differences": [
            {"package": "numpy", "recorded": "1.0", "here": "1.1", "locked": "1.1"}
        ],
    }
    text = verification_text(outcome)
    assert text.splitlines()[0] == (
        "verdict: bit-identical (with 1 package version other than the record's)"
    )
    assert "numpy: 1.0 in the record, 1.1 here (the lock pins 1.1)" in text
    assert verification_text({**outcome, "package_differences": []}).splitlines()[0] == (
        "verdict: bit-identical"
    )


def test_vendored_copies_on_sys_path_are_not_recorded_as_installed_packages():
    """setuptools puts its vendored packages (setuptools/_vendor) on sys.path; a record that
    listed them made `verify` in a fresh process report jaraco-* and backports-* as "not
    installed here" (seen under tox -e oldest). Kills: recording every distribution that
    importlib.metadata can see instead of the installed ones."""
    import importlib.metadata
    from pathlib import Path

    import setuptools  # noqa: F401  (the import that puts setuptools/_vendor on sys.path)

    from lstm_repro.records import imported_packages

    packages = imported_packages()
    assert "setuptools" in packages
    for name in packages:
        where = Path(str(importlib.metadata.distribution(name).locate_file("")))
        assert "_vendor" not in where.parts, f"{name} recorded from {where}"


def test_environment_differences_leave_imported_packages_to_package_differences():
    """A record made in a process that imported more (a pytest worker: hypothesis) against a
    fresh rerun: no 'packages.hypothesis: 6.x -> None' line, while a changed lock or library
    is still listed. Kills: every verify of a record made under pytest listing the packages
    the rerun did not happen to import as differences."""
    from lstm_repro.records import environment_differences

    lock = {"file": "requirements/ci.txt", "sha256": "a" * 64, "differs": {}}
    recorded = {
        "numpy": "2.0",
        "packages": {"hypothesis": "6.1", "numpy": "2.0"},
        "lock": {**lock, "differs": {"numpy": {"locked": "1.9", "installed": "2.0"}}},
    }
    fresh = {"numpy": "2.0", "packages": {"numpy": "2.0"}, "lock": lock}
    assert environment_differences(recorded, fresh) == []
    changed = {**fresh, "numpy": "2.1", "lock": {**lock, "sha256": "b" * 64}}
    assert environment_differences(recorded, changed) == [
        ("lock.sha256", "a" * 64, "b" * 64),
        ("numpy", "2.0", "2.1"),
    ]


def test_a_record_from_older_numerics_is_named_as_such_and_a_current_one_is_not():
    """Records made before train.ChapterAdam (no "numerics" field) cannot verify bit-identical;
    verify says why before its rerun and in its verdict. Kills: the note shown for a current
    record (a false excuse for a real regression), or never shown (a user hunting a mismatch
    that the code's own change explains)."""
    from lstm_repro.records import NUMERICS_VERSION, compare_runs, numerics_note
    from lstm_repro.report import verification_text

    current = {"numerics": NUMERICS_VERSION, "step_losses": [0.7], "weights_sha256": "a"}
    older = {"step_losses": [0.7], "weights_sha256": "b", "test_accuracy": 0.8}
    assert numerics_note(current) is None
    assert "numerics version 1 (Keras 3's Adam" in numerics_note(older)
    assert "not a version" in numerics_note({"numerics": "x"})
    outcome = compare_runs(older, {**current, "test_accuracy": 0.8})
    assert outcome["numerics"] == (1, NUMERICS_VERSION)
    assert "numerics: this record was made by numerics version 1" in verification_text(outcome)
    assert compare_runs(current, current)["numerics_note"] is None


def _record(losses, *, sha="w", accuracy=0.8):
    return {"step_losses": list(losses), "weights_sha256": sha, "test_accuracy": accuracy}


def test_bit_identical_needs_the_same_weights_not_only_the_same_losses():
    """Kills: a verdict of "bit-identical" read off the losses alone (the weights hash is
    what a rerun's final state is checked by)."""
    from lstm_repro.records import compare_runs

    assert compare_runs(_record([0.7, 0.6]), _record([0.7, 0.6]))["verdict"] == "bit-identical"
    other = compare_runs(_record([0.7, 0.6]), _record([0.7, 0.6], sha="v"))
    assert other["verdict"] == "numerically close" and not other["weights_identical"]


@pytest.mark.parametrize(
    "rel,accuracy_step,verdict",
    [
        (0.9e-3, 0.009, "numerically close"),  # just inside both limits (1e-3, 0.01)
        (1.1e-3, 0.0, "different"),  # the losses just outside
        (0.0, 0.011, "different"),  # the accuracy just outside
    ],
)
def test_numerically_close_at_the_edges_of_its_limits(rel, accuracy_step, verdict):
    """Kills: a loss limit looser or tighter than 1e-3 by 10%, an accuracy bound other than
    0.01, and either limit ignored."""
    from lstm_repro.records import compare_runs

    recorded = _record([0.5, 0.4], accuracy=0.8)
    fresh = _record([0.5, 0.4 * (1 + rel)], sha="v", accuracy=0.8 + accuracy_step)
    assert compare_runs(recorded, fresh)["verdict"] == verdict


def test_the_closeness_limits_are_inclusive(monkeypatch):
    """A difference equal to a limit is still close; one ulp of the limit less is not.
    Kills: `<` for `<=` in either comparison."""
    from lstm_repro import records

    recorded = _record([0.5, 0.4], accuracy=0.8)
    fresh = _record([0.5, 0.41], sha="v", accuracy=0.805)
    rel = abs(0.4 - 0.41) / 0.4
    accuracy = abs(0.8 - 0.805)
    monkeypatch.setattr(records, "CLOSE_LOSS_REL", rel)
    monkeypatch.setattr(records, "CLOSE_ACCURACY", accuracy)
    assert records.compare_runs(recorded, fresh)["verdict"] == "numerically close"
    monkeypatch.setattr(records, "CLOSE_LOSS_REL", math.nextafter(rel, 0.0))
    assert records.compare_runs(recorded, fresh)["verdict"] == "different"
    monkeypatch.setattr(records, "CLOSE_LOSS_REL", rel)
    monkeypatch.setattr(records, "CLOSE_ACCURACY", math.nextafter(accuracy, 0.0))
    assert records.compare_runs(recorded, fresh)["verdict"] == "different"


def test_a_rerun_comparison_reports_where_and_by_how_much_the_runs_part():
    """Every field compare_runs reports besides the verdict: the first step whose loss differs
    (the shorter run's length when one run is a prefix of the other, None when none differs),
    the largest relative loss difference over steps both recorded (None, a non-finite loss,
    skipped), both accuracies and their gap (inf when one is missing), and what differs in the
    environments. Kills: first_divergent_step never computed or computed as the longer
    length, a None loss compared, an empty loss list read as a difference of 1, and the two
    records' environments or accuracies taken from one side."""
    from lstm_repro.records import compare_runs

    r = compare_runs(_record([0.7, 0.6, 0.5]), _record([0.7, 0.66, 0.5], sha="v", accuracy=0.79))
    assert (r["first_divergent_step"], r["steps"]) == (1, (3, 3))
    assert r["max_relative_loss_difference"] == pytest.approx(0.06 / 0.6)
    assert r["test_accuracy"] == (0.8, 0.79)
    assert r["test_accuracy_difference"] == pytest.approx(0.01)
    prefix = compare_runs(_record([0.7, 0.6]), _record([0.7, 0.6, 0.5]))
    assert (prefix["first_divergent_step"], prefix["verdict"]) == (2, "different")
    assert compare_runs(_record([0.7]), _record([0.7]))["first_divergent_step"] is None
    gaps = compare_runs(_record([None, 0.6]), _record([0.9, 0.6], sha="v"))
    assert (gaps["first_divergent_step"], gaps["max_relative_loss_difference"]) == (0, 0.0)
    gaps = compare_runs(_record([0.9, 0.6]), _record([None, 0.6], sha="v"))
    assert gaps["max_relative_loss_difference"] == 0.0
    empty = compare_runs(_record([]), _record([], sha="v"))
    assert (empty["max_relative_loss_difference"], empty["verdict"]) == (0.0, "numerically close")
    missing = compare_runs(_record([0.7]), {**_record([0.7]), "test_accuracy": None})
    assert missing["test_accuracy_difference"] == float("inf")
    assert missing["test_accuracy"] == (0.8, None)
    envs = compare_runs(
        {**_record([0.7]), "environment": {"numpy": "1.0", "python": "3.11"}},
        {**_record([0.7]), "environment": {"numpy": "2.0", "python": "3.11"}},
    )
    assert envs["environment_differences"] == [("numpy", "1.0", "2.0")]


def test_the_environment_record_has_its_schema_and_reads_each_value_from_its_source():
    """verify and the report read these keys by name, so a key respelled is a record they
    cannot read. Each value against where it comes from: /proc/cpuinfo's SIMD flags (the
    prefixes oneDNN's kernel choice turns on), the interpreter, NumPy, the CPU counts, the
    thread variables. Kills: a key renamed, a flag prefix lost or misspelled, the flags
    unsorted, the thread variables or counts taken from elsewhere."""
    import os
    import platform
    from pathlib import Path

    from lstm_repro.records import THREAD_ENV, cpu_name, environment

    env = environment()
    assert set(env) == {
        "python", "keras", "keras_backend", "tensorflow", "jax", "torch", "numpy", "device",
        "cpu", "cpu_flags", "platform", "threads", "backend_version", "packages", "lock",
    }  # fmt: skip
    assert (env["python"], env["numpy"], env["cpu"]) == (
        platform.python_version(), np.__version__, cpu_name(),
    )  # fmt: skip
    assert env["platform"] == platform.platform()
    threads = env["threads"]
    assert threads["cpu_count"] == os.cpu_count()
    assert threads["usable_cpus"] == len(os.sched_getaffinity(0))
    assert all(threads[name] == os.environ.get(name) for name in THREAD_ENV)
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        line = next(x for x in cpuinfo.read_text().splitlines() if x.startswith("flags"))
        flags = line.split(":", 1)[1].split()
        expected = sorted(f for f in flags if f.startswith(("avx", "fma", "sse4", "amx", "f16c")))
        assert env["cpu_flags"] == " ".join(expected)


def test_the_numerics_note_in_full_and_both_sides_numerics_read():
    """numerics_note's words whole (a version this code knows, one it does not, and not a
    version), and compare_runs reading "numerics" on each side, 1 where a side lacks it.
    Kills: the fallback texts changed or lost, the advice's words changed, either side's
    field misread (a record of version 2 against a fresh run without the field)."""
    from lstm_repro.records import NUMERICS_HISTORY, NUMERICS_VERSION, compare_runs, numerics_note

    current = f"this code is version {NUMERICS_VERSION} ({NUMERICS_HISTORY[NUMERICS_VERSION]})"
    advice = (
        ": the bits will differ; rerun with `reproduce --config RECORD` to make a record "
        "that verifies"
    )
    assert numerics_note({}) == (
        f"this record was made by numerics version 1 ({NUMERICS_HISTORY[1]}); {current}{advice}"
    )
    assert numerics_note({"numerics": 99}) == (
        f"this record was made by numerics version 99 (unknown to this code); {current}{advice}"
    )
    assert numerics_note({"numerics": "x"}) == (
        f"this record was made by numerics version 'x' (not a version); {current}{advice}"
    )
    made = {"numerics": NUMERICS_VERSION, "step_losses": [0.7], "weights_sha256": "a"}
    bare = {"step_losses": [0.7], "weights_sha256": "a"}
    assert compare_runs(made, bare)["numerics"] == (NUMERICS_VERSION, 1)
    assert compare_runs(bare, made)["numerics"] == (1, NUMERICS_VERSION)


def test_compare_runs_names_the_packages_the_record_was_made_with():
    """compare_runs' "package_differences" come from the recorded environment. Kills: the
    key misspelt, the environment not passed (None), read under another key."""
    from lstm_repro.records import compare_runs

    env = {"packages": {"no-such-package-lstm-repro": "1.0"}}
    recorded = {"step_losses": [0.7], "weights_sha256": "a", "environment": env}
    assert compare_runs(recorded, {"step_losses": [0.7], "weights_sha256": "a"})[
        "package_differences"
    ] == [
        {"package": "no-such-package-lstm-repro", "recorded": "1.0", "here": None, "locked": None}
    ]


def test_a_lock_the_record_names_but_this_checkout_lacks_pins_nothing(tmp_path):
    """The record's lock file is read only when it names one and it is there. Kills: `or`
    for `and` (a named but absent lock would be opened and raise)."""
    from lstm_repro import records

    env = {"packages": {"numpy": "0.0.1"}, "lock": {"file": "requirements/no-such-lock.txt"}}
    diffs = records.package_differences(env, installed={"numpy": "2.0"})
    assert diffs == [{"package": "numpy", "recorded": "0.0.1", "here": "2.0", "locked": None}]


def test_the_environment_names_the_backend_and_device_once_keras_is_imported():
    """environment() adds the Keras version, backend and device when Keras is loaded (every
    run imports it). Kills: the keys misspelt, the condition inverted or misspelt, the values
    dropped; and device_name() given no CPU name."""
    import keras

    from lstm_repro import backend
    from lstm_repro.records import cpu_name, device_name, environment, matching_lock

    env = environment()
    assert env["keras"] == keras.__version__
    assert env["keras_backend"] == backend.name()
    assert env["device"] == device_name() and cpu_name() in device_name()
    threads = backend.threads()
    assert threads and all(env["threads"][k] == v for k, v in threads.items())
    assert env["backend_version"] == backend.library_versions()[backend.name()]
    assert env["backend_version"]  # the active backend is installed
    assert env["lock"] == matching_lock(env["packages"]) and env["lock"] is not None


def test_an_entry_only_one_environment_has_is_a_difference():
    """Kills: the keys of both sides intersected (`&` for `|`), which would hide a field
    that a newer record has and an older one lacks."""
    from lstm_repro.records import environment_differences

    assert environment_differences({"python": "3.11"}, {"python": "3.11", "numpy": "2.0"}) == [
        ("numpy", None, "2.0")
    ]


def test_a_lock_pins_packages_spelt_with_capitals(tmp_path):
    """Kills: the name pattern lower-cased ([a-z] only), which would drop PyYAML==6.0."""
    from lstm_repro.records import lock_pins

    lock = tmp_path / "lock.txt"
    lock.write_text("PyYAML==6.0 \\\n    --hash=sha256:00\nnumpy==2.4.6\n")
    assert lock_pins(lock) == {"pyyaml": "6.0", "numpy": "2.4.6"}


def test_an_unwritable_output_is_refused_naming_the_path(tmp_path):
    """Kills: the path dropped from the refusal (str(None))."""
    from lstm_repro.records import check_writable

    target = tmp_path / "not-a-dir" / "x.json"
    (tmp_path / "not-a-dir").write_text("a file, not a directory")
    with pytest.raises(ReproError, match=f"^--json '{target}': "):
        check_writable(target, flag="--json")


def test_cpu_name_is_the_model_name_line_of_cpuinfo(tmp_path):
    """The CPU's name as /proc/cpuinfo spells it, everything after the first colon (gate's
    machine-class warning compares these). Kills: a misspelt path or key (the platform module's
    answer, "x86_64", instead), a split on whitespace ("name\\t: AMD ..."), the value unstripped."""
    from lstm_repro.records import cpu_name

    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: AMD EPYC 9R14: 96-Core \nflags\t\t: fpu\n")
    assert cpu_name(str(info)) == "AMD EPYC 9R14: 96-Core"
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        pytest.skip("no /proc/cpuinfo here")
    names = [line.split(":", 1)[1].strip() for line in text.splitlines() if "model name" in line]
    if not names:
        pytest.skip("this /proc/cpuinfo names no model")
    assert cpu_name() == names[0]


def test_available_memory_is_memavailable_in_bytes_else_all_of_ram(tmp_path):
    """MemAvailable's kB times 1024 (the IMDB reader bounds its allocations by it), and total
    RAM from sysconf when there is no such line. Kills: a misspelt path or key, the wrong
    column, 1025 bytes to the kB, page size over page count, a broken fallback."""
    import os

    from lstm_repro.records import available_memory_bytes

    info = tmp_path / "meminfo"
    info.write_text("MemTotal:       25165824 kB\nMemFree: 1 kB\nMemAvailable:   12345 kB\n")
    assert available_memory_bytes(str(info)) == 12345 * 1024
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert available_memory_bytes(str(tmp_path / "none")) == total
    info.write_text("MemTotal: 2 kB\n")
    assert available_memory_bytes(str(info)) == total
    try:
        text = Path("/proc/meminfo").read_text()
    except OSError:
        pytest.skip("no /proc/meminfo here")
    kb = [int(line.split()[1]) for line in text.splitlines() if line.startswith("MemAvailable:")]
    if not kb:
        pytest.skip("this /proc/meminfo has no MemAvailable")
    # MemAvailable moves between two reads; 64 MiB bounds that (seen: under 1 MiB apart), and
    # this process (TensorFlow loaded by other tests, or not) keeps it far below total RAM
    assert abs(available_memory_bytes() - kb[0] * 1024) < 64 << 20
    assert available_memory_bytes() < total


def test_a_figure_is_saved_as_png_at_110_dpi_whatever_matplotlibrc_says(tmp_path):
    """PNG at 110 dpi, even when a user's matplotlibrc sets savefig.format or savefig.dpi.
    Kills: format or dpi left to rcParams (an SVG, or 50 dpi, under this rc), another dpi."""
    matplotlib = pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    from lstm_repro.records import save_figure

    fig = Figure(figsize=(2, 1))
    with matplotlib.rc_context({"savefig.format": "svg", "savefig.dpi": 50}):
        raw = save_figure(fig, tmp_path / "a.png").read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(raw[16:20], "big"), int.from_bytes(raw[20:24], "big")
    assert (width, height) == (220, 110)


def test_read_json_says_what_the_file_was_meant_to_be(tmp_path, monkeypatch):
    """Each refusal names the file and what it should have been ("JSON file" unless the caller
    says), and an over-long integer's error is quoted whole-word, cut at 120 characters.
    Kills: another default name, `what` not passed to the size check, the quote mangled or
    cut elsewhere."""
    from lstm_repro import records

    path = tmp_path / "x.json"
    path.write_text("[1]")
    with pytest.raises(ReproError) as e:
        read_json(path)
    assert str(e.value) == f"{path}: not a JSON file (top level is not an object)"
    monkeypatch.setattr(records, "MAX_JSON_BYTES", 2)
    with pytest.raises(ReproError) as e:
        read_json(path, what="benchmark file")
    assert str(e.value) == f"{path}: larger than 2 bytes; not a benchmark file"
    monkeypatch.undo()
    path.write_text('{"n": ' + "7" * 5000 + "}")
    with pytest.raises(ValueError) as cause:
        json.loads(path.read_text())
    quoted = " ".join(str(cause.value).split())
    assert len(quoted) > 120  # so the cut is seen
    with pytest.raises(ReproError) as e:
        read_json(path)
    assert str(e.value) == f"{path}: not a JSON file ({quoted[:120]})"


def test_flattened_keys_keep_their_own_letters():
    """Nested keys join with dots and only the trailing dot goes. Kills: stripping more than
    the dot (a key ending in X, or in a dot-like character, cut short)."""
    from lstm_repro.records import _flatten

    assert _flatten({"a": {"MAX": 1, "b": {"XX": 2}}, "c": 3}) == {"a.MAX": 1, "a.b.XX": 2, "c": 3}


def test_cpu_flags_are_the_simd_extensions_after_the_first_colon(tmp_path):
    """The flags that pick oneDNN's and XLA's kernels, from the "flags" line after its first
    colon, sorted. Kills: a split on whitespace or on every colon, the last colon taken, a
    family (amx) dropped."""
    from lstm_repro.records import cpu_flags

    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t:avx2 fpu amx_tile : fma f16c sse4_2 avx512f\n")
    assert cpu_flags(str(info)) == "amx_tile avx2 avx512f f16c fma sse4_2"
    info.write_text("flags\t\t: avx2 : fma\n")
    assert cpu_flags(str(info)) == "avx2 fma"


def test_json_is_written_indented_sorted_and_numpy_scalars_are_plain_numbers(tmp_path):
    """A record's JSON is indented by 2 with sorted keys (diffable, stable), and numpy scalars
    are written as plain numbers, a non-finite one as null under its own path. Kills: another
    indent, keys unsorted, a numpy scalar unwrapped to nothing or its path lost."""
    path = write_json(
        tmp_path / "r.json",
        {"b": np.float32(1.5), "a": [np.int64(2), np.float32("nan")]},  # float32: not a float
    )
    assert path.read_text() == (
        '{\n  "a": [\n    2,\n    null\n  ],\n  "b": 1.5,\n'
        '  "non_finite_as_null": [\n    "$.a[1]"\n  ]\n}\n'
    )


def test_an_output_directory_is_made_with_its_parents_or_reused(tmp_path):
    """Kills: parents not created, an existing directory refused, the default flag's name
    misspelt in a refusal."""
    nested = tmp_path / "a" / "b" / "c"
    assert output_dir(nested) == nested and nested.is_dir()
    assert output_dir(nested) == nested  # already there
    with pytest.raises(ReproError) as err:
        output_dir(" ")
    assert str(err.value) == "--out is empty; give a directory"


def test_the_first_of_equally_good_locks_is_the_match_and_its_hash_is_recorded(tmp_path):
    """Two locks pinning the same versions: the first in order is the match (a tie keeps the
    one found first), and the record carries that file's SHA-256. Kills: <= for < (the last
    of equals wins), the hash under another key."""
    import hashlib

    from lstm_repro.records import lock_files, matching_lock

    for name in ("a.txt", "b.txt"):
        (tmp_path / name).write_text("numpy==2.0.0\n")
    first = lock_files(tmp_path)[0]
    lock = matching_lock({"numpy": "2.0.0"}, tmp_path)
    assert lock["file"] == f"{tmp_path.name}/{first.name}"
    assert lock["sha256"] == hashlib.sha256(first.read_bytes()).hexdigest()


def test_package_names_are_compared_in_their_canonical_form():
    """PEP 503: runs of -, _ and . are one -, case folded. Kills: the pattern misspelt."""
    from lstm_repro.records import _canonical

    assert _canonical("Foo_Bar..baz-Qux") == "foo-bar-baz-qux"


def test_without_cpuinfo_the_cpu_is_what_the_platform_module_says(tmp_path):
    """Kills: `and` for `or` (an empty name where platform.processor() is empty)."""
    import platform

    from lstm_repro.records import cpu_name

    expected = platform.processor() or platform.machine()
    assert cpu_name(str(tmp_path / "none")) == expected and expected
