"""Curation rules: the prefilter's codes (and no false alarms on ordinary vignettes), the rule rewrite of the
question sentence, leaked_options' positives and tricky negatives, and the rules run over real items (the shipped
samples and the 137 processed HuatuoGPT-o1 demo records)."""

from __future__ import annotations

import json

import pytest

from conftest import ROOT, SHARED_DATA
from medreason.curate.many_answers import many_answers
from medreason.curate.rules import (
    PREFILTER_REASONS,
    REWRITE_FAILURES,
    Rewrite,
    leaked_options,
    prefilter,
    rule_rewrite,
)

OPTS = {"A": "Hyperkalemia", "B": "Hyponatremia", "C": "Hypercalcemia", "D": "Hypokalemia"}
CASE = ("A 54-year-old man with chronic kidney disease presents with weakness. An ECG shows peaked T waves and a "
        "widened QRS complex.")


def demo_records() -> list[dict]:
    path = SHARED_DATA / "medqa_demo_processed.json"
    if not path.is_file():
        pytest.skip(f"{path} not found (../shared/data)")
    return json.loads(path.read_text())


def jsonl(name: str) -> list[dict]:
    return [json.loads(line) for line in (ROOT / "data" / "samples" / name).read_text().splitlines() if line.strip()]


def medmcqa_options(r: dict) -> tuple[dict[str, str], str]:
    options = {"A": r["opa"], "B": r["opb"], "C": r["opc"], "D": r["opd"]}
    return options, options["ABCD"[r["cop"] - 1]]


# ---- prefilter -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("question, options, answer, choice_type, code", [
    ("True about SIADH: a) Hyponatraemia b) Concentrated urine c) Oedema d) Low serum uric acid",
     {"A": "a, b and c", "B": "a, c and d", "C": "b, c and d", "D": "a, b and d"}, "a, b and d", "multi",
     "multi_answer"),
    ("Which hormone acts through an intracellular receptor?", {"A": "Cortisol", "B": "Glucagon"}, "Cortisol", "MULTI ",
     "multi_answer"),
    ("True statements about Neostigmine are:  a) It is a quarternary ammounium compound b) It is metabolised by liver "
     "c) It can cross the blood brain barrier d) Prominent effect on cardiac muscle",
     {"A": "ad", "B": "bc", "C": "ac", "D": "cd"}, "ad", None, "statement_list"),
    ("Blunt trauma abdomen maximum injury is to :a) Proximal ileum b) Proximal jejunumc) Midiliumd) Ileocaecal "
     "junction",
     {"A": "c", "B": "d", "C": "ab", "D": "bd"}, "bd", None, "statement_list"),
    ("Features of Horner syndrome:\n1. Ptosis\n2. Miosis\n3. Anhidrosis\n4. Mydriasis",
     {"A": "1,2,3", "B": "2,3,4", "C": "1,3,4", "D": "1,2,4"}, "1,2,3", "single", "statement_list"),
    ("All of the following muscles are supplied by the facial nerve EXCEPT:",
     {"A": "Stapedius", "B": "Tensor tympani", "C": "Buccinator", "D": "Platysma"}, "Tensor tympani", "single",
     "asks_exception"),
    ("To minimise ureteric damage, the following preoperative and operative precautions may be taken except:",
     {"A": "Cystoscopy", "B": "Ureteric catheterisation", "C": "Exposure of the ureter", "D": "Bladder drainage"},
     "Cystoscopy", None, "asks_exception"),
    ("A woman with one previous lower segment cesarean section will require an elective repeat cesarean section in "
     "all of the following conditions, EXCEPT ?", {"A": "Breech", "B": "Occipito-posterior position."},
     "Occipito-posterior position.", None, "asks_exception"),
    ("A 50-year-old man with chronic liver failure presented with acute variceal bleeding. The BP was 80/60 mm Hg. "
     "Which of the following is not done?", {"A": "Platelet transfusion", "B": "Octreotide", "C": "Endoscopy"},
     "Platelet transfusion", None, "asks_negative"),
    ("A detergent that disrupts lipid membranes is tested. Which of the following viruses would not be disrupted if "
     "treated with this detergent?", {"A": "Herpesvirus", "B": "Picornavirus"}, "Picornavirus", None, "asks_negative"),
    ("False about Wilson disease:", {"A": "Autosomal recessive", "B": "High serum ceruloplasmin"},
     "High serum ceruloplasmin", "single", "asks_negative"),
    ("In a patient with chronic kidney disease, which of the following drugs is NOT safe?",
     {"A": "Metformin", "B": "Insulin"}, "Metformin", None, "asks_negative"),
    ("Which of the following is least likely to cause hypokalemia?", {"A": "Spironolactone", "B": "Furosemide"},
     "Spironolactone", None, "asks_negative"),
    ("Which imaging modality involves no exposure of the patient to ionising radiation?",
     {"A": "CT", "B": "Magnetic resonance imaging"}, "Magnetic resonance imaging", "single", "asks_negative"),
    ("Which of the following are features of nephrotic syndrome?",
     {"A": "Proteinuria", "B": "Oedema", "C": "Hyperlipidaemia", "D": "All of the above"}, "All of the above", None,
     "all_of_the_above"),
    ("A patient with gout should avoid which food?", {"A": "Meat", "B": "Alcohol", "C": "Beans", "D": "All"}, "All",
     None, "all_of_the_above"),
    ("In a village of 10,000 people, 5 maternal deaths occurred in one year. The maternal mortality rate is:",
     {"A": "5", "B": "50", "C": "0.5", "D": "None of the above"}, "None of the above", None, "none_of_the_above"),
    ("At the age of nine years, the mandibular permanent first molar has its distal contact with which tooth?",
     {"A": "First premolar", "B": "Second premolar", "C": "Deciduous 2nd molar", "D": "None"}, "None", None,
     "none_of_the_above"),
    ("A 30-year-old man has hypokalemia and metabolic alkalosis. The likely cause is:",
     {"A": "Vomiting", "B": "Diuretics", "C": "Both A and B", "D": "Diarrhoea"}, "Both A and B", None,
     "combined_options"),
    ("Drugs causing gingival hyperplasia:", {"A": "A and C", "B": "B and D", "C": "Phenytoin", "D": "Nifedipine"},
     "A and C", None, "combined_options"),
    ("A 2-year-old has a flank mass. The likely diagnosis is:",
     {"A": "Wilms tumour", "B": "Neuroblastoma", "C": "Both"}, "C", None, "combined_options"),  # key as its letter
])
def test_prefilter_codes(question, options, answer, choice_type, code):
    assert prefilter(question, options, answer, choice_type) == code
    assert code in PREFILTER_REASONS


