"""The Space: `avemo space` serving the page, driven in Debian's chromium by Playwright, and its API through
gradio_client (bad files, concurrent requests); the analysis behind the plots, in process."""

import io
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest

SCREENSHOT_COPY = Path(os.environ.get("AVEMO_SPACE_SCREENSHOT", "/tmp/avemo-space-screenshot.png"))
# The browser stays off the network: every name but the local server fails to resolve.
CHROMIUM_ARGS = [
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MAX_SECONDS = 5  # face_noface.mov (6.4 s) is too long for the test server
MAX_MB = 1.5  # WolfgangLanger_Pexels.mp4 (1.6 MB) is too large


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def space_url(tmp_path_factory, shared_data):
    """`avemo space` in a subprocess, as the README starts it, on a free local port."""
    scratch = tmp_path_factory.mktemp("space")
    port = _free_port()
    # The port through Gradio's own variable, as Spaces sets it; the host through the flag.
    env = {
        **os.environ,
        "AVEMO_EXAMPLES_DIR": str(shared_data),
        "GRADIO_TEMP_DIR": str(scratch / "gradio"),
        "GRADIO_SERVER_PORT": str(port),
    }
    env.pop("PYTHONPATH", None)
    log = open(scratch / "server.log", "w+")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "avemo.cli",
            "space",
            "--host",
            "127.0.0.1",
            "--max-duration",
            str(MAX_SECONDS),
            "--max-file-mb",
            str(MAX_MB),
        ],
        cwd=scratch,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 150
    try:
        while True:
            if server.poll() is not None:
                log.seek(0)
                pytest.fail(f"avemo space exited with {server.returncode}:\n{log.read()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                log.seek(0)
                pytest.fail(f"avemo space did not answer on {url} within 150 s:\n{log.read()}")
            time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.seek(0)
        server_log = log.read()
        log.close()
    assert "Traceback" not in server_log, server_log


@pytest.fixture(scope="module")
def predictor():
    from avemo.inference import Predictor

    return Predictor()


def _client(url):
    from gradio_client import Client

    return Client(url, verbose=False)


def test_page_in_chromium_shows_label_probabilities_plots_and_faces(space_url, shared_data, predictor, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is needed (tests/run.sh installs it with apt)"
    clip = shared_data / "video" / "single_face.mp4"
    expected = predictor.predict_file(clip)
    ranked = sorted(expected.scores.items(), key=lambda item: -item[1])
    outside = []
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=chromium,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 1000},
        )
        try:
            page = context.new_page()
            page.on(
                "requestfinished",
                lambda request: (
                    outside.append(request.url) if urlparse(request.url).hostname not in (None, "127.0.0.1") else None
                ),
            )
            page.goto(space_url, wait_until="networkidle")
            page.locator("#video-input input[type=file]").set_input_files(str(clip))
            page.wait_for_selector("#video-input video", timeout=30_000)
            page.click("#run-video")

            label = page.locator("#label-output")
            expect(label).to_contain_text(f"{round(ranked[0][1] * 100)}%", timeout=60_000)
            text = label.inner_text()
            assert text.split("\n")[1] == expected.label  # the heading of the Label component
            for name in expected.scores:  # every probability is listed
                assert name in text
            assert f"{round(ranked[1][1] * 100)}%" in text
            expect(page.locator("#summary-output")).to_contain_text(
                f"{expected.frames_used} of {expected.frames_sampled}"
            )

            # The per-frame plot and the face crops are images the browser decoded.
            plot = page.locator("#timeline-output img")
            expect(plot).to_have_count(1)
            assert plot.evaluate("img => img.complete && img.naturalWidth") > 300
            faces = page.locator("#faces-output img")
            expect(faces).to_have_count(expected.frames_used)
            assert all(
                faces.nth(i).evaluate("img => img.complete && img.naturalWidth") > 0
                for i in range(expected.frames_used)
            )
            # Every person: the one face of this clip, in its own gallery.
            expect(page.locator("#persons-output img")).to_have_count(1)
            expect(page.locator("#persons-summary")).to_contain_text("person 1")
            # What the model is, in plain words.
            expect(page.locator("#model-card")).to_contain_text("FER2013")
            expect(page.locator("#model-card")).to_contain_text("Starting weights")
            expect(page.locator("body")).to_contain_text("Article 5(1)(f)")
            page.screenshot(path=str(tmp_path / "space.png"), full_page=True)

            # An example picture is one click away.
            page.get_by_role("tab", name="Picture").click()
            page.get_by_text("posed: surprise").click()
            page.wait_for_selector("#image-input img", timeout=30_000)
            page.click("#run-image")
            still = predictor.predict_file(shared_data / "images" / "0-f1-su-ph.jpg")
            expect(page.locator("#summary-output")).to_contain_text("1 of 1", timeout=60_000)
            expect(label).to_contain_text(f"{round(max(still.scores.values()) * 100)}%")
            assert label.inner_text().split("\n")[1] == still.label
        finally:
            context.close()
    assert not outside, f"the page reached beyond the local server: {outside}"
    SCREENSHOT_COPY.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(tmp_path / "space.png", SCREENSHOT_COPY)
    assert (tmp_path / "space.png").stat().st_size > 50_000


