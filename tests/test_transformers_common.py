"""transformers' own common tests, as its sdist ships them, run against avemo: ModelTesterMixin over AVEmoModel and
AVEmoForVideoClassification, ConfigTester over AVEmoConfig, the sequence feature extractor mixins over
AVEmoFeatureExtractor and ProcessorTesterMixin over AVEmoProcessor.

tests/run.sh puts the sdist's tests/ folder of the installed transformers version in the test venv and names it in
AVEMO_TRANSFORMERS_TESTS. The sdist lacks a few modules those tests import; tests/transformers_stand_ins/ holds small
stand-ins for them (each says what it replaces). A test that does not apply to a video classifier is skipped here with
its reason; an override checks what the shipped test checks, in the form avemo's structure takes.
"""

import dataclasses
import importlib
import importlib.machinery
import importlib.util
import os
import sys
import unittest
from pathlib import Path
from unittest.mock import patch

import numpy as np
import pytest
import torch
from parameterized import parameterized
from transformers import PreTrainedConfig
from transformers.models.auto.modeling_auto import MODEL_FOR_VIDEO_CLASSIFICATION_MAPPING_NAMES, MODEL_MAPPING_NAMES

from avemo.processing import AVEmoFeatureExtractor, AVEmoProcessor, read_audio, read_frames
from modeling_avemo import AVEmoConfig, AVEmoForVideoClassification, AVEmoModel

from conftest import SHARED_DATA

STAND_INS = Path(__file__).resolve().parent / "transformers_stand_ins"


def _import_transformers_tests():
    """transformers' tests/ folder as the package `transformers_tests`, its missing sub-modules taken from the
    stand-ins (the folder comes first, so a later sdist that ships them wins)."""
    folder = os.environ.get("AVEMO_TRANSFORMERS_TESTS")
    if folder is None:
        pytest.skip(
            "AVEMO_TRANSFORMERS_TESTS is unset: run through tests/run.sh, which fetches transformers' sdist tests",
            allow_module_level=True,
        )
    if not (Path(folder) / "test_modeling_common.py").is_file():
        raise FileNotFoundError(
            f"AVEMO_TRANSFORMERS_TESTS={folder} holds no test_modeling_common.py: it must name the tests/ folder of "
            "the transformers sdist (tests/run.sh extracts it into the test venv)"
        )
    if "transformers_tests" not in sys.modules:
        spec = importlib.machinery.ModuleSpec("transformers_tests", None, is_package=True)
        spec.submodule_search_locations = [folder, str(STAND_INS / "tests")]
        sys.modules["transformers_tests"] = importlib.util.module_from_spec(spec)
        # test_processing_common imports fetch_hub_objects_for_ci from the repository's utils/ folder.
        sys.path.append(str(STAND_INS / "utils"))
    return {
        name: importlib.import_module(f"transformers_tests.{name}")
        for name in (
            "test_configuration_common",
            "test_modeling_common",
            "test_processing_common",
            "test_sequence_feature_extraction_common",
        )
    }


_common = _import_transformers_tests()
ConfigTester = _common["test_configuration_common"].ConfigTester
ModelTesterMixin = _common["test_modeling_common"].ModelTesterMixin
floats_tensor = _common["test_modeling_common"].floats_tensor
ids_tensor = _common["test_modeling_common"].ids_tensor
ProcessorTesterMixin = _common["test_processing_common"].ProcessorTesterMixin
SequenceFeatureExtractionTestMixin = _common[
    "test_sequence_feature_extraction_common"
].SequenceFeatureExtractionTestMixin


