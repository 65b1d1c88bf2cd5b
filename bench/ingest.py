"""Benchmark: the ingest + validate_mcq code path against a plain JSON-lines parse, at the real training-set sizes.

    python bench/ingest.py                     # full scale (what `make bench` runs); about a minute
    python bench/ingest.py --scale 0.05        # a quick try at 5% of the sizes
    python bench/ingest.py --profile /tmp/ingest.prof   # also one cProfile'd full path, top 25 to stderr

It generates, deterministically (a seeded ``random.Random``; no network, no data copied from anywhere), the two
native formats into a temporary directory:

* a MedQA USMLE JSONL file of 10,178 records (question, answer, options A-E, meta_info, answer_idx), question a
  clinical vignette of ~750 characters on average built from sentence templates and word lists;
* a MedMCQA JSON-lines file in the original release format of 182,822 records (question, exp, cop 1-4, opa..opd,
  subject_name, topic_name, id, choice_type), question ~115 and exp ~300 characters on average;

each with ~1% duplicates (exact copies, options reordered, spacing/case changed) and ~0.1% malformed lines (broken
JSON, empty question, answer out of range), so the dedup and reject paths run. Then it times, in the same process:

* parse_only: read both files and ``orjson.loads`` every line of ``bytes.split(b"\\n")`` -- nothing else; best of 3;
* the full path the ingest and validate_mcq stages run: ``ingest`` + ``write_outputs`` (temp dir) + reading the
  Parquet table back + ``mcq_suite`` + ``run_suite(docs_dir=None)`` + ``require``; best of 2, with its phases.

great_expectations, pandas and pyarrow are imported before any clock starts (``ge_import_seconds`` is reported
apart). Progress goes to stderr; the last stdout line is one JSON object with ``ratio = seconds /
parse_only_seconds`` against ``target_ratio`` 4.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")  # as the Makefile exports it

MEDQA_RECORDS = 10_178
MEDMCQA_RECORDS = 182_822
DUPLICATE_SHARE = 0.01
MALFORMED_SHARE = 0.001
TARGET_RATIO = 4
PARSE_ONLY_REPEATS = 3
FULL_PATH_REPEATS = 2


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# ---- word lists (written for this benchmark; medical-sounding, not clinically meaningful) -------------------

QUALIFIERS = (
    "acute", "chronic", "primary", "secondary", "idiopathic", "recurrent", "congenital", "autoimmune",
    "drug-induced", "post-infectious", "hereditary", "subacute", "focal", "diffuse", "bilateral", "nodular",
    "erosive", "obstructive", "reactive", "malignant", "benign", "atypical", "early-onset", "late-onset",
)
ORGANS = (
    "renal", "hepatic", "cardiac", "pulmonary", "gastric", "colonic", "pancreatic", "thyroid", "adrenal",
    "pituitary", "cerebellar", "spinal", "retinal", "cutaneous", "biliary", "esophageal", "splenic", "ovarian",
    "testicular", "prostatic", "vascular", "myocardial", "pleural", "synovial", "tubular", "glomerular",
    "vestibular", "cochlear", "laryngeal", "duodenal",
)
PATHOLOGIES = (
    "stenosis", "fibrosis", "necrosis", "hyperplasia", "carcinoma", "insufficiency", "infarction", "abscess",
    "adenoma", "lymphoma", "vasculitis", "amyloidosis", "thrombosis", "hemorrhage", "dysplasia", "atrophy",
    "sarcoidosis", "cyst", "granuloma", "ulceration", "torsion", "embolism", "aneurysm", "metaplasia",
    "calcification", "tuberculosis",
)
SYMPTOMS = (
    "fatigue", "fever", "night sweats", "weight loss", "abdominal pain", "chest pain", "shortness of breath",
    "productive cough", "hemoptysis", "nausea", "vomiting", "diarrhea", "constipation", "headache", "dizziness",
    "palpitations", "joint pain", "lower back pain", "dysuria", "hematuria", "blurred vision", "double vision",
    "tingling of the feet", "generalized weakness", "a rash", "pruritus", "swelling of the legs", "syncope",
    "difficulty swallowing", "hoarseness", "confusion", "a tremor", "muscle cramps", "excessive thirst",
    "frequent urination", "a painless neck mass", "easy bruising", "jaundice", "dark urine", "bloody stools",
)
DURATIONS = (
    "2 hours", "6 hours", "1 day", "2 days", "3 days", "5 days", "1 week", "10 days", "2 weeks", "3 weeks",
    "1 month", "6 weeks", "2 months", "3 months", "4 months", "6 months", "1 year", "2 years",
)
SETTINGS = (
    "physician", "emergency department", "clinic", "office", "urgent care center", "outpatient clinic",
)
HISTORY = (
    "type 2 diabetes mellitus", "hypertension", "hyperlipidemia", "asthma", "chronic obstructive pulmonary disease",
    "hypothyroidism", "major depressive disorder", "gastroesophageal reflux disease", "atrial fibrillation",
    "rheumatoid arthritis", "systemic lupus erythematosus", "chronic kidney disease", "HIV infection",
    "migraine", "osteoarthritis", "a seizure disorder", "sickle cell disease", "obesity", "gout", "psoriasis",
)
DRUGS = (
    "metformin", "lisinopril", "atorvastatin", "amlodipine", "levothyroxine", "omeprazole", "albuterol",
    "sertraline", "warfarin", "apixaban", "prednisone", "methotrexate", "hydrochlorothiazide", "furosemide",
    "metoprolol", "insulin glargine", "allopurinol", "gabapentin", "tamoxifen", "lithium", "valproate",
    "spironolactone", "digoxin", "amiodarone", "ciprofloxacin", "doxycycline", "azathioprine", "clopidogrel",
    "rifampin", "isoniazid", "phenytoin", "carbamazepine", "haloperidol", "clozapine", "propylthiouracil",
)
FINDINGS = (
    "a grade 3/6 holosystolic murmur at the apex", "decreased breath sounds at the right base",
    "bilateral crackles", "hepatomegaly", "splenomegaly", "a palpable purpura over the lower extremities",
    "conjunctival pallor", "scleral icterus", "pitting edema of both ankles", "a tender, enlarged thyroid gland",
    "diffuse abdominal tenderness with guarding", "an S3 gallop", "decreased sensation to pinprick below the knees",
    "hyperreflexia", "a positive Babinski sign", "a nontender, firm lymph node in the left supraclavicular fossa",
    "erythematous plaques with silvery scales", "ascites", "a friction rub", "dullness to percussion",
    "cervical motion tenderness", "papilledema", "a resting tremor of the right hand", "jugular venous distention",
)
LABS = (
    ("Hemoglobin", "g/dL", 7.0, 16.5, 1), ("Leukocyte count", "/mm3", 2500, 21000, 0),
    ("Platelet count", "/mm3", 40000, 520000, 0), ("Serum sodium", "mEq/L", 121, 149, 0),
    ("Serum potassium", "mEq/L", 2.8, 6.4, 1), ("Serum creatinine", "mg/dL", 0.5, 4.8, 1),
    ("Serum calcium", "mg/dL", 7.1, 13.2, 1), ("Glucose", "mg/dL", 55, 420, 0), ("AST", "U/L", 12, 640, 0),
    ("ALT", "U/L", 10, 710, 0), ("Total bilirubin", "mg/dL", 0.3, 9.5, 1), ("TSH", "μU/mL", 0.01, 24.0, 2),
    ("Hemoglobin A1c", "%", 4.8, 12.5, 1), ("Erythrocyte sedimentation rate", "mm/h", 5, 110, 0),
)
QUESTIONS_MEDQA = (
    "Which of the following is the most likely diagnosis?",
    "Which of the following is the most appropriate next step in management?",
    "Which of the following is the most likely underlying cause of this patient's condition?",
    "Which of the following is the most appropriate pharmacotherapy?",
    "Which of the following is the most likely mechanism of action of the drug responsible for these findings?",
    "Which of the following is most likely to have prevented this patient's condition?",
    "Which of the following additional findings is most likely in this patient?",
    "Which of the following is the strongest predisposing factor for this patient's condition?",
    "Which of the following laboratory studies is most likely to confirm the diagnosis?",
)
MECHANISMS = (
    "Inhibition of cyclooxygenase", "Blockade of beta-1 adrenergic receptors", "Inhibition of DNA gyrase",
    "Activation of antithrombin III", "Inhibition of HMG-CoA reductase", "Blockade of L-type calcium channels",
    "Inhibition of the Na-K-2Cl cotransporter", "Decreased synthesis of vitamin K-dependent factors",
    "Inhibition of thyroid peroxidase", "Antagonism of dopamine D2 receptors",
)
NERVES = (
    "Radial nerve", "Median nerve", "Ulnar nerve", "Axillary nerve", "Musculocutaneous nerve", "Facial nerve",
    "Long thoracic nerve", "Common peroneal nerve", "Tibial nerve", "Obturator nerve", "Femoral nerve",
    "Recurrent laryngeal nerve", "Hypoglossal nerve", "Phrenic nerve", "Trochlear nerve", "Abducens nerve",
)
STRUCTURES = (
    "vocal cords", "diaphragm", "deltoid", "stapedius", "tongue", "serratus anterior", "lateral rectus",
    "superior oblique", "quadriceps femoris", "adductor magnus", "tibialis anterior", "buccinator", "platysma",
    "cricothyroid", "thenar muscles", "interossei", "biceps brachii", "gastrocnemius",
)
SUBJECTS = {
    "Anatomy": ("Head & neck", "Upper limb", "Lower limb", "Thorax", "Abdomen & pelvis", "Neuroanatomy"),
    "Physiology": ("Kidney", "Cardiovascular system", "Respiratory system", "Nerve muscle physiology", "Endocrinology"),
    "Biochemistry": ("Metabolism of carbohydrates", "Vitamins", "Molecular biology", "Enzymes", "Lipids"),
    "Pathology": ("General pathology", "Hematology", "Neoplasia", "Inflammation", "Cell injury"),
    "Pharmacology": ("Autonomic nervous system", "Antimicrobials", "Cardiovascular drugs", "CNS drugs", "Chemotherapy"),
    "Microbiology": ("Bacteriology", "Virology", "Mycology", "Parasitology", "Immunology"),
    "Medicine": ("Cardiology", "Nephrology", "Gastroenterology", "Endocrinology", "Neurology", "Rheumatology"),
    "Surgery": ("Trauma", "Urology", "Vascular surgery", "Breast", "Hepatobiliary", "Endocrine surgery"),
    "Gynaecology & Obstetrics": ("Labour", "Infertility", "Gynaecological oncology", "Antenatal care"),
    "Pediatrics": ("Neonatology", "Growth and development", "Genetics", "Infectious diseases"),
    "Social & Preventive Medicine": ("Epidemiology", "Biostatistics", "Nutrition", "Communicable diseases"),
    "Forensic Medicine": ("Toxicology", "Injuries", "Identification", "Thanatology"),
    "Ophthalmology": ("Retina", "Glaucoma", "Lens", "Cornea", "Neuro-ophthalmology"),
    "ENT": ("Ear", "Nose and paranasal sinuses", "Larynx", "Pharynx"),
    "Orthopaedics": ("Fractures", "Bone tumours", "Spine", "Peripheral nerve injuries"),
    "Skin": ("Papulosquamous disorders", "Bullous disorders", "Infections", "Pigmentary disorders"),
    "Psychiatry": ("Schizophrenia", "Mood disorders", "Substance use", "Anxiety disorders"),
    "Radiology": ("Imaging of chest", "Radiotherapy", "Nuclear medicine", "Neuroradiology"),
    "Anaesthesia": ("General anaesthesia", "Local anaesthetics", "Muscle relaxants", "Airway"),
    "Dental": ("Oral pathology", "Periodontics", "Orthodontics", "Dental materials"),
}
SUBJECT_NAMES = tuple(SUBJECTS)
SUBJECT_WEIGHTS = tuple(15 if s in ("Dental", "Surgery", "Medicine", "Pathology", "Pharmacology") else 5
                        for s in SUBJECT_NAMES)


# ---- generators -----------------------------------------------------------------------------------------------

class Gen:
    """Seeded text generators; ``seen`` keeps every question unique so only the planted duplicates are duplicates."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.seen: set[str] = set()

    def condition(self) -> str:
        r = self.rng
        return f"{r.choice(QUALIFIERS)} {r.choice(ORGANS)} {r.choice(PATHOLOGIES)}"

    def option(self, kind: str) -> str:
        """An answer option of 1-6 words."""
        r = self.rng
        if kind == "drug":
            return r.choice(DRUGS).capitalize() if r.random() < 0.7 else f"{r.choice(DRUGS).capitalize()} therapy"
        if kind == "mechanism":
            return r.choice(MECHANISMS) if r.random() < 0.5 else f"{r.choice(ORGANS).capitalize()} {r.choice(PATHOLOGIES)}"
        if kind == "nerve":
            return r.choice(NERVES)
        if kind == "number":
            return f"{r.randint(1, 99)}{r.choice(('%', ' mg', ' days', ' weeks', ' years', ' mm Hg'))}"
        c = self.condition()
        return c[0].upper() + c[1:] if r.random() < 0.8 else r.choice(ORGANS).capitalize() + " " + r.choice(PATHOLOGIES)

    def options(self, n: int, kind: str) -> list[str]:
        out: list[str] = []
        keys: set[str] = set()
        while len(out) < n:
            o = self.option(kind)
            if o.casefold() not in keys:
                keys.add(o.casefold())
                out.append(o)
        return out

    def unique(self, make) -> str:
        while True:
            q = make()
            if q.casefold() not in self.seen:
                self.seen.add(q.casefold())
                return q

    # MedQA: a clinical vignette
    def vignette(self) -> str:
        r = self.rng
        target = min(2000, max(280, int(r.gauss(740, 240))))
        sex = r.choice(("man", "woman", "boy", "girl")) if r.random() < 0.15 else r.choice(("man", "woman"))
        child = sex in ("boy", "girl")
        age = r.randint(2, 16) if child else r.randint(18, 89)
        he = "He" if sex in ("man", "boy") else "She"
        his = "his" if he == "He" else "her"
        s1, s2 = r.sample(SYMPTOMS, 2)
        parts = [
            f"A {age}-year-old {sex} {r.choice(('comes to the', 'is brought to the', 'presents to the'))} "
            f"{r.choice(SETTINGS)} because of {r.choice(DURATIONS)} of {s1} and {s2}."
        ]
        s1_bare = s1.removeprefix("a ")
        # the sections of a vignette, in order; each is used at most once, optional ones are skipped at random
        sections = [
            (0.6, lambda: f"{he} has a history of {r.choice(HISTORY)}" + (f" and {r.choice(HISTORY)}." if r.random() < 0.5 else ".")),
            (0.4, lambda: f"{he} reports that the {s1_bare} {r.choice(('worsens after meals', 'is worse at night', 'improves with rest', 'began after a viral illness', 'has progressively worsened'))}."),
            (0.5, lambda: f"Current medications include {r.choice(DRUGS)} and {r.choice(DRUGS)}."),
            (0.4, lambda: f"{he} {r.choice(('has smoked one pack of cigarettes daily for', 'has had two beers daily for', 'has worked as a welder for'))} {r.randint(2, 45)} years."),
            (0.3, lambda: f"{his.capitalize()} {r.choice(('mother', 'father', 'sister', 'brother'))} was diagnosed with {self.condition()} at the age of {r.randint(30, 75)} years."),
            (1.0, lambda: f"{his.capitalize()} temperature is {r.uniform(36.1, 40.2):.1f}°C ({r.uniform(97.0, 104.4):.1f}°F), pulse is {r.randint(48, 142)}/min, respirations are {r.randint(10, 32)}/min, and blood pressure is {r.randint(78, 196)}/{r.randint(42, 118)} mm Hg."),
            (1.0, lambda: f"Physical examination shows {r.choice(FINDINGS)}" + (f" and {r.choice(FINDINGS)}." if r.random() < 0.6 else ".")),
            (0.5, lambda: f"There is {r.choice(FINDINGS)}."),
            (0.8, lambda: "Laboratory studies show: " + "; ".join(self.lab() for _ in range(r.randint(2, 7))) + "."),
            (0.5, lambda: f"{r.choice(('An x-ray of the chest', 'A CT scan of the abdomen', 'An ECG', 'An MRI of the brain', 'Ultrasonography'))} shows findings consistent with {self.condition()}."),
            (0.2, lambda: f"A biopsy specimen shows {r.choice(('noncaseating granulomas', 'atypical cells with prominent nucleoli', 'fibrinoid necrosis of arterioles', 'crescent formation', 'Reed-Sternberg cells', 'foamy macrophages'))}."),
            (0.3, lambda: f"Two days later, {he.lower()} develops {r.choice(SYMPTOMS)}; repeat examination shows {r.choice(FINDINGS)}."),
        ]
        for p, make in sections:
            if r.random() < p and sum(len(x) + 1 for x in parts) < target - 90:
                parts.append(make())
        fillers = (
            lambda: f"There is {r.choice(FINDINGS)}.",
            lambda: "Repeat laboratory studies show: " + "; ".join(self.lab() for _ in range(r.randint(2, 4))) + ".",
            lambda: f"{he} was treated with {r.choice(DRUGS)} {r.randint(2, 11)} {r.choice(('days', 'weeks', 'months'))} ago for {self.condition()}.",
        )
        while sum(len(x) + 1 for x in parts) < target - 90:
            parts.append(r.choice(fillers)())
        parts.append(r.choice(QUESTIONS_MEDQA))
        return " ".join(parts)

    def lab(self) -> str:
        name, unit, lo, hi, digits = self.rng.choice(LABS)
        v = self.rng.uniform(lo, hi)
        return f"{name} {v:,.{digits}f} {unit}" if digits else f"{name} {int(v):,} {unit}"

    def medqa(self) -> dict:
        r = self.rng
        question = self.unique(self.vignette)
        kind = "drug" if "pharmacotherapy" in question else "mechanism" if "mechanism" in question else "condition"
        texts = self.options(5, kind)
        idx = r.choice("ABCDE")
        options = dict(zip("ABCDE", texts))
        return {"question": question, "answer": options[idx], "options": options,
                "meta_info": r.choice(("step1", "step2&3")), "answer_idx": idx}

    # MedMCQA: a short question and an explanation
    def short_question(self) -> tuple[str, str]:
        r = self.rng
        templates = [
            (lambda: f"Drug of choice for {self.condition()} is:", "drug"),
            (lambda: f"A {r.randint(18, 80)}-year-old {r.choice(('man', 'woman'))} on {r.choice(DRUGS)} for {r.choice(HISTORY)} develops {r.choice(SYMPTOMS)}. Which drug is most likely responsible?", "drug"),
            (lambda: f"A patient with {self.condition()} presents with {r.choice(SYMPTOMS)} and {r.choice(FINDINGS)}. The next step in management is:", "condition"),
            (lambda: f"All of the following are features of {self.condition()} EXCEPT:", "condition"),
            (lambda: f"The most common site of {self.condition()} is:", "condition"),
            (lambda: f"Which nerve supplies the {r.choice(STRUCTURES)} in a patient with {self.condition()}?", "nerve"),
            (lambda: f"Mechanism of action of {r.choice(DRUGS)} in {self.condition()} is:", "mechanism"),
            (lambda: f"A {r.randint(18, 80)}-year-old presents with {' and '.join(r.sample(SYMPTOMS, 2))} for {r.choice(DURATIONS)}. The most likely diagnosis is:", "condition"),
            (lambda: f"Incubation period of {self.condition()} is:", "number"),
            (lambda: f"True about {self.condition()}: a) {self.condition()} b) {r.choice(SYMPTOMS)} c) {self.condition()} d) treated with {r.choice(DRUGS)}", "multi"),
            (lambda: f"{self.condition().capitalize()} is associated with which of the following?", "condition"),
            (lambda: f"Investigation of choice for {self.condition()} in {r.choice(('children', 'pregnancy', 'the elderly', 'adults'))} is:", "condition"),
        ]
        make, kind = r.choices(templates, weights=(8, 8, 10, 8, 8, 6, 8, 14, 4, 6, 8, 8))[0]
        if kind != "multi" and r.random() < 0.5:  # a context clause in front, as many real items have
            inner = make

            def make() -> str:
                q = inner()
                if q.startswith("A "):  # already a case
                    return q
                return (f"In a {r.randint(18, 80)}-year-old {r.choice(('man', 'woman'))} with {r.choice(HISTORY)} "
                        f"and {r.choice(SYMPTOMS)}, " + q[0].lower() + q[1:])
        return self.unique(make), kind

    def explanation(self) -> str:
        r = self.rng
        target = int(r.uniform(150, 400))
        pool = [
            lambda: f"{self.condition().capitalize()} is most often caused by {self.condition()} and presents with {r.choice(SYMPTOMS)}.",
            lambda: f"The treatment of choice is {r.choice(DRUGS)}; {r.choice(DRUGS)} is used when it is contraindicated.",
            lambda: f"Ref: {r.choice(('Harrison', 'Robbins', 'Bailey & Love', 'Park', 'KDT', 'Guyton', 'Gray'))} {r.randint(4, 20)}th edition, page {r.randint(12, 2400)}.",
            lambda: f"It is seen in about {r.randint(2, 90)}% of patients with {self.condition()}.",
            lambda: f"{r.choice(NERVES)} injury causes weakness of the {r.choice(STRUCTURES)}.",
        ]
        parts: list[str] = []
        while sum(len(p) + 1 for p in parts) < target:
            parts.append(r.choice(pool)())
        return " ".join(parts)

    def medmcqa(self) -> dict:
        r = self.rng
        question, kind = self.short_question()
        if kind == "multi":
            texts = r.sample(("a, b and c", "b, c and d", "a, b and d", "a and c", "b and d", "All of the above",
                              "a only", "c and d"), 4)
        else:
            texts = self.options(4, kind)
        subject = r.choices(SUBJECT_NAMES, weights=SUBJECT_WEIGHTS)[0]
        return {
            "question": question,
            "exp": None if r.random() < 0.08 else self.explanation(),
            "cop": r.randint(1, 4),
            "opa": texts[0], "opb": texts[1], "opc": texts[2], "opd": texts[3],
            "subject_name": subject,
            "topic_name": None if r.random() < 0.1 else r.choice(SUBJECTS[subject]),
            "id": str(uuid.UUID(int=r.getrandbits(128), version=4)),
            "choice_type": "multi" if kind == "multi" else "single",
        }


