"""hqmed.report."""
