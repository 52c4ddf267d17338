"""hqmed.eval."""
