"""avemo: audio-video emotion recognition on the Hugging Face stack.

`modeling_avemo` holds the model (config, network, backbone import); `avemo.processing` turns video files into
model inputs; `avemo.cli` is the `avemo` command.
"""

from pathlib import Path

__version__ = "0.1.0"

# In a source checkout the sub-packages keep the design's folder names beside this one (processing/, ...);
# an installed avemo has them inside. Let a checkout on sys.path (python -m avemo.cli from the repository
# root) find them too, instead of shadowing the installed package with a half one.
_checkout = Path(__file__).resolve().parent.parent
if (_checkout / "pyproject.toml").is_file() and (_checkout / "processing" / "processing_avemo.py").is_file():
    __path__.append(str(_checkout))
