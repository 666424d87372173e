"""Writing small test videos with PyAV (its bundled FFmpeg encoders), for containers and edge cases that the
shared media do not cover."""

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

# container suffix -> (video codec, audio codec, pixel format)
FORMATS = {
    ".mp4": ("libx264", "aac", "yuv420p"),
    ".mov": ("libx264", "aac", "yuv420p"),
    ".avi": ("mpeg4", "mp3", "yuv420p"),
    ".mkv": ("libx264", "libopus", "yuv420p"),
    ".webm": ("libvpx", "libopus", "yuv420p"),
    ".flv": ("flv", "mp3", "yuv420p"),
}


def decode_all(path) -> tuple[list[np.ndarray], float, np.ndarray | None, int]:
    """Every RGB frame, the frame rate, and the mono audio at its own rate (None without audio)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate)
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
    audio, rate = None, 0
    with av.open(str(path)) as container:
        if container.streams.audio:
            rate = container.streams.audio[0].rate
            resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
            chunks = []
            for frame in container.decode(audio=0):
                chunks += [r.to_ndarray().reshape(-1) for r in resampler.resample(frame)]
            chunks += [r.to_ndarray().reshape(-1) for r in resampler.resample(None)]
            audio = np.concatenate(chunks)
    return frames, fps, audio, rate


def write_video(path, frames, fps=25, audio=None, sampling_rate=16000, codecs=None) -> Path:
    """Encode RGB frames (and a mono float waveform) into `path`; codecs default from the suffix."""
    path = Path(path)
    video_codec, audio_codec, pixel_format = codecs or FORMATS[path.suffix]
    height, width = frames[0].shape[:2]
    with av.open(str(path), "w") as container:
        video = container.add_stream(video_codec, rate=Fraction(fps).limit_denominator(1001))
        video.width, video.height, video.pix_fmt = width - width % 2, height - height % 2, pixel_format
        audio_stream = None
        if audio is not None:
            rate = 48000 if audio_codec == "libopus" else sampling_rate
            if rate != sampling_rate:
                audio = np.interp(
                    np.arange(int(len(audio) * rate / sampling_rate)) * sampling_rate / rate,
                    np.arange(len(audio)),
                    audio,
                ).astype(np.float32)
            audio_stream = container.add_stream(audio_codec, rate=rate, layout="mono")
        for image in frames:
            frame = av.VideoFrame.from_ndarray(
                np.ascontiguousarray(image[: video.height, : video.width]), format="rgb24"
            )
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode(None):
            container.mux(packet)
        if audio_stream is not None:
            frame_size = audio_stream.codec_context.frame_size or 1024
            resampler = av.AudioResampler(
                format=audio_stream.codec_context.format.name, layout="mono", rate=audio_stream.rate
            )
            for start in range(0, len(audio), frame_size):
                chunk = audio[start : start + frame_size].astype(np.float32)
                if len(chunk) < frame_size:
                    chunk = np.pad(chunk, (0, frame_size - len(chunk)))
                frame = av.AudioFrame.from_ndarray(chunk[None, :], format="flt", layout="mono")
                frame.sample_rate = audio_stream.rate
                for converted in resampler.resample(frame):
                    for packet in audio_stream.encode(converted):
                        container.mux(packet)
            for packet in audio_stream.encode(None):
                container.mux(packet)
    return path
