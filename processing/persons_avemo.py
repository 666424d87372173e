"""Every person of a video (`AVEmoProcessor.process_video(path, persons=True)`): all faces tracked with ids, one clip
per person for the model, and the voice given to the face that speaks.

One pass over the file, in order (`stream_media`):
- at the processor's `num_frames` sample times (the frames `process_video` would take) every face is found
  (`FaceAligner.align_all`, HOG with and without up-sampling) and cut: these crops are what the model reads;
- between them, every `track_interval` seconds, faces are found again (HOG without up-sampling) only to follow them;
- every frame (at most 30 a second) gives each visible face's mouth grey levels (speaker_attribution_avemo).
The tracker (face_tracking_avemo) links all these sightings into people. The audio is then cut into 2 s stretches,
each given to the person who speaks in it (or to nobody), and each person's clip gets:
- the faces of the sample frames they were seen in, except faces smaller than `min_face_size` pixels (a quarter of
  the recipe's crop side, at least 24: upscaled further they carry little);
- the audio of the stretches given to them, joined in time order, when the model uses audio; none when they never
  speak (their prediction is then visual only). The only person of a video gets the whole audio track, exactly as
  without `persons`.
A person seen in fewer than `min_sightings` sampled frames (2; 1 for a picture or a one-frame video), or with no face
large enough, gets no prediction: they are reported with the reason, not dropped.
"""

from dataclasses import dataclass, field

import numpy as np

from .clip_avemo import NothingToPredictError, ProcessedClip
from .face_tracking_avemo import FaceTrack, FaceTracker
from .speaker_attribution_avemo import (
    MAX_MOTION_FPS,
    MouthMotion,
    SpeechStretch,
    attribute_stretch,
    stretch_bounds,
)
from .video_io_avemo import StillImageError, read_audio, read_image, sample_times, stream_media, video_info


@dataclass
class PersonClip(ProcessedClip):
    """One person's clip: their faces and the audio attributed to them (a `ProcessedClip`, so the processor batches
    it), with what was seen of them."""

    person_id: int = 0
    sightings: int = 0  # sampled frames (model and tracking ones) the face was seen in
    first_seen: float = 0.0  # seconds
    last_seen: float = 0.0
    box: tuple = (0, 0, 0, 0)  # median (x, y, width, height) in pixels
    speech_seconds: float = 0.0  # speech attributed to them
    speaking: float | None = None  # share of the video's speech attributed to them; None when it has no speech
    predictable: bool = True  # False: too few sightings or no face large enough (the warnings say which)


@dataclass
class PersonsVideo:
    """A video's people, largest screen time first, and whom its speech went to."""

    source: str
    persons: list[PersonClip]
    frame_times: list[float]  # the sample frames (the model's)
    duration: float
    audio: np.ndarray | None  # the whole audio track at the extractor's rate (None: none, or silent)
    stretches: list[SpeechStretch] = field(default_factory=list)
    tracks: list[FaceTrack] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # about the video as a whole

    def main_person(self) -> tuple[PersonClip | None, str]:
        """Whom a single answer describes: the main speaker, else the person on screen longest (predictable people
        only), with the reason; (None, "") without any."""
        candidates = [person for person in self.persons if person.predictable]
        speakers = [person for person in candidates if person.speech_seconds > 0]
        if speakers:
            return max(speakers, key=lambda person: person.speech_seconds), "the main speaker"
        if candidates:
            return candidates[0], "the person on screen longest"
        return None, ""


def read_persons(processor, path, track_interval: float = 0.5, stretch: float = 2.0, identity=None) -> PersonsVideo:
    """Track every person of the video (or picture) at `path` with `processor`'s settings; see the module docstring.
    `identity`: the tracker's face-identity descriptor (default dlib's; see `FaceTracker`). Returns a `PersonsVideo`."""
    path = str(path)
    try:
        info = video_info(path)
    except StillImageError:
        return _still_image(processor, path)
    extractor = processor.feature_extractor
    audio, warnings = None, []
    if info["has_audio"]:
        audio = read_audio(path, extractor.sampling_rate)
        if audio is not None and (audio.size == 0 or extractor.is_silent(audio)):
            if processor.uses_audio:
                warnings.append("the audio track is silent: prediction from the faces only")
            audio = None
    elif processor.uses_audio:
        warnings.append("no audio stream: prediction from the faces only")
    duration = info["duration"]
    times = sample_times(duration, processor.num_frames)
    aligner, tracker, motion = processor.aligner, FaceTracker(identity).load_models(), MouthMotion()
    events = stream_media(
        path,
        None,
        audio=False,
        frame_times=times,
        track_interval=track_interval,
        gray_fps=MAX_MOTION_FPS if audio is not None else None,
    )
    next(events)  # the info event
    frame_times, sample_faces, detections = [], {}, 0
    for kind, time, payload in events:
        if kind == "gray":
            motion.add(time, payload, tracker.tracks)
            continue
        sample = kind == "frame"
        detections += 1
        faces = aligner.align_all(payload, len(frame_times), thorough=sample)
        for track, face in tracker.update(time, payload, faces):
            if sample:
                sample_faces.setdefault(track.id, []).append(face)
        if sample:
            frame_times.append(time)
    stretches = []
    if audio is not None:
        bounds = stretch_bounds(duration, stretch)
        stretches = [attribute_stretch(motion, audio, extractor.sampling_rate, *bound) for bound in bounds]
    persons = _persons(processor, path, tracker.tracks, sample_faces, frame_times, detections, audio, stretches)
    if tracker.tracks and not any(person.predictable for person in persons):
        warnings.append("no face large enough or seen often enough to predict from")
    elif not tracker.tracks and frame_times:
        warnings.append(f"no face found in any of the {len(frame_times)} sampled frames")
    return PersonsVideo(path, persons, frame_times, duration, audio, stretches, tracker.tracks, warnings)


