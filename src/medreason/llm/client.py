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
    return LocalBackend(cfg.model, batch_size=cfg.batch_size, dtype=cfg.dtype)


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

    def key(self, messages: list[dict[str, str]], prompt_version: str, **overrides: Any) -> str:
        """The cache key of a request: everything that decides its answer (the backend's model id, which for a
        local model holds its fingerprint and dtype; the messages; every sampling parameter, seed included; the
        prompt's version)."""
        return cache_key(self.backend.model_id, messages, {**self.sampling, **overrides}, prompt_version)

    # ---- one request -------------------------------------------------------------------------------------------
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
                return self._answered(key, c)
        self.stats["failures"] += 1
        return Completion(text=None, error=reason)

    def _answered(self, key: str, c: Completion) -> Completion:
        c = replace(c, cost=self._cost(c))
        self.cache.put(key, c)
        self.stats["answered"] += 1
        self.stats["prompt_tokens"] += c.prompt_tokens
        self.stats["completion_tokens"] += c.completion_tokens
        self.cost += c.cost
        return c

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with full jitter, never shorter than the server's Retry-After."""
        delay = random.uniform(0, min(self.cfg.backoff_max_s, self.cfg.backoff_s * 2 ** attempt))
        return max(delay, retry_after or 0.0)

    def _cost(self, c: Completion) -> float:
        return (c.prompt_tokens * self.price.input + c.completion_tokens * self.price.output) / 1e6

    # ---- many requests -----------------------------------------------------------------------------------------
    def chat_many(self, conversations: list[list[dict[str, str]]], prompt_version: str, desc: str = "llm",
                  **overrides: Any) -> list[Completion]:
        """Answer every conversation (in order); shows progress. The cache is asked first and a request repeated in
        the call is asked once; a server backend then has up to ``concurrency`` requests in flight, the local one
        generates them in batches formed from the requests (``_ask_batches``)."""
        return asyncio.run(self.achat_many(conversations, prompt_version, desc=desc, **overrides))

    async def achat_many(self, conversations: list[list[dict[str, str]]], prompt_version: str, desc: str = "llm",
                         **overrides: Any) -> list[Completion]:
        from tqdm import tqdm

        sampling = {**self.sampling, **overrides}
        keys = [self.key(m, prompt_version, **overrides) for m in conversations]
        answers: dict[str, Completion] = {}
        todo: dict[str, list[dict[str, str]]] = {}  # each distinct request once, in submitted order
        for key, messages in zip(keys, conversations):
            if key in todo:  # the same request twice in one call: asked once, paid once
                self.stats["deduplicated"] += 1
                continue
            hit = answers.get(key) or self.cache.get(key)
            if hit is None:
                todo[key] = messages
            else:
                answers[key] = hit
                self.stats["cache_hits"] += 1
        with tqdm(total=len(todo), desc=desc, unit="req", mininterval=1.0, disable=not todo) as bar:
            def done(key: str, c: Completion) -> None:
                answers[key] = c
                bar.update(1)
                bar.set_postfix(failed=self.stats["failures"], cached=self.stats["cache_hits"],
                                cost=f"{self.cost:.4f}", refresh=False)

            if getattr(self.backend, "batched", False):
                await self._ask_batches(todo, sampling, done)
            else:
                self._semaphore = asyncio.Semaphore(self.cfg.concurrency)
                self._limiter = RateLimiter(self.cfg.requests_per_minute, self.cfg.tokens_per_minute)

                async def one(key: str, messages: list[dict[str, str]]) -> None:
                    done(key, await self._ask(key, messages, sampling))

                try:
                    await asyncio.gather(*(one(k, m) for k, m in todo.items()))
                finally:
                    await self.backend.aclose()
        return [answers[k] for k in keys]

    async def _ask_batches(self, todo: dict[str, list[dict[str, str]]], sampling: dict[str, Any], done) -> None:
        """A batched (local) backend: batches formed from the requests themselves, ordered by key, each request
        sampled with a seed derived from its key, so the answers depend on what was asked, never on timing or on
        the order it was asked in. A failed batch fails its requests (nothing to retry in-process)."""
        keys = sorted(todo)
        size = self.backend.batch_size
        for start in range(0, len(keys), size):
            batch = keys[start:start + size]
            self.stats["requests"] += len(batch)
            try:
                out = await asyncio.to_thread(self.backend.complete_batch, [todo[k] for k in batch], sampling,
                                              [int(k[:8], 16) for k in batch])
            except Exception as e:  # noqa: BLE001 - a failed batch fails its requests, not the run
                self.stats["failures"] += len(batch)
                for k in batch:
                    done(k, Completion(text=None, error=f"local generation failed: {e}"))
                continue
            for k, c in zip(batch, out, strict=True):
                done(k, self._answered(k, c))

    def report(self) -> dict[str, Any]:
        """This run's usage totals, for MLflow: they depend on the cache (the API key never reaches the client)."""
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
