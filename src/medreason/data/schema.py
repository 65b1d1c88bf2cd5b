"""The canonical MCQ schema, text normalisation and content-hash ids."""

from __future__ import annotations

import hashlib
import unicodedata

LETTERS = "ABCDE"
MIN_OPTIONS, MAX_OPTIONS = 2, 5
SOURCES = ("medqa", "medmcqa", "huatuo")

# Column order of data/mcq/mcq.parquet. `options` is a map letter -> text; `extra` holds the source's other
# fields as JSON (provenance kept, schema kept small). The four last columns carry an already-built open-ended
# problem and SFT example when the source has them (the processed HuatuoGPT-o1 format).
MCQ_COLUMNS = (
    "id", "source", "source_id", "source_split", "question", "options", "answer_idx", "answer",
    "subject", "topic", "explanation", "choice_type", "extra",
    "open_question", "ground_truth", "complex_cot", "response",
)

def options_text(options: dict[str, str]) -> str:
    """Options as the lines "A. text" every prompt shows them in."""
    return "\n".join(f"{k}. {v}" for k, v in sorted(options.items()))


def normalise(text: str) -> str:
    """The form two texts are compared in: Unicode NFKC, white space collapsed (str.split's), case-folded. For ids
    and whole-text equality; the verifier's answer tokens (verify.tokens) fold much further."""
    if not text.isascii():  # ASCII is NFKC-stable; the check is O(1) in CPython, NFKC is not
        text = unicodedata.normalize("NFKC", text)
    return " ".join(text.split()).casefold()


def content_id(question: str, options: dict[str, str]) -> str:
    """16 hex chars of SHA-256 over the normalised question and the normalised option texts.

    Option texts are sorted, so the same question with its options in another order is the same item.
    """
    return normalised_id(normalise(question), [normalise(t) for t in options.values()])


def normalised_id(question: str, options: list[str]) -> str:
    """content_id of texts already normalised (the ingest normalises each text once)."""
    payload = "\x1f".join([question, *sorted(options)])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]
