"""Emotion timelines of long videos (`avemo predict VIDEO --timeline`), in one streaming pass.

The file is read once, in order (`stream_media`): faces are sampled at `faces_per_second`, found and embedded by
the face CNN once each, and the audio is kept only as far back as the current window needs. Every `hop` seconds
a window of `window` seconds is classified from the face vectors and the log-mel of its own audio, so memory does
not grow with the length of the video.

Three things run at once: a reading thread decodes and finds the faces (dlib), workers run the face CNN on batches
of `embed_batch` crops (see `_FaceEmbedder`; on one CPU thread a batch of 4 IR50 faces costs about 80 % of 4
single ones, a batch of 8 about 75 % but with twice the activations in memory), and the caller's thread classifies
each window once its faces are through. A batch goes when it is full, or sooner when a window waits for it and
nothing new has been read; the reading pauses while more batches wait than there are workers. So the timeline
lags a few seconds behind the reading and holds at most a few batches of faces more than a window.

Each window's audio is resampled from the file's own rate with 0.05 s of context on both sides (then cut), so it
gets the same samples as `avemo predict` on that stretch alone would, with the same resampler.
"""

import csv
import json
import threading
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field
from os import PathLike
from pathlib import Path

import numpy as np

from avemo.inference.scores import scores_of, top_label

_CONTEXT_S = 0.05  # resampling context on each side of a window's audio


@dataclass
class TimelineWindow:
    """One row of a timeline (a line of the CSV, an object of the JSON)."""

    start: float
    end: float
    label: str
    scores: dict[str, float]
    frames_sampled: int
    frames_with_face: int
    audio_used: bool
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """The window as one row of the timeline's JSON or CSV."""
        return asdict(self)


def window_starts(duration: float, window: float, hop: float) -> list[float]:
    """Window start times: every `hop` seconds while at least half a window is left (at least one window)."""
    starts, start = [], 0.0
    while start == 0.0 or start + window / 2 <= duration:
        starts.append(round(start, 6))
        start += hop
        if start >= duration:
            break
    return starts


@dataclass
class PersonWindow(TimelineWindow):
    """One row of a timeline with `persons`: one window and one person (None: nobody's face is in it)."""

    person: int | None = None
    speaking: bool = False  # the window's speech was attributed to this person


