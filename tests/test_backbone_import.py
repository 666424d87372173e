"""Backbone weight import: published key names and shapes, and a forward pass that matches an independent
functional implementation of face.evoLVe IR_50 / torchvision AlexNet / ResNet-18 run on the same state_dict."""

import json

import pytest
import torch
import torch.nn.functional as F

from modeling_avemo import (
    AVEmoConfig,
    AVEmoForVideoClassification,
    AVEmoModel,
    load_alexnet_weights,
    load_ir50_weights,
    load_resnet18_weights,
    load_vggface_weights,
)
from modeling_avemo.backbone_import import BackboneWeightsError

from conftest import SHARED_DATA


def reference_keys():
    return json.loads((SHARED_DATA.parent / "docs" / "reference_keys.json").read_text())


def random_state_dict(shapes: dict, seed: int = 0) -> dict:
    """A checkpoint with the published names and shapes and random values (BN statistics kept plausible)."""
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in shapes.items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(1000)
        elif key.endswith("running_var"):
            state[key] = torch.rand(shape, generator=generator) + 0.5
        elif key.endswith("running_mean"):
            state[key] = torch.randn(shape, generator=generator) * 0.1
        elif len(shape) == 1:  # BN affine, PReLU slopes, biases
            state[key] = (
                torch.rand(shape, generator=generator) * 0.5 + 0.75
                if key.endswith("weight")
                else torch.randn(shape, generator=generator) * 0.1
            )
        else:
            fan_in = torch.tensor(shape[1:]).prod().item()
            state[key] = torch.randn(shape, generator=generator) * (1.0 / fan_in) ** 0.5
    return state


# --- independent functional references (written from face.evoLVe model_irse.py and torchvision alexnet) ----------


def _bn(x, state, prefix):
    return F.batch_norm(
        x,
        state[prefix + "running_mean"],
        state[prefix + "running_var"],
        state[prefix + "weight"],
        state[prefix + "bias"],
        False,
        0.0,
        1e-5,
    )


def reference_ir50(x, state, depths=(3, 4, 14, 3)):
    x = F.conv2d(x, state["input_layer.0.weight"], padding=1)
    x = F.prelu(_bn(x, state, "input_layer.1."), state["input_layer.2.weight"])
    unit = 0
    for depth in depths:
        for index in range(depth):
            stride = 2 if index == 0 else 1
            p = f"body.{unit}."
            if p + "shortcut_layer.0.weight" in state:
                shortcut = _bn(
                    F.conv2d(x, state[p + "shortcut_layer.0.weight"], stride=stride), state, p + "shortcut_layer.1."
                )
            else:
                shortcut = x[:, :, ::stride, ::stride]  # MaxPool2d(1, stride)
            r = _bn(x, state, p + "res_layer.0.")
            r = F.prelu(F.conv2d(r, state[p + "res_layer.1.weight"], padding=1), state[p + "res_layer.2.weight"])
            r = _bn(F.conv2d(r, state[p + "res_layer.3.weight"], stride=stride, padding=1), state, p + "res_layer.4.")
            x = r + shortcut
            unit += 1
    x = _bn(x, state, "output_layer.0.").flatten(1)
    x = F.linear(x, state["output_layer.3.weight"], state["output_layer.3.bias"])
    return _bn(x, state, "output_layer.4.")


def reference_alexnet_features(x, state):
    conv = lambda x, i, **kw: F.relu(F.conv2d(x, state[f"features.{i}.weight"], state[f"features.{i}.bias"], **kw))
    x = F.max_pool2d(conv(x, 0, stride=4, padding=2), 3, 2)
    x = F.max_pool2d(conv(x, 3, padding=2), 3, 2)
    x = conv(conv(conv(x, 6, padding=1), 8, padding=1), 10, padding=1)
    return F.max_pool2d(x, 3, 2)