def respace(rng: random.Random, text: str) -> str:
    """The same text after normalisation: doubled spaces, a trailing space, or another case."""
    k = rng.randrange(3)
    if k == 0:
        words = text.split(" ")
        i = rng.randrange(len(words))
        words[i] = words[i] + " "
        return " ".join(words)
    if k == 1:
        return text + "  "
    return text.upper()


def duplicate(rng: random.Random, rec: dict, schema: str) -> dict:
    """A copy of ``rec`` that ingest must count as a duplicate (same content id, same answer)."""
    rec = json.loads(json.dumps(rec))
    k = rng.randrange(4)
    if k == 1:  # the options in another order
        if schema == "medqa":
            letters = list("ABCDE")
            texts = list(rec["options"].values())
            rng.shuffle(texts)
            rec["options"] = dict(zip(letters, texts))
            rec["answer_idx"] = next(L for L, t in rec["options"].items() if t == rec["answer"])
        else:
            keys = ("opa", "opb", "opc", "opd")
            answer = rec[keys[rec["cop"] - 1]]
            texts = [rec[k] for k in keys]
            rng.shuffle(texts)
            rec.update(zip(keys, texts))
            rec["cop"] = texts.index(answer) + 1
    elif k == 2:  # spacing or case of the question
        rec["question"] = respace(rng, rec["question"])
    if schema == "medmcqa" and k != 0:  # the real set repeats questions under new ids
        rec["id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    return rec


def malformed(rng: random.Random, rec: dict, schema: str, kind: str) -> bytes:
    if kind == "broken_json":
        line = json.dumps(rec).encode()
        return line[: rng.randrange(10, len(line) - 2)]
    rec = dict(rec)
    if kind == "empty_question":
        rec["question"] = rng.choice(("", "   "))
    elif schema == "medqa":  # answer out of range
        rec["answer_idx"] = rng.choice(("F", "G"))
        rec.pop("answer")
    else:
        rec["cop"] = rng.choice((0, 5, 7))
    return json.dumps(rec, ensure_ascii=False).encode()


def write_source(path: Path, n: int, schema: str, gen: Gen) -> dict:
    """Write ``n`` lines of ``schema`` to ``path``; return the counts ingest must report for them."""
    import orjson

    rng = gen.rng
    n_dup = max(1, round(n * DUPLICATE_SHARE))
    n_bad = max(3, round(n * MALFORMED_SHARE))
    special = rng.sample(range(1, n), n_dup + n_bad)
    dup_at = set(special[:n_dup])
    bad_kinds = ("broken_json", "empty_question", "answer_out_of_range")
    bad_at = {p: bad_kinds[i % 3] for i, p in enumerate(special[n_dup:])}
    make = gen.medqa if schema == "medqa" else gen.medmcqa
    originals: list[dict] = []
    q_chars = exp_chars = exp_n = 0
    t0 = time.perf_counter()
    with open(path, "wb") as f:
        for i in range(n):
            if i in dup_at:
                line = orjson.dumps(duplicate(rng, rng.choice(originals), schema))
            elif i in bad_at:
                line = malformed(rng, make(), schema, bad_at[i])
            else:
                rec = make()
                originals.append(rec)
                q_chars += len(rec["question"])
                if rec.get("exp"):
                    exp_chars += len(rec["exp"])
                    exp_n += 1
                line = orjson.dumps(rec)
            f.write(line + b"\n")
            if (i + 1) % 50_000 == 0:
                log(f"  {path.name}: {i + 1:,}/{n:,} lines")
    stats = {"lines": n, "kept": len(originals), "rejected": n_bad, "duplicates": n_dup,
             "bytes": path.stat().st_size, "question_mean_chars": round(q_chars / len(originals), 1)}
    if exp_n:
        stats["exp_mean_chars"] = round(exp_chars / exp_n, 1)
    log(f"  wrote {path.name}: {n:,} lines, {stats['bytes'] / 1e6:.1f} MB, {n_dup} duplicates, {n_bad} malformed, "
        f"question mean {stats['question_mean_chars']} chars in {time.perf_counter() - t0:.1f}s")
    return stats


# ---- the two timed paths --------------------------------------------------------------------------------------

def parse_only(paths: list[Path]) -> int:
    import orjson

    loads, decoded = orjson.loads, 0
    for path in paths:
        for line in path.read_bytes().split(b"\n"):
            try:
                loads(line)
                decoded += 1
            except orjson.JSONDecodeError:  # the planted broken lines and the empty tail after the last newline
                pass
    return decoded


def full_path(medqa: Path, medmcqa: Path, out: Path) -> dict:
    """What `dvc repro ingest validate_mcq` does with the data, minus MLflow logging and the HTML data docs."""
    from medreason.config import MCQValidateConfig, SourceConfig
    import pyarrow.parquet as pq

    from medreason.data.ingest import ingest, write_outputs
    from medreason.quality.runner import require, run_suite
    from medreason.quality.suites import mcq_suite

    sources = [SourceConfig(format="medqa", path=str(medqa), split="train"),
               SourceConfig(format="medmcqa", path=str(medmcqa), split="train", cop_base=1)]
    t0 = time.perf_counter()
    result = ingest(sources)
    t1 = time.perf_counter()
    write_outputs(result, out / "data" / "mcq")
    t2 = time.perf_counter()
    table = pq.read_table(out / "data" / "mcq" / "mcq.parquet")
    t3 = time.perf_counter()
    frame, checks = mcq_suite(table, MCQValidateConfig())
    t4 = time.perf_counter()
    summary = run_suite("mcq", frame, checks, docs_dir=None)
    require(summary)
    t5 = time.perf_counter()
    report = {k: result.report[k] for k in ("read", "kept", "rejected", "duplicates", "by_reason")}
    return {
        "seconds": t5 - t0, "ingest_seconds": t1 - t0, "write_seconds": t2 - t1, "read_seconds": t3 - t2,
        "suite_seconds": t5 - t3, "suite_frame_seconds": t4 - t3, "gx_run_seconds": t5 - t4,
        "report": report, "rows": summary["rows"], "expectations": summary["evaluated"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the record counts (default 1.0)")
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--profile", metavar="FILE",
                        help="after the timed runs, run the full path once more under cProfile, save the stats "
                             "to FILE and print the top 25 by cumulative and by own time to stderr")
    args = parser.parse_args()
    if args.scale <= 0:
        parser.error("--scale must be positive")

    t = time.perf_counter()
    import orjson  # noqa: F401
    import pandas  # noqa: F401
    import pyarrow  # noqa: F401
    import pyarrow.parquet  # noqa: F401
    pd_pa_import = time.perf_counter() - t
    t = time.perf_counter()
    import great_expectations  # noqa: F401
    ge_import = time.perf_counter() - t
    t = time.perf_counter()
    import medreason.data.ingest  # noqa: F401
    import medreason.quality.runner  # noqa: F401
    import medreason.quality.suites  # noqa: F401
    other_import = time.perf_counter() - t
    log(f"imports: pandas+pyarrow {pd_pa_import:.2f}s, great_expectations {ge_import:.2f}s, medreason {other_import:.2f}s")

    n_medqa = max(10, round(MEDQA_RECORDS * args.scale))
    n_medmcqa = max(10, round(MEDMCQA_RECORDS * args.scale))
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        tmp = Path(tmp)
        log(f"generating {n_medqa:,} MedQA + {n_medmcqa:,} MedMCQA lines (seed {args.seed}) in {tmp}")
        gen = Gen(random.Random(args.seed))
        medqa, medmcqa = tmp / "medqa_train.jsonl", tmp / "medmcqa_train.json"
        stats = {"medqa": write_source(medqa, n_medqa, "medqa", gen),
                 "medmcqa": write_source(medmcqa, n_medmcqa, "medmcqa", gen)}
        del gen
        gc.collect()

        parse_runs = []
        for i in range(PARSE_ONLY_REPEATS):
            t = time.perf_counter()
            decoded = parse_only([medqa, medmcqa])
            parse_runs.append(time.perf_counter() - t)
            log(f"parse-only run {i + 1}/{PARSE_ONLY_REPEATS}: {parse_runs[-1]:.3f}s ({decoded:,} objects)")

        full_runs = []
        for i in range(FULL_PATH_REPEATS):
            out = tmp / f"out{i}"
            run = full_path(medqa, medmcqa, out)
            full_runs.append(run)
            log(f"full path run {i + 1}/{FULL_PATH_REPEATS}: {run['seconds']:.2f}s (ingest {run['ingest_seconds']:.2f}, "
                f"write {run['write_seconds']:.2f}, read {run['read_seconds']:.2f}, suite {run['suite_seconds']:.2f})")
            gc.collect()

        if args.profile:
            import cProfile
            import pstats

            log(f"profiling one more full path -> {args.profile}")
            prof = cProfile.Profile()
            prof.runcall(full_path, medqa, medmcqa, tmp / "out_profile")
            prof.dump_stats(args.profile)
            for key in ("cumulative", "tottime"):
                print(f"\n==== full path, top 25 by {key} ====", file=sys.stderr)
                pstats.Stats(prof, stream=sys.stderr).sort_stats(key).print_stats(25)

    best = min(full_runs, key=lambda r: r["seconds"])
    parse_best = min(parse_runs)
    expected = {k: stats["medqa"][k] + stats["medmcqa"][k] for k in ("kept", "rejected", "duplicates")}
    got = best["report"]
    counts_match = all(got[k] == expected[k] for k in expected)
    if not counts_match:
        log(f"WARNING: ingest counts {dict((k, got[k]) for k in expected)} differ from the planted {expected}")
    r3 = lambda x: round(x, 3)  # noqa: E731
    print(json.dumps({
        "records": n_medqa + n_medmcqa,
        "medqa_records": n_medqa,
        "medmcqa_records": n_medmcqa,
        "scale": args.scale,
        "seconds": r3(best["seconds"]),
        "parse_only_seconds": r3(parse_best),
        "ratio": round(best["seconds"] / parse_best, 2),
        "target_ratio": TARGET_RATIO,
        "kept": got["kept"],
        "rejected": got["rejected"],
        "duplicates": got["duplicates"],
        "counts_match_planted": counts_match,
        "rejected_by_reason": got["by_reason"],
        "ingest_seconds": r3(best["ingest_seconds"]),
        "write_seconds": r3(best["write_seconds"]),
        "read_seconds": r3(best["read_seconds"]),
        "suite_seconds": r3(best["suite_seconds"]),
        "suite_frame_seconds": r3(best["suite_frame_seconds"]),
        "gx_run_seconds": r3(best["gx_run_seconds"]),
        "seconds_method": f"best of {FULL_PATH_REPEATS} full-path runs (phases from that run)",
        "parse_only_method": f"best of {PARSE_ONLY_REPEATS} runs: read both files, orjson.loads per line",
        "full_path_runs_seconds": [r3(r["seconds"]) for r in full_runs],
        "parse_only_runs_seconds": [r3(x) for x in parse_runs],
        "ge_import_seconds": r3(ge_import),
        "pandas_pyarrow_import_seconds": r3(pd_pa_import),
        "input_bytes": stats["medqa"]["bytes"] + stats["medmcqa"]["bytes"],
        "medqa_question_mean_chars": stats["medqa"]["question_mean_chars"],
        "medmcqa_question_mean_chars": stats["medmcqa"]["question_mean_chars"],
        "medmcqa_exp_mean_chars": stats["medmcqa"]["exp_mean_chars"],
        "python": sys.version.split()[0],
    }))


if __name__ == "__main__":
    main()
