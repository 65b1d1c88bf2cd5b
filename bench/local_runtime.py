"""Benchmark: the local runtime's generation (llm/local.py) against transformers' own `generate`, on models/base.

    .venv/bin/python bench/local_runtime.py [--model models/base] [--batch 8] [--tokens 128]

The same 16 chat prompts (short and long questions), batches of --batch, --tokens new tokens at most, greedy and
sampled (temperature 0.7, top-k 50): generated tokens per second of `LocalModel.generate` (a seed per request, stops
each row at EOS, keeps each sampled token's log-prob) and of `model.generate` (the baseline: one seed per batch),
each best of two after a warm-up batch. Greedy outputs are compared token for token. Last line: a JSON object.
"""

from __future__ import annotations

import argparse
import json
import time

QUESTIONS = [
    "What causes scurvy?",
    "Name the vitamin whose deficiency causes night blindness.",
    "A 45-year-old man has crushing chest pain radiating to the left arm for 30 minutes. What is the most likely "
    "diagnosis and the first test to order?",
    "Which nerve is injured in a fracture of the surgical neck of the humerus?",
    "A 6-year-old boy has periorbital edema and cola-colored urine two weeks after a sore throat. What is the most "
    "likely diagnosis?",
    "What is the drug of choice for absence seizures?",
    "A 30-year-old woman has heat intolerance, weight loss, exophthalmos and a diffuse goiter. What is the cause?",
    "Which enzyme is deficient in classic phenylketonuria?",
] * 2


def timed(fn, repeats: int = 2) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def main() -> None:
    import torch

    from medreason.llm.local import LocalModel

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models/base")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=128)
    args = parser.parse_args()
    torch.manual_seed(0)
    runtime = LocalModel(args.model)
    tok, model = runtime.tokenizer, runtime.model
    prompts = runtime.chat_prompts([[{"role": "user", "content": q}] for q in QUESTIONS])
    order = sorted(range(len(prompts)), key=lambda i: (-len(prompts[i]), i))  # the runtime's batches, for both
    batches = [[prompts[i] for i in order[s:s + args.batch]] for s in range(0, len(order), args.batch)]

    def ours(temperature: float):
        return [g for b in batches for g in runtime.generate(b, args.tokens, temperature=temperature,
                                                              seeds=range(len(b)), batch_size=args.batch)]

    def baseline(temperature: float):
        outs = []
        for b in batches:
            width = max(map(len, b))
            ids = torch.tensor([[tok.pad_token_id] * (width - len(p)) + p for p in b])
            mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in b])
            sampling = {"do_sample": True, "temperature": temperature, "top_k": 50} if temperature else \
                {"do_sample": False}
            with torch.inference_mode():
                out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=args.tokens,
                                     pad_token_id=tok.pad_token_id, **sampling)
            for row in out[:, width:].tolist():
                eos = [j for j, t in enumerate(row) if t in runtime.eos_ids()]
                outs.append(row[:eos[0] + 1] if eos else row)
        return outs

    runtime.generate(batches[0][:2], 4)  # warm-up: weights paged in, kernels chosen
    figures = {"prompts": len(prompts), "batch": args.batch, "max_new_tokens": args.tokens, "dtype": str(model.dtype)}
    for name, temperature in (("greedy", 0.0), ("sampled", 0.7)):
        t_ours, gens = timed(lambda: ours(temperature))
        t_base, rows = timed(lambda: baseline(temperature))
        n_ours, n_base = sum(len(g.token_ids) for g in gens), sum(map(len, rows))
        figures[f"{name}_tokens_per_s"] = round(n_ours / t_ours, 1)
        figures[f"{name}_baseline_tokens_per_s"] = round(n_base / t_base, 1)
        figures[f"{name}_vs_baseline"] = round((n_ours / t_ours) / (n_base / t_base), 3)
        if not temperature:
            figures["greedy_identical_to_baseline"] = sum(g.token_ids == r for g, r in zip(gens, rows))
        print(f"{name}: runtime {figures[f'{name}_tokens_per_s']} tok/s ({n_ours} tokens), "
              f"transformers generate {figures[f'{name}_baseline_tokens_per_s']} tok/s ({n_base} tokens)")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
