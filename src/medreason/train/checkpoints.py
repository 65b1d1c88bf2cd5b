"""Checkpoints of a training loop that may be interrupted: which configuration they belong to, which are complete,
which one to resume from.

Independent of the trainer: a loop (TRL's SFTTrainer now, the RL loop next) saves ``checkpoint-<step>`` folders into
a folder that survives an interrupted run and writes each one's state file last; it calls ``prepare_checkpoints``
before training (every process resumes from what the main process chose) and ``clear_checkpoints`` once finished.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FINGERPRINT_FILE = "fingerprint.json"


def fingerprint(*parts: Any) -> str:
    """A short hash of what decides a run's result (examples, training params, template, process count, base model's
    fingerprint...): JSON-able parts; anything else counts by its ``str``."""
    return hashlib.sha256(json.dumps(list(parts), sort_keys=True, default=str).encode()).hexdigest()[:16]


def prepare_checkpoints(checkpoint_dir: str | Path, run_fingerprint: str,
                        state_file: str = "trainer_state.json") -> str | None:
    """Clear checkpoints of another configuration (another fingerprint) and interrupted ones (no readable
    ``state_file``); mark the folder as this configuration's. Returns the newest complete checkpoint, if any."""
    checkpoint_dir = Path(checkpoint_dir)
    marker = checkpoint_dir / FINGERPRINT_FILE
    if checkpoint_dir.is_dir():
        old = json.loads(marker.read_text())["fingerprint"] if marker.is_file() else None
        if old != run_fingerprint:
            log.warning("checkpoints in %s belong to another configuration (%s): starting over", checkpoint_dir, old)
            shutil.rmtree(checkpoint_dir)
    for path in checkpoint_dir.glob("checkpoint-*"):
        if not _complete(path / state_file):
            log.warning("removing incomplete checkpoint %s", path)
            shutil.rmtree(path)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({"fingerprint": run_fingerprint}) + "\n")
    done = list(checkpoint_dir.glob("checkpoint-*"))
    return str(max(done, key=lambda p: int(p.name.rsplit("-", 1)[1]))) if done else None


def clear_checkpoints(checkpoint_dir: str | Path) -> None:
    """A finished run leaves only its fingerprint: a re-run must train again, not resume at the last step, and the
    folder (a DVC out) must hash the same after every identical run (TRL also writes a model card there, its tags
    in set order, which varies between processes)."""
    for path in Path(checkpoint_dir).iterdir():
        if path.name != FINGERPRINT_FILE:
            shutil.rmtree(path) if path.is_dir() else path.unlink()


def _complete(state: Path) -> bool:
    """The state file is written last: a checkpoint without a readable one was interrupted."""
    try:
        json.loads(state.read_text())
        return True
    except (OSError, ValueError):
        return False
