"""Timelines of long videos: windows, the audio each window gets, bounded memory, and the CLI's files."""

import json
import time

import numpy as np
import pytest
import torch
from PIL import Image

from avemo.inference import Predictor
from avemo.processing import read_audio
from avemo.inference.timeline import TimelineBuilder, window_starts

from conftest import TINY, run_avemo
from media import decode_all, write_video


@pytest.fixture(scope="module")
def shipped():
    return Predictor(device="cpu")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("timeline")
    (root / "tiny.json").write_text(json.dumps(TINY))
    assert run_avemo("init", "--output", root / "tiny", "--config", root / "tiny.json").returncode == 0
    return Predictor(root / "tiny", device="cpu")


@pytest.fixture(scope="module")
def talking_clip(tmp_path_factory, shared_data):
    """A face with real speech: single_face.mp4's frames over a CREMA-D recording (44.1 kHz), 6 s."""
    frames, fps, _, _ = decode_all(shared_data / "video" / "single_face.mp4")
    speech = read_audio(shared_data / "audio" / "crema-d" / "1002_DFA_HAP_XX.mp3", 44100)
    seconds = 6.0
    frames = [frames[i % len(frames)] for i in range(int(seconds * fps))]
    audio = np.tile(speech, int(np.ceil(seconds * 44100 / len(speech))))[: int(seconds * 44100)]
    return write_video(tmp_path_factory.mktemp("talk") / "talk.mp4", frames, fps, audio, 44100)


def test_window_starts():
    assert window_starts(19.685, 2.0, 1.0) == [float(t) for t in range(19)]
    assert window_starts(0.5, 2.0, 1.0) == [0.0]  # a clip shorter than a window still gets one
    assert window_starts(10.0, 4.0, 4.0) == [0.0, 4.0, 8.0]


def test_timeline_of_the_pexels_clip(shipped, shared_data):
    builder = TimelineBuilder(shipped, window=2.0, hop=1.0, faces_per_second=2.0)
    rows = list(builder.run(shared_data / "video" / "WolfgangLanger_Pexels.mp4"))
    assert [row.start for row in rows] == [float(t) for t in range(19)]
    assert rows[-1].end == pytest.approx(19.685, abs=0.05)
    assert all(row.frames_sampled == 4 for row in rows[:-1])  # 2 faces a second, 2 s windows
    assert sum(row.frames_with_face for row in rows) >= 0.9 * sum(row.frames_sampled for row in rows)
    for row in rows:
        assert sum(row.scores.values()) == pytest.approx(1.0, abs=1e-4) and row.label == max(
            row.scores, key=row.scores.get
        )
    # A window's scores are the model's on that window's faces: the average of its per-face FER2013 probabilities.
    assert not rows[0].audio_used


def test_each_window_gets_its_own_stretch_of_audio(tiny, talking_clip):
    """The window's waveform (resampled from the file's 44.1 kHz with context) equals the same stretch of the whole
    track read by avemo's reader, away from the file's own ends."""
    from avemo.processing.feature_extraction_avemo import resample
    from avemo.inference.timeline import _window_audio

    whole = read_audio(talking_clip, 16000)
    import av

    with av.open(str(talking_clip)) as container:
        native = np.concatenate([frame.to_ndarray().mean(axis=0) for frame in container.decode(audio=0)]).astype(
            np.float32
        )
    window = _window_audio([(0.0, native)], 44100, 2.0, 4.0, 16000, resample)
    assert len(window) == 32000
    np.testing.assert_allclose(window, whole[32000:64000], atol=2e-3)
    rows = list(TimelineBuilder(tiny, window=2.0, hop=2.0, faces_per_second=2.0).run(talking_clip))
    assert [row.start for row in rows] == [0.0, 2.0, 4.0] and all(row.audio_used for row in rows)
    assert all(row.frames_with_face == 4 for row in rows)


@pytest.fixture(scope="module")
def forty_seconds(shared_data, tmp_path_factory):
    """A 40 s video of a face (slightly noisy frames of one actor, 5 fps) over a tone."""
    face = np.asarray(Image.open(shared_data / "faces" / "ravdess" / "Actor_01.png").convert("RGB"))
    rng = np.random.default_rng(0)
    frames = [np.clip(face + rng.normal(0, 3, face.shape), 0, 255).astype(np.uint8) for _ in range(8)]
    seconds, fps = 40, 5
    audio = (0.2 * np.sin(2 * np.pi * 440 * np.arange(seconds * 16000) / 16000)).astype(np.float32)
    path = tmp_path_factory.mktemp("long") / "long.mp4"
    return write_video(path, [frames[i % 8] for i in range(seconds * fps)], fps, audio, 16000)


def test_memory_does_not_grow_with_the_video(tiny, forty_seconds):
    """A 40 s video: the builder never holds more than one window of faces and of audio."""
    builder = TimelineBuilder(tiny, window=2.0, hop=1.0, faces_per_second=2.0)
    rows = list(builder.run(forty_seconds))
    assert len(rows) == 40 and sum(row.frames_with_face for row in rows) >= 0.9 * sum(
        row.frames_sampled for row in rows
    )
    # One window of faces, the batch being gathered and the batches in the face CNN (two workers, one waiting).
    in_flight = builder.embed_batch * 4
    assert builder.peak_held["faces"] <= 2.0 * 2.0 + in_flight
    # A window, a hop and decoder chunks of audio, plus what is read while those faces are in the face CNN (the
    # reading goes on until it is busy): the same read-ahead as the faces', in seconds. Without that term the bound
    # only held while the face CNN kept up with the reading; a loaded CI machine measured 3.7 s against its 3.5.
    assert builder.peak_held["audio_seconds"] <= 2.0 + 1.0 + 0.5 + in_flight / 2.0


