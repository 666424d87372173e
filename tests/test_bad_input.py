"""The bad-input matrix: every kind of wrong or unusual input gets a typed error naming the file, or a documented
fallback (a warning and a prediction from what is there); never a hang, a crash in native code, or NaN scores.
Long or large inputs are made here, not committed."""

import json
import math
from fractions import Fraction

import av
import numpy as np
import pytest
from PIL import Image

from avemo.inference import ModelLoadError, Predictor
from avemo.processing import (
    AVEmoFeatureExtractor,
    AVEmoProcessor,
    NothingToPredictError,
    NotAVideoError,
    UnreadableMediaError,
)

from conftest import TINY, run_avemo
from media import decode_all, write_video


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad-input")
    (root / "tiny.json").write_text(json.dumps(TINY))
    assert run_avemo("init", "--output", root / "tiny", "--config", root / "tiny.json").returncode == 0
    return root / "tiny"


@pytest.fixture(scope="module")
def predictor(model_dir):
    return Predictor(model_dir, device="cpu")


@pytest.fixture(scope="module")
def face_media(shared_data):
    frames, fps, audio, rate = decode_all(shared_data / "video" / "single_face.mp4")
    speech = decode_all_audio(shared_data / "audio" / "crema-d" / "1002_DFA_HAP_XX.mp3")
    return frames, fps, speech


def decode_all_audio(path):
    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=16000)
        chunks = [r.to_ndarray().reshape(-1) for f in container.decode(audio=0) for r in resampler.resample(f)]
        chunks += [r.to_ndarray().reshape(-1) for r in resampler.resample(None)]
    return np.concatenate(chunks)


def write_with_layout(path, frames, fps, audio, layout):
    """A .mov clip whose lossless PCM audio has `layout` (mono, stereo, 5.1): the mono speech in every channel."""
    channels = av.AudioLayout(layout).nb_channels
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        video.width, video.height, video.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        sound = container.add_stream("pcm_s16le", rate=16000, layout=layout)
        for image in frames:
            for packet in video.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in video.encode(None):
            container.mux(packet)
        size = sound.codec_context.frame_size or 1024
        for start in range(0, len(audio), size):
            chunk = np.pad(audio[start : start + size], (0, max(0, start + size - len(audio))))
            samples = (np.repeat(chunk[None], channels, axis=0) * 32767).astype(np.int16).T.reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples), format="s16", layout=layout)
            frame.sample_rate = 16000
            for packet in sound.encode(frame):
                container.mux(packet)
        for packet in sound.encode(None):
            container.mux(packet)
    return path


def write_vfr(path, frames, times):
    """A variable-frame-rate clip: frames shown at the given times (seconds)."""
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=30)
        video.width, video.height, video.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        video.codec_context.time_base = video.time_base = Fraction(1, 1000)
        for image, time in zip(frames, times):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = int(time * 1000), Fraction(1, 1000)
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode(None):
            container.mux(packet)
    return path


