"""Classifier verifier: a Hugging Face sequence-classification model scores (final answer, reference) pairs.

This is the shape of the authors' RL reward model (a 2-label ``AutoModelForSequenceClassification`` with its own
tokenizer): the input is an instruction with the final answer and the reference in tags, the tokenizer's EOS
appended as text, tokenised without special tokens; softmax over the logits; the probability at
``label_index`` (1 by default, taken to mean "correct") must exceed ``threshold`` (0.4 in the released code).

A trained classifier is tied to the exact input text it was trained on: ``template`` is an option so that a
model trained on another wording (the released verifier's, say) can be given its own. The default wording is
ours. When the input is longer than ``max_length`` tokens, the answer is cut from its start: its end, where the
conclusion is, and the reference are kept (a plain right truncation would cut the reference off).
"""

from __future__ import annotations

import math
from pathlib import Path

from medreason.verify.base import Verifier, VerifyResult

def default_template() -> str:
    """Our input wording (prompts/classifier_input.txt): {response} and {reference} are filled in."""
    from medreason.prompts import load_prompt

    return load_prompt("classifier_input").text.rstrip("\n")


class ClassifierVerifier(Verifier):
    name = "classifier"

    def __init__(self, model_path: str | Path, tokenizer_path: str | Path | None = None, label_index: int = 1,
                 threshold: float = 0.4, num_labels: int = 2, max_length: int = 4000, batch_size: int = 8,
                 device: str = "cpu", template: str | None = None, append_eos: bool = True,
                 add_special_tokens: bool = False, dtype: str | None = None):
        if not 0.0 <= threshold < 1.0:
            raise ValueError(f"threshold must be a probability in [0, 1), got {threshold}")
        if not 0 <= label_index < num_labels:
            raise ValueError(f"label_index {label_index} is not one of {num_labels} labels")
        if batch_size < 1 or max_length < 16:
            raise ValueError("batch_size >= 1 and max_length >= 16 are needed")
        self.model_path = str(model_path)
        self.tokenizer_path = str(tokenizer_path or model_path)
        self.label_index = label_index
        self.threshold = threshold
        self.num_labels = num_labels
        self.max_length = max_length
        self.batch_size = batch_size
        self.device = device
        self.template = template or default_template()
        self.append_eos = append_eos
        self.add_special_tokens = add_special_tokens
        self.dtype = dtype
        self._model = None
        self._tokenizer = None

    def _load(self):
        """Model and tokenizer, loaded once, on first use (torch and transformers are heavy imports)."""
        if self._model is None:
            import torch
            from transformers import AutoModelForSequenceClassification, AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(self.tokenizer_path)
            if tokenizer.pad_token is None:  # Llama-style tokenizers have none; batching needs one
                tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
            kwargs = {"dtype": getattr(torch, self.dtype)} if self.dtype else {}
            model = AutoModelForSequenceClassification.from_pretrained(self.model_path, **kwargs)
            if model.config.num_labels != self.num_labels:  # a folder with another head is another model
                raise ValueError(f"{self.model_path} has {model.config.num_labels} labels, expected "
                                 f"{self.num_labels}")
            # The model finds each sequence's last real token by its pad id: a batch padded with another token
            # would be read at the wrong place.
            if model.config.pad_token_id is None:
                model.config.pad_token_id = tokenizer.pad_token_id
            elif model.config.pad_token_id != tokenizer.pad_token_id:
                raise ValueError(f"{self.tokenizer_path} pads with token {tokenizer.pad_token_id} but "
                                 f"{self.model_path} expects pad token {model.config.pad_token_id}")
            self._model, self._tokenizer = model.to(self.device).eval(), tokenizer
        return self._model, self._tokenizer

    def build_input(self, answer: str, reference: str) -> str:
        """The text the classifier reads, the answer shortened from its start if the whole would not fit."""
        _, tokenizer = self._load()
        eos = tokenizer.eos_token if self.append_eos and tokenizer.eos_token else ""
        text = self.template.format(response=answer, reference=reference) + eos
        ids = tokenizer(text, add_special_tokens=self.add_special_tokens)["input_ids"]
        excess = len(ids) - self.max_length
        if excess > 0:
            answer_ids = tokenizer(answer, add_special_tokens=False)["input_ids"]
            answer = tokenizer.decode(answer_ids[min(len(answer_ids), excess):])
            text = self.template.format(response=answer, reference=reference) + eos
        return text

    def probabilities(self, answers: list[str], references: list[str]) -> list[float]:
        """P(label_index) for each pair, in batches of ``batch_size``."""
        import torch

        model, tokenizer = self._load()
        texts = [self.build_input(a, r) for a, r in zip(answers, references, strict=True)]
        out: list[float] = []
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                batch = tokenizer(texts[start:start + self.batch_size], padding=True, truncation=True,
                                  max_length=self.max_length, add_special_tokens=self.add_special_tokens,
                                  return_tensors="pt").to(self.device)
                logits = model(**batch).logits.float()
                out += torch.softmax(logits, dim=-1)[:, self.label_index].tolist()
        return out

    def judge(self, answers: list[str], references: list[str], questions: list[str | None]) -> list[VerifyResult]:
        results = []
        for p in self.probabilities(answers, references):
            if math.isnan(p):
                results.append(VerifyResult(False, 0.0, "classifier: probability is NaN"))
                continue
            correct = p > self.threshold
            results.append(VerifyResult(correct, p, f"classifier: p={p:.3f} {'>' if correct else '<='} "
                                                    f"{self.threshold}"))
        return results