@pytest.mark.parametrize("question, answer", [
    (f"{CASE} Which of the following is the most likely electrolyte disturbance?", "Hyperkalemia"),
    ("A 40-year-old man with pneumonia does not respond to treatment with amoxicillin. Sputum culture grows "
     "Mycoplasma. Which of the following is the most likely electrolyte disturbance?", "Hyponatremia"),
    ("A 30-year-old man sustains a fracture of the shaft of the humerus. He is unable to extend his wrist and has not "
     "had any sensory symptoms. The nerve most likely injured is:", "Hyperkalemia"),
    (f"{CASE} Which of the following is the most likely reason this patient did not improve?", "Hyperkalemia"),
    (f"{CASE} Which of the following is the best treatment for a patient who cannot swallow tablets?", "Hyperkalemia"),
    (f"{CASE} Which of the following is the probability of a false positive result?", "Hyperkalemia"),
    ("He has no complaints except fatigue. Which of the following is the most likely diagnosis?", "Hyperkalemia"),
    ("A man with blood group AB needs a transfusion. The universal plasma donor group is:", "AB"),
    ("Both parents are carriers. What is the probability that their child is affected?", "1/150"),
])
def test_prefilter_keeps_ordinary_items(question, answer):
    options = {**OPTS, "E": answer} if answer not in OPTS.values() else {**OPTS, "E": "None of the above"}
    assert prefilter(question, options, answer, "single") is None