class AVEmoModelTester:
    """A tiny audio-visual AVEmo with every branch (IR50 faces, AlexNet audio, transformer-attention pooling on both,
    FBP fusion) and random inputs, with the attributes transformers' common tests read."""

    def __init__(
        self,
        parent,
        batch_size=2,
        frames=3,
        audio_frames=100,
        num_mel_bins=64,
        face_embedding_size=16,
        audio_channels=(4, 8, 8, 8, 8),
        transformer_attention_size=8,
        num_attention_heads=2,
        num_labels=3,
        is_training=True,
    ):
        self.parent = parent
        self.batch_size = batch_size
        self.frames = frames
        self.audio_frames = audio_frames
        self.num_mel_bins = num_mel_bins
        self.face_embedding_size = face_embedding_size
        self.audio_channels = list(audio_channels)
        self.transformer_attention_size = transformer_attention_size
        self.num_labels = num_labels
        self.is_training = is_training
        self.face_size = 112  # IR50's smallest crop
        # hidden_states and attentions start with the faces: one vector, and one query, per frame.
        self.seq_length = frames
        self.hidden_size = face_embedding_size
        self.num_attention_heads = num_attention_heads
        # One transformer-attention pooling per modality, faces first.
        self.num_hidden_layers = 2
        # Face embeddings, the AlexNet feature map, the fused vector.
        self.expected_num_hidden_layers = 3
        # AlexNet's map (stride-4 convolution, three 3/2 max-pools): 64 mel bands give one row, 100 frames two columns.
        self.audio_map_size = (1, 2)

    def get_config(self):
        return AVEmoConfig(
            face_stage_depths=[1, 1, 1, 1],
            face_stage_widths=[4, 4, 8, 8],
            face_embedding_size=self.face_embedding_size,
            face_size=self.face_size,
            audio_channels=self.audio_channels,
            num_mel_bins=self.num_mel_bins,
            transformer_attention_size=self.transformer_attention_size,
            transformer_attention_heads=self.num_attention_heads,
            audio_attention_hidden_size=8,
            fbp_k=2,
            fbp_o=6,
            # At the library's N(0, 0.02) the pooling weights start near uniform and the outputs barely depend on the
            # attention layers (the eager/SDPA comparison also sets LayerNorm eps to 1): it could not tell them apart.
            # At 1.0, bfloat16 rounding alone sometimes exceeds that comparison's tolerance.
            initializer_range=0.3,
            id2label={index: f"emotion {index}" for index in range(self.num_labels)},
        )

    def prepare_config_and_inputs(self):
        pixel_values = floats_tensor([self.batch_size, self.frames, 3, self.face_size, self.face_size])
        input_features = floats_tensor([self.batch_size, 3, self.num_mel_bins, self.audio_frames])
        # The last clip has one padded frame and padded audio (every mask is ones, then zeros).
        frame_mask = torch.ones(self.batch_size, self.frames, dtype=torch.long)
        frame_mask[-1, -1] = 0
        audio_mask = torch.ones(self.batch_size, self.audio_frames, dtype=torch.long)
        audio_mask[-1, 80:] = 0
        labels = ids_tensor([self.batch_size], self.num_labels)
        return self.get_config(), pixel_values, frame_mask, input_features, audio_mask, labels

    def prepare_config_and_inputs_for_common(self):
        config, pixel_values, frame_mask, input_features, audio_mask, _ = self.prepare_config_and_inputs()
        inputs = {
            "pixel_values": pixel_values,
            "frame_mask": frame_mask,
            "input_features": input_features,
            "audio_mask": audio_mask,
        }
        return config, inputs

    def create_and_check_model(self, config, pixel_values, frame_mask, input_features, audio_mask):
        model = AVEmoModel(config).eval()
        with torch.no_grad():
            outputs = model(
                pixel_values, frame_mask, input_features, audio_mask, output_hidden_states=True, output_attentions=True
            )
        batch, heads, cells = self.batch_size, self.num_attention_heads, self.audio_map_size[0] * self.audio_map_size[1]
        self.parent.assertEqual(outputs.fused_embeds.shape, (batch, config.fused_size))
        self.parent.assertEqual(outputs.visual_embeds.shape, (batch, config.visual_output_size))
        self.parent.assertEqual(outputs.audio_embeds.shape, (batch, config.audio_output_size))
        self.parent.assertEqual(outputs.visual_attentions.shape, (batch, self.frames))
        self.parent.assertEqual(outputs.audio_attentions.shape, (batch, *self.audio_map_size))
        # The common tests check the first hidden state and attention map only: faces, audio map, fused vector.
        self.parent.assertEqual(
            [tuple(hidden.shape) for hidden in outputs.hidden_states],
            [
                (batch, self.frames, config.face_embedding_size),
                (batch, config.audio_channels[-1], *self.audio_map_size),
                (batch, config.fused_size),
            ],
        )
        self.parent.assertEqual(
            [tuple(attention.shape) for attention in outputs.attentions],
            [(batch, heads, self.frames, self.frames), (batch, heads, cells, cells)],
        )

    def create_and_check_for_video_classification(
        self, config, pixel_values, frame_mask, input_features, audio_mask, labels
    ):
        model = AVEmoForVideoClassification(config).eval()
        with torch.no_grad():
            outputs = model(pixel_values, frame_mask, input_features, audio_mask, labels=labels)
        self.parent.assertEqual(outputs.logits.shape, (self.batch_size, self.num_labels))
        self.parent.assertEqual(outputs.loss.shape, ())


