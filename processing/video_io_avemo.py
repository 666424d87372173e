"""Reading clips with PyAV (FFmpeg bundled, no system ffmpeg): a few frames spread over the clip, and the audio
track resampled to mono at the model rate.

Only the sampled frames are converted to RGB arrays; the rest are decoded and dropped, and far-apart samples are
reached by seeking, so memory stays at N frames whatever the length of the video.
"""

from os import PathLike
from pathlib import Path

import numpy as np

from .dependencies_avemo import pillow

# Demuxers that read still images: such a file is a picture, not a clip.
_IMAGE_FORMATS = ("image2", "png_pipe", "jpeg_pipe", "bmp_pipe", "webp_pipe", "gif", "tiff_pipe", "apng")
# Seek (to the keyframe before the target) instead of decoding forward when the next sample lies this far
# ahead, in seconds: decoding a GOP costs less than decoding everything in between.
_SEEK_AHEAD_S = 0.5


class MediaError(ValueError):
    """A media file cannot be used; the message names the file and the problem."""


class UnreadableMediaError(MediaError):
    """Missing, empty, corrupt or undecodable file."""


class NotAVideoError(MediaError):
    """The file opens but has no video stream (an audio file, a picture, ...)."""


class StillImageError(NotAVideoError):
    """The file is a picture: models with a face branch read it as one frame (`read_image`)."""


def _open(path: str | PathLike):
    import av

    path = Path(path)
    if not path.exists():
        raise UnreadableMediaError(f"{path}: file not found")
    if path.is_dir():
        raise UnreadableMediaError(f"{path}: is a folder, not a media file")
    if path.stat().st_size == 0:
        raise UnreadableMediaError(f"{path}: file is empty")
    try:
        return av.open(str(path))
    except av.error.FFmpegError as error:
        raise UnreadableMediaError(f"{path}: not a readable media file ({error.strerror or error})") from error


def probe_media(path: str | PathLike) -> str:
    """What a file holds, checked cheaply before any model is loaded: "video", "audio" or "image". Raises
    `UnreadableMediaError` naming the file when it is missing, a folder, empty or not a media file."""
    with _open(path) as container:
        if container.format.name in _IMAGE_FORMATS:
            return "image"
        if container.streams.video:
            return "video"
        if container.streams.audio:
            return "audio"
    raise UnreadableMediaError(f"{path}: holds neither video nor audio")


def _duration(container, stream) -> float | None:
    """Clip length in seconds; some containers (FLV) only know it at container level."""
    if stream is not None and stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / 1_000_000
    return None


def media_duration(path: str | PathLike) -> float | None:
    """A media file's length in seconds from its headers (the container's, else its first video or audio stream's);
    None for a picture, a file that does not say, or one that cannot be opened (reading it names the problem)."""
    try:
        with _open(path) as container:
            if container.format.name in _IMAGE_FORMATS:
                return None
            streams = list(container.streams.video) + list(container.streams.audio)
            return _duration(container, streams[0] if streams else None)
    except MediaError:
        return None


def sample_times(duration: float, num_frames: int) -> list[float]:
    """Centres of `num_frames` equal segments of the clip (no frame at the very start or end)."""
    return [(index + 0.5) * duration / num_frames for index in range(num_frames)]


def _video_stream(container, path) -> tuple:
    """The first video stream of an open container with its start time, frame rate and duration (decoded once to
    find it when the headers do not say; such files are rare and small). Raises `StillImageError` for a picture,
    `NotAVideoError` without a video stream."""
    import av

    if container.format.name in _IMAGE_FORMATS:
        raise StillImageError(f"{path}: not a video (a still image)")
    if not container.streams.video:
        raise NotAVideoError(f"{path}: not a video (no video stream)")
    stream = container.streams.video[0]
    start = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
    fps = float(stream.average_rate) if stream.average_rate else None
    duration = _duration(container, stream)
    if not duration:
        try:
            duration = max(((frame.time or 0.0) - start for frame in container.decode(stream)), default=0.0)
        except av.error.FFmpegError as error:
            raise UnreadableMediaError(f"{path}: video stream cannot be decoded ({error.strerror or error})") from error
        duration = duration + (1 / fps if fps else 0.0) or 1.0
        container.seek(0)
    return stream, start, fps, duration


def video_info(path: str | PathLike) -> dict:
    """`duration` (s, found as `read_frames` finds it), `fps`, `size` (width, height) and `has_audio` of a video
    file. Raises `StillImageError` for a picture, `NotAVideoError` without a video stream."""
    with _open(path) as container:
        stream, _, fps, duration = _video_stream(container, path)
        size = (stream.codec_context.width, stream.codec_context.height)
        return {"duration": duration, "fps": fps, "size": size, "has_audio": bool(container.streams.audio)}


