"""Preprocessing benchmark: time per clip from file to probabilities, split into decode, detect + align, audio
features and model, against a naive baseline measured in the same run.

Ours: N frames sampled (seeking), HOG on a scaled-down copy, torchaudio features, the default model with
channels-last weights (as `avemo predict` runs it).
Naive: decode and convert every frame, HOG + landmarks + crop at full resolution on every frame, librosa
features.

Clips: a 3.0 s clip (single_face.mp4 looped to 3 s, written to a temporary file) and the 19.7 s Pexels clip.

    python bench/preprocess.py [--repeats 3] [--data ../shared/data]
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the test media writer

from media import decode_all, write_video  # noqa: E402

from avemo.inference import Predictor  # noqa: E402
from avemo.model_folders.create import init_model_folder  # noqa: E402
from avemo.processing import read_audio, read_frames  # noqa: E402
from avemo.processing.video_io_avemo import _open  # noqa: E402


def median_time(function, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def ours(predictor, path, repeats):
    processor = predictor.processor
    aligner = processor.aligner
    frames = read_frames(path, processor.num_frames)[0]
    waveform = read_audio(path, processor.feature_extractor.sampling_rate)
    faces = aligner.align_frames(frames)
    clip = processor.process_video(path)
    inputs = processor.batch([clip])
    stages = {
        "decode (frames + audio)": median_time(
            lambda: (read_frames(path, processor.num_frames), read_audio(path, 16000)), repeats
        ),
        "detect + align": median_time(lambda: aligner.align_frames(frames), repeats),
        "audio features": median_time(
            lambda: processor.feature_extractor([waveform], sampling_rate=16000, return_tensors="pt"), repeats
        ),
    }
    with torch.inference_mode():
        stages["model"] = median_time(lambda: predictor.model(**inputs), repeats)
    total = median_time(lambda: predictor.predict_file(path), repeats)
    return stages, total, len(faces)


def naive(path, face_size, repeats):
    import dlib
    import librosa

    from avemo.processing.face_alignment_avemo import _landmark_predictor

    detector = dlib.get_frontal_face_detector()

    def decode_all_frames():
        with _open(path) as container:
            return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]

    def detect_align(frames):
        crops = []
        for frame in frames:
            found = detector(frame, 0)
            if found:
                box = max(found, key=lambda rect: rect.area())
                shape = _landmark_predictor()(frame, box)
                crops.append(dlib.get_face_chip(frame, shape, size=face_size, padding=0.15))
        return crops

    def features(waveform):
        power = librosa.feature.melspectrogram(
            y=waveform, sr=16000, n_fft=1024, hop_length=160, win_length=640, window="hamming", n_mels=128, fmax=8000
        )
        static = librosa.power_to_db(power, top_db=None)
        delta = librosa.feature.delta(static, width=5, mode="nearest")
        return np.stack([static, delta, librosa.feature.delta(delta, width=5, mode="nearest")])

    frames = decode_all_frames()
    waveform = read_audio(path, 16000)
    features(waveform)  # librosa's first call compiles with numba: not counted
    repeats = max(1, repeats // 2)
    stages = {
        "decode (frames + audio)": median_time(lambda: (decode_all_frames(), read_audio(path, 16000)), repeats),
        "detect + align": median_time(lambda: detect_align(frames), 1),
        "audio features": median_time(lambda: features(waveform), repeats),
    }
    return stages, len(frames)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--model", default=None, help="model folder (default: a fresh default-config folder)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        model = args.model or init_model_folder(scratch / "model")
        predictor = Predictor(model, device="cpu")
        frames, fps, audio, rate = decode_all(Path(args.data) / "video" / "single_face.mp4")
        looped = (frames * 2)[: int(round(3.0 * fps))]
        audio = np.resize(audio, int(3.0 * rate)).astype(np.float32)
        three_seconds = write_video(scratch / "clip_3s.mp4", looped, fps, audio, rate)
        clips = {
            "3.0 s clip (single_face looped)": three_seconds,
            "19.7 s Pexels clip": Path(args.data) / "video" / "WolfgangLanger_Pexels.mp4",
        }

        print(
            f"CPU threads: {torch.get_num_threads()}; torch {torch.__version__}; "
            f"frames sampled: {predictor.processor.num_frames}"
        )
        for name, path in clips.items():
            predictor.predict_file(path)  # warm-up
            stages, total, used = ours(predictor, path, args.repeats)
            baseline, all_frames = naive(path, predictor.processor.face_size, args.repeats)
            print(f"\n## {name}: {path.name}")
            print("| stage | ours s | naive s | speed-up |")
            print("| --- | --- | --- | --- |")
            for stage, seconds in stages.items():
                if stage in baseline:
                    print(f"| {stage} | {seconds:.3f} | {baseline[stage]:.3f} | {baseline[stage] / seconds:.1f}x |")
                else:
                    print(f"| {stage} | {seconds:.3f} | | |")
            ours_pre = sum(seconds for stage, seconds in stages.items() if stage != "model")
            naive_pre = sum(baseline.values())
            print(f"| preprocessing total | {ours_pre:.3f} | {naive_pre:.3f} | {naive_pre / ours_pre:.1f}x |")
            print(
                f"\nfile to probabilities (avemo predict path, median of {args.repeats}): {total:.3f} s; "
                f"faces in {used} of {predictor.processor.num_frames} sampled frames (naive: all {all_frames} frames)"
            )


if __name__ == "__main__":
    main()
