"""Backends: where a chat request is answered. Each raises ``Transient`` (worth retrying) or ``Permanent``.

- ``OpenAIBackend``: any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, SGLang, transformers serve,
  llama.cpp server). The key is read from the environment variable named in params, never from params.
- ``LocalBackend``: in-process generation on a model folder (llm/local.py); the client gives it whole batches.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from medreason.llm.local import LocalModel
from medreason.llm.types import Completion


class Transient(Exception):
    """A failure worth retrying (429, 5xx, timeout, connection, malformed body)."""

    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.retry_after = retry_after


class Permanent(Exception):
    """A failure that retrying will not fix (400, 401, 403, 404...)."""


class OpenAIBackend:
    def __init__(self, model: str, base_url: str | None, api_key_env: str | None, timeout_s: float):
        import openai

        key = "EMPTY"  # local servers accept any key
        if api_key_env:
            key = os.environ.get(api_key_env, "")
            if not key:
                raise RuntimeError(f"the API key variable {api_key_env} named in params is not set in the environment")
        self.model_id = model
        # Retries are ours (with the cache and the failure record), so the SDK's are off.
        self._make = lambda: openai.AsyncOpenAI(base_url=base_url, api_key=key, timeout=timeout_s, max_retries=0,
                                                http_client=openai.DefaultAioHttpClient(timeout=timeout_s))
        self._client = self._loop = None

    async def complete(self, messages: list[dict[str, str]], sampling: dict[str, Any]) -> Completion:
        import openai

        if self._loop is not asyncio.get_running_loop():  # an HTTP client belongs to one event loop
            self._loop, self._client = asyncio.get_running_loop(), self._make()
        try:
            r = await self._client.chat.completions.create(model=self.model_id, messages=messages, **sampling)
        except openai.APITimeoutError:
            raise Transient("timeout") from None
        except openai.APIConnectionError as e:
            raise Transient(f"connection error: {e.__cause__ or e}") from None
        except openai.APIStatusError as e:
            status = e.status_code
            if status == 429 or status >= 500 or status in (408, 409):
                raise Transient(f"http {status}", _retry_after(e.response)) from None
            raise Permanent(f"http {status}: {e.message}") from None
        except (openai.APIResponseValidationError, ValueError) as e:
            raise Transient(f"malformed response: {e}") from None
        try:
            text = r.choices[0].message.content
        except (AttributeError, IndexError, TypeError):
            raise Transient(f"malformed response: {str(r)[:200]}") from None
        if text is None:
            raise Transient("malformed response: no message content")
        usage = getattr(r, "usage", None)
        return Completion(text=text, prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
                          completion_tokens=getattr(usage, "completion_tokens", 0) or 0)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = self._loop = None


def _retry_after(response) -> float | None:
    try:
        return max(0.0, float(response.headers.get("retry-after")))
    except (TypeError, ValueError, AttributeError):
        return None


class LocalBackend:
    """In-process generation on a model folder through the local runtime. The client hands it whole batches, formed
    from the requests themselves (never from arrival times), each request with its own seed."""

    batched = True

    def __init__(self, model_dir: str, batch_size: int = 8, dtype: str = "bfloat16"):
        self.runtime = LocalModel(model_dir, dtype=dtype)
        self.batch_size = batch_size
        # The cache key's model: the folder, its content and the dtype it is run in all decide the answers.
        self.model_id = f"{model_dir}@{self.runtime.fingerprint}:{dtype}"
        self.generate_calls = 0  # batches generated (to see batching work)

    def complete_batch(self, conversations: list[list[dict[str, str]]], sampling: dict[str, Any],
                       seeds: list[int]) -> list[Completion]:
        """One batch: every conversation with the same sampling parameters, conversation i sampled with seeds[i]."""
        prompts = self.runtime.chat_prompts(conversations)
        out = self.runtime.generate(prompts, int(sampling.get("max_tokens", 256)), float(sampling.get("temperature", 0)),
                                    float(sampling.get("top_p", 1.0)), seeds=seeds, batch_size=len(prompts))
        self.generate_calls += 1
        return [Completion(text=g.text, prompt_tokens=g.prompt_tokens,
                           completion_tokens=g.completion_tokens - g.finished) for g in out]