def reference_resnet18(x, state):
    x = F.relu(_bn(F.conv2d(x, state["conv1.weight"], stride=2, padding=3), state, "bn1."))
    x = F.max_pool2d(x, 3, 2, 1)
    for layer in range(1, 5):
        for block in range(2):
            p = f"layer{layer}.{block}."
            stride = 2 if layer > 1 and block == 0 else 1
            identity = x
            if p + "downsample.0.weight" in state:
                identity = _bn(F.conv2d(x, state[p + "downsample.0.weight"], stride=stride), state, p + "downsample.1.")
            out = F.relu(_bn(F.conv2d(x, state[p + "conv1.weight"], stride=stride, padding=1), state, p + "bn1."))
            out = _bn(F.conv2d(out, state[p + "conv2.weight"], padding=1), state, p + "bn2.")
            x = F.relu(out + identity)
    return x.mean((2, 3))


def torchvision_resnet18_shapes():
    """torchvision resnet18 state_dict names and shapes (fc included, as in the published file)."""
    shapes = {"conv1.weight": [64, 3, 7, 7]}
    bn = lambda p, c: {
        p + "weight": [c],
        p + "bias": [c],
        p + "running_mean": [c],
        p + "running_var": [c],
        p + "num_batches_tracked": [],
    }
    shapes.update(bn("bn1.", 64))
    in_c = 64
    for layer, width in enumerate((64, 128, 256, 512), start=1):
        for block in range(2):
            p = f"layer{layer}.{block}."
            shapes[p + "conv1.weight"] = [width, in_c if block == 0 else width, 3, 3]
            shapes.update(bn(p + "bn1.", width))
            shapes[p + "conv2.weight"] = [width, width, 3, 3]
            shapes.update(bn(p + "bn2.", width))
            if block == 0 and layer > 1:
                shapes[p + "downsample.0.weight"] = [width, in_c, 1, 1]
                shapes.update(bn(p + "downsample.1.", width))
        in_c = width
    shapes.update({"fc.weight": [1000, 512], "fc.bias": [1000]})
    return shapes


# --- tests ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("face_size", [112, 224])
def test_ir50_names_and_shapes_are_face_evolve(face_size):
    model = AVEmoModel(AVEmoConfig(face_size=face_size))
    ours = {key: list(value.shape) for key, value in model.face_encoder.state_dict().items()}
    assert ours == reference_keys()[f"ir50_{face_size}"]


def test_alexnet_names_and_shapes_are_torchvision():
    model = AVEmoModel(AVEmoConfig(modalities="audio"))
    ours = {key: list(value.shape) for key, value in model.audio_encoder.state_dict().items()}
    assert ours == reference_keys()["alexnet_features"]


