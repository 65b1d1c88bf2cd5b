"""The strategy search of HuatuoGPT-o1 (METHOD.md section 3), as a small state machine per problem.

Per problem: an initial chain of steps (Inner Thinking..., Final Conclusion, Verification); the verifier judges only
the Final Conclusion against the ground truth. While it fails, a refinement round samples a strategy (Backtracking,
Exploring New Paths, Verification, Correction; Backtracking not in an attempt's first round), shows the chain without
its last Verification and splices the continuation in, up to ``max_depth`` rounds. Then a new attempt, up to
``max_attempts``: ``new_attempt: regenerate`` writes a new initial chain (the paper's Algorithm 1), ``restart``
goes back to the first one (the released code). Then, if ``label_hint`` is on (the released code's fallback, not in
the paper), one continuation is written knowing the answer; its trajectory is flagged ``label_hinted`` and is still
checked by the verifier.

Problems advance in lockstep: each round gathers one request per active problem into one client batch (many in
flight against a server, batched generation locally), then verifies all new conclusions at once. Requests are
deterministic (strategies drawn from a seeded generator per problem, attempt and round), so a re-run is answered
from the cache and an interrupted search resumes where it stopped.

Formats: ``json`` (the paper's {"CoT": [...]}) and ``headers`` ("### Inner Thinking: title" ...) ask for a whole
chain per request and re-ask on invalid output; ``scaffold`` (for small models that follow no format) builds the
structure in code and asks for one piece at a time: the thinking, then a one-sentence conclusion (which the verifier
judges like any other). Its prose is in prompts/scaffold_*.txt: the two requests, the pieces that fill them in later
rounds (the earlier reasoning, the strategy or the answer) and the two fixed Verification steps.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from typing import Any

from medreason.config import SearchConfig
from medreason.llm.structured import ask_parsed, split_prompt
from medreason.prompts import load_prompt
from medreason.search.steps import CONCLUSION, THINK, VERIFY, Step, final_conclusion, parse_and_check, \
    stream_of_search, to_headers, to_json

BACKTRACKING = "Backtracking"


def strategies() -> dict[str, str]:
    """Strategy name -> instruction, from prompts/search_strategies.txt ("Name: instruction" per line)."""
    lines = load_prompt("search_strategies").text.strip().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


def scaffold_piece(name: str, **fields: str) -> str:
    """A piece of the scaffold's prose (prompts/scaffold_<name>.txt, without its final newline), fields filled."""
    return load_prompt(f"scaffold_{name}").text.strip().format(**fields)


@dataclass
class State:
    problem: dict[str, Any]
    chain: list[Step] = field(default_factory=list)
    first_chain: list[Step] = field(default_factory=list)  # the attempt-1 initial chain (restart goes back to it)
    attempt: int = 0
    depth: int = 0  # refinement rounds done in this attempt
    kind: str = "init"  # the next round: init | strategy | label
    status: str = "active"  # active | verified | failed
    label_hinted: bool = False
    reason: str | None = None  # why it failed
    rounds: list[dict[str, Any]] = field(default_factory=list)
    tokens: int = 0
    cost: float = 0.0


