"""Campaigns: a grid of runs (variants x seeds x data x backends x config overrides), one task
per run, one record file per finished run, named by the hash of what it ran.

A campaign directory holds `plan.json` (the plan it was started with and its task keys),
`runs/<key>.json` (each written atomically when its run ends, by this process alone) and
`summary.json` (its distributions, one per group of runs that differ only in their seed, as
`gate-accuracy` and `report` read them). Running the same plan into the same directory runs
only the tasks without a record, so a campaign resumes after a crash, a Ctrl-C or a lost
machine. Where the runs execute is lstm_repro.engines' business.

No TensorFlow import here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import logging
import os

try:
    import tomllib
except ImportError:  # Python 3.10: the same parser, as a package
    import tomli as tomllib
from collections.abc import Callable
from pathlib import Path

from lstm_repro.config import MAX_SEED, VARIANTS, RunSpec, TrainConfig, changed_settings
from lstm_repro.errors import ReproError

log = logging.getLogger(__name__)

PLAN_KIND = "lstm-repro campaign"
MAX_PLAN_BYTES = 1 << 20  # a plan is a few lines; anything larger is not one
MAX_TASKS = 10_000  # a grid past this is a typo (seeds = {n = 100000}), not a campaign
BACKEND_NAMES = ("tensorflow", "jax", "torch")
KEY_HEX = 16  # 64 bits of SHA-256: a collision among 10,000 runs has odds of about 3e-12


@dataclasses.dataclass(frozen=True)
class Task:
    """One run of a campaign: a RunSpec and the Keras backend it runs on."""

    spec: RunSpec
    backend: str = "tensorflow"

    def to_dict(self) -> dict:
        return {"spec": self.spec.to_dict(), "backend": self.backend}

    @property
    def key(self) -> str:
        return task_key(self.to_dict())

    def group_label(self) -> str:
        """Its distribution, as a person reads it: variant, data, backend, what differs from
        the chapter's configuration."""
        s = self.spec
        changed = changed_settings(s.config.to_dict())
        return f"{s.model}, {s.data}, {self.backend}" + (f", {changed}" if changed else "")

    def label(self) -> str:
        """What the progress lines name: the distribution and the seed."""
        return f"{self.group_label()}, seed {self.spec.config.seed}"


