"""PPO (train/rl/ppo.py): the math against hand-computed examples, and short real runs on SmolLM2-135M."""

from __future__ import annotations

import json
import math

import pytest
import torch

from medreason.train.rl.ppo import (
    batch_tensors,
    episode_rows,
    gae,
    kl_penalty,
    masked_whiten,
    policy_loss,
    score_index,
    token_rewards,
    value_loss,
)


def test_gae_and_returns_match_a_hand_computed_example():
    # One response of 3 tokens, a padded 4th position; gamma 0.9, lambda 0.5.
    rewards = torch.tensor([[0.0, 0.0, 1.0, 5.0]])
    values = torch.tensor([[0.5, 0.2, 0.4, 9.0]])
    mask = torch.tensor([[True, True, True, False]])
    adv, ret = gae(rewards, values, mask, gamma=0.9, lam=0.5)
    d2 = 1.0 + 0.9 * 0.0 - 0.4  # the padded position's value and reward count as 0
    d1 = 0.0 + 0.9 * 0.4 - 0.2
    d0 = 0.0 + 0.9 * 0.2 - 0.5
    a2, a1 = d2, d1 + 0.45 * d2
    a0 = d0 + 0.45 * a1
    assert adv[0].tolist() == pytest.approx([a0, a1, a2, 0.0])
    assert ret[0].tolist() == pytest.approx([a0 + 0.5, a1 + 0.2, a2 + 0.4, 0.0])


def test_gae_with_gamma_and_lambda_one_is_the_return_to_go_minus_the_value():
    rewards = torch.tensor([[0.1, -0.2, 0.3, 1.0]])
    values = torch.tensor([[0.3, 0.1, 0.7, 0.2]])
    mask = torch.ones_like(rewards, dtype=torch.bool)
    adv, ret = gae(rewards, values, mask, 1.0, 1.0)
    to_go = rewards.flip(1).cumsum(1).flip(1)
    assert torch.allclose(ret, to_go) and torch.allclose(adv, to_go - values)


def test_the_score_goes_on_the_last_token_or_one_past_it():
    lengths = torch.tensor([2, 4, 3])
    assert score_index(lengths, 4, "last_token").tolist() == [1, 3, 2]
    # TRL 0.13: one past the last token when the row has room; a full-width (cut) response gets it on its last.
    assert score_index(lengths, 4, "after_last").tolist() == [2, 3, 3]
    kl = torch.full((3, 4), 0.5)
    mask = torch.arange(4)[None, :] < lengths[:, None]
    r = token_rewards(kl, torch.tensor([1.0, 0.1, 0.0]), lengths, 0.2, "last_token", mask)
    assert r[0].tolist() == pytest.approx([-0.1, 0.9, 0.0, 0.0])
    assert r[1].tolist() == pytest.approx([-0.1, -0.1, -0.1, 0.0])
    r = token_rewards(kl, torch.tensor([1.0, 0.1, 0.0]), lengths, 0.2, "after_last", mask)
    assert r[0].tolist() == pytest.approx([-0.1, -0.1, 1.0, 0.0])  # the slot after EOS carries no KL, only the score
    assert r[1].tolist() == pytest.approx([-0.1, -0.1, -0.1, 0.0])


def test_kl_estimators():
    logp, ref = torch.tensor([-1.0, -2.0]), torch.tensor([-1.5, -1.0])
    assert kl_penalty(logp, ref, "k1").tolist() == pytest.approx([0.5, -1.0])
    d = [0.5, -1.0]
    assert kl_penalty(logp, ref, "k3").tolist() == pytest.approx([math.exp(-x) - 1 + x for x in d])
    assert (kl_penalty(logp, ref, "k3") >= 0).all()
    with pytest.raises(ValueError):
        kl_penalty(logp, ref, "k2")


def test_clipped_policy_loss_at_known_ratios():
    old = torch.zeros(1, 3)
    new = torch.log(torch.tensor([[1.5, 0.5, 1.1]]))  # ratios 1.5, 0.5, 1.1
    adv = torch.tensor([[1.0, -1.0, 2.0]])
    mask = torch.ones(1, 3, dtype=torch.bool)
    loss, stats = policy_loss(new, old, adv, mask, clip=0.2)
    # max(-A r, -A clip(r)): token 0 clipped at 1.2 (-1.2), token 1 clipped at 0.8 (0.8), token 2 unclipped (-2.2)
    assert loss.item() == pytest.approx((-1.2 + 0.8 - 2.2) / 3)
    assert stats["clipfrac"] == pytest.approx(2 / 3)
    # a masked token changes nothing
    loss2, _ = policy_loss(torch.cat([new, torch.tensor([[9.0]])], 1), torch.zeros(1, 4),
                           torch.cat([adv, torch.tensor([[7.0]])], 1), torch.tensor([[True, True, True, False]]), 0.2)
    assert loss2.item() == pytest.approx(loss.item())


