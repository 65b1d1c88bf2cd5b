"""Backends: where a chat request is answered. Each raises ``Transient`` (worth retrying) or ``Permanent``.

- ``OpenAIBackend``: any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, SGLang, transformers serve,
  llama.cpp server). The key is read from the environment variable named in params, never from params.
- ``LocalBackend``: in-process transformers generation on a model folder; concurrent requests are gathered into
  batches so that many share one ``generate`` call.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path
from typing import Any

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


def model_fingerprint(model_dir: str | Path) -> str:
    """12 hex chars that change when a model folder's weights, config or tokenizer change.

    A cache keyed on the folder's path alone would hand back a replaced model's answers. Weights are sampled
    (size + first and last MiB of each file), so an 8B folder is fingerprinted in milliseconds.
    """
    if not Path(model_dir).is_dir():
        raise FileNotFoundError(f"model folder {model_dir} not found (`dvc repro prepare_model` builds models/base)")
    h = hashlib.sha256()
    for f in sorted(Path(model_dir).iterdir()):
        if not f.is_file():
            continue
        h.update(f.name.encode())
        with open(f, "rb") as fh:
            if f.suffix in (".safetensors", ".bin", ".gguf", ".pt"):
                size = f.stat().st_size
                h.update(str(size).encode())
                h.update(fh.read(1 << 20))
                fh.seek(max(0, size - (1 << 20)))
            h.update(fh.read())
    return h.hexdigest()[:12]


class LocalBackend:
    """Batched in-process generation. Requests with the same sampling parameters share a ``generate`` call."""

    def __init__(self, model_dir: str, batch_size: int = 8, max_wait_s: float = 0.02, dtype: str = "bfloat16"):
        self.model_dir = str(model_dir)
        self.model_id = f"{self.model_dir}@{model_fingerprint(model_dir)}"  # the cache key's model
        self.batch_size, self.max_wait_s, self.dtype = batch_size, max_wait_s, dtype
        self._model = self._tokenizer = None
        self.generate_calls = 0  # how many batches were generated (to see batching work)
        self._queue: asyncio.Queue | None = None
        self._loop = None
        self._worker = None

    async def complete(self, messages: list[dict[str, str]], sampling: dict[str, Any]) -> Completion:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # one queue and worker per event loop (each chat_many runs its own)
            self._loop, self._queue = loop, asyncio.Queue()
            self._worker = loop.create_task(self._serve())
        future = loop.create_future()
        await self._queue.put((messages, sampling, future))
        return await future

    async def _serve(self) -> None:
        while True:
            batch = [await self._queue.get()]
            deadline = asyncio.get_running_loop().time() + self.max_wait_s
            while len(batch) < self.batch_size:
                timeout = deadline - asyncio.get_running_loop().time()
                if timeout <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), timeout))
                except asyncio.TimeoutError:
                    break
            groups: dict[str, list] = {}
            for item in batch:
                groups.setdefault(repr(sorted(item[1].items())), []).append(item)
            for items in groups.values():
                try:
                    results = await asyncio.to_thread(self._generate, [m for m, _, _ in items], items[0][1])
                except Exception as e:  # noqa: BLE001 - a failed batch fails its requests, not the worker
                    for *_, fut in items:
                        if not fut.done():
                            fut.set_exception(Permanent(f"local generation failed: {e}"))
                    continue
                for (*_, fut), res in zip(items, results):
                    if not fut.done():
                        fut.set_result(res)

    def _load(self) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self._tokenizer = AutoTokenizer.from_pretrained(self.model_dir, padding_side="left")
        if self._tokenizer.pad_token is None:
            self._tokenizer.pad_token = self._tokenizer.eos_token
        self._model = AutoModelForCausalLM.from_pretrained(self.model_dir, dtype=getattr(torch, self.dtype)).eval()

    def _generate(self, conversations: list[list[dict[str, str]]], sampling: dict[str, Any]) -> list[Completion]:
        import torch

        if self._model is None:
            self._load()
        tok = self._tokenizer
        prompts = [tok.apply_chat_template(m, tokenize=False, add_generation_prompt=True) for m in conversations]
        enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        temperature = float(sampling.get("temperature", 0.0))
        kwargs: dict[str, Any] = {"max_new_tokens": int(sampling.get("max_tokens", 256)), "pad_token_id": tok.pad_token_id}
        if temperature > 0:
            kwargs.update(do_sample=True, temperature=temperature, top_p=float(sampling.get("top_p", 1.0)))
            torch.manual_seed(int(sampling.get("seed", 0)))
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        with torch.inference_mode():
            out = self._model.generate(**enc, **kwargs)
        self.generate_calls += 1
        new = out[:, enc["input_ids"].shape[1]:]
        results = []
        for i, ids in enumerate(new.tolist()):
            n = len(ids)
            for j, t in enumerate(ids):
                if t in (tok.eos_token_id, tok.pad_token_id):
                    n = j
                    break
            results.append(Completion(text=tok.decode(ids[:n], skip_special_tokens=True),
                                      prompt_tokens=int(enc["attention_mask"][i].sum()), completion_tokens=n))
        return results

    async def aclose(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
