"""`avemo export --onnx`: the folder it writes (model.onnx, config.json, processor_config.json), onnxruntime's logits
against PyTorch's on real clips through the processor (one by one, in a batch, a clip shorter than the graph's
shortest audio), other batch and frame counts than the traced ones, and its errors."""

import contextlib
import io
import json
import re
import sys

import numpy as np
import pytest
import torch

from avemo.cli import main as avemo_main
from avemo.hub_card.onnx_export import OnnxExportError, export_onnx
from avemo.hub_card.onnx_runner import OnnxClassifier, OnnxFolderError
from avemo.processing import AVEmoProcessor, read_audio
from conftest import TINY, avemo_here
from media import decode_all, write_video
from modeling_avemo import AVEmoForVideoClassification
from modeling_avemo.export_avemo import MIN_DYNAMIC_AUDIO_FRAMES

TOLERANCE = 1e-4
ONNX_FILES = {"model.onnx", "config.json", "processor_config.json"}
VIDEOS = ("video/WolfgangLanger_Pexels.mp4", "video/single_face.mp4", "video/face_noface.mov", "images/single_face.jpg")
SPEECH = "audio/crema-d/1002_DFA_ANG_XX.mp3"


def _cli(*args) -> tuple[int, str]:
    """avemo's CLI in this process (the console script's code), for module fixtures where capsys is not at hand."""
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        code = avemo_main([str(arg) for arg in args])
    return code, stderr.getvalue()


