"""Persistent response cache: SQLite in WAL mode, one committed transaction per answer.

A ``kill -9`` at any moment leaves every committed answer intact and no torn record (SQLite's journal guarantees
it); an answer in flight at the kill is simply asked again. The key covers everything that decides the answer:
the backend's model id, the messages, the sampling parameters and the prompt template's version.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from medreason.llm.types import Completion


def cache_key(model: str, messages: list[dict[str, str]], sampling: dict[str, Any], prompt_version: str) -> str:
    payload = json.dumps([model, messages, sampling, prompt_version], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class ResponseCache:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: autocommit, so each put is its own durable transaction.
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # safe against a killed process (not a power cut)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, text TEXT NOT NULL, "
            "prompt_tokens INTEGER, completion_tokens INTEGER, cost REAL, created REAL)")

    def get(self, key: str) -> Completion | None:
        row = self._db.execute(
            "SELECT text, prompt_tokens, completion_tokens FROM responses WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        return Completion(text=row[0], prompt_tokens=row[1], completion_tokens=row[2], cost=0.0, cached=True)

    def put(self, key: str, c: Completion) -> None:
        """Store a successful answer (failures are not cached: a re-run asks again)."""
        assert c.ok and c.text is not None
        self._db.execute("INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?)",
                         (key, c.text, c.prompt_tokens, c.completion_tokens, c.cost, time.time()))

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        self._db.close()
