"""Timeline benchmark: real-time factor and peak memory of `avemo predict --timeline`, against a naive baseline.

Generates a long talking-face video (single_face.mp4's frames looped, a tone as audio; nothing is committed),
then for each model runs, each in its own process so that peak RSS is the run's own:
- the timeline (one streaming pass, each face embedded once);
- the naive baseline: every sampled frame decoded into memory first (read_frames), then each window predicted
  on its own (its faces found and embedded again, overlapping windows included).
Prints seconds, real-time factor (video seconds per second of work) and peak RSS, and the ratios.

With --persons, a two-person video instead (single_face.mp4's man beside the Pexels face, both looped, over looped
CREMA-D speech), run as `--timeline --persons` (every face tracked, mouths read at every frame for who speaks).

    python bench/timeline.py [--minutes 10] [--models fer2013-faces paper] [--naive-minutes 2] [--persons]
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def make_video(path: Path, minutes: float) -> Path:
    """single_face.mp4's frames looped for `minutes`, with a quiet tone, encoded frame by frame (never all held)."""
    from fractions import Fraction

    import av
    import numpy as np

    with av.open(str(SHARED / "video" / "single_face.mp4")) as source:
        stream = source.streams.video[0]
        fps = Fraction(stream.average_rate).limit_denominator(1001)
        frames = [frame.to_ndarray(format="rgb24") for frame in source.decode(stream)]
    count = int(minutes * 60 * fps)
    height, width = frames[0].shape[:2]
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        audio = container.add_stream("aac", rate=16000, layout="mono")
        for index in range(count):
            for packet in video.encode(av.VideoFrame.from_ndarray(frames[index % len(frames)], format="rgb24")):
                container.mux(packet)
        for packet in video.encode(None):
            container.mux(packet)
        encode_audio(container, audio, lambda at: 0.1 * np.sin(2 * np.pi * 220 * at / 16000), int(count / fps * 16000))
    return path


def encode_audio(container, stream, samples, total: int) -> None:
    """Encode `total` mono samples at 16 kHz into `stream`, `samples(indices)` giving them chunk by chunk."""
    import av
    import numpy as np

    size = stream.codec_context.frame_size or 1024
    for start in range(0, total, size):
        frame = av.AudioFrame.from_ndarray(
            np.asarray(samples(start + np.arange(size)), np.float32)[None], format="flt", layout="mono"
        )
        frame.sample_rate = 16000
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)


def make_two_person_video(path: Path, minutes: float) -> Path:
    """single_face.mp4's man and the Pexels face side by side (480x360 each), looped for `minutes` at 25 fps, over
    CREMA-D speech looped; encoded frame by frame."""
    from fractions import Fraction

    import av
    import numpy as np

    from avemo.processing import read_audio

    def panels(name):
        with av.open(str(SHARED / "video" / name)) as source:
            frames = [frame.to_image().resize((640, 360)) for frame in source.decode(video=0)]
        return [np.asarray(frame)[:, 80:560] for frame in frames]

    left, right = panels("single_face.mp4"), panels("WolfgangLanger_Pexels.mp4")
    speech = np.concatenate(
        [read_audio(SHARED / "audio" / "crema-d" / f"1002_DFA_{e}_XX.mp3", 16000) for e in ("ANG", "HAP", "SAD")]
    )
    count = int(minutes * 60 * 25)
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=Fraction(25))
        video.width, video.height, video.pix_fmt = 960, 360, "yuv420p"
        audio = container.add_stream("aac", rate=16000, layout="mono")
        for index in range(count):
            frame = np.concatenate([left[index % len(left)], right[index % len(right)]], axis=1)
            for packet in video.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
                container.mux(packet)
        for packet in video.encode(None):
            container.mux(packet)
        encode_audio(container, audio, lambda at: speech[at % len(speech)], int(count / 25 * 16000))
    return path


