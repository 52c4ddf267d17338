"""hqmed.export: a finished run as plain torch modules and as an ONNX graph (``hqmed export``)."""

from hqmed.export.pipeline import NormalizedModel, RunProbabilities, run_members

__all__ = ["NormalizedModel", "RunProbabilities", "run_members"]
