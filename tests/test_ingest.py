import json

import orjson
import pytest

from medreason.config import SourceConfig
from medreason.data.ingest import ingest, read_mcq, write_outputs
from medreason.data.schema import content_id

from conftest import ROOT, shared_file

OPTS = {"A": "Aspirin", "B": "Heparin", "C": "Warfarin", "D": "Alteplase"}


def medqa(**over):
    rec = {"question": "A 60-year-old man has chest pain. Which drug reduces mortality?", "answer": "Aspirin",
           "options": dict(OPTS), "meta_info": "step1", "answer_idx": "A"}
    rec.update(over)
    return json.dumps(rec).encode()


def medmcqa(**over):
    rec = {"question": "Drug of choice for absence seizures in a child?", "exp": "Ethosuximide.", "cop": 1,
           "opa": "Ethosuximide", "opb": "Phenytoin", "opc": "Carbamazepine", "opd": "Phenobarbital",
           "subject_name": "Pharmacology", "topic_name": None, "id": "u-1", "choice_type": "single"}
    rec.update(over)
    return json.dumps(rec).encode()


# (line bytes, expected reason or None for kept, "dup" for duplicate)
MEDQA_CASES = [
    (medqa(), None),
    (b'{"question": "Broken JSON", "options": {"A": "x"', "invalid_json"),
    (medqa(question="Caf\u00e9 patient?").replace(b"\\u00e9", b"\xe9"), "invalid_encoding"),
    (b"[1, 2, 3]", "not_an_object"),
    (medqa(question=42), "wrong_type"),
    (medqa(question=""), "empty_question"),
    (medqa(question="   "), "empty_question"),
    (medqa(question=None), "empty_question"),
    (medqa(options={"A": "Aspirin"}, answer_idx="A"), "too_few_options"),
    (medqa(options={"A": "Aspirin", "B": ""}), "empty_option"),
    (medqa(options={"A": "Aspirin", "B": None}), "empty_option"),
    (medqa(options={"A": "Aspirin", "B": 5}), "wrong_type"),
    (medqa(options=["Aspirin", "Heparin"]), "wrong_type"),
    (medqa(options={"1": "Aspirin", "2": "Heparin"}, answer_idx="1"), "bad_option_letter"),
    (medqa(options={"A": "Aspirin", "B": "aspirin "}), "duplicate_options"),
    (medqa(options={k: f"opt {k}" for k in "ABCDEF"}, answer_idx="A", answer="opt A"), "bad_option_letter"),
    (medqa(answer_idx="E"), "answer_not_in_options"),
    (medqa(answer_idx=2), "wrong_type"),
    (medqa(answer="Heparin"), "answer_mismatch"),
    (medqa(answer_idx=None, answer=None), "missing_answer"),
    (medqa(answer_idx=None, answer="Heparin", question="Which drug is an anticoagulant given IV?"), None),
    (medqa(question="  a 60-YEAR-OLD man has chest pain.   Which drug reduces mortality? "), "dup"),
    (b"", "blank"),
]
MEDMCQA_CASES = [
    (medmcqa(), None),
    (medmcqa(cop=5), "answer_not_in_options"),
    (medmcqa(cop=0), "answer_not_in_options"),
    (medmcqa(cop=None), "missing_answer"),
    (medmcqa(cop="2"), "wrong_type"),
    (medmcqa(opd=None), "empty_option"),
    (medmcqa(exp=["not", "text"]), "wrong_type"),
    (b"not json at all", "invalid_json"),
]


def write_lines(path, cases):
    path.write_bytes(b"\n".join(line for line, _ in cases) + b"\n")
    return path


def test_every_malformed_record_is_rejected_with_its_reason_and_counts_reconcile(tmp_path):
    qa = write_lines(tmp_path / "medqa.jsonl", MEDQA_CASES)
    mc = write_lines(tmp_path / "medmcqa.jsonl", MEDMCQA_CASES)
    result = ingest([SourceConfig(format="medqa", path=str(qa)),
                     SourceConfig(format="medmcqa", path=str(mc), cop_base=1)])

    got = {(r["file"], r["line"]): r["reason"] for r in result.rejected}
    for path, cases in ((qa, MEDQA_CASES), (mc, MEDMCQA_CASES)):
        for n, (_, reason) in enumerate(cases, start=1):
            if reason not in (None, "dup", "blank"):
                assert got.pop((str(path), n)) == reason, (path.name, n)
    assert got == {}

    rep = result.report
    assert rep["read"] == rep["kept"] + rep["rejected"] + rep["duplicates"] == len(MEDQA_CASES) - 1 + len(MEDMCQA_CASES)
    assert (rep["kept"], rep["duplicates"]) == (3, 1)
    for s in rep["by_source"].values():
        assert s["read"] == s["kept"] + s["rejected"] + s["duplicates"]
        assert sum(s["by_reason"].values()) == s["rejected"]
    assert sum(rep["by_reason"].values()) == rep["rejected"]
    # The raw text is kept, bad bytes escaped rather than lost.
    enc = next(r for r in result.rejected if r["reason"] == "invalid_encoding")
    assert "\\xe9" in enc["raw"] and enc["line"] == 3
    # The answer letter is derived from the answer text when only the text is given.
    derived = next(r for r in result.rows if r["question"].startswith("Which drug is an anticoagulant"))
    assert derived["answer_idx"] == "B"


def test_medmcqa_cop_base_zero_and_canonical_fields(tmp_path):
    mc = tmp_path / "hf_copy.jsonl"
    mc.write_bytes(medmcqa(cop=3) + b"\n")
    (row,) = ingest([SourceConfig(format="medmcqa", path=str(mc), cop_base=0, split="validation")]).rows
    assert row["answer_idx"] == "D" and row["answer"] == "Phenobarbital"
    assert (row["source"], row["source_id"], row["source_split"]) == ("medmcqa", "u-1", "validation")
    assert (row["subject"], row["explanation"], row["choice_type"]) == ("Pharmacology", "Ethosuximide.", "single")


