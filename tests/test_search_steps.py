"""Search steps: both reply formats, round trips, the structural checks and their reasons, serialisations."""

from __future__ import annotations

import json

import pytest

from medreason.format import has_marker
from medreason.search.steps import (ACTIONS, DEFAULT_TITLE, Step, check_continuation, check_init, final_conclusion,
                                    parse_and_check, parse_steps, stream_of_search, to_headers, to_json)

THINK, CONCLUSION, VERIFY = ACTIONS
INIT = [
    Step(THINK, "ST elevation in II, III and aVF points to the inferior wall.", "Read the ECG"),
    Step(THINK, "A raised troponin means myocardial necrosis.\n\nThat fits an infarction.", "Weigh the troponin"),
    Step(CONCLUSION, "Inferior myocardial infarction."),
    Step(VERIFY, "ECG territory and troponin both agree."),
]
CONTINUATION = [
    Step(VERIFY, "The conclusion ignored the right-sided leads."),
    Step(THINK, "V4R elevation suggests right ventricular involvement.", "Check the right ventricle"),
    Step(CONCLUSION, "Inferior MI with right ventricular infarction."),
    Step(VERIFY, "Consistent with hypotension after nitrates."),
]
INIT_JSON = {"CoT": [
    {"action": "Inner Thinking", "title": "Read the ECG", "content": INIT[0].content},
    {"action": "Inner Thinking", "title": "Weigh the troponin", "content": INIT[1].content},
    {"action": "Final Conclusion", "content": INIT[2].content},
    {"action": "Verification", "content": INIT[3].content},
]}
HEADERS = """
### Inner Thinking: Read the ECG
ST elevation in II, III and aVF points to the inferior wall.

### Inner Thinking: Weigh the troponin
A raised troponin means myocardial necrosis.

That fits an infarction.

### Final Conclusion
Inferior myocardial infarction.

### Verification
ECG territory and troponin both agree.
"""


def test_json_object_fenced_and_bare_list():
    text = json.dumps(INIT_JSON)
    assert parse_steps(text) == (INIT, None)
    assert parse_steps(f"```json\n{json.dumps(INIT_JSON, indent=2)}\n```\n") == (INIT, None)
    assert parse_steps(json.dumps(INIT_JSON["CoT"])) == (INIT, None)


def test_json_raw_newline_inside_a_string_is_accepted():
    text = json.dumps(INIT_JSON).replace("\\n", "\n")  # what models write; strict JSON would refuse it
    assert parse_steps(text) == (INIT, None)


def test_header_format_with_several_inner_thinkings():
    steps, why = parse_steps(HEADERS)
    assert why is None and steps == INIT


def test_header_without_title_gets_default_title():
    steps, why = parse_steps("### Inner Thinking\nA.\n### Final Conclusion\nB.\n### Verification\nC.")
    assert why is None and steps[0] == Step(THINK, "A.", DEFAULT_TITLE)


def test_no_step_heading_holds_an_answer_format_marker():
    """"### Thinking" contains "## Thinking": the teacher rewriting the stream could copy it into the Complex_CoT."""
    untitled, _ = parse_steps("### Inner Thinking\nA.\n### Final Conclusion\nB.\n### Verification\nC.")
    titled = [Step(THINK, "A.", "Thinking it over"), Step(THINK, "B.", "## Final Response"), *INIT[2:]]
    for steps in (untitled, titled, [Step(THINK, "A."), *INIT[2:]]):
        stream = stream_of_search(steps)
        assert not has_marker(stream) and stream.startswith(f"### {DEFAULT_TITLE}\nA.")
    assert not has_marker(to_headers(untitled)) and not has_marker(f"### {DEFAULT_TITLE}")


def test_round_trips():
    for steps in (INIT, CONTINUATION):
        assert parse_steps(to_headers(steps)) == (steps, None)
        assert parse_steps(to_json(steps)) == (steps, None)


def test_to_json_is_the_paper_object():
    data = json.loads(to_json(INIT))
    assert data == INIT_JSON and list(data["CoT"][0]) == ["action", "title", "content"]
    assert to_json(INIT).startswith('{\n  "CoT": [\n    {')


def test_actions_are_case_insensitive():
    upper = json.dumps({"CoT": [{**s, "action": s["action"].upper()} for s in INIT_JSON["CoT"]]})
    assert parse_steps(upper) == (INIT, None)
    lower = HEADERS.replace("Inner Thinking", "inner  thinking").replace("Final Conclusion", "final conclusion")
    assert parse_steps(lower) == (INIT, None)


def test_valid_chains_pass_their_check():
    assert check_init(INIT) is None and check_continuation(CONTINUATION) is None
    assert parse_and_check(HEADERS, "init") == (INIT, None)
    assert parse_and_check(to_headers(CONTINUATION), "continuation") == (CONTINUATION, None)


