"""Stage 1 SFT: the think-then-answer format, chat templates and loss masks, the over-length rule, a real short
training run on the prepared model, and resume from a checkpoint."""

import json
from dataclasses import replace
from pathlib import Path

import pytest

from medreason.chat_template import has_generation_markers, renders_like, training_template
from medreason.config import SFTConfig
from medreason.format import final_response, follows_format, target_text
from medreason.train.sft_data import build_examples, n_tokens

from conftest import shared_file

# Llama-3's stock template (the 3.0 form): headers, <|eot_id|>, bos first, no generation markers.
LLAMA3 = ("{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' "
          "+ message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}"
          "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
          "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}")
TINY = SFTConfig(learning_rate=1e-4, epochs=2, global_batch_size=2, per_device_batch_size=2, max_length=192,
                 warmup_ratio=0.0, bf16=False, gradient_checkpointing=False, save_steps=1, save_dtype="float32")


def test_format_check():
    assert follows_format(target_text("Vitamin C is needed for collagen.", "Scurvy"))
    assert final_response(target_text("x", " Scurvy \n")) == "Scurvy"
    assert not follows_format("Scurvy")
    assert not follows_format("## Final Response\n\nScurvy\n\n## Thinking\n\nx")  # order
    assert not follows_format("## Thinking\n\nx\n\n## Thinking\n\ny\n\n## Final Response\n\nz")  # twice
    assert not follows_format("## Thinking\n\nx\n\n## Final Response\n\nz\n\n## Final Response\n\nz")
    assert final_response("## Thinking\n\nx") is None


@pytest.fixture(scope="module")
def tokenizer(base_model):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(base_model)


@pytest.fixture(scope="module")
def demo_records():
    return json.loads(shared_file("medqa_demo_processed.json").read_text())


def trained_text(trainer, index: int = 0) -> tuple[str, str]:
    """What TRL trains on for example ``index``: (the whole text, the tokens whose labels are not -100)."""
    batch = trainer.data_collator([trainer.train_dataset[index]])
    ids, labels = batch["input_ids"][0].tolist(), batch["labels"][0].tolist()
    tok = trainer.processing_class
    return tok.decode(ids), tok.decode([i for i, lab in zip(ids, labels) if lab != -100])


def make_trainer(base_model, tokenizer, examples, markers: bool):
    from datasets import Dataset
    from transformers import AutoModelForCausalLM
    from trl import SFTTrainer

    from medreason.train.sft import trl_config

    args = trl_config(TINY, "/tmp/unused", 1, markers)
    model = AutoModelForCausalLM.from_pretrained(base_model)
    return SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(examples), processing_class=tokenizer)


def test_loss_mask_is_exactly_the_assistant_turn_and_its_end_of_turn_token(base_model, tokenizer):
    template, how = training_template(tokenizer)
    assert how.startswith("stock")  # models/base already carries the derived ChatML template
    record = {"Question": "What causes scurvy?", "Complex_CoT": "Collagen needs vitamin C.", "Response": "Vitamin C lack"}
    examples, report = build_examples([record], tokenizer, template, max_length=512)
    assert set(examples[0]) == {"messages"} and report["loss_mask"].startswith("assistant turn")
    whole, trained = trained_text(make_trainer(base_model, tokenizer, examples, markers=True))
    assert trained == target_text("Collagen needs vitamin C.", "Vitamin C lack") + "<|im_end|>"
    assert whole.endswith("<|im_start|>assistant\n" + trained + "\n") and "What causes scurvy?" in whole


def test_a_template_without_known_markers_trains_on_the_completion(base_model, tokenizer):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(base_model)
    tok.chat_template = "{% for m in messages %}{{ m['role'] }}:{{ bos_token }}{{ m['content'] }}{{ eos_token }}" \
                        "{% endfor %}{% if add_generation_prompt %}assistant:{{ bos_token }}{% endif %}"
    template, how = training_template(tok)
    assert template is None and how.startswith("unknown template family")
    record = {"Question": "Q?", "Complex_CoT": "because", "Response": "A"}
    examples, report = build_examples([record], tok, template, max_length=512)
    assert set(examples[0]) == {"prompt", "completion"} and report["loss_mask"].startswith("completion")
    whole, trained = trained_text(make_trainer(base_model, tok, examples, markers=False))
    assert trained == target_text("because", "A") + tok.eos_token and "Q?" not in trained


def test_llama3_headers_get_a_derived_template_with_markers(tokenizer, base_model):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(base_model)
    tok.chat_template = LLAMA3
    template, how = training_template(tok)
    assert how == "derived: Llama-3 header rendering plus generation markers"
    assert has_generation_markers(template) and renders_like(tok, template)
    conv = [{"role": "user", "content": "Q?"}, {"role": "assistant", "content": target_text("why", "A")}]
    enc = tok.apply_chat_template(conv, tokenize=True, return_dict=True, return_assistant_tokens_mask=True,
                                  chat_template=template)
    trained = tok.decode([i for i, m in zip(enc["input_ids"], enc["assistant_masks"]) if m])
    assert trained == target_text("why", "A") + "<|eot_id|>"