def test_clipped_value_loss():
    old = torch.tensor([[0.0, 0.0]])
    new = torch.tensor([[0.5, 0.1]])
    ret = torch.tensor([[1.0, 1.0]])
    loss, stats = value_loss(new, old, ret, torch.ones(1, 2, dtype=torch.bool), clip=0.2)
    # token 0: unclipped (0.5-1)^2 = .25, clipped (0.2-1)^2 = .64 -> .64; token 1: (0.1-1)^2 = .81 both ways
    assert loss.item() == pytest.approx(0.5 * (0.64 + 0.81) / 2)
    assert stats["value_clipfrac"] == pytest.approx(0.5)


def test_whitening_ignores_masked_entries():
    x = torch.tensor([[1.0, 2.0, 3.0, 100.0]])
    mask = torch.tensor([[True, True, True, False]])
    w = masked_whiten(x, mask)
    assert w[0, :3].mean().item() == pytest.approx(0.0, abs=1e-6)
    assert w[0, :3].std().item() == pytest.approx(1.0, abs=1e-3)
    assert masked_whiten(x, mask, shift_mean=False)[0, :3].mean().item() == pytest.approx(2.0, abs=1e-5)


def test_batch_layout_left_pads_prompts_and_right_pads_responses():
    ids, mask, tokens, lengths = batch_tensors([[5, 6], [7]], [[1, 2, 3], [4]], pad=0, width=4)
    assert ids.tolist() == [[5, 6, 1, 2, 3, 0], [0, 7, 4, 0, 0, 0]]
    assert mask.tolist() == [[1, 1, 1, 1, 1, 0], [0, 1, 1, 0, 0, 0]]
    assert tokens.tolist() == [[1, 2, 3, 0], [4, 0, 0, 0]] and lengths.tolist() == [3, 1]


def test_episodes_cover_every_prompt_once_per_pass():
    seen = [i for u in range(5) for i in episode_rows(10, u, 4, seed=3)]  # 20 episodes: two passes over 10 prompts
    assert sorted(seen[:10]) == list(range(10)) and sorted(seen[10:]) == list(range(10))
    assert seen[:10] != list(range(10))  # shuffled
    assert episode_rows(10, 2, 4, seed=3) == episode_rows(10, 2, 4, seed=3)


# ---- real runs on SmolLM2-135M ---------------------------------------------------------------------------------
class OpensWithThe:
    """A reward the base model can learn in a few updates: 1.0 for a reply whose first word is "The" (about 60% of
    SmolLM2-135M's sampled replies to QUESTIONS)."""

    def __init__(self, fail_on_call: int | None = None):
        self.calls, self.fail_on_call = 0, fail_on_call

    def score(self, completions, ground_truths, questions=None):
        from medreason.train.rl.reward import Scored

        self.calls += 1
        if self.calls == self.fail_on_call:
            raise RuntimeError("the reward server went away")  # a crash mid-run: the resume test's fault
        hits = [c.split()[:1] == ["The"] for c in completions]
        return [Scored(float(h), True, h, "first word") for h in hits]


QUESTIONS = ["What is the capital of France?", "Name a vitamin.", "What does the heart pump?", "What is 2 + 2?",
             "Which organ filters blood?", "What colour is the sky?", "Name a bone of the arm.", "What is insulin?"]


def _rows(n):
    return [{"id": f"{i:016x}", "mcq_id": f"m{i}", "question": QUESTIONS[i % len(QUESTIONS)], "ground_truth": "x"}
            for i in range(n)]


def _cfg(**kw):
    from medreason.config import RLConfig

    base = dict(total_episodes=16, batch_size=8, mini_batches=1, per_device_batch_size=8, ppo_epochs=1,
                learning_rate=1e-5, warmup_ratio=0.0, lr_scheduler="constant", response_length=24,
                pad_token="<|endoftext|>", eval_every=0, eval_max_new_tokens=24, save_steps=1000, bf16=False,
                gradient_checkpointing=False, save_dtype="float32", rollout_batch_size=8)
    return RLConfig(**{**base, **kw})


