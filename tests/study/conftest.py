import sys
from pathlib import Path

# the fake run directories of the report tests are reused here
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "report"))
