"""Processing on real media: decoding, face alignment, audio features, the processor and its remote code."""

import numpy as np
import pytest
import torch
from PIL import Image

from avemo.processing import (
    AVEmoFeatureExtractor,
    AVEmoProcessor,
    FaceAligner,
    NotAVideoError,
    NothingToPredictError,
    UnreadableMediaError,
    read_audio,
    read_frames,
)
from modeling_avemo import AVEmoConfig, AVEmoForVideoClassification

from conftest import run_without_project
from media import FORMATS, decode_all, write_video

CREMA_EMOTIONS = ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD")


@pytest.fixture(scope="module")
def video_dir(shared_data):
    return shared_data / "video"


@pytest.fixture(scope="module")
def single_face_media(video_dir):
    return decode_all(video_dir / "single_face.mp4")


@pytest.fixture(scope="module")
def processor():
    return AVEmoProcessor()


def tiny_model(**overrides):
    torch.manual_seed(0)
    config = AVEmoConfig(
        face_stage_depths=[1, 1, 1, 1],
        face_stage_widths=[4, 4, 8, 8],
        face_embedding_size=16,
        audio_channels=[4, 8, 8, 8, 8],
        transformer_attention_size=8,
        audio_attention_hidden_size=8,
        fbp_k=2,
        fbp_o=6,
        **overrides,
    )
    return AVEmoForVideoClassification(config).eval()


# ----------------------------------------------------------------------------------------------- decoding


@pytest.mark.parametrize("suffix", sorted(FORMATS))
def test_every_container_decodes_frames_and_audio(suffix, single_face_media, tmp_path, processor):
    frames, fps, audio, rate = single_face_media
    path = write_video(tmp_path / f"clip{suffix}", frames, fps, audio, rate)
    sampled, times, info = read_frames(path, 8)
    assert len(sampled) == 8 and sampled[0].shape == (360, 640, 3) and sampled[0].dtype == np.uint8
    assert times == sorted(times) and 0 < times[0] < times[-1] < info["duration"]
    waveform = read_audio(path, 16000)
    assert waveform.dtype == np.float32 and abs(len(waveform) / 16000 - 2.4) < 0.15
    clip = processor.process_video(path)
    assert clip.frames_used == 8 and clip.has_audio


def test_frames_are_spread_over_the_clip_and_never_repeated(video_dir):
    frames, times, info = read_frames(video_dir / "WolfgangLanger_Pexels.mp4", 8)
    assert len(frames) == 8
    segment = info["duration"] / 8
    for index, time in enumerate(times):
        assert abs(time - (index + 0.5) * segment) < 0.1
    # A clip with fewer frames than samples gives each frame once.
    few, few_times, _ = read_frames(video_dir / "single_face.mp4", 200)
    assert len(few) == len(set(few_times)) == 72


def test_audio_is_resampled_to_the_model_rate(video_dir):
    at_16k = read_audio(video_dir / "single_face.mp4", 16000)
    at_8k = read_audio(video_dir / "single_face.mp4", 8000)
    assert abs(len(at_16k) - 2 * len(at_8k)) <= 2
    assert abs(len(at_16k) / 16000 - 2.42) < 0.05


# ----------------------------------------------------------------------------------------------- faces


def test_faces_in_single_face_and_pexels_clips(video_dir, processor):
    for name in ("single_face.mp4", "WolfgangLanger_Pexels.mp4"):
        clip = processor.process_video(video_dir / name)
        assert clip.frames_used == clip.frames_sampled == 8, name
        for face in clip.faces:
            assert face.crop.shape == (112, 112, 3) and face.crop.dtype == np.uint8
            left, top, right, bottom = face.box
            assert 0 <= left < right and 0 <= top < bottom and right - left > 60


def test_no_face_clip_has_an_empty_frame_mask(video_dir, processor):
    clip = processor.process_video(video_dir / "no_face.mp4")
    assert clip.frames_used == 0 and clip.frames_sampled == 8 and clip.has_audio
    assert any("no face found" in warning for warning in clip.warnings)
    inputs = processor.batch([clip])
    assert inputs["frame_mask"].sum() == 0 and inputs["audio_mask"].sum() > 0


