"""Stage 2 through TRL's GRPO and RLOO trainers (train/rl/trl_algos.py): how params ``rl`` reach TRL's configs, a
short real GRPO run that raises a reward the small model can learn, the rollouts record, an RLOO run, and resume
from a checkpoint."""

from dataclasses import replace

import pytest

from medreason.config import RewardValues, RLConfig
from medreason.train.rl.reward import Reward, Scored

QUESTIONS = ["What organ pumps blood?", "How many legs has a spider?", "Why do we sleep?",
             "What is the capital of France?"]
ROWS = [{"id": f"q{i}", "mcq_id": f"m{i}", "question": q, "ground_truth": "x"} for i, q in enumerate(QUESTIONS)]
LONG = {"id": "long", "mcq_id": "long", "question": "Why? " * 60, "ground_truth": "x"}  # over max_prompt_length
HELDOUT = [{"id": "h0", "mcq_id": "h0", "question": "What is a fever?", "ground_truth": "x"}]

# Every update samples all four questions twice (batch 8, num_generations 2): one optimizer step of 8 completions.
# Completions of 4 tokens are enough for the reward below. lr 1e-4 raised it under each of seeds 1, 2 and 3.
TINY = RLConfig(algorithm="grpo", total_episodes=40, batch_size=8, mini_batches=1, per_device_batch_size=8,
                ppo_epochs=1, learning_rate=1e-4, warmup_ratio=0.0, lr_scheduler="constant", kl_coef=0.03,
                temperature=1.0, response_length=4, max_prompt_length=64, rollout_batch_size=8,
                pad_token="<|endoftext|>", num_generations=2, eval_every=2, eval_max_new_tokens=4, save_steps=100,
                bf16=False, gradient_checkpointing=False, seed=3, save_dtype="float32")


