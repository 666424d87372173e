"""avemo.processing: video files -> AVEmo model inputs (PyAV decoding, dlib face alignment, log-mel + deltas).

Importing it registers the feature extractor and the processor with `AutoFeatureExtractor` and `AutoProcessor`.
"""

from transformers import AutoFeatureExtractor, AutoProcessor

from modeling_avemo import AVEmoConfig

from .dependencies_avemo import MissingDependencyError
from .face_alignment_avemo import AlignedFace, FaceAligner, FaceAlignmentUnavailableError
from .face_recipes_avemo import FACE_RECIPES, FaceRecipe, face_recipe
from .feature_extraction_avemo import AVEmoFeatureExtractor
from .face_tracking_avemo import FaceTrack, FaceTracker
from .persons_avemo import PersonClip, PersonsVideo
from .processing_avemo import AVEmoProcessor, NothingToPredictError, ProcessedClip
from .speaker_attribution_avemo import SpeechStretch
from .video_io_avemo import (
    MediaError,
    NotAVideoError,
    StillImageError,
    UnreadableMediaError,
    probe_media,
    read_audio,
    read_frames,
    read_image,
)

AutoFeatureExtractor.register(AVEmoConfig, AVEmoFeatureExtractor, exist_ok=True)
AutoProcessor.register(AVEmoConfig, AVEmoProcessor, exist_ok=True)

__all__ = [
    "AVEmoFeatureExtractor",
    "AVEmoProcessor",
    "ProcessedClip",
    "PersonClip",
    "PersonsVideo",
    "FaceTrack",
    "FaceTracker",
    "SpeechStretch",
    "AlignedFace",
    "FaceAligner",
    "FaceRecipe",
    "FACE_RECIPES",
    "face_recipe",
    "read_frames",
    "read_audio",
    "read_image",
    "probe_media",
    "StillImageError",
    "MediaError",
    "UnreadableMediaError",
    "NotAVideoError",
    "NothingToPredictError",
    "FaceAlignmentUnavailableError",
    "MissingDependencyError",
]
