"""Combined verifier: the lexical rules, plus embeddings where they confirm partial lexical evidence.

Correct iff, behind the guard,
  (a) the lexical verifier says correct (the reference, or >= 80% of its words, committed to); or
  (b) at least ``strong_partial`` of the reference's words are there (F1 for a short answer, a window or each
      item for a long one) and the embedding similarity is >= ``strong_similarity``; or
  (c) the answer is long, holds at least ``partial`` of the reference's words in a committed window (or of each
      of its items), and its best clause is >= ``partial_similarity`` similar to the reference.
Two weaker signals that agree, never an embedding alone: wrong options are written to resemble the right one
("Type 1 achalasia" vs "Type 3 achalasia": cosine 0.90; "Localized painful" vs "painless lymphadenopathy": 0.94),
so similarity without the words measures shape, not correctness. Direction words and numbers must still match
(the partial scores are 0 otherwise). Only answers with partial lexical evidence are embedded.

The defaults were chosen on the shared audit set (806 labelled pairs): balanced accuracy 0.934 there, against
0.924 for the lexical rules alone; nearby settings give 0.924-0.936, so treat the second decimal as the audit
set's, not a promise. Re-audit (``python -m medreason.verify.audit``) before trusting it on other data.
"""

from __future__ import annotations

from medreason.verify.base import Verifier, VerifyResult
from medreason.verify.embedding import EmbeddingVerifier
from medreason.verify.lexical import LexicalVerifier, lexical_score


class CombinedVerifier(Verifier):
    name = "combined"

    def __init__(self, lexical_threshold: float = 0.8, strong_partial: float = 0.7, strong_similarity: float = 0.8,
                 partial: float = 0.6, partial_similarity: float = 0.5, model_path: str | None = None,
                 device: str = "cpu", batch_size: int = 128):
        if not partial <= strong_partial <= lexical_threshold:
            raise ValueError("need partial <= strong_partial <= lexical_threshold")
        self.lexical = LexicalVerifier(threshold=lexical_threshold)
        self.embedding = EmbeddingVerifier(threshold=strong_similarity, model_path=model_path, device=device,
                                           batch_size=batch_size)
        self.strong_partial = strong_partial
        self.strong_similarity = strong_similarity
        self.partial = partial
        self.partial_similarity = partial_similarity

    def judge(self, answers: list[str], references: list[str], questions: list[str | None]) -> list[VerifyResult]:
        results = self.lexical.judge(answers, references, questions)
        partials: dict[int, tuple[float, bool]] = {}
        for i, r in enumerate(results):
            if r.correct:
                continue
            s = lexical_score(answers[i], references[i], questions[i], min_recall=self.partial)
            if s.score >= self.strong_partial or (s.score >= self.partial and not s.short):
                partials[i] = (s.score, s.short)
        if not partials:
            return results
        pending = sorted(partials)
        sims = self.embedding.similarities([answers[i] for i in pending], [references[i] for i in pending])
        for i, sim in zip(pending, sims, strict=True):
            share, short = partials[i]
            if share >= self.strong_partial and sim >= self.strong_similarity:
                rule = f"{share:.2f} of the reference's words, embedding {sim:.3f} >= {self.strong_similarity}"
            elif not short and share >= self.partial and sim >= self.partial_similarity:
                rule = f"{share:.2f} of the reference's words in a long answer, embedding {sim:.3f} >= " \
                       f"{self.partial_similarity}"
            else:
                results[i] = VerifyResult(False, results[i].score, f"{results[i].reason}; embedding {sim:.3f}")
                continue
            results[i] = VerifyResult(True, share, f"combined: {rule}")
        return results
