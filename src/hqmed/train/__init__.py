"""hqmed.train."""