class TimelineBuilder:
    """Classifies the windows of one file with a `Predictor` (its model and processor).

    With `persons`, every face is tracked (as `processor.process_video(path, persons=True)` does) and each window
    gives one `PersonWindow` per person in it, predicted from that person's faces, and from the window's audio only
    when its speech is theirs; a window without anybody gives one row with `person` None (the audio's answer).
    """

    def __init__(
        self,
        predictor,
        window: float = 2.0,
        hop: float = 1.0,
        faces_per_second: float = 1.0,
        embed_batch: int = 4,
        persons: bool = False,
        track_interval: float = 0.5,
    ):
        if not (window > 0 and hop > 0 and faces_per_second > 0 and embed_batch >= 1 and track_interval > 0):
            raise ValueError(
                f"window ({window}), hop ({hop}), faces_per_second ({faces_per_second}) and track_interval "
                f"({track_interval}) must be > 0 and embed_batch ({embed_batch}) >= 1"
            )
        self.predictor = predictor
        self.window, self.hop, self.faces_per_second = window, hop, faces_per_second
        self.embed_batch = embed_batch
        self.persons, self.track_interval = persons, track_interval
        # The most the last run held at once: what bounds its memory, whatever the length of the video.
        self.peak_held = {"faces": 0, "audio_seconds": 0.0}
        self.tracks = []  # with persons: the last run's FaceTracks (ids, boxes and times), once it has finished

    def run(self, path: str | PathLike, progress=None):
        """Yield a `TimelineWindow` (with persons: `PersonWindow`s) per window, in order, reading the file once."""
        self.peak_held = {"faces": 0, "audio_seconds": 0.0}
        with _FaceEmbedder(self.predictor) as embedder:
            yield from _TimelineRun(self, path, embedder, progress).rows()

    def _probabilities(self, vectors_per_row: list, waveforms: list):
        """The model's probabilities (rows, labels) for rows of face vectors and waveforms (None: no audio)."""
        import torch

        predictor = self.predictor
        processor, model = predictor.processor, predictor.model
        inputs = {}
        if processor.uses_visual:
            size, longest = model.config.face_embedding_size, max(1, max(len(v) for v in vectors_per_row))
            inputs["frame_embeds"] = torch.zeros(len(vectors_per_row), longest, size)
            inputs["frame_mask"] = torch.zeros(len(vectors_per_row), longest, dtype=torch.long)
            for row, vectors in enumerate(vectors_per_row):
                if vectors:
                    inputs["frame_embeds"][row, : len(vectors)] = torch.stack(vectors)
                    inputs["frame_mask"][row, : len(vectors)] = 1
        if processor.uses_audio:
            inputs.update(processor.audio_tensors(waveforms))
        inputs = {key: value.to(predictor.device) for key, value in inputs.items()}
        with torch.inference_mode():
            return model(**inputs).logits.float().softmax(-1).cpu()

    def _usable_audio(self, waveform):
        """The window's waveform if the model uses audio and it is not silent, else None."""
        processor = self.predictor.processor
        if not processor.uses_audio or waveform is None or processor.feature_extractor.is_silent(waveform):
            return None
        return waveform

    def _row(self, cls, start, end, probabilities, frames_sampled, faces, audio_used, warnings, **extra):
        labels = self.predictor.labels
        if probabilities is None:
            scores = {label: float("nan") for label in labels}
            return cls(round(start, 3), round(end, 3), "", scores, frames_sampled, 0, False, warnings, **extra)
        scores, label = scores_of(probabilities, labels), top_label(probabilities, labels)
        return cls(round(start, 3), round(end, 3), label, scores, frames_sampled, faces, audio_used, warnings, **extra)

    def _classify(self, start, end, faces, frames_sampled, waveform) -> TimelineWindow:
        processor = self.predictor.processor
        warnings = []
        vectors = [vector for _, vector in faces]
        if processor.uses_visual and not vectors:
            warnings.append("no face in this window")
        audio = self._usable_audio(waveform)
        if processor.uses_audio and audio is None:
            warnings.append("no audio in this window")
        if not vectors and audio is None:
            return self._row(
                TimelineWindow, start, end, None, frames_sampled, 0, False, warnings + ["nothing to predict from"]
            )
        probabilities = self._probabilities([vectors], [audio])[0]
        return self._row(
            TimelineWindow, start, end, probabilities, frames_sampled, len(vectors), audio is not None, warnings
        )

    def _classify_persons(self, start, end, faces, frames_sampled, waveform, motion):
        """One `PersonWindow` per person with a face in the window (in id order), each with the window's audio only
        when its speech is theirs; one with person None when nobody is in it."""
        from avemo.processing.speaker_attribution_avemo import attribute_stretch

        processor = self.predictor.processor
        people = sorted({face.person for face in faces})
        silent = waveform is None or processor.feature_extractor.is_silent(waveform)
        heard = None if silent else waveform  # who speaks, whatever the model uses
        stretch = attribute_stretch(motion, heard, processor.feature_extractor.sampling_rate, start, end, offset=start)
        if not people:
            row = self._classify(start, end, [], frames_sampled, waveform)
            return [PersonWindow(**row.to_dict(), person=None, speaking=False)]
        audio = heard if processor.uses_audio else None  # as _usable_audio, without checking the silence again
        specs = []
        for person in people:
            own = [face for face in faces if face.person == person]
            vectors = [face.vector() for face in own if not face.small]
            warnings = (
                [f"{len(own) - len(vectors)} of its faces too small: not used"] if len(vectors) < len(own) else []
            )
            speaking = stretch.speaker == person
            specs.append((person, vectors, audio if speaking else None, speaking, warnings))
        usable = [spec for spec in specs if spec[1]]
        probabilities = (
            self._probabilities([spec[1] for spec in usable], [spec[2] for spec in usable]) if usable else []
        )
        by_person = {spec[0]: row for spec, row in zip(usable, probabilities)}
        rows = []
        for person, vectors, own_audio, speaking, warnings in specs:
            if person not in by_person:
                warnings = warnings + ["no face large enough in this window"]
            rows.append(
                self._row(
                    PersonWindow,
                    start,
                    end,
                    by_person.get(person),
                    frames_sampled,
                    len(vectors),
                    own_audio is not None,
                    warnings,
                    person=person,
                    speaking=speaking,
                )
            )
        return rows


