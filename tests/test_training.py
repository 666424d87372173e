"""Training: collator, trainer knobs, feature cache, and proof that learning works end to end (one process and
two gloo processes under `accelerate launch`)."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch

from avemo.caching import cache_features, faces_array
from avemo.collator import AVEmoCollator, evenly_spaced
from avemo.corpora import load_corpus
from avemo.model_folder import processor_for
from avemo.train import TrainOptions, train
from avemo.trainer import AVEmoTrainer, backbone_parameter_names, class_weights_from_counts, freeze_backbones
from modeling_avemo import AVEmoConfig, AVEmoForVideoClassification

from conftest import run_avemo as avemo
from synthetic import SIGNALS, make_ravdess_like_corpus

TINY = {
    "face_stage_depths": [1, 1, 1, 1], "face_stage_widths": [4, 4, 8, 8], "face_embedding_size": 16,
    "audio_channels": [4, 8, 8, 8, 8], "transformer_attention_size": 8, "audio_attention_hidden_size": 8,
    "fbp_k": 2, "fbp_o": 16,
}


@pytest.fixture(scope="module")
def synthetic_corpus(tmp_path_factory, shared_data):
    return make_ravdess_like_corpus(tmp_path_factory.mktemp("synthetic") / "ravdess", shared_data / "faces" / "ravdess")


@pytest.fixture(scope="module")
def tiny_config_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("configs") / "tiny.json"
    path.write_text(json.dumps(TINY))
    return path




# ------------------------------------------------------------------------------------------- collator, trainer


def _rows(count=3, faces=6, seconds=(2.0, 1.0, 0.0)):
    rng = np.random.default_rng(0)
    return [
        {"faces": rng.integers(0, 255, (faces if i else 2, 112, 112, 3), dtype=np.uint8),
         "waveform": (0.1 * rng.standard_normal(int(seconds[i] * 16000))).astype(np.float32), "label": i}
        for i in range(count)
    ]


def test_collator_pads_masks_and_samples():
    processor = processor_for(AVEmoConfig())
    rows = _rows()
    evaluation = AVEmoCollator(processor, train=False, frames=4)
    batch = evaluation(rows)
    assert batch["pixel_values"].shape == (3, 4, 3, 112, 112)
    assert batch["frame_mask"].sum(-1).tolist() == [2, 4, 4]
    assert batch["audio_mask"].sum(-1).tolist() == [201, 101, 0]
    assert batch["labels"].tolist() == [0, 1, 2]
    # Evaluation sampling is fixed and evenly spaced; the picked faces are the expected ones.
    assert torch.equal(evaluation(rows)["pixel_values"], batch["pixel_values"])
    assert evenly_spaced(6, 4).tolist() == [0, 2, 3, 5]
    expected = (torch.from_numpy(rows[1]["faces"][[0, 2, 3, 5]]).permute(0, 3, 1, 2).float() / 255 - 0.5) / 0.5
    torch.testing.assert_close(batch["pixel_values"][1], expected)
    # Training draws random subsets and random audio crops.
    training = AVEmoCollator(processor, train=True, frames=4, audio_crop_seconds=0.5)
    torch.manual_seed(0)
    draws = [training(rows) for _ in range(5)]
    assert any(not torch.equal(draw["pixel_values"], draws[0]["pixel_values"]) for draw in draws[1:])
    assert all(draw["audio_mask"].sum(-1).tolist() == [51, 51, 0] for draw in draws)


def test_optimizer_groups_frozen_backbones_and_class_weights(tmp_path):
    from transformers import TrainingArguments

    model = AVEmoForVideoClassification(AVEmoConfig(**TINY))
    frozen = freeze_backbones(model, ("audio",))
    assert frozen == sum(p.numel() for n, p in model.named_parameters() if "audio_encoder" in n)
    args = TrainingArguments(output_dir=str(tmp_path), learning_rate=1e-3, weight_decay=0.01, report_to=[], use_cpu=True)
    trainer = AVEmoTrainer(model=model, args=args, backbone_lr_scale=0.1, class_weights=torch.tensor([1.0, 2.0, 0.0, 1, 1, 1, 1]))
    optimizer = trainer.create_optimizer()
    by_lr = {}
    for group in optimizer.param_groups:
        for parameter in group["params"]:
            by_lr[id(parameter)] = (group["lr"], group["weight_decay"])
    names = backbone_parameter_names(model)
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            assert id(parameter) not in by_lr, f"frozen {name} is optimised"
            continue
        lr, decay = by_lr[id(parameter)]
        assert lr == pytest.approx(1e-4 if name in names else 1e-3), name
        assert decay == (0.0 if name.endswith("bias") or "norm" in name.lower() or ".bn" in name else decay)
    assert any(name.startswith("avemo.face_encoder") for name in names) and not any("audio_encoder" in n for n in names if model.get_parameter(n).requires_grad)
    # Class weights change the loss: a class with weight 0 contributes nothing.
    inputs = {"input_features": torch.randn(2, 3, 128, 100), "pixel_values": torch.randn(2, 2, 3, 112, 112), "labels": torch.tensor([2, 2])}
    model.eval()
    assert trainer.compute_loss(model, dict(inputs)).item() != trainer.compute_loss(model, dict(inputs, labels=torch.tensor([1, 1]))).item()
    weights = class_weights_from_counts([10, 30, 0])
    assert weights.tolist() == pytest.approx([1.5, 0.5, 0.0])


def test_feature_cache_is_reused_and_resumes(synthetic_corpus, tmp_path):
    corpus = load_corpus("ravdess", synthetic_corpus).select(range(6))
    processor = processor_for(AVEmoConfig())
    processor.num_frames = 3
    cached = cache_features(corpus, processor, tmp_path, shard_size=2)
    assert len(cached) == 6 and all(faces_array(row["faces"], 112).shape == (3, 112, 112, 3) for row in cached)
    assert cached[0]["waveform"].dtype == np.float32 and 1.0 <= len(cached[0]["waveform"]) / 16000 < 1.2
    files = sorted(tmp_path.glob("clips-*.arrow"))
    assert len(files) == 3
    stamps = {path: path.stat().st_mtime_ns for path in files}
    files[1].unlink()  # an interrupted run: one shard missing
    again = cache_features(corpus, processor, tmp_path, shard_size=2)
    assert [path.stat().st_mtime_ns for path in (files[0], files[2])] == [stamps[files[0]], stamps[files[2]]]
    assert files[1].exists()
    assert again[3]["faces"] == cached[3]["faces"]
    # The cached crops are exactly what the processor makes.
    clip = processor.process_video(corpus[3]["path"])
    np.testing.assert_array_equal(faces_array(again[3]["faces"], 112), np.stack([face.crop for face in clip.faces]))


# ------------------------------------------------------------------------------------------- learning works


def test_learning_end_to_end_on_a_synthetic_audio_video_corpus(synthetic_corpus, tiny_config_file, tmp_path):
    """72 clips (24 speakers x 3 labels), a label signal in faces and in audio, speaker-independent split: the
    real processor, cache, collator and Trainer reach held-out accuracy far above chance (1/3)."""
    output = tmp_path / "run"
    options = TrainOptions(
        data_dir=str(synthetic_corpus), corpus="ravdess", output_dir=str(output), config=str(tiny_config_file),
        max_steps=60, batch_size=8, gradient_accumulation_steps=1, learning_rate=3e-3, backbone_lr_scale=1.0, num_frames=4, train_frames=4, logging_steps=20,
    )
    test_metrics = train(options)
    assert test_metrics["accuracy"] >= 0.8, test_metrics
    best = output / "best"
    info = json.loads((best / "training_info.json").read_text())
    assert info["split_sizes"] == {"train": 48, "validation": 12, "test": 12} and info["world_size"] == 1
    config = json.loads((best / "config.json").read_text())
    assert config["trained"] is True and config["id2label"]["4"] == "Angry" and "auto_map" in config
    assert (best / "processor_config.json").is_file() and (best / "model.safetensors").is_file()

    result = avemo("evaluate", "--model", best, "--data-dir", synthetic_corpus, "--corpus", "ravdess", "--split", "test", "--output", tmp_path / "eval" / "metrics.json")
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert {"accuracy", "uar", "macro_f1", "confusion_matrix"} <= set(report)
    assert report["accuracy"] >= 0.8 and report["num_clips"] == 12
    matrix = np.asarray(report["confusion_matrix"])
    assert matrix.shape == (8, 8) and matrix.sum() == 12
    labels = report["labels"]
    for code in SIGNALS:  # rows are true labels: 4 test clips of each emotion used
        assert matrix[labels.index({"01": "Neutral", "03": "Happy", "05": "Angry"}[code])].sum() == 4
    assert (tmp_path / "eval" / "metrics.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # Resume: a longer run continues from the last checkpoint instead of starting over.
    options.max_steps, options.resume = 64, True
    train(options)
    assert json.loads((best / "training_info.json").read_text())["global_step"] == 64


def test_fits_the_real_crema_d_speech(shared_data, tmp_path):
    """An audio-only model learns the six real CREMA-D recordings (fitting, not a claim of accuracy)."""
    folder = tmp_path / "crema-d"
    folder.mkdir()
    for source in (shared_data / "audio" / "crema-d").glob("*.mp3"):
        (folder / source.name).symlink_to(source)
    config = dict(TINY, modalities="audio", audio_channels=[16, 32, 32, 32, 32], transformer_attention_size=16,
                  attention_dropout=0.1, classifier_dropout=0.1)
    (tmp_path / "audio.json").write_text(json.dumps(config))
    result = avemo("train", "--data-dir", folder, "--corpus", "crema-d", "--output-dir", tmp_path / "out", "--config", tmp_path / "audio.json",
                   "--max-steps", 60, "--batch-size", 6, "--gradient-accumulation-steps", 1, "--learning-rate", 3e-3, "--backbone-lr-scale", 1, "--split", "none")
    assert result.returncode == 0, result.stderr[-3000:]
    result = avemo("evaluate", "--model", tmp_path / "out" / "best", "--data-dir", folder, "--corpus", "crema-d", "--output", tmp_path / "m.json")
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "m.json").read_text())
    assert report["num_clips"] == 6 and report["labels"] == ["Angry", "Disgust", "Fear", "Happy", "Neutral", "Sad"]
    assert report["accuracy"] == 1.0 and np.trace(report["confusion_matrix"]) == 6


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_processes_under_accelerate_launch(synthetic_corpus, tiny_config_file, tmp_path):
    """DDP over gloo on CPU: both ranks train, exactly one OUT/best is written."""
    data = tmp_path / "data"
    data.mkdir()
    for actor in ("01", "02", "17", "21"):  # train, train, validation, test actors
        (data / f"Actor_{actor}").symlink_to(synthetic_corpus / f"Actor_{actor}")
    output = tmp_path / "out"
    launcher = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
        "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(_free_port()),
        "-m", "avemo.cli", "train", "--data-dir", str(data), "--corpus", "ravdess", "--output-dir", str(output),
        "--config", str(tiny_config_file), "--max-steps", "4", "--batch-size", "2", "--gradient-accumulation-steps", "1", "--num-frames", "4", "--train-frames", "4",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(launcher, capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    assert "process 1 of 2: trained 4 steps in each of 2 processes" in log and "process 2 of 2: trained 4 steps" in log
    written = sorted(path.parent for path in output.rglob("config.json") if "checkpoint" not in str(path))
    assert written == [output / "best"]
    assert json.loads((output / "best" / "training_info.json").read_text())["world_size"] == 2


def test_train_reports_a_bad_corpus_in_one_line(tmp_path):
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "holiday.mp4").write_bytes(b"")
    result = avemo("train", "--data-dir", tmp_path / "clips", "--corpus", "ravdess", "--output-dir", tmp_path / "out")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "holiday.mp4" in result.stderr