def test_bad_files_get_one_readable_line(space_url, shared_data, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    corrupt = tmp_path / "broken.mp4"
    corrupt.write_bytes(b"\x00\x01garbage" * 500)
    empty = tmp_path / "empty.mov"
    empty.write_bytes(b"")
    cases = {
        corrupt: "broken.mp4: not a readable media file",
        empty: "empty.mov: file is empty",
        shared_data / "video" / "no_face.mp4": "no_face.mp4: no face to predict from",
        shared_data
        / "video"
        / "face_noface.mov": f"face_noface.mov: the clip lasts 6.4 s, longer than this Space accepts ({MAX_SECONDS} s)",
        shared_data / "audio" / "crema-d" / "1002_DFA_ANG_XX.mp3": "1002_DFA_ANG_XX.mp3: not a video",
    }
    client = _client(space_url)
    for path, message in cases.items():
        with pytest.raises(AppError) as caught:
            client.predict(handle_file(str(path)), api_name="/predict")
        text = str(caught.value)
        assert text.startswith(message), text
        assert "Traceback" not in text and "/gradio" not in text and str(tmp_path) not in text
    with pytest.raises(AppError, match="Upload a video or a picture"):
        client.predict(None, api_name="/predict")
    # Gradio refuses uploads over the limit before they reach the server.
    with pytest.raises(ValueError, match="exceeds the maximum file size"):
        client.predict(handle_file(str(shared_data / "video" / "WolfgangLanger_Pexels.mp4")), api_name="/predict")


def test_concurrent_requests_get_their_own_results(space_url, shared_data, predictor):
    from gradio_client import handle_file

    files = [
        shared_data / "video" / "single_face.mp4",
        shared_data / "images" / "0-f1-su-ph.jpg",
        shared_data / "images" / "multi_face.jpg",
        shared_data / "images" / "15-f13-anc-ph.jpg",
    ]
    clients = [_client(space_url), _client(space_url)]  # two sessions, as two visitors
    jobs = [clients[index % 2].submit(handle_file(str(path)), api_name="/predict") for index, path in enumerate(files)]
    results = [job.result(timeout=120) for job in jobs]
    labels = set()
    for path, outputs in zip(files, results):
        label, summary, windows, timeline, faces, spectrogram, audio_note, raw, people, people_summary = outputs
        expected = predictor.predict_file(path)
        # Every person: one crop each, captioned with their label (multi_face.jpg: dlib finds 4 faces).
        persons = predictor.predict_file(path, persons=True).persons
        assert len(people) == len(persons) == len(raw["persons"]) == (4 if path.name == "multi_face.jpg" else 1)
        assert [item["caption"] for item in people] == [
            f"person {p.id}: {p.label} {p.scores[p.label]:.2f}" for p in persons
        ]
        assert f"**person {persons[0].id}**" in people_summary
        assert raw["file"] == path.name
        assert raw["label"] == expected.label == label["label"]
        assert raw["frames_used"] == expected.frames_used == len(faces)
        assert f"{expected.frames_used} of {expected.frames_sampled}" in summary
        for name, score in expected.scores.items():
            assert raw["scores"][name] == pytest.approx(score, abs=2e-6)
        assert {entry["label"]: entry["confidence"] for entry in label["confidences"]} == pytest.approx(
            raw["scores"], abs=2e-6
        )
        assert timeline["type"] == "matplotlib" and timeline["plot"].startswith("data:image/png;base64,")
        assert spectrogram is None and "does not use the audio" in audio_note
        assert windows is None and "timeline" not in raw  # short clips and pictures: no timeline
        labels.add(raw["label"])
    assert len(labels) >= 2  # different files, different answers: nothing leaked between requests


# ------------------------------------------------------------------------------------------------ in process


def test_limits_refuse_before_decoding(shared_data):
    from avemo.space.app import EmotionSpace, InputRejected, SpaceSettings

    space = EmotionSpace(SpaceSettings(max_seconds=60, max_mb=50))
    clip = shared_data / "video" / "single_face.mp4"  # 0.21 MB, 2.4 s
    space.check_file(clip)
    space.max_mb = 0.1  # the analyser's limits, made from the settings
    with pytest.raises(InputRejected, match=r"single_face.mp4: 0.2 MB is more than this Space accepts \(0.1 MB\)"):
        space.analyse(clip)
    space.max_mb, space.max_seconds = 50, 2
    with pytest.raises(
        InputRejected, match=r"single_face.mp4: the clip lasts 2.4 s, longer than this Space accepts \(2 s\)"
    ):
        space.analyse(clip)


def test_per_frame_scores_are_what_the_clip_score_averages(shared_data):
    """The shipped model's clip score is the mean of its per-frame probabilities: the timeline must show exactly
    those frames, at their times, and the faces without which frames were dropped."""
    from avemo.space.app import EmotionSpace, SpaceSettings, timeline_figure

    space = EmotionSpace(SpaceSettings())
    analysis = space.analyse(shared_data / "video" / "face_noface.mov")
    prediction = analysis.prediction
    assert len(analysis.per_frame) == len(analysis.crops) == len(analysis.face_times) == prediction["frames_used"]
    assert 0 < prediction["frames_used"] < prediction["frames_sampled"] == len(analysis.frame_times)
    mean = np.mean(analysis.per_frame, axis=0)
    assert mean == pytest.approx([prediction["scores"][label] for label in analysis.labels], abs=1e-5)
    assert analysis.visual_weights == pytest.approx([1 / prediction["frames_used"]] * prediction["frames_used"])
    assert set(analysis.face_times) < set(analysis.frame_times)
    assert analysis.log_mel is None and analysis.audio_weights is None
    figure = timeline_figure(analysis)
    scores_axis = figure.axes[0]
    drawn = {
        line.get_label(): line.get_xdata() for line in scores_axis.get_lines() if not line.get_label().startswith("_")
    }
    assert "no face" in drawn and prediction["label"] in drawn
    assert list(drawn[prediction["label"]]) == analysis.face_times
    png = io.BytesIO()
    figure.savefig(png, format="png")
    assert png.getvalue().startswith(b"\x89PNG")


def test_audio_visual_model_shows_the_log_mel_with_its_attention(tmp_path, shared_data):
    """With a model that uses audio, the spectrogram is the log-mel the model read and the overlay its attention."""
    from avemo.model_folders.create import init_model_folder
    from avemo.space.app import EmotionSpace, SpaceSettings, spectrogram_figure, summary_markdown
    from media import decode_all, write_video

    frames, fps, _, _ = decode_all(shared_data / "video" / "single_face.mp4")
    import av

    with av.open(str(shared_data / "audio" / "crema-d" / "1002_DFA_HAP_XX.mp3")) as container:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=16000)
        speech = np.concatenate(
            [
                chunk.to_ndarray().reshape(-1)
                for frame in container.decode(audio=0)
                for chunk in resampler.resample(frame)
            ]
        )
    talking = write_video(tmp_path / "talking.mp4", frames[:60], fps=fps, audio=speech, sampling_rate=16000)
    model = init_model_folder(tmp_path / "av", preset="fer2013-audio-visual")
    space = EmotionSpace(SpaceSettings(model=str(model)))
    analysis = space.analyse(talking)
    assert analysis.prediction["audio_used"] is True
    mel, time_frames = analysis.log_mel.shape
    assert mel == 128 and abs(time_frames * analysis.hop_seconds - 2.0) < 0.5
    weights = analysis.audio_weights
    assert weights.ndim == 2 and weights.sum() == pytest.approx(1, abs=1e-4) and (weights >= 0).all()
    figure = spectrogram_figure(analysis)
    image, overlay = figure.axes[0].get_images()
    assert np.array_equal(image.get_array(), analysis.log_mel) and np.array_equal(overlay.get_array(), weights)
    assert "Audio: used." in summary_markdown(analysis, uses_audio=True)
    assert "untrained" in summary_markdown(analysis, uses_audio=True)