class Search:
    def __init__(self, cfg: SearchConfig, teacher, verifier):
        self.cfg, self.teacher, self.verifier = cfg, teacher, verifier
        self.strategies = strategies()

    # ---- one round for every active problem ------------------------------------------------------------------
    def run(self, problems: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One trajectory record per problem ({id, mcq_id, question, ground_truth})."""
        from tqdm import tqdm

        states = [State(p) for p in problems]
        with tqdm(total=len(states), desc="search", unit="problem") as bar:
            while active := [s for s in states if s.status == "active"]:
                strategy = {id(s): self._strategy(s) for s in active if s.kind == "strategy"}
                results = self._ask(active, strategy)
                done = [(s, steps) for s, (steps, _) in zip(active, results) if steps is not None]
                verdicts = self.verifier.verify_many(
                    [(final_conclusion(steps), s.problem["ground_truth"], s.problem["question"]) for s, steps in done])
                verdict = {id(s): v for (s, _), v in zip(done, verdicts)}
                for s, (steps, error) in zip(active, results):
                    self._advance(s, steps, error, verdict.get(id(s)), strategy.get(id(s)))
                    bar.update(s.status != "active")
                ok = sum(s.status == "verified" for s in states)
                bar.set_postfix(verified=ok, failed=sum(s.status == "failed" for s in states), refresh=False)
        return [self._record(s) for s in states]

    def _strategy(self, s: State) -> str:
        names = [n for n in self.strategies if s.depth > 0 or n != BACKTRACKING]
        return random.Random(f"{self.cfg.seed}:{s.problem['id']}:{s.attempt}:{s.depth}").choice(names)

    def _ask(self, states: list[State], strategy: dict[int, str]) -> list[tuple[list[Step] | None, str | None]]:
        """New steps (an initial chain or a continuation) per state, or None and why. Each round of each attempt
        samples with its own seed, so a regenerated chain or a repeated round is a new sample (and a new cache key),
        not the earlier answer again."""
        ask = self._ask_scaffold if self.cfg.format == "scaffold" else self._ask_structured
        results: list[tuple[list[Step] | None, str | None]] = [(None, "not asked")] * len(states)
        for attempt, depth in sorted({(s.attempt, s.depth) for s in states}):
            idx = [i for i, s in enumerate(states) if (s.attempt, s.depth) == (attempt, depth)]
            seed = self.cfg.seed + 1000 * attempt + depth
            for i, r in zip(idx, ask([states[i] for i in idx], strategy, seed=seed)):
                results[i] = r
        return results

    def _ask_structured(self, states, strategy, seed):
        fmt = load_prompt(f"search_format_{self.cfg.format}").text.strip()
        show = to_json if self.cfg.format == "json" else to_headers
        conversations, kinds = [], []
        templates = {k: split_prompt(f"search_{k if k != 'strategy' else 'refine'}") for k in ("init", "strategy", "label")}
        for s in states:
            template, _, _ = templates[s.kind]
            fields = {"question": s.problem["question"], "format": fmt}
            if s.kind != "init":
                fields["previous"] = show(s.chain[:-1])  # without its last Verification, as the paper shows it
            if s.kind == "strategy":
                fields["strategy"] = self.strategies[strategy[id(s)]][0].lower() + self.strategies[strategy[id(s)]][1:]
            if s.kind == "label":
                fields["answer"] = s.problem["ground_truth"]
            conversations.append([{"role": "user", "content": template.format(**fields)}])
            kinds.append("init" if s.kind == "init" else "continuation")
        # One batch per prompt kind: each has its own version (cache key) and re-ask text.
        results: list[tuple[list[Step] | None, str | None]] = [(None, "not asked")] * len(states)
        for kind, (_, reask, version) in templates.items():
            idx = [i for i, s in enumerate(states) if s.kind == kind]
            if not idx:
                continue
            parsed = ask_parsed(self.teacher, [conversations[i] for i in idx], version,
                                lambda j, text: parse_and_check(text, kinds[idx[j]]), reask, self.cfg.max_asks,
                                desc=f"search {kind}", seed=seed)
            for i, p in zip(idx, parsed):
                self._charge(states[i], p)
                results[i] = (p.value, None) if p.value is not None else (None, self._failure(p))
        return results

    def _ask_scaffold(self, states, strategy, seed):
        think_t, think_reask, think_v = split_prompt("scaffold_think")
        concl_t, concl_reask, concl_v = split_prompt("scaffold_conclude")
        text = lambda i, t: (t.strip(), None) if t.strip() else (None, "empty reply")  # noqa: E731
        prompts = []
        for s in states:
            previous, instruction = "", ""
            if s.kind != "init":  # a block of its own: blank lines around it
                previous = "\n" + scaffold_piece("think_previous", reasoning=stream_of_search(s.chain[:-1])) + "\n"
                instruction = (scaffold_piece("think_strategy", strategy=self.strategies[strategy[id(s)]])
                               if s.kind == "strategy" else
                               scaffold_piece("think_label", answer=s.problem["ground_truth"]))
            prompts.append(think_t.format(question=s.problem["question"], previous=previous, instruction=instruction))
        thoughts = ask_parsed(self.teacher, [[{"role": "user", "content": p}] for p in prompts], think_v, text,
                              think_reask, self.cfg.max_asks, desc="search think", seed=seed)
        ok = [i for i, p in enumerate(thoughts) if p.value is not None]
        conclude = [concl_t.format(question=states[i].problem["question"], reasoning=thoughts[i].value,
                                   hint=scaffold_piece("conclude_hint", answer=states[i].problem["ground_truth"])
                                   if states[i].kind == "label" else "") for i in ok]
        conclusions = ask_parsed(self.teacher, [[{"role": "user", "content": c}] for c in conclude], concl_v, text,
                                 concl_reask, self.cfg.max_asks, desc="search conclude", seed=seed)
        results: list[tuple[list[Step] | None, str | None]] = [(None, self._failure(p)) for p in thoughts]
        for s, p in zip(states, thoughts):
            self._charge(s, p)
        for i, c in zip(ok, conclusions):
            s = states[i]
            self._charge(s, c)
            if c.value is None:
                results[i] = (None, self._failure(c))
                continue
            title = "Reasoning" if s.kind == "init" else strategy.get(id(s), "Reconsidering")
            steps = [Step(THINK, thoughts[i].value, title), Step(CONCLUSION, c.value),
                     Step(VERIFY, scaffold_piece("step_check"))]
            if s.kind != "init":
                steps.insert(0, Step(VERIFY, scaffold_piece("step_doubt", conclusion=final_conclusion(s.chain))))
            results[i] = (steps, None)
        return results

    @staticmethod
    def _failure(parsed) -> str:
        """Why a request gave nothing usable, with the whole last reply."""
        return f"{parsed.reason}" + (f"\n--- last reply ---\n{parsed.raw}" if parsed.raw else "")

    @staticmethod
    def _charge(s: State, parsed) -> None:
        s.tokens += parsed.tokens
        s.cost += parsed.cost

    # ---- the state machine -----------------------------------------------------------------------------------
    def _advance(self, s: State, steps, error, verdict, strategy) -> None:
        kind = s.kind
        s.rounds.append({"attempt": s.attempt + 1, "kind": kind, "strategy": strategy,
                         "steps": [asdict(st) for st in steps] if steps else [], "error": error,
                         "verified": verdict.correct if verdict else None,
                         "verify_reason": verdict.reason if verdict else None})
        if steps is not None:
            s.chain = steps if kind == "init" else s.chain[:-1] + steps
            if kind == "init" and s.attempt == 0:
                s.first_chain = steps
            if kind == "strategy":
                s.depth += 1
        elif kind == "strategy":
            s.depth += 1  # an unusable continuation is a failed round; the chain stays as it was
        else:
            s.depth = self.cfg.max_depth  # no usable initial chain: nothing of this attempt to refine
        if verdict is not None and verdict.correct:
            s.status, s.label_hinted = "verified", kind == "label"
            return
        cfg = self.cfg
        if kind == "label":
            s.status, s.reason = "failed", error or "the label-hinted conclusion did not verify"
        elif s.chain and s.depth < cfg.max_depth:
            s.kind = "strategy"
        elif s.attempt + 1 < cfg.max_attempts and (cfg.new_attempt == "regenerate"
                                                   or (s.first_chain and cfg.max_depth > 0)):
            s.attempt, s.depth = s.attempt + 1, 0
            if cfg.new_attempt == "regenerate":
                s.kind = "init"
            else:
                s.chain, s.kind = list(s.first_chain), "strategy"
        elif cfg.label_hint and s.chain:
            s.kind = "label"
        else:
            s.status = "failed"
            s.reason = error or f"not verified after {s.attempt + 1} attempt(s) of depth {cfg.max_depth}"

    def _record(self, s: State) -> dict[str, Any]:
        p = s.problem
        last_attempt = [r for r in s.rounds if r["attempt"] == s.attempt + 1]
        return {
            "id": p["id"], "mcq_id": p["mcq_id"], "question": p["question"], "ground_truth": p["ground_truth"],
            "status": s.status, "label_hinted": s.label_hinted, "reason": s.reason,
            "attempts": s.attempt + 1, "depth": sum(r["kind"] == "strategy" for r in last_attempt),
            "strategies": [r["strategy"] for r in last_attempt if r["strategy"]],
            "chain": [asdict(st) for st in s.chain], "rounds": s.rounds,
            "tokens": s.tokens, "cost": round(s.cost, 6),
        }


def search_report(trajectories: list[dict[str, Any]]) -> dict[str, Any]:
    """Success rate, attempts and depth, strategy use and success, label hints, parse failures, tokens and cost."""
    from collections import Counter

    n = len(trajectories)
    verified = [t for t in trajectories if t["status"] == "verified"]
    rounds = [r for t in trajectories for r in t["rounds"]]
    used, won = Counter(), Counter()
    for r in rounds:
        if r["kind"] == "strategy":
            used[r["strategy"]] += 1
            won[r["strategy"]] += bool(r["verified"])
    by_kind = Counter(r["kind"] for r in rounds if r["verified"])
    tokens = sum(t["tokens"] for t in trajectories)
    cost = sum(t["cost"] for t in trajectories)
    return {
        "problems": n, "verified": len(verified), "failed": n - len(verified),
        "success_rate": round(len(verified) / n, 4) if n else None,
        "label_hinted": sum(t["label_hinted"] for t in verified),
        "label_hinted_share": round(sum(t["label_hinted"] for t in verified) / len(verified), 4) if verified else None,
        "verified_at": {"init": by_kind["init"], "strategy": by_kind["strategy"], "label": by_kind["label"]},
        "attempts": dict(sorted(Counter(t["attempts"] for t in verified).items())),
        "depth": dict(sorted(Counter(t["depth"] for t in verified).items())),
        "strategies": {s: {"used": used[s], "verified": won[s], "success_rate": round(won[s] / used[s], 4)}
                       for s in sorted(used)},
        "unusable_rounds": sum(r["error"] is not None for r in rounds),
        "rounds": len(rounds),
        "failed_reasons": dict(Counter(t["reason"].split(":")[0] for t in trajectories if t["reason"])),
        "tokens": tokens, "cost": round(cost, 6),
        "tokens_per_verified": round(tokens / len(verified)) if verified else None,
        "cost_per_verified": round(cost / len(verified), 6) if verified else None,
    }