def _persons(processor, path, tracks, sample_faces, frame_times, detections, audio, stretches) -> list[PersonClip]:
    """One `PersonClip` per track, largest screen time first (then the larger face, then the earlier id)."""
    rate = processor.feature_extractor.sampling_rate
    min_face = min_face_size(processor.recipe)
    min_sightings = 1 if detections <= 1 else 2
    total_speech = sum(stretch.speech_seconds for stretch in stretches)
    predictable_tracks = [track for track in tracks if _big_faces(sample_faces.get(track.id, []), min_face)]
    predictable_tracks = [track for track in predictable_tracks if len(track.times) >= min_sightings]
    alone = len(predictable_tracks) == 1
    persons = []
    for track in tracks:
        faces = sample_faces.get(track.id, [])
        big = _big_faces(faces, min_face)
        warnings = []
        if len(big) < len(faces):
            warnings.append(
                f"{len(faces) - len(big)} of its faces are smaller than {min_face} px (the {processor.recipe.size} px "
                "crop would be mostly upscaling): not used"
            )
        predictable = track in predictable_tracks
        if len(track.times) < min_sightings:
            warnings.append(f"seen in {len(track.times)} sampled frame, fewer than {min_sightings}: not predicted")
        elif not faces:
            warnings.append("not seen in any of the frames the model reads (only between them): not predicted")
        elif not big:
            warnings.append("no face large enough: not predicted")
        own = [stretch for stretch in stretches if stretch.speaker == track.id]
        speech = round(sum(stretch.speech_seconds for stretch in own), 3)
        person_audio = None
        if processor.uses_audio and audio is not None:
            if alone and predictable:
                person_audio = audio  # the only person: the whole track, as without persons
            elif own:
                person_audio = np.concatenate([audio[int(s.start * rate) : int(s.end * rate)] for s in own])
        person = PersonClip(
            source=path,
            faces=big,
            frame_times=list(frame_times),
            audio=person_audio,
            warnings=warnings,
            person_id=track.id,
            sightings=len(track.times),
            first_seen=round(track.first_seen, 3),
            last_seen=round(track.last_seen, 3),
            box=track.median_box(),
            speech_seconds=speech,
            speaking=round(speech / total_speech, 4) if total_speech > 0 else None,
            predictable=predictable,
        )
        if predictable:
            try:
                processor._finish(person)
            except NothingToPredictError:  # cannot happen with a face, kept for safety
                person.predictable = False
        persons.append(person)
    persons.sort(key=lambda p: (-p.sightings, -(p.box[2] * p.box[3]), p.person_id))
    return persons


def min_face_size(recipe) -> int:
    """Faces smaller than this (pixels, the box's shorter side) are not predicted from: a quarter of the recipe's crop
    side, at least 24."""
    return max(24, recipe.size // 4)


def face_side(face) -> int:
    """The shorter side of a face's detector box, in pixels (what `min_face_size` is compared with)."""
    left, top, right, bottom = face.box
    return min(right - left, bottom - top) + 1


def _big_faces(faces, min_face: int) -> list:
    return [face for face in faces if face_side(face) >= min_face]


def _still_image(processor, path: str) -> PersonsVideo:
    """A picture: one person per face (no tracking, no audio)."""
    faces = processor.aligner.align_all(read_image(path), 0, thorough=True)
    tracks = [FaceTrack(index + 1, [0.0], [tuple(face.box)], face.landmarks) for index, face in enumerate(faces)]
    sample_faces = {track.id: [face] for track, face in zip(tracks, faces)}
    persons = _persons(processor, path, tracks, sample_faces, [0.0], 1, None, [])
    warnings = ["a still image: one frame, no audio"] if processor.uses_audio else []
    if not faces:
        warnings.append("no face found in the picture")
    return PersonsVideo(path, persons, [0.0], 0.0, None, [], tracks, warnings)


__all__ = ["PersonClip", "PersonsVideo", "read_persons", "min_face_size", "face_side"]
