"""The Hugging Face user's paths: `pipeline()`, the plain `Trainer` recipe of the README (where avemo is not
importable), relabelling, and provenance that says what happened to the weights."""

import json
import logging
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from avemo.inference import Predictor
from modeling_avemo import AFEW_LABELS, AVEmoConfig, AVEmoForVideoClassification

from conftest import TINY, run_avemo, run_without_project
from synthetic import make_clip


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("hf")
    (root / "tiny.json").write_text(json.dumps(TINY))
    result = run_avemo("init", "--output", root / "tiny", "--config", root / "tiny.json")
    assert result.returncode == 0, result.stderr
    return root / "tiny"


# ------------------------------------------------------------------------------------------------ pipelines


def test_pipeline_without_avemo_matches_avemo_predict(tiny_folder, shared_data, tmp_path):
    videos = [str(shared_data / "video" / name) for name in ("single_face.mp4", "face_noface.mov")]
    code = f"""
import json
from transformers import pipeline
videos = {videos!r}
by_task = pipeline("video-classification", model={str(tiny_folder)!r}, trust_remote_code=True)
by_folder = pipeline(model={str(tiny_folder)!r}, trust_remote_code=True)
out = {{
    "class": type(by_task).__name__,
    "single": by_task(videos[0]),
    "top2": by_folder(videos[0], top_k=2),
    "batched": by_task(videos, batch_size=2),
    "one_by_one": by_task(videos),
}}
try:
    by_task({str(tmp_path / "missing.mp4")!r})
except Exception as error:
    out["error"] = [type(error).__name__, str(error)]
print("RESULT" + json.dumps(out))
"""
    result = run_without_project(code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.split("RESULT", 1)[1])
    assert out["class"] == "AVEmoVideoClassificationPipeline"
    assert "the model is untrained" in result.stderr  # the pipeline says what it is loading
    single = out["single"]
    assert [row["label"] for row in single] == sorted(
        AFEW_LABELS, key=lambda label: -next(r["score"] for r in single if r["label"] == label)
    )
    assert sum(row["score"] for row in single) == pytest.approx(1.0, abs=1e-5)
    assert out["top2"] == single[:2]
    # The same probabilities as avemo predict (in this process, with avemo).
    expected = Predictor(tiny_folder, device="cpu").predict_file(videos[0]).scores
    assert {row["label"]: row["score"] for row in single} == pytest.approx(expected, abs=1e-5)
    # A list is padded into batches with masks: batched scores equal one-by-one scores.
    for batched, alone in zip(out["batched"], out["one_by_one"]):
        assert {r["label"]: r["score"] for r in batched} == pytest.approx(
            {r["label"]: r["score"] for r in alone}, abs=1e-5
        )
    assert out["error"][0] == "UnreadableMediaError" and "missing.mp4: file not found" in out["error"][1]


def test_pipeline_with_avemo_installed_needs_no_trust_remote_code(tiny_folder, shared_data):
    import avemo.pipelines  # noqa: F401
    from transformers import pipeline

    classify = pipeline("video-classification", model=str(tiny_folder))
    assert type(classify).__name__ == "AVEmoVideoClassificationPipeline"
    scores = {row["label"]: row["score"] for row in classify(str(shared_data / "video" / "single_face.mp4"))}
    expected = Predictor(tiny_folder, device="cpu").predict_file(shared_data / "video" / "single_face.mp4").scores
    assert scores == pytest.approx(expected, abs=1e-5)


def test_other_video_models_keep_transformers_pipeline(tmp_path, shared_data):
    """Registering avemo's pipeline must not change video-classification for other models (VideoMAE here)."""
    import avemo.pipelines  # noqa: F401
    from transformers import VideoMAEConfig, VideoMAEForVideoClassification, VideoMAEImageProcessorPil, pipeline
    from transformers.pipelines import VideoClassificationPipeline

    config = VideoMAEConfig(
        image_size=32,
        patch_size=16,
        num_frames=4,
        tubelet_size=2,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=16,
        id2label={0: "a", 1: "b"},
    )
    VideoMAEForVideoClassification(config).save_pretrained(tmp_path)
    VideoMAEImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(
        tmp_path
    )
    classify = pipeline("video-classification", model=str(tmp_path))
    assert type(classify) is VideoClassificationPipeline
    result = classify(str(shared_data / "video" / "single_face.mp4"), num_frames=4)
    assert {row["label"] for row in result} == {"a", "b"}


