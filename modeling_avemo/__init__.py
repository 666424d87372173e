"""AVEmo model package: configuration, model classes and backbone weight import.

Importing it registers the model with transformers' Auto classes, so that `AutoConfig`, `AutoModel` and
`AutoModelForVideoClassification` build AVEmo models from a folder without `trust_remote_code`.
"""

from transformers import AutoConfig, AutoModel, AutoModelForVideoClassification

from .backbone_import import (
    load_alexnet_weights,
    load_ir50_weights,
    load_mini_xception_weights,
    load_resnet18_weights,
    load_vggface_weights,
)
from .configuration_avemo import AFEW_LABELS, AVEmoConfig
from .face_recipes_avemo import FACE_RECIPES, FaceRecipe, face_recipe
from .modeling_avemo import (
    AVEmoForVideoClassification,
    AVEmoForVideoClassificationOutput,
    AVEmoModel,
    AVEmoModelOutput,
    AVEmoPreTrainedModel,
)

AutoConfig.register(AVEmoConfig.model_type, AVEmoConfig, exist_ok=True)
AutoModel.register(AVEmoConfig, AVEmoModel, exist_ok=True)
AutoModelForVideoClassification.register(AVEmoConfig, AVEmoForVideoClassification, exist_ok=True)

__all__ = [
    "AFEW_LABELS",
    "AVEmoConfig",
    "AVEmoModel",
    "AVEmoForVideoClassification",
    "AVEmoPreTrainedModel",
    "AVEmoModelOutput",
    "AVEmoForVideoClassificationOutput",
    "load_ir50_weights",
    "load_alexnet_weights",
    "load_resnet18_weights",
    "load_mini_xception_weights",
    "load_vggface_weights",
    "FaceRecipe",
    "FACE_RECIPES",
    "face_recipe",
]
