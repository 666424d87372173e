#!/usr/bin/env bash
# Set up avemo in ./.venv and predict the emotions of a clip.
# Usage: bash scripts/quickstart.sh [VIDEO ...]   (default: ../shared/data/video/single_face.mp4)
# Without AVEMO_MODEL, `avemo predict` uses the model that ships inside avemo (fer2013-faces: the FER2013
# facial-expression network, faces only) and writes nothing into the working directory. Set AVEMO_MODEL to a
# model folder, a shipped model's name or a hub id for another.
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/pip install --quiet --upgrade pip
.venv/bin/pip install --quiet torch==2.14.1 torchaudio==2.11.0
.venv/bin/pip install --quiet .
rm -rf build
videos=("$@")
[ ${#videos[@]} -gt 0 ] || videos=(../shared/data/video/single_face.mp4)
model_args=()
[ -z "${AVEMO_MODEL:-}" ] || model_args=(--model "$AVEMO_MODEL")
exec .venv/bin/avemo predict "${videos[@]}" "${model_args[@]}" --json
