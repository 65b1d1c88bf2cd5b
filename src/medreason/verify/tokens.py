"""Answer tokens for matching: two spellings of the same answer become the same token list.

Not data.schema.normalise (NFKC, case and white space, for ids and exact comparison of whole texts): this is the
verifier's much deeper folding into tokens, for answers only.

What is folded, in order: Unicode (NFKC, case, accents, Greek letters, degree and percent signs), possessives,
punctuation (hyphens and slashes separate words), thousands separators, letters glued to digits ("5mg", "LKM2"),
number words and ordinals, Roman numerals after a classifier word ("type III"), units with their conversions
("1 week" and "7 days" are both "604800 second"), British spellings, a table of common medical abbreviations
(expanded in place), simple plurals, articles, direction-word synonyms ("elevated" is "increased") and a small
synonym table. Negation and direction words are kept: they decide whether two answers agree.

Everything is applied to both the answer and the reference, so a folding only has to be consistent, not pretty.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Common clinical abbreviations, expanded wherever they stand alone. Only unambiguous ones: "MS" (multiple
# sclerosis / mitral stenosis), "PT" (prothrombin time / physical therapy) or "HR" (heart rate / hour) are left out.
ABBREVIATIONS: dict[str, str] = {
    "mi": "myocardial infarction",
    "stemi": "st elevation myocardial infarction",
    "nstemi": "non st elevation myocardial infarction",
    "acs": "acute coronary syndrome",
    "cad": "coronary artery disease",
    "chf": "congestive heart failure",
    "af": "atrial fibrillation",
    "afib": "atrial fibrillation",
    "vf": "ventricular fibrillation",
    "vt": "ventricular tachycardia",
    "svt": "supraventricular tachycardia",
    "asd": "atrial septal defect",
    "vsd": "ventricular septal defect",
    "pda": "patent ductus arteriosus",
    "tga": "transposition of great arteries",
    "tof": "tetralogy of fallot",
    "htn": "hypertension",
    "dvt": "deep vein thrombosis",
    "pe": "pulmonary embolism",
    "copd": "chronic obstructive pulmonary disease",
    "ards": "acute respiratory distress syndrome",
    "tb": "tuberculosis",
    "uti": "urinary tract infection",
    "aki": "acute kidney injury",
    "ckd": "chronic kidney disease",
    "gn": "glomerulonephritis",
    "psgn": "post streptococcal glomerulonephritis",
    "mpgn": "membranoproliferative glomerulonephritis",
    "fsgs": "focal segmental glomerulosclerosis",
    "gerd": "gastroesophageal reflux disease",
    "gord": "gastroesophageal reflux disease",
    "ibd": "inflammatory bowel disease",
    "ibs": "irritable bowel syndrome",
    "hcc": "hepatocellular carcinoma",
    "sle": "systemic lupus erythematosus",
    "dm": "diabetes mellitus",
    "dka": "diabetic ketoacidosis",
    "siadh": "syndrome of inappropriate antidiuretic hormone",
    "bph": "benign prostatic hyperplasia",
    "pid": "pelvic inflammatory disease",
    "pcos": "polycystic ovary syndrome",
    "tia": "transient ischemic attack",
    "cva": "cerebrovascular accident",
    "sah": "subarachnoid hemorrhage",
    "icp": "intracranial pressure",
    "aca": "anterior cerebral artery",
    "mca": "middle cerebral artery",
    "cme": "cystoid macular edema",
    "dic": "disseminated intravascular coagulation",
    "itp": "immune thrombocytopenic purpura",
    "ttp": "thrombotic thrombocytopenic purpura",
    "hus": "hemolytic uremic syndrome",
    "all": None,  # placeholder removed below: "all" is an English word, never an abbreviation here
    "aml": "acute myeloid leukemia",
    "cll": "chronic lymphocytic leukemia",
    "cml": "chronic myeloid leukemia",
    "hiv": "human immunodeficiency virus",
    "hpv": "human papillomavirus",
    "ebv": "epstein barr virus",
    "cmv": "cytomegalovirus",
    "hsv": "herpes simplex virus",
    "rsv": "respiratory syncytial virus",
    "mrsa": "methicillin resistant staphylococcus aureus",
    "ct": "computed tomography",
    "mri": "magnetic resonance imaging",
    "ecg": "electrocardiogram",
    "ekg": "electrocardiogram",
    "eeg": "electroencephalogram",
    "emg": "electromyography",
    "csf": "cerebrospinal fluid",
    "cbc": "complete blood count",
    "abg": "arterial blood gas",
    "ptt": "partial thromboplastin time",
    "aptt": "activated partial thromboplastin time",
    "inr": "international normalized ratio",
    "esr": "erythrocyte sedimentation rate",
    "crp": "c reactive protein",
    "alp": "alkaline phosphatase",
    "afp": "alpha fetoprotein",
    "ana": "antinuclear antibody",
    "fnac": "fine needle aspiration cytology",
    "fna": "fine needle aspiration",
    "lscs": "lower segment cesarean section",
    "nsaid": "nonsteroidal anti inflammatory drug",
    "ssri": "selective serotonin reuptake inhibitor",
    "ace": "angiotensin converting enzyme",
    "arb": "angiotensin receptor blocker",
    "ppi": "proton pump inhibitor",
    "tsh": "thyroid stimulating hormone",
    "acth": "adrenocorticotropic hormone",
    "adh": "antidiuretic hormone",
    "pth": "parathyroid hormone",
    "lh": "luteinizing hormone",
    "fsh": "follicle stimulating hormone",
    "hcg": "human chorionic gonadotropin",
    "rbc": "red blood cell",
    "wbc": "white blood cell",
    "hb": "hemoglobin",
    "hgb": "hemoglobin",
    "bp": "blood pressure",
    "iv": "intravenous",
    "im": "intramuscular",
    "sc": "subcutaneous",
    "ab": "antibody",
    "abs": "antibody",
    "ag": "antigen",
    "rt": "right",
    "lt": "left",
    "preop": "preoperative",
    "postop": "postoperative",
    "dx": "diagnosis",
    "tx": "treatment",
    "hx": "history",
    "fx": "fracture",
}
del ABBREVIATIONS["all"]

# Synonyms folded to one spelling, applied to whole tokens after everything else: international and US drug
# names, lay and clinical terms. Written as a general table (not from the audit set's answers), two-way safe:
# both the answer and the reference go through it.
SYNONYMS: dict[str, str] = {
    "paracetamol": "acetaminophen",
    "adrenaline": "epinephrine",
    "noradrenaline": "norepinephrine",
    "salbutamol": "albuterol",
    "frusemide": "furosemide",
    "lignocaine": "lidocaine",
    "pethidine": "meperidine",
    "glyceryl trinitrate": "nitroglycerin",
    "rifampicin": "rifampin",
    "aciclovir": "acyclovir",
    "ciclosporin": "cyclosporine",
    "amoxycillin": "amoxicillin",
    "heart attack": "myocardial infarction",
    "high blood pressure": "hypertension",
    "low blood pressure": "hypotension",
    "chickenpox": "varicella",
    "chicken pox": "varicella",
    "german measles": "rubella",
    "whooping cough": "pertussis",
    "fainting": "syncope",
    "shortness of breath": "dyspnea",
    "breathlessness": "dyspnea",
    "nosebleed": "epistaxis",
    "itching": "pruritus",
    "pyrexia": "fever",
    "emesis": "vomiting",
    "hair loss": "alopecia",
    "bruise": "contusion",
    "bruising": "contusion",
    "kidney stone": "nephrolithiasis",
    "renal stone": "nephrolithiasis",
    "gallstone": "cholelithiasis",
    "bone marrow suppression": "myelosuppression",
    "marrow suppression": "myelosuppression",
    "blood clot": "thrombus",
    "prior": "previous",
    "renal": "kidney",
    "hepatic": "liver",
    "cardiac": "heart",
    "gastric": "stomach",
    "cutaneous": "skin",
}

# British spellings folded to American ones, as word prefixes (haem-, oedem-, ...) or whole words.
_BRITISH_PREFIXES = (
    ("haem", "hem"), ("anaem", "anem"), ("ischaem", "ischem"), ("leukaem", "leukem"), ("septicaem", "septicem"),
    ("hypoglycaem", "hypoglycem"), ("hyperglycaem", "hyperglycem"), ("hypokalaem", "hypokalem"),
    ("hyperkalaem", "hyperkalem"), ("hyponatraem", "hyponatrem"), ("hypernatraem", "hypernatrem"),
    ("hypocalcaem", "hypocalcem"), ("hypercalcaem", "hypercalcem"), ("paed", "ped"), ("orthopaed", "orthoped"),
    ("gynaec", "gynec"), ("caesar", "cesar"), ("oedem", "edem"), ("oesophag", "esophag"), ("oestr", "estr"),
    ("foet", "fet"), ("coeliac", "celiac"), ("dyspnoea", "dyspnea"), ("apnoea", "apnea"),
    ("diarrhoea", "diarrhea"), ("amenorrhoea", "amenorrhea"), ("gonorrhoea", "gonorrhea"),
    ("tumour", "tumor"), ("labour", "labor"), ("colour", "color"), ("behaviour", "behavior"),
    ("fibre", "fiber"), ("centre", "center"), ("litre", "liter"), ("millilitre", "milliliter"),
)
_BRITISH_SUFFIXES = (("isation", "ization"), ("ise", "ize"), ("ised", "ized"), ("rrhoea", "rrhea"), ("caecal", "cecal"))

_NUMBER_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40,
    "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100,
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "single": 1, "double": 2, "triple": 3,
}
_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7, "viii": 8, "ix": 9, "x": 10, "xi": 11,
          "xii": 12}
# Words after which a Roman numeral is a number ("type iii", "cranial nerve vii") rather than a word ("iv" drip).
_ROMAN_CONTEXT = {"type", "grade", "stage", "class", "phase", "factor", "nerve", "cn", "lead", "zone", "level",
                  "group", "complex", "category", "schedule", "degree", "collagen", "mobitz", "hla"}

# unit spelling -> (canonical unit, factor into it). Only applied right after a number.
_UNITS: dict[str, tuple[str, float]] = {}
for _names, _canon, _factor in (
    (("mg", "mgs", "milligram", "milligrams"), "mg", 1.0),
    (("g", "gm", "gms", "gram", "grams", "gramme", "grammes"), "mg", 1e3),
    (("kg", "kgs", "kilogram", "kilograms", "kilo", "kilos"), "mg", 1e6),
    (("mcg", "ug", "µg", "microgram", "micrograms"), "mg", 1e-3),
    (("ng", "nanogram", "nanograms"), "mg", 1e-6),
    (("ml", "mls", "milliliter", "milliliters", "cc"), "ml", 1.0),
    (("l", "liter", "liters"), "ml", 1e3),
    (("dl", "deciliter", "deciliters"), "ml", 100.0),
    (("mm", "millimeter", "millimeters"), "mm", 1.0),
    (("cm", "centimeter", "centimeters"), "mm", 10.0),
    (("s", "sec", "secs", "second", "seconds"), "second", 1.0),
    (("min", "mins", "minute", "minutes"), "second", 60.0),
    (("h", "hr", "hrs", "hour", "hours"), "second", 3600.0),
    (("d", "day", "days"), "second", 86400.0),
    (("wk", "wks", "week", "weeks"), "second", 604800.0),
    (("mo", "month", "months"), "month", 1.0),  # months and years are not whole multiples of days
    (("y", "yr", "yrs", "year", "years"), "year", 1.0),
    (("percent",), "percent", 1.0),
    (("degree", "degrees", "deg"), "degree", 1.0),
    (("mmhg",), "mmhg", 1.0),
    (("meq", "meqs"), "meq", 1.0),
    (("mmol", "mmols"), "mmol", 1.0),
    (("iu", "ius", "unit", "units"), "unit", 1.0),
):
    for _n in _names:
        _UNITS[_n] = (_canon, _factor)

# Direction, side and polarity words: two answers that differ in one of them are different answers
# ("left" vs "right" artery, "increased" vs "decreased" LH). Synonyms fold to one spelling first.
_POLARITY_SYNONYMS = {
    "elevated": "increased", "raised": "increased", "high": "increased", "higher": "increased",
    "increase": "increased", "increasing": "increased", "rise": "increased", "rising": "increased",
    "reduced": "decreased", "low": "decreased", "lower": "decreased", "decrease": "decreased",
    "decreasing": "decreased", "diminished": "decreased", "depressed": "decreased", "reduction": "decreased",
    "lowered": "decreased",
}
CRITICAL = frozenset({
    "left", "right", "bilateral", "unilateral", "anterior", "posterior", "medial", "lateral", "superior",
    "inferior", "proximal", "distal", "upper", "internal", "external", "deep", "superficial",
    "above", "below", "increased", "decreased", "positive", "negative", "present", "absent", "normal", "abnormal",
    "acute", "chronic", "benign", "malignant", "primary", "secondary", "partial", "complete", "early", "late",
    "male", "female", "no", "not", "non", "without", "before", "after", "maternal", "paternal", "dominant",
    "recessive", "central", "peripheral", "irreversible", "reversible", "direct", "indirect",
})

ARTICLES = frozenset({"a", "an", "the"})
# Function words left out of token overlap (never negation or direction words).
STOPWORDS = ARTICLES | frozenset({
    "of", "in", "on", "at", "to", "for", "with", "by", "and", "or", "is", "are", "was", "were", "be", "been",
    "being", "this", "that", "these", "those", "it", "its", "as", "from", "which", "who", "whom", "should",
    "would", "can", "could", "may", "might", "will", "shall", "has", "have", "had", "do", "does", "did", "very",
    "also", "until", "till", "into", "onto", "than", "then", "there", "their", "his", "her", "he", "she", "they",
    "them", "we", "you", "your", "our", "my", "i", "me", "so", "such", "some", "any", "most", "more", "likely",
    "probably", "typically", "usually", "often", "due", "because", "while", "when", "where", "what", "both",
    "all", "each", "other", "use", "used", "using", "via", "per", "patient",
})

_GREEK = {"α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "κ": "kappa", "λ": "lambda", "ω": "omega",
          "µ": "micro", "μ": "micro"}
_APOSTROPHES = "'\u2019\u2018\u02bc`"


def _fold_unicode(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    for greek, word in _GREEK.items():
        text = text.replace(greek, f" {word} ")
    text = text.casefold()
    # Accents: keep the base letter (Sjögren -> sjogren).
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    text = text.replace("°", " degree ").replace("%", " percent ").replace("&", " and ").replace("+", " plus ")
    return _MICROGRAM.sub(" mcg ", text)  # "µg" became "micro g"


_MICROGRAM = re.compile(r"\bmicro\s+g\b")
_POSSESSIVE = re.compile(rf"(?<=\w)[{_APOSTROPHES}]s?\b")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_GLUED = re.compile(r"(?<=[a-z])(?=\d)|(?<=\d)(?=[a-z])")
_WORD = re.compile(r"\d+(?:\.\d+)?|[a-z]+")


def _spelling(word: str) -> str:
    for british, american in _BRITISH_PREFIXES:
        if word.startswith(british):
            return american + word[len(british):]
    for british, american in _BRITISH_SUFFIXES:
        if word.endswith(british) and len(word) > len(british) + 3:
            return word[: -len(british)] + american
    return word


def stem(word: str) -> str:
    """Simple plurals only: "arteries" -> "artery", "veins" -> "vein", "vertebrae" -> "vertebra"."""
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]
    if word.endswith("ae") and len(word) > 5:
        return word[:-1]
    if word.endswith("s") and not word.endswith(("ss", "us", "is", "ys", "os")):
        return word[:-1]
    return word


def _format_number(value: float) -> str:
    if value == int(value):
        return str(int(value))
    return f"{value:.6g}"


@lru_cache(maxsize=65536)
def tokens(text: str) -> tuple[str, ...]:
    """The folded tokens of ``text`` (articles dropped, negation and direction words kept)."""
    text = _fold_unicode(text)
    text = _POSSESSIVE.sub("", text)
    text = _THOUSANDS.sub("", text)
    text = _GLUED.sub(" ", text)
    raw = _WORD.findall(text)

    out: list[str] = []
    i = 0
    while i < len(raw):
        word = raw[i]
        if word in _NUMBER_WORDS:
            word = str(_NUMBER_WORDS[word])
        elif word in _ROMAN and out and out[-1] in _ROMAN_CONTEXT:
            word = str(_ROMAN[word])
        if _is_number(word) and i + 1 < len(raw) and raw[i + 1] in _UNITS:
            unit, factor = _UNITS[raw[i + 1]]
            out += [_format_number(float(word) * factor), unit]
            i += 2
            continue
        if word in ("st", "nd", "rd", "th") and out and _is_number(out[-1]):
            i += 1  # ordinal suffix: "1st" -> "1"
            continue
        word = _spelling(word)
        if word in ABBREVIATIONS:
            out += [stem(w) for w in ABBREVIATIONS[word].split()]
        elif word not in ARTICLES:
            out.append(_POLARITY_SYNONYMS.get(word, stem(word)))
        i += 1
    return tuple(_fold_synonyms(out))


def _fold_synonyms(words: list[str]) -> list[str]:
    """Replace each synonym phrase (longest first) by its canonical tokens."""
    table = _synonym_table()
    out: list[str] = []
    i = 0
    while i < len(words):
        for n in (3, 2, 1):
            key = tuple(words[i:i + n])
            if len(key) == n and key in table:
                out += table[key]
                i += n
                break
        else:
            out.append(words[i])
            i += 1
    return out


@lru_cache(maxsize=1)
def _synonym_table() -> dict[tuple[str, ...], list[str]]:
    # Both sides in the token form the pipeline produces (stemmed, polarity-folded: "high" is "increased").
    return {tuple(_plain_tokens(k)): _plain_tokens(v) for k, v in SYNONYMS.items()}


def _plain_tokens(text: str) -> list[str]:
    words = [_POLARITY_SYNONYMS.get(w, w) for w in _WORD.findall(_fold_unicode(text))]
    return [stem(_spelling(w)) for w in words if w not in ARTICLES]


def _is_number(word: str) -> bool:
    return bool(word) and word[0].isdigit()


def content(toks: tuple[str, ...] | list[str]) -> list[str]:
    """Tokens that carry meaning for overlap: no function words."""
    return [t for t in toks if t not in STOPWORDS]


def token_text(text: str) -> str:
    """The tokens of ``text`` joined by single spaces (for display and containment)."""
    return " ".join(tokens(text))
