#!/usr/bin/env bash
# Set up avemo in a virtual environment (./.venv, or AVEMO_VENV) and predict the emotions of clips or pictures.
# Usage: bash scripts/quickstart.sh [VIDEO ...]   (default: ../shared/data/video/single_face.mp4)
# Without AVEMO_MODEL, `avemo predict` uses the model that ships inside avemo (fer2013-faces: the FER2013
# facial-expression network, faces only) and writes nothing into the working directory. Set AVEMO_MODEL to a
# model folder, a shipped model's name or a hub id for another.
set -euo pipefail
videos=()
for video in "$@"; do videos+=("$(realpath -m "$video")"); done  # relative to where the user is, not the repository
cd "$(dirname "$0")/.."
python="${PYTHON:-python3}"
venv="${AVEMO_VENV:-.venv}"
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip
"$venv/bin/pip" install --quiet torch==2.14.1 torchaudio==2.11.0
"$venv/bin/pip" install --quiet .
rm -rf build
[ ${#videos[@]} -gt 0 ] || videos=("$(realpath ../shared/data/video/single_face.mp4)")
model_args=()
[ -z "${AVEMO_MODEL:-}" ] || model_args=(--model "$AVEMO_MODEL")
exec "$venv/bin/avemo" predict "${videos[@]}" "${model_args[@]}" --json
