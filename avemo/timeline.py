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


class TimelineBuilder:
    """Classifies the windows of one file with a `Predictor` (its model and processor)."""

    def __init__(
        self,
        predictor,
        window: float = 2.0,
        hop: float = 1.0,
        faces_per_second: float = 1.0,
        embed_batch: int = 4,
    ):
        if not (window > 0 and hop > 0 and faces_per_second > 0 and embed_batch >= 1):
            raise ValueError(
                f"window ({window}), hop ({hop}) and faces_per_second ({faces_per_second}) must be > 0 "
                f"and embed_batch ({embed_batch}) >= 1"
            )
        self.predictor = predictor
        self.window, self.hop, self.faces_per_second = window, hop, faces_per_second
        self.embed_batch = embed_batch
        # The most the last run held at once: what bounds its memory, whatever the length of the video.
        self.peak_held = {"faces": 0, "audio_seconds": 0.0}

    def run(self, path: str | PathLike, progress=None):
        """Yield a `TimelineWindow` per window, in order, while reading the file once."""
        from avemo.processing.feature_extraction_avemo import resample
        from avemo.processing.video_io_avemo import stream_media

        processor = self.predictor.processor
        uses_visual, uses_audio = processor.uses_visual, processor.uses_audio
        rate = processor.feature_extractor.sampling_rate
        events = stream_media(path, 1 / self.faces_per_second if uses_visual else None, audio=uses_audio)
        _, _, info = next(events)
        duration = info["duration"] or 0.0
        starts = window_starts(duration, self.window, self.hop) if duration else None
        if progress is not None and starts:
            progress.reset(total=len(starts))
        faces: list[_Face] = []  # the sampled faces still needed, in time order
        sampled = []  # times of the sampled frames still needed
        audio_chunks, audio_rate = [], info["audio_rate"]  # (time, samples at the file's rate)
        # How far each stream has been read: a window is classified once both are past its end (plus context).
        frontier = {
            "video": 0.0 if uses_visual else float("inf"),
            "audio": 0.0 if uses_audio and audio_rate else float("inf"),
        }
        index = 0
        reader = _ReadAhead(events, processor.aligner if uses_visual else None)

        def window_end(start):
            return min(start + self.window, duration) if duration else start + self.window

        def unsent(end=float("inf")):
            return [face for face in faces if face.batch is None and face.time < end]

        def next_window_read():
            """Whether both streams are read past the end of the next window (and its resampling context)."""
            return index < len(starts) and min(frontier.values()) >= window_end(starts[index]) + _CONTEXT_S

        def send_faces(final):
            """Send the faces not yet in the face CNN as a batch once there are `embed_batch` of them; or sooner
            when the next window waits for them and nothing has been read since (better a small batch now than an
            idle core); or at the end of the file."""
            waiting = unsent()
            if not waiting:
                return
            if final or len(waiting) >= self.embed_batch:
                embedder.submit(waiting)
            elif starts is not None and next_window_read() and unsent(window_end(starts[index])) and reader.starved():
                embedder.submit(waiting)

        def emittable(final):
            """Whether the next window can be classified now: read, and its faces through the face CNN (before the
            end of the file the reading goes on while they are not; at the end, wait for them)."""
            if starts is None or index >= len(starts) or not (final or next_window_read()):
                return False
            end = window_end(starts[index])
            if unsent(end):
                return False
            return final or all(face.batch.done() for face in faces if face.time < end)

        def emit(start):
            end = window_end(start)
            in_window = [(face.time, face.vector()) for face in faces if start <= face.time < end]
            count = sum(1 for time in sampled if start <= time < end)
            waveform = None
            if uses_audio and audio_chunks and audio_rate:
                waveform = _window_audio(audio_chunks, audio_rate, start, end, rate, resample)
            return self._classify(start, end, in_window, count, waveform)

        def drop_before(time):
            faces[:] = [face for face in faces if face.time >= time]
            sampled[:] = [t for t in sampled if t >= time]
            keep_from = time - _CONTEXT_S
            while len(audio_chunks) > 1 and audio_chunks[1][0] <= keep_from:
                audio_chunks.pop(0)

        def flush(final=False):
            nonlocal index
            send_faces(final)
            while emittable(final):
                yield emit(starts[index])
                index += 1
                if progress is not None:
                    progress.update(1)
                if not final and index < len(starts):
                    drop_before(starts[index])

        self.peak_held = {"faces": 0, "audio_seconds": 0.0}
        with _FaceEmbedder(self.predictor) as embedder:
            for kind, time, payload in reader:
                self.peak_held["faces"] = max(self.peak_held["faces"], len(faces))
                if audio_chunks and audio_rate:
                    held = audio_chunks[-1][0] + len(audio_chunks[-1][1]) / audio_rate - audio_chunks[0][0]
                    self.peak_held["audio_seconds"] = max(self.peak_held["audio_seconds"], round(held, 3))
                if kind == "frame":  # payload: the face crop (found by the reading thread), or None
                    sampled.append(time)
                    if payload is not None:
                        faces.append(_Face(time, payload))
                    frontier["video"] = max(frontier["video"], time)
                else:
                    audio_chunks.append((time, payload))
                    frontier["audio"] = max(frontier["audio"], time + len(payload) / audio_rate)
                yield from flush()
                # Bounded memory: no more batches in the face CNN than it has workers for; wait for the oldest.
                while embedder.busy():
                    embedder.wait_oldest()
                    yield from flush()
            if starts is None:  # no duration in the headers: windows up to what was read
                duration = max(
                    [face.time for face in faces] + sampled + [v for v in frontier.values() if v != float("inf")],
                    default=0.0,
                )
                starts = window_starts(duration, self.window, self.hop)
            yield from flush(final=True)

    def _classify(self, start, end, faces, frames_sampled, waveform) -> TimelineWindow:
        import torch

        predictor = self.predictor
        processor, model = predictor.processor, predictor.model
        inputs, warnings = {}, []
        if processor.uses_visual:
            size = model.config.face_embedding_size
            vectors = [vector for _, vector in faces]
            inputs["frame_embeds"] = torch.stack(vectors)[None] if vectors else torch.zeros(1, 1, size)
            inputs["frame_mask"] = torch.ones(1, max(1, len(vectors)), dtype=torch.long) * bool(vectors)
            if not vectors:
                warnings.append("no face in this window")
        audio_used = False
        if processor.uses_audio:
            if waveform is not None and not processor.feature_extractor.is_silent(waveform):
                audio_used = True
            else:
                waveform = None
                warnings.append("no audio in this window")
            inputs.update(processor.audio_tensors([waveform]))
        if not faces and not audio_used:
            scores = {label: float("nan") for label in predictor.labels}
            return TimelineWindow(
                round(start, 3),
                round(end, 3),
                "",
                scores,
                frames_sampled,
                0,
                False,
                warnings + ["nothing to predict from"],
            )
        inputs = {key: value.to(predictor.device) for key, value in inputs.items()}
        with torch.inference_mode():
            probabilities = model(**inputs).logits.float().softmax(-1)[0].cpu()
        scores = {label: round(float(p), 6) for label, p in zip(predictor.labels, probabilities)}
        label = predictor.labels[int(probabilities.argmax())]
        return TimelineWindow(
            round(start, 3), round(end, 3), label, scores, frames_sampled, len(faces), audio_used, warnings
        )


