"""`avemo.ensemble.EnsemblePredictor`, the path the README has long given, kept for code written against it: the
class lives in `avemo.inference.ensemble`."""

from avemo.inference.ensemble import EnsembleError, EnsemblePredictor

__all__ = ["EnsemblePredictor", "EnsembleError"]