class _TimelineRun:
    """The state of one timeline: what has been read, what is in the face CNN, and the next window to classify."""

    def __init__(self, builder: TimelineBuilder, path, embedder, progress):
        from avemo.processing.face_tracking_avemo import FaceTracker
        from avemo.processing.speaker_attribution_avemo import MAX_MOTION_FPS, MouthMotion
        from avemo.processing.video_io_avemo import stream_media

        self.builder, self.embedder, self.progress = builder, embedder, progress
        processor = builder.predictor.processor
        self.uses_visual, self.uses_audio = processor.uses_visual, processor.uses_audio
        self.persons = builder.persons and self.uses_visual
        self.rate = processor.feature_extractor.sampling_rate
        wants_audio = self.uses_audio or self.persons  # persons: the audio says who speaks, whatever the model
        interval = 1 / builder.faces_per_second if self.uses_visual else None
        if self.persons:
            probe = stream_media(path, None, audio=True)
            has_audio = next(probe)[2]["audio_rate"] is not None
            probe.close()
            events = stream_media(
                path,
                interval,
                audio=True,
                track_interval=builder.track_interval,
                gray_fps=MAX_MOTION_FPS if has_audio else None,
            )
        else:
            events = stream_media(path, interval, audio=wants_audio)
        _, _, info = next(events)
        self.duration = info["duration"] or 0.0
        self.starts = window_starts(self.duration, builder.window, builder.hop) if self.duration else None
        if progress is not None and self.starts:
            progress.reset(total=len(self.starts))
        self.faces: list[_Face] = []  # the sampled faces still needed, in time order
        self.sampled = []  # times of the sampled frames still needed
        self.audio_chunks, self.audio_rate = [], info["audio_rate"]  # (time, samples at the file's rate)
        # How far each stream has been read: a window is classified once both are past its end (plus context).
        self.frontier = {
            "video": 0.0 if self.uses_visual else float("inf"),
            "audio": 0.0 if wants_audio and self.audio_rate else float("inf"),
        }
        self.index = 0
        identity = getattr(builder.predictor, "identity", None)
        self.tracker = FaceTracker(identity).load_models() if self.persons else None
        self.motion = MouthMotion() if self.persons else None
        self.reader = _ReadAhead(
            events, processor.aligner if self.uses_visual else None, self.tracker, self.motion, _min_face(processor)
        )

    # ------------------------------------------------------------------------------------------- reading

    def rows(self):
        peak = self.builder.peak_held
        for kind, time, payload in self.reader:
            peak["faces"] = max(peak["faces"], len(self.faces))
            if self.audio_chunks and self.audio_rate:
                first, last = self.audio_chunks[0], self.audio_chunks[-1]
                held = last[0] + len(last[1]) / self.audio_rate - first[0]
                peak["audio_seconds"] = max(peak["audio_seconds"], round(held, 3))
            if kind == "frame":  # payload: [(person id or None, face crop)] found by the reading thread
                self.sampled.append(time)
                self.faces += [_Face(time, crop, person=person, small=crop is None) for person, crop in payload]
                self.frontier["video"] = max(self.frontier["video"], time)
            elif kind == "motion":  # persons: each visible face's mouth grid at this frame
                self.motion.record(time, payload)
                self.frontier["video"] = max(self.frontier["video"], time)
            else:
                self.audio_chunks.append((time, payload))
                self.frontier["audio"] = max(self.frontier["audio"], time + len(payload) / self.audio_rate)
            yield from self.flush()
            # Bounded memory: no more batches in the face CNN than it has workers for; wait for the oldest.
            while self.embedder.busy():
                self.embedder.wait_oldest()
                yield from self.flush()
        if self.starts is None:  # no duration in the headers: windows up to what was read
            read = [face.time for face in self.faces] + self.sampled
            read += [value for value in self.frontier.values() if value != float("inf")]
            self.duration = max(read, default=0.0)
            self.starts = window_starts(self.duration, self.builder.window, self.builder.hop)
        yield from self.flush(final=True)
        if self.tracker is not None:
            self.builder.tracks = self.tracker.tracks

    def window_end(self, start: float) -> float:
        return min(start + self.builder.window, self.duration) if self.duration else start + self.builder.window

    def unsent(self, end=float("inf")) -> list:
        return [face for face in self.faces if face.batch is None and not face.small and face.time < end]

    def next_window_read(self) -> bool:
        """Whether both streams are read past the end of the next window (and its resampling context)."""
        if self.index >= len(self.starts):
            return False
        return min(self.frontier.values()) >= self.window_end(self.starts[self.index]) + _CONTEXT_S

    def send_faces(self, final: bool) -> None:
        """Send the faces not yet in the face CNN as a batch once there are `embed_batch` of them; or sooner when
        the next window waits for them and nothing has been read since (better a small batch now than an idle
        core); or at the end of the file."""
        waiting = self.unsent()
        if not waiting:
            return
        if final or len(waiting) >= self.builder.embed_batch:
            self.embedder.submit(waiting)
        elif (
            self.starts is not None
            and self.next_window_read()
            and self.unsent(self.window_end(self.starts[self.index]))
            and self.reader.starved()
        ):
            self.embedder.submit(waiting)

    def emittable(self, final: bool) -> bool:
        """Whether the next window can be classified now: read, and its faces through the face CNN (before the end
        of the file the reading goes on while they are not; at the end, wait for them)."""
        if self.starts is None or self.index >= len(self.starts) or not (final or self.next_window_read()):
            return False
        end = self.window_end(self.starts[self.index])
        if self.unsent(end):
            return False
        return final or all(face.batch.done() for face in self.faces if face.time < end and not face.small)

    def flush(self, final: bool = False):
        self.send_faces(final)
        while self.emittable(final):
            yield from self.emit(self.starts[self.index])
            self.index += 1
            if self.progress is not None:
                self.progress.update(1)
            if not final and self.index < len(self.starts):
                self.drop_before(self.starts[self.index])

    def drop_before(self, time: float) -> None:
        self.faces[:] = [face for face in self.faces if face.time >= time]
        self.sampled[:] = [t for t in self.sampled if t >= time]
        if self.motion is not None:
            self.motion.drop_before(time)
        keep_from = time - _CONTEXT_S
        while len(self.audio_chunks) > 1 and self.audio_chunks[1][0] <= keep_from:
            self.audio_chunks.pop(0)

    # ------------------------------------------------------------------------------------------- windows

    def emit(self, start: float):
        """The row (with persons: the rows) of the window starting at `start`."""
        from avemo.processing.feature_extraction_avemo import resample

        end = self.window_end(start)
        in_window = [face for face in self.faces if start <= face.time < end]
        count = sum(1 for time in self.sampled if start <= time < end)
        waveform = None
        if self.audio_chunks and self.audio_rate:
            waveform = _window_audio(self.audio_chunks, self.audio_rate, start, end, self.rate, resample)
        if not self.persons:
            yield self.builder._classify(start, end, [(f.time, f.vector()) for f in in_window], count, waveform)
            return
        yield from self.builder._classify_persons(start, end, in_window, count, waveform, self.motion)


