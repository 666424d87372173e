"""Ensembles: averaged probabilities, labels matched by name, refusals, and avemo evaluate over several models."""

import json

import pytest
import torch

from avemo.ensemble import EnsembleError, EnsemblePredictor
from avemo.inference import Predictor
from avemo.model_folders.pretrained import pretrained_path
from modeling_avemo import AVEmoForVideoClassification

from conftest import TINY, avemo_here, run_avemo


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("ensemble")
    # The shipped model with its label order reversed (classifier rows and id2label together): the same model.
    model = AVEmoForVideoClassification.from_pretrained(pretrained_path())
    order = list(reversed(range(model.config.num_labels)))
    labels = [model.config.id2label[i] for i in order]
    with torch.no_grad():
        model.classifier.weight.copy_(model.classifier.weight[order])
        model.classifier.bias.copy_(model.classifier.bias[order])
    model.config.num_labels = len(labels)
    model.config.id2label = dict(enumerate(labels))
    model.config.label2id = {label: index for index, label in enumerate(labels)}
    model.save_pretrained(root / "reversed")
    Predictor(pretrained_path()).processor.save_pretrained(root / "reversed")
    (root / "tiny.json").write_text(json.dumps(TINY))
    assert run_avemo("init", "--output", root / "tiny", "--config", root / "tiny.json").returncode == 0
    relabelled = AVEmoForVideoClassification.from_pretrained(root / "tiny").relabel(["a", "b", "c"])
    relabelled.save_pretrained(root / "other-labels")
    return root


def test_two_copies_of_one_model_give_that_model(shared_data):
    clip = shared_data / "video" / "single_face.mp4"
    alone = Predictor(device="cpu").predict_file(clip).scores
    for weights in (None, [3, 1]):
        ensemble = EnsemblePredictor(["fer2013-faces", "fer2013-faces"], weights=weights, device="cpu")
        assert ensemble.predict_file(clip).scores == pytest.approx(alone, abs=2e-6)


def test_labels_are_matched_by_name(folders, shared_data):
    clip = shared_data / "images" / "single_face.jpg"
    alone = Predictor(device="cpu").predict_file(clip).scores
    reversed_alone = Predictor(folders / "reversed", device="cpu").predict_file(clip).scores
    assert list(reversed_alone) == list(reversed(list(alone))) and reversed_alone == pytest.approx(alone, abs=1e-6)
    ensemble = EnsemblePredictor(["fer2013-faces", folders / "reversed"], device="cpu")
    result = ensemble.predict_file(clip)
    assert list(result.scores) == list(alone) and result.scores == pytest.approx(alone, abs=2e-6)


def test_weighted_mean_of_different_models(folders, shared_data):
    clip = shared_data / "video" / "single_face.mp4"
    first = Predictor(device="cpu").predict_file(clip).scores
    second = Predictor(folders / "tiny", device="cpu").predict_file(clip).scores  # untrained, same 7 labels
    mixed = EnsemblePredictor(["fer2013-faces", folders / "tiny"], weights=[3, 1], device="cpu")
    result = mixed.predict_file(clip)
    expected = {label: 0.75 * first[label] + 0.25 * second[label] for label in first}
    assert result.scores == pytest.approx(expected, abs=2e-6) and result.label == max(expected, key=expected.get)
    assert any("untrained" in warning and str(folders / "tiny") in warning for warning in result.warnings)
    assert result.notes[0].startswith("an ensemble of 2 models") and result.audio_used  # the tiny model used the audio


def test_different_label_sets_and_bad_weights_are_refused(folders):
    with pytest.raises(EnsembleError, match=r"other-labels predicts \['a', 'b', 'c'\] but fer2013-faces predicts"):
        EnsemblePredictor(["fer2013-faces", folders / "other-labels"])
    with pytest.raises(EnsembleError, match="one non-negative weight per model"):
        EnsemblePredictor(["fer2013-faces", "fer2013-faces"], weights=[1])