def read_frames(path: str | PathLike, num_frames: int | None) -> tuple[list[np.ndarray], list[float], dict]:
    """`num_frames` RGB frames spread evenly over the clip (fewer if the clip has fewer frames); every frame, in
    order, with `num_frames=None`.

    Returns the frames, their times in seconds from the start of the clip, and a dict with `duration`, `fps`
    and `size` (width, height).
    """
    import av

    container = _open(path)
    with container:
        stream, start, fps, duration = _video_stream(container, path)
        stream.thread_type = "AUTO"
        frames, times = [], []
        try:
            decoded = (
                _every_frame(container, stream, start)
                if num_frames is None
                else _frames_at(container, stream, start, sample_times(duration, num_frames), fps)
            )
            for frame_time, frame in decoded:
                frames.append(frame.to_ndarray(format="rgb24"))
                times.append(round(frame_time, 4))
        except av.error.FFmpegError as error:
            if not frames:
                raise UnreadableMediaError(
                    f"{path}: video stream cannot be decoded ({error.strerror or error})"
                ) from error
    if not frames:
        raise UnreadableMediaError(f"{path}: the video stream holds no decodable frame")
    height, width = frames[0].shape[:2]
    return frames, times, {"duration": duration, "fps": fps, "size": (width, height)}


def _every_frame(container, stream, start: float):
    """Yield (time, frame) for every frame of the stream, in decoding order."""
    for frame in container.decode(stream):
        if frame.time is not None:
            yield frame.time - start, frame


def _frames_at(container, stream, start: float, targets: list[float], fps: float | None):
    """Yield (time, frame) for the frame showing each target time, decoding forward and seeking on far jumps.

    A frame is taken once even when several targets fall on it (clips with fewer frames than samples).
    """
    tolerance = 0.5 / fps if fps else 0.0  # a frame covers half an interval around its timestamp
    index, last_pts, last_seek = 0, None, None
    while index < len(targets):
        seek_to = None
        for frame in container.decode(stream):
            if frame.time is None:
                continue
            frame_time = frame.time - start
            while index < len(targets) and targets[index] <= frame_time + tolerance:
                if frame.pts != last_pts:
                    last_pts = frame.pts
                    yield frame_time, frame
                index += 1
            if index == len(targets):
                return
            # Far to go: jump to the keyframe before the next target (once per target, so a long GOP cannot loop).
            if targets[index] - frame_time > _SEEK_AHEAD_S and last_seek != targets[index]:
                seek_to = last_seek = targets[index]
                break
        if seek_to is None:
            return  # end of stream
        container.seek(int((seek_to + start) / stream.time_base), stream=stream, backward=True)


def read_image(path: str | PathLike) -> np.ndarray:
    """A still image as an RGB uint8 array, turned upright as its EXIF orientation says."""
    Image, ImageOps = pillow()
    try:
        with Image.open(path) as image:
            return np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
    except (Image.UnidentifiedImageError, OSError) as error:
        raise UnreadableMediaError(f"{path}: cannot read the image ({error})") from error


def read_audio(path: str | PathLike, sampling_rate: int) -> np.ndarray | None:
    """The first audio stream as a float32 mono waveform at `sampling_rate`, or None if there is none.

    FFmpeg only mixes the channels down to mono at the stream's own rate; the rate conversion is avemo's one
    resampler (`feature_extraction_avemo.resample`), the same as for waveforms passed as arrays.
    """
    import av

    from .feature_extraction_avemo import resample

    container = _open(path)
    with container:
        if container.format.name in _IMAGE_FORMATS:
            raise StillImageError(f"{path}: not a video (a still image)")
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        native_rate = stream.rate or stream.codec_context.sample_rate or sampling_rate
        resampler = av.AudioResampler(format="flt", layout="mono", rate=native_rate)
        chunks = []
        try:
            for packet in container.demux(stream):
                for frame in packet.decode():
                    for resampled in resampler.resample(frame):
                        chunks.append(resampled.to_ndarray().reshape(-1))
            # The resampler holds back its last samples until flushed.
            for resampled in resampler.resample(None):
                chunks.append(resampled.to_ndarray().reshape(-1))
        except av.error.FFmpegError as error:
            if not chunks:
                raise UnreadableMediaError(
                    f"{path}: audio stream cannot be decoded ({error.strerror or error})"
                ) from error
    if not chunks:
        return np.zeros(0, dtype=np.float32)
    return resample(np.concatenate(chunks).astype(np.float32, copy=False), native_rate, sampling_rate)


class _TimeGrid:
    """Target times met in order: the (k + 0.5) * interval grid, or a given sorted list."""

    def __init__(self, interval: float | None = None, times=None):
        self.interval, self.times, self.index = interval, None if times is None else sorted(times), 0

    def next_time(self) -> float:
        if self.times is not None:
            return self.times[self.index] if self.index < len(self.times) else float("inf")
        return (self.index + 0.5) * self.interval if self.interval else float("inf")

    def reached(self, frame_time: float, tolerance: float) -> bool:
        """Whether the frame at `frame_time` shows one or more targets (all passed are consumed)."""
        hit = False
        while self.next_time() <= frame_time + tolerance:
            self.index, hit = self.index + 1, True
        return hit