CHILD = r"""
import json, sys, time
from avemo.inference import Predictor
from avemo.inference.timeline import TimelineBuilder
mode, model, video, duration = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
predictor = Predictor(None if model == "fer2013-faces" else model, device="cpu")
start = time.perf_counter()
if mode == "timeline":
    rows = list(TimelineBuilder(predictor).run(video))  # the defaults: 2 s windows, 1 s hop, 1 face a second
elif mode == "persons":
    rows = list(TimelineBuilder(predictor, persons=True).run(video))
else:
    from avemo.processing import read_frames
    from avemo.processing.processing_avemo import ProcessedClip
    from avemo.inference.timeline import window_starts
    # All frames held at once.
    frames, times, info = read_frames(video, int(duration * TimelineBuilder(predictor).faces_per_second))
    audio = predictor.processor.process_video(video).audio if predictor.processor.uses_audio else None
    rows = []
    for begin in window_starts(duration, 2.0, 1.0):
        picked = [frame for frame, t in zip(frames, times) if begin <= t < begin + 2.0]
        window = None if audio is None else audio[int(begin * 16000):int((begin + 2) * 16000)]
        clip = predictor.processor.process_frames(picked, window, 16000)
        rows.append(predictor.predict_clip(clip))
import resource
print(json.dumps({"seconds": time.perf_counter() - start, "windows": len(rows),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run(mode: str, model: str, video: Path, duration: float) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", CHILD, mode, model, str(video), str(duration)], capture_output=True, text=True
    )
    if result.returncode != 0:
        raise SystemExit(result.stderr[-3000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument(
        "--naive-minutes", type=float, default=2.0, help="length for the naive baseline (it holds every frame)"
    )
    parser.add_argument("--models", nargs="+", default=["fer2013-faces", "paper"])
    parser.add_argument("--persons", action="store_true", help="the two-person video, with --timeline --persons")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        models = {}
        for name in args.models:
            if name == "paper":  # the default IR50 + AlexNet config, random weights: speed only
                subprocess.run(
                    [sys.executable, "-m", "avemo.cli", "init", "--output", str(scratch / "paper")],
                    check=True,
                    capture_output=True,
                )
                models[name] = str(scratch / "paper")
            else:
                models[name] = name
        if args.persons:
            return persons_rows(args, models, scratch)
        start = time.perf_counter()
        long_video = make_video(scratch / "long.mp4", args.minutes)
        short_video = make_video(scratch / "short.mp4", args.naive_minutes)
        print(
            f"generated {args.minutes:g} min and {args.naive_minutes:g} min videos "
            f"in {time.perf_counter() - start:.0f} s\n"
        )
        pexels = SHARED / "video" / "WolfgangLanger_Pexels.mp4"
        print("| model | video | method | seconds | real-time factor | peak RSS MB |")
        print("| --- | --- | --- | --- | --- | --- |")
        for name, model in models.items():
            for label, video, duration, modes in (
                ("Pexels 19.7 s", pexels, 19.685, ("timeline",)),
                (f"{args.naive_minutes:g} min", short_video, args.naive_minutes * 60, ("timeline", "naive")),
                (f"{args.minutes:g} min", long_video, args.minutes * 60, ("timeline",)),
            ):
                results = {}
                for mode in modes:
                    results[mode] = run(mode, model, video, duration)
                    r = results[mode]
                    print(
                        f"| {name} | {label} | {mode} | {r['seconds']:.1f} | {duration / r['seconds']:.1f}x | "
                        f"{r['peak_rss_mb']:.0f} |"
                    )
                if "naive" in results:
                    speed = results["naive"]["seconds"] / results["timeline"]["seconds"]
                    memory = results["naive"]["peak_rss_mb"] / results["timeline"]["peak_rss_mb"]
                    print(f"|  | | timeline vs naive | {speed:.2f}x faster | | {memory:.2f}x less memory |")


def persons_rows(args, models: dict, scratch: Path) -> None:
    start = time.perf_counter()
    videos = []
    for minutes in (2, args.minutes):
        # Made in a process of its own: the frames it holds would otherwise count in every run's peak RSS (a child
        # started from this process inherits its peak through fork and exec).
        path = scratch / f"two{minutes:g}.mp4"
        code = f"import sys; sys.path.insert(0, {str(ROOT / 'bench')!r}); import timeline; "
        code += f"timeline.make_two_person_video(timeline.Path({str(path)!r}), {minutes})"
        subprocess.run([sys.executable, "-c", code], check=True)
        videos.append((f"{minutes:g} min", path, minutes * 60))
    print(f"generated two-person videos of 2 and {args.minutes:g} min in {time.perf_counter() - start:.0f} s\n")
    print("| model | two-person video | method | seconds | real-time factor | peak RSS MB |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, model in models.items():
        for label, video, duration in videos:
            for mode in ("timeline", "persons"):
                r = run(mode, model, video, duration)
                print(
                    f"| {name} | {label} | {mode} | {r['seconds']:.1f} | {duration / r['seconds']:.1f}x | "
                    f"{r['peak_rss_mb']:.0f} |"
                )


if __name__ == "__main__":
    main()