def test_face_leaving_the_frame_gives_a_partial_mask(video_dir, processor):
    clip = processor.process_video(video_dir / "face_noface.mov")
    assert 0 < clip.frames_used < clip.frames_sampled
    used = [face.frame_index for face in clip.faces]
    assert used == sorted(used)
    inputs = processor.batch([clip])
    assert inputs["frame_mask"][0].tolist() == [1] * clip.frames_used


def test_largest_face_is_kept(shared_data):
    """The kept face is the one that overlaps the largest of dlib's detections, and no other."""
    import dlib

    image = np.asarray(Image.open(shared_data / "images" / "multi_face.jpg").convert("RGB"))
    face = FaceAligner().align(image)
    detections = sorted(dlib.get_frontal_face_detector()(image, 1), key=lambda rect: -rect.area())
    assert len(detections) == 4  # three of them within 2 % of each other in area: only overlap tells them apart

    def overlap(rect):  # intersection over union with the kept box
        left, top, right, bottom = face.box
        width = min(right, rect.right()) - max(left, rect.left())
        height = min(bottom, rect.bottom()) - max(top, rect.top())
        inter = max(width, 0) * max(height, 0)
        return inter / ((right - left) * (bottom - top) + rect.width() * rect.height() - inter)

    overlaps = [overlap(rect) for rect in detections]
    assert overlaps[0] > 0.6 and max(overlaps[1:]) < 0.1, overlaps


# ----------------------------------------------------------------------------------------------- audio features


def librosa_reference(waveform, extractor):
    """The same definition computed with librosa (the test's independent implementation)."""
    import librosa

    power = librosa.feature.melspectrogram(
        y=waveform,
        sr=extractor.sampling_rate,
        n_fft=extractor.n_fft,
        hop_length=extractor.hop_length,
        win_length=extractor.win_length,
        window="hamming",
        center=True,
        pad_mode="reflect",
        power=2.0,
        n_mels=extractor.num_mel_bins,
        fmin=extractor.f_min,
        fmax=extractor.f_max,
        htk=False,
        norm="slaney",
    )
    static = 10 * np.log10(np.maximum(power, 1e-10))
    delta = librosa.feature.delta(static, width=extractor.delta_window, mode="nearest")
    delta2 = librosa.feature.delta(delta, width=extractor.delta_window, mode="nearest")
    return np.stack([static, delta, delta2])


def test_features_match_librosa(shared_data):
    """Stated tolerance: 2e-3 dB on the log-mel (values span ~100 dB), 1e-3 on the deltas."""
    extractor = AVEmoFeatureExtractor(normalize="none")
    waveform = read_audio(shared_data / "audio" / "crema-d" / "1002_DFA_HAP_XX.mp3", 16000)
    ours = extractor(waveform, sampling_rate=16000, return_tensors="np")["input_features"][0]
    reference = librosa_reference(waveform, extractor)
    assert ours.shape == reference.shape
    np.testing.assert_allclose(ours[0], reference[0], atol=2e-3, rtol=0)
    np.testing.assert_allclose(ours[1:], reference[1:], atol=1e-3, rtol=0)
    # Per-clip normalisation: zero mean, unit variance per plane, exactly the librosa planes standardised.
    normalized = AVEmoFeatureExtractor()(waveform, sampling_rate=16000, return_tensors="np")["input_features"][0]
    standardized = (reference - reference.mean((1, 2), keepdims=True)) / reference.std((1, 2), keepdims=True)
    np.testing.assert_allclose(normalized, standardized, atol=1e-3, rtol=0)


@pytest.mark.parametrize("emotion", CREMA_EMOTIONS)
def test_crema_d_mp3s_give_features_of_the_expected_shape(emotion, shared_data):
    path = next((shared_data / "audio" / "crema-d").glob(f"1002_DFA_{emotion}_*.mp3"))
    waveform = read_audio(path, 16000)
    assert 1.5 < len(waveform) / 16000 < 4.0
    out = AVEmoFeatureExtractor()(waveform, sampling_rate=16000, return_tensors="pt")
    frames = 1 + len(waveform) // 160
    assert out["input_features"].shape == (1, 3, 128, frames)
    assert out["audio_mask"].shape == (1, frames) and out["audio_mask"].all()
    assert torch.isfinite(out["input_features"]).all()


