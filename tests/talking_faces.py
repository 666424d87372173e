"""Videos of several people made from the real media in ../shared/data, for the persons tests and bench/speakers.py.

The shared media hold no face recorded with its own speech (the Pexels clip's audio track is digitally silent), so
a speaker is made from a real RAVDESS face and real CREMA-D speech: the face's jaw is lowered and a dark mouth
opening drawn in proportion to the speech's loudness (smoothed like a jaw's inertia, a frame ahead of the sound, with
some noise), and the head drifts a few pixels. The other people are real video (the Pexels clip: an expressive face
whose mouth moves all the time, muted) or another such speaker saying something else, muted.
"""

from pathlib import Path

import numpy as np
from PIL import Image

from avemo.processing import FaceAligner, read_audio, read_image
from avemo.processing.face_alignment_avemo import eye_centres

from media import write_video

RATE, FPS = 16000, 25
PANEL = (480, 360)  # width, height of one person's half of a side-by-side video
CREMA = ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD")


def speech(data: Path, order, gap: float = 0.4) -> np.ndarray:
    """CREMA-D actor 1002's recordings in `order` (indices into CREMA), each followed by `gap` s of silence, 16 kHz."""
    parts = []
    for index in order:
        parts += [read_audio(data / "audio" / "crema-d" / f"1002_DFA_{CREMA[index]}_XX.mp3", RATE)]
        parts += [np.zeros(int(gap * RATE), np.float32)]
    return np.concatenate(parts)


def mouth_opening(audio: np.ndarray, frames: int, seed: int) -> np.ndarray:
    """How open the mouth is at each video frame (0-1): the loudness in 40 ms (30 dB below the loudest is closed),
    smoothed (opening faster than closing), a frame ahead of the sound, plus noise."""
    half = int(0.02 * RATE)
    centres = (np.arange(frames) / FPS * RATE).astype(int)
    rms = np.array(
        [np.sqrt(np.mean(audio[max(0, c - half) : c + half] ** 2)) if c < len(audio) else 0 for c in centres]
    )
    level = 20 * np.log10(rms + 1e-6)
    target = np.clip((level - (np.percentile(level, 95) - 30)) / 30, 0, 1)
    opening, value = np.zeros(frames), 0.0
    for index, goal in enumerate(target):
        value += (0.6 if goal > value else 0.35) * (goal - value)
        opening[index] = value
    opening = np.append(opening[1:], opening[-1])  # the mouth moves a frame before the sound
    return np.clip(opening + np.random.default_rng(seed).normal(0, 0.05, frames), 0, 1)


class Puppet:
    """A still face whose jaw opens: rows below the mouth line move down, the gap between the lips goes dark."""

    def __init__(self, still: np.ndarray):
        face = FaceAligner("arcface").align(still)
        if face is None:
            raise ValueError("no face in the still")
        eyes = eye_centres(face.landmarks)
        middle, nose = eyes.mean(axis=0), face.landmarks[4]
        spacing, drop = np.linalg.norm(eyes[1] - eyes[0]), nose[1] - middle[1]
        self.still, self.centre = still, nose[0]
        self.mouth, self.chin, self.amplitude = nose[1] + 0.5 * drop, nose[1] + 2.0 * drop, 0.45 * drop
        height, width = still.shape[:2]
        self.rows, self.columns = np.mgrid[0:height, 0:width].astype(np.float32)
        across = (self.columns - self.centre) / (0.5 * spacing)
        self.lips = np.sqrt(np.clip(1 - across**2, 0, 1))  # the opening's half-ellipse profile
        self.jaw = np.clip(1.8 - np.abs(across) / 1.2, 0, 1)
        below = self.rows - self.mouth
        fade = np.clip(1 - (self.rows - self.chin) / (0.8 * (self.chin - self.mouth)), 0, 1)
        self.drop = np.where(below < 0, 0, np.where(self.rows < self.chin, 1.0, fade)) * self.jaw

    def frame(self, opening: float) -> np.ndarray:
        height = self.still.shape[0]
        source = np.clip(self.rows - self.amplitude * opening * self.drop, 0, height - 1)
        top = np.floor(source).astype(int)
        weight = (source - top)[..., None]
        columns = self.columns.astype(int)
        out = self.still[top, columns] * (1 - weight) + self.still[np.minimum(top + 1, height - 1), columns] * weight
        below = self.rows - self.mouth
        gap = (below >= 0) & (below < self.amplitude * opening * self.lips)
        out[gap] = out[gap] * 0.25 + np.array([70, 25, 30]) * 0.75
        return np.clip(out, 0, 255).astype(np.uint8)


