"""Every person in a video: faces tracked with ids, per-person results and timelines, the voice given to the face that
speaks, annotated videos. On real media: the shared photos and clips, and videos composed from them (talking_faces)."""

import csv
import json

import numpy as np
import pytest

from avemo.inference import Predictor
from avemo.processing import FaceAligner, NothingToPredictError, read_image
from avemo.processing.face_tracking_avemo import box_overlap
from avemo.processing.speaker_attribution_avemo import gaussian_information, log_energy, stretch_bounds
from avemo.inference.timeline import PersonWindow, TimelineBuilder

import talking_faces as talk
from conftest import TINY, run_avemo


@pytest.fixture(scope="module")
def shipped():
    return Predictor(device="cpu")


@pytest.fixture(scope="module")
def audio_visual(tmp_path_factory):
    """A tiny untrained audio-video model: what matters here is which faces and audio reach it."""
    from avemo.model_folders.create import init_model_folder
    from modeling_avemo import AVEmoConfig

    folder = init_model_folder(tmp_path_factory.mktemp("persons") / "tiny", AVEmoConfig(**TINY))
    return Predictor(folder, device="cpu")


@pytest.fixture(scope="module")
def two_people(shared_data, tmp_path_factory):
    """7 s side by side: left a RAVDESS face saying three CREMA-D sentences (its audio kept), right the Pexels clip's
    expressive face, muted; and the same with the sides swapped."""
    folder = tmp_path_factory.mktemp("two")
    audio = talk.speech(shared_data, [3, 0, 5])
    frames = int(len(audio) / talk.RATE * talk.FPS)
    speaker = talk.speaker_frames(shared_data, 1, audio, frames, seed=1)
    other = talk.video_frames(shared_data / "video" / "WolfgangLanger_Pexels.mp4", frames, offset=8.0)
    left = talk.side_by_side(folder / "speaker_left.mp4", speaker, other, audio)
    right = talk.side_by_side(folder / "speaker_right.mp4", other, speaker, audio)
    return left, right


def side_of(box) -> str:
    return "left" if box[0] + box[2] / 2 < talk.PANEL[0] else "right"


def test_information_and_energy_formulas():
    """Hershey and Movellan's Gaussian mutual information, -1/2 log(1 - rho^2), checked against numpy's correlation;
    log energy against a direct mean of squares."""
    rng = np.random.default_rng(0)
    signal = rng.normal(size=200)
    columns = np.stack([signal + rng.normal(size=200) * noise for noise in (0.1, 1.0, 10.0)], axis=1)
    expected = [-0.5 * np.log(1 - np.corrcoef(columns[:, i], signal)[0, 1] ** 2) for i in range(3)]
    np.testing.assert_allclose(gaussian_information(columns, signal), expected, rtol=1e-6)
    assert gaussian_information(-columns, signal)[0] == pytest.approx(expected[0])  # the sign does not matter
    assert gaussian_information(np.ones((200, 1)), signal)[0] == 0.0  # a constant pixel carries nothing
    waveform = rng.normal(size=16000).astype(np.float32) * 0.1
    [level] = log_energy(waveform, 16000, [0.5])
    assert level == pytest.approx(10 * np.log10(np.mean(waveform[7680:8320].astype(np.float64) ** 2)), abs=1e-6)
    assert stretch_bounds(6.5) == [(0.0, 2.0), (2.0, 4.0), (4.0, 6.5)]  # a last piece under 1 s joins the one before
    assert stretch_bounds(2.4) == [(0.0, 2.4)] and stretch_bounds(5.5) == [(0.0, 2.0), (2.0, 4.0), (4.0, 5.5)]
    assert box_overlap((0, 0, 9, 9), (5, 0, 14, 9)) == pytest.approx(50 / 150)
    assert box_overlap((0, 0, 9, 9), (10, 0, 19, 9)) == 0.0


