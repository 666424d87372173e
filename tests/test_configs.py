"""The ablation configs of `configs/paper/` (README, "Reproduce the paper"): each loads, builds, and is the best
system with only the choice its name states changed."""

import json
from pathlib import Path

import pytest

from avemo.model_folder import read_config_file
from conftest import REPO_ROOT

CONFIGS = sorted((REPO_ROOT / "configs" / "paper").glob("*.json"))
BEST = "best-ir50-transformer-fbp.json"
# The knobs each file may change, from its name (independent of the files' contents).
CHANGES = {
    "attention-self.json": {"visual_attention": "self", "audio_attention": "self"},
    "attention-relation.json": {"visual_attention": "relation", "audio_attention": "relation"},
    "attention-fcn-audio.json": {"audio_attention": "fcn"},
    "fusion-concat.json": {"fusion": "concat"},
    "face-resnet18.json": {"face_backbone": "resnet18"},
    "face-vggface.json": {"face_backbone": "vggface"},
    "faces-only-ir50.json": {"modalities": "visual"},
    "audio-only-alexnet.json": {"modalities": "audio"},
    BEST: {},
}


def test_every_config_file_is_listed():
    assert sorted(path.name for path in CONFIGS) == sorted(CHANGES)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda path: path.stem)
def test_ablation_config_is_the_best_system_with_one_choice_changed(path):
    best = {"modalities": "audio_visual", "face_backbone": "ir50", "visual_attention": "transformer", "audio_attention": "transformer", "fusion": "fbp"}
    config = read_config_file(path)
    expected = {**best, **CHANGES[path.name]}
    assert {key: getattr(config, key) for key in expected} == expected
    assert set(json.loads(path.read_text())) <= set(best)  # nothing else is set: the rest are the defaults
