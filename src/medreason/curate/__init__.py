"""Curation: MCQs -> verifiable open-ended problems (filters, rewrite, decontamination, split)."""