def test_prefilter_on_the_shipped_samples_catches_the_multi_and_except_items_and_spares_the_vignettes():
    medmcqa = jsonl("medmcqa_sample.jsonl")
    multi = [r for r in medmcqa if r["choice_type"] == "multi"]
    excepts = [r for r in medmcqa if "EXCEPT" in r["question"]]
    assert len(multi) == 4 and len(excepts) == 4
    for r in multi:
        options, answer = medmcqa_options(r)
        assert prefilter(r["question"], options, answer, r["choice_type"]) == "multi_answer", r["question"]
    for r in excepts:
        options, answer = medmcqa_options(r)
        assert prefilter(r["question"], options, answer, r["choice_type"]) == "asks_exception", r["question"]
    kept = [r for r in medmcqa if prefilter(r["question"], *medmcqa_options(r), r["choice_type"]) is None]
    assert len(kept) >= 50  # measured 51: the 8 above and one "involves no exposure" item are dropped

    medqa = jsonl("medqa_sample.jsonl")
    assert len(medqa) == 60
    flagged = [(r["question"][-80:], code) for r in medqa
               if (code := prefilter(r["question"], r["options"], r["answer"], None)) is not None]
    assert flagged == []  # ordinary USMLE vignettes, several with "does not ..." in the case text


# ---- rule_rewrite ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("last, expected", [
    ("Which of the following is the most likely diagnosis?", "What is the most likely diagnosis?"),
    ("Which of the following interventions is most likely to decrease this patient's mortality?",
     "Which intervention is most likely to decrease this patient's mortality?"),
    ("A renal biopsy specimen is most likely to show which of the following?",
     "What is a renal biopsy specimen most likely to show?"),
    ("This patient's hypercalcemia is best explained by which of the following?",
     "What is this patient's hypercalcemia best explained by?"),
    ("Without treatment, this patient is at increased risk of developing which of the following conditions?",
     "Without treatment, which condition is this patient at increased risk of developing?"),
    ("Occlusion of which of the following arteries is the most likely cause of this patient's findings?",
     "Occlusion of which artery is the most likely cause of this patient's findings?"),
    ("A deficiency of which of the following enzymes is the most likely cause?",
     "A deficiency of which enzyme is the most likely cause?"),
    ("Which of the following best explains the increase in this patient's lithium concentration?",
     "What best explains the increase in this patient's lithium concentration?"),
    ("Which of the following drug is the most likely cause of this condition",
     "Which drug is the most likely cause of this condition?"),
    ("The toxin acts by which of the following mechanisms?", "The toxin acts by which mechanism?"),
])
def test_rule_rewrite_rewrites_only_the_question_sentence(last, expected):
    out = rule_rewrite(f"{CASE} {last}", OPTS, "Hyperkalemia")
    assert out == Rewrite(f"{CASE} {expected}", "Hyperkalemia") and out.ok


@pytest.mark.parametrize("question", [
    "The rate-limiting enzyme of the urea cycle is:",
    "The mechanisms by which cholera might be maintained during the intervals between peak cholera seasons is -",
    f"{CASE} What is the most likely diagnosis?",
])
def test_fill_in_and_already_open_stems_stay_as_they_are(question):
    options = {"A": "Carbamoyl phosphate synthetase I", "B": "Arginase", "C": "Hyperkalemia"}
    assert rule_rewrite(question, options, " Carbamoyl phosphate synthetase I\n") == Rewrite(
        question, "Carbamoyl phosphate synthetase I")


def test_ground_truth_is_the_key_text_given_as_text_or_letter_and_long_keys_fail():
    q = f"{CASE} Which of the following is the most appropriate next step in management?"
    long_key = "Intravenous calcium gluconate followed by insulin with glucose and then sodium bicarbonate infusion"
    options = {"A": "Intravenous calcium gluconate", "B": long_key}
    assert rule_rewrite(q, options, "A").ground_truth == "Intravenous calcium gluconate"
    assert rule_rewrite(q, options, long_key) == Rewrite(failure="answer_too_long")
    assert rule_rewrite(q, options, long_key, max_answer_words=20).ground_truth == long_key
    assert rule_rewrite(q, options, "Dialysis").failure == "answer_not_in_options"
    with pytest.raises(ValueError, match="a question and a ground truth, or a failure"):
        Rewrite("What is it?", None)


@pytest.mark.parametrize("options, answer", [
    ({"A": "A", "B": "B", "C": "C", "D": "D"}, "B"),  # an image question whose options are bare letters
    ({"A": "Vomiting", "B": "Diarrhoea", "C": "All of the above"}, "All of the above"),
    ({"A": "Vomiting", "B": "Diarrhoea", "C": "Both"}, "Both"),
    ({"A": "Vomiting", "B": "Diarrhoea", "C": "None"}, "None"),
    ({"A": "Vomiting", "B": "Diarrhoea", "C": "Both A and B"}, "Both A and B"),
    ({"A": "ad", "B": "bc"}, "ad"),
])
def test_keys_that_need_the_options_are_refused(options, answer):
    q = f"{CASE} Which of the following is the most likely cause?"
    assert rule_rewrite(q, options, answer).failure == "answer_not_self_contained"