@pytest.fixture
def slow_face_cnn(monkeypatch):
    """The face CNN made the slow part (as IR50 is on a CPU): 0.1 s a face, so that batches queue up."""
    import avemo.inference.timeline as timeline

    real = timeline._FaceEmbedder._embed

    def slow(self, crops):
        time.sleep(0.1 * len(crops))
        return real(self, crops)

    monkeypatch.setattr(timeline._FaceEmbedder, "_embed", slow)


def test_a_slow_face_cnn_holds_back_the_reading(tiny, forty_seconds, slow_face_cnn):
    """When the face CNN is slower than decoding, the reading waits for it: faces do not pile up."""
    builder = TimelineBuilder(tiny, window=2.0, hop=1.0, faces_per_second=2.0, embed_batch=4)
    rows = list(builder.run(forty_seconds))
    assert len(rows) == 40 and all(row.frames_with_face == 4 for row in rows[:-1])
    assert builder.peak_held["faces"] <= 2.0 * 2.0 + 4 * 4  # of the 80 faces of the video


def test_windows_do_not_depend_on_how_faces_are_batched(tiny, talking_clip, slow_face_cnn):
    """Faces go through the face CNN in batches, two at once, out of step with the windows: every window still gets
    its own faces' vectors, whatever the batch size (one face at a time is the reference)."""
    one_by_one = list(TimelineBuilder(tiny, window=2.0, hop=1.0, faces_per_second=2.0, embed_batch=1).run(talking_clip))
    for batch in (3, 8):
        rows = list(
            TimelineBuilder(tiny, window=2.0, hop=1.0, faces_per_second=2.0, embed_batch=batch).run(talking_clip)
        )
        assert [row.start for row in rows] == [row.start for row in one_by_one]
        for row, reference in zip(rows, one_by_one):
            assert row.frames_with_face == reference.frames_with_face
            for label, score in reference.scores.items():
                assert row.scores[label] == pytest.approx(score, abs=1e-5)
    assert len({tuple(row.scores.values()) for row in one_by_one}) > 1  # windows differ: a swap would show


def test_torch_threads_are_put_back(tiny, talking_clip):
    """A timeline runs its face batches on single-threaded workers; torch's thread count is restored after it,
    also when the caller stops reading half way, and after two timelines that overlap."""
    before = torch.get_num_threads()
    rows = TimelineBuilder(tiny, window=2.0, hop=1.0, faces_per_second=2.0).run(talking_clip)
    next(rows)
    assert torch.get_num_threads() == 1  # the main thread classifies windows on one thread
    rows.close()
    assert torch.get_num_threads() == before
    first = TimelineBuilder(tiny, window=2.0, hop=2.0, faces_per_second=2.0).run(talking_clip)
    second = TimelineBuilder(tiny, window=2.0, hop=2.0, faces_per_second=2.0).run(talking_clip)
    next(first), next(second)
    list(first)
    assert torch.get_num_threads() == 1  # the second still runs
    list(second)
    assert torch.get_num_threads() == before


def test_frame_embeds_give_the_same_logits_as_pixels(tiny):
    model = tiny.model
    pixels = torch.randn(2, 3, 3, 112, 112)
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    with torch.no_grad():
        embeds = model.avemo.embed_faces(pixels.flatten(0, 1)).view(2, 3, -1)
        by_pixels = model(pixel_values=pixels, frame_mask=mask).logits
        by_embeds = model(frame_embeds=embeds, frame_mask=mask).logits
    torch.testing.assert_close(by_embeds, by_pixels, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="either pixel_values or frame_embeds"):
        model(pixel_values=pixels, frame_embeds=embeds)


def test_cli_writes_the_timeline_and_its_plot(shared_data, tmp_path):
    result = run_avemo(
        "predict",
        shared_data / "video" / "single_face.mp4",
        "--timeline",
        "--json",
        "--output-dir",
        tmp_path / "out",
        "--window",
        1.0,
        "--hop",
        0.5,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    [summary] = [json.loads(line) for line in result.stdout.splitlines()]
    rows = json.loads((tmp_path / "out" / "single_face.timeline.json").read_text())
    assert summary["windows"] == len(rows) >= 4 and [row["start"] for row in rows[:3]] == [0.0, 0.5, 1.0]
    # How fast it ran: the video's length (the last window's end) over the seconds it took.
    assert summary["seconds"] > 0 and summary["real_time_factor"] == pytest.approx(
        rows[-1]["end"] / summary["seconds"], rel=0.02
    )
    assert {"start", "end", "label", "scores", "frames_with_face"} <= set(rows[0])
    assert (tmp_path / "out" / "single_face.timeline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "\x1b[" not in result.stderr  # no cursor codes in a log
    csv_run = run_avemo(
        "predict", shared_data / "video" / "single_face.mp4", "--timeline", "--output-dir", tmp_path / "csv"
    )
    assert csv_run.returncode == 0
    assert "x real time)" in csv_run.stdout  # the text summary says how fast it ran too
    header = (tmp_path / "csv" / "single_face.timeline.csv").read_text().splitlines()[0]
    assert header.startswith("start,end,label,frames_sampled,frames_with_face,audio_used,Angry")