class AVEmoModelTest(ModelTesterMixin, unittest.TestCase):
    all_model_classes = (AVEmoModel, AVEmoForVideoClassification)
    # No token embeddings to resize.
    test_resize_embeddings = False
    # transformers runs this check only for models whose configuration file has a copyright year from 2023 on.
    test_can_init_all_missing_weights_before_2023 = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # modeling_avemo registers AVEmo with transformers' Auto classes at import, which fills the runtime mappings;
        # the common tests read the static *_MAPPING_NAMES tables of built-in models instead (to tell a base model
        # from a head, to give a video classifier labels): avemo is listed there for the duration of this class.
        for table, name in (
            (MODEL_MAPPING_NAMES, "AVEmoModel"),
            (MODEL_FOR_VIDEO_CLASSIFICATION_MAPPING_NAMES, "AVEmoForVideoClassification"),
        ):
            listed = patch.dict(table, {AVEmoConfig.model_type: name})
            listed.start()
            cls.addClassCleanup(listed.stop)

    def setUp(self):
        self.model_tester = AVEmoModelTester(self)
        self.config_tester = ConfigTester(
            self,
            config_class=AVEmoConfig,
            has_text_modality=False,
            common_properties=["face_embedding_size", "transformer_attention_heads", "fused_size"],
            face_stage_depths=[1, 1, 1, 1],
            face_stage_widths=[4, 4, 8, 8],
            face_embedding_size=16,
            audio_channels=[4, 8, 8, 8, 8],
            num_mel_bins=64,
            fusion="concat",
        )

    def test_config(self):
        self.config_tester.run_common_tests()

    def test_model(self):
        config, pixel_values, frame_mask, input_features, audio_mask, _ = self.model_tester.prepare_config_and_inputs()
        self.model_tester.create_and_check_model(config, pixel_values, frame_mask, input_features, audio_mask)

    def test_for_video_classification(self):
        self.model_tester.create_and_check_for_video_classification(*self.model_tester.prepare_config_and_inputs())

    # Common tests of things AVEmo does not have. Those below would otherwise pass without checking anything, or
    # report a skip only inside a subtest.

    @unittest.skip(reason="AVEmo has no input or output embeddings: face crops and log-mel images go to CNNs")
    def test_model_get_set_embeddings(self):
        pass

    @unittest.skip(reason="AVEmo keeps no cache (it does not generate)")
    def test_bc_cache_name_forward(self):
        pass

    @unittest.skip(reason="AVEmo sets no _keys_to_ignore_on_save")
    def test_save_load_keys_to_ignore_on_save(self):
        pass

    @unittest.skip(reason="AVEmo ties no weights (it has no word embeddings)")
    def test_tied_weights_keys(self):
        pass

    @unittest.skip(reason="AVEmo ties no weights (it has no word embeddings)")
    def test_tied_weights_are_sharded_together(self):
        pass

    @unittest.skip(reason="AVEmo has no chunked feed-forward layer: config.chunk_size_feed_forward is not read")
    def test_feed_forward_chunking(self):
        pass

    @unittest.skip(reason="AVEmo keeps no module in float32 (no _keep_in_fp32_modules)")
    def test_keep_in_fp32_modules(self):
        pass

    @unittest.skip(reason="AVEmo keeps no module in float32 (no _keep_in_fp32_modules)")
    def test_keep_in_fp32_modules_exist(self):
        pass

    @unittest.skip(reason="AVEmo keeps no module in float32 (no _keep_in_fp32_modules_strict)")
    def test_keep_in_fp32_modules_strict_also_hardcode_fp32(self):
        pass

    @unittest.skip(reason="AVEmo has no checkpoint conversion mapping: its weights load under their own names")
    def test_reverse_loading_mapping(self):
        pass

    @unittest.skip(reason="AVEmo has no checkpoint conversion mapping: its weights load under their own names")
    def test_can_load_from_already_mapped_keys(self):
        pass

    @unittest.skip(reason="AVEmo returns hidden_states and attentions itself, not through transformers' output capture")
    def test_capture_outputs_decorator(self):
        pass

    @unittest.skip(reason="AVEmo returns hidden_states and attentions itself, not through transformers' output capture")
    def test_format_of_can_record_outputs(self):
        pass

    @unittest.skip(reason="AVEmo returns hidden_states and attentions itself, not through transformers' output capture")
    def test_can_capture_specific_layers_hidden_states(self):
        pass

    @unittest.skip(reason="checks generative models only; test_base_model_prefix_loads_base_weights checks AVEmo's")
    def test_model_base_model_prefix(self):
        pass

    @unittest.skip(
        reason="checks generative vision-language models only (their image_outputs); AVEmo does not generate"
    )
    def test_multimodal_outputs_are_returned(self):
        pass

    @unittest.skip(reason="checks sequence classifiers only; test_can_load_ignoring_mismatched_shapes checks AVEmo's")
    def test_load_with_mismatched_shapes(self):
        pass

    @unittest.skip(reason="checks sequence and image classifiers only; AVEmo's problem types: test_modeling_avemo.py")
    def test_problem_types(self):
        pass

    # AVEmo's per-modality vectors are AVEmoModelOutput.visual_embeds and audio_embeds, not get_*_features methods.

    @parameterized.expand([True, False, None])
    @unittest.skip(reason="AVEmo has no get_text_features (it takes no text)")
    def test_get_text_features_output(self, return_dict):
        pass

    @unittest.skip(reason="AVEmo has no get_text_features (it takes no text)")
    def test_get_text_features_hidden_states(self):
        pass

    @unittest.skip(reason="AVEmo has no get_text_features (it takes no text)")
    def test_get_text_features_attentions(self):
        pass

    @parameterized.expand([True, False, None])
    @unittest.skip(reason="AVEmo has no get_image_features (its face vectors are AVEmoModelOutput.visual_embeds)")
    def test_get_image_features_output(self, return_dict):
        pass

    @unittest.skip(reason="AVEmo has no get_image_features (its face vectors are AVEmoModelOutput.visual_embeds)")
    def test_get_image_features_pooler_output(self):
        pass

    @unittest.skip(reason="AVEmo has no get_image_features (its face vectors are AVEmoModelOutput.visual_embeds)")
    def test_get_image_features_hidden_states(self):
        pass

    @unittest.skip(reason="AVEmo has no get_image_features (its face vectors are AVEmoModelOutput.visual_embeds)")
    def test_get_image_features_attentions(self):
        pass

    @parameterized.expand([True, False, None])
    @unittest.skip(reason="AVEmo has no get_audio_features (its audio vector is AVEmoModelOutput.audio_embeds)")
    def test_get_audio_features_output(self, return_dict):
        pass

    @unittest.skip(reason="AVEmo has no get_audio_features (its audio vector is AVEmoModelOutput.audio_embeds)")
    def test_get_audio_features_hidden_states(self):
        pass

    @unittest.skip(reason="AVEmo has no get_audio_features (its audio vector is AVEmoModelOutput.audio_embeds)")
    def test_get_audio_features_attentions(self):
        pass

    @parameterized.expand([True, False, None])
    @unittest.skip(reason="AVEmo has no get_video_features (its face vectors are AVEmoModelOutput.visual_embeds)")
    def test_get_video_features_output(self, return_dict):
        pass

    @unittest.skip(reason="AVEmo has no get_video_features (its face vectors are AVEmoModelOutput.visual_embeds)")
    def test_get_video_features_pooler_output(self):
        pass

    @unittest.skip(reason="AVEmo has no get_video_features (its face vectors are AVEmoModelOutput.visual_embeds)")
    def test_get_video_features_hidden_states(self):
        pass

    @unittest.skip(reason="AVEmo has no get_video_features (its face vectors are AVEmoModelOutput.visual_embeds)")
    def test_get_video_features_attentions(self):
        pass