def test_evaluate_and_predict_take_several_models(shared_data, tmp_path, capsys):
    """avemo evaluate over an ensemble of two copies equals the model alone; avemo predict prints the mean."""
    (tmp_path / "list.csv").write_text(
        "path,label\n"
        + "\n".join(
            f"{shared_data / 'video' / name},{label}"
            for name, label in (
                ("single_face.mp4", "Happy"),
                ("face_noface.mov", "Happy"),
                ("WolfgangLanger_Pexels.mp4", "Sad"),
            )
        )
    )
    reports = []
    for models in (["fer2013-faces"], ["fer2013-faces", "fer2013-faces"]):
        arguments = [part for model in models for part in ("--model", model)]
        result = run_avemo(
            "evaluate",
            *arguments,
            "--data-dir",
            tmp_path / "list.csv",
            "--corpus",
            "csv",
            "--output",
            tmp_path / f"{len(models)}.json",
        )
        assert result.returncode == 0, result.stderr[-2000:]
        reports.append(json.loads((tmp_path / f"{len(models)}.json").read_text()))
    for key in ("accuracy", "uar", "macro_f1", "confusion_matrix", "num_clips"):
        assert reports[0][key] == reports[1][key], key
    assert reports[1]["model"] == ["fer2013-faces", "fer2013-faces"] and reports[1]["weights"] == [0.5, 0.5]
    timeline = avemo_here(
        capsys,
        "predict",
        shared_data / "video" / "single_face.mp4",
        "--model",
        "fer2013-faces",
        "--model",
        "fer2013-faces",
        "--timeline",
    )
    assert timeline.returncode == 2 and "--timeline takes one --model" in timeline.stderr


def test_pipeline_ensemble_is_the_weighted_mean_with_labels_matched_by_name(folders, shared_data):
    import avemo.pipelines  # noqa: F401
    from transformers import pipeline

    clip = str(shared_data / "video" / "single_face.mp4")
    first = Predictor(pretrained_path(), device="cpu").predict_file(clip).scores
    second = (
        Predictor(folders / "tiny", device="cpu").predict_file(clip).scores
    )  # other processor, face recipe and audio
    classify = pipeline(
        "video-classification", model=str(pretrained_path()), ensemble=[str(folders / "tiny")], ensemble_weights=[3, 1]
    )
    scores = {row["label"]: row["score"] for row in classify(clip)}
    assert scores == pytest.approx({label: 0.75 * first[label] + 0.25 * second[label] for label in first}, abs=2e-6)
    # Two copies of one model, one with its labels in reverse order: that model's probabilities.
    same = pipeline("video-classification", model=str(pretrained_path()), ensemble=[str(folders / "reversed")])
    for row in same([clip, clip])[1]:
        assert row["score"] == pytest.approx(first[row["label"]], abs=2e-6)
    with pytest.raises(ValueError, match=r"other-labels predicts \['a', 'b', 'c'\]"):
        pipeline("video-classification", model=str(pretrained_path()), ensemble=[str(folders / "other-labels")])
    with pytest.raises(ValueError, match="one non-negative weight per model"):
        pipeline(
            "video-classification", model=str(pretrained_path()), ensemble=[str(folders / "tiny")], ensemble_weights=[1]
        )


def test_pipeline_ensemble_without_avemo(folders, shared_data, tmp_path):
    from conftest import run_without_project

    clip = str(shared_data / "video" / "single_face.mp4")
    code = f"""
import json
from transformers import pipeline
one = pipeline("video-classification", model={str(folders / "tiny")!r}, trust_remote_code=True)
two = pipeline(
    "video-classification",
    model={str(folders / "tiny")!r},
    trust_remote_code=True,
    ensemble=[{str(folders / "tiny")!r}],
)
print("RESULT" + json.dumps([one({clip!r}), two({clip!r})]))
"""
    result = run_without_project(code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    alone, doubled = json.loads(result.stdout.split("RESULT", 1)[1])
    assert {r["label"]: r["score"] for r in doubled} == pytest.approx({r["label"]: r["score"] for r in alone}, abs=1e-6)
