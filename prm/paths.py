"""prm-gym's on-disk cache: `$PRM_CACHE_DIR`, else `~/.cache/prm-gym`.

Families and sandboxes keep their caches in sub-folders (`bm25/`, `swe/`, `images/`), so one variable moves or
clears all of it.

>>> cache_dir("bm25").name
'bm25'
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(*parts: str) -> Path:
    """The cache folder (or a sub-folder of it), created if missing."""
    path = Path(os.environ.get("PRM_CACHE_DIR") or Path.home() / ".cache" / "prm-gym").joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