def task_key(task: dict) -> str:
    """The name of a task's record: SHA-256 of its canonical JSON, first KEY_HEX hex digits."""
    text = json.dumps(task, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()[:KEY_HEX]


# --------------------------------------------------------------------------- the plan


@dataclasses.dataclass(frozen=True)
class Plan:
    """A grid. Every tuple is an axis; `overrides` maps a TrainConfig field to its values (an
    axis of its own when there are several). `data` kinds are as `reproduce --data`."""

    variants: tuple[str, ...]
    seeds: tuple[int, ...]
    data: tuple[str, ...] = ("synthetic",)
    backends: tuple[str, ...] = ("tensorflow",)
    overrides: tuple[tuple[str, tuple], ...] = ()
    imdb_path: str | None = None
    train_samples: int | None = None
    test_samples: int | None = None

    def to_dict(self) -> dict:
        """The plan as its TOML reads (plan_from_dict(plan.to_dict()) == plan)."""
        out = {
            "variants": list(self.variants),
            "seeds": list(self.seeds),
            "data": list(self.data),
            "backends": list(self.backends),
            "set": {name: list(values) for name, values in self.overrides},
        }
        for key in ("imdb_path", "train_samples", "test_samples"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out

    def size(self) -> int:
        n = len(self.variants) * len(self.seeds) * len(self.data) * len(self.backends)
        for _, values in self.overrides:
            n *= len(values)
        return n

    def tasks(self) -> list[Task]:
        """The grid's runs, variant-major and seed-minor, so a campaign cut short has whole
        distributions of the first variants rather than one seed of everything."""
        from lstm_repro.corpus import SOURCE

        names = [name for name, _ in self.overrides]
        tasks = []
        for model, data, backend, values, seed in itertools.product(
            self.variants,
            self.data,
            self.backends,
            itertools.product(*(values for _, values in self.overrides)),
            self.seeds,
        ):
            config = TrainConfig().replace(**dict(zip(names, values, strict=True)), seed=seed)
            spec = RunSpec(
                model=model,
                config=config,
                data=data,
                imdb_path=self.imdb_path if SOURCE[data].reads_imdb else None,
                train_samples=self.train_samples,
                test_samples=self.test_samples,
            )
            tasks.append(Task(spec, backend))
        return tasks

    @classmethod
    def of_seeds(cls, spec: RunSpec, seeds: list[int], backend: str) -> Plan:
        """`lstm-repro seeds` as a plan: one spec, many seeds (its tasks are spec at each seed)."""
        config = spec.config.to_dict()
        overrides = tuple(
            (f.name, (config[f.name],))
            for f in dataclasses.fields(TrainConfig)
            if f.name != "seed" and config[f.name] != f.default
        )
        return cls(
            variants=(spec.model,),
            seeds=tuple(seeds),
            data=(spec.data,),
            backends=(backend,),
            overrides=overrides,
            imdb_path=spec.imdb_path,
            train_samples=spec.train_samples,
            test_samples=spec.test_samples,
        )


_PLAN_KEYS = ("variants", "seeds", "data", "backends", "set", "imdb_path")
_PLAN_KEYS += ("train_samples", "test_samples")


def _names(plan: dict, key: str, allowed, default: tuple[str, ...], where: str) -> tuple:
    value = plan.get(key, list(default))
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ReproError(f"{where}: {key} must be a name or a non-empty list of names")
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise ReproError(f"{where}: unknown {key} {unknown}; known: {', '.join(allowed)}")
    if len(set(value)) != len(value):
        raise ReproError(f"{where}: {key} names one twice: {value}")
    return tuple(value)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _seeds(value, where: str) -> tuple[int, ...]:
    if isinstance(value, dict):
        if set(value) - {"first", "n"} or "n" not in value:
            raise ReproError(f"{where}: seeds as a table is {{first = F, n = N}}, got {value!r}")
        first, n = value.get("first", 0), value["n"]
        if not (_is_int(first) and _is_int(n)) or n < 1 or n > MAX_TASKS:
            raise ReproError(f"{where}: seeds' first and n must be integers, 1 <= n <= {MAX_TASKS}")
        value = list(range(first, first + n))
    if not isinstance(value, list) or not value:
        raise ReproError(f"{where}: seeds must be a list of integers or {{first = F, n = N}}")
    for s in value:
        if not _is_int(s) or not 0 <= s <= MAX_SEED:
            raise ReproError(f"{where}: seed {s!r} is not an integer in 0..{MAX_SEED}")
    if len(set(value)) != len(value):
        raise ReproError(f"{where}: seeds lists a seed twice")
    return tuple(value)


def _samples(plan: dict, key: str, where: str) -> int | None:
    value = plan.get(key)
    if value is not None and (not _is_int(value) or value < 1):
        raise ReproError(f"{where}: {key} must be a positive integer, got {value!r}")
    return value


def _overrides(table, where: str) -> tuple[tuple[str, tuple], ...]:
    """[set]: field = value or field = [values]. Integers given for a float field are floats,
    as `--set` makes them, so `learning_rate = 1` and `= 1.0` are one run with one key."""
    if not isinstance(table, dict):
        raise ReproError(f"{where}: [set] must be a table of config fields")
    fields = {f.name: f for f in dataclasses.fields(TrainConfig) if f.name != "seed"}
    unknown = sorted(set(table) - set(fields))
    if unknown:
        raise ReproError(f"{where}: [set] has unknown fields {unknown}; known: {sorted(fields)}")
    axes = []
    for name, value in sorted(table.items()):  # one order, whatever the file's (plan.json's)
        values = value if isinstance(value, list) else [value]
        if not values:
            raise ReproError(f"{where}: [set] {name} is an empty list")
        if "float" in str(fields[name].type):
            values = [float(v) if _is_int(v) else v for v in values]
        if len({json.dumps(v) for v in values}) != len(values):
            raise ReproError(f"{where}: [set] {name} lists a value twice")
        axes.append((name, tuple(values)))
    return tuple(axes)


def plan_from_dict(doc: dict, *, where: str = "the plan") -> Plan:
    """A Plan from a parsed TOML document, every value checked; each grid point's config goes
    through TrainConfig's own checks before anything runs."""
    from lstm_repro.corpus import DATA_CHOICES

    unknown = sorted(set(doc) - set(_PLAN_KEYS))
    if unknown:
        raise ReproError(f"{where}: unknown keys {unknown}; a plan has {', '.join(_PLAN_KEYS)}")
    if "variants" not in doc or "seeds" not in doc:
        raise ReproError(f"{where}: a plan needs variants and seeds (README, 'Campaigns')")
    imdb_path = doc.get("imdb_path")
    if imdb_path is not None and (not isinstance(imdb_path, str) or not imdb_path.strip()):
        raise ReproError(f"{where}: imdb_path must be a file name")
    plan = Plan(
        variants=_names(doc, "variants", tuple(VARIANTS), (), where),
        seeds=_seeds(doc["seeds"], where),
        data=_names(doc, "data", DATA_CHOICES, ("synthetic",), where),
        backends=_names(doc, "backends", BACKEND_NAMES, ("tensorflow",), where),
        overrides=_overrides(doc.get("set", {}), where),
        imdb_path=imdb_path,
        train_samples=_samples(doc, "train_samples", where),
        test_samples=_samples(doc, "test_samples", where),
    )
    if plan.size() > MAX_TASKS:
        raise ReproError(f"{where}: the grid has {plan.size():,} runs, more than {MAX_TASKS:,}")
    try:
        plan.tasks()
    except ReproError as e:
        raise ReproError(f"{where}: [set]: {e}") from None
    return plan


def read_plan(path: str | os.PathLike) -> Plan:
    """PLAN.toml, parsed by tomllib (bounded in size; TOML cannot run code)."""
    from lstm_repro.records import read_bounded

    raw = read_bounded(path, limit=MAX_PLAN_BYTES, what="plan")
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ReproError(f"{path}: not a TOML plan ({' '.join(str(e).split())})") from None
    return plan_from_dict(doc, where=str(path))


def resolve_data(plan: Plan) -> Plan:
    """Real-review kinds pinned to the file this machine finds, before any task exists: a
    worker on another machine is told which file to read (and fails if it lacks it) instead
    of searching for one of its own. `auto` becomes what it resolves to here, `imdb` with the
    file or `synthetic`, so no two workers can pick differently."""
    from lstm_repro.corpus import SOURCE
    from lstm_repro.data import resolve_imdb

    reads = [d for d in plan.data if SOURCE[d].reads_imdb]
    if not reads:
        return plan
    path = resolve_imdb(reads[0], plan.imdb_path)
    if path is None:
        log.warning("data auto: no real reviews found; the synthetic corpus is used")
    data = []
    for kind in plan.data:
        if kind == "auto":
            kind = "imdb" if path is not None else "synthetic"
        if kind not in data:
            data.append(kind)
    imdb_path = str(Path(path).resolve()) if path is not None else None
    return dataclasses.replace(plan, data=tuple(data), imdb_path=imdb_path)


# --------------------------------------------------------------------------- the directory


@dataclasses.dataclass(frozen=True)
class Finished:
    """A checked record in a campaign directory."""

    key: str
    status: str  # "done" or "failed"
    doc: dict


class Campaign:
    """A plan bound to its directory."""

    def __init__(self, plan: Plan, out: Path):
        self.plan = plan
        self.out = Path(out)
        self.tasks = plan.tasks()

    @property
    def runs(self) -> Path:
        return self.out / "runs"

    def record_path(self, key: str) -> Path:
        return self.runs / f"{key}.json"

    @classmethod
    def start(cls, plan: Plan, out: Path) -> Campaign:
        """A new campaign directory, or the one there when it holds this very plan."""
        from lstm_repro.records import write_json

        out = Path(out)
        marker = out / "plan.json"
        if marker.exists():
            held = _held_plan(out)
            if held != plan:
                mine, theirs = plan.to_dict(), held.to_dict()
                differs = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
                raise ReproError(
                    f"{out} holds a campaign of another plan (it differs in "
                    f"{', '.join(differs)}); resume it with the plan it was started with, or "
                    "use a new --out"
                )
            return cls(plan, out)
        if out.exists() and any(out.iterdir()):
            raise ReproError(f"{out} is not empty and holds no campaign; use a new or empty --out")
        campaign = cls(plan, out)
        campaign.runs.mkdir(parents=True, exist_ok=True)
        keys = [t.key for t in campaign.tasks]
        write_json(marker, {"kind": PLAN_KIND, "plan": plan.to_dict(), "tasks": keys})
        return campaign

    @classmethod
    def read(cls, out: str | os.PathLike) -> Campaign:
        """An existing campaign directory (for gate-accuracy and report)."""
        return cls(_held_plan(Path(out)), Path(out))

    def finished(self) -> dict[str, Finished]:
        """The records in runs/, each checked: its name is the hash of the task it holds, the
        task is one of this plan's, and a done record's spec is its task's. Any other file
        there is an error that names it: nothing is mixed in silently."""
        from lstm_repro.records import read_json

        wanted = {t.key: t for t in self.tasks}
        found: dict[str, Finished] = {}
        problems = []
        paths = sorted(self.runs.iterdir()) if self.runs.is_dir() else []
        for path in paths:
            if path.name.startswith(".") and path.name.endswith(".tmp"):
                continue  # an atomic write cut short (SIGKILL): never a record
            try:
                doc = read_json(path, what="campaign record")
                meta = doc["campaign"]
                key = task_key(meta["task"])
                status = meta["status"]
            except (ReproError, KeyError, TypeError, ValueError) as e:
                problems.append(f"{path.name}: not a campaign record ({e})")
                continue
            if path.suffix != ".json" or path.stem != key:
                problems.append(f"{path.name}: holds the run {key}, not {path.stem}")
            elif key not in wanted:
                problems.append(f"{path.name}: a run that is not in this plan")
            elif status not in ("done", "failed"):
                problems.append(f"{path.name}: unknown status {status!r}")
            elif status == "done" and doc.get("spec") != wanted[key].spec.to_dict():
                problems.append(f"{path.name}: its record ran another spec than its task")
            else:
                found[key] = Finished(key, status, doc)
        if problems:
            shown = "; ".join(problems[:3])
            more = f"; and {len(problems) - 3} more" if len(problems) > 3 else ""
            raise ReproError(
                f"{self.runs}: {len(problems)} file(s) are not this campaign's: {shown}{more}"
            )
        return found

    def todo(self, found: dict[str, Finished], *, retry_failed: bool = False) -> list[Task]:
        """The tasks without a record among `found` (self.finished()), and with retry_failed
        those recorded as failed."""
        return [
            t
            for t in self.tasks
            if t.key not in found or (retry_failed and found[t.key].status == "failed")
        ]

    def write(self, task: Task, outcome: dict) -> dict:
        """One finished run's record, atomically: the run's result record (or its error) with
        what the campaign knows of it under "campaign"."""
        from lstm_repro.records import write_json

        meta = {
            "task": task.to_dict(),
            "status": outcome["status"],
            "wall_seconds": outcome.get("wall_seconds"),
            "host": outcome.get("host"),
        }
        if outcome["status"] == "failed":
            meta["error"] = outcome["error"]
        record = outcome.get("record") or {"spec": task.spec.to_dict()}  # a NaN run has one
        doc = {**record, "campaign": meta}
        write_json(self.record_path(task.key), doc)
        return doc

    def run(self, tasks: list[Task], engine, *, on_record: Callable[[Task, dict], None]) -> None:
        """Run `tasks` on `engine` (lstm_repro.engines), writing each record as its run ends
        and then telling `on_record`. A cancelled run leaves no record: the resume runs it."""
        from lstm_repro.engines import execute

        def outcome(task: Task, result: dict) -> None:
            if result["status"] == "cancelled":
                return
            self.write(task, result)
            on_record(task, result)

        execute(tasks, engine, on_outcome=outcome)

    def distributions(
        self, found: dict[str, Finished] | None = None, *, complete: bool = False
    ) -> list[dict]:
        """One `seeds`-like document per group of tasks that differ only in their seed, in the
        plan's order, from `found` (self.finished() when not given). complete: every planned
        run must be done (what a gate needs)."""
        found = self.finished() if found is None else found
        groups: dict[str, list[Task]] = {}
        for t in self.tasks:
            groups.setdefault(_group_key(t), []).append(t)
        out = []
        for members in groups.values():
            docs = [found[t.key] for t in members if t.key in found]
            runs = [f.doc for f in docs if f.status == "done"]
            failed = [f.doc["campaign"]["error"] for f in docs if f.status == "failed"]
            if complete and len(runs) < len(members):
                first = members[0]
                raise ReproError(
                    f"{self.out}: {first.group_label()} has {len(runs)} of "
                    f"{len(members)} runs done ({len(failed)} failed"
                    + (f": {failed[0]}" if failed else "")
                    + "); finish the campaign (rerun it; --retry-failed for the failed) first"
                )
            out.append(_distribution(members, runs, failed))
        return out

    def collection(self, *, complete: bool = False) -> dict:
        """The campaign as a collection of distributions: what summary.json holds and
        gate-accuracy reads."""
        out = collection_of(self.distributions(complete=complete))
        if not out["distributions"]:
            raise ReproError(f"{self.out}: the campaign has no finished runs yet")
        return out


def collection_of(distributions: list[dict]) -> dict:
    """{"distributions": [...]} of those with at least one done run."""
    return {"kind": PLAN_KIND, "distributions": [d for d in distributions if d["runs"]]}


def _held_plan(out: Path) -> Plan:
    from lstm_repro.records import read_json

    marker = out / "plan.json"
    if not marker.is_file():
        raise ReproError(f"{out}: not a campaign directory (no plan.json)")
    held = read_json(marker, what="campaign plan")
    if held.get("kind") != PLAN_KIND or not isinstance(held.get("plan"), dict):
        raise ReproError(f"{marker}: not a campaign's plan.json")
    return plan_from_dict(held["plan"], where=str(marker))


def is_campaign(path: str | os.PathLike) -> bool:
    """Whether `path` is a campaign directory (it has a plan.json of ours)."""
    from lstm_repro.records import read_json

    marker = Path(path) / "plan.json"
    try:
        return marker.is_file() and read_json(marker).get("kind") == PLAN_KIND
    except ReproError:
        return False


def _group_key(task: Task) -> str:
    """Everything but the seed."""
    spec = task.spec.to_dict()
    spec["config"] = {k: v for k, v in spec["config"].items() if k != "seed"}
    return json.dumps({"spec": spec, "backend": task.backend}, sort_keys=True)


def _distribution(members: list[Task], runs: list[dict], failed: list[str]) -> dict:
    """A group as a `seeds` document (what gate-accuracy and report read). The backend is
    named in the spec unless it is TensorFlow, which `seeds` files leave unnamed."""
    from lstm_repro.gate import runs_dataset, summarise

    first = members[0]
    spec = first.spec.to_dict()
    if first.backend != "tensorflow":
        spec["backend"] = first.backend
    return {
        "spec": spec,
        "seeds": [r["config"]["seed"] for r in runs],
        "planned": len(members),
        "failed": len(failed),
        "summary": summarise([r["test_accuracy"] for r in runs]) if runs else None,
        "dataset": runs_dataset({"runs": runs}),  # what was read (report's data column)
        "runs": runs,
    }