def test_overlong_examples_lose_the_end_of_their_thinking_never_the_question_or_answer(tokenizer, demo_records):
    template, _ = training_template(tokenizer)
    records = demo_records[:6]
    full = [n_tokens(tokenizer, {"messages": [{"role": "user", "content": r["Question"]},
                                              {"role": "assistant", "content": target_text(r["Complex_CoT"],
                                                                                           r["Response"])}]},
                     template) for r in records]
    limit = sorted(full)[2]  # half of them are too long
    examples, report = build_examples(records, tokenizer, template, max_length=limit)
    assert report["examples"] == 6 and report["truncated"] == sum(n > limit for n in full) == 3
    assert report["thinking_tokens_cut"] > 0 and report["max_tokens"] <= limit
    for r, ex in zip(records, examples):
        user, assistant = ex["messages"]
        assert user["content"] == r["Question"] and assistant["content"].endswith("## Final Response\n\n" + r["Response"])
        thinking = assistant["content"].split("\n\n## Final Response")[0].removeprefix("## Thinking\n\n")
        assert r["Complex_CoT"].startswith(thinking) and n_tokens(tokenizer, ex, template) <= limit
    dropped, report = build_examples(records, tokenizer, template, max_length=limit, overlong="drop")
    assert len(dropped) == 3 and report["dropped"] == {"too_long": 3}
    long_question = [{**records[0], "Question": records[0]["Question"] * 20}]
    assert build_examples(long_question, tokenizer, template, max_length=limit)[1]["dropped"] == \
        {"too_long_without_thinking": 1}


@pytest.fixture(scope="module")
def tiny_examples(tokenizer, demo_records):
    template, _ = training_template(tokenizer)
    # The four records with the shortest question and response: their thinking is cut to fit 192 tokens.
    short = sorted(demo_records, key=lambda r: len(r["Question"]) + len(r["Response"]))[:4]
    examples, report = build_examples(short, tokenizer, template, max_length=TINY.max_length)
    assert report["examples"] == 4
    return examples, template


@pytest.fixture(scope="module")
def reference_run(base_model, tiny_examples, tmp_path_factory):
    from medreason.tracking import CurveLogger
    from medreason.train.sft import CURVE_NAMES, train_sft

    examples, template = tiny_examples
    out = tmp_path_factory.mktemp("sft")
    curve = CurveLogger(CURVE_NAMES)
    summary = train_sft(examples, base_model, out / "model", out / "ckpt", TINY, template, "data-1", curve=curve)
    return out, {**summary, "curve": curve.rows}


@pytest.mark.slow
def test_a_short_real_run_lowers_the_loss_and_saves_a_model(reference_run, base_model):
    from transformers import AutoModelForCausalLM

    out, summary = reference_run
    curve = summary["curve"]
    assert summary["global_step"] == summary["max_steps"] == 4 and summary["resumed_from"] is None
    assert [p.name for p in (out / "ckpt").iterdir()] == ["fingerprint.json"]  # nothing else: the out hashes the same
    assert [row["step"] for row in curve] == [1, 2, 3, 4]
    assert curve[-1]["loss"] < curve[0]["loss"] and all(row["tokens_per_s"] > 0 for row in curve)
    model = AutoModelForCausalLM.from_pretrained(out / "model")
    base = AutoModelForCausalLM.from_pretrained(base_model)
    assert str(model.dtype) == "torch.float32"
    changed = (model.model.layers[0].mlp.down_proj.weight - base.model.layers[0].mlp.down_proj.weight.float())
    assert changed.abs().max() > 0
    assert (out / "model" / "chat_template.jinja").read_text().count("generation") >= 2


