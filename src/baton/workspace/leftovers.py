"""What a crashed run's verification can leave behind, found and removed.

A verification runs on a disposable checkout outside the repository (its place is kept in
the run folder's ``checkout.path`` while it exists) and its command's session is named in
``command.session``; ``baton resume`` and ``baton clean`` use these to remove what a killed
process left.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from baton.workspace.snapshot import MEMORY_FOLDER, remove_folder

CHECKOUT_FILE = "checkout.path"
"""In the run folder while a disposable checkout exists: the checkout's folder."""
SESSION_FILE = "command.session"
"""In the run folder while a verification command runs: its session (see sandbox)."""


def remove_stale_checkout(run_dir: Path, checkout_dir: str = "auto") -> bool:
    """Remove the disposable checkout a crashed process left behind; True if one was.

    Only ever a folder baton made: ``baton-verify-*`` directly in the temporary folder, the
    memory-backed folder or the user's ``checkout_dir``.
    """
    real = stale_checkout(run_dir, checkout_dir)
    (run_dir / CHECKOUT_FILE).unlink(missing_ok=True)
    if real is not None:
        remove_folder(real)
    return real is not None


def stale_checkout(run_dir: Path, checkout_dir: str = "auto") -> Path | None:
    """The disposable checkout a crashed process left behind, if it is one of baton's
    (see :func:`remove_stale_checkout`); nothing is removed."""
    try:
        named = (run_dir / CHECKOUT_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    real = Path(os.path.realpath(named))
    places = {os.path.realpath(tempfile.gettempdir()), os.path.realpath(MEMORY_FOLDER)}
    if checkout_dir not in ("auto", "temp"):
        places.add(os.path.realpath(Path(checkout_dir).expanduser()))
    ours = real.name.startswith("baton-verify-") and real.is_dir() \
        and not Path(named).is_symlink() and str(real.parent) in places
    return real if ours else None
