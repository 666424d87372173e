"""Third-party packages the processor imports only where it uses them, behind an error that names what to pip
install: a user who installed less than the model card's line is told what is missing, not shown a
ModuleNotFoundError from deep inside a face crop. Pillow needs it most (its import name, PIL, is not its pip name).
"""


class MissingDependencyError(ImportError):
    """A package the processor needs is not installed; the message names the pip package."""


def pillow():
    """PIL's `Image` and `ImageOps` modules (image files, resizing, contrast)."""
    try:
        from PIL import Image, ImageOps
    except ImportError as error:
        raise MissingDependencyError(
            "avemo's processor needs Pillow to read images and to resize frames and faces: pip install pillow"
        ) from error
    return Image, ImageOps
