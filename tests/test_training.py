"""Training: collator, trainer knobs, feature cache, and proof that learning works end to end (one process and
two gloo processes under `accelerate launch`)."""

import json
import os
import socket
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from avemo.data.augmentation import AugmentConfig
from avemo.data.caching import cache_features, faces_array
from avemo.data.collator import AVEmoCollator
from avemo.processing.processing_avemo import segment_centres
from avemo.corpora import load_corpus
from avemo.model_folders.configs import default_processor
from avemo.train import TrainOptions, train
from avemo.train.trainer import AVEmoTrainer, class_weights_from_counts, freeze_backbones
from modeling_avemo import AVEmoConfig, AVEmoForVideoClassification

from conftest import TINY as CONFTEST_TINY
from conftest import run_avemo as avemo
from synthetic import SIGNALS, make_ravdess_like_corpus

# The shared tiny config, with a wider FBP output for the learning tests.
TINY = {**CONFTEST_TINY, "fbp_o": 16}


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
        {
            "faces": rng.integers(0, 255, (faces if i else 2, 112, 112, 3), dtype=np.uint8),
            "waveform": (0.1 * rng.standard_normal(int(seconds[i] * 16000))).astype(np.float32),
            "label": i,
        }
        for i in range(count)
    ]


def test_collator_pads_masks_and_samples():
    processor = default_processor(AVEmoConfig())
    rows = _rows()
    evaluation = AVEmoCollator(processor, train=False, frames=4)
    batch = evaluation(rows)
    assert batch["pixel_values"].shape == (3, 4, 3, 112, 112)
    assert batch["frame_mask"].sum(-1).tolist() == [2, 4, 4]
    assert batch["audio_mask"].sum(-1).tolist() == [201, 101, 0]
    assert batch["labels"].tolist() == [0, 1, 2]
    # Evaluation sampling is fixed and evenly spaced; the picked faces are the expected ones.
    assert torch.equal(evaluation(rows)["pixel_values"], batch["pixel_values"])
    assert segment_centres(6, 4) == [0, 2, 3, 5]
    expected = (torch.from_numpy(rows[1]["faces"][[0, 2, 3, 5]]).permute(0, 3, 1, 2).float() / 255 - 0.5) / 0.5
    torch.testing.assert_close(batch["pixel_values"][1], expected)
    # Training draws random subsets and random audio crops.
    training = AVEmoCollator(processor, train=True, frames=4, audio_crop_seconds=0.5)
    torch.manual_seed(0)
    draws = [training(rows) for _ in range(5)]
    assert any(not torch.equal(draw["pixel_values"], draws[0]["pixel_values"]) for draw in draws[1:])
    assert all(draw["audio_mask"].sum(-1).tolist() == [51, 51, 0] for draw in draws)


