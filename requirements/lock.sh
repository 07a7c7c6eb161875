#!/usr/bin/env bash
# Regenerates the committed locks from pyproject.toml: `bash requirements/lock.sh`
# (needs uv: `pip install uv`; these were made with the version in UV_VERSION below).
#
# Why uv's `pip compile` and not pip-tools: one tool gives both the hashed lock and, with
# --resolution lowest-direct, the lowest versions that pyproject.toml admits (tox -e oldest);
# it resolves for a Python version other than the one running it (--python-version), and it
# takes seconds where pip-compile took minutes over TensorFlow's tree.
#
#   test.txt    extras test, plot: the README's two commands and tox's default env
#   ci.txt      extras dev (test, plot, lint, jax, cross, tox): .ci/run, tox -e engines
#   oldest.txt  extras test, plot, each direct dependency at its lower bound: tox -e oldest
#   lint.txt    extra lint (ruff alone): tox -e lint
#   mutation.txt  extras test, plot, mutation, at test.txt's versions: tox -e mutation
#
# All are resolved for CPython 3.11 (the Python CI runs) on x86-64 Linux; the hashes cover
# every wheel of each pinned version on PyPI, so the same lock installs on other platforms
# where those versions have wheels.
set -euo pipefail
cd "$(dirname "$0")/.."
UV_VERSION=0.13.9
have=$(uv --version 2>/dev/null | cut -d' ' -f2 || true)
[ "$have" = "$UV_VERSION" ] || echo "note: uv $have here; the locks were made with $UV_VERSION" >&2
common=(--generate-hashes --python-version 3.11 --python-platform x86_64-manylinux_2_28
  --constraint requirements/constraints.txt --find-links /opt/wheels
  --custom-compile-command "bash requirements/lock.sh" --quiet)
uv pip compile pyproject.toml "${common[@]}" --extra test --extra plot -o requirements/test.txt
uv pip compile pyproject.toml "${common[@]}" --extra dev -o requirements/ci.txt
# --upgrade: uv otherwise prefers the pins already in the output file, so a new direct
# dependency that was pinned there as another's dependency (rich, via keras) kept that pin
# instead of its lower bound
uv pip compile pyproject.toml "${common[@]}" --extra test --extra plot \
  --resolution lowest-direct --upgrade -o requirements/oldest.txt
# test.txt's versions plus mutmut and what it needs
uv pip compile pyproject.toml "${common[@]}" --extra test --extra plot --extra mutation \
  --constraint requirements/test.txt -o requirements/mutation.txt
# ruff at the version the CI lock holds (pyproject's lint extra), alone: a lint env needs nothing else
grep -E '^ruff==' requirements/ci.txt | cut -d' ' -f1 |
  uv pip compile - "${common[@]}" -o requirements/lint.txt
