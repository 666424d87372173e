"""Face input recipes: crops measured on their pixels, recipes saved with models and processors, and the
normalisation each set of weights expects."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from avemo.processing import AVEmoProcessor, FaceAligner
from avemo.processing.face_alignment_avemo import warp_affine
from modeling_avemo import FACE_RECIPES, AVEmoConfig, AVEmoForVideoClassification, FaceRecipe, load_resnet18_weights

from conftest import REPO_ROOT, run_without_project

# ArcFace / face.evoLVe template eye centres at 112 px, written here from METHOD.md (not read from avemo).
ARCFACE_EYES = np.array([[38.2946, 51.6963], [73.5318, 51.5014]])


def ravdess_faces(shared_data):
    return [
        np.asarray(Image.open(shared_data / "faces" / "ravdess" / f"Actor_{a:02d}.png").convert("RGB"))
        for a in range(1, 25)
    ]


def eyes_found_on(crop: np.ndarray, upscale: int = 4) -> np.ndarray | None:
    """Eye centres (left, right in the image) that dlib finds on the crop's own pixels: the crop is enlarged
    (faces of a 112 px crop are below HOG's size), detected, landmarked, and the points mapped back."""
    import dlib

    from avemo.processing.face_alignment_avemo import model_file

    big = np.asarray(Image.fromarray(crop).resize((crop.shape[1] * upscale,) * 2, Image.BICUBIC))
    detections = dlib.get_frontal_face_detector()(big, 1)
    if not detections:
        return None
    box = max(detections, key=lambda rect: rect.area())
    shape = dlib.shape_predictor(str(model_file("shape_predictor_5_face_landmarks.dat")))(big, box)
    points = np.array([[p.x, p.y] for p in shape.parts()], dtype=float)
    points = (points + 0.5) / upscale - 0.5  # enlarged pixel index -> crop pixel index
    centres = np.stack([points[0:2].mean(0), points[2:4].mean(0)])
    return centres[np.argsort(centres[:, 0])]


@pytest.fixture(scope="module")
def ravdess(shared_data):
    return ravdess_faces(shared_data)


def test_arcface_crops_put_the_eyes_on_the_template(ravdess):
    """On the 24 RAVDESS actors, eyes re-detected on the 112 px crops lie within 2 px of the ArcFace template
    on average (issue 7), and within 4 px for every actor."""
    aligner = FaceAligner("arcface")
    found = []
    for actor, image in enumerate(ravdess, start=1):
        face = aligner.align(image)
        assert face is not None and face.crop.shape == (112, 112, 3), actor
        eyes = eyes_found_on(face.crop)
        assert eyes is not None, f"no face re-detected in the crop of actor {actor}"
        found.append(eyes)
    found = np.stack(found)
    mean = found.mean(axis=0)
    assert np.abs(mean - ARCFACE_EYES).max() < 2.0, mean
    assert np.linalg.norm(found - ARCFACE_EYES, axis=-1).max() < 4.0


def test_paper_chips_are_dlib_face_chips(shared_data):
    """The "zhou2019" and "fan" recipes are dlib.get_face_chip with padding margin / 2, computed here directly."""
    import dlib

    from avemo.processing.face_alignment_avemo import model_file

    image = np.asarray(Image.open(shared_data / "images" / "single_face.jpg").convert("RGB"))
    box = max(dlib.get_frontal_face_detector()(image, 0), key=lambda rect: rect.area())
    shape = dlib.shape_predictor(str(model_file("shape_predictor_5_face_landmarks.dat")))(image, box)
    for name, padding in (("zhou2019", 0.15), ("fan", 0.25)):
        expected = dlib.get_face_chip(image, shape, size=224, padding=padding)
        np.testing.assert_array_equal(FaceAligner(name).align(image).crop, expected, err_msg=name)


def test_fer_box_crop_shows_the_shifted_enlarged_detector_box(shared_data):
    """The "fer2013" crop is dlib's box grown by 20 % and moved up by 10 % of its height, resized: compared with
    PIL's box-filtered resize of that region computed here (different resampling, same region)."""
    import dlib

    image = np.asarray(Image.open(shared_data / "images" / "single_face.jpg").convert("RGB"))
    rect = max(dlib.get_frontal_face_detector()(image, 0), key=lambda r: r.area())
    side = rect.right() - rect.left() + 1
    centre_x, centre_y = (rect.left() + rect.right() + 1) / 2, (rect.top() + rect.bottom() + 1) / 2 - 0.1 * side
    half = 1.2 * side / 2
    region = (centre_x - half, centre_y - half, centre_x + half, centre_y + half)
    expected = np.asarray(Image.fromarray(image).resize((64, 64), Image.BOX, box=region), dtype=float)
    crop = FaceAligner("fer2013").align(image).crop.astype(float)
    assert np.abs(crop - expected).mean() < 4.0
    # The same region 10 % lower (no shift) is clearly another picture: the test can tell them apart.
    lower = (region[0], region[1] + 0.1 * side, region[2], region[3] + 0.1 * side)
    shifted = np.asarray(Image.fromarray(image).resize((64, 64), Image.BOX, box=lower), dtype=float)
    assert np.abs(crop - shifted).mean() > 3 * np.abs(crop - expected).mean()


def test_warp_affine_samples_as_cv2_does():
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (50, 60, 3), dtype=np.uint8)
    # A shift by whole pixels copies them; out of the frame is black.
    shifted = warp_affine(frame, np.array([[1.0, 0, -10], [0, 1.0, -20]]), 32)
    np.testing.assert_array_equal(shifted[:30], frame[20:50, 10:42])
    assert (shifted[30:] == 0).all()
    # Half a pixel to the right averages neighbours (bilinear): dst(x) = (src(x - 0.5) + src(x + 0.5)) / 2.
    half = warp_affine(frame, np.array([[1.0, 0, 0.5], [0, 1.0, 0]]), 20)
    expected = np.rint((frame[:20, :19].astype(float) + frame[:20, 1:20]) / 2)
    np.testing.assert_array_equal(half[:, 1:20], expected)
    # Shrinking 4x averages a 1-px checkerboard to grey instead of aliasing it to black or white.
    checker = (np.indices((400, 400)).sum(0) % 2 * 255).astype(np.uint8)[..., None].repeat(3, -1)
    small = warp_affine(checker, np.array([[0.25, 0, 0], [0, 0.25, 0]]), 100)
    assert np.abs(small[5:-5, 5:-5].astype(float) - 127.5).max() < 2


