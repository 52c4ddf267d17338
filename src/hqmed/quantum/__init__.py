"""hqmed.quantum."""
