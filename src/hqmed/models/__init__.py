"""hqmed.models."""
