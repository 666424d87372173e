"""What a reader of the model card runs, in the environment made from exactly the card's install line
(tests/card_venv.py): transformers' Auto classes and `pipeline("video-classification")` with trust_remote_code on
downloaded model folders. No avemo, no test helpers: this file runs in that environment's python.

    python card_user.py OUT_DIR '[["MODEL_DIR", ["INPUT", ...]], ...]'

For each model and input it saves the processor's outputs and the model's logits in OUT_DIR/arrays.npz (keys
"model/input/name") and prints one line, RESULT {json}: the classes that were loaded, the pipeline's results, and
what the processor reports beside its tensors (which detector found each face, its warnings).
"""

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForVideoClassification, AutoProcessor, pipeline


def run(model_dir: str, inputs: list[str], arrays: dict, report: dict) -> None:
    name = Path(model_dir).name
    processor = AutoProcessor.from_pretrained(model_dir, trust_remote_code=True)
    model = AutoModelForVideoClassification.from_pretrained(model_dir, trust_remote_code=True).eval()
    classify = pipeline("video-classification", model=model_dir, trust_remote_code=True)
    report["loaded"][name] = [type(thing).__module__ for thing in (processor, model, classify)]
    for path in inputs:
        key = f"{name}/{Path(path).name}"
        batch = processor(videos=[path], return_tensors="pt")
        with torch.inference_mode():
            logits = model(**batch).logits
        arrays.update({f"{key}/{field}": value.numpy() for field, value in batch.items()})
        arrays[f"{key}/logits"] = logits.numpy()
        clip = processor.process_video(path)
        report["clips"][key] = {"detectors": [face.detector for face in clip.faces], "warnings": clip.warnings}
        report["pipeline"][key] = classify(path)


def main(argv: list[str]) -> None:
    for package in ("avemo", "modeling_avemo"):
        assert importlib.util.find_spec(package) is None, f"{package} must not be importable here"
    out, jobs = Path(argv[0]), json.loads(argv[1])
    arrays, report = {}, {"loaded": {}, "clips": {}, "pipeline": {}}
    for model_dir, inputs in jobs:
        run(model_dir, inputs, arrays, report)
    np.savez(out / "arrays.npz", **arrays)
    print("RESULT " + json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1:])