def test_default_recipes_follow_the_backbone():
    assert AVEmoConfig().face_recipe["name"] == "arcface"
    assert AVEmoConfig(face_size=224).face_recipe["name"] == "zhou2019"
    assert AVEmoConfig(face_backbone="resnet18").face_recipe == FACE_RECIPES["fan"].to_dict()
    config = AVEmoConfig(face_backbone="mini_xception", modalities="visual")
    assert (config.face_size, config.face_channels, config.face_recipe["name"]) == (64, 1, "fer2013")
    # A template recipe at another size scales its points.
    assert AVEmoConfig(face_size=224, face_recipe="arcface").face_recipe["eye_centres"][0] == pytest.approx(
        [76.5892, 103.3926]
    )
    with pytest.raises(ValueError, match="face_recipe='fer2013' makes 64px crops but face_size=112"):
        AVEmoConfig(face_recipe=FACE_RECIPES["fer2013"].to_dict())
    with pytest.raises(ValueError, match="unknown face recipe 'vgg'"):
        AVEmoConfig(face_recipe="vgg")


def test_recipe_is_saved_with_model_and_processor_and_used_when_loaded(tmp_path):
    recipe = FaceRecipe(name="mine", geometry="chip", size=112, margin=0.4, mean=(0.4, 0.4, 0.4), std=(0.2, 0.2, 0.2))
    config = AVEmoConfig(
        modalities="visual",
        face_stage_depths=[1, 1, 1, 1],
        face_stage_widths=[4, 4, 8, 8],
        face_embedding_size=8,
        face_recipe=recipe.to_dict(),
    )
    AVEmoForVideoClassification(config).save_pretrained(tmp_path)
    AVEmoProcessor(face_recipe=config.face_recipe, modalities="visual").save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())["face_recipe"]
    assert FaceRecipe.from_dict(saved) == recipe
    loaded = AVEmoProcessor.from_pretrained(tmp_path)
    assert loaded.recipe == recipe and loaded.aligner.recipe == recipe
    # Normalisation follows the recipe: (x / 255 - 0.4) / 0.2.
    crop = np.full((112, 112, 3), 51, dtype=np.uint8)
    pixels = loaded.face_tensors([[crop]])["pixel_values"]
    assert pixels.shape == (1, 1, 3, 112, 112) and torch.allclose(
        pixels, torch.full_like(pixels, (51 / 255 - 0.4) / 0.2)
    )