def speaker_frames(data: Path, actor: int, audio: np.ndarray, frames: int, seed: int) -> list[np.ndarray]:
    """A RAVDESS actor saying `audio`, a PANEL-sized frame per video frame (the head drifts up to 6 px)."""
    puppet = Puppet(read_image(data / "faces" / "ravdess" / f"Actor_{actor:02d}.png"))
    rng = np.random.default_rng(seed)
    opening = mouth_opening(audio, frames, seed)
    drift = np.clip(np.cumsum(rng.normal(0, 0.6, (frames, 2)), axis=0), -6, 6)
    width, height = PANEL
    out = []
    for index in range(frames):
        image = Image.fromarray(puppet.frame(opening[index])).resize((640, 360), Image.BILINEAR)
        dx, dy = drift[index]
        image = image.transform(image.size, Image.AFFINE, (1, 0, dx, 0, 1, dy), Image.BILINEAR, fillcolor=(255,) * 3)
        out.append(np.asarray(image)[:height, (640 - width) // 2 : (640 + width) // 2])
    return out


def video_frames(path: Path, frames: int, offset: float = 0.0, fps: float = FPS) -> list[np.ndarray]:
    """`frames` frames of a real video at `fps` from `offset` s (looped), centre-cropped to a PANEL, 640x360 first."""
    import av

    with av.open(str(path)) as container:
        decoded = [(frame.time, frame.to_image()) for frame in container.decode(video=0)]
    times = np.array([time for time, _ in decoded])
    width, height = PANEL
    out = []
    for index in range(frames):
        wanted = (offset + index / fps) % times[-1]
        image = decoded[int(np.abs(times - wanted).argmin())][1].resize((640, 360), Image.BILINEAR)
        out.append(np.asarray(image)[:height, (640 - width) // 2 : (640 + width) // 2])
    return out


def side_by_side(path: Path, left: list, right: list, audio: np.ndarray | None) -> Path:
    """Encode the two panels next to each other with `audio` (16 kHz) as the soundtrack."""
    count = min(len(left), len(right))
    frames = [np.concatenate([a, b], axis=1) for a, b in zip(left[:count], right[:count])]
    kept = None if audio is None else audio[: int(count / FPS * RATE)]
    return write_video(path, frames, FPS, kept, RATE)


def one_after_another(path: Path, *parts: list) -> Path:
    """Encode panels of several clips one after the other (cuts between them), without audio."""
    return write_video(path, [frame for part in parts for frame in part], FPS)


def face_grid(data: Path, actors, columns: int = 5) -> tuple[np.ndarray, list[tuple]]:
    """The RAVDESS actors' faces in a grid (each cell the 160 x 180 px around the face): the image and each cell's
    (left, top, right, bottom)."""
    cells, boxes = [], []
    for index, actor in enumerate(actors):
        still = read_image(data / "faces" / "ravdess" / f"Actor_{actor:02d}.png")
        cells.append(still[30:210, 119:279])
        row, column = divmod(index, columns)
        boxes.append((column * 160, row * 180, column * 160 + 159, row * 180 + 179))
    rows = -(-len(cells) // columns)
    grid = np.full((rows * 180, columns * 160, 3), 255, np.uint8)
    for cell, (left, top, _, _) in zip(cells, boxes):
        grid[top : top + 180, left : left + 160] = cell
    return grid, boxes
