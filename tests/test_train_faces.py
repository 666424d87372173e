"""The image stage (`avemo train-faces`): expression-image corpora, faces cut with the video model's recipe, a
face CNN that learns on images and is handed to a video model unchanged (`--face-from`)."""

import csv
import json

import numpy as np
import pytest
import torch
from PIL import Image

from avemo.model_folders.face_transfer import FaceTransferError, load_face_from
from avemo.corpora.images import ImageCorpusError, ferplus_majority, load_image_corpus
from avemo.processing.face_alignment_avemo import FaceAligner
from conftest import TINY, run_avemo
from modeling_avemo import AVEmoConfig, AVEmoForVideoClassification

# ------------------------------------------------------------------------------------------------ readers


@pytest.mark.parametrize(
    "votes, expected",
    [
        ([6, 2, 1, 1, 0, 0, 0, 0, 0, 0], 0),  # single votes dropped: 6 of the 8 left is a majority -> neutral
        ([0, 4, 4, 2, 0, 0, 0, 0, 0, 0], None),  # 4 of 10 is no majority
        ([0, 0, 5, 2, 1, 1, 1, 0, 0, 0], 2),  # 5 of 10 is no majority, but 5 of 7 once the single votes go -> surprise
        ([0, 0, 0, 0, 0, 0, 0, 3, 0, 0], 7),  # contempt is a FER+ class
        ([2, 0, 0, 0, 0, 0, 0, 0, 7, 1], None),  # the majority says "unknown"
        ([0, 0, 0, 0, 0, 0, 0, 0, 0, 10], None),  # "not a face"
        ([1, 1, 1, 1, 1, 1, 1, 1, 1, 1], None),  # every vote an outlier
        ([5, 5, 0, 0, 0, 0, 0, 0, 0, 0], None),  # a tie is not more than half
    ],
)
def test_ferplus_majority_vote(votes, expected):
    assert ferplus_majority(votes) == expected


def _fer_rows(count):
    """(emotion, usage, 48x48 pixels) rows: pixel values that tell the rows apart."""
    rng = np.random.default_rng(0)
    usages = ["Training"] * (count - 4) + ["PublicTest"] * 2 + ["PrivateTest"] * 2
    return [(index % 7, usage, rng.integers(0, 256, (48, 48))) for index, usage in enumerate(usages)]


def _write_fer2013(path, rows):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["emotion", "pixels", "Usage"])
        for emotion, usage, pixels in rows:
            writer.writerow([emotion, " ".join(map(str, pixels.ravel())), usage])


def test_fer2013_reader_keeps_usage_splits_labels_and_pixels(tmp_path):
    rows = _fer_rows(12)
    _write_fer2013(tmp_path / "fer2013.csv", rows)
    corpus = load_image_corpus("fer2013", tmp_path)
    assert {name: len(split) for name, split in corpus.items()} == {"train": 8, "validation": 2, "test": 2}
    assert corpus["train"].features["label"].names == [
        "Angry",
        "Disgust",
        "Fear",
        "Happy",
        "Sad",
        "Surprise",
        "Neutral",
    ]
    first_test = corpus["test"][0]
    emotion, _, pixels = rows[10]
    assert first_test["label"] == emotion and first_test["precropped"]
    np.testing.assert_array_equal(np.asarray(first_test["image"].convert("L")), pixels)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "fer2013.csv").write_text("emotion,pixels,Usage\n3,1 2 3,Training\n")
    with pytest.raises(ImageCorpusError, match="row 0: `pixels` must hold 2304 values"):
        load_image_corpus("fer2013", bad)


