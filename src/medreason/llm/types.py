"""What every LLM call returns, whatever the backend."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Completion:
    text: str | None  # None when the request failed for good
    error: str | None = None  # why it failed (after retries): "timeout", "http 500", ...
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0  # in the price table's currency; 0 for a cached answer (paid for once, earlier)
    cached: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None