def test_batching_and_padding_do_not_change_a_clip(shared_data):
    extractor = AVEmoFeatureExtractor()
    long = read_audio(shared_data / "audio" / "crema-d" / "1002_DFA_ANG_XX.mp3", 16000)
    short = long[:12345]
    batch = extractor([long, short, np.zeros(0, dtype=np.float32)], sampling_rate=16000, return_tensors="pt")
    alone = extractor(short, sampling_rate=16000, return_tensors="pt")
    frames = alone["input_features"].shape[-1]
    assert batch["audio_mask"].sum(-1).tolist() == [1 + len(long) // 160, frames, 0]
    # Equal up to float summation order in the per-clip normalisation.
    torch.testing.assert_close(batch["input_features"][1, :, :, :frames], alone["input_features"][0], atol=1e-5, rtol=0)
    assert torch.all(batch["input_features"][1, :, :, frames:] == 0)
    assert torch.all(batch["input_features"][2] == 0)


def test_pad_batches_clip_by_clip_features_as_a_batched_call_does(shared_data):
    """The `Dataset.map(feature_extractor)` then `DataCollatorWithPadding(feature_extractor)` path: the features of
    each clip alone, padded by `pad`, are the batched call's. (The inherited SequenceFeatureExtractor.pad pads the
    (3, mel, time) features along their first axis.)"""
    from transformers import DataCollatorWithPadding

    extractor = AVEmoFeatureExtractor()
    long = read_audio(shared_data / "audio" / "crema-d" / "1002_DFA_ANG_XX.mp3", 16000)
    clips = [long[:12345], long, long[:3000]]  # 78, the whole clip's and 19 (under min_frames: padded to 63) frames
    batched = extractor(clips, sampling_rate=16000, return_tensors="pt")
    alone = [extractor(clip, sampling_rate=16000, return_tensors="np") for clip in clips]
    rows = [{key: value[0] for key, value in features.items()} for features in alone]  # as Dataset.map stores them
    for padded in (
        extractor.pad(rows, return_tensors="pt"),
        extractor.pad(alone, return_tensors="pt"),  # leading batch axes of 1
        extractor.pad({key: [row[key] for row in rows] for key in rows[0]}, return_tensors="pt"),  # dict of lists
        DataCollatorWithPadding(extractor)(rows),
    ):
        assert padded["input_features"].shape == batched["input_features"].shape
        torch.testing.assert_close(padded["input_features"], batched["input_features"], atol=1e-5, rtol=0)
        assert torch.equal(padded["audio_mask"], batched["audio_mask"])
    assert isinstance(extractor.pad(rows)["input_features"], np.ndarray)

    frames = [int(row["audio_mask"].sum()) for row in rows]
    to_500 = extractor.pad(rows, padding="max_length", max_length=500, return_tensors="pt")
    assert to_500["input_features"].shape[-1] == 500 and to_500["audio_mask"].sum(-1).tolist() == frames
    cut = extractor.pad(rows, max_length=70, truncation=True, return_tensors="pt")
    assert cut["input_features"].shape[-1] == 70 and cut["audio_mask"].sum(-1).tolist() == [70, 70, frames[2]]
    torch.testing.assert_close(cut["input_features"][1], batched["input_features"][1, ..., :70], atol=1e-5, rtol=0)
    assert extractor.pad(rows, pad_to_multiple_of=64)["input_features"].shape[-1] % 64 == 0
    assert "audio_mask" not in extractor.pad(rows, return_attention_mask=False)
    with pytest.raises(ValueError, match="more than max_length=100; pass truncation=True"):
        extractor.pad(rows, padding="max_length", max_length=100)
    with pytest.raises(ValueError, match="cannot be stacked unpadded"):
        extractor.pad(rows, padding=False)
    with pytest.raises(ValueError, match="below min_frames=63"):
        extractor.pad(rows, max_length=40, truncation=True)
    with pytest.raises(ValueError, match=r"feature 1: input_features has shape \(128, 5\)"):
        extractor.pad([rows[0], {"input_features": np.zeros((128, 5))}])


def test_any_sampling_rate_is_resampled(shared_data):
    import torchaudio

    extractor = AVEmoFeatureExtractor()
    waveform = read_audio(shared_data / "audio" / "crema-d" / "1002_DFA_NEU_XX.mp3", 16000)
    at_44k = torchaudio.functional.resample(torch.from_numpy(waveform), 16000, 44100)
    native = extractor(waveform, sampling_rate=16000, return_tensors="pt")["input_features"]
    resampled = extractor(at_44k, sampling_rate=44100, return_tensors="pt")["input_features"]
    assert abs(native.shape[-1] - resampled.shape[-1]) <= 1
    frames = min(native.shape[-1], resampled.shape[-1]) - 2
    # Same sound: the static planes agree closely after the round trip through 44.1 kHz.
    assert (
        torch.corrcoef(torch.stack([native[0, 0, :, :frames].flatten(), resampled[0, 0, :, :frames].flatten()]))[0, 1]
        > 0.98
    )
    with pytest.raises(ValueError, match="sampling_rate must be a positive integer"):
        extractor(waveform, sampling_rate=16000.5)


def test_short_audio_is_padded_to_alexnet_minimum():
    out = AVEmoFeatureExtractor()(
        np.random.default_rng(0).normal(size=1600).astype(np.float32) * 0.1, sampling_rate=16000, return_tensors="pt"
    )
    assert out["input_features"].shape[-1] == 63 and out["audio_mask"].sum() == 11


def test_bad_waveforms_raise():
    extractor = AVEmoFeatureExtractor()
    with pytest.raises(ValueError, match="mono"):
        extractor([np.zeros((2, 100), dtype=np.float32)], sampling_rate=16000)
    with pytest.raises(ValueError, match="feature_type"):
        AVEmoFeatureExtractor(feature_type="mfcc")


def test_plain_spectrogram_option(shared_data):
    extractor = AVEmoFeatureExtractor(feature_type="spectrogram")
    waveform = read_audio(shared_data / "audio" / "crema-d" / "1002_DFA_SAD_XX.mp3", 16000)
    out = extractor(waveform, sampling_rate=16000, return_tensors="pt")
    assert out["input_features"].shape[2] == extractor.feature_size == 513


# ----------------------------------------------------------------------------------------------- processor


def test_model_runs_on_processor_output(video_dir, processor):
    model = tiny_model()
    inputs = processor(
        videos=[video_dir / "single_face.mp4", video_dir / "no_face.mp4", video_dir / "face_noface.mov"],
        return_tensors="pt",
    )
    assert set(inputs) == {"pixel_values", "frame_mask", "input_features", "audio_mask"}
    assert inputs["pixel_values"].shape == (3, 8, 3, 112, 112)
    assert inputs["frame_mask"].sum(-1)[:2].tolist() == [8, 0]
    pixels = inputs["pixel_values"][0]
    assert -1.0 <= pixels.min() < -0.5 and 0.5 < pixels.max() <= 1.0  # normalised (x - 0.5) / 0.5
    with torch.no_grad():
        output = model(**inputs)
    assert output.logits.shape == (3, model.config.num_labels) and torch.isfinite(output.logits).all()


def test_frames_and_audio_input_equals_video_input(video_dir, processor, single_face_media):
    frames, fps, audio, rate = single_face_media
    picked = read_frames(video_dir / "single_face.mp4", 8)[0]
    from_file = processor(videos=str(video_dir / "single_face.mp4"))
    from_arrays = processor(
        frames=[picked], audio=[read_audio(video_dir / "single_face.mp4", rate)], sampling_rate=rate
    )
    assert torch.equal(from_arrays["pixel_values"], from_file["pixel_values"])
    # Audio resampled by torchaudio instead of FFmpeg: the two resamplers differ only near 8 kHz.
    assert from_arrays["input_features"].shape == from_file["input_features"].shape
    difference = (from_arrays["input_features"] - from_file["input_features"]).abs()
    assert difference.mean() < 0.05 and difference[:, :, :100].max() < 0.5


def test_processor_takes_transformers_processing_kwargs(video_dir, processor, single_face_media):
    """num_frames, do_sample_frames, return_tensors and sampling_rate as transformers' processors take them: flat, per
    modality or common; text_kwargs and images_kwargs are accepted and ignored."""
    path = video_dir / "single_face.mp4"
    three = processor(videos=path, num_frames=3)
    assert three["pixel_values"].shape[1] == 3 and processor.num_frames == 8  # for this call only
    nested = processor(
        videos=path,
        videos_kwargs={"num_frames": 3},
        common_kwargs={"return_tensors": "np"},
        text_kwargs={"padding": True},
        images_kwargs={"do_resize": False},
    )
    assert isinstance(nested["pixel_values"], np.ndarray)
    np.testing.assert_array_equal(nested["pixel_values"], three["pixel_values"].numpy())
    every_frame = single_face_media[0]
    assert processor.process_video(path, do_sample_frames=False).frames_sampled == len(every_frame)

    # Decoded frames are all used unless sampling is asked for, as a file is sampled: segment centres.
    frames, audio = read_frames(path, 8)[0], read_audio(path, 16000)
    clip = processor.process_frames(frames, do_sample_frames=True, num_frames=3)
    assert clip.frame_times == [1.0, 4.0, 6.0]
    all_frames = processor(frames=[frames], audio=[audio], audio_kwargs={"sampling_rate": 16000})
    sampled = processor(frames=[frames], audio=[audio], sampling_rate=16000, num_frames=3)
    assert all_frames["pixel_values"].shape[1] == 8 and sampled["pixel_values"].shape[1] == 3
    assert torch.equal(sampled["pixel_values"][0], all_frames["pixel_values"][0, [1, 4, 6]])


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"num_frame": 3}, TypeError, r"unexpected keyword argument\(s\) num_frame;"),
        ({"fps": 2}, ValueError, "does not take fps:"),
        ({"padding": "max_length"}, ValueError, "does not take padding:"),
        ({"videos_kwargs": {"do_resize": False, "size": 224}}, ValueError, "does not take do_resize, size:"),
        ({"num_frames": 0}, ValueError, "num_frames=0 is not valid"),
        ({"num_frames": 3, "do_sample_frames": False}, ValueError, "pass one of them"),
        ({"videos_kwargs": {"return_tensors": "np"}, "audio_kwargs": {"return_tensors": "pt"}}, ValueError, "differs"),
    ],
)
def test_processing_kwargs_it_cannot_honour_are_named(kwargs, error, message, video_dir, processor):
    with pytest.raises(error, match=message):
        processor(videos=video_dir / "single_face.mp4", **kwargs)


