"""Verifiers: does a response commit to its reference answer?

    from medreason.verify import load_verifier
    verifier = load_verifier("default")            # the best offline one: lexical rules + embeddings
    verifier.verify(response, reference, question)  # -> VerifyResult(correct, score, reason, cost)
    verifier.verify_many([(response, reference, question), ...])

Every verifier judges only the final answer (``final_answer``: the text after the last "## Final Response") and
runs the commitment guard first (``guard.check``: empty, hedged, negated, self-certifying or grader-addressing
answers are not correct, whatever the verifier would say). Names:

  lexical     containment and overlap of folded answer tokens (no model)
  embedding   all-MiniLM-L6-v2 cosine similarity, best clause (threshold=...)
  combined    lexical, plus embeddings where they confirm partial lexical evidence
  default     combined with its tuned defaults (offline, CPU)
  llm_judge   a chat model replies True/False (client=<LLMClient>, max_asks=2)
  classifier  a sequence-classification model (model_path=..., label_index=1, threshold=0.4)

The audit (``python -m medreason.verify.audit``) measures them on a labelled set.
"""

from __future__ import annotations

from medreason.verify.base import Verifier, VerifyResult, final_answer

VERIFIERS = ("lexical", "embedding", "combined", "default", "llm_judge", "classifier")


def load_verifier(name: str, guard: bool = True, **options) -> Verifier:
    """A verifier by name, configured by keyword options (each class's constructor arguments); ``guard=False``
    turns the commitment guard off (for a judge or classifier trusted, and audited, on its own)."""
    verifier = _build(name, **options)
    verifier.guard = guard
    return verifier


def _build(name: str, **options) -> Verifier:
    if name == "lexical":
        from medreason.verify.lexical import LexicalVerifier

        return LexicalVerifier(**options)
    if name == "embedding":
        from medreason.verify.embedding import EmbeddingVerifier

        return EmbeddingVerifier(**options)
    if name in ("combined", "default"):
        from medreason.verify.combined import CombinedVerifier

        verifier = CombinedVerifier(**options)
        verifier.name = name
        return verifier
    if name == "llm_judge":
        from medreason.verify.llm_judge import LLMJudgeVerifier

        return LLMJudgeVerifier(**options)
    if name == "classifier":
        from medreason.verify.classifier import ClassifierVerifier

        return ClassifierVerifier(**options)
    raise KeyError(f"no verifier named {name!r} (known: {', '.join(VERIFIERS)})")


def verifier_from_params(name: str, verify, llm=None, cache_path: str | None = None, guard: bool = True) -> Verifier:
    """The verifier ``name`` configured from params (``verify`` section; ``llm`` and a cache for the judge)."""
    if name == "llm_judge":
        from medreason.llm.client import LLMClient

        if llm is None or cache_path is None:
            raise ValueError("llm_judge needs the llm params section and a cache path")
        return load_verifier(name, guard, client=LLMClient(llm.judge, cache_path, prices=llm.prices))
    if name == "classifier":
        c = verify.classifier
        return load_verifier(name, guard, model_path=c.model, tokenizer_path=c.tokenizer,
                             template=_template(c.template), label_index=c.label_index, threshold=c.threshold)
    return load_verifier(name, guard)


def role_verifier(role: str, verify, llm=None, cache_path: str | None = None) -> Verifier:
    """The verifier of one stage's role ("search", "compose", "reward") as params set it."""
    cfg = verify.roles[role]
    return verifier_from_params(cfg.verifier, verify, llm, cache_path, guard=cfg.guard)


def _template(name_or_path: str) -> str:
    """A classifier input template: a prompt's name, or a text file (the exact wording a model was trained on)."""
    from pathlib import Path

    from medreason.prompts import load_prompt

    path = Path(name_or_path)
    if path.suffix == ".txt" and path.is_file():
        return path.read_text(encoding="utf-8").rstrip("\n")
    return load_prompt(name_or_path).text.rstrip("\n")


__all__ = ["VERIFIERS", "Verifier", "VerifyResult", "final_answer", "load_verifier", "role_verifier",
           "verifier_from_params"]