def _expected_reward(folder, rows):
    """The exact expected reward of OpensWithThe under the policy: the probability that the first token is "The"
    (sampled rewards of 8 replies are too noisy to show a rise in a few updates)."""
    from medreason.llm.local import LocalModel

    model = LocalModel(folder, dtype="float32")
    logprobs = model.next_token_logprobs(model.chat_prompts([[{"role": "user", "content": r["question"]}]
                                                            for r in rows]))
    return logprobs[:, model.tokenizer.encode("The", add_special_tokens=False)[0]].exp().mean().item()


@pytest.mark.slow
def test_ppo_raises_a_learnable_reward_and_keeps_provenance(base_model, tmp_path):
    from medreason.tracking import CurveLogger
    from medreason.train.rl.heldout import HELDOUT_NAMES
    from medreason.train.rl.ppo import CURVE_NAMES, train_ppo

    curve, held = CurveLogger(CURVE_NAMES), CurveLogger(HELDOUT_NAMES, prefix="heldout")
    cfg = _cfg(total_episodes=24, learning_rate=1e-4, eval_every=2, lam=1.0, ppo_epochs=2)
    rows = _rows(8)
    summary = train_ppo(rows, base_model, tmp_path / "rl", tmp_path / "ckpt", cfg, OpensWithThe(),
                        heldout=_rows(2), curve=curve, heldout_curve=held, rollouts_path=tmp_path / "rollouts.jsonl")
    before, after = _expected_reward(base_model, rows), _expected_reward(tmp_path / "rl", rows)
    assert after > before + 0.15, (before, after, [r["mean_reward"] for r in curve.rows])
    assert summary["updates"] == 3 and [r["step"] for r in curve.rows] == [1, 2, 3]
    assert curve.rows[-1]["kl"] > 0 and 0 <= curve.rows[-1]["clipfrac"] <= 1
    assert [r["step"] for r in held.rows] == [0, 2, 3]
    rollouts = [json.loads(line) for line in (tmp_path / "rollouts.jsonl").read_text().splitlines()]
    assert len(rollouts) == 24 and {r["mcq_id"] for r in rollouts} == {f"m{i}" for i in range(8)}
    for r in rollouts:  # stopped at EOS, or cut at the response length
        assert r["tokens"] <= 24 and (r["finished"] or r["tokens"] == 24)
    assert any(r["finished"] for r in rollouts)
    assert [p.name for p in (tmp_path / "ckpt").iterdir()] == ["fingerprint.json"]  # cleared when finished


@pytest.mark.slow
def test_an_interrupted_ppo_run_resumes_to_the_same_model(base_model, tmp_path):
    from medreason.train.rl.ppo import train_ppo

    cfg = _cfg(total_episodes=6, batch_size=2, per_device_batch_size=1, response_length=12, save_steps=1)
    rows = _rows(4)
    train_ppo(rows, base_model, tmp_path / "whole", tmp_path / "ck1", cfg, OpensWithThe())
    with pytest.raises(RuntimeError, match="went away"):
        train_ppo(rows, base_model, tmp_path / "resumed", tmp_path / "ck2", cfg, OpensWithThe(fail_on_call=3))
    assert sorted(p.name for p in (tmp_path / "ck2").glob("checkpoint-*")) == ["checkpoint-2"]
    summary = train_ppo(rows, base_model, tmp_path / "resumed", tmp_path / "ck2", cfg, OpensWithThe(),
                        rollouts_path=tmp_path / "rollouts.jsonl")
    assert summary["resumed_from"] == 2
    assert len((tmp_path / "rollouts.jsonl").read_text().splitlines()) == 6  # four kept from before the crash, two new
    whole = (tmp_path / "whole" / "model.safetensors").read_bytes()
    assert (tmp_path / "resumed" / "model.safetensors").read_bytes() == whole


def test_pad_must_differ_from_eos(base_model):
    from medreason.train.rl.ppo import load_models

    with pytest.raises(ValueError, match="rl.pad_token"):
        load_models(base_model, _cfg(pad_token=None))
    with pytest.raises(ValueError, match="rl.pad_token"):
        load_models(base_model, _cfg(pad_token="<|not a token|>"))