def test_duplicates_across_sources_are_kept_once_and_conflicts_counted(tmp_path):
    a = tmp_path / "a.jsonl"
    a.write_bytes(medqa() + b"\n")
    # Same question, options in another order and case: the same item, but the answer differs (a data conflict).
    shuffled = {"A": "alteplase", "B": "Warfarin", "C": "Heparin", "D": "Aspirin"}
    b = tmp_path / "b.jsonl"
    b.write_bytes(medqa(options=shuffled, answer_idx="B", answer="Warfarin") + b"\n")
    result = ingest([SourceConfig(format="medqa", path=str(a)), SourceConfig(format="medqa", path=str(b))])
    assert (result.report["kept"], result.report["duplicates"], result.report["duplicate_answer_conflicts"]) == (1, 1, 1)
    assert result.rows[0]["source_id"] == "a.jsonl:1"


def test_ids_are_content_hashes_stable_across_runs_and_machines():
    rid = content_id("Which drug?", {"A": "Aspirin", "B": "Heparin"})
    # Pinned value: the id is sha256 over normalised text, so it must not change with the machine or a release.
    assert rid == "53ba589f483734c3"  # sha256 of "which drug?", "aspirin", "heparin" joined by \x1f, first 16 hex
    assert content_id("  which   DRUG? ", {"A": "heparin", "B": "ASPIRIN"}) == rid
    assert content_id("Which drug?", {"A": "Aspirin", "B": "Heparins"}) != rid
    assert content_id("Which drugs?", {"A": "Aspirin", "B": "Heparin"}) != rid


def test_shipped_sample_ingests_cleanly(tmp_path):
    from medreason.config import load_params

    sources = [SourceConfig(**{**s.__dict__, "path": str(ROOT / s.path)}) for s in load_params(ROOT / "params.yaml").ingest.sources]
    result = ingest(sources)
    assert result.report["rejected"] == 0 and result.report["duplicates"] == 0
    by_source = {r["source"] for r in result.rows}
    assert by_source == {"medqa", "medmcqa"}
    assert sum(r["source"] == "medqa" for r in result.rows) >= 60
    assert sum(r["source"] == "medmcqa" for r in result.rows) >= 60
    assert len({r["subject"] for r in result.rows if r["subject"]}) >= 15  # spread over specialties
    # Running twice gives the same ids in the same order.
    assert [r["id"] for r in ingest(sources).rows] == [r["id"] for r in result.rows]


def test_outputs_round_trip(tmp_path):
    qa = write_lines(tmp_path / "medqa.jsonl", MEDQA_CASES)
    result = ingest([SourceConfig(format="medqa", path=str(qa))])
    write_outputs(result, tmp_path / "mcq")
    df = read_mcq(tmp_path / "mcq" / "mcq.parquet")
    assert list(df["id"]) == [r["id"] for r in result.rows]
    assert df["options"].iloc[0] == OPTS
    assert json.loads(df["extra"].iloc[0]) == {"meta_info": "step1"}
    rejected = [orjson.loads(line) for line in (tmp_path / "mcq" / "rejected.jsonl").read_bytes().splitlines()]
    assert len(rejected) == result.report["rejected"]
    assert {"source", "file", "line", "reason", "detail", "raw"} <= set(rejected[0])


def test_missing_source_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="source file not found: .*nope.jsonl"):
        ingest([SourceConfig(format="medqa", path=str(tmp_path / "nope.jsonl"))])


def test_broken_json_list_keeps_the_good_records_and_rejects_the_tail(tmp_path):
    path = tmp_path / "huatuo.json"
    good = medqa().decode()
    path.write_text(f'[{good}, {medqa(question="Second question about drugs?").decode()}, {{"question": "tru')
    result = ingest([SourceConfig(format="huatuo", path=str(path))])
    assert result.report["kept"] == 2 and result.report["rejected"] == 1
    assert result.rejected[0]["record"] == 3 and result.rejected[0]["reason"] == "invalid_json"


def test_reads_the_real_huatuo_demo_file_and_keeps_its_sft_fields():
    path = shared_file("medqa_demo_processed.json")
    result = ingest([SourceConfig(format="huatuo", path=str(path))])
    rep = result.report
    assert rep["read"] == 137 and rep["read"] == rep["kept"] + rep["rejected"] + rep["duplicates"]
    # One real record lists the same option text twice (A and B: Methoxyflurane): ambiguous, rejected.
    assert rep["by_reason"] == {"duplicate_options": 1}
    assert sorted({len(r["options"]) for r in result.rows}) == [4, 5]
    for r in result.rows:
        assert r["open_question"] and r["ground_truth"] and r["complex_cot"] and r["response"]
        assert r["answer"] == r["options"][r["answer_idx"]]


def test_hf_dataset_from_a_local_folder(tmp_path):
    """The hf format through datasets.load_dataset, on a local dataset folder (the hub path is the same call)."""
    folder = tmp_path / "medmcqa_hf"
    folder.mkdir()
    (folder / "train.jsonl").write_bytes(medmcqa(cop=0) + b"\n" + medmcqa(cop=9, question="Other?") + b"\n")
    result = ingest([SourceConfig(format="hf", path=str(folder), schema="medmcqa", cop_base=0)])
    assert result.report["kept"] == 1 and result.rejected[0]["reason"] == "answer_not_in_options"
    assert result.rows[0]["answer"] == "Ethosuximide" and result.rejected[0]["record"] == 2
