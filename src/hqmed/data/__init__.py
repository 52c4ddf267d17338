"""hqmed.data."""
