"""What the report tests share: the CLI as a subprocess, and the quickstart scenario."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = REPO / "scenarios" / "quickstart.yaml"


def smtpsim_cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "smtpsim", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
    )