def test_config_common_kwargs_stand_in_covers_every_common_argument():
    """ConfigTester's check_config_arguments_init reads config_common_kwargs, which the sdist lacks: its stand-in must
    name every common PreTrainedConfig argument, each at a value other than its default, for the check to check."""
    config_common_kwargs = importlib.import_module(
        "transformers_tests.utils.test_configuration_utils"
    ).config_common_kwargs
    # Set by transformers itself, or not a model's choice to make.
    unset = {"transformers_version", "is_encoder_decoder"}
    arguments = {field.name for field in dataclasses.fields(PreTrainedConfig)} - unset | {"output_attentions"}
    assert set(config_common_kwargs) == arguments
    defaults = PreTrainedConfig()
    assert [name for name, value in config_common_kwargs.items() if getattr(defaults, name) == value] == []


class AVEmoFeatureExtractionTester:
    """Sequences of `feature_size` vectors of growing lengths, which SequenceFeatureExtractionTestMixin's BatchFeature
    tests take (its pad tests are skipped: avemo's pad takes (3, mel, time) features)."""

    def __init__(self, parent, batch_size=4, min_seq_length=40, max_seq_length=200, num_mel_bins=64):
        self.parent = parent
        self.batch_size = batch_size
        self.min_seq_length = min_seq_length
        self.max_seq_length = max_seq_length
        self.seq_length_diff = (max_seq_length - min_seq_length) // (batch_size - 1)
        self.feature_size = num_mel_bins  # the extractor's feature_size is its mel band count
        self.num_mel_bins = num_mel_bins

    def prepare_feat_extract_dict(self):
        return {
            "num_mel_bins": self.num_mel_bins,
            "sampling_rate": 8000,
            "n_fft": 512,
            "win_length": 320,
            "hop_length": 80,
            "f_max": 4000.0,
            "normalize": "none",
            "padding_value": 0.0,
        }

    def prepare_inputs_for_common(self, equal_length=False, numpify=False):
        rng = np.random.default_rng(0)
        lengths = (
            [self.max_seq_length] * self.batch_size
            if equal_length
            else range(self.min_seq_length, self.max_seq_length, self.seq_length_diff)
        )
        inputs = [rng.random((length, self.feature_size), dtype=np.float32) for length in lengths]
        return inputs if numpify else [x.tolist() for x in inputs]


