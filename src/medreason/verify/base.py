"""What every verifier shares: the result type, the final-answer cut, and the guard in front of the judging."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Sequence

from medreason.format import final_answer
from medreason.verify import guard


@dataclass(frozen=True)
class VerifyResult:
    correct: bool
    score: float  # the verifier's own measure, higher = more likely correct (share of words, cosine, probability)
    reason: str  # why: the rule that fired, the guard's objection, the judge's failure
    cost: float = 0.0  # money spent on this verdict (LLM judge only)


Item = tuple  # (response, reference, question) or (response, reference)


class Verifier(ABC):
    """Judges whether responses commit to their reference answer.

    ``verify`` and ``verify_many`` cut each response to its final answer and run the guard; what passes goes to
    ``judge(answers, references, questions)`` as one batch, which each verifier implements (and which other
    verifiers may call on answers already cut and guarded).
    """

    name = "verifier"
    guard = True  # run the commitment guard first; load_verifier(..., guard=False) hands every answer to judge()

    def verify(self, response: str, reference: str, question: str | None = None) -> VerifyResult:
        return self.verify_many([(response, reference, question)])[0]

    def verify_many(self, items: Sequence[Item]) -> list[VerifyResult]:
        results: list[VerifyResult | None] = [None] * len(items)
        todo: list[int] = []
        answers, references, questions = [], [], []
        for i, item in enumerate(items):
            response, reference = item[0], item[1]
            question = item[2] if len(item) > 2 else None
            answer = final_answer(response)
            objection = guard.check(answer, reference, question) if self.guard else None
            if objection is not None:
                results[i] = VerifyResult(False, 0.0, f"guard: {objection}")
                continue
            todo.append(i)
            answers.append(answer)
            references.append(reference)
            questions.append(question)
        if todo:
            for i, result in zip(todo, self.judge(answers, references, questions), strict=True):
                results[i] = result
        return results  # type: ignore[return-value]

    @abstractmethod
    def judge(self, answers: list[str], references: list[str], questions: list[str | None]) -> list[VerifyResult]:
        """One result per answer, in order."""
