"""Annotated videos (`avemo predict VIDEO --annotate OUT.mp4`): the video with each person's box, id and current top
label, and a marker on the person who speaks, encoded with PyAV (H.264 and AAC; the audio is kept). A still image
gets a PNG beside it (OUT.png).

Boxes come from the tracker's sightings (interpolated between sightings up to a second apart, else held for half a
second); labels from the person's prediction (the whole clip) or, for a timeline, from the window around each frame.
"""

import bisect
from dataclasses import dataclass
from fractions import Fraction
from os import PathLike
from pathlib import Path

import numpy as np

_HOLD_S = 0.5  # a box is drawn this long after (or before) a sighting without a neighbour to interpolate to
_BRIDGE_S = 1.0  # sightings closer than this are joined by interpolation


@dataclass
class Overlay:
    """What is drawn: per person the label over time, and who speaks when."""

    tracks: list  # FaceTracks: id, times, boxes
    label_at: object  # callable (person id, time) -> (label, score) or None
    speaker_at: object  # callable (time) -> person id or None

    @classmethod
    def from_persons(cls, video, prediction) -> "Overlay":
        """For `avemo predict --persons`: each person's clip label, the speaker of each 2 s stretch."""
        labels = {
            person.id: (person.label, person.scores[person.label]) for person in prediction.persons if person.label
        }
        stretches = [(s.start, s.end, s.speaker) for s in video.stretches]
        return cls(
            tracks=video.tracks,
            label_at=lambda person, time: labels.get(person),
            speaker_at=lambda time: next((who for start, end, who in stretches if start <= time < end), None),
        )

    @classmethod
    def from_timeline(cls, tracks, rows) -> "Overlay":
        """For `avemo predict --timeline --persons`: the label of the window centred nearest each frame."""
        by_person: dict = {}
        for row in rows:
            if row.person is not None:
                by_person.setdefault(row.person, []).append(row)
        people = {person: _Windows(own) for person, own in by_person.items()}
        speakers = _Windows(row for row in rows if row.person is not None and row.speaking)

        def label_at(person, time):
            """The person's label and its score in the window nearest `time`, or None."""
            row = people[person].nearest(time) if person in people else None
            return (row.label, row.scores[row.label]) if row is not None and row.label else None

        def speaker_at(time):
            """The person speaking in the window nearest `time`, or None."""
            row = speakers.nearest(time)
            return row.person if row is not None else None

        return cls(tracks=tracks, label_at=label_at, speaker_at=speaker_at)


class _Windows:
    """Timeline rows sorted by start, to find the one around a time (asked for every frame) by bisection."""

    def __init__(self, rows):
        self.rows = sorted(rows, key=lambda row: row.start)
        self.starts = [row.start for row in self.rows]
        self.longest = max((row.end - row.start for row in self.rows), default=0.0)

    def nearest(self, time: float):
        """The row around `time` whose centre is nearest, or None: only rows starting within one window before
        `time` can hold it."""
        first = bisect.bisect_right(self.starts, time - self.longest)
        around = [row for row in self.rows[first : bisect.bisect_right(self.starts, time)] if time < row.end]
        return min(around, key=lambda row: abs((row.start + row.end) / 2 - time), default=None)


def box_at(track, time: float):
    """The track's (left, top, right, bottom) box at `time`: interpolated between its sightings when they are less
    than a second apart, else the nearest sighting's within half a second; None when it is not on screen."""
    times = track.times
    index = int(np.searchsorted(times, time))
    before, after = index - 1, index
    if 0 <= before and after < len(times) and times[after] - times[before] <= _BRIDGE_S:
        share = (time - times[before]) / max(times[after] - times[before], 1e-9)
        start, end = np.asarray(track.boxes[before], float), np.asarray(track.boxes[after], float)
        return tuple(int(round(v)) for v in start + share * (end - start))
    near = [i for i in (before, after) if 0 <= i < len(times) and abs(times[i] - time) <= _HOLD_S]
    if not near:
        return None
    return track.boxes[min(near, key=lambda i: abs(times[i] - time))]