# ------------------------------------------------------------------------------------------- plain Trainer recipe


def test_plain_trainer_recipe_without_avemo(shared_data, tmp_path):
    """The README's recipe, run where avemo cannot be imported: Dataset.map(processor) -> Trainer with
    processor.pad -> save -> pipeline. The loss goes down, and the saved folder records the run."""
    # A tiny model that learns in a few steps (mean pooling, concatenation, little dropout), made with avemo.
    easy = dict(
        TINY,
        fusion="concat",
        visual_attention="mean",
        audio_attention="mean",
        classifier_dropout=0.1,
        attention_dropout=0.1,
        face_dropout=0.1,
    )
    (tmp_path / "easy.json").write_text(json.dumps(easy))
    start = tmp_path / "start"
    assert run_avemo("init", "--output", start, "--config", tmp_path / "easy.json").returncode == 0
    rng = np.random.default_rng(0)
    rows = []
    for actor in (1, 2, 3, 4):
        face = np.asarray(Image.open(shared_data / "faces" / "ravdess" / f"Actor_{actor:02d}.png").convert("RGB"))
        for label, emotion in enumerate(("01", "03", "05")):
            path = make_clip(tmp_path / f"clip-{actor}-{emotion}.mp4", face, emotion, rng)
            rows.append((str(path), label))
    code = f"""
import json
from datasets import Dataset
from transformers import AutoModelForVideoClassification, AutoProcessor, Trainer, TrainingArguments, pipeline

processor = AutoProcessor.from_pretrained({str(start)!r}, trust_remote_code=True)
model = AutoModelForVideoClassification.from_pretrained({str(start)!r}, trust_remote_code=True)
model.relabel(["Neutral", "Happy", "Angry"])

clips = Dataset.from_dict({{"path": {[r[0] for r in rows]!r}, "label": {[r[1] for r in rows]!r}}})
features = clips.map(lambda batch: processor(videos=batch["path"], return_tensors="np"), batched=True, batch_size=4,
                     remove_columns=["path"]).with_format("torch")
args = TrainingArguments({str(tmp_path / "run")!r}, max_steps=24, per_device_train_batch_size=6, learning_rate=3e-3,
                         logging_steps=1, save_strategy="no", report_to=[], use_cpu=True, seed=0)
trainer = Trainer(model=model, args=args, train_dataset=features, data_collator=processor.pad)
trainer.train()
trainer.save_model({str(tmp_path / "mine")!r})
processor.save_pretrained({str(tmp_path / "mine")!r})
losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
classify = pipeline("video-classification", model={str(tmp_path / "mine")!r}, trust_remote_code=True)
print("RESULT" + json.dumps({{"losses": losses, "prediction": classify({rows[0][0]!r})}}))
"""
    result = run_without_project(code, cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.split("RESULT", 1)[1])
    losses = out["losses"]
    assert len(losses) == 24 and np.mean(losses[-6:]) < 0.75 * np.mean(losses[:6]), losses
    assert {row["label"] for row in out["prediction"]} == {"Neutral", "Happy", "Angry"}
    # What the saved folder says about itself.
    config = json.loads((tmp_path / "mine" / "config.json").read_text())
    [run] = config["provenance"]["training"]
    assert config["trained"] is True and run["corpus"] == "custom" and run["batches"] == 24 and run["clips"] == 24 * 6
    assert (tmp_path / "mine" / "pipeline_avemo.py").is_file() and "video-classification" in config["custom_pipelines"]
    warnings_seen = Predictor(tmp_path / "mine", device="cpu").load_warnings
    assert warnings_seen == ["no held-out evaluation of these weights was recorded: how well they work is unknown"]


# ------------------------------------------------------------------------------------------------ relabelling