def _exported(model_args, output) -> dict:
    code, stderr = _cli("export", "--onnx", *model_args, "--output", output)
    assert code == 0, stderr
    summary = stderr.strip().splitlines()[-1]
    assert summary.startswith(f"wrote {output} ") and "model.onnx" in summary, summary
    reported = float(re.search(r"within (\S+) of PyTorch's", summary).group(1))
    assert 0 <= reported <= TOLERANCE
    return {"folder": output, "stderr": stderr}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny audio-video model folder (avemo init, conftest.TINY) and its ONNX export. Its linear layers start wider
    than the default N(0, 0.02), which gives logits of about 0.02, where a difference of 1e-4 would say little; with
    0.5 they are of order 1 on the real clips."""
    root = tmp_path_factory.mktemp("onnx")
    (root / "tiny.json").write_text(json.dumps(TINY | {"initializer_range": 0.5}))
    code, stderr = _cli("init", "--output", root / "tiny", "--config", root / "tiny.json")
    assert code == 0, stderr
    return {"model": root / "tiny", **_exported(["--model", root / "tiny"], root / "tiny-onnx")}


@pytest.fixture(scope="module")
def faces(tmp_path_factory, shared_data):
    """The shipped FER2013 faces model (the default --model) and its ONNX export, checked on a real photo too."""
    from avemo.model_folders.pretrained import pretrained_path

    photo = shared_data / "images" / "single_face.jpg"
    export = _exported(["--example-video", photo], tmp_path_factory.mktemp("onnx") / "faces-onnx")
    assert f"reading {photo} with the model's processor" in export["stderr"]
    assert "(max over 4 inputs)" in export["stderr"]  # the traced inputs, two other shapes and the photo
    return {"model": pretrained_path(), **export}


@pytest.fixture(scope="module", params=["tiny", "faces"])
def exported(request, shared_data):
    """Each export with its PyTorch model, its onnxruntime runner, the folder's processor and the real clips as that
    processor reads them (each read once; `processor.batch` makes the inputs, as `processor(videos=...)` does)."""
    export = request.getfixturevalue(request.param)
    processor = AVEmoProcessor.from_pretrained(export["folder"])
    return {
        **export,
        "name": request.param,
        "pytorch": AVEmoForVideoClassification.from_pretrained(export["model"]).eval(),
        "onnx": OnnxClassifier(export["folder"]),
        "processor": processor,
        "clips": {clip: processor.process_video(shared_data / clip) for clip in VIDEOS},
    }


def _max_difference(exported, inputs) -> float:
    with torch.no_grad():
        expected = exported["pytorch"](**inputs).logits.numpy()
    got = exported["onnx"](**inputs)
    assert got.shape == expected.shape
    assert np.abs(expected).max() > 1000 * TOLERANCE  # logits large enough for the tolerance to mean something
    return float(np.abs(got - expected).max())


def test_the_folder_holds_the_graph_and_what_makes_its_inputs(exported):
    folder, pytorch = exported["folder"], exported["pytorch"]
    assert {path.name for path in folder.iterdir()} == ONNX_FILES
    config = json.loads((folder / "config.json").read_text())
    assert "auto_map" not in config and config["id2label"] == {str(k): v for k, v in pytorch.config.id2label.items()}
    # The processor saved beside the graph is the model's own.
    assert exported["processor"].to_dict() == AVEmoProcessor.from_pretrained(exported["model"]).to_dict()
    # Inputs named as the model's (only its modalities'), with dynamic batch, frames and time.
    shapes = {graph_input.name: graph_input.shape for graph_input in exported["onnx"].session.get_inputs()}
    if exported["name"] == "faces":
        assert shapes == {"pixel_values": ["batch", "frames", 1, 64, 64], "frame_mask": ["batch", "frames"]}
    else:
        assert shapes == {
            "pixel_values": ["batch", "frames", 3, 112, 112],
            "frame_mask": ["batch", "frames"],
            "input_features": ["batch", 3, 128, "time"],
            "audio_mask": ["batch", "time"],
        }
    outputs = exported["onnx"].output_names
    assert outputs[0] == "logits" and set(outputs[1:]) <= {"visual_attentions", "audio_attentions"}


@pytest.mark.parametrize("clip", VIDEOS)
def test_real_clips_match_pytorch(exported, clip):
    inputs = exported["processor"].batch([exported["clips"][clip]])
    assert _max_difference(exported, inputs) <= TOLERANCE


def test_an_audio_file_matches_pytorch(tiny, shared_data):
    """The audio-video model on speech alone (the processor's audio inputs, no faces)."""
    processor = AVEmoProcessor.from_pretrained(tiny["folder"])
    speech = read_audio(shared_data / SPEECH, processor.feature_extractor.sampling_rate)
    inputs = processor(audio=[speech], sampling_rate=processor.feature_extractor.sampling_rate)
    assert inputs["frame_mask"].sum() == 0 and inputs["audio_mask"].sum() > MIN_DYNAMIC_AUDIO_FRAMES
    model = AVEmoForVideoClassification.from_pretrained(tiny["model"]).eval()
    with torch.no_grad():
        expected = model(**inputs).logits.numpy()
    assert np.abs(OnnxClassifier(tiny["folder"])(**inputs) - expected).max() <= TOLERANCE


def test_a_batch_of_clips_of_different_lengths(exported):
    inputs = exported["processor"].batch([exported["clips"][clip] for clip in VIDEOS])
    assert len(set(inputs["frame_mask"].sum(dim=1).tolist())) > 1  # a padded batch: clips of other face counts
    if "audio_mask" in inputs:
        assert len(set(inputs["audio_mask"].sum(dim=1).tolist())) > 2  # and audio lengths, the still's none
    assert _max_difference(exported, inputs) <= TOLERANCE


def test_a_clip_shorter_than_the_graphs_shortest_audio_is_padded(tiny, shared_data, tmp_path):
    processor = AVEmoProcessor.from_pretrained(tiny["folder"])
    rate = processor.feature_extractor.sampling_rate
    frames, fps, _, _ = decode_all(shared_data / "video" / "single_face.mp4")
    speech = read_audio(shared_data / SPEECH, rate)
    clip = write_video(tmp_path / "short.mp4", frames[: int(fps / 2)], fps, speech[: rate // 2], rate)
    inputs = processor(videos=[str(clip)])
    assert 0 < inputs["audio_mask"].sum() < MIN_DYNAMIC_AUDIO_FRAMES  # under 0.95 s of audio
    assert inputs["input_features"].shape[-1] < MIN_DYNAMIC_AUDIO_FRAMES
    runner = OnnxClassifier(tiny["folder"])
    assert runner.graph_inputs(dict(inputs))["input_features"].shape[-1] == MIN_DYNAMIC_AUDIO_FRAMES
    model = AVEmoForVideoClassification.from_pretrained(tiny["model"]).eval()
    with torch.no_grad():
        expected = model(**inputs).logits.numpy()  # PyTorch on the unpadded inputs
    assert np.abs(runner(**inputs) - expected).max() <= TOLERANCE


@pytest.mark.parametrize("batch, frames, audio", [(1, 1, MIN_DYNAMIC_AUDIO_FRAMES), (5, 13, 411)])
def test_other_batch_and_frame_counts_than_the_traced_ones(tiny, batch, frames, audio):
    """The graph was traced on 2 clips of 8 frames and 300 audio frames; masks, not shapes, say what counts."""
    generator = torch.Generator().manual_seed(batch)
    inputs = {
        "pixel_values": torch.randn(batch, frames, 3, 112, 112, generator=generator),
        "frame_mask": torch.ones(batch, frames, dtype=torch.long),
        "input_features": torch.randn(batch, 3, 128, audio, generator=generator),
        "audio_mask": torch.ones(batch, audio, dtype=torch.long),
    }
    if batch > 1:
        inputs["frame_mask"][1, 4:] = 0
        inputs["frame_mask"][2] = 0
        inputs["audio_mask"][3, 150:] = 0
        inputs["audio_mask"][4] = 0
    model = AVEmoForVideoClassification.from_pretrained(tiny["model"]).eval()
    with torch.no_grad():
        expected = model(**inputs)
    got = OnnxClassifier(tiny["folder"]).run(**inputs)
    assert np.abs(got["logits"] - expected.logits.numpy()).max() <= TOLERANCE
    assert np.abs(got["visual_attentions"] - expected.visual_attentions.numpy()).max() <= TOLERANCE


# ------------------------------------------------------------------------------------------------ errors


def test_a_missing_model_folder_is_one_line(capsys, tmp_path):
    result = avemo_here(capsys, "export", "--onnx", "--model", tmp_path / "nowhere", "--output", tmp_path / "out")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and f"{tmp_path / 'nowhere'}: no such model folder" in result.stderr
    assert not (tmp_path / "out").exists()


def test_without_onnx_installed_the_error_names_the_extra(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxscript", None)  # `import onnxscript` now fails
    result = avemo_here(capsys, "export", "--onnx", "--output", tmp_path / "out")
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert 'needs onnxscript, which is not installed: pip install "avemo[onnx]"' in result.stderr
    assert not (tmp_path / "out").exists()


def test_an_output_folder_with_other_files_is_left_alone(capsys, tmp_path, faces):
    output = tmp_path / "out"
    output.mkdir()
    (output / "notes.txt").write_text("mine")
    for extra, problem in (
        ([], "already holds files; choose another folder or pass --overwrite"),
        (["--overwrite"], "--overwrite only replaces an earlier ONNX export"),
    ):
        result = avemo_here(capsys, "export", "--onnx", "--output", output, *extra)
        assert result.returncode == 1 and result.stderr.count("\n") == 1
        assert f"{output}" in result.stderr and problem in result.stderr
    assert "not part of an ONNX export: notes.txt" in result.stderr
    assert [path.name for path in output.iterdir()] == ["notes.txt"]
    # An earlier export is refused without --overwrite too.
    result = avemo_here(capsys, "export", "--onnx", "--output", faces["folder"])
    assert result.returncode == 1 and "already holds files; choose another folder or pass --overwrite" in result.stderr


def test_flags_of_the_other_export_are_refused(capsys, tmp_path, shared_data):
    result = avemo_here(capsys, "export", "--onnx", "--output", tmp_path / "out", "--metrics", "m.json")
    assert result.returncode == 2 and "--metrics is for hub folders" in result.stderr
    video = shared_data / VIDEOS[1]
    result = avemo_here(capsys, "export", "--output", tmp_path / "out", "--example-video", video)
    assert result.returncode == 2 and "--example-video is for --onnx" in result.stderr
    result = avemo_here(capsys, "export", "--onnx", "--output", tmp_path / "out", "--example-video", tmp_path / "a.mp4")
    assert result.returncode == 1 and f"{tmp_path / 'a.mp4'}: file not found" in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_failed_check_leaves_the_earlier_export_as_it_was(faces):
    """--overwrite replaces an earlier export only once the new one passes its check: here no difference is small
    enough (tolerance 0; onnxruntime's kernels round otherwise than PyTorch's)."""
    folder = faces["folder"]
    before = {path.name: path.stat().st_mtime_ns for path in folder.iterdir()}
    with pytest.raises(
        OnnxExportError, match=r"logits differ from PyTorch's by .* \(more than 0\).*nothing was written"
    ):
        export_onnx(None, folder, overwrite=True, tolerance=0.0)
    assert {path.name: path.stat().st_mtime_ns for path in folder.iterdir()} == before
    assert [path.name for path in folder.parent.iterdir()] == [folder.name]  # no staging folder left behind


def test_the_runner_names_what_is_wrong(faces, tmp_path):
    with pytest.raises(OnnxFolderError, match=f"{tmp_path}: no model.onnx here"):
        OnnxClassifier(tmp_path)
    runner = OnnxClassifier(faces["folder"])
    with pytest.raises(ValueError, match="needs pixel_values"):
        runner(frame_mask=np.ones((1, 2)))
    with pytest.raises(ValueError, match="got also labels"):
        runner(pixel_values=np.zeros((1, 2, 1, 64, 64)), labels=np.zeros(1))