def annotate_video(source: str | PathLike, output: str | PathLike, overlay: Overlay, progress=None) -> Path:
    """Write `output` (mp4): every frame of `source` with the overlay drawn, its audio re-encoded as AAC."""
    import av

    from avemo.processing.video_io_avemo import _open

    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with _open(source) as container:
        video = container.streams.video[0]
        video.thread_type = "AUTO"
        sound = container.streams.audio[0] if container.streams.audio else None
        start = float(video.start_time * video.time_base) if video.start_time is not None else 0.0
        width, height = video.codec_context.width // 2 * 2, video.codec_context.height // 2 * 2
        rate = Fraction(video.average_rate or 25).limit_denominator(1001)
        with av.open(str(output), "w") as out:
            encoder = out.add_stream("libx264", rate=rate, options={"crf": "20", "preset": "veryfast"})
            encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
            audio_encoder = resampler = None
            if sound is not None:
                audio_rate = sound.rate or sound.codec_context.sample_rate or 44100
                audio_encoder = out.add_stream(
                    "aac", rate=audio_rate, layout="stereo" if len(sound.layout.channels) > 1 else "mono"
                )
                resampler = av.AudioResampler(format="fltp", layout=audio_encoder.layout.name, rate=audio_rate)
            streams = [stream for stream in (video, sound) if stream is not None]
            drawer, index = _Drawer(overlay, max(width, height)), 0
            for packet in container.demux(*streams):
                for frame in packet.decode():
                    if packet.stream is video:
                        if frame.time is None:
                            continue
                        image = frame.to_ndarray(format="rgb24")[:height, :width]
                        drawn = av.VideoFrame.from_ndarray(drawer.draw(image, frame.time - start), format="rgb24")
                        drawn.pts = index
                        drawn.time_base = Fraction(1) / rate
                        index += 1
                        out.mux(encoder.encode(drawn))
                        if progress is not None:
                            progress.update(1)
                    else:
                        frame.pts = None
                        for converted in resampler.resample(frame):
                            out.mux(audio_encoder.encode(converted))
            out.mux(encoder.encode(None))
            if audio_encoder is not None:
                for converted in resampler.resample(None):
                    out.mux(audio_encoder.encode(converted))
                out.mux(audio_encoder.encode(None))
    return output


def annotate_image(source: str | PathLike, output: str | PathLike, overlay: Overlay) -> Path:
    """Write `output` (PNG): the picture with the overlay drawn (a still image has no video to write)."""
    from PIL import Image

    from avemo.processing.video_io_avemo import read_image

    image = read_image(source)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(_Drawer(overlay, max(image.shape[:2])).draw(image, 0.0)).save(output)
    return output


class _Drawer:
    """Draws boxes, ids, labels and the speaker marker on RGB frames."""

    def __init__(self, overlay: Overlay, side: int):
        from PIL import ImageFont

        self.overlay = overlay
        self.size = max(12, side // 48)
        self.font = ImageFont.load_default(size=self.size)
        self.width = max(2, side // 320)

    def draw(self, image: np.ndarray, time: float) -> np.ndarray:
        from matplotlib import colormaps
        from PIL import Image, ImageDraw

        canvas = Image.fromarray(image)
        pen = ImageDraw.Draw(canvas)
        speaker = self.overlay.speaker_at(time)
        palette = colormaps["tab10"]
        for track in self.overlay.tracks:
            box = box_at(track, time)
            if box is None:
                continue
            colour = tuple(int(255 * c) for c in palette((track.id - 1) % 10)[:3])
            left, top, right, bottom = box
            pen.rectangle(
                (left, top, right, bottom), outline=colour, width=self.width * (2 if track.id == speaker else 1)
            )
            label = self.overlay.label_at(track.id, time)
            text = f"{track.id}" + (f" {label[0]} {label[1]:.2f}" if label else "")
            if track.id == speaker:
                text += "  speaking"
            _, _, text_width, text_height = pen.textbbox((0, 0), text, font=self.font)
            y = max(0, top - text_height - 6)
            pen.rectangle((left, y, left + text_width + 8, y + text_height + 6), fill=colour)
            pen.text((left + 4, y + 2), text, fill=(255, 255, 255), font=self.font)
            if track.id == speaker:  # a speech marker at the mouth: a filled circle below the box's centre
                radius = max(4, (right - left) // 14)
                x, y = (left + right) // 2, bottom + radius + 4
                pen.ellipse((x - radius, y - radius, x + radius, y + radius), fill=colour, outline=(255, 255, 255))
        return np.asarray(canvas)


__all__ = ["Overlay", "annotate_image", "annotate_video", "box_at"]