@pytest.mark.parametrize("face_size", [112, 224])
def test_ir50_checkpoint_file_reproduces_reference_forward(face_size, tmp_path):
    state = random_state_dict(reference_keys()[f"ir50_{face_size}"], seed=face_size)
    path = tmp_path / "backbone_ir50.pth"
    torch.save(state, path)
    model = AVEmoForVideoClassification(AVEmoConfig(face_size=face_size, modalities="visual")).eval()
    load_ir50_weights(model, path)
    faces = torch.randn(2, 3, face_size, face_size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours = model.avemo.face_encoder(faces)
        expected = reference_ir50(faces, state)
    torch.testing.assert_close(ours, expected, atol=1e-4, rtol=1e-4)
    # The whole model uses the imported backbone: one face, one frame.
    with torch.no_grad():
        pooled = model.avemo(pixel_values=faces[:1, None]).visual_embeds
        expected_one = reference_ir50(faces[:1], state)
    torch.testing.assert_close(pooled, expected_one, atol=1e-4, rtol=1e-4)


def test_alexnet_checkpoint_with_classifier_reproduces_reference_forward(tmp_path):
    shapes = dict(reference_keys()["alexnet_features"])
    # The published torchvision file also carries the ImageNet classifier, which is dropped.
    shapes.update(
        {
            "classifier.1.weight": [4096, 9216],
            "classifier.1.bias": [4096],
            "classifier.6.weight": [1000, 4096],
            "classifier.6.bias": [1000],
        }
    )
    state = random_state_dict(shapes, seed=3)
    path = tmp_path / "alexnet-owt.pth"
    torch.save(state, path)
    model = AVEmoModel(AVEmoConfig(modalities="audio")).eval()
    load_alexnet_weights(model, path)
    spectrogram = torch.randn(2, 3, 128, 300)
    lengths = torch.tensor([300, 300])
    with torch.no_grad():
        ours, _ = model.audio_encoder(spectrogram, lengths)
    torch.testing.assert_close(ours, reference_alexnet_features(spectrogram, state), atol=1e-4, rtol=1e-4)


def test_resnet18_checkpoint_reproduces_reference_forward():
    state = random_state_dict(torchvision_resnet18_shapes(), seed=5)
    model = AVEmoModel(AVEmoConfig(face_backbone="resnet18", modalities="visual")).eval()
    load_resnet18_weights(model, {"module." + key: value for key, value in state.items()})  # DataParallel prefix
    faces = torch.randn(2, 3, 112, 112)
    with torch.no_grad():
        torch.testing.assert_close(model.face_encoder(faces), reference_resnet18(faces, state), atol=1e-4, rtol=1e-4)


def test_ir50_112_checkpoint_into_224_model_lists_the_misshaped_key():
    state = random_state_dict(reference_keys()["ir50_112"])
    model = AVEmoModel(AVEmoConfig(face_size=224))
    with pytest.raises(
        BackboneWeightsError,
        match=r"1 mis-shaped: output_layer\.3\.weight: checkpoint \(512, 25088\) vs model \(512, 100352\)",
    ) as error:
        load_ir50_weights(model, state)
    assert "face_size=224" in str(error.value)


def test_missing_and_unexpected_keys_are_listed():
    state = random_state_dict(reference_keys()["ir50_112"])
    del state["body.5.res_layer.1.weight"]
    state["body.24.res_layer.1.weight"] = torch.zeros(1)
    model = AVEmoModel(AVEmoConfig())
    before = model.face_encoder.input_layer[0].weight.clone()
    with pytest.raises(BackboneWeightsError) as error:
        load_ir50_weights(model, state)
    message = str(error.value)
    assert "1 missing: body.5.res_layer.1.weight" in message
    assert "1 unexpected: body.24.res_layer.1.weight" in message
    # Nothing was loaded half-way.
    assert torch.equal(model.face_encoder.input_layer[0].weight, before)


def test_unreadable_and_unsafe_checkpoints_are_refused(tmp_path):
    model = AVEmoModel(AVEmoConfig(modalities="audio"))
    with pytest.raises(FileNotFoundError, match="nowhere.pth"):
        load_alexnet_weights(model, tmp_path / "nowhere.pth")
    corrupt = tmp_path / "corrupt.pth"
    corrupt.write_bytes(b"not a checkpoint at all")
    with pytest.raises(BackboneWeightsError, match="corrupt.pth: cannot read"):
        load_alexnet_weights(model, corrupt)
    # weights_only=True refuses arbitrary pickled objects.
    unsafe = tmp_path / "unsafe.pth"
    torch.save({"features.0.weight": torch.zeros(1), "hook": BackboneWeightsError("x")}, unsafe)
    with pytest.raises(BackboneWeightsError, match="unsafe.pth: cannot read"):
        load_alexnet_weights(model, unsafe)


def test_wrong_backbone_is_refused():
    with pytest.raises(BackboneWeightsError, match="no ir50 face backbone"):
        load_ir50_weights(AVEmoModel(AVEmoConfig(modalities="audio")), {})
    with pytest.raises(BackboneWeightsError, match="no audio backbone"):
        load_alexnet_weights(AVEmoModel(AVEmoConfig(modalities="visual")), {})


# --- VGG-Face (vgg_face_dag.pth, the PyTorch port of Parkhi et al. 2015) ---------------------------------------------

VGG_STAGES = ((1, 2, 64), (2, 2, 128), (3, 3, 256), (4, 3, 512), (5, 3, 512))  # (stage, convolutions, width)


def vggface_shapes(widths=(64, 128, 256, 512, 512), hidden=4096, identities=2622):
    """vgg_face_dag.pth's names and shapes (written from the published layout), fc8 included."""
    shapes, channels = {}, 3
    for (stage, depth, _), width in zip(VGG_STAGES, widths):
        for unit in range(1, depth + 1):
            shapes[f"conv{stage}_{unit}.weight"] = [width, channels, 3, 3]
            shapes[f"conv{stage}_{unit}.bias"] = [width]
            channels = width
    shapes.update(
        {
            "fc6.weight": [hidden, channels * 7 * 7],
            "fc6.bias": [hidden],
            "fc7.weight": [hidden, hidden],
            "fc7.bias": [hidden],
            "fc8.weight": [identities, hidden],
            "fc8.bias": [identities],
        }
    )
    return shapes


def reference_vggface(x, state):
    """relu(fc7) of VGG-Face, written out with torch.nn.functional."""
    for stage, depth, _ in VGG_STAGES:
        for unit in range(1, depth + 1):
            x = F.relu(F.conv2d(x, state[f"conv{stage}_{unit}.weight"], state[f"conv{stage}_{unit}.bias"], padding=1))
        x = F.max_pool2d(x, 2, 2)
    x = F.relu(F.linear(x.flatten(1), state["fc6.weight"], state["fc6.bias"]))
    return F.relu(F.linear(x, state["fc7.weight"], state["fc7.bias"]))


def test_vggface_names_and_shapes_are_the_published_ones():
    model = AVEmoModel(AVEmoConfig(face_backbone="vggface", modalities="visual"))
    ours = {key: list(value.shape) for key, value in model.face_encoder.state_dict().items()}
    published = vggface_shapes()
    assert ours == {key: shape for key, shape in published.items() if not key.startswith("fc8.")}
    assert model.config.face_size == 224 and model.config.face_recipe["name"] == "vggface"
    # The VGG-Face mean (on 0-255) is what the recipe subtracts: (x / 255 - mean) / std = x - (129.19, 104.76, 93.59).
    recipe = model.config.face_recipe
    pixel = torch.tensor([200.0, 100.0, 50.0])
    normalised = (pixel / 255 - torch.tensor(recipe["mean"])) / torch.tensor(recipe["std"])
    torch.testing.assert_close(normalised, pixel - torch.tensor([129.186, 104.762, 93.594]))


def test_vggface_checkpoint_reproduces_reference_forward(tmp_path):
    """Same names, smaller widths (the full model holds 145 M weights): the loaded encoder equals the functional
    VGG-16, fc8 is dropped, and a .pth with the published nesting loads."""
    widths, hidden = (4, 8, 8, 16, 16), 32
    state = random_state_dict(vggface_shapes(widths, hidden, identities=10), seed=9)
    config = AVEmoConfig(
        face_backbone="vggface", modalities="visual", face_stage_widths=list(widths[:4]), face_embedding_size=hidden
    )
    model = AVEmoForVideoClassification(config).eval()
    torch.save({"state_dict": state}, tmp_path / "vgg_face_dag.pth")
    load_vggface_weights(model, tmp_path / "vgg_face_dag.pth")
    faces = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(
            model.avemo.face_encoder(faces), reference_vggface(faces, state), atol=1e-4, rtol=1e-4
        )
    del state["conv3_2.weight"]
    with pytest.raises(BackboneWeightsError, match="1 missing: conv3_2.weight"):
        load_vggface_weights(model, state)