@dataclass
class _Face:
    """A sampled face: its crop until the face CNN has run, then its row of the batch's vectors."""

    time: float
    crop: np.ndarray | None
    batch: "Future | None" = None
    row: int = 0

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
    """The events of `stream_media`, with each frame replaced by its face crop (or None), read and aligned in a
    thread while the caller runs the model. At most `size` events wait in between (about 10 s of 48 kHz audio
    chunks: the reading goes on while a batch of faces is in the face CNN), so memory stays bounded."""

    _FINISHED = object()

    def __init__(self, events, aligner, size: int = 512):
        import queue

        self.events, self.aligner = events, aligner
        self.pending = queue.Queue(maxsize=size)
        self.stop = threading.Event()
        self.done = threading.Event()

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
                if kind == "frame":
                    face = self.aligner.align(payload) if self.aligner is not None else None
                    payload = None if face is None else face.crop
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
    """Write the rows as CSV (start, end, label, frames, one column per label) or as a JSON list."""
    output = Path(output)
    if as_json:
        output.write_text(json.dumps([row.to_dict() for row in rows], ensure_ascii=False, indent=1))
        return output
    with output.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["start", "end", "label", "frames_sampled", "frames_with_face", "audio_used", *labels])
        for row in rows:
            writer.writerow(
                [
                    row.start,
                    row.end,
                    row.label,
                    row.frames_sampled,
                    row.frames_with_face,
                    int(row.audio_used),
                    *(f"{row.scores[label]:.6f}" for label in labels),
                ]
            )
    return output


def plot_timeline(rows: list[TimelineWindow], labels: list[str], output: str | PathLike, title: str = "") -> Path:
    """A PNG of each label's score over time (window centres), the winning label marked along the top."""
    output = Path(output)
    timeline_figure(rows, labels, title).savefig(output, dpi=110)
    return output


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