def test_multi_face_photo_gives_one_person_per_face(shipped, shared_data):
    """dlib finds 4 faces in multi_face.jpg (HOG without up-sampling finds only 3 at the default detection size):
    4 persons, each one face, in distinct places, the clip-level answer one of them."""
    path = shared_data / "images" / "multi_face.jpg"
    aligner = FaceAligner("fer2013")
    frame = read_image(path)
    assert len(aligner.align_all(frame, thorough=False)) == 3 and len(aligner.align_all(frame)) == 4
    result = shipped.predict_file(path, persons=True)
    assert len(result.persons) == 4 and sorted(p.id for p in result.persons) == [1, 2, 3, 4]
    boxes = [(x, y, x + w - 1, y + h - 1) for x, y, w, h in (p.box for p in result.persons)]
    assert all(box_overlap(a, b) == 0 for i, a in enumerate(boxes) for b in boxes[i + 1 :])
    assert all(p.frames == 1 and p.label == max(p.scores, key=p.scores.get) for p in result.persons)
    described = next(p for p in result.persons if p.id == result.person)
    assert result.scores == described.scores and any("describe person" in note for note in result.notes)
    # The same face alone, predicted without persons, gives that person's scores: each person is their own clip.
    left, top, right, bottom = boxes[0]
    crop = frame[max(0, top - 60) : bottom + 60, max(0, left - 60) : right + 60]
    alone = shipped.predict_clip(shipped.processor.process_frames([crop]))
    assert alone.label == result.persons[0].label


def test_single_face_clip_gives_what_predict_gives(shipped, audio_visual, shared_data, tmp_path):
    """A clip of one face: with persons, exactly the prediction without (scores, frames, warnings), for the shipped
    faces model and for an audio-video model on a clip with real speech."""
    from media import decode_all, write_video

    frames, fps, _, _ = decode_all(shared_data / "video" / "single_face.mp4")
    voice = talk.speech(shared_data, [2])
    talking = write_video(tmp_path / "talking.mp4", frames + frames[::-1], fps, voice, talk.RATE)
    for predictor, path in (
        (shipped, shared_data / "video" / "single_face.mp4"),
        (audio_visual, talking),
        (shipped, shared_data / "images" / "single_face.jpg"),
    ):
        plain, persons = predictor.predict_file(path), predictor.predict_file(path, persons=True)
        assert persons.scores == plain.scores and persons.label == plain.label
        assert (persons.frames_used, persons.frames_sampled, persons.audio_used) == (
            plain.frames_used,
            plain.frames_sampled,
            plain.audio_used,
        )
        assert persons.warnings == plain.warnings
        [person] = persons.persons
        assert person.id == persons.person == 1 and person.scores == plain.scores
    assert plain.to_dict().keys() == persons.to_dict().keys() - {"persons", "person"}  # nothing else changes
    assert "persons" not in plain.to_dict()


def test_two_people_side_by_side_keep_their_ids_and_the_speaker_gets_the_voice(audio_visual, two_people):
    """Two tracks whose ids never swap sides; the face with the kept audio is the main speaker (given at least two
    thirds of the speech: the 2 s stretches are judged one by one, and the quiet last sentence of this clip goes to the
    wrong face), the muted one is visual only; the same with the sides swapped."""
    processor = audio_visual.processor
    for path, speaking_side in zip(two_people, ("left", "right")):
        video = processor.process_video(path, persons=True)
        assert len(video.tracks) == 2, [(t.id, t.boxes[:3]) for t in video.tracks]
        for track in video.tracks:  # every sighting of an id on one side: no swap
            assert len({side_of((b[0], b[1], b[2] - b[0] + 1, b[3] - b[1] + 1)) for b in track.boxes}) == 1
        result = audio_visual.predict_persons(video)
        by_side = {side_of(p.box): p for p in result.persons}
        speaker, listener = by_side[speaking_side], by_side[{"left": "right", "right": "left"}[speaking_side]]
        assert speaker.speaking >= 2 / 3 and listener.speaking <= 1 / 3, (speaker, listener, video.stretches)
        assert speaker.audio_used
        assert result.person == speaker.id and any("main speaker" in note for note in result.notes)
        # Each is fused with the audio of their own stretches only: the speaker's joined, the listener's if any.
        for person in video.persons:
            own = [s for s in video.stretches if s.speaker == person.person_id]
            assert (
                len(person.audio) == sum(int(s.end * 16000) - int(s.start * 16000) for s in own)
                if own
                else (person.audio is None)
            )


def test_a_face_that_leaves_and_comes_back_keeps_its_id(shipped, shared_data, tmp_path):
    """single_face.mp4's man, a cut to frames without a face, the Pexels woman, a cut, the man again: two people,
    the man's id the same before and after (joined again by his identity descriptor), the woman another."""
    man = talk.video_frames(shared_data / "video" / "single_face.mp4", 50)
    empty = talk.video_frames(shared_data / "video" / "no_face.mp4", 40, offset=1.0)
    woman = talk.video_frames(shared_data / "video" / "WolfgangLanger_Pexels.mp4", 50, offset=12.0)
    path = talk.one_after_another(tmp_path / "back.mp4", man, empty, woman, man[::-1])
    video = shipped.processor.process_video(path, persons=True)
    assert len(video.tracks) == 2, [(t.id, t.times) for t in video.tracks]
    first, second = video.tracks
    assert first.first_seen < 2.0 and first.last_seen > 5.6 and 3.6 < second.first_seen < 5.6
    gaps = np.diff(first.times)
    assert gaps.max() > 3.0  # absent while the empty frames and the woman were on screen, then back
    result = shipped.predict_persons(video)
    assert [p.id for p in result.persons] == [1, 2] and all(p.label for p in result.persons)


