"""Which face-identity descriptor follows people (`--persons`): the model's own face CNN when it still is face.evoLVe's
MS-Celeb-1M IR50 (an ArcFace face-recognition network, trained to tell people apart), else dlib's ResNet.

The IR50's frame vector is an identity embedding only while its weights are the published ones: once trained on
emotions (the paper fine-tunes it) it describes expressions, so any training run recorded in the provenance, or
another crop than the checkpoint's 112 px ArcFace template, falls back to dlib.
"""

import numpy as np

MS1M_ORIGIN = "face identities of MS-Celeb-1M"  # what avemo init --ir50 records as the face CNN's training data


def has_identity_face_cnn(config) -> bool:
    """Whether the model's face CNN is the MS1M IR50 as published: the last face_encoder weights recorded are the
    MS-Celeb-1M checkpoint, no training run came after, and faces are cut as that checkpoint was trained."""
    if config.face_backbone != "ir50" or not config.uses_visual:
        return False
    record = config.provenance or {}
    faces = [entry for entry in record.get("weights", []) if entry.get("part") == "face_encoder"]
    recipe = config.face_recipe or {}
    return (
        bool(faces)
        and str(faces[-1].get("trained_on", "")).startswith(MS1M_ORIGIN)
        and not record.get("training")
        and recipe.get("geometry") == "template"
        and recipe.get("size") == 112
    )


class FaceCNNIdentity:
    """The model's IR50 vector of each face crop, L2-normalised, as the tracker's identity descriptor. Distances are
    Euclidean between unit vectors (sqrt(2 - 2 cos)): a face joins a track at cosine similarity above 0.45, and a
    face linked by overlap is unlinked below 0.2 (ArcFace verification thresholds lie around 0.3-0.4)."""

    name = "the model's face CNN (face.evoLVe IR50, MS-Celeb-1M, 512-D)"
    threshold = float(np.sqrt(2 - 2 * 0.45))
    split_distance = float(np.sqrt(2 - 2 * 0.2))

    def __init__(self, predictor):
        self.predictor = predictor

    def __call__(self, frame, face) -> np.ndarray:
        import torch

        predictor = self.predictor
        model = predictor.model
        pixels = predictor.processor.face_tensors([[face.crop]])["pixel_values"][0]
        with torch.inference_mode():
            vector = model.avemo.embed_faces(pixels.to(predictor.device, model.dtype)).float().cpu()[0]
        return (vector / vector.norm().clamp_min(1e-12)).numpy()


def identity_for(predictor):
    """The identity descriptor `--persons` uses with this predictor's model (None: dlib's, the default)."""
    return FaceCNNIdentity(predictor) if has_identity_face_cnn(predictor.model.config) else None


__all__ = ["FaceCNNIdentity", "has_identity_face_cnn", "identity_for"]
