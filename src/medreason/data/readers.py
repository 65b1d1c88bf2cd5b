"""Readers for the source formats, exactly as their publishers ship them.

Every reader yields one ``Item`` per input record: either a canonical row (without id/source/split, which the
ingest adds) or a rejection with a reason code, a detail and the raw text. Nothing is skipped silently; only
blank lines of a JSON-lines file are not records.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import orjson

from medreason.data.schema import LETTERS, MAX_OPTIONS, MIN_OPTIONS, normalise, normalised_id

# Reason codes of data/mcq/rejected.jsonl.
REASONS = (
    "invalid_encoding", "invalid_json", "not_an_object", "wrong_type", "empty_question", "bad_option_letter",
    "too_few_options", "too_many_options", "empty_option", "duplicate_options", "missing_answer",
    "answer_not_in_options", "answer_mismatch",
)
HUATUO_FIELDS = {
    "Open-ended Verifiable Question": "open_question",
    "Ground-True Answer": "ground_truth",
    "Complex_CoT": "complex_cot",
    "Response": "response",
}


class Reject(Exception):
    def __init__(self, reason: str, detail: str = ""):
        assert reason in REASONS, reason
        super().__init__(reason, detail)
        self.reason, self.detail = reason, detail


@dataclass(slots=True)
class Item:
    line: int | None  # 1-based line of a JSON-lines file
    record: int | None  # 1-based position in a JSON list or a Hugging Face split
    row: dict[str, Any] | None = None
    reason: str | None = None
    detail: str = ""
    raw: str = ""


# ---- row parsers: one JSON object of a given schema -> canonical fields with their id, or Reject ------------

MEDQA_NAMED = frozenset(("question", "options", "answer_idx", "answer"))
MEDMCQA_NAMED = frozenset(("question", "opa", "opb", "opc", "opd", "cop", "id", "exp", "subject_name",
                           "topic_name", "choice_type"))


def parse_medqa(obj: dict) -> dict[str, Any]:
    question = _text(obj.get("question"), "question")
    options, norms = _options(obj.get("options"))
    idx = _answer_letter(obj.get("answer_idx"), _opt_str(obj.get("answer"), "answer"), options, norms)
    return _row(question, options, norms, idx, extra={k: v for k, v in obj.items() if k not in MEDQA_NAMED})


def parse_huatuo(obj: dict) -> dict[str, Any]:
    row = parse_medqa({k: v for k, v in obj.items() if k not in HUATUO_FIELDS and k != "Question"})
    for key, column in HUATUO_FIELDS.items():
        row[column] = _opt_str(obj.get(key), key)
    # `Question` repeats the open-ended question in the authors' files; keep it only when it differs.
    q = obj.get("Question")
    if q is not None and q != obj.get("Open-ended Verifiable Question"):
        row["extra"]["Question"] = q
    return row


def parse_medmcqa(obj: dict, cop_base: int) -> dict[str, Any]:
    question = _text(obj.get("question"), "question")
    options, norms = _options({"A": obj.get("opa"), "B": obj.get("opb"), "C": obj.get("opc"), "D": obj.get("opd")})
    cop = obj.get("cop")
    if cop is None:
        raise Reject("missing_answer", "cop is missing")
    if not isinstance(cop, int) or isinstance(cop, bool):
        raise Reject("wrong_type", f"cop is {type(cop).__name__}, not int")
    if not 0 <= cop - cop_base < len(LETTERS) or LETTERS[cop - cop_base] not in options:
        raise Reject("answer_not_in_options", f"cop {cop} with cop_base {cop_base}")
    return _row(
        question, options, norms, LETTERS[cop - cop_base],
        source_id=_opt_str(obj.get("id"), "id"),
        explanation=_opt_str(obj.get("exp"), "exp"),
        subject=_opt_str(obj.get("subject_name"), "subject_name"),
        topic=_opt_str(obj.get("topic_name"), "topic_name"),
        choice_type=_opt_str(obj.get("choice_type"), "choice_type"),
        extra={k: v for k, v in obj.items() if k not in MEDMCQA_NAMED},
    )


def row_parser(schema: str, cop_base: int | None = None) -> Callable[[dict], dict[str, Any]]:
    if schema == "medqa":
        return parse_medqa
    if schema == "huatuo":
        return parse_huatuo
    if schema == "medmcqa":
        return lambda obj: parse_medmcqa(obj, cop_base)
    raise ValueError(f"unknown row schema {schema!r}")


def _row(question: str, options: dict[str, str], norms: dict[str, str], idx: str, **fields: Any) -> dict[str, Any]:
    row = {
        "id": normalised_id(normalise(question), list(norms.values())),
        "source_id": None, "question": question, "options": options, "answer_idx": idx, "answer": options[idx],
        "subject": None, "topic": None, "explanation": None, "choice_type": None, "extra": {},
        "open_question": None, "ground_truth": None, "complex_cot": None, "response": None,
    }
    row.update(fields)
    return row


def _text(value: Any, name: str) -> str:
    if value is None:
        raise Reject("empty_question", f"{name} is null")
    if not isinstance(value, str):
        raise Reject("wrong_type", f"{name} is {type(value).__name__}, not str")
    value = value.strip()
    if not value:
        raise Reject("empty_question", f"{name} is empty")
    return value


def _opt_str(value: Any, name: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise Reject("wrong_type", f"{name} is {type(value).__name__}, not str")
    return value


def _options(value: Any) -> tuple[dict[str, str], dict[str, str]]:
    """The options (letter -> stripped text, in letter order) and their normalised texts."""
    if not isinstance(value, dict):
        raise Reject("wrong_type" if value is not None else "too_few_options",
                     f"options is {type(value).__name__}, not a mapping")
    options: dict[str, str] = {}
    norms: dict[str, str] = {}
    for letter in sorted(value, key=str):
        text = value[letter]
        if text is None:
            raise Reject("empty_option", f"option {letter} is null")
        if not isinstance(text, str):
            raise Reject("wrong_type", f"option {letter} is {type(text).__name__}, not str")
        if letter not in LETTERS or len(letter) != 1:
            raise Reject("bad_option_letter", f"option key {letter!r} is not one of {LETTERS}")
        text = text.strip()
        if not text:
            raise Reject("empty_option", f"option {letter} is empty")
        options[letter] = text
        norms[letter] = normalise(text)
    if len(options) < MIN_OPTIONS:
        raise Reject("too_few_options", f"{len(options)} option(s)")
    if len(options) > MAX_OPTIONS:
        raise Reject("too_many_options", f"{len(options)} options")
    if len(set(norms.values())) < len(norms):
        raise Reject("duplicate_options", "two options have the same text")
    return options, norms


def _answer_letter(idx: Any, answer: str | None, options: dict[str, str], norms: dict[str, str]) -> str:
    """The correct letter, checked against the answer text when the source gives both."""
    if idx is None or idx == "":
        if answer is None or not answer.strip():
            raise Reject("missing_answer", "neither answer_idx nor answer")
        matches = [k for k, t in norms.items() if t == normalise(answer)]
        if len(matches) != 1:
            raise Reject("answer_not_in_options", f"answer text {answer!r} matches {len(matches)} options")
        return matches[0]
    if not isinstance(idx, str):
        raise Reject("wrong_type", f"answer_idx is {type(idx).__name__}, not str")
    idx = idx.strip().upper()
    if idx not in options:
        raise Reject("answer_not_in_options", f"answer_idx {idx!r} not among {''.join(options)}")
    if answer is not None and answer.strip() != options[idx] and normalise(answer) != norms[idx]:
        raise Reject("answer_mismatch", f"answer {answer!r} is not option {idx} {options[idx]!r}")
    return idx


# ---- files: raw records -> Items ---------------------------------------------------------------------------

def read_file(path: str | Path, parse: Callable[[dict], dict[str, Any]]) -> Iterator[Item]:
    """Items of a JSON-lines file, or of a JSON list when the file starts with '['."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"source file not found: {path}")
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if data.lstrip()[:1] == b"[":
        yield from _read_json_list(data, parse)
    else:
        yield from _read_json_lines(data, parse)


