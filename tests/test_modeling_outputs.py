"""What transformers users read off a model, per variant: `hidden_states` (each stage's output), `attentions` (the
transformer-attention maps), and `attn_implementation="sdpa"` / `"eager"` giving the same numbers."""

import copy

import pytest
import torch

from test_modeling_avemo import TESTER, VARIANTS, _model, variant_id


def _features(inputs: dict) -> dict:
    return {key: value for key, value in inputs.items() if key != "labels"}


def _audio_map_of_each_clip(model, inputs) -> torch.Tensor:
    """The audio CNN run on each clip alone, on its real frames only (no padding), columns past them zero."""
    encoder = model.avemo.audio_encoder
    maps = []
    with torch.no_grad():
        padded_width = encoder(inputs["input_features"], torch.full((TESTER.batch_size,), TESTER.audio_frames))[0]
        for clip in range(TESTER.batch_size):
            length = int(inputs["audio_mask"][clip].sum())
            alone, columns = encoder(inputs["input_features"][clip : clip + 1, ..., :length], torch.tensor([length]))
            padded = torch.zeros_like(padded_width[:1])
            padded[..., : int(columns)] = alone[..., : int(columns)]
            maps.append(padded)
    return torch.cat(maps)


@pytest.mark.parametrize("variant", VARIANTS, ids=variant_id)
def test_hidden_states_are_what_each_stage_made(variant):
    model = _model(variant).eval()
    config = model.config
    inputs = _features(TESTER.prepare_inputs(config))
    with torch.no_grad():
        output = model(**inputs, output_hidden_states=True)
        assert model(**inputs).hidden_states is None  # only when asked
    expected_count = int(config.uses_visual) + int(config.uses_audio) + 1
    assert len(output.hidden_states) == expected_count
    stage = iter(output.hidden_states)
    if config.uses_visual:
        frames = next(stage)
        assert frames.shape == (TESTER.batch_size, TESTER.frames, config.face_embedding_size)
        mask = inputs["frame_mask"].bool()
        with torch.no_grad():
            for clip, frame in mask.nonzero().tolist():  # each face through the face CNN alone
                alone = model.avemo.face_encoder(inputs["pixel_values"][clip, frame][None])[0]
                torch.testing.assert_close(frames[clip, frame], alone, atol=1e-4, rtol=1e-4)
        assert torch.all(frames[~mask] == 0)
    if config.uses_audio:
        audio_map = next(stage)
        assert audio_map.dim() == 4 and audio_map.shape[:2] == (TESTER.batch_size, config.audio_embedding_size)
        assert audio_map.shape[2:] == output.audio_attentions.shape[1:]  # one weight per cell of this map
        torch.testing.assert_close(audio_map, _audio_map_of_each_clip(model, inputs), atol=1e-4, rtol=1e-4)
    fused = next(stage)
    assert fused.shape == (TESTER.batch_size, config.fused_size)
    with torch.no_grad():
        torch.testing.assert_close(model.classifier(fused), output.logits)  # the vector the classifier sees
        torch.testing.assert_close(fused, model.avemo(**inputs).fused_embeds)

    # From the config too, as transformers' models do; and in the tuple form after the logits.
    model.config.output_hidden_states = True
    with torch.no_grad():
        as_tuple = model(**inputs, return_dict=False)
    assert len(as_tuple[-1]) == expected_count and torch.equal(as_tuple[-1][-1], fused)


def _transformer_pooled(config) -> list[str]:
    modalities = []
    if config.uses_visual and config.visual_attention == "transformer":
        modalities.append("visual")
    if config.uses_audio and config.audio_attention == "transformer":
        modalities.append("audio")
    return modalities


@pytest.mark.parametrize("variant", VARIANTS, ids=variant_id)
def test_attentions_are_the_transformer_attention_maps(variant):
    model = _model(variant).eval()
    config = model.config
    inputs = _features(TESTER.prepare_inputs(config))
    with torch.no_grad():
        plain = model(**inputs)
        output = model(**inputs, output_attentions=True)
    assert plain.attentions is None
    torch.testing.assert_close(output.logits, plain.logits)  # asking changes nothing else
    modalities = _transformer_pooled(config)
    assert len(output.attentions) == len(modalities)
    for maps, modality in zip(output.attentions, modalities):
        if modality == "visual":
            real = inputs["frame_mask"].bool()
        else:
            real = output.audio_attentions.flatten(1) > 0  # the cells the pooling may weigh
        entries = real.shape[1]
        assert maps.shape == (TESTER.batch_size, config.transformer_attention_heads, entries, entries)
        for clip in range(TESTER.batch_size):
            if not real[clip].any():
                continue  # a clip without faces: its map is discarded, as its pooled vector is
            rows = maps[clip]
            torch.testing.assert_close(rows.sum(-1), torch.ones(rows.shape[:2]))  # each query's probabilities
            assert torch.all(rows[:, :, ~real[clip]] == 0)  # no query attends to padding


@pytest.mark.parametrize(
    "variant", [variant for variant in VARIANTS if _transformer_pooled(TESTER.get_config(**variant))], ids=variant_id
)
def test_sdpa_and_eager_attention_give_the_same_numbers(variant, monkeypatch):
    model = _model(variant).eval()
    assert model.config._attn_implementation == "sdpa"  # transformers' default where a model supports it
    eager = copy.deepcopy(model)
    eager.set_attn_implementation("eager")
    inputs = _features(TESTER.prepare_inputs(model.config))

    calls = []
    sdpa = torch.nn.functional.scaled_dot_product_attention
    monkeypatch.setattr(
        torch.nn.functional,
        "scaled_dot_product_attention",
        lambda *args, **kwargs: calls.append(1) or sdpa(*args, **kwargs),
    )
    with torch.no_grad():
        by_sdpa = model(**inputs)
        assert len(calls) == len(_transformer_pooled(model.config))  # SDPA really ran, once per pooling
        by_eager = eager(**inputs)
        assert len(calls) == len(_transformer_pooled(model.config))  # and eager did not call it
        with_maps = model(**inputs, output_attentions=True)  # the maps come from the eager form, whatever the setting
    torch.testing.assert_close(by_sdpa.logits, by_eager.logits, atol=1e-6, rtol=1e-5)
    for name in ("visual_attentions", "audio_attentions"):
        if getattr(by_sdpa, name) is not None:
            torch.testing.assert_close(getattr(by_sdpa, name), getattr(by_eager, name), atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(with_maps.logits, by_sdpa.logits, atol=1e-6, rtol=1e-5)


def test_attn_implementation_is_chosen_when_loading(tmp_path):
    from transformers import AutoModelForVideoClassification

    from modeling_avemo.attention_avemo import TransformerAttentionPooling

    model = _model(dict(modalities="audio_visual", visual_attention="transformer", audio_attention="transformer"))
    model.save_pretrained(tmp_path)
    for implementation in ("eager", "sdpa"):
        loaded = AutoModelForVideoClassification.from_pretrained(tmp_path, attn_implementation=implementation)
        poolings = [module for module in loaded.modules() if isinstance(module, TransformerAttentionPooling)]
        assert len(poolings) == 2
        assert {pooling.config._attn_implementation for pooling in poolings} == {implementation}
    with pytest.raises(ValueError, match="does not support Flash Attention 2"):
        AutoModelForVideoClassification.from_pretrained(tmp_path, attn_implementation="flash_attention_2")
