"""Emotion timelines of long videos (`avemo predict VIDEO --timeline`), in one streaming pass.

The file is read once, in order (`stream_media`): faces are sampled at `faces_per_second`, found and embedded by
the face CNN once each, and the audio is kept only as far back as the current window needs. Every `hop` seconds
a window of `window` seconds is classified from the face vectors and the log-mel of its own audio, so memory does
not grow with the length of the video.

Each window's audio is resampled from the file's own rate with 0.05 s of context on both sides (then cut), so it
gets the same samples as `avemo predict` on that stretch alone would, with the same resampler.
"""

import csv
import json
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

    def __init__(self, predictor, window: float = 2.0, hop: float = 1.0, faces_per_second: float = 1.0):
        if not (window > 0 and hop > 0 and faces_per_second > 0):
            raise ValueError(f"window ({window}), hop ({hop}) and faces_per_second ({faces_per_second}) must be > 0")
        self.predictor = predictor
        self.window, self.hop, self.faces_per_second = window, hop, faces_per_second
        # The most the last run held at once: what bounds its memory, whatever the length of the video.
        self.peak_held = {"faces": 0, "audio_seconds": 0.0}

    def run(self, path: str | PathLike, progress=None):
        """Yield a `TimelineWindow` per window, in order, while reading the file once."""
        import torch

        from avemo.processing.feature_extraction_avemo import resample
        from avemo.processing.video_io_avemo import stream_media

        processor, model = self.predictor.processor, self.predictor.model
        uses_visual, uses_audio = processor.uses_visual, processor.uses_audio
        rate = processor.feature_extractor.sampling_rate
        events = stream_media(path, 1 / self.faces_per_second if uses_visual else None, audio=uses_audio)
        _, _, info = next(events)
        duration = info["duration"] or 0.0
        starts = window_starts(duration, self.window, self.hop) if duration else None
        if progress is not None and starts:
            progress.reset(total=len(starts))
        faces = []  # (time, crop, then its face vector) of the sampled frames still needed
        sampled = []  # times of the sampled frames still needed
        audio_chunks, audio_rate = [], info["audio_rate"]  # (time, samples at the file's rate)
        # How far each stream has been read: a window is classified once both are past its end (plus context).
        frontier = {
            "video": 0.0 if uses_visual else float("inf"),
            "audio": 0.0 if uses_audio and audio_rate else float("inf"),
        }
        index = 0
        aligner = processor.aligner if uses_visual else None

        def ready(window_end):
            return min(frontier.values()) >= window_end + _CONTEXT_S

        def embed_pending():
            """Face vectors of the crops not embedded yet, in one batch (one call per window, not per frame)."""
            pending = [index for index, (_, item) in enumerate(faces) if not isinstance(item, torch.Tensor)]
            if not pending:
                return
            pixels = processor.face_tensors([[faces[index][1] for index in pending]])["pixel_values"][0]
            with torch.inference_mode():
                vectors = model.avemo.embed_faces(pixels.to(self.predictor.device, model.dtype)).float().cpu()
            for index, vector in zip(pending, vectors):
                faces[index] = (faces[index][0], vector)

        def emit(start):
            end = min(start + self.window, duration) if duration else start + self.window
            embed_pending()
            in_window = [(time, vector) for time, vector in faces if start <= time < end]
            count = sum(1 for time in sampled if start <= time < end)
            waveform = None
            if uses_audio and audio_chunks and audio_rate:
                waveform = _window_audio(audio_chunks, audio_rate, start, end, rate, resample)
            return self._classify(start, end, in_window, count, waveform)

        def drop_before(time):
            faces[:] = [item for item in faces if item[0] >= time]
            sampled[:] = [t for t in sampled if t >= time]
            keep_from = time - _CONTEXT_S
            while len(audio_chunks) > 1 and audio_chunks[1][0] <= keep_from:
                audio_chunks.pop(0)

        self.peak_held = {"faces": 0, "audio_seconds": 0.0}
        for kind, time, payload in _read_ahead(events, aligner):
            self.peak_held["faces"] = max(self.peak_held["faces"], len(faces))
            if audio_chunks and audio_rate:
                held = audio_chunks[-1][0] + len(audio_chunks[-1][1]) / audio_rate - audio_chunks[0][0]
                self.peak_held["audio_seconds"] = max(self.peak_held["audio_seconds"], round(held, 3))
            if kind == "frame":  # payload: the face crop (found by the reading thread), or None
                sampled.append(time)
                if payload is not None:
                    faces.append((time, payload))  # embedded with the others of its window
                frontier["video"] = max(frontier["video"], time)
            else:
                audio_chunks.append((time, payload))
                frontier["audio"] = max(frontier["audio"], time + len(payload) / audio_rate)
            while starts is not None and index < len(starts) and ready(min(starts[index] + self.window, duration)):
                yield emit(starts[index])
                index += 1
                if progress is not None:
                    progress.update(1)
                if index < len(starts):
                    drop_before(starts[index])
        if starts is None:  # no duration in the headers: windows up to what was read
            duration = max(
                [t for t, _ in faces] + sampled + [v for v in frontier.values() if v != float("inf")], default=0.0
            )
            starts = window_starts(duration, self.window, self.hop)
        while index < len(starts):
            yield emit(starts[index])
            index += 1
            if progress is not None:
                progress.update(1)

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


def _read_ahead(events, aligner, size: int = 32):
    """The events of `stream_media`, with each frame replaced by its face crop (or None), read and aligned in a
    thread while the caller runs the model: decoding and dlib keep one core busy, torch the other. At most `size`
    events wait in between, so memory stays bounded."""
    import queue
    import threading

    pending, stop, finished = queue.Queue(maxsize=size), threading.Event(), object()

    def put(item):
        while not stop.is_set():
            try:
                pending.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work():
        try:
            for kind, time, payload in events:
                if kind == "frame":
                    face = aligner.align(payload) if aligner is not None else None
                    payload = None if face is None else face.crop
                if not put((kind, time, payload)):
                    return
            put((finished, None, None))
        except BaseException as error:  # noqa: BLE001 (handed to the caller, which raises it)
            put(("error", None, error))

    thread = threading.Thread(target=work, name="avemo-timeline-reader", daemon=True)
    thread.start()
    try:
        while True:
            kind, time, payload = pending.get()
            if kind is finished:
                return
            if kind == "error":
                raise payload
            yield kind, time, payload
    finally:
        stop.set()
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