def _read_json_lines(data: bytes, parse: Callable) -> Iterator[Item]:
    loads = orjson.loads  # orjson rejects invalid UTF-8, which we classify separately below
    for n, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            obj = loads(line)
        except orjson.JSONDecodeError as e:
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as u:
                yield Item(n, None, reason="invalid_encoding", detail=str(u),
                           raw=line.decode("utf-8", "backslashreplace"))
                continue
            yield Item(n, None, reason="invalid_json", detail=str(e), raw=text)
            continue
        yield _parse_one(obj, parse, Item(n, None), line)


def _read_json_list(data: bytes, parse: Callable) -> Iterator[Item]:
    try:
        objs = orjson.loads(data)
    except orjson.JSONDecodeError:
        objs = None
    if isinstance(objs, list):
        for i, obj in enumerate(objs, start=1):
            yield _parse_one(obj, parse, Item(None, i))
        return
    # A broken list: take the elements that decode, then reject the rest with where it broke.
    import json

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as u:
        yield Item(None, 1, reason="invalid_encoding", detail=str(u), raw=data.decode("utf-8", "backslashreplace"))
        return
    decoder, pos, i = json.JSONDecoder(), text.index("[") + 1, 0
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text) or text[pos] == "]":
            return
        i += 1
        try:
            obj, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as e:
            yield Item(None, i, reason="invalid_json", detail=f"{e}; the rest of the file is this record",
                       raw=text[pos:])
            return
        yield _parse_one(obj, parse, Item(None, i))


def read_hf(path: str, parse: Callable, name: str | None = None, split: str = "train") -> Iterator[Item]:
    """Items of a Hugging Face dataset: a hub id (online) or a local dataset folder."""
    import datasets

    ds = datasets.load_dataset(path, name, split=split)
    for i, obj in enumerate(ds, start=1):
        yield _parse_one(obj, parse, Item(None, i))


def _parse_one(obj: Any, parse: Callable, item: Item, raw: bytes | None = None) -> Item:
    if not isinstance(obj, dict):
        item.reason, item.detail = "not_an_object", f"a JSON {type(obj).__name__}, not an object"
    else:
        try:
            item.row = parse(obj)
            return item
        except Reject as r:
            item.reason, item.detail = r.reason, r.detail
    item.raw = raw.decode("utf-8") if raw is not None else orjson.dumps(obj, default=str).decode()
    return item