def test_processor_errors_are_typed(video_dir, processor, tmp_path, shared_data):
    with pytest.raises(ValueError, match="either videos"):
        processor(videos=["a.mp4"], frames=[[]])
    with pytest.raises(ValueError, match="same number of clips"):
        processor(
            frames=[[np.zeros((64, 64, 3), np.uint8)]] * 2, audio=[np.zeros(1600, np.float32)], sampling_rate=16000
        )
    with pytest.raises(ValueError, match="nothing to process"):
        processor()
    with pytest.raises(ValueError, match=r"shape \(height, width, 3\)"):
        processor(frames=[[np.zeros((4, 64, 64, 3), np.uint8)]])


def test_bad_files_give_typed_errors_naming_the_file(tmp_path, shared_data, processor):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(np.random.default_rng(0).integers(0, 255, 5000, dtype=np.uint8).tobytes())
    text = tmp_path / "notes.mov"
    text.write_text("this is not a video\n" * 50)
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes((shared_data / "video" / "single_face.mp4").read_bytes()[:3000])
    cases = [
        (tmp_path / "missing.mp4", UnreadableMediaError, "file not found"),
        (empty, UnreadableMediaError, "file is empty"),
        (corrupt, UnreadableMediaError, "corrupt.mp4"),
        (text, UnreadableMediaError, "notes.mov"),
        (truncated, UnreadableMediaError, "truncated.mp4"),
        (tmp_path, UnreadableMediaError, "is a folder"),
    ]
    for path, error, message in cases:
        with pytest.raises(error, match=message) as raised:
            processor.process_video(path)
        assert str(path.name) in str(raised.value)
    # An audio file has no frames: a faces-only model cannot use it (an audio-video model reads its audio alone).
    speech = shared_data / "audio" / "crema-d" / "1002_DFA_ANG_XX.mp3"
    with pytest.raises(NotAVideoError, match="1002_DFA_ANG_XX.mp3: not a video \\(no video stream\\)"):
        AVEmoProcessor(modalities="visual").process_video(speech)
    assert processor.process_video(speech).warnings == ["no video stream: prediction from the audio only"]
    # A still image has no audio: an audio-only model cannot use it.
    with pytest.raises(NotAVideoError, match="single_face.jpg: not a video \\(a still image\\)"):
        AVEmoProcessor(modalities="audio").process_video(shared_data / "images" / "single_face.jpg")


