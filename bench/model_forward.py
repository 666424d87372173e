"""Forward-pass benchmark of the default AVEmo classifier (IR50 112 + AlexNet + transformer-attention + FBP).

Input per clip: 16 face frames at 112x112 and 3 s of audio (300 log-mel frames). Prints the parameter count,
clips/s at batch 1 and 8, the share of time spent in each CNN, channels-last weights (what `avemo predict` uses
on a CPU) against the default layout, and on a CUDA device the bf16 throughput with its ratio to fp32, all
measured in the same run.

    python bench/model_forward.py [--repeats 5] [--device cpu|cuda] [--threads N] [--preset NAME]

`--preset fer2013-audio-visual` measures the audio-video model with the FER2013 face CNN, `--preset fer2013-faces`
the shipped faces-only model.
"""

import argparse
import statistics
import time

import torch

from modeling_avemo import AVEmoConfig, AVEmoForVideoClassification


def preset_config(name: str) -> AVEmoConfig:
    """The configs the benchmarks compare: the paper's default system and the FER2013-based models."""
    if name == "fer2013-faces":
        from avemo.model_folders.convert_fer import fer2013_faces_config

        return fer2013_faces_config()
    if name == "fer2013-audio-visual":
        return AVEmoConfig(face_backbone="mini_xception")
    return AVEmoConfig()


def make_inputs(config, batch_size, frames, audio_frames, device):
    inputs = {}
    if config.uses_visual:
        size = config.face_size
        inputs["pixel_values"] = torch.randn(batch_size, frames, config.face_channels, size, size, device=device)
        inputs["frame_mask"] = torch.ones(batch_size, frames, dtype=torch.long, device=device)
    if config.uses_audio:
        inputs["input_features"] = torch.randn(batch_size, 3, config.num_mel_bins, audio_frames, device=device)
        inputs["audio_mask"] = torch.ones(batch_size, audio_frames, dtype=torch.long, device=device)
    return inputs


def timed(function, repeats, device):
    function()  # warm-up (allocations, kernel selection)
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        function()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--audio-frames", type=int, default=300, help="log-mel frames (10 ms hop): 300 = 3 s")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--preset", default="paper", choices=("paper", "fer2013-audio-visual", "fer2013-faces"))
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    config = preset_config(args.preset)
    model = AVEmoForVideoClassification(config).eval().to(device)
    parameters = sum(p.numel() for p in model.parameters())
    by_part = {}
    if config.uses_visual:
        by_part[f"face CNN ({config.face_backbone})"] = sum(p.numel() for p in model.avemo.face_encoder.parameters())
    if config.uses_audio:
        by_part["audio CNN (AlexNet conv)"] = sum(p.numel() for p in model.avemo.audio_encoder.parameters())
    by_part["attention + fusion + classifier"] = parameters - sum(by_part.values())
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"device: {name}; torch {torch.__version__}; preset {args.preset}")
    print(f"parameters: {parameters:,} ({parameters / 1e6:.2f} M)")
    for part, count in by_part.items():
        print(f"  {part}: {count:,}")
    print(
        f"input per clip: {args.frames} frames at {config.face_size}x{config.face_size}"
        + (f", {args.audio_frames} log-mel frames" if config.uses_audio else "")
    )
    print()
    print("| batch | dtype | layout | forward s | clips/s | face CNN share | audio CNN share |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    dtypes = [torch.float32] + ([torch.bfloat16] if device.type == "cuda" else [])
    layouts = [torch.contiguous_format, torch.channels_last]
    results = {}
    for dtype, layout in [(dtype, layout) for dtype in dtypes for layout in layouts]:
        model.to(dtype=dtype, memory_format=layout)
        layout_name = "channels-last" if layout == torch.channels_last else "default"
        for batch_size in args.batch_sizes:
            inputs = make_inputs(config, batch_size, args.frames, args.audio_frames, device)
            inputs = {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in inputs.items()}
            lengths = torch.full((batch_size,), args.audio_frames, device=device)
            with torch.inference_mode():
                total = timed(lambda: model(**inputs), args.repeats, device)
                face = audio = 0.0
                if config.uses_visual:
                    faces = inputs["pixel_values"].flatten(0, 1)
                    face = timed(lambda: model.avemo.face_encoder(faces), args.repeats, device)
                if config.uses_audio:
                    audio = timed(
                        lambda: model.avemo.audio_encoder(inputs["input_features"], lengths), args.repeats, device
                    )
            results[(dtype, layout, batch_size)] = batch_size / total
            print(
                f"| {batch_size} | {str(dtype).removeprefix('torch.')} | {layout_name} | {total:.3f} | "
                f"{batch_size / total:.2f} | {face / total:.0%} | {audio / total:.0%} |"
            )
    print()
    base = args.batch_sizes[0]
    default, last = torch.contiguous_format, torch.channels_last
    for batch_size in args.batch_sizes[1:]:
        ratio = results[(torch.float32, default, batch_size)] / results[(torch.float32, default, base)]
        print(f"batching: batch {batch_size} gives {ratio:.2f}x the clips/s of batch {base} (fp32)")
    for batch_size in args.batch_sizes:
        ratio = results[(torch.float32, last, batch_size)] / results[(torch.float32, default, batch_size)]
        print(f"channels-last vs default layout at batch {batch_size}: {ratio:.2f}x clips/s (fp32)")
    if device.type == "cuda":
        for batch_size in args.batch_sizes:
            ratio = results[(torch.bfloat16, last, batch_size)] / results[(torch.float32, last, batch_size)]
            print(f"bf16 vs fp32 at batch {batch_size}: {ratio:.2f}x clips/s (channels-last)")


if __name__ == "__main__":
    main()
