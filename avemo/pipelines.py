"""`pipeline("video-classification", model=FOLDER)` without `trust_remote_code`, where avemo is installed.

    import avemo.pipelines                    # registers avemo's pipeline for the task
    from transformers import pipeline
    classify = pipeline("video-classification", model="my-avemo-model")

A model folder names its pipeline in `config.custom_pipelines`, for machines without avemo; transformers runs such
a pipeline only with `trust_remote_code=True`. Importing this module registers, for the `video-classification`
task, a class that builds avemo's pipeline (the same code, installed) for AVEmo models and transformers' own
`VideoClassificationPipeline` for every other model, and lets the installed `AVEmoConfig` leave the folder's
custom pipeline aside. (Without a task, transformers can only learn it from the folder's custom pipeline, which
needs `trust_remote_code=True`: name the task.) It is a module of its own because importing
`transformers.pipelines` takes seconds, which the CLI and the model classes should not pay.
"""

from transformers import AutoProcessor
from transformers.pipelines import PIPELINE_REGISTRY, VideoClassificationPipeline

import avemo.processing  # noqa: F401  (registers AVEmoProcessor with AutoProcessor)
from modeling_avemo import AVEmoPreTrainedModel
from modeling_avemo.pipeline_avemo import AVEmoVideoClassificationPipeline


class VideoClassificationPipelineWithAVEmo(VideoClassificationPipeline):
    """transformers' video-classification pipeline, or avemo's for AVEmo models (decided by the model)."""

    def __new__(cls, model=None, *args, **kwargs):
        if not isinstance(model, AVEmoPreTrainedModel):
            return VideoClassificationPipeline(model, *args, **kwargs)
        if kwargs.get("processor") is None:
            kwargs["processor"] = AutoProcessor.from_pretrained(model.name_or_path)
        for component in ("image_processor", "video_processor"):
            kwargs.pop(component, None)
        return AVEmoVideoClassificationPipeline(model, *args, **kwargs)


# Replace the task's class, keeping its model classes and defaults (assigned directly: register_pipeline would log
# an "overwriting" warning at every import).
_task = dict(PIPELINE_REGISTRY.supported_tasks["video-classification"], impl=VideoClassificationPipelineWithAVEmo)
PIPELINE_REGISTRY.supported_tasks["video-classification"] = _task
VideoClassificationPipelineWithAVEmo._registered_impl = {"video-classification": _task}