def test_a_still_image_is_one_frame_without_audio(shared_data, processor):
    clip = processor.process_video(shared_data / "images" / "single_face.jpg")
    assert (clip.frames_sampled, clip.frames_used, clip.has_audio) == (1, 1, False)
    assert clip.warnings == ["a still image: one frame, no audio"]
    inputs = processor.batch([clip])
    assert inputs["frame_mask"].tolist() == [[1]] and inputs["audio_mask"].sum() == 0
    faces_only = AVEmoProcessor(modalities="visual").process_video(shared_data / "images" / "single_face.jpg")
    assert faces_only.warnings == [] and faces_only.frames_used == 1


def test_video_without_audio_is_visual_only(single_face_media, tmp_path, processor):
    frames, fps, _, _ = single_face_media
    path = write_video(tmp_path / "mute.mp4", frames[:30], fps)
    clip = processor.process_video(path)
    assert clip.frames_used == 8 and not clip.has_audio
    assert any("no audio stream" in warning for warning in clip.warnings)
    assert processor.batch([clip])["audio_mask"].sum() == 0


def test_silent_audio_is_reported_and_masked(video_dir, processor):
    clip = processor.process_video(video_dir / "WolfgangLanger_Pexels.mp4")  # its audio track is digital silence
    assert not clip.has_audio and any("silent" in warning for warning in clip.warnings)


