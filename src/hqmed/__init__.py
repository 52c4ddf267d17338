"""hqmed: classical and hybrid quantum-classical image classifiers for medical imaging."""

__version__ = "0.1.0"
