"""transformers' sdist lacks tests/exporters/test_export.py: this empty ExportTesterMixin stands in for it, so no
torch.export / ONNX test comes from transformers here; avemo's own export checks live in avemo's tests."""


class ExportTesterMixin:
    pass
