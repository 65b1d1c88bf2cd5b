"""Prompt files: each loads, and identify() names the prompt (or its re-ask) that rendered a message."""

from __future__ import annotations

import string

import pytest

from medreason.prompts import REASK_MARKER, Prompt, fields_of, identify, load_prompt, prompt_names

SHARED_REASK = {"search_refine:reask", "search_label:reask"}  # the same text word for word: identify needs among=


def rendered(name: str, value: str = "<{field} of {key}>") -> dict[str, str]:
    """Template name ("judge", "judge:reask") -> its text rendered with a distinct dummy value per field."""
    text = load_prompt(name).text
    request, marker, reask = text.partition(REASK_MARKER)
    out = {}
    for key, template in ((name, request), (f"{name}:reask", reask if marker else None)):
        if template is None:
            continue
        template = template.strip()
        fields = {f for _, f, _, _ in string.Formatter().parse(template) if f}
        try:
            out[key] = template.format(**{f: value.format(field=f, key=key) for f in fields})
        except (KeyError, ValueError):
            out[key] = template  # never formatted: its braces are literal (search_format_json)
    return out


@pytest.mark.parametrize("name", prompt_names())
def test_every_prompt_and_re_ask_is_identified_from_its_rendering(name):
    for key, text in rendered(name, "<{field} of {key}>\nover two lines").items():
        assert identify(text, among=[name]) == key
        assert identify("\n" + text + "\n\n", among=[name]) == key  # as sent: white space at the ends
        if key in SHARED_REASK:
            with pytest.raises(ValueError, match="pass among"):
                identify(text)
        else:
            assert identify(text) == key
    for key, text in rendered(name).items():  # one-line values: "{previous}\n{instruction}" splits them right
        fields = fields_of(key, text)
        assert fields is not None and all(value == f"<{field} of {key}>" for field, value in fields.items())


def test_identify_prefers_the_template_that_explains_more_and_knows_replies_from_prompts():
    label = load_prompt("scaffold_think_label").text.strip().format(answer="Hyperkalemia")
    assert identify(label) == "scaffold_think_label"  # also reads as scaffold_conclude_hint with a long answer
    assert identify("The correct answer is Hyperkalemia.") == "scaffold_conclude_hint"
    assert identify("True") is None and identify("") is None
    reask = load_prompt("search_refine").text.split(REASK_MARKER)[1].strip().format(problem="no Final Conclusion")
    with pytest.raises(ValueError, match="search_label:reask.*search_refine:reask"):
        identify(reask)  # the two share their re-ask text word for word
    assert identify(reask, among=["search_refine"]) == "search_refine:reask"
    judge = load_prompt("judge").text.split(REASK_MARKER)[0].strip()
    text = judge.format(question="Q?", response="Scurvy.", reference="scurvy")
    assert fields_of("judge", text) == {"question": "Q?", "response": "Scurvy.", "reference": "scurvy"}
    assert fields_of("judge:reask", text) is None
    with pytest.raises(KeyError, match="no prompt template named 'nope'"):
        fields_of("nope", text)


@pytest.mark.parametrize("name", ["compose_cot", "compose_response"])
def test_a_prompt_version_is_its_text_so_an_edit_is_a_new_cache_key(name):
    prompt = load_prompt(name)
    request, _, reask = prompt.text.partition(REASK_MARKER)
    assert prompt.version.startswith(f"{name}@") and prompt.version == Prompt(name, prompt.text).version
    for edited in (request + "Be brief.\n" + REASK_MARKER + reask, request + REASK_MARKER + reask + "Be brief."):
        assert Prompt(name, edited).version != prompt.version  # the request's wording and the re-ask's alike
