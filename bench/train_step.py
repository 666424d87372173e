"""Training-step benchmark of the default AVEmo classifier through the real collator.

Rows like the feature cache holds (16 aligned 112x112 faces, 3 s of 16 kHz audio per clip) go through
`AVEmoCollator` in a DataLoader (random 8-frame subsets and the default augmentation, log-mel computed per
batch), then forward, backward and an AdamW step. Prints training clips/s, the share of step time spent waiting
for data, and, on a CUDA device, bf16 autocast against fp32 measured in the same run.

Each precision runs twice, without and with activation checkpointing (`model.activation_checkpointing_enable()`):
the rows give the activations the autograd graph keeps for the backward pass (counted tensor by tensor, exact on
any device) and, on a CUDA device, the peak memory allocated, and the lines below the ratios.

    python bench/train_step.py [--steps 5] [--batch-size 4] [--device cpu|cuda] [--workers 0] [--preset NAME]
                               [--checkpointing both|off|on]

`--preset image-stage` measures `avemo train-faces` instead: the default IR50 as a faces-only classifier, one
face per example (clips/s are then images/s).
"""

import argparse
import time

import numpy as np
import torch

from avemo.data.collator import AVEmoCollator
from avemo.model_folders.configs import default_processor
from model_forward import preset_config
from modeling_avemo import AVEmoForVideoClassification


class CachedRows(torch.utils.data.Dataset):
    """Random stand-ins for cached clips (the collator's input), made once."""

    def __init__(self, count, faces=16, size=112, seconds=3.0, labels=7, seed=0):
        rng = np.random.default_rng(seed)
        self.rows = [
            {
                "faces": rng.integers(0, 255, (faces, size, size, 3), dtype=np.uint8),
                "waveform": (0.1 * rng.standard_normal(int(seconds * 16000))).astype(np.float32),
                "label": int(rng.integers(0, labels)),
            }
            for _ in range(count)
        ]

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, index):
        return self.rows[index]


def run(model, loader, steps, device, dtype):
    """Train `steps` timed steps (after one warm-up). Returns clips/s, the share of time waiting for data, the most
    bytes of activations one step kept for its backward pass, and the peak CUDA memory allocated (None on a CPU)."""
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    model.train()
    waiting = computing = 0.0
    clips = 0
    kept_most = 0
    iterator = iter(loader)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    for step in range(steps + 1):  # step 0 warms up
        start = time.perf_counter()
        batch = next(iterator)
        batch = {key: value.to(device, non_blocking=True) for key, value in batch.items()}
        fetched = time.perf_counter()
        kept = 0

        def count(tensor):
            nonlocal kept
            kept += tensor.numel() * tensor.element_size()
            return tensor

        with torch.autograd.graph.saved_tensors_hooks(count, lambda tensor: tensor):
            with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
                loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize()
        done = time.perf_counter()
        kept_most = max(kept_most, kept)
        if step:
            waiting += fetched - start
            computing += done - fetched
            clips += batch["labels"].shape[0]
    peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
    return clips / (waiting + computing), waiting / (waiting + computing), kept_most, peak


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers")
    parser.add_argument(
        "--preset", default="paper", choices=("paper", "fer2013-audio-visual", "fer2013-faces", "image-stage")
    )
    parser.add_argument(
        "--checkpointing", default="both", choices=("both", "off", "on"), help="activation checkpointing runs"
    )
    args = parser.parse_args()
    device = torch.device(args.device)
    faces, frames = (1, 1) if args.preset == "image-stage" else (16, 8)
    if args.preset == "image-stage":
        from avemo.model_folders.face_transfer import image_stage_config
        from modeling_avemo import AVEmoConfig

        config = image_stage_config(AVEmoConfig(), ["Angry", "Disgust", "Fear", "Happy", "Neutral", "Sad", "Surprise"])
    else:
        config = preset_config(args.preset)
    model = AVEmoForVideoClassification(config).to(device)
    processor = default_processor(config)
    collator = AVEmoCollator(processor, train=True, frames=frames)
    rows = CachedRows(args.batch_size * (args.steps + 1), faces=faces, size=config.face_size)
    loader = torch.utils.data.DataLoader(
        rows,
        batch_size=args.batch_size,
        shuffle=True,
        collate_fn=collator,
        num_workers=args.workers,
        pin_memory=device.type == "cuda",
        drop_last=True,
    )
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(
        f"device: {name}; torch {torch.__version__}; preset {args.preset}, {frames} of {faces} faces per example"
        + (", 3 s audio" if config.uses_audio else "")
    )
    print(f"batch {args.batch_size}, {args.steps} timed steps, {args.workers} DataLoader workers\n")
    print("| precision | checkpointing | train clips/s | data wait share | activations kept | peak GPU memory |")
    print("| --- | --- | --- | --- | --- | --- |")
    results = {}
    dtypes = [torch.float32] + ([torch.bfloat16] if device.type == "cuda" else [])
    modes = {"both": (False, True), "off": (False,), "on": (True,)}[args.checkpointing]
    for dtype in dtypes:
        for checkpointing in modes:
            if checkpointing:
                model.activation_checkpointing_enable()
            else:
                model.activation_checkpointing_disable()
            results[dtype, checkpointing] = run(model, loader_cycle(loader), args.steps, device, dtype)
            throughput, share, kept, peak = results[dtype, checkpointing]
            label = "fp32" if dtype == torch.float32 else "bf16 autocast"
            memory = f"{peak / 2**20:.0f} MB" if peak is not None else "n/a (CPU)"
            mode = "on" if checkpointing else "off"
            print(f"| {label} | {mode} | {throughput:.2f} | {share:.0%} | {kept / 2**20:.0f} MB | {memory} |")
    print()
    for dtype in dtypes:
        label = "fp32" if dtype == torch.float32 else "bf16"
        if (dtype, False) in results and (dtype, True) in results:
            plain, checkpointed = results[dtype, False], results[dtype, True]
            line = (
                f"{label}, checkpointing: {plain[2] / 2**20:.0f} -> {checkpointed[2] / 2**20:.0f} MB of activations "
                f"kept ({plain[2] / checkpointed[2]:.1f}x less), {checkpointed[0] / plain[0]:.2f}x the clips/s"
            )
            if plain[3] is not None:
                line += f"; peak GPU memory {plain[3] / 2**20:.0f} -> {checkpointed[3] / 2**20:.0f} MB"
            print(line)
    if (torch.bfloat16, False) in results:
        print(f"bf16 vs fp32: {results[torch.bfloat16, False][0] / results[torch.float32, False][0]:.2f}x clips/s")


def loader_cycle(loader):
    while True:
        yield from loader


if __name__ == "__main__":
    main()
