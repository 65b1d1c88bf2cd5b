"""The RL reward (METHOD.md section 5): the think-then-answer format, then the reward verifier.

    reward = Reward.from_params(params)                  # verify.reward + rl.reward, offline by default
    reward(completions, ground_truths, questions)        # -> [0.0 | 0.1 | 1.0, ...]
    trainer = GRPOTrainer(..., reward_funcs=reward.trl_function())   # TRL's signature

A completion without exactly one ``## Thinking`` then one ``## Final Response`` earns ``unformatted`` (0.0); a formatted
one earns ``correct`` (1.0) when the verifier says its final response commits to the ground truth, else ``wrong`` (0.1).
Whatever keeps the verifier from saying "correct" (an unreadable judge reply, a guard objection: hedges, lists of
candidates, a negated reference, words addressed to the grader) earns ``wrong``, never more and never the format value:
a formatted answer is paid for its format, only a verified one for its content.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from medreason.config import RewardValues
from medreason.format import final_response
from medreason.verify import Verifier, VerifyResult


@dataclass(frozen=True)
class Scored:
    reward: float
    formatted: bool
    correct: bool
    reason: str  # the verifier's reason, or why the format failed


class Reward:
    def __init__(self, verifier: Verifier, values: RewardValues = RewardValues()):
        self.verifier = verifier
        self.values = values

    @classmethod
    def from_params(cls, params, cache_path: str | Path = "data/rl/cache/judge.sqlite") -> Reward:
        """The reward of params: ``verify.reward`` chooses the verifier (an llm_judge caches its replies at
        ``cache_path``), ``rl.reward`` the values."""
        from medreason.verify import role_verifier

        Path(cache_path).parent.mkdir(parents=True, exist_ok=True)
        return cls(role_verifier("reward", params.verify, params.llm, str(cache_path)), params.rl.reward)

    def score(self, completions: Sequence[str], ground_truths: Sequence[str],
              questions: Sequence[str | None] | None = None) -> list[Scored]:
        """Each completion's reward with what decided it."""
        if len(completions) != len(ground_truths) or (questions is not None and len(questions) != len(completions)):
            raise ValueError("completions, ground_truths (and questions) must have the same length")
        questions = list(questions) if questions is not None else [None] * len(completions)
        answers = [final_response(c or "") for c in completions]
        todo = [i for i, a in enumerate(answers) if a is not None]
        verdicts: dict[int, VerifyResult] = dict(zip(todo, self.verifier.verify_many(
            [(answers[i], ground_truths[i], questions[i]) for i in todo]), strict=True)) if todo else {}
        out = []
        for i in range(len(completions)):
            if i not in verdicts:
                out.append(Scored(self.values.unformatted, False, False, "format: not one ## Thinking then one "
                                                                          "## Final Response"))
                continue
            v = verdicts[i]
            out.append(Scored(self.values.correct if v.correct else self.values.wrong, True, v.correct, v.reason))
        return out

    def __call__(self, completions: Sequence[str], ground_truths: Sequence[str],
                 questions: Sequence[str | None] | None = None) -> list[float]:
        return [s.reward for s in self.score(completions, ground_truths, questions)]

    def trl_function(self):
        """The reward as a TRL reward function: ``f(prompts, completions, ground_truth, question=None, **kw)``, the
        dataset's ``ground_truth`` and ``question`` columns passed by TRL as keyword arguments."""

        def medreason_reward(prompts: list[Any], completions: list[Any], ground_truth: list[str],
                             question: list[str] | None = None, **_: Any) -> list[float]:
            return self(completion_texts(completions), ground_truth, question)

        return medreason_reward


def completion_texts(completions: list[Any]) -> list[str]:
    """TRL passes plain strings, or (conversational datasets) a list of messages per completion."""
    return [c if isinstance(c, str) else "".join(m.get("content", "") for m in c) for c in completions]