@dataclass
class _Face:
    """A sampled face: its crop until the face CNN has run, then its row of the batch's vectors."""

    time: float
    crop: np.ndarray | None
    batch: "Future | None" = None
    row: int = 0
    person: int | None = None  # with persons: the track id
    small: bool = False  # too small for the recipe: counted, never embedded

    def vector(self):
        return self.batch.result()[self.row]


# torch's intra-op thread count is changed while any timeline runs and put back after the last (counted, so that
# overlapping timelines restore the count from before the first). Threads that ran torch before keep their own.
_threads_lock = threading.Lock()
_threads_state = {"users": 0, "before": 1}


class _FaceEmbedder:
    """The face CNN on batches of crops in worker threads while the main thread reads on and classifies windows.

    On a CPU, two workers run a batch each, side by side, on (cores - 1) / 2 torch threads each (one thread each
    on 2 cores), and the main thread gets one: teams of threads that spread one batch over every core lose much of
    their time waiting for each other once the reading thread competes for those cores (Pexels clip, paper IR50,
    2 cores: 3.6 s and 7 CPU seconds with one batch at a time on both cores, 2.9 s and 5.2 CPU seconds with two
    single-threaded workers). On a GPU the batches go one at a time.
    """

    def __init__(self, predictor):
        self.predictor = predictor
        self.on_cpu = predictor.device.type == "cpu"
        self.batches: list = []  # futures, oldest first

    def __enter__(self):
        from concurrent.futures import ThreadPoolExecutor

        import torch

        self.workers, initializer = 1, None
        if self.on_cpu:
            with _threads_lock:
                if _threads_state["users"] == 0:
                    _threads_state["before"] = torch.get_num_threads()
                    torch.set_num_threads(1)  # this thread's count (and the default of threads started from now)
                _threads_state["users"] += 1
                cores = _threads_state["before"]
            self.workers = min(2, max(1, cores))
            per_worker = max(1, (cores - 1) // self.workers)

            def initializer():
                torch.set_num_threads(per_worker)

        self.executor = ThreadPoolExecutor(self.workers, "avemo-face-cnn", initializer)
        return self

    def __exit__(self, *exc):
        import torch

        self.executor.shutdown(wait=True, cancel_futures=True)
        if self.on_cpu:
            with _threads_lock:
                _threads_state["users"] -= 1
                if _threads_state["users"] == 0:
                    torch.set_num_threads(_threads_state["before"])

    def _embed(self, crops):
        import torch

        predictor = self.predictor
        model = predictor.model
        pixels = predictor.processor.face_tensors([crops])["pixel_values"][0]
        with torch.inference_mode():
            return model.avemo.embed_faces(pixels.to(predictor.device, model.dtype)).float().cpu()

    def submit(self, faces: list[_Face]) -> None:
        if not faces:
            return
        batch = self.executor.submit(self._embed, [face.crop for face in faces])
        for row, face in enumerate(faces):
            face.batch, face.row, face.crop = batch, row, None
        self.batches.append(batch)

    def busy(self) -> bool:
        """More batches waiting or running than there are workers."""
        self.batches = [batch for batch in self.batches if not batch.done()]
        return len(self.batches) > self.workers

    def wait_oldest(self) -> None:
        self.batches[0].result()


class _ReadAhead:
    """The events of `stream_media`, read and aligned in a thread while the caller runs the model: each frame's
    payload becomes its faces as [(person id or None, crop)] (no persons: the largest face, person None; with
    persons: every face, tracked, crop None when too small), tracking frames only feed the tracker, and grey frames
    become ("motion", time, {person id: mouth grid}). At most `size` events wait in between (about 10 s of 48 kHz
    audio chunks: the reading goes on while a batch of faces is in the face CNN), so memory stays bounded."""

    _FINISHED = object()

    def __init__(self, events, aligner, tracker=None, motion=None, min_face: int = 0, size: int = 512):
        import queue

        self.events, self.aligner = events, aligner
        self.tracker, self.motion, self.min_face = tracker, motion, min_face
        self.pending = queue.Queue(maxsize=size)
        self.stop = threading.Event()
        self.done = threading.Event()

    def _faces(self, kind, time, frame) -> list | None:
        """The payload of a frame event (None: nothing to hand on)."""
        if self.tracker is None:
            face = self.aligner.align(frame) if self.aligner is not None else None
            return [] if face is None else [(None, face.crop)]
        from avemo.processing.persons_avemo import face_side

        faces = self.aligner.align_all(frame, thorough=kind == "frame")
        pairs = self.tracker.update(time, frame, faces)
        if kind != "frame":
            return None
        return [(track.id, face.crop if face_side(face) >= self.min_face else None) for track, face in pairs]

    def starved(self) -> bool:
        """Nothing read is waiting, and more is to come: the caller would wait for the reading thread."""
        return self.pending.empty() and not self.done.is_set()

    def _put(self, item) -> bool:
        import queue

        while not self.stop.is_set():
            try:
                self.pending.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _work(self):
        try:
            for kind, time, payload in self.events:
                if kind in ("frame", "track"):
                    payload = self._faces(kind, time, payload)
                    if payload is None:
                        continue
                    kind = "frame"
                elif kind == "gray":
                    kind, payload = "motion", self.motion.sample(time, payload, self.tracker.tracks)
                if not self._put((kind, time, payload)):
                    return
            self.done.set()
            self._put((self._FINISHED, None, None))
        except BaseException as error:  # noqa: BLE001 (handed to the caller, which raises it)
            self.done.set()
            self._put(("error", None, error))

    def __iter__(self):
        thread = threading.Thread(target=self._work, name="avemo-timeline-reader", daemon=True)
        thread.start()
        try:
            while True:
                kind, time, payload = self.pending.get()
                if kind is self._FINISHED:
                    return
                if kind == "error":
                    raise payload
                yield kind, time, payload
        finally:
            self.stop.set()
            thread.join(timeout=10)


def _min_face(processor) -> int:
    from avemo.processing.persons_avemo import min_face_size

    return min_face_size(processor.recipe)


def _window_audio(chunks, chunk_rate, start, end, rate, resample) -> np.ndarray:
    """The window's audio at `rate`, resampled with context on both sides, then cut to [start, end)."""
    first = chunks[0][0]
    samples = np.concatenate([chunk for _, chunk in chunks])
    lo = max(0, int(round((start - _CONTEXT_S - first) * chunk_rate)))
    hi = max(lo, int(round((end + _CONTEXT_S - first) * chunk_rate)))
    piece = resample(samples[lo:hi].astype(np.float32), chunk_rate, rate)
    offset = int(round((start - (first + lo / chunk_rate)) * rate))
    length = int(round((end - start) * rate))
    return np.ascontiguousarray(piece[max(0, offset) : max(0, offset) + length])


def write_timeline(
    rows: list[TimelineWindow], labels: list[str], output: str | PathLike, as_json: bool = False
) -> Path:
    """Write the rows as CSV (start, end, label, frames, one column per label; with persons, person and speaking
    after end) or as a JSON list."""
    output = Path(output)
    if as_json:
        output.write_text(json.dumps([row.to_dict() for row in rows], ensure_ascii=False, indent=1))
        return output
    persons = any(isinstance(row, PersonWindow) for row in rows)
    with output.open("w", newline="") as file:
        writer = csv.writer(file)
        who = ["person", "speaking"] if persons else []
        writer.writerow(["start", "end", *who, "label", "frames_sampled", "frames_with_face", "audio_used", *labels])
        for row in rows:
            person = ["" if row.person is None else row.person, int(row.speaking)] if persons else []
            writer.writerow(
                [
                    row.start,
                    row.end,
                    *person,
                    row.label,
                    row.frames_sampled,
                    row.frames_with_face,
                    int(row.audio_used),
                    *(f"{row.scores[label]:.6f}" for label in labels),
                ]
            )
    return output


def plot_timeline(rows: list[TimelineWindow], labels: list[str], output: str | PathLike, title: str = "") -> Path:
    """A PNG of each label's score over time (window centres), the winning label marked along the top; with persons,
    one strip per person (`persons_timeline_figure`)."""
    output = Path(output)
    if any(isinstance(row, PersonWindow) for row in rows):
        figure = persons_timeline_figure(rows, labels, title)
    else:
        figure = timeline_figure(rows, labels, title)
    figure.savefig(output, dpi=110)
    return output


MAX_STRIPS = 12  # persons drawn in a persons timeline figure (the CSV has them all)


def persons_timeline_figure(rows: list[PersonWindow], labels: list[str], title: str = ""):
    """One strip per person (most windows first, at most `MAX_STRIPS`): a row per label, a column per window, the
    colour its probability; blank where the person is not in the window; a black bar above where they speak."""
    from matplotlib.figure import Figure

    starts = sorted({row.start for row in rows})
    column = {start: index for index, start in enumerate(starts)}
    hop = (
        float(np.median(np.diff(starts))) if len(starts) > 1 else max((row.end - row.start for row in rows), default=1)
    )
    people: dict = {}
    for row in rows:
        if row.person is not None and row.label:
            people.setdefault(row.person, []).append(row)
    order = sorted(people, key=lambda person: (-len(people[person]), person))
    shown = order[:MAX_STRIPS]
    figure = Figure(figsize=(11, 1.0 + 1.25 * max(1, len(shown))), layout="constrained")
    if not shown:
        axes = figure.add_subplot()
        axes.text(0.5, 0.5, "no person's face in any window", ha="center", va="center", transform=axes.transAxes)
        axes.set_axis_off()
        return figure
    strips = figure.subplots(len(shown), 1, sharex=True, squeeze=False)[:, 0]
    extent = (starts[0], starts[-1] + hop, -0.5, len(labels) - 0.5)
    image = None
    for axes, person in zip(strips, shown):
        matrix = np.full((len(labels), len(starts)), np.nan)
        for row in people[person]:
            matrix[:, column[row.start]] = [row.scores[label] for label in labels]
        image = axes.imshow(
            np.ma.masked_invalid(matrix), aspect="auto", origin="lower", extent=extent, cmap="viridis", vmin=0, vmax=1
        )
        for row in people[person]:
            if row.speaking:
                axes.broken_barh([(row.start, hop)], (len(labels) - 0.45, 0.4), color="black")
        axes.set_ylim(-0.5, len(labels) + 0.05)
        axes.set_yticks(range(len(labels)), labels, fontsize=7)
        speaks = sum(row.speaking for row in people[person])
        axes.set_title(f"person {person}: {len(people[person])} windows, speaking in {speaks}", fontsize=9, loc="left")
    strips[-1].set_xlabel("time (s)")
    figure.colorbar(image, ax=list(strips), label="probability", fraction=0.03)
    more = f" ({len(order) - len(shown)} more people in the data file)" if len(order) > len(shown) else ""
    figure.suptitle(f"{title or 'emotion scores per window and person'} (black bar: speaking){more}", fontsize=10)
    return figure


def timeline_figure(rows: list[TimelineWindow], labels: list[str], title: str = ""):
    """The matplotlib Figure of `plot_timeline` (the Space shows it as is)."""
    from matplotlib.figure import Figure

    centres = [(row.start + row.end) / 2 for row in rows]
    figure = Figure(figsize=(11, 4.2), layout="constrained")
    axes = figure.add_subplot()
    colours = {label: f"C{index % 10}" for index, label in enumerate(labels)}
    for label in labels:
        axes.plot(centres, [row.scores[label] for row in rows], color=colours[label], label=label, linewidth=1.4)
    for row in rows:
        if row.label:
            axes.axvspan(row.start, row.end, ymin=0.96, ymax=1.0, color=colours[row.label], linewidth=0)
    axes.set_xlim(0, max((row.end for row in rows), default=1.0))
    axes.set_ylim(0, 1.05)
    axes.set_xlabel("time (s)")
    axes.set_ylabel("probability")
    axes.set_title(title or "emotion scores per window (top band: the winning label)")
    axes.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    return figure