def test_no_face_and_twenty_faces(shipped, audio_visual, shared_data, tmp_path):
    """No face: the faces model refuses as without persons, an audio-video model answers from the audio with no
    persons. Twenty faces: twenty people, each box in its own cell of the grid."""
    from PIL import Image

    no_face = shared_data / "video" / "no_face.mp4"
    with pytest.raises(NothingToPredictError, match="no face"):
        shipped.predict_file(no_face, persons=True)
    result = audio_visual.predict_file(no_face, persons=True)
    assert result.persons == [] and result.person is None and result.audio_used and result.frames_used == 0
    grid, cells = talk.face_grid(shared_data, range(1, 21))
    Image.fromarray(grid).save(tmp_path / "twenty.png")
    crowd = shipped.predict_file(tmp_path / "twenty.png", persons=True)
    assert len(crowd.persons) == 20
    homes = []
    for person in crowd.persons:
        x, y, w, h = person.box
        homes += [
            i
            for i, (left, top, right, bottom) in enumerate(cells)
            if left <= x + w / 2 <= right and top <= y + h / 2 <= bottom
        ]
    assert sorted(homes) == list(range(20))


def test_timeline_per_person(audio_visual, two_people):
    """--timeline with persons: one row per window and person present; the speaker's rows are the ones that hear the
    window's audio; memory bounded as without persons."""
    builder = TimelineBuilder(audio_visual, window=2.0, hop=1.0, persons=True)
    rows = list(builder.run(two_people[0]))
    assert all(isinstance(row, PersonWindow) for row in rows) and len(builder.tracks) == 2
    sides = {
        track.id: side_of((track.boxes[0][0], 0, track.boxes[0][2] - track.boxes[0][0], 0)) for track in builder.tracks
    }
    starts = sorted({row.start for row in rows})
    assert all(sorted(row.person for row in rows if row.start == start) == [1, 2] for start in starts)
    speaking = [row for row in rows if row.speaking]
    assert len(speaking) >= 0.75 * len(starts) and sum(sides[row.person] == "left" for row in speaking) >= 0.75 * len(
        speaking
    )
    assert all(row.audio_used == row.speaking for row in rows)
    assert builder.peak_held["faces"] <= 2 * (2 + builder.embed_batch * 4)


