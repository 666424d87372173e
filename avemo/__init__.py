"""avemo: audio-video emotion recognition on the Hugging Face stack.

`modeling_avemo` holds the model (config, network, backbone import); `avemo.processing` turns video files into
model inputs; `avemo.cli` is the `avemo` command.
"""

__version__ = "0.1.0"