def test_long_uploads_get_a_timeline(shared_data):
    """The 19.7 s Pexels clip (longer than TIMELINE_FROM_SECONDS): a score every second over 2 s windows, the same
    rows `avemo predict --timeline` writes, in the page's JSON and as a plot."""
    from avemo.space.app import TIMELINE_FROM_SECONDS, EmotionSpace, SpaceSettings
    from avemo.inference.timeline import TimelineBuilder, timeline_figure

    space = EmotionSpace(SpaceSettings())
    clip = shared_data / "video" / "WolfgangLanger_Pexels.mp4"
    analysis = space.analyse(clip)
    assert TIMELINE_FROM_SECONDS <= 19.7 and len(analysis.timeline) == 19
    expected = [row.to_dict() for row in TimelineBuilder(space.predictor, window=2.0, hop=1.0).run(clip)]
    assert analysis.prediction["timeline"] == expected
    figure = timeline_figure(analysis.timeline, analysis.labels)
    plotted = {line.get_label(): list(line.get_ydata()) for line in figure.axes[0].get_lines()}
    assert plotted[expected[0]["label"]][0] == pytest.approx(expected[0]["scores"][expected[0]["label"]])


def test_an_ensemble_space_answers_with_the_mean_and_says_so(tmp_path, shared_data, monkeypatch):
    """Several models (AVEMO_MODEL comma-separated, weights from AVEMO_MODEL_WEIGHTS): the label probabilities are
    the weighted mean of the models' own, the page names every model, and the plots are the first model's."""
    from avemo.inference import Predictor
    from avemo.model_folders.create import init_model_folder
    from avemo.space.app import EmotionSpace, SpaceSettings, model_markdown

    other = init_model_folder(tmp_path / "av", preset="fer2013-audio-visual")  # another processor and recipe size
    monkeypatch.setenv("AVEMO_MODEL", f"fer2013-faces, {other}")
    monkeypatch.setenv("AVEMO_MODEL_WEIGHTS", "3,1")
    settings = SpaceSettings.resolve()
    assert settings.model == ("fer2013-faces", str(other)) and settings.weights == (3.0, 1.0)
    space = EmotionSpace(settings)
    clip = shared_data / "video" / "single_face.mp4"
    analysis = space.analyse(clip)
    first = Predictor("fer2013-faces", device="cpu").predict_file(clip).scores
    second = Predictor(other, device="cpu").predict_file(clip).scores
    expected = {label: 0.75 * first[label] + 0.25 * second[label] for label in first}
    assert analysis.prediction["scores"] == pytest.approx(expected, abs=2e-6)
    assert np.mean(analysis.per_frame, axis=0) == pytest.approx([first[label] for label in analysis.labels], abs=1e-5)
    page = model_markdown(space)
    assert "an ensemble of 2 models" in page and "first model's view" in page and "untrained" in page
