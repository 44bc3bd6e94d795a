"""What the commands share: their error type, optional imports, output directories.

Kept apart from :mod:`numpool.cli`, which imports the commands: a command importing the
command line back would make the two modules depend on each other.
"""

from __future__ import annotations

import os
from pathlib import Path


class CommandError(Exception):
    """A command that cannot go on (missing file, unreadable image, ...): one line, exit 1."""


def require(module):
    """Import an optional dependency, or raise a :class:`CommandError` naming the extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        package = {"skimage": "scikit-image", "sklearn": "scikit-learn"}.get(module.split(".")[0],
                                                                             module.split(".")[0])
        raise CommandError(
            f"this command needs {package}, which is not installed; "
            f"install the demo extras: pip install 'numpool[demo]'"
        ) from None


def output_directory(path):
    """Create the directory ``path`` if missing and return it, absolute; a
    :class:`CommandError` if it cannot be created or written into."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CommandError(f"cannot create the output directory {path}: {exc.strerror or exc}") from None
    if not os.access(path, os.W_OK):
        raise CommandError(f"cannot write into the output directory {path}")
    return path.resolve()
