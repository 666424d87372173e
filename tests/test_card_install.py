"""Issue 19: a new user installs what the model card says and nothing else, then runs the card's code.

tests/card_venv.py builds that environment (the tested torch pair, then exactly the card's `pip install` line: no
avemo, no pytest); tests/card_user.py runs transformers' Auto classes and `pipeline("video-classification")` there,
with trust_remote_code, on real media: a clip with a large face, the same clip with a small face, a still image and
an audio file. What comes out must be what avemo's own processor and model give here for the same folders and files.

Building the environment takes about a minute (torch from this machine's disk, the rest mostly from pip's cache);
it is kept between local runs while its stamp holds, and a clean clone builds it from nothing.
"""

import json
import os
import subprocess

import numpy as np
import pytest
import torch

from card_install import install_arguments, template_install_arguments
from card_venv import CardVenvError, ensure
from conftest import REPO_ROOT, TINY
from media import decode_all, write_video

pytestmark = pytest.mark.slow

LARGE_FACE = "video/single_face.mp4"  # a 180 px face in 640x360, with sound
STILL = "images/single_face.jpg"
AUDIO = "audio/crema-d/1002_DFA_HAP_XX.mp3"
SHRINK = 4  # the small-face clip: a 45 px face, which HOG finds only when the frame is up-sampled


@pytest.fixture(scope="module")
def card_python():
    try:
        return ensure()
    except CardVenvError as error:
        pytest.fail(f"the card-install environment could not be built: {error}")


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """Exported model folders (avemo export's files, card included), tiny but with every branch: an audio-video
    model, and an audio-only one."""
    from avemo.hub_card import export_model
    from avemo.model_folders.create import init_model_folder
    from modeling_avemo import AVEmoConfig

    root = tmp_path_factory.mktemp("card_hub")
    for name, modalities in (("av", "audio_visual"), ("audio", "audio")):
        init_model_folder(root / "runs" / name, AVEmoConfig(**TINY, modalities=modalities))
        export_model(root / "runs" / name, root / name)
    return root


