"""transformers' sdist lacks tests/utils/test_configuration_utils.py: avemo's own config_common_kwargs stands in, every
common PreTrainedConfig argument at a value other than its default (tests/test_transformers_common.py checks that)."""

config_common_kwargs = {
    "return_dict": False,
    "output_hidden_states": True,
    "output_attentions": True,
    "dtype": "float16",
    "chunk_size_feed_forward": 5,
    "architectures": ["AVEmoForVideoClassification"],
    "id2label": {0: "label"},
    "label2id": {"label": 0},
    "problem_type": "regression",
}
