"""Difficulty filter, first half: every configured model answers every MCQ; the predictions are kept.

The paper drops a question that all of its small models (Gemma2-9B, LLaMA-3.1-8B, Qwen2.5-7B) answer correctly.
This module only records what each model answered (a letter, or null when a reply named none), so changing the
rule later (in curate) never re-runs a model. Two ways to answer:

* ``loglik``: one forward pass per question on a local model folder; the prediction is the option letter with the
  highest next-token log-probability after the prompt. Batched, no generation, deterministic.
* ``generate``: the prompt goes through the LLM client (any OpenAI-compatible server, e.g. vLLM or SGLang serving
  the paper's models); the reply is parsed for a letter.

Both cache their answers in SQLite (the LLM client's cache), so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

from medreason.config import AnswererConfig, PriceConfig
from medreason.data.schema import options_text
from medreason.llm.cache import ResponseCache, cache_key
from medreason.llm.local import LocalModel
from medreason.llm.types import Completion
from medreason.prompts import load_prompt

PROMPT = "answer_mcq"
# A bare letter ("B", "(B)", "B."), or the letter after "answer is" / "Answer:" anywhere in a longer reply.
_BARE = re.compile(r"\s*\(?([A-E])\)?[.:)]?\s*", re.I)
_STATED = re.compile(r"(?i:answer)(?:\s+is)?\s*[:\-]?\s*\(?([A-E])\b\)?")


def mcq_messages(question: str, options: dict[str, str]) -> list[dict[str, str]]:
    return [{"role": "user", "content": load_prompt(PROMPT).render(question=question, options=options_text(options))}]


def parse_letter(text: str, letters: str) -> str | None:
    """The option letter a reply commits to, or None. Only letters of this question's options count."""
    m = _BARE.fullmatch(text)
    if m is None:
        stated = _STATED.findall(text)
        return stated[-1] if stated and stated[-1] in letters else None
    letter = m.group(1).upper()
    return letter if letter in letters else None


def answer_all(answerer: AnswererConfig, items: list[dict[str, Any]], cache_dir: str | Path,
               prices: dict[str, PriceConfig] | None = None) -> tuple[list[str | None], dict[str, Any]]:
    """One predicted letter (or None: the reply named none) per item ({question, options}), and a usage report.
    Raises RuntimeError when a request still fails after its retries."""
    cache_path = Path(cache_dir) / f"{answerer.name}.sqlite"
    if answerer.method == "loglik":
        return LoglikAnswerer(answerer.model, answerer.batch_size, cache_path, answerer.dtype).answer(items)
    from medreason.llm.client import LLMClient

    client = LLMClient(answerer.llm, cache_path=cache_path, prices=prices)
    try:
        completions = client.chat_many([mcq_messages(i["question"], i["options"]) for i in items],
                                       load_prompt(PROMPT).version, desc=f"difficulty {answerer.name}")
        letters = [parse_letter(c.text, "".join(i["options"])) if c.ok else None
                   for c, i in zip(completions, items, strict=True)]
        errors = Counter(c.error for c in completions if not c.ok)
        if errors:  # a missing answer would count as "not answered correctly" and quietly weaken the filter
            raise RuntimeError(f"difficulty: {answerer.name}: {sum(errors.values())} of {len(items)} requests failed "
                               f"after retries ({dict(errors)}); the answers received are cached in {cache_path}: "
                               f"run again to ask only the missing ones")
        unparsed = sum(letter is None for letter in letters)
        return letters, {**client.report(), "unparsed": unparsed}
    finally:
        client.close()


class LoglikAnswerer:
    """The option letter a local causal LM finds most likely as the first token of its reply."""

    def __init__(self, model_dir: str, batch_size: int, cache_path: str | Path, dtype: str = "float32"):
        self.runtime = LocalModel(model_dir, dtype=dtype)
        self.batch_size = batch_size
        self.model_id = f"{model_dir}@{self.runtime.fingerprint}:{dtype}"
        self.cache = ResponseCache(cache_path)

    def answer(self, items: list[dict[str, Any]]) -> tuple[list[str | None], dict[str, Any]]:
        from tqdm import tqdm

        version = load_prompt(PROMPT).version
        keys = [cache_key(self.model_id, mcq_messages(i["question"], i["options"]), {"method": "loglik"}, version)
                for i in items]
        letters: list[str | None] = [None] * len(items)
        todo = []
        for n, key in enumerate(keys):
            hit = self.cache.get(key)
            if hit is None:
                todo.append(n)
            else:
                letters[n] = hit.text
        todo.sort(key=lambda n: len(items[n]["question"]))  # batches of similar length pad little
        try:
            if todo:
                self._letter_ids()
            for start in tqdm(range(0, len(todo), self.batch_size), desc=f"loglik {self.model_id}", unit="batch",
                              mininterval=1.0):
                batch = todo[start:start + self.batch_size]
                for n, letter in zip(batch, self._score([items[n] for n in batch])):
                    letters[n] = letter
                    self.cache.put(keys[n], Completion(text=letter))  # committed per answer: a kill loses none
        finally:
            self.cache.close()
        return letters, {"model": self.model_id, "method": "loglik", "scored": len(todo),
                         "cache_hits": len(items) - len(todo)}

    def _letter_ids(self) -> None:
        tok = self.runtime.tokenizer
        # The first token of each letter as a reply starts: "A" (chat replies start without a space).
        self.letter_ids = {c: tok.encode(c, add_special_tokens=False)[0] for c in "ABCDE"}
        if len(set(self.letter_ids.values())) != 5:
            raise ValueError(f"{self.runtime.model_dir}: the tokenizer does not give each option letter its own token")

    def _score(self, items: list[dict[str, Any]]) -> list[str]:
        logprobs = self.runtime.next_token_logprobs(
            self.runtime.chat_prompts([mcq_messages(i["question"], i["options"]) for i in items]))
        out = []
        for row, item in zip(logprobs, items):
            letters = sorted(item["options"])
            out.append(letters[int(row[[self.letter_ids[c] for c in letters]].argmax())])
        return out
