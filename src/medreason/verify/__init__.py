"""Verifiers: does a response commit to the reference answer? (temporary registry)"""
from medreason.verify.base import VerifyResult, Verifier, final_answer

def load_verifier(name, **options):
    if name == "lexical":
        from medreason.verify.lexical import LexicalVerifier
        return LexicalVerifier(**options)
    raise KeyError(name)