class AVEmoFeatureExtractionTest(SequenceFeatureExtractionTestMixin, unittest.TestCase):
    feature_extraction_class = AVEmoFeatureExtractor

    def setUp(self):
        self.feat_extract_tester = AVEmoFeatureExtractionTester(self)

    # The mixin's pad tests give pad (time, feature_size) sequences; avemo's features are (3, mel, time) and its pad
    # pads them along time (tests/test_processing.py::test_pad_batches_clip_by_clip_features_as_a_batched_call_does).
    PAD_LAYOUT = "pad takes avemo's (3, mel, time) features, not the (time, feature_size) sequences this test makes"

    @unittest.skip(reason=PAD_LAYOUT)
    def test_padding_from_list(self):
        pass

    @unittest.skip(reason=PAD_LAYOUT)
    def test_padding_from_array(self):
        pass

    @unittest.skip(reason=PAD_LAYOUT)
    def test_truncation_from_list(self):
        pass

    @unittest.skip(reason=PAD_LAYOUT)
    def test_truncation_from_array(self):
        pass

    @unittest.skip(reason=PAD_LAYOUT)
    def test_padding_accepts_tensors_pt(self):
        pass

    @unittest.skip(reason=PAD_LAYOUT)
    def test_attention_mask(self):
        pass

    @unittest.skip(reason=PAD_LAYOUT)
    def test_attention_mask_with_truncation(self):
        pass

    def test_call_batched_equals_one_by_one(self):
        # avemo's own padding (in __call__, with audio_mask): a clip's features do not depend on its batch.
        extractor = self.feature_extraction_class(**self.feat_extract_dict)
        rng = np.random.default_rng(1)
        waveforms = [rng.normal(size=length).astype(np.float32) * 0.1 for length in (8000, 5000, 12000)]
        batch = extractor(waveforms, sampling_rate=8000, return_tensors="np")
        for index, waveform in enumerate(waveforms):
            alone = extractor(waveform, sampling_rate=8000, return_tensors="np")
            frames = int(alone["audio_mask"].sum())
            self.assertEqual(int(batch["audio_mask"][index].sum()), frames)
            np.testing.assert_allclose(
                batch["input_features"][index, ..., :frames], alone["input_features"][0, ..., :frames], atol=1e-4
            )


