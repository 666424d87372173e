"""The `video-classification` pipeline of an AVEmo model folder (transformers' custom pipeline mechanism).

    from transformers import pipeline
    classify = pipeline("video-classification", model="my-avemo-model", trust_remote_code=True)
    classify("clip.mp4")                      # [{"label": "Happy", "score": 0.71}, ...]
    classify(["a.mp4", "b.mov"], top_k=2)     # one list per clip, padded into batches of `batch_size`

The folder's `AVEmoProcessor` (loaded with `AutoProcessor`) decodes, finds faces and computes the log-mel
features; bad input raises its typed errors (`UnreadableMediaError`, `NotAVideoError`, `NothingToPredictError`),
naming the file. Warnings about the weights (untrained, no better than chance, never evaluated) are logged once,
with the model's notes (what it is), when the pipeline is made.

This file is saved next to the weights as remote code (config.json's `custom_pipelines` names it); it imports only
torch and transformers.
"""

import torch
from transformers import Pipeline
from transformers.utils import logging

logger = logging.get_logger(__name__)


class AVEmoVideoClassificationPipeline(Pipeline):
    _load_processor = True
    _load_image_processor = False
    _load_video_processor = False
    _load_feature_extractor = False
    _load_tokenizer = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.processor is None or not hasattr(self.processor, "process_video"):
            raise ValueError(
                "this pipeline needs the model folder's AVEmoProcessor (processor_config.json); pass processor=..."
            )
        config = self.model.config
        for note in config.provenance_notes():
            logger.info(f"model: {note}")
        for warning in config.provenance_warnings():
            logger.warning(f"model: {warning}")

    def _sanitize_parameters(self, top_k=None, num_frames=None, **kwargs):
        preprocess_params = {"num_frames": num_frames} if num_frames is not None else {}
        postprocess_params = {"top_k": top_k} if top_k is not None else {}
        return preprocess_params, {}, postprocess_params

    def __call__(self, inputs, **kwargs):
        """Labels and scores of one video (a path: a list of {"label", "score"}) or of a list of videos (a list of
        such lists). Lists are padded into batches of `batch_size` clips (default 1) with the processor's masks."""
        if isinstance(inputs, (list, tuple)):
            return self._call_batched(list(inputs), **kwargs)
        return super().__call__(inputs, **kwargs)

    def _call_batched(self, videos, batch_size=None, **kwargs):
        preprocess_params, _, postprocess_params = self._sanitize_parameters(**kwargs)
        batch_size = batch_size or self._batch_size or 1
        results = []
        for start in range(0, len(videos), batch_size):
            clips = [self._clip(video, **preprocess_params) for video in videos[start : start + batch_size]]
            inputs = self.processor.batch(clips, return_tensors="pt")
            with self.device_placement(), torch.inference_mode():
                logits = self.model(**inputs.to(self.device)).logits
            results += [self.postprocess({"logits": row[None]}, **postprocess_params) for row in logits]
        return results

    def _clip(self, video, num_frames=None):
        if num_frames is not None and num_frames != self.processor.num_frames:
            # A per-call frame count, without changing the shared processor.
            import copy

            processor = copy.copy(self.processor)
            processor.num_frames = num_frames
            return processor.process_video(video)
        return self.processor.process_video(video)

    def preprocess(self, inputs, num_frames=None):
        clip = self._clip(inputs, num_frames)
        for warning in clip.warnings:
            logger.warning(f"{clip.source}: {warning}")
        return self.processor.batch([clip], return_tensors="pt")

    def _forward(self, model_inputs):
        return {"logits": self.model(**model_inputs).logits}

    def postprocess(self, model_outputs, top_k=None):
        config = self.model.config
        probabilities = model_outputs["logits"][0].float().softmax(-1)
        top_k = config.num_labels if top_k is None else min(top_k, config.num_labels)
        scores, indices = probabilities.topk(top_k)
        return [{"label": config.id2label[int(i)], "score": float(s)} for s, i in zip(scores, indices)]