def make_case(name, tmp_path, face_media, shared_data):
    frames, fps, speech = face_media
    two_seconds = frames[: int(2 * fps)]
    if name == "zero-byte file":
        (path := tmp_path / "empty.mp4").write_bytes(b"")
    elif name == "random bytes named .mp4":
        (path := tmp_path / "random.mp4").write_bytes(
            np.random.default_rng(0).integers(0, 256, 20000, dtype=np.uint8).tobytes()
        )
    elif name == "a text file":
        (path := tmp_path / "notes.mp4").write_text("not a video\n" * 100)
    elif name == "a directory":
        (path := tmp_path / "clips.mp4").mkdir()
    elif name == "a missing file":
        path = tmp_path / "missing.mp4"
    elif name == "an image file":
        path = shared_data / "images" / "single_face.jpg"
    elif name == "audio only":
        path = shared_data / "audio" / "crema-d" / "1002_DFA_ANG_XX.mp3"
    elif name == "video only":
        path = write_video(tmp_path / "mute.mp4", two_seconds, fps)
    elif name == "silent audio":
        path = write_video(tmp_path / "silent.mp4", two_seconds, fps, np.zeros(32000, np.float32), 16000)
    elif name == "mono audio":
        path = write_with_layout(tmp_path / "mono.mov", two_seconds, fps, speech[:32000], "mono")
    elif name == "stereo audio":
        path = write_with_layout(tmp_path / "stereo.mov", two_seconds, fps, speech[:32000], "stereo")
    elif name == "5.1 audio":
        path = write_with_layout(tmp_path / "surround.mov", two_seconds, fps, speech[:32000], "5.1")
    elif name == "a 1-frame video":
        path = write_video(tmp_path / "one.mp4", frames[:1], fps)
    elif name == "a 0.2 s clip":
        path = write_video(tmp_path / "short.mp4", frames[: max(2, int(0.2 * fps))], fps, speech[:3200], 16000)
    elif name == "a 4K frame":
        big = [np.asarray(Image.fromarray(f).resize((3840, 2160))) for f in frames[:3]]
        path = write_video(tmp_path / "big.mp4", big, fps)
    elif name == "a portrait video":
        path = write_video(tmp_path / "portrait.mp4", two_seconds_portrait(two_seconds), fps)
    elif name == "variable frame rate":
        times = np.cumsum([0.0] + [0.02 if i % 3 else 0.15 for i in range(len(two_seconds) - 1)])
        path = write_vfr(tmp_path / "vfr.mp4", two_seconds, times)
    else:
        raise KeyError(name)
    return path


def two_seconds_portrait(frames):
    """Portrait frames (taller than wide): the middle of each landscape frame, face included."""
    height, width = frames[0].shape[:2]
    crop = height * 9 // 16
    left = (width - crop) // 2
    return [np.ascontiguousarray(frame[:, left : left + crop]) for frame in frames]


# name -> ("error", exception type, message part) or ("ok", warning part or None, audio used, faces at least)
CASES = {
    "zero-byte file": ("error", UnreadableMediaError, "empty.mp4: file is empty"),
    "random bytes named .mp4": ("error", UnreadableMediaError, "random.mp4"),
    "a text file": ("error", UnreadableMediaError, "notes.mp4"),
    "a directory": ("error", UnreadableMediaError, "clips.mp4: is a folder"),
    "a missing file": ("error", UnreadableMediaError, "missing.mp4: file not found"),
    "an image file": ("ok", "a still image: one frame, no audio", False, 1),
    "audio only": ("ok", "no video stream: prediction from the audio only", True, 0),
    "video only": ("ok", "no audio stream", False, 8),
    "silent audio": ("ok", "the audio track is silent", False, 8),
    "mono audio": ("ok", None, True, 8),
    "stereo audio": ("ok", None, True, 8),
    "5.1 audio": ("ok", None, True, 8),
    "a 1-frame video": ("ok", "no audio stream", False, 1),
    "a 0.2 s clip": ("ok", "shorter than the 0.63 s the audio CNN needs: zero-padded", True, 1),
    "a 4K frame": ("ok", "no audio stream", False, 3),
    "a portrait video": ("ok", "no audio stream", False, 8),
    "variable frame rate": ("ok", "no audio stream", False, 7),
}


@pytest.mark.parametrize("name", CASES)
def test_bad_input_matrix(name, predictor, face_media, shared_data, tmp_path):
    path = make_case(name, tmp_path, face_media, shared_data)
    if CASES[name][0] == "error":
        _, error, message = CASES[name]
        with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
            predictor.predict_file(path)
        return
    _, warning, audio_used, faces = CASES[name]
    result = predictor.predict_file(path)
    assert all(math.isfinite(score) for score in result.scores.values()) and sum(
        result.scores.values()
    ) == pytest.approx(1, abs=1e-4)
    if warning:
        assert any(warning in line for line in result.warnings), result.warnings
    assert result.audio_used is audio_used and result.frames_used >= faces, (result.frames_used, result.warnings)


