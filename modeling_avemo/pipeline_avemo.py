"""The `video-classification` pipeline of an AVEmo model folder (transformers' custom pipeline mechanism).

    from transformers import pipeline
    classify = pipeline("video-classification", model="my-avemo-model", trust_remote_code=True)
    classify("clip.mp4")                      # [{"label": "Happy", "score": 0.71}, ...]
    classify(["a.mp4", "b.mov"], top_k=2)     # one list per clip, padded into batches of `batch_size`
    # an ensemble: the weighted mean of several models' probabilities (labels matched by name)
    pipeline("video-classification", model="run-a", ensemble=["run-b", "run-c"], ensemble_weights=[2, 1, 1], ...)

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


# Copied from avemo.inference.scores.weighted_mean
def weighted_mean(probabilities, orders, weights):
    """Sum over models of weight x probabilities, each model's (..., labels) tensor put in the first model's label
    order first; weights summing to 1 give the weighted mean, in the first model's order."""
    combined = None
    for member, order, weight in zip(probabilities, orders, weights):
        term = member[..., order] * weight
        combined = term if combined is None else combined + term
    return combined


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

    def _sanitize_parameters(self, top_k=None, num_frames=None, ensemble=None, ensemble_weights=None, **kwargs):
        if ensemble is not None or ensemble_weights is not None:
            self._set_ensemble(ensemble or [], ensemble_weights)
        preprocess_params = {"num_frames": num_frames} if num_frames is not None else {}
        postprocess_params = {"top_k": top_k} if top_k is not None else {}
        return preprocess_params, {}, postprocess_params

    # ------------------------------------------------------------------------------------------- ensembles

    def _set_ensemble(self, others, weights=None):
        """This pipeline's model and `others` (model folders or hub ids, loaded as this one was, or pipelines),
        their probabilities averaged with `weights` (one per model, this one first; default equal). Each model
        keeps its own processor; label sets must hold the same names (the ensemble speaks in this model's order)."""
        others = list(others) if isinstance(others, (list, tuple)) else [others]
        weights = [1.0] * (1 + len(others)) if weights is None else [float(weight) for weight in weights]
        if len(weights) != 1 + len(others) or any(weight < 0 for weight in weights) or sum(weights) <= 0:
            raise ValueError(
                f"give one non-negative weight per model ({1 + len(others)}, this pipeline's first), not all zero; "
                f"got {weights}"
            )
        first = self.model.config.labels

        def labels_of(model, name):
            # Spelt out: another folder's config class may predate `AVEmoConfig.labels`.
            labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
            if sorted(labels) != sorted(first):
                raise ValueError(
                    f"{name} predicts {labels} but this pipeline's model predicts {first}: "
                    "an ensemble averages one label set"
                )
            return labels

        members = [(self.model, self.processor, first)]
        for other in others:
            if isinstance(other, Pipeline):
                members.append((other.model, other.processor, labels_of(other.model, other.model.name_or_path)))
                continue
            from transformers import AutoModelForVideoClassification, AutoProcessor

            model = (
                AutoModelForVideoClassification.from_pretrained(other, trust_remote_code=True).to(self.device).eval()
            )
            labels = labels_of(model, str(other))  # before the processor: a wrong model is named first
            for warning in model.config.provenance_warnings():
                logger.warning(f"ensemble member {other}: {warning}")
            members.append((model, AutoProcessor.from_pretrained(other, trust_remote_code=True), labels))
        self._ensemble = [
            (model, processor, [labels.index(label) for label in first], weight / sum(weights))
            for (model, processor, labels), weight in zip(members, weights)
        ]
        if len(self._ensemble) == 1:
            self._ensemble = None

    def __call__(self, inputs, **kwargs):
        """Labels and scores of one video (a path: a list of {"label", "score"}) or of a list of videos (a list of
        such lists). Lists are padded into batches of `batch_size` clips (default 1) with the processor's masks."""
        if isinstance(inputs, (list, tuple)):
            if getattr(self, "_ensemble", None) or "ensemble" in kwargs:
                return [super(AVEmoVideoClassificationPipeline, self).__call__(video, **kwargs) for video in inputs]
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
        """The model inputs of one video: a batch of one clip (of `num_frames` frames when given), its warnings
        logged; with an ensemble, one such batch per member under `"members"`."""
        if getattr(self, "_ensemble", None):
            return self._preprocess_ensemble(inputs, num_frames)
        clip = self._clip(inputs, num_frames)
        for warning in clip.warnings:
            logger.warning(f"{clip.source}: {warning}")
        return self.processor.batch([clip], return_tensors="pt")

    def _preprocess_ensemble(self, video, num_frames=None):
        """One batch per member; a clip is decoded and its faces found once per distinct processor."""
        import copy

        clips, batches = {}, []
        for _, processor, _, _ in self._ensemble:
            if num_frames is not None:
                processor = copy.copy(processor)
                processor.num_frames = num_frames
            key = processor.to_json_string()
            if key not in clips:
                clips[key] = processor.process_video(video)
                for warning in clips[key].warnings:
                    logger.warning(f"{clips[key].source}: {warning}")
            batches.append(dict(processor.batch([clips[key]], return_tensors="pt")))
        return {"members": batches}

    def _forward(self, model_inputs):
        if "members" in model_inputs:
            probabilities = [
                model(**inputs).logits.float().softmax(-1)
                for (model, _, _, _), inputs in zip(self._ensemble, model_inputs["members"])
            ]
            orders, weights = [order for _, _, order, _ in self._ensemble], [w for *_, w in self._ensemble]
            return {"probabilities": weighted_mean(probabilities, orders, weights)}
        return {"logits": self.model(**model_inputs).logits}

    def postprocess(self, model_outputs, top_k=None):
        """The `top_k` labels (all by default) with their probabilities, best first, as {"label", "score"} dicts."""
        config = self.model.config
        if "probabilities" in model_outputs:
            probabilities = model_outputs["probabilities"][0].float()
        else:
            probabilities = model_outputs["logits"][0].float().softmax(-1)
        top_k = config.num_labels if top_k is None else min(top_k, config.num_labels)
        scores, indices = probabilities.topk(top_k)
        return [{"label": config.id2label[int(i)], "score": float(s)} for s, i in zip(scores, indices)]