def test_grayscale_recipe_gives_one_luma_channel():
    processor = AVEmoProcessor(face_recipe="fer2013", modalities="visual")
    crop = np.zeros((64, 64, 3), dtype=np.uint8)
    crop[..., 0], crop[..., 1], crop[..., 2] = 200, 100, 50
    pixels = processor.face_tensors([[crop]])["pixel_values"]
    luma = round(0.299 * 200 + 0.587 * 100 + 0.114 * 50)  # ITU-R 601, as PIL's convert("L")
    assert luma == np.asarray(Image.fromarray(crop).convert("L"))[0, 0]
    assert pixels.shape == (1, 1, 1, 64, 64)
    assert torch.allclose(pixels, torch.full_like(pixels, (luma / 255 - 0.5) * 2))


def test_resnet18_normalisation_follows_the_weights_loaded():
    from test_backbone_import import random_state_dict, torchvision_resnet18_shapes

    imagenet = random_state_dict(torchvision_resnet18_shapes(), seed=1)
    model = AVEmoForVideoClassification(AVEmoConfig(face_backbone="resnet18", modalities="visual"))
    assert model.config.face_recipe["name"] == "fan" and model.config.face_recipe["std"] == [1.0, 1.0, 1.0]
    load_resnet18_weights(model, imagenet)  # fc has ImageNet's 1000 classes: torchvision weights
    assert model.config.face_recipe["mean"] == [0.485, 0.456, 0.406] and model.config.face_recipe["std"] == [
        0.229,
        0.224,
        0.225,
    ]
    fan = {key: value for key, value in imagenet.items() if not key.startswith("fc.")}
    fan["fc.weight"], fan["fc.bias"] = torch.zeros(8, 512), torch.zeros(8)  # FAN's FER+ head
    load_resnet18_weights(model, fan)
    assert model.config.face_recipe["name"] == "fan" and model.config.face_recipe["mean"] == [0.0, 0.0, 0.0]


def test_recipe_copies_are_identical():
    """Remote code forces a copy beside the processor code; it must not drift from the model's. The copy's first
    line is its `# Copied from` marker (tests/test_marked_copies.py checks every marked copy)."""
    source = (REPO_ROOT / "modeling_avemo" / "face_recipes_avemo.py").read_text()
    marker, copy = (REPO_ROOT / "processing" / "face_recipes_avemo.py").read_text().split("\n", 1)
    assert marker == "# Copied from modeling_avemo.face_recipes_avemo"
    assert copy == source


def test_processor_with_a_recipe_loads_as_remote_code(tmp_path):
    AVEmoProcessor(face_recipe="fer2013", modalities="visual").save_pretrained(tmp_path)
    assert (tmp_path / "face_recipes_avemo.py").is_file()
    code = (
        "from transformers import AutoProcessor\n"
        f"p = AutoProcessor.from_pretrained({str(tmp_path)!r}, trust_remote_code=True)\n"
        "import numpy as np\n"
        "print(p.recipe.name, tuple(p.face_tensors([[np.zeros((64, 64, 3), np.uint8)]])['pixel_values'].shape))\n"
    )
    result = run_without_project(code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("fer2013 (1, 1, 1, 64, 64)")


def test_avemo_0_1_processor_settings_still_load(tmp_path):
    """Folders saved before recipes existed hold face_size / face_margin / face_mean / face_std."""
    AVEmoProcessor().save_pretrained(tmp_path)
    path = Path(tmp_path, "processor_config.json")
    data = json.loads(path.read_text())
    data.pop("face_recipe")
    data.update(face_size=112, face_margin=0.3, face_mean=[0.5] * 3, face_std=[0.5] * 3)
    path.write_text(json.dumps(data))
    recipe = AVEmoProcessor.from_pretrained(tmp_path).recipe
    assert (recipe.geometry, recipe.size, recipe.margin, recipe.mean) == ("chip", 112, 0.3, (0.5, 0.5, 0.5))