def test_relabel_keeps_backbones_and_matching_rows_and_says_nothing_alarming(caplog):
    from avemo.model_folders.pretrained import pretrained_path

    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        model = AVEmoForVideoClassification.from_pretrained(pretrained_path())
        old = model.classifier.weight.detach().clone()
        encoder = {key: value.clone() for key, value in model.avemo.face_encoder.state_dict().items()}
        crema = ["Angry", "Disgust", "Fear", "Happy", "Neutral", "Sad"]
        model.relabel(crema)
    assert not caught and not [
        r for r in caplog.records if "incompatible" in r.getMessage() or r.levelno >= logging.WARNING
    ]
    assert model.config.id2label == dict(enumerate(crema)) and model.config.num_labels == 6
    assert model.classifier.weight.shape == (6, 7)
    for row, label in enumerate(crema):  # every CREMA-D label exists in the shipped set: its row is kept
        assert torch.equal(model.classifier.weight[row], old[list(AFEW_LABELS).index(label)])
    assert all(torch.equal(model.avemo.face_encoder.state_dict()[key], value) for key, value in encoder.items())
    assert model.config.trained  # nothing new to learn: still the trained FER2013 model, on 6 labels
    model.relabel(["Calm", "Happy"])
    assert not model.config.trained and model.config.provenance["weights"][-1]["source"].endswith(
        "kept the rows of Happy"
    )


# ------------------------------------------------------------------------------------------------ provenance


def test_provenance_warnings_say_what_was_recorded_and_nothing_else():
    config = AVEmoConfig(num_labels=4)
    [untrained] = config.provenance_warnings()
    assert untrained.startswith("the model is untrained (random weights")
    config.provenance["weights"].append({"part": "face_encoder", "source": "backbone_ir50_ms1m_epoch120.pth"})
    assert "pretrained face_encoder but no training" in config.provenance_warnings()[0]
    config.record_training(tool="test", corpus="custom", steps=10)
    assert config.trained and config.provenance_warnings() == [
        "no held-out evaluation of these weights was recorded: how well they work is unknown"
    ]
    config.record_evaluation(split="test", clips=40, uar=0.27)  # chance with 4 labels: 0.25
    [near_chance] = config.provenance_warnings()
    assert "held-out UAR (0.27 on 40 test clips) is within 5 points of chance (0.25)" in near_chance
    config.record_evaluation(split="test", clips=40, uar=0.61)
    assert config.provenance_warnings() == []
    config.record_training(tool="test", corpus="custom", steps=5)
    assert config.provenance_warnings() == [
        "the weights were trained further after their last recorded held-out evaluation"
    ]


def test_a_two_step_avemo_train_is_called_no_better_than_chance(shared_data, tmp_path):
    """Issue 8's check: `avemo train --max-steps 2` on a tiny corpus, then `avemo predict` warns."""
    from synthetic import make_ravdess_like_corpus

    data = make_ravdess_like_corpus(tmp_path / "data", shared_data / "faces" / "ravdess", actors=(1, 2, 17, 21))
    (tmp_path / "tiny.json").write_text(json.dumps(TINY))
    result = run_avemo(
        "train",
        "--data-dir",
        data,
        "--corpus",
        "ravdess",
        "--output-dir",
        tmp_path / "out",
        "--config",
        tmp_path / "tiny.json",
        "--max-steps",
        2,
        "--batch-size",
        2,
        "--gradient-accumulation-steps",
        1,
        "--num-frames",
        2,
        "--train-frames",
        2,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    config = json.loads((tmp_path / "out" / "best" / "config.json").read_text())
    [run] = config["provenance"]["training"]
    [evaluation] = config["provenance"]["evaluation"]
    assert (
        run["tool"] == "avemo train"
        and run["steps"] == 2
        and run["split_sizes"] == {"train": 6, "validation": 3, "test": 3}
    )
    assert (
        evaluation["split"] == "test"
        and evaluation["clips"] == 3
        and evaluation["chance_uar"] == pytest.approx(1 / 3, abs=1e-3)
    )
    assert evaluation["uar"] < 1 / 3 + 0.05  # two steps from random weights: guessing
    predicted = run_avemo(
        "predict", data / "Actor_21" / "01-01-03-01-01-01-21.mp4", "--model", tmp_path / "out" / "best", "--json"
    )
    assert predicted.returncode == 0, predicted.stderr[-2000:]
    [row] = [json.loads(line) for line in predicted.stdout.splitlines()]
    assert any("no better than guessing" in warning for warning in row["warnings"]), row["warnings"]


def test_shipped_faces_model_has_no_warning_and_says_what_it_is():
    from avemo.model_folders.pretrained import pretrained_path

    config = AVEmoForVideoClassification.from_pretrained(pretrained_path()).config
    assert config.provenance_warnings() == []
    assert any("still images" in note for note in config.provenance_notes())