def test_ferplus_reader_takes_majority_labels_row_for_row(tmp_path):
    rows = _fer_rows(8)
    _write_fer2013(tmp_path / "fer2013.csv", rows)
    columns = [
        "Usage",
        "Image name",
        "neutral",
        "happiness",
        "surprise",
        "sadness",
        "anger",
        "disgust",
        "fear",
        "contempt",
        "unknown",
        "NF",
    ]
    votes = [
        ("Training", "fer0000000.png", [0, 8, 2, 0, 0, 0, 0, 0, 0, 0]),  # Happy
        ("Training", "", [10, 0, 0, 0, 0, 0, 0, 0, 0, 0]),  # removed by FER+
        ("Training", "fer0000002.png", [0, 0, 0, 0, 0, 0, 0, 0, 0, 10]),  # not a face
        ("Training", "fer0000003.png", [0, 0, 0, 0, 9, 1, 0, 0, 0, 0]),  # Angry
        ("PublicTest", "fer0000004.png", [0, 0, 0, 0, 0, 0, 0, 5, 4, 1]),  # Contempt: 5 of 9 once the single vote goes
        ("PublicTest", "fer0000005.png", [0, 0, 0, 10, 0, 0, 0, 0, 0, 0]),  # Sad
        ("PrivateTest", "fer0000006.png", [4, 4, 2, 0, 0, 0, 0, 0, 0, 0]),  # no majority
        ("PrivateTest", "fer0000007.png", [0, 0, 0, 0, 0, 0, 10, 0, 0, 0]),  # Fear
    ]
    with open(tmp_path / "fer2013new.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for usage, name, counts in votes:
            writer.writerow([usage, name, *counts])
    corpus = load_image_corpus("ferplus", tmp_path)
    names = corpus["train"].features["label"].names
    assert names == ["Neutral", "Happy", "Surprise", "Sad", "Angry", "Disgust", "Fear", "Contempt"]
    labels = {split: [names[label] for label in list(corpus[split]["label"])] for split in corpus}
    assert labels == {"train": ["Happy", "Angry"], "validation": ["Contempt", "Sad"], "test": ["Fear"]}
    np.testing.assert_array_equal(np.asarray(corpus["train"][1]["image"].convert("L")), rows[3][2])  # row for row
    (tmp_path / "fer2013new.csv").write_text(",".join(columns) + "\n")
    with pytest.raises(ImageCorpusError, match="0 rows, but fer2013.csv has 8"):
        load_image_corpus("ferplus", tmp_path)


def _picture(path, value):
    Image.fromarray(np.full((20, 20, 3), value, np.uint8)).save(path)


def test_rafdb_reader_original_and_aligned_pictures(tmp_path):
    (tmp_path / "EmoLabel").mkdir()
    lines = [f"train_{i:05d}.jpg {1 + i % 7}" for i in range(1, 15)] + ["test_0001.jpg 4", "test_0002.jpg 7"]
    (tmp_path / "EmoLabel" / "list_patition_label.txt").write_text("\n".join(lines) + "\n")
    for kind in ("original", "aligned"):
        (tmp_path / "Image" / kind).mkdir(parents=True)
        for line in lines:
            name = line.split()[0]
            stem = name[:-4]
            _picture(tmp_path / "Image" / kind / (name if kind == "original" else f"{stem}_aligned.jpg"), 10)
    corpus = load_image_corpus("rafdb", tmp_path, validation_share=0.2)
    names = corpus["test"].features["label"].names
    assert names == ["Surprise", "Fear", "Disgust", "Happy", "Sad", "Angry", "Neutral"]
    assert [names[label] for label in list(corpus["test"]["label"])] == ["Happy", "Neutral"]
    assert len(corpus["train"]) + len(corpus["validation"]) == 14 and len(corpus["validation"]) == 7  # one per class
    assert not any(list(corpus["train"]["precropped"])) and list(corpus["test"]["path"])[0].endswith(
        "original/test_0001.jpg"
    )
    aligned = load_image_corpus("rafdb", tmp_path, rafdb_images="aligned")
    assert all(list(aligned["test"]["precropped"])) and list(aligned["test"]["path"])[1].endswith(
        "aligned/test_0002_aligned.jpg"
    )
    (tmp_path / "Image" / "original" / "test_0002.jpg").unlink()
    with pytest.raises(ImageCorpusError, match="test_0002.jpg: RAF-DB picture not found"):
        load_image_corpus("rafdb", tmp_path)


def test_affectnet_reader_keeps_expressions_and_boxes(tmp_path):
    folder = tmp_path / "Manually_Annotated_Images" / "1"
    folder.mkdir(parents=True)
    header = [
        "subDirectory_filePath",
        "face_x",
        "face_y",
        "face_width",
        "face_height",
        "facial_landmarks",
        "expression",
        "valence",
        "arousal",
    ]
    for name, codes in (("training.csv", [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1, 2]), ("validation.csv", [6, 7, 10, 0])):
        with open(tmp_path / name, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            for index, code in enumerate(codes):
                file = f"1/{name[:5]}{index}.jpg"
                _picture(tmp_path / "Manually_Annotated_Images" / file, 50)
                writer.writerow([file, 2, 3, 10, 12, "", code, 0, 0])
    corpus = load_image_corpus("affectnet", tmp_path)
    assert corpus["test"].features["label"].names[-1] == "Angry"
    assert sorted(list(corpus["train"]["label"]) + list(corpus["validation"]["label"])) == [
        0,
        1,
        1,
        2,
        2,
        3,
        4,
        5,
        6,
    ]  # no 7-10
    assert sorted(list(corpus["validation"]["label"])) == [1, 2]  # carved from training: one of each class that has two
    assert list(corpus["test"]["label"]) == [6, 0] and list(corpus["test"]["box"])[0] == [2, 3, 11, 14]
    eight = load_image_corpus("affectnet", tmp_path, affectnet_classes=8)
    assert list(eight["test"]["label"]) == [6, 7, 0] and eight["test"].features["label"].names[-1] == "Contempt"


def test_folder_reader_with_and_without_split_folders(tmp_path):
    for label in ("Happy", "Sad"):
        (tmp_path / "flat" / label).mkdir(parents=True)
        for index in range(10):
            _picture(tmp_path / "flat" / label / f"{index}.png", index)
        for split in ("train", "val", "test"):
            (tmp_path / "split" / split / label).mkdir(parents=True)
            _picture(tmp_path / "split" / split / label / "a.png", 1)
    flat = load_image_corpus("folder", tmp_path / "flat", validation_share=0.2)
    assert {name: len(split) for name, split in flat.items()} == {"train": 12, "validation": 4, "test": 4}
    assert flat["train"].features["label"].names == ["Happy", "Sad"]
    every = sorted(path for split in flat.values() for path in split["path"])
    assert len(set(every)) == 20  # no picture in two splits
    split = load_image_corpus("folder", tmp_path / "split")
    assert [len(split[name]) for name in ("train", "validation", "test")] == [2, 2, 2]
    with pytest.raises(ImageCorpusError, match="no class folders"):
        load_image_corpus("folder", tmp_path / "flat" / "Happy")


# ------------------------------------------------------------------------------------------------ faces


def test_a_face_picture_taken_whole_is_resized_without_a_border():
    # A 48x48 FER2013-style crop through the fer2013 recipe (64 px, box grown 20 %): the crop is the picture
    # resized, as a bilinear resize with pixel centres maps it (x_src = (x + 0.5) * 48 / 64 - 0.5).
    y, x = np.mgrid[0:48, 0:48]
    picture = np.stack([(x * 5) % 256, (y * 5) % 256, (x + y) * 2], axis=-1).astype(np.uint8)
    face = FaceAligner("fer2013").align_in_box(picture)
    source = (np.arange(64) + 0.5) * 48 / 64 - 0.5
    expected_rows = np.clip(source, 0, 47)
    left, weight = np.floor(expected_rows).astype(int), expected_rows - np.floor(expected_rows)
    right = np.minimum(left + 1, 47)
    columns = picture[:, left] * (1 - weight)[None, :, None] + picture[:, right] * weight[None, :, None]
    expected = columns[left] * (1 - weight)[:, None, None] + columns[right] * weight[:, None, None]
    inner = slice(1, 63)  # the outermost ring samples half a pixel of the black border in warp_affine
    np.testing.assert_allclose(face.crop[inner, inner].astype(float), expected[inner, inner], atol=1.01)
    assert face.crop[0].mean() > 0.5 * expected[0].mean()  # no black border
    assert face.detector == "given box"


def test_an_annotated_box_gives_the_crop_detection_would(shared_data):
    image = np.asarray(Image.open(shared_data / "faces" / "ravdess" / "Actor_05.png").convert("RGB"))
    aligner = FaceAligner("arcface")
    detected = aligner.align(image)
    annotated = aligner.align_in_box(image, detected.box, detector="annotated box")
    np.testing.assert_array_equal(annotated.crop, detected.crop)
    with pytest.raises(ValueError, match="lies outside"):
        aligner.align_in_box(image, (5000, 5000, 5100, 5100))


# ------------------------------------------------------------------------------------------------ training


TINT = {"Red": (1.0, 0.45, 0.45), "Green": (0.45, 1.0, 0.45), "Blue": (0.45, 0.45, 1.0)}


def _tinted_faces(shared_data, root):
    """The 24 actor pictures, each class tinted its own colour: 8 pictures a class, split 6 / 1 / 1."""
    actors = sorted((shared_data / "faces" / "ravdess").glob("*.png"))
    for index, path in enumerate(actors):
        label = list(TINT)[index % 3]
        split = ("train",) * 6 + ("validation", "test")
        folder = root / split[(index // 3) % 8] / label
        folder.mkdir(parents=True, exist_ok=True)
        pixels = np.asarray(Image.open(path).convert("RGB")).astype(float) * TINT[label]
        Image.fromarray(pixels.astype(np.uint8)).save(folder / path.name)
    return root


def test_image_stage_learns_and_hands_its_face_cnn_to_a_video_model(shared_data, tmp_path):
    data = _tinted_faces(shared_data, tmp_path / "tinted")
    config = tmp_path / "face.json"
    config.write_text(json.dumps({**TINY, "face_backbone": "ir50"}))
    out = tmp_path / "faces-run"
    result = run_avemo(
        "train-faces",
        "--data-dir",
        data,
        "--corpus",
        "folder",
        "--output-dir",
        out,
        "--config",
        config,
        "--max-steps",
        40,
        "--batch-size",
        6,
        "--learning-rate",
        1e-2,
        "--backbone-lr-scale",
        1.0,
        "--logging-steps",
        5,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "next: avemo train --face-from" in result.stderr
    losses = [
        float(line.split("loss ")[1].split(",")[0])
        for line in result.stdout.splitlines()
        if line.startswith("step ") and ": epoch" in line
    ]
    assert len(losses) >= 3 and losses[-1] < 0.6 * losses[0], losses
    best = out / "best"
    image_model = AVEmoForVideoClassification.from_pretrained(best).eval()
    saved = json.loads((best / "config.json").read_text())
    assert saved["modalities"] == "visual" and saved["face_recipe"]["name"] == "arcface"
    assert saved["provenance"]["training"][0]["tool"] == "avemo train-faces" and saved["trained"] is True
    info = json.loads((best / "training_info.json").read_text())
    assert info["split_sizes"] == {"train": 18, "validation": 3, "test": 3}

    # The hand-over: a video model made with --face-from embeds every face exactly as the image model does.
    video = tmp_path / "video-model"
    result = run_avemo("init", "--output", video, "--face-from", best)
    assert result.returncode == 0, result.stderr[-3000:]
    video_model = AVEmoForVideoClassification.from_pretrained(video).eval()
    assert (
        video_model.config.modalities == "audio_visual"
        and video_model.config.face_recipe == image_model.config.face_recipe
    )
    processor_config = json.loads((video / "processor_config.json").read_text())
    assert processor_config["face_recipe"] == saved["face_recipe"]
    aligner = FaceAligner(saved["face_recipe"])
    crops = [
        aligner.align(np.asarray(Image.open(path).convert("RGB"))).crop
        for path in sorted((data / "test").rglob("*.png"))
    ]
    from avemo.model_folders.configs import default_processor

    pixels = default_processor(video_model.config).face_tensors([np.stack(crops)])["pixel_values"][0]
    with torch.no_grad():
        np.testing.assert_array_equal(
            image_model.avemo.embed_faces(pixels).numpy(), video_model.avemo.embed_faces(pixels).numpy()
        )
    record = video_model.config.provenance["weights"][0]
    assert record["part"] == "face_encoder" and "folder (avemo train-faces, 40 steps)" in record["trained_on"]
    assert video_model.config.trained is False  # its fusion and classifier are still untrained


def test_fer2013_rows_fine_tune_the_shipped_faces_model(shared_data, tmp_path):
    # The shipped FER2013 network as the starting point, on FER2013-format rows: the actor faces, 48x48 gray,
    # "Happy" rows bright and "Sad" rows dark; the whole picture is the face, as in FER2013.
    rows = []
    actors = sorted((shared_data / "faces" / "ravdess").glob("*.png"))
    for index, path in enumerate(actors):
        gray = np.asarray(Image.open(path).convert("L").resize((48, 48))).astype(float)
        happy = index % 2 == 0
        pixels = np.clip(gray * (0.35 if not happy else 1.0) + (120 if happy else 0), 0, 255).astype(int)
        usage = "Training" if index < 16 else ("PublicTest" if index < 20 else "PrivateTest")
        rows.append((3 if happy else 4, usage, pixels))
    _write_fer2013(tmp_path / "fer2013.csv", rows)
    out = tmp_path / "fer-run"
    result = run_avemo(
        "train-faces",
        "--data-dir",
        tmp_path / "fer2013.csv",
        "--corpus",
        "fer2013",
        "--output-dir",
        out,
        "--init-from",
        "fer2013-faces",
        "--max-steps",
        16,
        "--batch-size",
        8,
        "--learning-rate",
        3e-3,
        "--backbone-lr-scale",
        1.0,
        # Four validation rows reach UAR 1.0 at the first evaluation, and the first best checkpoint is kept: with the
        # augmentation's random draws that can be a barely trained one. This test is about the starting point.
        "--no-augment",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    model = AVEmoForVideoClassification.from_pretrained(out / "best")
    assert model.config.face_backbone == "mini_xception" and model.config.face_recipe["name"] == "fer2013"
    weights = model.config.provenance["weights"]
    assert any("FER2013" in entry.get("trained_on", "") for entry in weights)  # where the shipped model came from
    [run] = model.config.provenance["training"]  # the shipped model records none of its own (fer trained it)
    assert run["tool"] == "avemo train-faces" and run["corpus"] == "fer2013" and run["steps"] == 16
    assert model.config.provenance["summary"].startswith(
        "fine-tuned by avemo train-faces on fer2013, starting from: the FER2013"
    )
    test = json.loads((out / "best" / "training_info.json").read_text())["test"]
    assert test["uar"] == 1.0, test  # bright and dark faces are told apart on the held-out rows


def test_face_settings_must_match_to_hand_over():
    source = AVEmoForVideoClassification(AVEmoConfig(**TINY, modalities="visual", visual_attention="mean"))
    target = AVEmoForVideoClassification(AVEmoConfig(**{**TINY, "face_embedding_size": 8}))
    with pytest.raises(FaceTransferError, match="face_embedding_size: 16 in .*, 8 here"):
        load_face_from(target, source)
    audio_only = AVEmoForVideoClassification(AVEmoConfig(**TINY, modalities="audio"))
    with pytest.raises(FaceTransferError, match="audio-only"):
        load_face_from(audio_only, source)


def test_avemo_train_takes_the_face_cnn_and_its_recipe_from_face_from(tmp_path):
    from avemo.model_folders.face_transfer import image_stage_config
    from avemo.model_folders.configs import default_processor
    from avemo.train.video import TrainOptions, build_model_and_processor

    # A faces-only model at 224 px on the paper's chips: a video model built from it must use the same.
    source = AVEmoForVideoClassification(image_stage_config(AVEmoConfig(**TINY, face_size=224), ["x", "y"]))
    source.save_pretrained(tmp_path / "faces")
    default_processor(source.config).save_pretrained(tmp_path / "faces")
    options = TrainOptions(data_dir="", corpus="", output_dir=str(tmp_path / "out"), face_from=str(tmp_path / "faces"))
    model, processor = build_model_and_processor(options, ["Angry", "Happy", "Sad"])
    assert (
        model.config.face_size == 224 and model.config.face_recipe["name"] == "zhou2019" and processor.face_size == 224
    )
    assert model.config.modalities == "audio_visual" and model.config.num_labels == 3
    for key, value in source.avemo.face_encoder.state_dict().items():
        assert torch.equal(model.avemo.face_encoder.state_dict()[key], value), key
    with pytest.raises(ValueError, match="either --face-from or --ir50"):
        build_model_and_processor(
            TrainOptions(data_dir="", corpus="", output_dir="o", face_from=str(tmp_path / "faces"), ir50="x.pth"), ["a"]
        )
