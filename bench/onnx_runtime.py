"""CPU benchmark of onnxruntime against eager PyTorch on the same inputs, in one run.

Models: the paper's default classifier (`AVEmoConfig()`: IR50 112 + AlexNet + transformer attention + FBP, random
weights) and the shipped FER2013 faces model (trained weights). Each is exported with `export_onnx` (which checks
onnxruntime's logits against PyTorch's first) and timed on random inputs of `--frames` faces and `--audio-frames`
log-mel frames per clip at each batch size: eager PyTorch in the default layout and with channels-last weights (what
`avemo predict` uses on a CPU), and onnxruntime's CPUExecutionProvider, both with the same thread count. Runs
alternate between the three so that load from other processes falls on all alike; the median is reported.

    python bench/onnx_runtime.py [--repeats 5] [--batch-sizes 1 8] [--frames 8] [--threads N]
"""

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from avemo.hub_card.onnx_export import export_onnx
from avemo.hub_card.onnx_runner import OnnxClassifier
from avemo.model_folders.pretrained import pretrained_path
from model_forward import make_inputs
from modeling_avemo import AVEmoConfig, AVEmoForVideoClassification


def load_model(name: str) -> AVEmoForVideoClassification:
    if name == "fer2013-faces":
        return AVEmoForVideoClassification.from_pretrained(pretrained_path(name)).eval()
    torch.manual_seed(0)
    return AVEmoForVideoClassification(AVEmoConfig()).eval()


def medians(functions: dict, repeats: int) -> dict:
    """Median seconds of each function, run in turn `repeats` times after one warm-up each."""
    for function in functions.values():
        function()
    times = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--audio-frames", type=int, default=300, help="log-mel frames (10 ms hop): 300 = 3 s")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="for torch and onnxruntime")
    parser.add_argument("--models", nargs="+", default=["paper", "fer2013-faces"], choices=("paper", "fer2013-faces"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import onnxruntime

    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())  # other processes share the cores
    print(
        f"device: CPU ({os.cpu_count()} cores), {args.threads} threads (torch and onnxruntime); "
        f"torch {torch.__version__}, onnxruntime {onnxruntime.__version__}; load average before the run {load}"
    )
    print(f"input per clip: {args.frames} face frames, {args.audio_frames} log-mel frames (models with audio)")
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for name in args.models:
            model = load_model(name)
            start = time.perf_counter()
            export = export_onnx(model, Path(scratch) / name)
            seconds = time.perf_counter() - start
            size = (export.folder / "model.onnx").stat().st_size / 1e6
            print(
                f"{name}: exported and checked in {seconds:.0f} s, model.onnx {size:.1f} MB, "
                f"check's max logit difference {export.max_difference:.1e}"
            )
            onnx = OnnxClassifier(export.folder, threads=args.threads)
            channels_last = load_model(name).to(memory_format=torch.channels_last)
            for batch_size in args.batch_sizes:
                inputs = make_inputs(model.config, batch_size, args.frames, args.audio_frames, torch.device("cpu"))
                feed = onnx.graph_inputs(inputs)
                with torch.inference_mode():
                    difference = np.abs(onnx(**inputs) - model(**inputs).logits.numpy()).max()
                    times = medians(
                        {
                            "eager": lambda: model(**inputs),
                            "channels-last": lambda: channels_last(**inputs),
                            "onnxruntime": lambda: onnx.session.run(["logits"], feed),
                        },
                        args.repeats,
                    )
                rows.append((name, batch_size, times, difference))
    print()
    print(
        "| model | batch | eager s | eager channels-last s | onnxruntime s | onnxruntime speed-up vs eager | "
        "vs channels-last | max logit difference |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, batch_size, times, difference in rows:
        print(
            f"| {name} | {batch_size} | {times['eager']:.4f} | {times['channels-last']:.4f} | "
            f"{times['onnxruntime']:.4f} | {times['eager'] / times['onnxruntime']:.2f}x | "
            f"{times['channels-last'] / times['onnxruntime']:.2f}x | {difference:.1e} |"
        )


if __name__ == "__main__":
    main()