def test_cli_persons_json_timeline_and_annotated_video(two_people, shared_data, tmp_path):
    """avemo predict --persons --json names every person; --timeline --persons writes rows per person and a PNG;
    --annotate writes the video (same frames, audio kept) with each box drawn in the person's colour."""
    import av
    from matplotlib import colormaps

    path = two_people[0]
    photo = shared_data / "images" / "multi_face.jpg"
    result = run_avemo("predict", path, photo, "--persons", "--json", "--annotate", tmp_path / "annotated")
    assert result.returncode == 0, result.stderr[-3000:]
    video, picture = [json.loads(line) for line in result.stdout.splitlines()]
    keys = {"id", "frames", "first_seen", "last_seen", "box", "label", "scores", "speaking", "audio_used", "warnings"}
    assert len(video["persons"]) == 2 and all(keys <= set(person) for person in video["persons"])
    assert video["person"] in [person["id"] for person in video["persons"]] and len(picture["persons"]) == 4
    annotated = tmp_path / "annotated" / "speaker_left.annotated.mp4"
    assert (tmp_path / "annotated" / "multi_face.annotated.png").is_file()
    with av.open(str(path)) as source, av.open(str(annotated)) as drawn:
        assert drawn.streams.audio and drawn.streams.video[0].frames == source.streams.video[0].frames
        middle = source.streams.video[0].frames // 2
        original = next(f for i, f in enumerate(source.decode(video=0)) if i == middle).to_ndarray(format="rgb24")
        marked = next(f for i, f in enumerate(drawn.decode(video=0)) if i == middle).to_ndarray(format="rgb24")
    for person in video["persons"]:  # near each box's left edge, half way down, a column of the person's colour
        x, y, w, h = person["box"]
        colour = np.array(colormaps["tab10"]((person["id"] - 1) % 10)[:3]) * 255

        def closest(frame):
            columns = frame[y + h // 3 : y + 2 * h // 3, max(0, x - 10) : x + 10].astype(float).mean(axis=0)
            return np.abs(columns - colour).max(axis=1).min()

        assert closest(marked) < 30 < closest(original), (person["id"], closest(marked), closest(original))

    timeline = run_avemo("predict", path, "--timeline", "--persons", "--output-dir", tmp_path / "out")
    assert timeline.returncode == 0, timeline.stderr[-3000:]
    with open(tmp_path / "out" / "speaker_left.timeline.csv") as file:
        table = list(csv.DictReader(file))
    assert {row["person"] for row in table} == {"1", "2"} and {"speaking", "label"} <= set(table[0])
    assert (tmp_path / "out" / "speaker_left.timeline.png").read_bytes()[:4] == b"\x89PNG"
    assert "person 1:" in timeline.stdout and "person 2:" in timeline.stdout


def test_space_shows_every_person_and_who_spoke(audio_visual, two_people):
    """The Space's analysis lists both people of the side-by-side clip with a face crop each, and says who speaks."""
    from avemo.space.app import EmotionSpace, SpaceSettings, person_caption, persons_markdown

    space = EmotionSpace(SpaceSettings(model=audio_visual.source, max_seconds=60, max_mb=50))
    analysis = space.analyse(two_people[0])
    assert len(analysis.persons) == 2 and set(analysis.person_crops) == {p.id for p in analysis.persons}
    speaker = max(analysis.persons, key=lambda person: person.speaking)
    assert side_of(speaker.box) == "left" and "speaking" in person_caption(speaker)
    text = persons_markdown(analysis)
    line = {
        person.id: next(row for row in text.splitlines() if f"**person {person.id}**" in row)
        for person in analysis.persons
    }
    assert "**speaks**" in line[speaker.id] and "heard by the model" in line[speaker.id]
    assert len(analysis.prediction["persons"]) == 2


def test_the_ms1m_ir50_itself_tells_people_apart(shared_data, tmp_path):
    """A model whose face CNN is face.evoLVe's MS-Celeb-1M IR50 as published follows people with its own vectors
    (L2-normalised), not dlib's; after a training run, or for another face CNN, dlib's descriptor is used."""
    import torch

    from avemo.inference.identity import FaceCNNIdentity, has_identity_face_cnn
    from avemo.model_folders.create import init_model_folder
    from modeling_avemo import AVEmoConfig

    config = AVEmoConfig(**TINY)
    ms1m = {"part": "face_encoder", "source": "backbone_ir50_ms1m_epoch120.pth", "trained_on": "face identities of "}
    config.provenance["weights"].append({**ms1m, "trained_on": ms1m["trained_on"] + "MS-Celeb-1M (face.evoLVe IR_50)"})
    assert has_identity_face_cnn(config)
    assert not has_identity_face_cnn(AVEmoConfig(**{**TINY, "face_backbone": "mini_xception"}))
    trained = AVEmoConfig(**TINY, provenance={**config.provenance, "training": [{"tool": "avemo train"}]})
    assert not has_identity_face_cnn(trained)
    folder = init_model_folder(tmp_path / "ir50", AVEmoConfig(**TINY))
    saved = json.loads((folder / "config.json").read_text())  # as if `avemo init --ir50` had loaded the checkpoint
    saved["provenance"]["weights"] = config.provenance["weights"]
    (folder / "config.json").write_text(json.dumps(saved))
    predictor = Predictor(folder, device="cpu")
    assert isinstance(predictor.identity, FaceCNNIdentity)
    frame = read_image(shared_data / "images" / "single_face.jpg")
    [face] = predictor.processor.aligner.align_all(frame)
    pixels = (torch.from_numpy(face.crop).permute(2, 0, 1).float() / 255 - 0.5) / 0.5  # the ArcFace recipe, by hand
    with torch.no_grad():
        vector = predictor.model.avemo.embed_faces(pixels[None].contiguous(memory_format=torch.channels_last))[0]
    np.testing.assert_allclose(predictor.identity(frame, face), (vector / vector.norm()).numpy(), atol=1e-5)
    result = predictor.predict_file(shared_data / "video" / "single_face.mp4", persons=True)
    assert len(result.persons) == 1 and any("face.evoLVe IR50" in note for note in result.notes)
