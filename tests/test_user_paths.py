"""User-facing options that no other test runs: NumPy outputs, tuple outputs, and the checkpoint containers the
backbone importers accept (.safetensors files, weights nested under `state_dict` / `model`, wrapper prefixes)."""

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from avemo.model_folders.configs import default_processor
from avemo.processing import AVEmoFeatureExtractor
from modeling_avemo import AVEmoConfig, AVEmoForVideoClassification, AVEmoModel, load_alexnet_weights, load_ir50_weights

from conftest import TINY
from test_backbone_import import random_state_dict, reference_keys


def _waveforms():
    rng = np.random.default_rng(0)
    return [(0.1 * rng.standard_normal(n)).astype(np.float32) for n in (16000, 7000)]


def test_extractor_return_tensors_np_equals_pt():
    extractor = AVEmoFeatureExtractor()
    as_np = extractor(_waveforms(), sampling_rate=16000, return_tensors="np")
    as_pt = extractor(_waveforms(), sampling_rate=16000, return_tensors="pt")
    assert set(as_np) == set(as_pt) == {"input_features", "audio_mask"}
    for key in as_np:
        assert isinstance(as_np[key], np.ndarray) and isinstance(as_pt[key], torch.Tensor)
        np.testing.assert_array_equal(as_np[key], as_pt[key].numpy())
    assert as_np["audio_mask"].sum(-1).tolist() == [101, 44]


def test_processor_return_tensors_np_equals_pt(shared_data):
    processor = default_processor(AVEmoConfig())
    frames = [[np.asarray(Image.open(shared_data / "images" / "single_face.jpg").convert("RGB"))]]
    audio = _waveforms()[:1]
    as_np = processor(frames=frames, audio=audio, sampling_rate=16000, return_tensors="np")
    as_pt = processor(frames=frames, audio=audio, sampling_rate=16000, return_tensors="pt")
    assert set(as_np) == set(as_pt) == {"pixel_values", "frame_mask", "input_features", "audio_mask"}
    for key in as_np:
        assert isinstance(as_np[key], np.ndarray) and isinstance(as_pt[key], torch.Tensor), key
        np.testing.assert_array_equal(as_np[key], as_pt[key].numpy())
    assert as_np["frame_mask"].tolist() == [[1]]
    # The NumPy arrays feed the model once wrapped as tensors.
    model = AVEmoForVideoClassification(AVEmoConfig(**TINY)).eval()
    with torch.no_grad():
        logits = model(**{key: torch.from_numpy(value) for key, value in as_np.items()}).logits
        assert torch.equal(logits, model(**as_pt).logits)


def test_return_dict_false_gives_the_output_fields_as_a_tuple():
    torch.manual_seed(0)
    model = AVEmoForVideoClassification(AVEmoConfig(**TINY)).eval()
    inputs = {
        "pixel_values": torch.randn(2, 3, 3, 112, 112),
        "frame_mask": torch.tensor([[1, 1, 0], [1, 0, 0]]),
        "input_features": torch.randn(2, 3, 128, 80),
        "audio_mask": torch.ones(2, 80, dtype=torch.long),
    }
    with torch.no_grad():
        as_dict = model(**inputs, labels=torch.tensor([0, 3]))
        as_tuple = model(**inputs, labels=torch.tensor([0, 3]), return_dict=False)
        base_dict = model.avemo(**inputs)
        base_tuple = model.avemo(**inputs, return_dict=False)
    assert isinstance(as_tuple, tuple) and len(as_tuple) == 4
    for value, expected in zip(
        as_tuple, (as_dict.loss, as_dict.logits, as_dict.visual_attentions, as_dict.audio_attentions)
    ):
        assert torch.equal(value, expected)
    fields = (
        "fused_embeds",
        "visual_embeds",
        "audio_embeds",
        "visual_attentions",
        "audio_attentions",
        "visual_present",
        "audio_present",
    )
    assert isinstance(base_tuple, tuple) and len(base_tuple) == len(fields)
    for value, name in zip(base_tuple, fields):
        assert torch.equal(value, getattr(base_dict, name)), name
    # Without labels the loss is left out of the tuple: logits come first.
    with torch.no_grad():
        assert torch.equal(model(**inputs, return_dict=False)[0], as_dict.logits)


# --------------------------------------------------------------------------------------- checkpoint containers


def _assert_loaded(module, state):
    loaded = module.state_dict()
    assert set(loaded) == set(state)
    for key, value in state.items():
        assert torch.equal(loaded[key], value), key


@pytest.mark.parametrize("container", ["safetensors", "state_dict+module.", "model+_orig_mod.", "model_state_dict"])
def test_alexnet_importer_reads_safetensors_and_nested_checkpoints(container, tmp_path):
    state = random_state_dict(reference_keys()["alexnet_features"], seed=11)
    if container == "safetensors":
        path = tmp_path / "alexnet.safetensors"
        save_file(state, str(path))
    else:
        key, _, prefix = container.partition("+")
        path = tmp_path / "alexnet.pth"
        # Training scripts save more than the weights next to them (epoch, optimizer state).
        torch.save({key: {prefix + name: value for name, value in state.items()}, "epoch": 7}, path)
    model = AVEmoModel(AVEmoConfig(modalities="audio"))
    load_alexnet_weights(model, path)
    _assert_loaded(model.audio_encoder, state)


def test_ir50_importer_reads_safetensors_with_published_names(tmp_path):
    # A small IR50 (stages of 3, 4, 1, 1 units) whose keys are all face.evoLVe IR_50 keys; smaller shapes.
    config = AVEmoConfig(
        modalities="visual", face_stage_depths=[3, 4, 1, 1], face_stage_widths=[4, 8, 16, 16], face_embedding_size=16
    )
    model = AVEmoForVideoClassification(config)
    shapes = {key: list(value.shape) for key, value in model.avemo.face_encoder.state_dict().items()}
    assert set(shapes) <= set(reference_keys()["ir50_112"])
    state = random_state_dict(shapes, seed=12)
    path = tmp_path / "backbone_ir50.safetensors"
    save_file(state, str(path))
    load_ir50_weights(model, path)
    _assert_loaded(model.avemo.face_encoder, state)
    # Nested and prefixed as DataParallel training scripts save it.
    torch.save({"state_dict": {"module." + key: value * 2 for key, value in state.items()}}, tmp_path / "nested.pth")
    load_ir50_weights(model, tmp_path / "nested.pth")
    _assert_loaded(model.avemo.face_encoder, {key: value * 2 for key, value in state.items()})
