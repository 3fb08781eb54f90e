"""Inputs worth trying on a dataset's models (the book's four fra-eng sentences and their French); no torch."""

from __future__ import annotations

# The book's four sentences (section 10.7) and its French references.
BOOK_SENTENCES = {"go .": "va !", "i lost .": "j'ai perdu .", "he's calm .": "il est calme .",
                  "i'm home .": "je suis chez moi ."}
SUGGESTED = {"fra-eng": BOOK_SENTENCES}  # dataset -> {input: its reference answer}


def suggested_inputs(data_name: str | None) -> list[str]:
    """The inputs to offer for a run on `data_name` (none for most datasets)."""
    return list(SUGGESTED.get(data_name or "", {}))


def reference(data_name: str | None, text: str) -> str | None:
    """The book's answer to one of the suggested inputs, else None."""
    return SUGGESTED.get(data_name or "", {}).get(text)
