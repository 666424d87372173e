"""hub_card: hub repositories and model cards for avemo model folders (installed as `avemo.hub_card`).

    from avemo.hub_card import build_model_card, export_model, push_folder
    export_model("runs/ravdess/best", "hub/avemo-ravdess", metrics="runs/ravdess/test.json")   # avemo export
    push_folder("hub/avemo-ravdess", "me/avemo-ravdess", dry_run=True)                        # avemo push
    export_onnx("runs/ravdess/best", "onnx/avemo-ravdess")                                    # avemo export --onnx
    OnnxClassifier("onnx/avemo-ravdess")(**processor_outputs)                                 # logits, onnxruntime

The card (`modelcard_template.md`, rendered with huggingface_hub's ModelCard) states only what the folder records.
"""

from .card import ModelCardError, build_model_card, provenance_markdown, read_metrics
from .export import HubFolderError, check_hub_folder, export_model, push_folder
from .onnx_export import OnnxExport, OnnxExportError, export_onnx
from .onnx_runner import OnnxClassifier, OnnxFolderError, OnnxUnavailableError

__all__ = [
    "ModelCardError",
    "HubFolderError",
    "build_model_card",
    "provenance_markdown",
    "read_metrics",
    "check_hub_folder",
    "export_model",
    "push_folder",
    "OnnxExport",
    "OnnxExportError",
    "OnnxFolderError",
    "OnnxUnavailableError",
    "OnnxClassifier",
    "export_onnx",
]