T, C, V = (Step(THINK, "t", "x"), Step(CONCLUSION, "c"), Step(VERIFY, "v"))


@pytest.mark.parametrize("steps, reason", [
    ([], "no Inner Thinking"),
    ([C, V], "step 1 must be Inner Thinking"),
    ([T, V, C, V], "step 2 (Verification) comes before the Final Conclusion"),
    ([T, C, V, T, C, V], "more than one Final Conclusion"),
    ([T, C, C, V], "more than one Final Conclusion"),
    ([T, C], "the Final Conclusion is not followed by a Verification"),
    ([T, C, T, V], "the Final Conclusion is not followed by a Verification"),
    ([T, C, V, V], "steps after the final Verification"),
    ([T, T], "no Final Conclusion"),
])
def test_invalid_init_reasons(steps, reason):
    assert check_init(steps) == reason


@pytest.mark.parametrize("steps, reason", [
    ([T, C, V], "a continuation must start with a Verification"),
    ([], "a continuation must start with a Verification"),
    ([V, C, V], "step 2 must be Inner Thinking"),
    ([V], "no Inner Thinking"),
    ([V, T, C], "the Final Conclusion is not followed by a Verification"),
    ([V, T, C, V, C, V], "more than one Final Conclusion"),
])
def test_invalid_continuation_reasons(steps, reason):
    assert check_continuation(steps) == reason


@pytest.mark.parametrize("text, reason", [
    ("", "empty reply"),
    ("  \n ```json\n\n```", "empty reply"),
    ('{"CoT": [{"action": "Inner Thinking", "title": "a", "content": "b"},]', "malformed JSON"),
    ('{"steps": []}', 'no non-empty "CoT" list'),
    ('{"CoT": [{"action": "Reflection", "content": "b"}]}', "step 1 has unknown action 'Reflection'"),
    ('[{"action": "Inner Thinking", "title": "a", "content": "  "}]', "step 1 (Inner Thinking) has empty content"),
    ('[{"action": "Inner Thinking", "content": "b"}]', "step 1 (Inner Thinking) has no title"),
    ('["Inner Thinking"]', "step 1 is not an object"),
    ("Let me think.\n### Inner Thinking: a\nb", "text before the first step"),
    ("The answer is MI.", "neither JSON nor '### ' step headers"),
    ("### Inner Thinking: a\nb\n### Reflection\nc", "step 2 has unknown action 'Reflection'"),
    ("### Inner Thinking: a\n\n### Final Conclusion\nc", "step 1 (Inner Thinking) has empty content"),
    ("### Inner Thinking: a\nb\n### Final Conclusion: MI\nc", "step 2 (Final Conclusion) takes no title"),
])
def test_parse_errors_give_reasons(text, reason):
    steps, why = parse_steps(text)
    assert steps is None and reason in why


def test_parse_and_check_reason_says_which():
    assert parse_and_check("", "init") == (None, "unparseable: empty reply")
    assert parse_and_check(HEADERS, "continuation") == (
        None, "invalid continuation: a continuation must start with a Verification")
    assert parse_and_check(to_headers([T, C]), "init") == (
        None, "invalid init: the Final Conclusion is not followed by a Verification")
    with pytest.raises(ValueError):
        parse_and_check(HEADERS, "refine")


def test_final_conclusion_picks_the_last():
    assert final_conclusion(INIT[:-1] + CONTINUATION) == "Inferior MI with right ventricular infarction."
    with pytest.raises(ValueError):
        final_conclusion([T, V])


def test_stream_of_search_format():
    assert stream_of_search(INIT[:-1] + CONTINUATION) == (
        "### Read the ECG\nST elevation in II, III and aVF points to the inferior wall.\n\n"
        "### Weigh the troponin\nA raised troponin means myocardial necrosis.\n\nThat fits an infarction.\n\n"
        "### Conclusion\nInferior myocardial infarction.\n\n"
        "### Verification\nThe conclusion ignored the right-sided leads.\n\n"
        "### Check the right ventricle\nV4R elevation suggests right ventricular involvement.\n\n"
        "### Conclusion\nInferior MI with right ventricular infarction.\n\n"
        "### Verification\nConsistent with hypotension after nitrates."
    )


def test_json_with_prose_around_it_is_read():
    body = '{"CoT": [{"action": "Inner Thinking", "title": "T", "content": "c"}, ' \
           '{"action": "Final Conclusion", "content": "X"}, {"action": "Verification", "content": "v"}]}'
    for text in (f"Here is my reasoning:\n{body}\nHope this helps.", f"Sure!\n```json\n{body}\n```\nDone."):
        steps, why = parse_steps(text)
        assert why is None and steps[1].content == "X"