def test_an_audio_file_is_refused_by_a_faces_only_model(shared_data):
    """An audio file is a clip without faces to a model with both branches (the matrix above); a model without an
    audio branch has nothing to read in it."""
    path = shared_data / "audio" / "crema-d" / "1002_DFA_ANG_XX.mp3"
    with pytest.raises(NotAVideoError, match=r"1002_DFA_ANG_XX.mp3: not a video \(no video stream\)"):
        AVEmoProcessor(modalities="visual").process_video(path)
    clip = AVEmoProcessor(modalities="audio_visual").process_video(path)
    assert clip.faces == [] and clip.has_audio and clip.duration == pytest.approx(len(clip.audio) / 16000)


def test_channel_layouts_give_the_same_features(predictor, face_media, shared_data, tmp_path):
    """Mono, stereo and 5.1 tracks carrying the same signal in every channel are mixed down to mono by FFmpeg:
    stereo at -3 dB per channel (L + R) / sqrt(2), so the same waveform up to a gain that the per-clip
    normalisation of the features removes."""
    clips = {
        name: predictor.processor.process_video(make_case(name, tmp_path, face_media, shared_data))
        for name in ("mono audio", "stereo audio")
    }
    mono, stereo = clips["mono audio"].audio, clips["stereo audio"].audio
    np.testing.assert_allclose(stereo, mono * np.sqrt(2), atol=2e-3)
    # In dB the two differ by the gain alone (20 log10 sqrt(2) = 3.01 dB) wherever the sound is above the floor.
    extractor = AVEmoFeatureExtractor(normalize="none")
    mono_db, stereo_db = (extractor(wave, sampling_rate=16000)["input_features"][0, 0] for wave in (mono, stereo))
    loud = mono_db > -60
    assert loud.mean() > 0.3 and np.abs((stereo_db - mono_db)[loud] - 3.0103).max() < 0.05
    surround = predictor.processor.process_video(make_case("5.1 audio", tmp_path, face_media, shared_data)).audio
    assert surround is not None and np.isfinite(surround).all() and np.abs(surround).max() > 0.01


def test_variable_frame_rate_frames_are_sampled_by_time(predictor, face_media, shared_data, tmp_path):
    from avemo.processing import read_frames

    path = make_case("variable frame rate", tmp_path, face_media, shared_data)
    _, times, info = read_frames(path, 8)
    assert times == sorted(times) and len(set(times)) == len(times) and times[-1] <= info["duration"]
    segment = info["duration"] / 8
    assert all(abs(t - (i + 0.5) * segment) < 0.2 for i, t in enumerate(times))


@pytest.mark.parametrize(
    "audio, rate, message",
    [
        (
            np.array([0.1, np.nan, 0.2] * 8000, dtype=np.float32),
            16000,
            "clip 0: the waveform holds 8000 NaN or infinite samples",
        ),
        (np.array([0.1, np.inf] * 8000, dtype=np.float32), 16000, "clip 0: the waveform holds 8000 NaN"),
        (np.zeros(16000, np.float32), None, "clip 0: pass sampling_rate="),
        (np.zeros(16000, np.float32), -16000, "sampling_rate must be a positive integer"),
        (np.zeros(16000, np.float32), 44100.5, "sampling_rate must be a positive integer"),
        (np.zeros((2, 16000), np.float32), 16000, "audio must be 1-D mono samples"),
    ],
)
def test_bad_waveforms_raise_before_any_feature(audio, rate, message):
    processor = AVEmoProcessor(modalities="audio")
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        processor(audio=[audio], sampling_rate=rate)