@pytest.fixture(scope="module")
def small_face_clip(tmp_path_factory, shared_data):
    """The large-face clip with its sound, each frame shrunk to a quarter in the corner of a grey frame of the same
    size."""
    from PIL import Image

    frames, fps, audio, rate = decode_all(shared_data / LARGE_FACE)
    height, width = frames[0].shape[:2]
    small = []
    for frame in frames:
        canvas = np.full_like(frame, 128)
        shrunk = np.asarray(Image.fromarray(frame).resize((width // SHRINK, height // SHRINK), Image.BILINEAR))
        canvas[-shrunk.shape[0] :, -shrunk.shape[1] :] = shrunk
        small.append(canvas)
    path = tmp_path_factory.mktemp("card_media") / "small_face.mp4"
    return write_video(path, small, fps=fps, audio=audio, sampling_rate=rate)


@pytest.fixture(scope="module")
def jobs(hub, small_face_clip, shared_data) -> list:
    """(model folder, inputs) as card_user.py takes them."""
    media = [str(shared_data / LARGE_FACE), str(small_face_clip), str(shared_data / STILL), str(shared_data / AUDIO)]
    return [[str(hub / "av"), media], [str(hub / "audio"), [str(shared_data / AUDIO)]]]


@pytest.fixture(scope="module")
def card_run(card_python, jobs, tmp_path_factory):
    """card_user.py's report and arrays, run offline in the card-install environment."""
    out = tmp_path_factory.mktemp("card_run")
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env.update(HF_HUB_OFFLINE="1", HF_MODULES_CACHE=str(out / "modules"))
    command = [str(card_python), str(REPO_ROOT / "tests" / "card_user.py"), str(out), json.dumps(jobs)]
    result = subprocess.run(command, cwd=out, env=env, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        pytest.fail(f"the card's code failed in the card-install environment:\n{result.stderr[-4000:]}")
    [line] = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    with np.load(out / "arrays.npz") as arrays:
        return json.loads(line.removeprefix("RESULT ")), dict(arrays)


def test_the_environment_is_the_cards_line_and_loads_remote_code(card_run, hub):
    for name in ("av", "audio"):
        assert install_arguments((hub / name / "README.md").read_text()) == template_install_arguments()
    report, _ = card_run
    for name in ("av", "audio"):
        processor, model, classify = report["loaded"][name]
        assert processor.startswith("transformers_modules.") and processor.endswith(".processing_avemo")
        assert model.startswith("transformers_modules.") and model.endswith(".modeling_avemo")
        assert classify.startswith("transformers_modules.") and classify.endswith(".pipeline_avemo")


def test_outputs_equal_avemos_own_processor_and_model(card_run, jobs):
    from avemo.processing import AVEmoProcessor
    from modeling_avemo import AVEmoForVideoClassification

    _, arrays = card_run
    compared = 0
    for model_dir, inputs in jobs:
        processor = AVEmoProcessor.from_pretrained(model_dir)
        model = AVEmoForVideoClassification.from_pretrained(model_dir).eval()
        for path in inputs:
            key = f"{os.path.basename(model_dir)}/{os.path.basename(path)}"
            batch = processor(videos=[path], return_tensors="pt")
            with torch.inference_mode():
                expected = {**{name: value.numpy() for name, value in batch.items()}, "logits": model(**batch).logits}
            remote = {name.removeprefix(key + "/"): value for name, value in arrays.items() if name.startswith(key)}
            assert remote.keys() == expected.keys(), key
            for name, value in expected.items():
                np.testing.assert_allclose(remote[name], np.asarray(value), rtol=0, atol=1e-5, err_msg=f"{key} {name}")
                compared += 1
    # 3 videos x (4 inputs + logits) and the audio file x (4 + 1) for the audio-video model; (2 + 1) for audio-only.
    assert compared == 4 * 5 + 3


def test_faces_large_small_and_still_audio_from_the_sound(card_run):
    report, arrays = card_run
    clips = report["clips"]
    large, small = clips["av/single_face.mp4"], clips["av/small_face.mp4"]
    assert large["detectors"] == ["hog"] * 8 and large["warnings"] == []
    # The small face is found in every sampled frame, by the up-sampled retry that only small faces need.
    assert small["detectors"] == ["hog+upsample"] * 8 and small["warnings"] == []
    for name in ("single_face.mp4", "small_face.mp4"):
        assert arrays[f"av/{name}/frame_mask"].tolist() == [[1] * 8]
        assert arrays[f"av/{name}/audio_mask"].sum() > 200  # 2.4 s of sound at 100 log-mel frames a second
    assert clips["av/single_face.jpg"] == {"detectors": ["hog"], "warnings": ["a still image: one frame, no audio"]}
    assert arrays["av/single_face.jpg/frame_mask"].tolist() == [[1]]
    assert not arrays["av/single_face.jpg/audio_mask"].any()
    audio = "audio/1002_DFA_HAP_XX.mp3"
    assert clips[audio] == {"detectors": [], "warnings": []} and f"{audio}/pixel_values" not in arrays
    assert arrays[f"{audio}/audio_mask"].sum() > 150  # about 2 s of speech
    # To the audio-video model the audio file is a clip without faces: the same audio, an empty frame mask.
    assert clips["av/1002_DFA_HAP_XX.mp3"]["warnings"] == ["no video stream: prediction from the audio only"]
    assert not arrays["av/1002_DFA_HAP_XX.mp3/frame_mask"].any()
    np.testing.assert_array_equal(arrays["av/1002_DFA_HAP_XX.mp3/input_features"], arrays[f"{audio}/input_features"])


def test_pipeline_scores_are_the_models_probabilities(card_run, hub):
    report, arrays = card_run
    assert len(report["pipeline"]) == 5
    for key, result in report["pipeline"].items():
        labels = json.loads((hub / key.split("/")[0] / "config.json").read_text())["id2label"]
        probabilities = torch.from_numpy(arrays[f"{key}/logits"]).softmax(-1)[0]
        expected = {labels[str(index)]: float(p) for index, p in enumerate(probabilities)}
        scores = [row["score"] for row in result]
        assert scores == sorted(scores, reverse=True) and sum(scores) == pytest.approx(1.0, abs=1e-5)
        assert {row["label"]: row["score"] for row in result} == pytest.approx(expected, abs=1e-6), key


def test_a_full_disk_is_named_before_pip_starts(tmp_path, monkeypatch):
    """The CI machine once ran out of disk half-way through pip; the build now says so first, with the numbers."""
    import card_venv

    monkeypatch.setattr(card_venv.shutil, "disk_usage", lambda path: shutil_usage(total=10**11, used=10**11 - 10**9))
    with pytest.raises(CardVenvError, match=r"needs about 6\.5 GB of disk .* has 1\.0 GB free"):
        card_venv.build(tmp_path / "venv")
    assert not (tmp_path / "venv").exists()  # nothing was started


def shutil_usage(total: int, used: int):
    import shutil

    return shutil._ntuple_diskusage(total, used, total - used)
