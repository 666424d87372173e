"""The `avemo` command: init, predict, errors."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from avemo.inference import predict
from modeling_avemo import AFEW_LABELS

from conftest import TINY, avemo_here, run_avemo as avemo
from test_backbone_import import random_state_dict, reference_keys


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli") / "tiny"
    config = folder.parent / "tiny.json"
    config.write_text(json.dumps(TINY))
    result = avemo("init", "--output", folder, "--config", config)
    assert result.returncode == 0, result.stderr
    return folder


def test_console_script_is_installed():
    # pip puts console scripts next to the interpreter.
    executable = shutil.which("avemo", path=str(Path(sys.executable).parent))
    assert executable, f"no avemo console script beside {sys.executable}"
    result = subprocess.run([executable, "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("avemo ")


def test_init_writes_a_complete_untrained_folder(tiny_model_dir):
    names = {path.name for path in tiny_model_dir.iterdir()}
    assert {
        "config.json",
        "model.safetensors",
        "processor_config.json",
        "modeling_avemo.py",
        "processing_avemo.py",
    } <= names
    config = json.loads((tiny_model_dir / "config.json").read_text())
    assert config["trained"] is False and config["face_stage_widths"] == [4, 4, 8, 8]
    # A second init into the same folder is refused instead of overwriting.
    result = avemo("init", "--output", tiny_model_dir)
    assert result.returncode == 1 and "already holds a model" in result.stderr


def test_predict_json_on_real_media(tiny_model_dir, shared_data):
    videos = [shared_data / "video" / name for name in ("single_face.mp4", "no_face.mp4", "face_noface.mov")]
    result = avemo("predict", *videos, "--model", tiny_model_dir, "--json")
    assert result.returncode == 0, result.stderr
    objects = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["file"] for o in objects] == [str(v) for v in videos]
    for obj in objects:
        assert {"file", "label", "scores", "frames_used", "warnings"} <= set(obj)
        assert list(obj["scores"]) == list(AFEW_LABELS) and obj["label"] in AFEW_LABELS
        assert abs(sum(obj["scores"].values()) - 1) < 1e-4
        assert obj["label"] == max(obj["scores"], key=obj["scores"].get)
        assert any(w.startswith("the model is untrained (random weights and no training") for w in obj["warnings"])
    assert [o["frames_used"] for o in objects][:2] == [8, 0]
    assert 0 < objects[2]["frames_used"] < 8
    assert any("audio only" in w for w in objects[1]["warnings"])
    # The Python function gives the same result.
    [same] = predict(videos[0], model=tiny_model_dir)
    assert same.to_dict() == objects[0]


def test_predict_errors_are_one_line_per_file(tiny_model_dir, shared_data, tmp_path):
    corrupt = tmp_path / "broken.mp4"
    corrupt.write_bytes(b"\x00\x01garbage" * 100)
    good = shared_data / "video" / "single_face.mp4"
    result = avemo(
        "predict",
        tmp_path / "missing.mp4",
        corrupt,
        shared_data / "audio" / "crema-d" / "1002_DFA_ANG_XX.mp3",
        good,
        "--model",
        tiny_model_dir,
        "--json",
    )
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 2
    assert "missing.mp4: file not found" in errors[0]
    assert "broken.mp4" in errors[1]
    assert "Traceback" not in result.stderr
    # The good files still got their predictions; the audio file, to this audio-video model, from its audio alone.
    speech, video = (json.loads(line) for line in result.stdout.strip().splitlines()[-2:])
    assert speech["file"].endswith("1002_DFA_ANG_XX.mp3") and speech["audio_used"] and speech["frames_used"] == 0
    assert any("no video stream" in warning for warning in speech["warnings"])
    assert video["file"] == str(good)
    debug = avemo("predict", corrupt, "--model", tiny_model_dir, "--debug")
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_predict_with_a_bad_model_path_is_one_line(tmp_path, shared_data, capsys):
    result = avemo_here(capsys, "predict", shared_data / "video" / "single_face.mp4", "--model", tmp_path / "nowhere")
    assert result.returncode == 1
    assert (
        len(result.stderr.strip().splitlines()) == 1 and "nowhere" in result.stderr and "Traceback" not in result.stderr
    )


def test_predict_prints_the_most_likely_label_first(tmp_path, shared_data):
    """The default (shipped) model's text output: every label once, most likely first; nothing written here."""
    video = shared_data / "video" / "single_face.mp4"
    result = avemo("predict", video, cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr
    assert list(tmp_path.iterdir()) == [] and "model: faces only" in result.stderr
    # First line: "FILE: LABEL  (LABEL p  LABEL p ...)", every label once, most likely first; LABEL is that one.
    first = result.stdout.splitlines()[0]
    match = re.fullmatch(re.escape(str(video)) + r": (\w+)  \((.*)\)", first)
    assert match, first
    label, listed = match.group(1), [pair.rsplit(" ", 1) for pair in match.group(2).split("  ")]
    assert sorted(name for name, _ in listed) == sorted(AFEW_LABELS)
    probabilities = [float(value) for _, value in listed]
    assert probabilities == sorted(probabilities, reverse=True) and abs(sum(probabilities) - 1) < 0.004
    assert label == listed[0][0]


def test_init_with_backbone_checkpoints(tmp_path, capsys):
    ir50 = random_state_dict(reference_keys()["ir50_112"], seed=7)
    alexnet = random_state_dict(reference_keys()["alexnet_features"], seed=8)
    torch.save(ir50, tmp_path / "backbone_ir50_ms1m_epoch120.pth")
    torch.save(alexnet, tmp_path / "alexnet.pth")
    result = avemo(
        "init",
        "--output",
        tmp_path / "model",
        "--ir50",
        tmp_path / "backbone_ir50_ms1m_epoch120.pth",
        "--alexnet",
        tmp_path / "alexnet.pth",
    )
    assert result.returncode == 0, result.stderr
    weights = load_file(str(tmp_path / "model" / "model.safetensors"))
    assert torch.equal(weights["avemo.face_encoder.body.5.res_layer.1.weight"], ir50["body.5.res_layer.1.weight"])
    assert torch.equal(weights["avemo.audio_encoder.features.10.weight"], alexnet["features.10.weight"])
    # A checkpoint that does not fit is refused with the key list, and nothing is written.
    result = avemo_here(
        capsys,
        "init",
        "--output",
        tmp_path / "model224",
        "--config",
        _write(tmp_path / "c.json", {"face_size": 224}),
        "--ir50",
        tmp_path / "backbone_ir50_ms1m_epoch120.pth",
    )
    assert result.returncode == 1 and "mis-shaped: output_layer.3.weight" in result.stderr
    assert not (tmp_path / "model224" / "config.json").exists()


def test_init_rejects_bad_config_files(tmp_path, capsys):
    bad = _write(tmp_path / "bad.json", {"fusion": "sum"})
    result = avemo_here(capsys, "init", "--output", tmp_path / "m", "--config", bad)
    assert result.returncode == 1 and "bad.json" in result.stderr and "fusion='sum'" in result.stderr


def _write(path, data):
    path.write_text(json.dumps(data))
    return path


def test_quickstart_script_prints_real_predictions(shared_data, tmp_path):
    """scripts/quickstart.sh as a new user runs it (here into the test environment, AVEMO_VENV, so that no torch is
    downloaded again): one JSON object per file from the shipped model, with no 'untrained' warning, and relative
    paths taken from where it is run."""
    import os

    from conftest import REPO_ROOT

    image = tmp_path / "face.jpg"
    shutil.copy(shared_data / "images" / "0-f15-hao-ph.jpg", image)
    env = {**os.environ, "AVEMO_VENV": sys.prefix, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    result = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "quickstart.sh"), "face.jpg"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    [row] = [json.loads(line) for line in result.stdout.splitlines()]
    assert row["file"] == str(image) and row["label"] == "Happy" and not row["warnings"]
    assert any("faces only" in note for note in row["notes"])


def test_main_in_a_running_process_leaves_transformers_logging_as_it_was(tmp_path, capsys):
    """`main(argv)` quiets transformers while it runs (its own one-line reports) and puts its logging back: a
    notebook, or a test suite, goes on with the verbosity and progress bars it had."""
    from transformers.utils import logging as hf_logging

    from avemo.cli import main

    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    try:
        hf_logging.set_verbosity_info()
        hf_logging.enable_progress_bar()
        assert main(["predict", str(tmp_path / "missing.mp4")]) == 1
        assert hf_logging.get_verbosity() == hf_logging.INFO and hf_logging.is_progress_bar_enabled()
    finally:
        hf_logging.set_verbosity(verbosity)
        if not bars:
            hf_logging.disable_progress_bar()
