"""The one local-model runtime: load a causal LM folder, generate in batches, score log-probs, fingerprint it.

    model = LocalModel("models/sft", dtype="float32")
    outs = model.generate(model.chat_prompts(conversations), max_new_tokens=256, temperature=0.7, seeds=[1, 2, 3])
    lp = model.continuation_logprobs(prompt_ids, completion_ids)   # per-token log-probs (PPO, evaluation)
    nxt = model.next_token_logprobs(prompt_ids)                    # the next token's distribution (letter scoring)

Generation does not depend on timing or on which other requests share a batch in how it samples: every request
carries its own seed and draws from its own generator, one draw per generated token; batches are formed from the
requests given, longest prompt first (ties by position), never from arrival times. Decoding stops per sequence at
EOS, and each sampled token's log-probability (at the sampling temperature) is kept, so RL rollouts need nothing
else. What can still differ between two batchings of the same request is float arithmetic (padding changes matrix
shapes, and in bf16 that can move a token; in fp32 it did not in our tests). The LLM client forms its batches from
the requests the cache has not answered, ordered by key: the same requests on an empty cache give the same texts,
while a resumed run may batch a request with other neighbours.

Sampling follows transformers' ``generate`` defaults where params say nothing: top-k 50 (``top_k``, 0 = off). Other
sampling settings of a folder's ``generation_config`` (e.g. a repetition penalty) are not applied.

Every inference-time load of a causal LM goes through here (training loads its own, as TRL requires, and
tracking.log_model loads one to hand the object to MLflow).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt")


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
            if f.suffix in WEIGHT_SUFFIXES:
                size = f.stat().st_size
                h.update(str(size).encode())
                h.update(fh.read(1 << 20))
                fh.seek(max(0, size - (1 << 20)))
            h.update(fh.read())
    return h.hexdigest()[:12]


@dataclass(frozen=True)
class Generation:
    text: str  # the reply, special tokens removed
    token_ids: list[int]  # the generated tokens, EOS included when it was reached
    logprobs: list[float]  # each generated token's log-probability at the sampling temperature
    prompt_tokens: int
    finished: bool  # reached EOS (else cut at max_new_tokens)

    @property
    def completion_tokens(self) -> int:
        return len(self.token_ids)


class LocalModel:
    """A causal LM folder, loaded on first use. ``dtype``: "auto" (the folder's), bfloat16, float16 or float32."""

    def __init__(self, model_dir: str | Path, dtype: str = "auto", device: str | None = None):
        self.model_dir = str(model_dir)
        self.fingerprint = model_fingerprint(model_dir)
        self.dtype, self._device = dtype, device
        self._model = self._tokenizer = None

    @classmethod
    def wrap(cls, model, tokenizer) -> LocalModel:
        """The runtime around a model already in memory (an RL policy being trained): same generation and scoring,
        no folder, no fingerprint. The caller keeps the model in eval mode (dropout off) while it generates."""
        self = cls.__new__(cls)
        self.model_dir, self.fingerprint, self.dtype = None, None, str(model.dtype).removeprefix("torch.")
        self._model, self._tokenizer, self._device = model, tokenizer, str(model.device)
        return self

    @property
    def tokenizer(self):
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            tok = AutoTokenizer.from_pretrained(self.model_dir)
            if tok.pad_token is None:
                tok.pad_token = tok.eos_token
            self._tokenizer = tok
        return self._tokenizer

    @property
    def model(self):
        if self._model is None:
            import torch
            from transformers import AutoModelForCausalLM

            self._device = self._device or ("cuda" if torch.cuda.is_available() else "cpu")
            dtype = self.dtype if self.dtype == "auto" else getattr(torch, self.dtype)
            self._model = AutoModelForCausalLM.from_pretrained(self.model_dir, dtype=dtype).to(self._device).eval()
        return self._model

    def eos_ids(self) -> set[int]:
        ids = {self.tokenizer.eos_token_id}
        configured = getattr(self.model.generation_config, "eos_token_id", None)
        ids.update(configured if isinstance(configured, list) else [configured])
        return {i for i in ids if i is not None}

    def chat_prompts(self, conversations: Sequence[list[dict[str, str]]]) -> list[list[int]]:
        """Token ids of each conversation rendered by the chat template, ready for the assistant's reply."""
        tok = self.tokenizer
        texts = [tok.apply_chat_template(m, tokenize=False, add_generation_prompt=True) for m in conversations]
        return [tok(t, add_special_tokens=False)["input_ids"] for t in texts]

    # ---- generation ----------------------------------------------------------------------------------------------
    def generate(self, prompts: Sequence[list[int]], max_new_tokens: int, temperature: float = 0.0,
                 top_p: float = 1.0, seeds: Sequence[int] | None = None, batch_size: int = 8,
                 progress: str | None = None, top_k: int = 50) -> list[Generation]:
        """One generation per prompt (token ids), in order. Greedy at temperature 0; else sampled with
        ``seeds[i]`` for prompt i. Batches of ``batch_size``, longest prompt first."""
        from tqdm import tqdm

        seeds = list(seeds) if seeds is not None else [0] * len(prompts)
        if len(seeds) != len(prompts):
            raise ValueError(f"{len(seeds)} seeds for {len(prompts)} prompts")
        order = sorted(range(len(prompts)), key=lambda i: (-len(prompts[i]), i))
        out: list[Generation | None] = [None] * len(prompts)
        for start in tqdm(range(0, len(order), batch_size), desc=progress or "generate", unit="batch",
                          disable=progress is None, mininterval=1.0):
            idx = order[start:start + batch_size]
            for i, g in zip(idx, self._generate_batch([prompts[i] for i in idx], max_new_tokens, temperature, top_p,
                                                      top_k, [seeds[i] for i in idx])):
                out[i] = g
        return out  # type: ignore[return-value]

    def _generate_batch(self, prompts: list[list[int]], max_new_tokens: int, temperature: float, top_p: float,
                        top_k: int, seeds: list[int]) -> list[Generation]:
        import torch
        from transformers import DynamicCache

        model, pad = self.model, self.tokenizer.pad_token_id
        eos = torch.tensor(sorted(self.eos_ids()), dtype=torch.long)
        ids, mask = self._left_pad(prompts)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        generators = [torch.Generator().manual_seed(int(s)) for s in seeds]
        cache = DynamicCache(config=model.config)  # sliding-window layers need the config
        n = len(prompts)
        tokens = torch.full((n, max_new_tokens), pad, dtype=torch.long)
        logprobs = torch.zeros((n, max_new_tokens))
        done = torch.zeros(n, dtype=torch.bool)
        lengths = torch.full((n,), max_new_tokens)
        step_ids = ids
        with torch.inference_mode():
            for step in range(max_new_tokens):
                logits = model(input_ids=step_ids, attention_mask=mask, position_ids=positions, past_key_values=cache,
                               use_cache=True, logits_to_keep=1).logits[:, -1, :].float().cpu()
                next_ids, next_lp = sample(logits, temperature, top_p, top_k, generators, done)
                tokens[:, step], logprobs[:, step] = torch.where(done, pad, next_ids), next_lp
                hit = ~done & torch.isin(next_ids, eos)
                lengths[hit] = step + 1
                done |= hit
                if done.all():
                    break
                step_ids = tokens[:, step:step + 1].to(model.device)
                mask = torch.cat([mask, torch.ones((n, 1), dtype=mask.dtype, device=mask.device)], dim=1)
                positions = positions[:, -1:] + 1
        results = []
        for i in range(n):
            k = int(lengths[i])
            new = tokens[i, :k].tolist()
            results.append(Generation(text=self.tokenizer.decode(new, skip_special_tokens=True), token_ids=new,
                                      logprobs=logprobs[i, :k].tolist(), prompt_tokens=len(prompts[i]),
                                      finished=bool(done[i])))
        return results

    def _left_pad(self, prompts: Sequence[list[int]]):
        import torch

        width = max(len(p) for p in prompts)
        ids = torch.full((len(prompts), width), self.tokenizer.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for i, p in enumerate(prompts):
            ids[i, width - len(p):] = torch.tensor(p, dtype=torch.long)
            mask[i, width - len(p):] = 1
        return ids.to(self.model.device), mask.to(self.model.device)

    # ---- scoring -------------------------------------------------------------------------------------------------
    def next_token_logprobs(self, prompts: Sequence[list[int]]):
        """Log-probabilities of the next token after each prompt: a (len(prompts), vocab) float tensor on the CPU."""
        import torch

        ids, mask = self._left_pad(prompts)
        with torch.inference_mode():
            # Left padding: the last position predicts the next token; only its logits are computed.
            logits = self.model(input_ids=ids, attention_mask=mask, position_ids=(mask.cumsum(-1) - 1).clamp(min=0),
                                logits_to_keep=1).logits[:, -1, :]
        return torch.log_softmax(logits.float(), dim=-1).cpu()

    def continuation_logprobs(self, prompts: Sequence[list[int]], continuations: Sequence[list[int]],
                              temperature: float = 1.0) -> list[list[float]]:
        """Each continuation token's log-probability given its prompt and the tokens before it, at ``temperature``
        (1.0: the model's own distribution; an RL policy's sampling temperature to match its rollouts)."""
        import torch

        full = [list(p) + list(c) for p, c in zip(prompts, continuations, strict=True)]
        ids, mask = self._left_pad(full)
        keep = max(len(c) for c in continuations) + 1  # only the positions that predict continuation tokens
        with torch.inference_mode():
            logits = self.model(input_ids=ids, attention_mask=mask, position_ids=(mask.cumsum(-1) - 1).clamp(min=0),
                                logits_to_keep=keep).logits.float()
        logp = torch.log_softmax(logits / (temperature or 1.0), dim=-1)
        out = []
        for i, c in enumerate(continuations):
            # Token t at position j is predicted by position j - 1; the continuation fills the last len(c) places,
            # so its predictors are the len(c) kept positions before the last.
            pos = torch.arange(keep - len(c) - 1, keep - 1, device=logp.device)
            out.append(logp[i, pos, torch.tensor(c, dtype=torch.long, device=logp.device)].cpu().tolist())
        return out


def sample(logits, temperature: float, top_p: float, top_k: int, generators: list, done):
    """The next token of each row and its log-probability at ``temperature``: argmax at 0, else a draw from row i's
    own generator among its ``top_k`` most likely tokens (0: all), nucleus-filtered by ``top_p``. Rows already done
    draw nothing, so a row's random stream does not depend on when its neighbours stop."""
    import torch

    if temperature <= 0:
        logp = torch.log_softmax(logits, dim=-1)
        next_ids = logits.argmax(dim=-1)
        return next_ids, logp.gather(1, next_ids[:, None])[:, 0]
    logp = torch.log_softmax(logits / temperature, dim=-1)
    probs = logp.exp()
    if 0 < top_k < probs.shape[-1]:
        probs = probs.masked_fill(probs < probs.topk(top_k, dim=-1).values[:, -1:], 0.0)
        probs = probs / probs.sum(dim=-1, keepdim=True)  # top-p reads the mass of what top-k kept, as transformers
    if top_p < 1.0:
        sorted_p, order = probs.sort(dim=-1, descending=True)
        drop = sorted_p.cumsum(dim=-1) - sorted_p > top_p  # keep the smallest head whose mass reaches top_p
        sorted_p[drop] = 0.0
        probs = torch.zeros_like(probs).scatter(1, order, sorted_p)
    next_ids = torch.zeros(len(logits), dtype=torch.long)
    for i, g in enumerate(generators):
        if not done[i]:
            next_ids[i] = torch.multinomial(probs[i], 1, generator=g)[0]
    return next_ids, logp.gather(1, next_ids[:, None])[:, 0]