def test_no_face_and_no_audio_is_an_error(tmp_path, processor):
    frames = [np.full((96, 128, 3), value, np.uint8) for value in range(0, 250, 10)]
    path = write_video(tmp_path / "blank.mp4", frames, 25)
    with pytest.raises(NothingToPredictError, match="blank.mp4: neither a face nor audio"):
        processor.process_video(path)


def test_tiny_and_huge_videos(single_face_media, tmp_path, processor):
    frames, fps, audio, rate = single_face_media
    tiny = write_video(tmp_path / "tiny.mp4", [frame[::20, ::20] for frame in frames[:3]], fps, audio, rate)
    clip = processor.process_video(tiny)
    assert clip.frames_sampled == 3 and clip.frames_used == 0 and clip.has_audio
    # A 4K frame: detection runs on a scaled-down copy, landmarks and crop on the full frame.
    big = [np.asarray(Image.fromarray(frame).resize((3840, 2160))) for frame in frames[:2]]
    huge = write_video(tmp_path / "huge.mp4", big, fps, codecs=("mpeg4", None, "yuv420p"))
    clip = processor.process_video(huge)
    assert clip.frames_used == 2
    assert clip.faces[0].box[2] - clip.faces[0].box[0] > 600


def test_processor_saves_and_loads_with_auto_processor(tmp_path):
    from transformers import AutoProcessor

    processor = AVEmoProcessor(num_frames=5, face_size=224, modalities="visual")
    processor.save_pretrained(tmp_path)
    loaded = AutoProcessor.from_pretrained(tmp_path)
    assert type(loaded) is AVEmoProcessor
    assert (loaded.num_frames, loaded.face_size, loaded.modalities) == (5, 224, "visual")
    assert loaded.feature_extractor.to_dict() == processor.feature_extractor.to_dict()


