"""A small audio-video corpus with a label signal in both modalities, named like RAVDESS.

Each clip is a real face (one RAVDESS actor frame, so dlib finds it) tinted by the label's colour, with a tone
at the label's pitch. A model that learns anything from faces or audio separates the labels; one that learns
nothing stays at chance. No accuracy figure about emotions can be drawn from it.
"""

from pathlib import Path

import numpy as np
from PIL import Image

from media import write_video

# RAVDESS emotion code -> (RGB gain, tone in Hz)
SIGNALS = {
    "01": ((1.25, 0.85, 0.85), 330.0),  # neutral: reddish face, low tone
    "03": ((0.85, 1.25, 0.85), 880.0),  # happy: greenish face, middle tone
    "05": ((0.85, 0.85, 1.25), 2200.0),  # angry: bluish face, high tone
}


def make_clip(path, face: np.ndarray, emotion: str, rng: np.random.Generator, seconds: float = 1.0, fps: int = 8):
    gain, tone = SIGNALS[emotion]
    tinted = np.clip(face.astype(np.float32) * np.asarray(gain), 0, 255)
    frames = [
        np.clip(tinted + rng.normal(0, 4, tinted.shape), 0, 255).astype(np.uint8) for _ in range(int(seconds * fps))
    ]
    time = np.arange(int(seconds * 16000)) / 16000
    pitch = tone * (1 + 0.03 * rng.standard_normal())
    audio = (
        0.3 * np.sin(2 * np.pi * pitch * time)
        + 0.1 * np.sin(4 * np.pi * pitch * time)
        + 0.02 * rng.standard_normal(len(time))
    )
    return write_video(path, frames, fps, audio.astype(np.float32), 16000)


def make_ravdess_like_corpus(root, faces_dir, actors=range(1, 25), repetitions=1, seed=0) -> Path:
    """Clips `Actor_XX/01-01-EE-01-01-RR-XX.mp4` for the emotions of SIGNALS; returns the corpus folder."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    for actor in actors:
        face = np.asarray(Image.open(Path(faces_dir) / f"Actor_{actor:02d}.png").convert("RGB"))
        folder = root / f"Actor_{actor:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        for emotion in SIGNALS:
            for repetition in range(1, repetitions + 1):
                make_clip(folder / f"01-01-{emotion}-01-01-{repetition:02d}-{actor:02d}.mp4", face, emotion, rng)
    return root
