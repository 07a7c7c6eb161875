"""report.py: one HTML and Markdown report from the suite's outputs; README tables from it."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from lstm_repro.claims import evaluate
from lstm_repro.cli import main
from lstm_repro.report import classify, marked_blocks

ROOT = Path(__file__).resolve().parents[1]


def _result(seed=22, accuracy=0.9):
    history = [
        {
            "epoch": e,
            "train_loss": 0.6 / e,
            "train_accuracy": 0.7 + 0.05 * e,
            "test_loss": 0.5 / e,
            "test_accuracy": accuracy - 0.05 * (2 - e),
        }
        for e in (1, 2)
    ]
    return {
        "model": "unrolled-lstm",
        "config": {"seed": seed, "epochs": 2},
        "dataset": {
            "name": "synthetic",
            "source": "make_synthetic(...)",
            "sha256": "ab" * 32,
            "train_size": 256,
            "test_size": 64,
        },
        "history": history,
        "test_accuracy": history[-1]["test_accuracy"],
        "weights_sha256": "cd" * 32,
        "step_losses": [0.69, 0.6, 0.5, 0.45],
        "seconds": 3.0,
        "step_seconds": 0.1,
        "first_step_seconds": 1.0,
        "environment": {"python": "3.11", "threads": {"cpu_count": 2}},
    }


def _claims(rnn_early=0.996):
    claims = evaluate({"C2": [{"test": "t", "figures": {"rnn_early_accuracy": rnn_early}}]})
    return {"kind": "lstm-repro claims", "claims": claims, "environment": {"python": "3.11"}}


def _benchmarks(median=0.05):
    return {
        "machine_info": {},
        "benchmarks": [
            {
                "name": "test_step[chapter-fused-lstm-train]",
                "stats": {"median": median, "rounds": 20, "data": [median] * 20},
                "extra_info": {
                    "case": "chapter-fused-lstm-train",
                    "variant": "fused-lstm",
                    "peak_fraction": 0.3,
                    "compile_seconds": 2.0,
                    "cudnn": False,
                },
            }
        ],
    }


@pytest.fixture
def run_dir(tmp_path):
    d = tmp_path / "run"
    d.mkdir()
    (d / "claims.json").write_text(json.dumps(_claims()))
    (d / "r.json").write_text(json.dumps(_result()))
    (d / "bench.json").write_text(json.dumps(_benchmarks()))
    (d / "notes.json").write_text(json.dumps({"unrelated": True}))  # skipped inside a directory
    return d


def test_documents_are_classified_by_shape():
    assert classify(_claims()) == "claims"
    assert classify(_result()) == "result"
    assert classify(_benchmarks()) == "benchmarks"
    assert classify({"unrelated": True}) is None


def test_report_holds_every_claim_verdict_curves_and_throughput(run_dir, tmp_path):
    out = tmp_path / "report"
    assert main(["report", str(run_dir), "--out", str(out)]) == 0
    html = (out / "report.html").read_text()
    md = (out / "report.md").read_text()
    for claim in _claims()["claims"]:
        assert claim["id"] in html and claim["verdict"] in html
    assert "does not hold" in html  # C2 with a SimpleRNN at 0.996 on early evidence
    assert html.count("data:image/png;base64,") == 1  # the run's curves, embedded
    assert "chapter-fused-lstm-train" in md and "0.300" in md
    assert set(marked_blocks(md)) >= {"claims", "results", "throughput", "determinism"}
    assert (out / "curves-0.png").read_bytes()[:4] == b"\x89PNG"


def test_compare_shows_flipped_verdicts_accuracy_shifts_and_speed_ratios(run_dir, tmp_path):
    old = tmp_path / "old"
    old.mkdir()
    (old / "claims.json").write_text(json.dumps(_claims(rnn_early=0.51)))
    (old / "r.json").write_text(json.dumps(_result(accuracy=0.93)))
    (old / "bench.json").write_text(json.dumps(_benchmarks(median=0.04)))
    out = tmp_path / "report"
    assert main(["report", str(run_dir), "--out", str(out), "--compare", str(old)]) == 0
    changes = marked_blocks((out / "report.md").read_text())["changes"]
    assert "claim C2" in changes and "holds" in changes and "verdict flipped" in changes
    assert "accuracy -0.0300" in changes
    assert "time x1.250" in changes


def test_a_named_file_that_is_not_ours_is_one_line_exit_2(tmp_path, capsys):
    bad = tmp_path / "x.json"
    bad.write_text("{}")
    assert main(["report", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lstm-repro: error:") and err.count("\n") == 1


def test_readme_measured_tables_match_the_committed_report():
    """The README's measured tables are the committed report's blocks, verbatim: numbers
    copied by hand cannot drift. Regenerate both with the command in the README."""
    report = marked_blocks((ROOT / "docs" / "report.md").read_text())
    readme = marked_blocks((ROOT / "README.md").read_text())
    assert readme, "the README has no <!-- report:NAME --> blocks"
    for name, body in readme.items():
        assert name in report, f"README block {name!r} is not in docs/report.md"
        assert body == report[name], f"README block {name!r} differs from docs/report.md"


@pytest.mark.skipif(
    not (shutil.which("chromium") or shutil.which("chromium-browser")),
    reason="no headless Chromium here (CI installs Debian's chromium for this test)",
)
def test_the_html_report_renders_in_a_headless_browser(run_dir, tmp_path):
    """A real browser renders the report: the screenshot is a PNG of the page, not blank."""
    import numpy as np
    from matplotlib import image

    out = tmp_path / "report"
    assert main(["report", str(run_dir), "--out", str(out)]) == 0
    shot = tmp_path / "shot.png"
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}",
            "--window-size=1200,1600",
            (out / "report.html").as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=False,
    )
    pixels = image.imread(shot)
    assert pixels.shape[0] >= 1000 and np.std(pixels) > 0.05  # text and tables, not a blank page


def test_outputs_with_nulls_for_non_finite_numbers_are_reported(tmp_path):
    """The gradient study's unclipped run diverges: its NaN losses and slopes are strict-JSON
    nulls when read back. The report must show them, not fail on them. Kills: a formatter
    that assumes every number is finite (one did, with a traceback)."""
    from lstm_repro.records import write_json

    series = {
        "model": "simple_rnn",
        "recurrent_scale": 1.5,
        "activation": "linear",
        "input_scale": 1.0,
        "grad_norm_by_distance": [1.0, 2.0, float("inf")],
        "log_slope": float("nan"),
    }
    run = {
        "clipnorm": None,
        "loss": [1.0, float("nan")],
        "grad_norm": [1e15, float("nan")],
        "all_finite": False,
        "first_non_finite_step": 1,
        "final_loss": float("nan"),
    }
    d = tmp_path / "in"
    d.mkdir()
    write_json(
        d / "gradients.json",
        {"series": [series], "clipping": {"unclipped": run}, "setup": {"units": 4, "time": 3}},
    )
    assert main(["report", str(d), "--out", str(tmp_path / "out")]) == 0
    assert "n/a" in marked_blocks((tmp_path / "out" / "report.md").read_text())["gradients"]


def test_seed_distributions_that_differ_only_in_a_setting_are_told_apart():
    """The committed accuracy table holds the memory task's LSTM at forget-gate biases 1 and 3:
    the rows must say which is which. Kills: the settings column dropped or reading the wrong
    defaults (both rows would then look alike, or every row would list every field)."""
    from lstm_repro.report import seeds_section

    doc = json.loads((ROOT / "benchmarks" / "baselines" / "accuracy.json").read_text())
    memory = [d for d in doc["distributions"] if d["spec"]["data"] == "memory-early"]
    memory = [d for d in memory if d["spec"]["model"] == "fused-lstm"]
    table = seeds_section({"seeds": [("x", {"distributions": memory})]})
    assert table.headers[3] == "changed from the chapter"
    rows = [row for row in table.rows if row[0] == "fused-lstm"]
    assert len(rows) == 2
    assert sorted(row[3] for row in rows) == ["-", "forget_bias=3.0"]


def test_real_review_distributions_are_labelled_by_what_they_read():
    """The committed real-review rows were asked for as `--data auto --imdb-path ...`: the
    table must say real reviews, with the tokenizer and the archive's hash, not "auto" (which
    would read as the synthetic fallback). Kills: labels from the spec alone."""
    from lstm_repro.report import seeds_section

    doc = json.loads((ROOT / "benchmarks" / "baselines" / "accuracy.json").read_text())
    table = seeds_section({"seeds": [("x", doc)]})
    labels = [row[1] for row in table.rows]
    real = [label for label in labels if label.startswith("real reviews (lstm-repro-words-v1, ")]
    assert len(real) == 5 and all(label.endswith("83a9c6b4) 25000/25000") for label in real)
    assert not [label for label in labels if label.startswith("auto ")]


def test_the_environment_table_folds_packages_and_names_what_is_unlike_the_lock():
    """Kills: a table of one row per imported package (dozens), or a lock difference the
    report leaves out."""
    from lstm_repro.report import environment_section, render_markdown

    env = {
        "python": "3.11.7",
        "packages": {"numpy": "2.0", "scipy": "1.0"},
        "lock": {
            "file": "requirements/ci.txt",
            "sha256": "ab" * 32,
            "differs": {"numpy": {"locked": "1.9", "installed": "2.0"}},
        },
    }
    table = environment_section({"claims": [], "result": [("r", {"environment": env})]})
    rows = dict(table.rows)
    assert rows["packages imported"] == "2"
    assert rows["lock"] == "requirements/ci.txt (sha256 abababababab)"
    assert rows["unlike the lock"] == "numpy 2.0 (locked 1.9)"
    assert "scipy" not in render_markdown(table)


def test_a_claim_decided_on_both_data_sets_names_each_verdict_in_the_table():
    """Kills: a claims table that shows only the headline where the synthetic corpus and the
    real reviews disagree (issue 18: show both, each with its data named)."""
    from lstm_repro.report import claims_section

    figures = {"lstm_accuracy": 0.93, "rnn_accuracy": 0.6}
    for prefix, d, p in (
        ("real_lstm_minus_rnn", 0.005, 0.03),
        ("real_fused_lstm_minus_rnn", 0.02, 0.001),
    ):
        figures.update({f"{prefix}_difference": d, f"{prefix}_welch_p": p, f"{prefix}_mwu_p": p})
    doc = {"claims": evaluate({"C8": [{"test": "t", "figures": figures}]})}
    rows = {row[0]: row for row in claims_section({"claims": [("claims.json", doc)]}).rows}
    assert rows["C8"][3] == "**holds with a caveat** on real reviews; holds on synthetic"
    assert rows["C2"][3] == "**not checked**"


def test_the_bench_table_states_the_full_step_over_the_core():
    """Kills: the ratio inverted (core / step) or printed for a variant without a core."""
    from lstm_repro.report import bench_table

    def row(variant, mode, ms):
        return {
            "variant": variant,
            "mode": mode,
            "backend": "tensorflow",
            "ms_per_step": ms,
            "samples_per_second": 1.0,
            "gflops": 1.0,
            "peak_fraction": 0.1,
            "compile_seconds": 1.0,
            "cudnn": False,
        }

    rows = [row("unrolled-lstm", "train", 34.0), row("unrolled-lstm", "core", 27.2)]
    rows.append(row("fused-lstm", "train", 48.0))
    text = bench_table({"device": "cpu", "peak_gflops": 300.0, "rows": rows})
    ratios = [line for line in text.splitlines() if line.startswith("full step / LSTM core")]
    assert ratios == ["full step / LSTM core (unrolled-lstm, tensorflow): 1.25"]


def test_hostile_text_in_a_document_reaches_the_html_escaped(tmp_path):
    """A claims file is user input: a reason or title holding markup must come out as text.
    Kills: an HTML renderer that drops html.escape in a table cell or a paragraph (a report
    opened in a browser would run the file's script)."""
    doc = json.loads((Path(__file__).parents[1] / "docs" / "run" / "claims.json").read_text())
    attack = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    doc["claims"][0]["reason"] = attack
    doc["claims"][0]["title"] = attack
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "claims.json").write_text(json.dumps(doc))
    assert main(["report", str(tmp_path / "in"), "--out", str(tmp_path / "out")]) == 0
    html = (tmp_path / "out" / "report.html").read_text()
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_one_table_renders_to_markdown_and_html_from_its_cells():
    """A section's rows reach both renderers as cells, not as text to be split again: a pipe
    in a cell is escaped in Markdown and kept whole in HTML; HTML escapes every cell and shows
    the verdicts' bold as <strong>; a note-only section is a paragraph. Kills: the HTML built
    by splitting Markdown on " | " (a cell holding " | " becomes two cells), an unescaped cell,
    a lost note."""
    from lstm_repro.report import Table, render_html, render_markdown

    table = Table.of(["what", "value"], [["a | b", "<i>**holds**</i>"], ["n", 3]])
    md = render_markdown(table).splitlines()
    assert md[0] == "| what | value |" and md[2] == "| a \\| b | <i>**holds**</i> |"
    html = render_html(table)
    assert "<td>a | b</td><td>&lt;i&gt;<strong>holds</strong>&lt;/i&gt;</td>" in html
    assert html.count("<tr>") == 3 and "<td>3</td>" in html
    note = Table(note="nothing <here>")
    assert (render_markdown(note), render_html(note)) == (
        "nothing <here>",
        "<p>nothing &lt;here&gt;</p>",
    )


def test_the_report_module_reads_back_nothing_it_wrote():
    """report.py builds each section as cells and renders them; nowhere does it slice its own
    text by column or split its own tables on " | " (issue 20). Kills: a section that parses
    another renderer's output again."""
    import inspect

    from lstm_repro import report

    source = inspect.getsource(report)
    assert '.split(" | ")' not in source and "[:56]" not in source
    assert "splitlines()" not in source


def test_readme_blocks_are_replaced_by_the_reports_and_nothing_else_changes():
    """`report --readme` (report.replace_blocks). Kills: a block the report lacks emptied, text
    outside the markers touched, a block replaced by another's body, a block left stale."""
    from lstm_repro.report import marked, replace_blocks

    readme = "\n".join(
        ["# Title", marked("claims", "old claims"), "prose", marked("keep", "mine"), "end"]
    )
    report = "\n".join([marked("claims", "new claims\n| a |"), marked("other", "x")])
    assert replace_blocks(readme, report) == "\n".join(
        ["# Title", marked("claims", "new claims\n| a |"), "prose", marked("keep", "mine"), "end"]
    )
    assert replace_blocks(readme, "") == readme