def _expected_groups(model):
    """The optimizer's groups, stated from module types (not with the functions the trainer uses):
    - backbone = the parameters of the face CNN and of the audio CNN modules; they get lr * backbone_lr_scale;
    - no weight decay: every bias, and the weights of LayerNorm and BatchNorm layers (transformers excludes biases
      and LayerNorm; face.evoLVe's IR50 training excludes BatchNorm, `separate_irse_bn_paras`);
    - weight decay: everything else (Conv2d and Linear weights, PReLU slopes, the missing-modality placeholders).
    """
    backbone = {id(p) for p in model.avemo.face_encoder.parameters()} | {
        id(p) for p in model.avemo.audio_encoder.parameters()
    }
    no_decay = set()
    kinds = {}
    for module in model.modules():
        for name, parameter in module.named_parameters(recurse=False):
            if name == "bias" or isinstance(module, (torch.nn.LayerNorm, torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                no_decay.add(id(parameter))
            kinds.setdefault(type(module).__name__, set()).add(id(parameter))
    return backbone, no_decay, kinds


def test_optimizer_groups_follow_module_types(tmp_path):
    from transformers import TrainingArguments

    model = AVEmoForVideoClassification(AVEmoConfig(**TINY))
    frozen = freeze_backbones(model, ("audio",))
    assert frozen == sum(p.numel() for p in model.avemo.audio_encoder.parameters()) > 0
    args = TrainingArguments(
        output_dir=str(tmp_path), learning_rate=1e-3, weight_decay=0.01, report_to=[], use_cpu=True
    )
    trainer = AVEmoTrainer(model=model, args=args, backbone_lr_scale=0.1)
    optimizer = trainer.create_optimizer()
    seen = {}
    for group in optimizer.param_groups:
        for parameter in group["params"]:
            assert id(parameter) not in seen, "a parameter is in two groups"
            seen[id(parameter)] = (group["lr"], group["weight_decay"])
    backbone, no_decay, kinds = _expected_groups(model)
    # The rule covers every kind of layer the model has (so each branch below is exercised).
    assert {"Conv2d", "Linear", "PReLU", "BatchNorm2d", "SafeBatchNorm1d", "LayerNorm", "AVEmoModel"} <= set(kinds)
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            assert id(parameter) not in seen, f"frozen {name} is optimised"
            continue
        lr, decay = seen[id(parameter)]
        assert lr == pytest.approx(1e-4 if id(parameter) in backbone else 1e-3), name
        assert decay == (0.0 if id(parameter) in no_decay else 0.01), name
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    assert set(seen) == trainable
    # Both values occur among trainable parameters of both speeds: face CNN (PReLU decays, BN does not), head.
    face = list(model.avemo.face_encoder.modules())
    assert seen[id(next(m for m in face if isinstance(m, torch.nn.PReLU)).weight)] == (pytest.approx(1e-4), 0.01)
    assert seen[id(next(m for m in face if isinstance(m, torch.nn.BatchNorm2d)).weight)] == (pytest.approx(1e-4), 0.0)
    assert seen[id(model.classifier.weight)] == (pytest.approx(1e-3), 0.01)
    assert seen[id(model.avemo.missing_visual_embedding)] == (pytest.approx(1e-3), 0.01)


def test_class_weighted_loss_is_weighted_cross_entropy(tmp_path):
    """loss = sum_i w[y_i] (-log softmax(z_i)[y_i]) / sum_i w[y_i], written out and compared with
    F.cross_entropy(weight=w) on the same logits; a weight-0 class contributes nothing."""
    from transformers import TrainingArguments

    torch.manual_seed(0)
    model = AVEmoForVideoClassification(AVEmoConfig(**TINY)).eval()
    with torch.no_grad():  # spread logits, so that the clips' losses differ and weighting them matters
        model.classifier.weight.copy_(torch.randn_like(model.classifier.weight) * 5)
    weights = torch.tensor([1.0, 2.5, 0.0, 0.5, 1.0, 1.0, 4.0])
    args = TrainingArguments(output_dir=str(tmp_path), report_to=[], use_cpu=True)
    trainer = AVEmoTrainer(model=model, args=args, class_weights=weights)
    features = {"input_features": torch.randn(4, 3, 128, 100), "pixel_values": torch.randn(4, 2, 3, 112, 112)}
    labels = torch.tensor([1, 3, 6, 1])
    with torch.no_grad():
        logits = model(**features).logits.double()
        loss = trainer.compute_loss(model, dict(features, labels=labels)).item()
        loss_with_zero_class = trainer.compute_loss(model, dict(features, labels=torch.tensor([1, 3, 6, 2]))).item()
    log_probabilities = logits.log_softmax(-1)
    w = weights.double()[labels]
    expected = -(w * log_probabilities[torch.arange(4), labels]).sum() / w.sum()
    assert loss == pytest.approx(expected.item(), rel=1e-5)
    assert loss == pytest.approx(
        torch.nn.functional.cross_entropy(logits, labels, weight=weights.double()).item(), rel=1e-5
    )
    unweighted = torch.nn.functional.cross_entropy(logits, labels).item()
    assert abs(unweighted - expected.item()) > 0.05  # the weights matter for these labels
    # The fourth clip now has a weight-0 label: the loss is the weighted mean over the first three.
    first_three = -(w[:3] * log_probabilities[torch.arange(3), labels[:3]]).sum() / w[:3].sum()
    assert loss_with_zero_class == pytest.approx(first_three.item(), rel=1e-5)
    weights = class_weights_from_counts([10, 30, 0])
    assert weights.tolist() == pytest.approx([1.5, 0.5, 0.0])


def test_feature_cache_is_reused_and_resumes(synthetic_corpus, tmp_path):
    corpus = load_corpus("ravdess", synthetic_corpus).select(range(6))
    processor = default_processor(AVEmoConfig())
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


def test_feature_cache_is_rebuilt_when_processor_settings_change(synthetic_corpus, tmp_path):
    corpus = load_corpus("ravdess", synthetic_corpus).select(range(2))
    processor = default_processor(AVEmoConfig())
    processor.num_frames = 2
    two = cache_features(corpus, processor, tmp_path)
    first_files = {path: path.stat().st_mtime_ns for path in tmp_path.glob("clips-*.arrow")}
    processor.num_frames = 3
    three = cache_features(corpus, processor, tmp_path)
    assert [faces_array(row["faces"], 112).shape[0] for row in two] == [2, 2]
    assert [faces_array(row["faces"], 112).shape[0] for row in three] == [3, 3]  # not the stale 2-frame cache
    assert len(list(tmp_path.glob("clips-*.arrow"))) == 2 * len(first_files)
    # Back to the first settings: their cache is read again, untouched.
    processor.num_frames = 2
    again = cache_features(corpus, processor, tmp_path)
    assert {path: path.stat().st_mtime_ns for path in first_files} == first_files
    assert again[1]["faces"] == two[1]["faces"]


def test_gradient_accumulation_averages_the_micro_batch_losses(tmp_path):
    """With 2 accumulation steps, the update uses the gradient of the mean of the two micro-batch losses (each a
    per-batch mean): (grad L1 + grad L2) / 2, computed here by hand on a copy with the same initial weights."""
    import copy

    from datasets import Dataset
    from transformers import TrainerCallback, TrainingArguments

    config = AVEmoConfig(
        **dict(
            TINY,
            modalities="audio",
            audio_attention="mean",
            classifier_dropout=0.0,
            num_mel_bins=64,
            id2label={0: "a", 1: "b", 2: "c"},
        )
    )
    torch.manual_seed(0)
    model = AVEmoForVideoClassification(config)
    initial = copy.deepcopy(model.state_dict())
    generator = torch.Generator().manual_seed(0)
    rows = [
        {"input_features": (torch.randn(3, 64, 70, generator=generator) * (1 + i)).tolist(), "labels": i % 3}
        for i in range(4)
    ]
    batches, gradients = [], {}

    def collate(features):
        batch = {
            "input_features": torch.stack([f["input_features"] for f in features]),
            "labels": torch.stack([f["labels"] for f in features]),
        }
        batches.append({key: value.clone() for key, value in batch.items()})
        return batch

    class CaptureGradients(TrainerCallback):
        def on_pre_optimizer_step(self, args, state, control, model=None, **kwargs):
            gradients.update(
                {name: p.grad.detach().clone() for name, p in model.named_parameters() if p.grad is not None}
            )

    args = TrainingArguments(
        output_dir=str(tmp_path),
        max_steps=1,
        per_device_train_batch_size=2,
        gradient_accumulation_steps=2,
        max_grad_norm=0,
        report_to=[],
        save_strategy="no",
        use_cpu=True,
        disable_tqdm=True,
    )
    trainer = AVEmoTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(rows).with_format("torch"),
        data_collator=collate,
        callbacks=[CaptureGradients()],
    )
    trainer.train()
    assert len(batches) == 2 and gradients
    reference = AVEmoForVideoClassification(config)
    reference.load_state_dict(initial)
    reference.train()
    losses = [
        torch.nn.functional.cross_entropy(reference(input_features=b["input_features"]).logits, b["labels"])
        for b in batches
    ]
    ((losses[0] + losses[1]) / 2).backward()
    for name, parameter in reference.named_parameters():
        torch.testing.assert_close(gradients[name], parameter.grad, rtol=1e-4, atol=1e-7, msg=name)


def _ravdess_subset(synthetic_corpus, root, clips_by_actor):
    """A RAVDESS folder of symlinks to some synthetic clips: {actor: [emotion codes]}."""
    for actor, emotions in clips_by_actor.items():
        folder = root / f"Actor_{actor:02d}"
        folder.mkdir(parents=True)
        for emotion in emotions:
            name = f"01-01-{emotion}-01-01-01-{actor:02d}.mp4"
            (folder / name).symlink_to(synthetic_corpus / f"Actor_{actor:02d}" / name)
    return root


def test_train_from_a_model_folder_with_class_weights_and_a_frozen_audio_cnn(synthetic_corpus, tmp_path, monkeypatch):
    """`train --init-from DIR --class-weights --freeze-audio`: the run starts from the folder's weights, the loss
    uses inverse-frequency weights of the training split, the audio CNN stays as it was."""
    from avemo.model_folders.create import init_model_folder
    from avemo.train.trainer import AVEmoTrainer as Trainer

    all_three = ["01", "03", "05"]
    data = _ravdess_subset(
        synthetic_corpus, tmp_path / "data", {1: all_three, 2: ["03", "05"], 17: all_three, 21: all_three}
    )
    init = init_model_folder(tmp_path / "init", AVEmoConfig(**TINY), seed=3)
    seen_weights, collators = [], []
    compute_loss = Trainer.compute_loss

    def recording_compute_loss(self, model, inputs, *args, **kwargs):
        if model.training:
            seen_weights.append(self.class_weights.clone())
            collators.append((self.data_collator.train, self.data_collator.augment, self.eval_data_collator.train))
        return compute_loss(self, model, inputs, *args, **kwargs)

    monkeypatch.setattr(Trainer, "compute_loss", recording_compute_loss)
    options = TrainOptions(
        data_dir=str(data),
        corpus="ravdess",
        output_dir=str(tmp_path / "out"),
        init_from=str(init),
        class_weights=True,
        freeze_audio=True,
        max_steps=2,
        batch_size=2,
        gradient_accumulation_steps=1,
        learning_rate=1e-3,
        backbone_lr_scale=1.0,
        num_frames=2,
        train_frames=2,
        augment=AugmentConfig(horizontal_flip=0.25, time_masks=1),
    )
    train(options)
    # Train split (actors 1, 2): Neutral 1, Happy 2, Angry 2 clips. Inverse frequency 5/1, 5/2, 5/2, scaled to mean 1
    # over the classes present: 1.5, 0.75, 0.75 at their RAVDESS indices (Neutral 0, Happy 2, Angry 4); 0 elsewhere.
    assert len(seen_weights) == 2
    for weights in seen_weights:
        torch.testing.assert_close(weights, torch.tensor([1.5, 0.0, 0.75, 0.0, 0.75, 0.0, 0.0, 0.0]))
    start, trained = (
        load_file(str(init / "model.safetensors")),
        load_file(str(tmp_path / "out" / "best" / "model.safetensors")),
    )
    model = AVEmoForVideoClassification(AVEmoConfig(**TINY))
    parameters = {name for name, _ in model.named_parameters()}
    audio = [name for name in parameters if name.startswith("avemo.audio_encoder.")]
    face = [name for name in parameters if name.startswith("avemo.face_encoder.")]
    assert audio and all(torch.equal(trained[name], start[name]) for name in audio)
    # The face CNN trained from the folder's weights: two Adam steps of lr 1e-3 move each weight by at most ~2e-3,
    # while the weights of another random initialisation differ by O(0.1-1).
    moved = max((trained[name] - start[name]).abs().max().item() for name in face)
    assert 0 < moved < 5e-3
    config = json.loads((tmp_path / "out" / "best" / "config.json").read_text())
    assert config["id2label"]["4"] == "Angry"
    # The augmentation of the run is part of its provenance record and of training_info.json.
    expected = dict(AugmentConfig().to_dict(), horizontal_flip=0.25, time_masks=1)
    assert (
        collators == [(True, options.augment, False)] * 2
    )  # the training collator augments as asked; evaluation's never does
    assert config["provenance"]["training"][-1]["augmentation"] == expected
    assert json.loads((tmp_path / "out" / "best" / "training_info.json").read_text())["options"]["augment"] == expected


def test_train_cli_with_published_backbones_frozen_face_and_a_bad_clip(synthetic_corpus, tmp_path):
    """`avemo train --ir50 --alexnet --freeze-face --class-weights --gradient-checkpointing` on a corpus holding one
    unreadable clip: the clip is skipped and reported, the face CNN keeps the IR50 checkpoint exactly, the audio CNN
    starts from the AlexNet checkpoint and trains (its stages recomputed in the backward pass)."""
    from test_backbone_import import random_state_dict, reference_keys

    all_three = ["01", "03", "05"]
    data = _ravdess_subset(
        synthetic_corpus, tmp_path / "data", {1: all_three, 2: all_three, 17: all_three, 21: all_three}
    )
    bad = data / "Actor_02" / "01-01-03-01-01-02-02.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    # face.evoLVe names: with stages of 3, 4, 1, 1 units (widths 4, 8, 16, 16) every key of this small IR50 is a
    # key of the published IR_50 (its shortcut convolutions sit at body.3 and body.7 too); smaller shapes.
    config = dict(TINY, face_stage_depths=[3, 4, 1, 1], face_stage_widths=[4, 8, 16, 16])
    config.pop("audio_channels")  # the published AlexNet widths
    (tmp_path / "config.json").write_text(json.dumps(config))
    shapes = {
        key: list(value.shape)
        for key, value in AVEmoForVideoClassification(AVEmoConfig(**config)).avemo.face_encoder.state_dict().items()
    }
    assert set(shapes) <= set(reference_keys()["ir50_112"])
    ir50, alexnet = random_state_dict(shapes, seed=1), random_state_dict(reference_keys()["alexnet_features"], seed=2)
    torch.save(ir50, tmp_path / "ir50.pth")
    torch.save(alexnet, tmp_path / "alexnet.pth")
    result = avemo(
        "train",
        "--data-dir",
        data,
        "--corpus",
        "ravdess",
        "--output-dir",
        tmp_path / "out",
        "--config",
        tmp_path / "config.json",
        "--ir50",
        tmp_path / "ir50.pth",
        "--alexnet",
        tmp_path / "alexnet.pth",
        "--freeze-face",
        "--class-weights",
        "--gradient-checkpointing",
        "--max-steps",
        2,
        "--batch-size",
        2,
        "--num-frames",
        2,
        "--train-frames",
        2,
        "--learning-rate",
        1e-3,
        "--backbone-lr-scale",
        1,
        "--no-augment",
        "--freq-masks",
        1,
        "--freq-mask-bins",
        8,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    log = result.stdout + result.stderr
    assert f"skipped {bad}" in log
    info = json.loads((tmp_path / "out" / "best" / "training_info.json").read_text())
    assert info["split_sizes"] == {"train": 6, "validation": 3, "test": 3}  # 7 train clips, the bad one dropped
    # --no-augment with frequency masking switched back on, as the run's provenance records it.
    recorded = json.loads((tmp_path / "out" / "best" / "config.json").read_text())["provenance"]["training"][-1][
        "augmentation"
    ]
    assert recorded == dict(AugmentConfig.none().to_dict(), freq_masks=1, freq_mask_bins=8)
    trained = load_file(str(tmp_path / "out" / "best" / "model.safetensors"))
    for key, value in ir50.items():
        if not key.endswith(("running_mean", "running_var", "num_batches_tracked")):
            assert torch.equal(trained[f"avemo.face_encoder.{key}"], value), key
    moved = max((trained[f"avemo.audio_encoder.{key}"] - value).abs().max().item() for key, value in alexnet.items())
    assert 0 < moved < 5e-3


def test_evaluate_maps_labels_by_name_on_a_split(synthetic_corpus, tmp_path):
    """`avemo evaluate --split validation`: only the validation actors (17-20), corpus labels matched to the model's
    labels by name (any case, any order), unreadable clips skipped and listed."""
    from avemo.evaluation.evaluate import label_mapping
    from avemo.model_folders.create import init_model_folder

    all_three = ["01", "03", "05"]
    data = _ravdess_subset(
        synthetic_corpus, tmp_path / "data", {1: all_three, 17: all_three, 18: ["03"], 21: all_three}
    )
    bad = data / "Actor_18" / "01-01-05-01-01-01-18.mp4"
    bad.write_bytes(b"not a video")
    # The model's labels: RAVDESS' eight in another order and case.
    model_labels = ["surprised", "ANGRY", "Sad", "happy", "Disgust", "NEUTRAL", "fearful", "Calm"]
    config = AVEmoConfig(**TINY, id2label=dict(enumerate(model_labels)))
    model = init_model_folder(tmp_path / "model", config)
    result = avemo(
        "evaluate",
        "--model",
        model,
        "--data-dir",
        data,
        "--corpus",
        "ravdess",
        "--split",
        "validation",
        "--output",
        tmp_path / "m.json",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "m.json").read_text())
    assert report["num_clips"] == 4 and report["split"] == "validation" and report["labels"] == model_labels
    assert [entry["file"] for entry in report["skipped"]] == [str(bad)]
    # Rows are true labels in the model's order: actor 17's Neutral, Happy, Angry and actor 18's Happy.
    rows = np.asarray(report["confusion_matrix"]).sum(1)
    expected = np.zeros(8, dtype=int)
    expected[model_labels.index("NEUTRAL")] = 1
    expected[model_labels.index("happy")] = 2
    expected[model_labels.index("ANGRY")] = 1
    np.testing.assert_array_equal(rows, expected)
    # A model whose labels do not cover the corpus' is refused, naming what is missing.
    assert label_mapping(["Happy", "Calm"], model_labels, "m") == [3, 7]
    with pytest.raises(ValueError, match=r"\['Calm'\]"):
        label_mapping(["Happy", "Calm"], list(AVEmoConfig().id2label.values()), "afew-model")


# ------------------------------------------------------------------------------------------- learning works


WITHOUT_COLOUR_JITTER = replace(AugmentConfig(), brightness=0.0, contrast=0.0, saturation=0.0)


def test_learning_end_to_end_on_a_synthetic_audio_video_corpus(
    synthetic_corpus, tiny_config_file, tmp_path, monkeypatch
):
    """72 clips (24 speakers x 3 labels), a label signal in faces and in audio, speaker-independent split: the
    real processor, cache, collator and Trainer reach held-out accuracy far above chance (1/3)."""
    output = tmp_path / "run"
    options = TrainOptions(
        data_dir=str(synthetic_corpus),
        corpus="ravdess",
        output_dir=str(output),
        config=str(tiny_config_file),
        max_steps=60,
        batch_size=8,
        gradient_accumulation_steps=1,
        learning_rate=3e-3,
        backbone_lr_scale=1.0,
        num_frames=4,
        train_frames=4,
        logging_steps=20,
        # The default augmentation but no colour jitter: the synthetic faces carry their label as a colour tint, which
        # brightness and saturation jitter blur by design (with it this tiny model stayed at 67 % after 60 steps).
        augment=WITHOUT_COLOUR_JITTER,
    )
    test_metrics = train(options)
    assert test_metrics["accuracy"] >= 0.8, test_metrics
    best = output / "best"
    info = json.loads((best / "training_info.json").read_text())
    assert info["split_sizes"] == {"train": 48, "validation": 12, "test": 12} and info["world_size"] == 1
    config = json.loads((best / "config.json").read_text())
    assert config["trained"] is True and config["id2label"]["4"] == "Angry" and "auto_map" in config
    assert config["provenance"]["training"][-1]["augmentation"] == WITHOUT_COLOUR_JITTER.to_dict()
    assert (best / "processor_config.json").is_file() and (best / "model.safetensors").is_file()

    result = avemo(
        "evaluate",
        "--model",
        best,
        "--data-dir",
        synthetic_corpus,
        "--corpus",
        "ravdess",
        "--split",
        "test",
        "--output",
        tmp_path / "eval" / "metrics.json",
    )
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

    # Best checkpoint: the Trainer keeps a strictly better validation UAR, so the best is the first evaluation that
    # reached the highest UAR of the run's log; OUT/best holds that checkpoint's weights (only the last checkpoint
    # is kept after a run, so they are checked by evaluating OUT/best on the validation split again).
    history = json.loads((output / "checkpoints" / "checkpoint-60" / "trainer_state.json").read_text())["log_history"]
    evaluations = [(entry["step"], entry["eval_uar"]) for entry in history if "eval_uar" in entry]
    assert [step for step, _ in evaluations] == list(range(6, 61, 6))
    best_uar = max(uar for _, uar in evaluations)
    best_step = next(step for step, uar in evaluations if uar == best_uar)
    assert info["best_checkpoint"] == str(output / "checkpoints" / f"checkpoint-{best_step}")
    assert info["best_validation_uar"] == best_uar
    assert sorted(path.name for path in (output / "checkpoints").iterdir()) == ["checkpoint-60"]
    again = avemo(
        "evaluate",
        "--model",
        best,
        "--data-dir",
        synthetic_corpus,
        "--corpus",
        "ravdess",
        "--split",
        "validation",
        "--output",
        tmp_path / "eval" / "validation.json",
    )
    assert again.returncode == 0, again.stderr
    assert json.loads((tmp_path / "eval" / "validation.json").read_text())["uar"] == pytest.approx(best_uar, abs=1e-6)

    # Resume: a longer run continues from the last checkpoint (step 60): it runs steps 61-64 only, and the log
    # history of steps 1-60 is kept, not redone.
    steps_run = []
    training_step = AVEmoTrainer.training_step

    def counting_training_step(self, *args, **kwargs):
        steps_run.append(self.state.global_step)
        return training_step(self, *args, **kwargs)

    monkeypatch.setattr(AVEmoTrainer, "training_step", counting_training_step)
    options.max_steps, options.resume = 64, True
    train(options)
    assert steps_run == [60, 61, 62, 63]
    state = json.loads((output / "checkpoints" / "checkpoint-64" / "trainer_state.json").read_text())
    assert state["global_step"] == 64
    assert state["log_history"][: len(history)] == history
    assert all(60 < entry["step"] <= 64 for entry in state["log_history"][len(history) :])
    assert json.loads((best / "training_info.json").read_text())["global_step"] == 64


def test_fits_the_real_crema_d_speech(shared_data, tmp_path):
    """An audio-only model learns the six real CREMA-D recordings (fitting, not a claim of accuracy)."""
    folder = tmp_path / "crema-d"
    folder.mkdir()
    for source in (shared_data / "audio" / "crema-d").glob("*.mp3"):
        (folder / source.name).symlink_to(source)
    config = dict(
        TINY,
        modalities="audio",
        audio_channels=[16, 32, 32, 32, 32],
        transformer_attention_size=16,
        attention_dropout=0.1,
        classifier_dropout=0.1,
    )
    (tmp_path / "audio.json").write_text(json.dumps(config))
    result = avemo(
        "train",
        "--data-dir",
        folder,
        "--corpus",
        "crema-d",
        "--output-dir",
        tmp_path / "out",
        "--config",
        tmp_path / "audio.json",
        "--max-steps",
        60,
        "--batch-size",
        6,
        "--gradient-accumulation-steps",
        1,
        "--learning-rate",
        3e-3,
        "--backbone-lr-scale",
        1,
        "--split",
        "none",
        "--no-augment",
    )  # a fitting check: augmentation works against memorising (with it, 60 steps fell short)
    assert result.returncode == 0, result.stderr[-3000:]
    result = avemo(
        "evaluate",
        "--model",
        tmp_path / "out" / "best",
        "--data-dir",
        folder,
        "--corpus",
        "crema-d",
        "--output",
        tmp_path / "m.json",
    )
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
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--main_process_port",
        str(_free_port()),
        "-m",
        "avemo.cli",
        "train",
        "--data-dir",
        str(data),
        "--corpus",
        "ravdess",
        "--output-dir",
        str(output),
        "--config",
        str(tiny_config_file),
        "--max-steps",
        "4",
        "--batch-size",
        "2",
        "--gradient-accumulation-steps",
        "1",
        "--num-frames",
        "4",
        "--train-frames",
        "4",
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