@pytest.mark.parametrize("question", [
    f"{CASE} Which of the following statements is true?",
    "Which of the following is true for the ratio of fresh placental weight to infant weight at term?",
    "True statement about efficacy of medicine -",
    "On examination you cannot palpate a left testicle. You recommend which of the following options to the parents:",
    "All of the following cause hyperkalemia EXCEPT:",
    f"{CASE} Which of the following is not a cause?",
    "In the following graph, width is more than the height of an orthodontic wire. Which mode does it belong to?",
    f"{CASE} Which of these is most likely?",
])
def test_option_dependent_questions_fail(question):
    assert rule_rewrite(question, OPTS, "Hyperkalemia").failure == "option_dependent"


@pytest.mark.parametrize("last", [
    "Which of the following is associated with Down syndrome?",
    "HLA-B27 is associated with:",
    "Which of the following oncogenes has been associated with this tumor?",
    "Which of the following is a feature of nephrotic syndrome?",
    "Which of the following are the complications of measles?",
    "Features of hyperparathyroidism are:",
    "Feature of Kawasaki disease is:",
    "Causes of secondary hypertension include:",
    "Which of the following is seen in iron deficiency anaemia?",
    "Which of the following is characteristic of ulcerative colitis?",
    "Which of the following drug can cause this condition",
    "Gingival hyperplasia can be caused by:",
    "Which of the following may be found in the urine in nephrotic syndrome?",
    "A patient with SLE may present with:",
    "Which of the following is used in the treatment of hyperkalemia?",
    "Drug used in the treatment of absence seizures is:",
    "Which of the following are related to smoking?",
    "Which of the following is a risk factor for carcinoma endometrium?",
    "Which of the following is associated with primary biliary cirrhosis?",  # "primary" names the disease
    "Which of the following is seen in the first trimester?",  # "first" names the trimester
    "In patients with anterior uveitis, decrease in vision can occur because of –",
])
def test_questions_with_many_right_answers_are_not_reformulatable(last):
    assert many_answers(last)
    assert rule_rewrite(f"{CASE} {last}", OPTS, "Hyperkalemia") == Rewrite(failure="not_reformulatable")


@pytest.mark.parametrize("last", [
    "Which of the following is the most likely diagnosis?",
    "Which of the following is most commonly associated with this condition?",
    "Which of the following findings would most likely be seen in this patient?",
    "What is the drug of choice used in the treatment of this condition?",
    "The first-line drug used in the treatment of this condition is:",
    "Which of the following is the best initial test?",
    "The investigation of choice is:",
    "Which of the following is the most appropriate next step in management?",
    "Which of the following is the mechanism of action of the drug used?",
    "Which of the following is the cause of this patient's symptoms?",
    "The earliest sign of this condition is:",
    "The characteristic feature of this condition is:",
    "Pathognomonic feature of measles is:",
    "The probable organism associated with the condition is-",
    "The cause of death in this case is:",
    # the blank is the one thing the set predicate is about: one answer
    "Wickham's striae are seen in:",
    "Hutchinson's incisors are a feature of:",
    "Lacunar cells are characteristic of which subtype of Hodgkin lymphoma?",
    "Cherry-red postmortem lividity is characteristically seen in poisoning with:",
    "Goodsall's rule is used in the evaluation of:",
    "It is an example of -",
    "Which finding of this patient's examination suggests the diagnosis?",
])
def test_single_answer_shapes_are_not_refused_as_many_answer(last):
    assert not many_answers(last)
    assert rule_rewrite(f"{CASE} {last}", OPTS, "Hyperkalemia").failure != "not_reformulatable"


def test_a_stem_that_shows_the_options_fails_as_a_leak():
    listed = f"{CASE} Hyperkalemia, hyponatremia or hypercalcemia? What is the most likely disturbance?"
    lettered = f"{CASE} Is the answer (A) or (B)? What is the most likely disturbance?"
    assert rule_rewrite(listed, OPTS, "Hyperkalemia").failure == "leaks_options"
    assert rule_rewrite(lettered, OPTS, "Hyperkalemia").failure == "leaks_options"
    assert {"leaks_options", "option_dependent", "answer_too_long", "not_reformulatable"} <= set(REWRITE_FAILURES)


