"""The one LLM client every stage uses: async, cached, rate-limited, retried, cost-accounted.

    client = LLMClient(params.llm.teacher, cache_path="data/cache/search.sqlite", prices=params.llm.prices)
    answers = client.chat_many(conversations, prompt_version=load_prompt("judge").version)

Each item ends as an answer or as a failure with its reason (``Completion.error``); nothing is skipped. A re-run
asks only what the cache has not answered.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

from medreason.config import LLMConfig, PriceConfig
from medreason.llm.backends import LocalBackend, OpenAIBackend, Permanent, Transient
from medreason.llm.cache import ResponseCache, cache_key
from medreason.llm.types import Completion


def make_backend(cfg: LLMConfig):
    if cfg.backend == "openai":
        return OpenAIBackend(cfg.model, cfg.base_url, cfg.api_key_env, cfg.timeout_s)
    return LocalBackend(cfg.model, batch_size=cfg.batch_size)


class RateLimiter:
    """Token buckets for requests and tokens per minute (0 = no limit).

    Each bucket holds one second's worth, so the rate is smooth rather than a burst of a minute's quota at once
    (which is what provokes 429 storms).
    """

    def __init__(self, requests_per_minute: int, tokens_per_minute: int):
        self.rpm, self.tpm = requests_per_minute, tokens_per_minute
        self._req_cap, self._tok_cap = max(1.0, self.rpm / 60), max(1.0, self.tpm / 60)
        self._req, self._tok = self._req_cap, self._tok_cap
        self._t = time.monotonic()
        self._lock = asyncio.Lock()

    async def acquire(self, tokens: int) -> None:
        if not self.rpm and not self.tpm:
            return
        tokens = min(tokens, self._tok_cap) if self.tpm else 0
        async with self._lock:  # waiters queue up in order
            while True:
                now = time.monotonic()
                dt, self._t = now - self._t, now
                if self.rpm:
                    self._req = min(self._req_cap, self._req + dt * self.rpm / 60)
                if self.tpm:
                    self._tok = min(self._tok_cap, self._tok + dt * self.tpm / 60)
                need_req = 0.0 if not self.rpm else max(0.0, (1 - self._req) * 60 / self.rpm)
                need_tok = 0.0 if not self.tpm else max(0.0, (tokens - self._tok) * 60 / self.tpm)
                if need_req == 0 and need_tok == 0:
                    if self.rpm:
                        self._req -= 1
                    self._tok -= tokens
                    return
                await asyncio.sleep(max(need_req, need_tok))


class LLMClient:
    def __init__(self, cfg: LLMConfig, cache_path: str | Path, prices: dict[str, PriceConfig] | None = None,
                 backend=None):
        self.cfg = cfg
        self.backend = backend or make_backend(cfg)
        self.cache = ResponseCache(cache_path)
        self.price = (prices or {}).get(cfg.model, PriceConfig())
        self.sampling = {"temperature": cfg.temperature, "top_p": cfg.top_p, "max_tokens": cfg.max_tokens,
                         "seed": cfg.seed}
        self.stats: Counter[str] = Counter()
        self.cost = 0.0

    # ---- one request -------------------------------------------------------------------------------------------
    async def _chat_one(self, messages: list[dict[str, str]], prompt_version: str, **overrides: Any) -> Completion:
        sampling = {**self.sampling, **overrides}
        key = cache_key(self.backend.model_id, messages, sampling, prompt_version)
        hit = self.cache.get(key)
        if hit is not None:
            self.stats["cache_hits"] += 1
            return hit
        if key in self._inflight:  # the same request is already on its way: share its answer, pay once
            self.stats["deduplicated"] += 1
            return await self._inflight[key]
        task = asyncio.ensure_future(self._ask(key, messages, sampling))
        self._inflight[key] = task
        task.add_done_callback(lambda _: self._inflight.pop(key, None))
        return await task

    async def _ask(self, key: str, messages: list[dict[str, str]], sampling: dict[str, Any]) -> Completion:
        async with self._semaphore:
            reason = "no attempt"
            for attempt in range(self.cfg.max_retries + 1):
                estimate = sum(len(m["content"]) for m in messages) // 4 + int(sampling["max_tokens"])
                await self._limiter.acquire(estimate)
                self.stats["requests"] += 1
                try:
                    c = await self.backend.complete(messages, sampling)
                except Transient as e:
                    reason = str(e)
                    self.stats["retries"] += attempt < self.cfg.max_retries
                    if attempt < self.cfg.max_retries:
                        await asyncio.sleep(self._backoff(attempt, e.retry_after))
                    continue
                except Permanent as e:
                    reason = str(e)
                    break
                c = replace(c, cost=self._cost(c))
                self.cache.put(key, c)
                self.stats["answered"] += 1
                self.stats["prompt_tokens"] += c.prompt_tokens
                self.stats["completion_tokens"] += c.completion_tokens
                self.cost += c.cost
                return c
        self.stats["failures"] += 1
        return Completion(text=None, error=reason)

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with full jitter, never shorter than the server's Retry-After."""
        delay = random.uniform(0, min(self.cfg.backoff_max_s, self.cfg.backoff_s * 2 ** attempt))
        return max(delay, retry_after or 0.0)

    def _cost(self, c: Completion) -> float:
        return (c.prompt_tokens * self.price.input + c.completion_tokens * self.price.output) / 1e6

    # ---- many requests -----------------------------------------------------------------------------------------
    def chat_many(self, conversations: list[list[dict[str, str]]], prompt_version: str, desc: str = "llm",
                  **overrides: Any) -> list[Completion]:
        """Answer every conversation (in order) with up to ``concurrency`` in flight; shows progress."""
        return asyncio.run(self.achat_many(conversations, prompt_version, desc=desc, **overrides))

    async def achat_many(self, conversations: list[list[dict[str, str]]], prompt_version: str, desc: str = "llm",
                         **overrides: Any) -> list[Completion]:
        from tqdm import tqdm

        self._semaphore = asyncio.Semaphore(self.cfg.concurrency)
        self._inflight: dict[str, asyncio.Future] = {}
        self._limiter = RateLimiter(self.cfg.requests_per_minute, self.cfg.tokens_per_minute)
        with tqdm(total=len(conversations), desc=desc, unit="req", mininterval=1.0) as bar:
            async def one(messages):
                c = await self._chat_one(messages, prompt_version, **overrides)
                bar.update(1)
                bar.set_postfix(failed=self.stats["failures"], cached=self.stats["cache_hits"],
                                cost=f"{self.cost:.4f}", refresh=False)
                return c

            try:
                return list(await asyncio.gather(*(one(m) for m in conversations)))
            finally:
                await self.backend.aclose()

    def report(self) -> dict[str, Any]:
        """Usage totals for reports/ and MLflow (no secrets: the key never reaches the client object's state)."""
        counts = ("requests", "answered", "failures", "retries", "cache_hits", "deduplicated", "prompt_tokens",
                  "completion_tokens")
        return {"model": self.backend.model_id, "backend": self.cfg.backend, **{k: self.stats[k] for k in counts},
                "cost": round(self.cost, 6)}

    def close(self) -> None:
        self.cache.close()

    def __enter__(self) -> "LLMClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