def test_the_feature_extractor_alone_warns_about_a_missing_rate_and_refuses_nan(caplog):
    """As transformers' feature extractors: no rate -> a warning and the extractor's own rate."""
    extractor = AVEmoFeatureExtractor()
    features = extractor(np.zeros(16000, np.float32) + 0.1)["input_features"]
    assert features.shape[-1] == 101
    with pytest.raises(ValueError, match="waveform 1 holds 1 NaN"):
        extractor([np.zeros(100, np.float32), np.array([0.0, np.nan], np.float32)], sampling_rate=16000)


def test_grayscale_and_rgba_frames_find_the_same_face(predictor, face_media):
    frames, _, _ = face_media
    rgb = frames[10]
    gray = np.asarray(Image.fromarray(rgb).convert("L"))
    rgba = np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 255, np.uint8)], axis=-1)
    boxes = {}
    for name, frame in (("rgb", rgb), ("gray", gray), ("rgba", rgba), ("float", rgb / 255.0)):
        clip = predictor.processor.process_frames([frame], None, source=name)
        assert clip.frames_used == 1, name
        boxes[name] = np.array(clip.faces[0].box)
    assert np.abs(boxes["rgba"] - boxes["rgb"]).max() == 0 and np.abs(boxes["float"] - boxes["rgb"]).max() <= 1
    assert np.abs(boxes["gray"] - boxes["rgb"]).max() < 12


def test_nothing_to_predict_is_typed(predictor, shared_data, tmp_path, face_media):
    frames, fps, _ = face_media
    blank = [np.zeros_like(frames[0]) for _ in range(10)]
    with pytest.raises(NothingToPredictError, match="blank.mp4: neither a face nor audio"):
        predictor.predict_file(write_video(tmp_path / "blank.mp4", blank, fps))


def test_bad_model_folders_are_named(model_dir, tmp_path):
    import shutil

    with pytest.raises(ModelLoadError, match="no such model folder; did you mean"):
        Predictor(str(model_dir.parent / "tinny"))
    broken = tmp_path / "broken"
    shutil.copytree(model_dir, broken)
    (broken / "config.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="broken/config.json: not a valid JSON config"):
        Predictor(broken)
    truncated = tmp_path / "truncated"
    shutil.copytree(model_dir, truncated)
    weights = truncated / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(ModelLoadError, match="truncated/model.safetensors: corrupt or truncated weights"):
        Predictor(truncated)
    (tmp_path / "empty-folder").mkdir()
    with pytest.raises(ModelLoadError, match="a folder without config.json"):
        Predictor(tmp_path / "empty-folder")


def test_cli_checks_files_before_loading_the_model(tmp_path):
    """A missing file and a missing model: only the file is reported, so the model was never looked at."""
    result = run_avemo("predict", tmp_path / "nope.mp4", "--model", tmp_path / "no-model")
    assert result.returncode == 1
    assert result.stderr.strip() == f"avemo predict: error: {tmp_path / 'nope.mp4'}: file not found"


def test_concurrent_predictions_each_get_their_own_result(predictor, shared_data):
    """Threads predicting at once (a Space's requests, predict_files' read-ahead) give what one at a time gives,
    also when dlib's up-sampling retry runs in two threads together (it shared scratch buffers and crashed)."""
    from concurrent.futures import ThreadPoolExecutor

    files = [shared_data / "video" / name for name in ("single_face.mp4", "no_face.mp4", "face_noface.mov")] * 3
    files.append(shared_data / "images" / "single_face.jpg")

    def scores(path):
        try:
            return predictor.predict_file(path).scores
        except NothingToPredictError as error:
            return str(error)

    alone = [scores(path) for path in files[:3]] + [scores(files[-1])]
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(scores, files))
    expected = alone[:3] * 3 + alone[3:]
    for got, want in zip(together, expected):
        assert got == want if isinstance(want, str) else got == pytest.approx(want, abs=1e-6)
    streamed = list(predictor.predict_files(files, workers=2))
    assert [path for path, _ in streamed] == files
    for (_, got), want in zip(streamed, expected):
        assert str(got) == want if isinstance(want, str) else got.scores == pytest.approx(want, abs=1e-6)