# ---- leaked_options --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("question", [
    "Which of the options best explains this patient's condition?",
    "What is the most likely diagnosis (A) given these findings?",
    "Based on option C, what is the diagnosis?",
    "A. Hyperkalemia B. Hyponatremia - which is the most likely?",
    "What is the diagnosis?\nA) hyperkalemia\nB) hyponatremia",
    "Which is true: a) it is a quaternary amine b) it crosses the BBB",
    "Is the answer both A and B?",
    "Which of the following is the most likely diagnosis?",
    "What is the most likely diagnosis among the following?",
    "Which of these is the most likely diagnosis?",
    "Which statement is correct about this patient?",
    "None of the above explains the findings; what does?",
    "Is it hyperkalemia, hyponatremia or hypokalemia that explains these ECG findings?",
])
def test_leaked_options_flags_references_to_the_options(question):
    assert leaked_options(question, OPTS) is not None


@pytest.mark.parametrize("question", [
    "Following a car accident, a 30-year-old man has hematuria. What is the most likely diagnosis?",
    "He was vaccinated against hepatitis B. He takes vitamin A. What is the most likely diagnosis?",
    "Her blood group is type A. She was treated for hepatitis B. What is the most likely diagnosis?",
    "A 45-year-old man with E. coli bacteremia has a serum potassium of 6.8 mEq/L. What causes his hyperkalemia?",
    "Laboratory studies show the following:\nSodium 128 mEq/L\nWhat is the most likely diagnosis?",
    "On the following day, she develops fever. What is the most likely diagnosis?",
    "Which treatment options are available? What is the drug of choice for this condition?",
    "Which adverse event is this patient at risk for following initiation of this medication?",
    "A 60-year-old woman with hypercalcemia has a hilar mass. What is the most likely diagnosis?",
])
def test_leaked_options_leaves_ordinary_clinical_text_alone(question):
    assert leaked_options(question, OPTS) is None


def test_generic_option_words_in_a_vignette_are_not_a_list_of_the_options():
    options = {"A": "Increased", "B": "Decreased", "C": "Normal", "D": "Unchanged"}
    question = "Serum calcium is normal, PTH is increased and phosphate is decreased. What happens to the GFR?"
    assert leaked_options(question, options) is None


# ---- the 137 processed demo records --------------------------------------------------------------------------
def test_rule_path_on_the_demo_records():
    records = demo_records()
    assert len(records) == 137
    rewritten, passed, many = 0, 0, 0
    for r in records:
        code = prefilter(r["question"], r["options"], r["answer"], None)
        if code is not None:
            assert code in PREFILTER_REASONS
            continue
        passed += 1
        out = rule_rewrite(r["question"], r["options"], r["answer"])
        if not out.ok:
            assert out.failure in REWRITE_FAILURES and out.question is None
            many += out.failure == "not_reformulatable"
            continue
        rewritten += 1
        question, truth = out.question, out.ground_truth
        assert leaked_options(question, r["options"]) is None, question
        assert "of the following" not in question.lower(), question
        assert truth == r["options"][r["answer_idx"]].strip()
        if len(r["question"]) > 300:  # a vignette: the case details are kept verbatim
            assert question.startswith(r["question"][:200])
    # measured: 28 prefiltered, 94 of the 109 others rewritten (69% of all records, 86% of those kept); 5 refused as
    # many-answer ("associated with" x3, "can cause", "can occur because of")
    assert rewritten >= 0.65 * len(records)
    assert rewritten >= 0.8 * passed
    assert many == 5


def test_the_shipped_samples_ask_for_one_answer():
    """Their "are seen in:", "are a feature of:", "is characteristic of:" stems ask for the one disease: kept."""
    medmcqa = [(r["question"], *medmcqa_options(r)) for r in jsonl("medmcqa_sample.jsonl")]
    medqa = [(r["question"], r["options"], r["answer"]) for r in jsonl("medqa_sample.jsonl")]
    assert [q for q, options, answer in medmcqa + medqa
            if rule_rewrite(q, options, answer).failure == "not_reformulatable"] == []
