"""msinet's per-user cache folder: downloaded weights (weights/) and generated LR views (lr/).

$MSINET_CACHE wins; otherwise the platform's user cache folder (platformdirs), e.g. ~/.cache/msinet on Linux
(which honours $XDG_CACHE_HOME), ~/Library/Caches/msinet on macOS, %LOCALAPPDATA%\\msinet\\Cache on Windows.
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "MSINET_CACHE"


def cache_root() -> Path:
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("msinet", appauthor=False))