def stream_media(
    path: str | PathLike,
    frame_interval: float | None,
    audio: bool = True,
    frame_times=None,
    track_interval: float | None = None,
    gray_fps: float | None = None,
):
    """Read a whole file once, in order, holding almost nothing: for long videos.

    Yields ("info", None, dict) first (duration, fps, audio sample rate), then, in time order as the container
    interleaves them, ("frame", time, RGB array) for the frame shown at each (k + 0.5) * frame_interval seconds (or
    at each of `frame_times`; no frames when both are None) and ("audio", time, mono float32 samples at the stream's
    own rate). Only sampled frames are converted to arrays; audio comes in the decoder's chunks.

    For following faces (`persons`): ("track", time, RGB array) for the frames at each (k + 0.5) * track_interval
    that are not sample frames already, and ("gray", time, luma array) for every frame, at most `gray_fps` a second
    (mouth motion); a frame that is both comes as its "frame" or "track" event first, then its "gray" one.

    It is long because one loop reads both streams, keeping the frame targets and the audio clock as it goes.
    """
    import av

    container = _open(path)
    with container:
        if container.format.name in _IMAGE_FORMATS:
            raise StillImageError(f"{path}: not a video (a still image)")
        wants_video = bool(frame_interval or frame_times or track_interval or gray_fps)
        video, sound, start, info = _streams_to_read(container, path, wants_video, audio)
        fps, rate = info["fps"], info["audio_rate"]
        yield "info", None, info
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate) if sound is not None else None
        tolerance = 0.5 / fps if fps else 0.0
        samples = _TimeGrid(frame_interval, frame_times)
        tracking = _TimeGrid(track_interval)
        gray = _TimeGrid(1 / gray_fps if gray_fps else None)
        # A frame is taken once, whatever number of targets it shows (clips with fewer frames than samples).
        taken_pts, gray_pts, audio_time = None, None, None
        streams = [stream for stream in (video, sound) if stream is not None]
        try:
            for packet in container.demux(*streams):
                for frame in packet.decode():
                    if packet.stream is video:
                        if frame.time is None:
                            continue
                        frame_time = frame.time - start
                        sampled = samples.reached(frame_time, tolerance)
                        tracked = tracking.reached(frame_time, tolerance)
                        if (sampled or tracked) and frame.pts != taken_pts:
                            taken_pts = frame.pts
                            kind = "frame" if sampled else "track"
                            yield kind, round(frame_time, 4), frame.to_ndarray(format="rgb24")
                        # Every frame for motion, at most gray_fps a second (each frame meets the next target).
                        if gray_fps and gray.reached(frame_time, 0.5 / gray_fps) and frame.pts != gray_pts:
                            gray_pts = frame.pts
                            yield "gray", round(frame_time, 4), frame.to_ndarray(format="gray")
                    else:
                        if audio_time is None:
                            audio_time = max(0.0, (frame.time or 0.0) - start)
                        audio_time = yield from _audio_events(resampler, frame, audio_time, rate)
        except av.error.FFmpegError as error:
            raise UnreadableMediaError(f"{path}: cannot be decoded ({error.strerror or error})") from error
        if resampler is not None:
            yield from _audio_events(resampler, None, audio_time or 0.0, rate)


def _streams_to_read(container, path, wants_video: bool, audio: bool):
    """For `stream_media`: the video stream (None when not wanted or absent), the audio stream (None likewise), the
    video's start time (s) and the "info" dict (duration, fps, audio sample rate) of an open container that is not a
    picture. Raises `NotAVideoError` when there is nothing to read."""
    video = container.streams.video[0] if container.streams.video and wants_video else None
    sound = container.streams.audio[0] if container.streams.audio and audio else None
    if video is None and sound is None:
        kind = "no video stream" if wants_video and not container.streams.video else "nothing to read"
        raise NotAVideoError(f"{path}: not a video ({kind})")
    start = 0.0
    if video is not None:
        video.thread_type = "AUTO"
        start = float(video.start_time * video.time_base) if video.start_time is not None else 0.0
    fps = float(video.average_rate) if video is not None and video.average_rate else None
    rate = (sound.rate or sound.codec_context.sample_rate) if sound is not None else None
    duration = _duration(container, video if video is not None else sound)
    return video, sound, start, {"duration": duration, "fps": fps, "audio_rate": rate}


def _audio_events(resampler, frame, time: float, rate: int):
    """For `stream_media`: yields ("audio", time, mono samples) for each chunk the resampler makes of an audio
    `frame` (None flushes it), and returns the time just after the last chunk."""
    for chunk in resampler.resample(frame):
        chunk_samples = chunk.to_ndarray().reshape(-1)
        yield "audio", time, chunk_samples
        time += len(chunk_samples) / rate
    return time