def test_remote_code_processor_and_model_without_project(video_dir, tmp_path):
    model = tiny_model()
    processor = AVEmoProcessor()
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    inputs = processor(videos=[video_dir / "face_noface.mov"], return_tensors="pt")
    with torch.no_grad():
        expected = model(**inputs).logits
    code = (
        "import torch\n"
        "from transformers import AutoProcessor, AutoModelForVideoClassification\n"
        f"processor = AutoProcessor.from_pretrained({str(tmp_path)!r}, trust_remote_code=True)\n"
        f"model = AutoModelForVideoClassification.from_pretrained({str(tmp_path)!r}, trust_remote_code=True).eval()\n"
        "assert 'transformers_modules' in type(processor).__module__\n"
        f"inputs = processor(videos=[{str(video_dir / 'face_noface.mov')!r}], return_tensors='pt')\n"
        "with torch.no_grad():\n"
        "    logits = model(**inputs).logits\n"
        "print(inputs['frame_mask'].tolist())\n"
        "print(repr(logits.tolist()))\n"
    )
    result = run_without_project(code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    mask_line, logits_line = result.stdout.strip().splitlines()[-2:]
    assert eval(mask_line) == inputs["frame_mask"].tolist()
    torch.testing.assert_close(torch.tensor(eval(logits_line)), expected, atol=1e-5, rtol=0)


def test_audio_only_processor_accepts_audio_files(shared_data):
    processor = AVEmoProcessor(modalities="audio")
    inputs = processor(videos=[shared_data / "audio" / "crema-d" / "1002_DFA_FEA_XX.mp3"])
    assert set(inputs) == {"input_features", "audio_mask"}
    model = tiny_model(modalities="audio")
    with torch.no_grad():
        assert torch.isfinite(model(**inputs).logits).all()


def test_file_audio_and_array_audio_give_the_same_features(shared_data):
    """One resampler for both paths: a 44.1 kHz recording read from its file, or decoded here at its own rate and
    passed as an array with sampling_rate=44100, gives log-mel features within 0.1 dB in every band."""
    import av

    path = shared_data / "audio" / "crema-d" / "1002_DFA_ANG_XX.mp3"
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate = stream.rate
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        chunks = [r.to_ndarray().reshape(-1) for frame in container.decode(stream) for r in resampler.resample(frame)]
        chunks += [r.to_ndarray().reshape(-1) for r in resampler.resample(None)]
    native = np.concatenate(chunks)
    assert rate == 44100
    processor = AVEmoProcessor(AVEmoFeatureExtractor(normalize="none"), modalities="audio")
    from_file = processor.process_video(path)
    from_array = processor.process_frames(None, audio=native, sampling_rate=rate)
    features = [processor.batch([clip])["input_features"][0, 0].numpy() for clip in (from_file, from_array)]
    assert features[0].shape == features[1].shape
    assert np.abs(features[0] - features[1]).max() < 0.1


def test_hog_retries_with_one_up_sampling_for_small_faces(shared_data):
    """A face too small for HOG (the still at 1/5 size) is found by the up-sampling retry, and only by it."""
    image = Image.open(shared_data / "images" / "single_face.jpg").convert("RGB")
    small = np.asarray(image.resize((image.width // 5, image.height // 5)))
    assert FaceAligner(upsample_fallback=False).align(small) is None
    face = FaceAligner().align(small)
    assert face is not None and face.detector == "hog+upsample"


def test_cnn_fallback_runs_fan_attempts_in_order(shared_data, monkeypatch):
    """With cnn_fallback, when HOG finds nothing: dlib's CNN detector (one up-sampling) on the frame, then on a
    contrast-stretched copy, then on an equalised one. HOG is switched off here to reach the CNN; the real CNN
    finds the face, and a recording stand-in shows the order and the images each attempt gets."""
    from PIL import ImageOps

    import avemo.processing.face_alignment_avemo as alignment

    image = np.asarray(Image.open(shared_data / "images" / "single_face.jpg").convert("RGB").resize((256, 256)))
    hog_box = FaceAligner().align(image).box
    monkeypatch.setattr(alignment, "_hog_detector", lambda: lambda frame, upsample: [])
    assert FaceAligner().align(image) is None
    face = FaceAligner(cnn_fallback=True).align(image)  # the real MMOD detector
    assert face is not None and face.detector == "cnn"
    overlap_x = min(face.box[2], hog_box[2]) - max(face.box[0], hog_box[0])
    overlap_y = min(face.box[3], hog_box[3]) - max(face.box[1], hog_box[1])
    assert overlap_x > 0.5 * (hog_box[2] - hog_box[0]) and overlap_y > 0.5 * (hog_box[3] - hog_box[1])

    seen = []
    real_cnn = alignment._cnn_detector()

    def recording_cnn(frame, upsample):
        seen.append((frame.copy(), upsample))
        return real_cnn(frame, upsample) if len(seen) == 2 else []  # only the stretched copy "works"

    monkeypatch.setattr(alignment, "_cnn_detector", lambda: recording_cnn)
    face = FaceAligner(cnn_fallback=True).align(image)
    assert face.detector == "cnn+stretch" and [upsample for _, upsample in seen] == [1, 1]
    np.testing.assert_array_equal(seen[0][0], image)
    np.testing.assert_array_equal(seen[1][0], np.asarray(ImageOps.autocontrast(Image.fromarray(image))))
    seen.clear()
    monkeypatch.setattr(alignment, "_cnn_detector", lambda: lambda frame, upsample: seen.append(frame.copy()) or [])
    assert FaceAligner(cnn_fallback=True).align(image) is None and len(seen) == 3
    np.testing.assert_array_equal(seen[2], np.asarray(ImageOps.equalize(Image.fromarray(image))))