def interrupt_at(step):
    """A callback that stops training like Ctrl-C at the end of ``step`` (before that step's checkpoint)."""
    from transformers import TrainerCallback

    class Interrupt(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == step:
                raise KeyboardInterrupt

    return Interrupt()


@pytest.mark.slow
def test_an_interrupted_run_resumes_from_its_last_checkpoint_and_ends_where_an_uninterrupted_one_does(
        reference_run, base_model, tiny_examples, tmp_path, monkeypatch, mlflow_store):
    import mlflow

    from medreason.tracking import CurveLogger, stage_run
    from medreason.train.sft import CURVE_NAMES, train_sft

    examples, template = tiny_examples
    _, reference = reference_run
    ckpt = tmp_path / "ckpt"
    with pytest.raises(KeyboardInterrupt):
        train_sft(examples, base_model, tmp_path / "model", ckpt, TINY, template, "data-1",
                  callbacks=(interrupt_at(3),))
    # Step 3 ended but its checkpoint was not written; one being written when killed has no trainer_state.json.
    (ckpt / "checkpoint-3").mkdir()
    assert sorted(p.name for p in ckpt.glob("checkpoint-*")) == ["checkpoint-1", "checkpoint-2", "checkpoint-3"]
    monkeypatch.chdir(tmp_path)
    curve = CurveLogger(CURVE_NAMES)
    with stage_run("sft") as run:
        resumed = train_sft(examples, base_model, tmp_path / "model", ckpt, TINY, template, "data-1", curve=curve)
    resumed["curve"] = curve.rows
    assert resumed["resumed_from"] == "checkpoint-2"
    # The resumed run's MLflow curve has the restored steps too, each once.
    history = mlflow.MlflowClient(mlflow_store).get_metric_history(run.info.run_id, "train.loss")
    assert [(m.step, m.value) for m in history] == [(row["step"], row["loss"]) for row in resumed["curve"]]
    assert resumed["global_step"] == reference["global_step"] == 4
    # The curve is whole: steps 1-2 from the checkpoint's log history, 3-4 trained again, as in the reference run.
    assert [row["step"] for row in resumed["curve"]] == [1, 2, 3, 4]
    for mine, theirs in zip(resumed["curve"], reference["curve"]):
        assert mine["loss"] == pytest.approx(theirs["loss"], rel=1e-4)
    assert list(ckpt.glob("checkpoint-*")) == []  # finished: a re-run trains again instead of resuming at the end


def test_the_fingerprint_covers_what_is_trained(tiny_examples):
    from medreason.train.sft import sft_fingerprint

    examples, template = tiny_examples
    mine = sft_fingerprint(examples, TINY, template, 1, "base")
    assert sft_fingerprint(examples, replace(TINY, save_steps=7, compliance=replace(TINY.compliance, batch_size=1)),
                           template, 1, "base") == mine  # where and how often to save, evaluation: not training
    for changed in (sft_fingerprint(examples[:3], TINY, template, 1, "base"),
                    sft_fingerprint(examples, replace(TINY, seed=1), template, 1, "base"),
                    sft_fingerprint(examples, TINY, template, 2, "base"),
                    sft_fingerprint(examples, TINY, template, 1, "other base")):
        assert changed != mine


def test_checkpoints_of_another_configuration_and_interrupted_ones_are_cleared(tmp_path):
    from medreason.train.checkpoints import clear_checkpoints, fingerprint, prepare_checkpoints

    mine, other = fingerprint({"lr": 1e-5}, "base"), fingerprint({"lr": 2e-5}, "base")
    ckpt = tmp_path / "ckpt"
    assert prepare_checkpoints(ckpt, mine) is None
    for step in (5, 10):
        (ckpt / f"checkpoint-{step}").mkdir()
        (ckpt / f"checkpoint-{step}" / "trainer_state.json").write_text("{}")
    (ckpt / "checkpoint-15").mkdir()
    (ckpt / "checkpoint-15" / "trainer_state.json").write_text('{"global_st')  # killed while writing it
    assert prepare_checkpoints(ckpt, mine) == str(ckpt / "checkpoint-10")
    assert sorted(p.name for p in ckpt.glob("checkpoint-*")) == ["checkpoint-10", "checkpoint-5"]
    # Another loop's state file: checkpoint-10 lacks it, so only checkpoint-5 counts.
    (ckpt / "checkpoint-5" / "loop_state.json").write_text("{}")
    assert prepare_checkpoints(ckpt, mine, state_file="loop_state.json") == str(ckpt / "checkpoint-5")
    assert prepare_checkpoints(ckpt, other) is None
    assert list(ckpt.glob("checkpoint-*")) == []
    (ckpt / "checkpoint-1").mkdir()
    clear_checkpoints(ckpt)
    assert list(ckpt.glob("checkpoint-*")) == [] and (ckpt / "fingerprint.json").is_file()


def test_gradient_accumulation_keeps_the_global_batch():
    from medreason.train.sft import gradient_accumulation

    paper = SFTConfig()
    assert gradient_accumulation(paper, 8) == 8 and gradient_accumulation(paper, 1) == 64
    with pytest.raises(ValueError, match="not a multiple"):
        gradient_accumulation(paper, 3)


@pytest.mark.parametrize("name", ["cpu", "gpu", "multi_gpu", "deepspeed_zero3_offload"])
def test_accelerate_configs_load(name):
    from accelerate.commands.config.config_args import load_config_from_file

    config = load_config_from_file(str(Path(__file__).parents[1] / "configs" / "accelerate" / f"{name}.yaml"))
    assert config.num_processes >= 1
    if name == "deepspeed_zero3_offload":
        assert config.deepspeed_config["zero_stage"] == 3 and config.deepspeed_config["offload_param_device"] == "cpu"
