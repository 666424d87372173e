"""Who speaks: each stretch of speech goes to the face whose mouth moves with it (audio-visual synchrony).

The method is Hershey and Movellan's ("Audio Vision: Using Audio-Visual Synchrony to Locate Sounds", NIPS 12,
2000): over a stretch of time, the mutual information between the audio energy and the grey level of one pixel,
under a joint Gaussian model, is -1/2 log(1 - rho^2), rho their correlation; the pixels of the mouth that speaks
carry it. No trained active-speaker model is involved.

Per face, at every video frame (at most 30 a second), the grey levels of a 12 x 16 grid over the lower face (from
just below the nose to below the chin, 1.4 eye distances wide), placed by the 5 landmarks of the face's latest
sighting. Per stretch (2 s by default), the audio's log energy in 40 ms around each frame. A face's evidence is the
mean mutual information of its mouth pixels with the energy, the largest over shifts of up to 80 ms either way
(the mouth often moves a little before the sound). Subtracting the same measure over the eyes, as a control for head
motion, was tried and lost accuracy (people move their heads as they speak).

A stretch holds speech when at least `min_speech` seconds of it are louder than -50 dBFS and within 30 dB of its
loudest frame (an energy detector: loud music counts as "speech" here, and goes to nobody unless a mouth moves with
it). It goes to:
- the only face on screen during it, when there is one (as avemo's prediction without persons would: an off-screen
  voice cannot be told apart by synchrony alone);
- else the face with the most evidence, if that is at least `min_evidence`; else to nobody ("unattributed": an
  off-screen voice, or no mouth moving with it).
"""

from dataclasses import dataclass, field

import numpy as np

from .face_alignment_avemo import eye_centres

GRID = (12, 16)  # rows, columns of the grey-level grids
SPEECH_FLOOR_DB = -50.0  # log energy (dBFS, RMS) below which a frame is not speech
SPEECH_RANGE_DB = 30.0  # and not when quieter than the stretch's loudest frame by more than this
MAX_MOTION_FPS = 30.0


def mouth_region(landmarks: np.ndarray) -> tuple:
    """The lower face as (left, top, right, bottom) float pixels, from dlib's 5 points (eye corners, nose base): from
    0.15 to 1.3 eye-to-nose heights below the nose base, 1.4 eye distances wide."""
    eyes = eye_centres(landmarks)
    middle, nose = eyes.mean(axis=0), np.asarray(landmarks, dtype=np.float64)[4]
    spacing = float(np.linalg.norm(eyes[1] - eyes[0]))
    drop = max(float(nose[1] - middle[1]), 0.3 * spacing)  # eye line to nose base
    return (nose[0] - 0.7 * spacing, nose[1] + 0.15 * drop, nose[0] + 0.7 * spacing, nose[1] + 1.3 * drop)


def sample_region(gray: np.ndarray, box, grid: tuple[int, int] = GRID) -> np.ndarray:
    """The grey levels at a grid of points spread over the box (nearest pixel; points outside are clamped)."""
    left, top, right, bottom = box
    height, width = gray.shape[:2]
    rows = np.clip(np.rint(np.linspace(top, bottom, grid[0])).astype(np.int64), 0, height - 1)
    columns = np.clip(np.rint(np.linspace(left, right, grid[1])).astype(np.int64), 0, width - 1)
    return gray[np.ix_(rows, columns)].astype(np.float32)


def log_energy(waveform: np.ndarray, rate: int, times, width: float = 0.04, offset: float = 0.0) -> np.ndarray:
    """The audio's log energy (dBFS of the RMS) in `width` seconds around each time; `offset`: the time of the
    waveform's first sample. A floor of -100 dB."""
    waveform = np.asarray(waveform, dtype=np.float64)
    squares = np.concatenate([[0.0], np.cumsum(waveform**2)])
    half = width / 2
    lo = np.clip(np.rint((np.asarray(times) - offset - half) * rate).astype(np.int64), 0, len(waveform))
    hi = np.clip(np.rint((np.asarray(times) - offset + half) * rate).astype(np.int64), 0, len(waveform))
    power = (squares[hi] - squares[lo]) / np.maximum(hi - lo, 1)
    return 10 * np.log10(np.maximum(power, 1e-10))


def speech_mask(energy: np.ndarray) -> np.ndarray:
    """Frames that count as speech: louder than the floor and within the range of the loudest."""
    if energy.size == 0:
        return np.zeros(0, dtype=bool)
    return (energy > SPEECH_FLOOR_DB) & (energy > energy.max() - SPEECH_RANGE_DB)


def gaussian_information(values: np.ndarray, signal: np.ndarray) -> np.ndarray:
    """Mutual information (nats) between each column of `values` (time, n) and `signal` (time,) under a joint
    Gaussian model: -1/2 log(1 - rho^2) of their correlation (Hershey and Movellan 2000). A constant column has 0."""
    values = values - values.mean(axis=0)
    signal = signal - signal.mean()
    scale = np.sqrt((values**2).sum(axis=0) * (signal**2).sum())
    rho = np.divide((values * signal[:, None]).sum(axis=0), scale, out=np.zeros(values.shape[1]), where=scale > 0)
    return -0.5 * np.log1p(-np.minimum(rho**2, 0.999999))