class OpensWithThe(Reward):
    """A reward models/base can raise in a few updates (it never writes our format): 1 for a reply that opens with
    "The" (about a third of its samples on QUESTIONS), else 0. Reward's interface: score, __call__, trl_function."""

    def __init__(self):
        self.values = RewardValues()
        self.calls = 0

    def score(self, completions, ground_truths, questions=None):
        self.calls += 1
        return [Scored(float(c.strip().startswith("The")), True, c.strip().startswith("The"), "opens with The")
                for c in completions]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """On 2 shared cores, torch's 2 spinning threads ran the small model ~6x slower than 1 thread."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def curves():
    from medreason.tracking import CurveLogger
    from medreason.train.rl.heldout import HELDOUT_NAMES
    from medreason.train.rl.trl_algos import CURVE_NAMES

    return CurveLogger(CURVE_NAMES), CurveLogger(HELDOUT_NAMES, prefix="heldout")


def test_params_reach_trl_configs(tmp_path):
    from medreason.train.rl.trl_algos import trl_config

    cfg = replace(TINY, batch_size=16, mini_batches=2, per_device_batch_size=2, ppo_epochs=3, num_generations=4,
                  total_episodes=64, kl_coef=0.05, clip_range=0.1, scale_rewards="group", top_k=0, save_steps=2)
    grpo = trl_config("grpo", cfg, tmp_path, num_processes=1)
    assert (grpo.scale_rewards, grpo.beta, grpo.num_generations, grpo.epsilon) == ("group", 0.05, 4, 0.1)
    assert (grpo.temperature, grpo.top_k, grpo.max_completion_length, grpo.loss_type) == (1.0, 0, 4, "dapo")
    # An update: 16 completions sampled once, then 3 epochs of 2 optimizer steps of 8 (micro-batches of 2, 4 of them).
    assert (grpo.generation_batch_size, grpo.steps_per_generation, grpo.num_iterations) == (16, 8, 3)
    assert (grpo.per_device_train_batch_size, grpo.gradient_accumulation_steps) == (2, 4)
    assert (grpo.max_steps, grpo.logging_steps, grpo.save_steps) == (4 * 6, 6, 12)
    assert (grpo.learning_rate, grpo.lr_scheduler_type, grpo.report_to, grpo.use_cpu) == (1e-4, "constant", [], True)
    assert not grpo.activation_checkpointing and grpo.disable_dropout
    rloo = trl_config("rloo", replace(cfg, num_generations=2), tmp_path, num_processes=1)
    assert (type(rloo).__name__, rloo.beta, rloo.num_generations, rloo.num_iterations) == ("RLOOConfig", 0.05, 2, 3)
    assert rloo.gradient_accumulation_steps == 4 and not hasattr(rloo, "scale_rewards")
    with pytest.raises(ValueError, match="not a multiple of per_device_batch_size 2 x 3 processes"):
        trl_config("grpo", cfg, tmp_path, num_processes=3)
    with pytest.raises(ValueError, match="algorithm 'ppo'"):
        trl_config("ppo", cfg, tmp_path, num_processes=1)


def test_pad_must_differ_from_eos(base_model):
    from transformers import AutoTokenizer

    from medreason.train.rl.ppo import set_pad_token

    tok = AutoTokenizer.from_pretrained(base_model)
    assert tok.pad_token == tok.eos_token == "<|im_end|>"  # SmolLM2's, as prepared
    with pytest.raises(ValueError, match="rl.pad_token"):
        set_pad_token(tok, replace(TINY, pad_token=None))
    with pytest.raises(ValueError, match="rl.pad_token '<not a token>'"):
        set_pad_token(tok, replace(TINY, pad_token="<not a token>"))
    set_pad_token(tok, TINY)
    assert tok.pad_token == "<|endoftext|>" and tok.pad_token_id != tok.eos_token_id


@pytest.fixture(scope="module")
def grpo_run(base_model, tmp_path_factory):
    from medreason.train.rl.trl_algos import train_trl

    out = tmp_path_factory.mktemp("grpo")
    curve, heldout_curve = curves()
    reward = OpensWithThe()
    summary = train_trl("grpo", ROWS + [LONG], base_model, out / "model", out / "ckpt", TINY, reward,
                        heldout=HELDOUT, curve=curve, heldout_curve=heldout_curve, base_fingerprint="base-1",
                        rollouts_path=out / "rollouts.jsonl")
    return out, {**summary, "curve": curve.rows, "heldout_curve": heldout_curve.rows, "reward_calls": reward.calls}


@pytest.mark.slow
def test_grpo_raises_a_learnable_reward_and_saves_the_policy(grpo_run, base_model):
    import json

    from transformers import AutoModelForCausalLM, AutoTokenizer

    out, summary = grpo_run
    curve = summary["curve"]
    assert (summary["global_step"], summary["updates"], summary["episodes"]) == (5, 5, 40)
    assert (summary["prompts"], summary["prompts_too_long"], summary["resumed_from"]) == (4, 1, None)
    assert summary["reward_calls"] == 5 + 4  # one rollout batch per update, held-out at updates 0, 2, 4 and 5
    assert [row["step"] for row in curve] == [1, 2, 3, 4, 5]
    assert [row["episodes"] for row in curve] == [8, 16, 24, 32, 40]
    rewards = [row["mean_reward"] for row in curve]
    assert sum(rewards[-2:]) / 2 > sum(rewards[:2]) / 2, rewards  # seed 3: 0.44 -> 0.94 (seeds 1, 2: +0.13, +0.31)
    assert all(row["correct"] == row["mean_reward"] and row["formatted"] == 1.0 for row in curve)  # our Scored
    assert curve[0]["kl"] == 0.0 and curve[-1]["kl"] > 0  # the reference model is the starting policy
    assert all(row["entropy"] > 0 and row["response_length"] <= 4 and 0 <= row["eos"] <= 1 and row["seconds"] > 0
               for row in curve)
    assert "seconds" not in summary["train"] and summary["train"]["mean_reward"] == rewards[-1]
    rollouts = [json.loads(line) for line in (out / "rollouts.jsonl").read_text().splitlines()]
    assert [r["update"] for r in rollouts] == [u for u in range(5) for _ in range(8)]
    assert {r["id"] for r in rollouts} == {r["id"] for r in ROWS}  # never the long one
    for u in range(5):
        assert sum(r["reward"] for r in rollouts if r["update"] == u) / 8 == rewards[u]
    assert [row["step"] for row in summary["heldout_curve"]] == [0, 2, 4, 5]
    assert summary["heldout"] == {k: v for k, v in summary["heldout_curve"][-1].items() if k != "step"}
    assert summary["heldout"]["response_length"] <= 4
    assert [p.name for p in (out / "ckpt").iterdir()] == ["fingerprint.json"]

    tok = AutoTokenizer.from_pretrained(out / "model")
    assert tok.pad_token == "<|endoftext|>" and tok.eos_token == "<|im_end|>"
    model = AutoModelForCausalLM.from_pretrained(out / "model")
    base = AutoModelForCausalLM.from_pretrained(base_model)
    assert str(model.dtype) == "torch.float32"
    changed = model.model.layers[0].mlp.down_proj.weight - base.model.layers[0].mlp.down_proj.weight.float()
    assert changed.abs().max() > 0


@pytest.mark.slow
def test_rloo_runs_epochs_of_mini_batches_and_writes_a_model(base_model, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM

    from medreason.train.rl.trl_algos import train_trl

    # 2 updates, each 2 epochs of 2 optimizer steps of 4 completions (2 per micro-batch): 8 optimizer steps.
    cfg = replace(TINY, algorithm="rloo", total_episodes=16, mini_batches=2, per_device_batch_size=2, ppo_epochs=2,
                  kl_coef=0.05, learning_rate=1e-5, save_dtype="bfloat16")
    curve, _ = curves()
    summary = train_trl("rloo", ROWS, base_model, tmp_path / "model", tmp_path / "ckpt", cfg, OpensWithThe(),
                        curve=curve)
    assert (summary["global_step"], summary["steps_per_update"], summary["updates"]) == (8, 4, 2)
    assert summary["gradient_accumulation"] == 2 and summary["heldout"] == {}
    assert [row["step"] for row in curve.rows] == [1, 2]
    assert all(row["kl"] is not None and row["clipfrac"] is not None for row in curve.rows)
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "model", dtype="auto")
    assert model.dtype == torch.bfloat16
    assert [p.name for p in (tmp_path / "ckpt").iterdir()] == ["fingerprint.json"]


def interrupt_at(step):
    """Stops training like Ctrl-C at the end of ``step`` (before that step's checkpoint)."""
    from transformers import TrainerCallback

    class Interrupt(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == step:
                raise KeyboardInterrupt

    return Interrupt()


@pytest.mark.slow
def test_an_interrupted_run_resumes_and_ends_where_an_uninterrupted_one_does(grpo_run, base_model, tmp_path):
    import json

    from medreason.train.rl.trl_algos import train_trl

    _, reference = grpo_run
    cfg = replace(TINY, save_steps=1)  # where and how often to save: the same run (fingerprint) as the reference
    ckpt = tmp_path / "ckpt"
    with pytest.raises(KeyboardInterrupt):
        train_trl("grpo", ROWS + [LONG], base_model, tmp_path / "model", ckpt, cfg, OpensWithThe(),
                  heldout=HELDOUT, base_fingerprint="base-1", rollouts_path=tmp_path / "rollouts.jsonl",
                  callbacks=(interrupt_at(3),))
    assert sorted(p.name for p in ckpt.glob("checkpoint-*")) == ["checkpoint-1", "checkpoint-2"]
    curve, heldout_curve = curves()
    resumed = train_trl("grpo", ROWS + [LONG], base_model, tmp_path / "model", ckpt, cfg, OpensWithThe(),
                        heldout=HELDOUT, curve=curve, heldout_curve=heldout_curve, base_fingerprint="base-1",
                        rollouts_path=tmp_path / "rollouts.jsonl")
    assert resumed["resumed_from"] == "checkpoint-2"
    assert resumed["global_step"] == reference["global_step"] == 5
    # Whole curves: updates 1-2 (and held-out 0, 2) from the checkpoint's log history, the rest trained again.
    assert [row["step"] for row in curve.rows] == [1, 2, 3, 4, 5]
    untimed = [[{k: v for k, v in row.items() if k != "seconds"} for row in rows[:2]]
               for rows in (curve.rows, reference["curve"])]
    assert untimed[0] == untimed[1]
    assert [row["step"] for row in heldout_curve.rows] == [0, 2, 4, 5]
    assert heldout_curve.rows[:2] == reference["heldout_curve"][:2]
    assert list(ckpt.glob("checkpoint-*")) == []
    # The rollouts of update 3 (index 2), sampled before the interruption, were dropped and sampled again.
    updates = [json.loads(line)["update"] for line in (tmp_path / "rollouts.jsonl").read_text().splitlines()]
    assert updates == [u for u in range(5) for _ in range(8)]


def test_the_fingerprint_covers_what_is_trained():
    from medreason.train.rl.trl_algos import trl_fingerprint

    mine = trl_fingerprint("grpo", ROWS, TINY, 1, "base")
    assert trl_fingerprint("grpo", ROWS, replace(TINY, save_steps=7, eval_every=5, eval_max_new_tokens=9,
                                                 rollout_batch_size=2), 1, "base") == mine
    for changed in (trl_fingerprint("rloo", ROWS, TINY, 1, "base"),
                    trl_fingerprint("grpo", ROWS[:3], TINY, 1, "base"),
                    trl_fingerprint("grpo", ROWS, replace(TINY, seed=1), 1, "base"),
                    trl_fingerprint("grpo", ROWS, TINY, 2, "base"), trl_fingerprint("grpo", ROWS, TINY, 1, "other")):
        assert changed != mine


def test_the_trl_reward_function_logs_shares_records_rollouts_and_penalises_cut_completions(tmp_path):
    import json
    from types import SimpleNamespace

    from medreason.train.rl.trl_algos import reward_function

    logged, rollouts = {}, tmp_path / "rollouts.jsonl"
    f = reward_function(OpensWithThe(), replace(TINY, missing_eos_penalty=0.5), eos_ids={2}, rollouts_file=rollouts)
    texts = ("The a", "A b", "The")
    values = f(prompts=[[]] * 3, completions=[[{"role": "assistant", "content": c}] for c in texts],
               ground_truth=["x"] * 3, question=["q"] * 3, completion_ids=[[5, 2], [5, 6], [5, 6]],
               log_metric=lambda name, value: logged.setdefault(name, value),
               trainer_state=SimpleNamespace(global_step=3), id=["a", "b", "c"], mcq_id=["m", "m", None])
    assert values == [1.0, -0.5, 0.5]  # the last two were cut at response_length (no EOS)
    assert logged == {"medreason/correct": pytest.approx(2 / 3), "medreason/formatted": 1.0}
    records = [json.loads(line) for line in rollouts.read_text().splitlines()]
    assert [(r["update"], r["id"], r["mcq_id"], r["completion"], r["tokens"], r["finished"], r["reward"])
            for r in records] == [(3, "a", "m", "The a", 2, True, 1.0), (3, "b", "m", "A b", 2, False, 0.0),
                                  (3, "c", None, "The", 2, False, 1.0)]  # the reward as scored, before the penalty
