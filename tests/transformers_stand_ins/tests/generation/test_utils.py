"""transformers' sdist lacks tests/generation/test_utils.py: this empty GenerationTesterMixin stands in for it (AVEmo
cannot generate, and ModelTesterMixin only checks that a test class of such a model does not inherit it)."""


class GenerationTesterMixin:
    pass