def synchrony(mouth: np.ndarray, energy: np.ndarray, max_shift: int = 0) -> float:
    """A face's evidence of speaking over a stretch: the mean information of its mouth grid's pixels with the log
    energy, the largest over shifts of the grids by up to `max_shift` frames either way. `mouth`: (time, rows,
    columns) grey levels; `energy`: (time,)."""
    pixels = mouth.reshape(len(energy), -1)
    best = float("-inf")
    for shift in range(-max_shift, max_shift + 1):
        if len(energy) - abs(shift) < 4:
            continue
        moved = pixels[max(shift, 0) : len(pixels) + min(shift, 0)]
        heard = energy[max(-shift, 0) : len(energy) + min(-shift, 0)]
        best = max(best, float(gaussian_information(moved, heard).mean()))
    return best


class MouthMotion:
    """The mouth grey-level grid of each tracked face at every video frame (`drop_before` bounds the memory)."""

    def __init__(self, hold: float = 1.5):
        self.hold = hold  # seconds a face's last landmarks stay valid without a new sighting
        self.samples: dict[int, list] = {}  # track id -> [(time, mouth grid)]
        self.frame_times: list[float] = []

    def add(self, time: float, gray: np.ndarray, tracks) -> None:
        """Sample every track seen within `hold` seconds before `time` on the grey frame shown at `time`."""
        self.record(time, self.sample(time, gray, tracks))

    def sample(self, time: float, gray: np.ndarray, tracks) -> dict:
        """{track id: mouth grid} of the tracks seen within `hold` seconds before `time`, read off the grey frame."""
        grids = {}
        for track in tracks:
            if track.landmarks is None or not track.times or not 0 <= time - track.last_seen <= self.hold:
                continue
            grids[track.id] = sample_region(gray, mouth_region(track.landmarks))
        return grids

    def record(self, time: float, grids: dict) -> None:
        """Keep one frame's grids (from `sample`, possibly made in another thread)."""
        self.frame_times.append(time)
        for track_id, grid in grids.items():
            self.samples.setdefault(track_id, []).append((time, grid))

    def drop_before(self, time: float) -> None:
        """Forget the frames and mouth grids from before `time` (seconds)."""
        self.frame_times = [t for t in self.frame_times if t >= time]
        for key, samples in self.samples.items():
            self.samples[key] = [sample for sample in samples if sample[0] >= time]

    def frame_interval(self) -> float:
        """Seconds between sampled frames: the median gap, or 1 / MAX_MOTION_FPS with fewer than two frames."""
        gaps = np.diff(self.frame_times)
        return float(np.median(gaps)) if len(gaps) else 1 / MAX_MOTION_FPS


@dataclass
class SpeechStretch:
    """One stretch of the audio and whom its speech went to."""

    start: float
    end: float
    speech_seconds: float  # how much of it is speech (0: none)
    speaker: int | None  # track id, or None (no speech, or unattributed)
    reason: str  # "silent", "alone on screen", "synchrony", "unattributed", "no face on screen"
    on_screen: list[int] = field(default_factory=list)
    evidence: dict[int, float] = field(default_factory=dict)  # track id -> synchrony evidence (several on screen)


def attribute_stretch(
    motion: MouthMotion,
    waveform: np.ndarray | None,
    rate: int,
    start: float,
    end: float,
    offset: float = 0.0,
    min_speech: float = 0.2,
    min_evidence: float = 0.05,
    max_shift_seconds: float = 0.08,
) -> SpeechStretch:
    """Whom the speech of [start, end) goes to (see the module docstring). `waveform` at `rate`, its first sample at
    `offset` seconds; None: no audio."""
    times = np.array([t for t in motion.frame_times if start <= t < end])
    if waveform is None or len(waveform) == 0 or times.size < 4:
        return SpeechStretch(start, end, 0.0, None, "silent")
    energy = log_energy(waveform, rate, times, offset=offset)
    speech = speech_mask(energy)
    interval = motion.frame_interval()
    speech_seconds = round(float(speech.sum()) * interval, 3)
    if speech_seconds < min_speech:
        return SpeechStretch(start, end, 0.0, None, "silent")
    index = {round(t, 4): i for i, t in enumerate(times)}
    shift = int(round(max_shift_seconds / interval))
    on_screen, evidence = [], {}
    for track_id, samples in motion.samples.items():
        picked = [(index[round(t, 4)], grid) for t, grid in samples if round(t, 4) in index]
        if len(picked) < max(4, times.size // 2):  # on screen for at least half the stretch
            continue
        on_screen.append(track_id)
        rows = [row for row, _ in picked]
        evidence[track_id] = synchrony(np.stack([grid for _, grid in picked]), energy[rows], shift)
    if not on_screen:
        return SpeechStretch(start, end, speech_seconds, None, "no face on screen")
    if len(on_screen) == 1:
        return SpeechStretch(start, end, speech_seconds, on_screen[0], "alone on screen", on_screen, evidence)
    best = max(evidence, key=evidence.get)
    if evidence[best] < min_evidence:
        return SpeechStretch(start, end, speech_seconds, None, "unattributed", on_screen, evidence)
    return SpeechStretch(start, end, speech_seconds, best, "synchrony", on_screen, evidence)


def stretch_bounds(duration: float, length: float = 2.0) -> list[tuple[float, float]]:
    """[start, end) stretches of `length` seconds covering [0, duration]; a last piece shorter than half a stretch
    joins the one before."""
    if duration <= 0:
        return []
    bounds, start = [], 0.0
    while start < duration - 1e-9:
        bounds.append([start, min(start + length, duration)])
        start += length
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] < length / 2:
        last = bounds.pop()
        bounds[-1][1] = last[1]
    return [(round(a, 6), round(b, 6)) for a, b in bounds]


__all__ = [
    "MouthMotion",
    "SpeechStretch",
    "attribute_stretch",
    "mouth_region",
    "gaussian_information",
    "log_energy",
    "speech_mask",
    "stretch_bounds",
    "synchrony",
]