class AVEmoProcessorTest(ProcessorTesterMixin, unittest.TestCase):
    processor_class = AVEmoProcessor
    videos_input_name = "pixel_values"

    @classmethod
    def _setup_feature_extractor(cls):
        return AVEmoFeatureExtractor(num_mel_bins=64)

    @staticmethod
    def prepare_processor_dict():
        return {"num_frames": 4, "detection_max_side": 320, "modalities": "audio_visual"}

    def clip_inputs(self):
        """A video file with a face and sound, and the same clip decoded: three frames and its waveform."""
        video = SHARED_DATA / "video" / "single_face.mp4"
        frames = read_frames(video, 3)[0]
        waveform = read_audio(video, 16000)
        return video, frames, waveform

    # AVEmoProcessor takes a video file (videos=) or decoded frames with their waveform (frames=, audio= and the
    # required sampling_rate=), where the shipped tests pass decoded frames as videos= together with audio= and no
    # rate: the overrides below make the same checks with the inputs it takes.

    def test_model_input_names(self):
        video, frames, waveform = self.clip_inputs()
        for modalities in ("audio_visual", "visual", "audio"):
            processor = self.processor_class(self.get_component("feature_extractor"), modalities=modalities)
            for inputs in (
                processor(videos=video),
                processor(frames=[frames], audio=[waveform], sampling_rate=16000, do_sample_frames=False),
            ):
                self.assertSetEqual(set(inputs.keys()), set(processor.model_input_names))

    def test_flat_kwarg_applied_when_modality_dict_lacks_it(self):
        # return_tensors="np" (not the default "pt"), so that a dropped flat kwarg shows.
        _, frames, waveform = self.clip_inputs()
        processor = self.get_processor()
        inputs = processor(
            frames=[frames],
            audio=[waveform],
            sampling_rate=16000,
            videos_kwargs={"do_sample_frames": False},
            audio_kwargs={},
            text_kwargs={},
            return_tensors="np",
        )
        self.assertSetEqual(set(inputs.keys()), set(processor.model_input_names))
        for key, value in inputs.items():
            self.assertIsInstance(value, np.ndarray, msg=key)

    def test_subprocessor_defaults_3_audio(self):
        # The shipped test calls the processor without sampling_rate, which AVEmoProcessor refuses for waveforms (a
        # wrong rate gives silently wrong features); the test catches that error and then compares nothing.
        waveforms = self.prepare_audio_inputs(batch_size=2)
        processor = self.get_processor()
        feature_extractor = self.get_component("feature_extractor")
        expected = feature_extractor(waveforms, sampling_rate=16000, return_tensors="pt")
        inputs = processor(audio=waveforms, sampling_rate=16000, return_tensors="pt")
        for key in expected:
            torch.testing.assert_close(inputs[key], expected[key])

    def test_save_load_pretrained_additional_features(self):
        # The shipped test checks the kwargs of tokenizers, image and video processors only: here a processor setting
        # and a feature extractor setting given to from_pretrained.
        processor = self.processor_class.from_pretrained(self.tmpdirname, num_frames=3, hop_length=320)
        self.assertEqual(processor.num_frames, 3)
        self.assertEqual(processor.feature_extractor.hop_length, 320)

    def test_init_arguments_not_in_processor_kwargs(self):
        # num_frames is a saved setting (an __init__ argument) that a call may change, the case the shipped test's
        # docstring grants image and video processors; no other __init__ argument may be a call kwarg.
        init_arguments = self._get_explicit_arguments(self.processor_class.__init__)
        self.assertSetEqual(init_arguments & self._get_valid_processor_kwargs_names(), {"num_frames"})

    def test_init_arguments_not_in_class_attributes(self):
        # face_size is an __init__ argument and a read-only property reading the saved recipe, not a second default:
        # an __init__ argument may only meet such a property on the class.
        init_arguments = self._get_explicit_arguments(self.processor_class.__init__)
        for name in init_arguments:
            if hasattr(self.processor_class, name):
                attribute = getattr(self.processor_class, name)
                self.assertTrue(isinstance(attribute, property) and attribute.fset is None, msg=name)
