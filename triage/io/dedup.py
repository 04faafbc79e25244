"""Normalisation and match keys for de-duplication across and within search exports.

Two records are duplicates when they share a normalised DOI or PMID, or (failing those) a
normalised title and the same year, unless both carry DOIs that differ (an erratum, a
companion paper). Matching is exact on normalised keys: fast, explainable, and undoable.
"""

from __future__ import annotations

import html
import re
import unicodedata

_DOI_PREFIX = re.compile(r"^(?:(?:https?://)?(?:dx\.)?doi\.org/|doi:?\s*)", re.I)
_TAGS = re.compile(r"<[^>]+>")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_PMID = re.compile(r"\d{1,9}")


def normalise_doi(doi: str) -> str:
    """Lower-case DOI without resolver prefix or trailing punctuation ('' when not a DOI)."""
    doi = _DOI_PREFIX.sub("", (doi or "").strip()).strip().rstrip(".;,").lower()
    return doi if doi.startswith("10.") and "/" in doi else ""


def normalise_pmid(pmid: str) -> str:
    """Digits of a PubMed id without leading zeros ('' when none)."""
    m = _PMID.search(str(pmid or ""))
    return m.group(0).lstrip("0") if m else ""


def normalise_title(title: str) -> str:
    """Title folded for comparison: HTML tags/entities, diacritics, case, punctuation removed."""
    t = html.unescape(_TAGS.sub(" ", title or ""))
    t = unicodedata.normalize("NFKD", t)
    t = "".join(c for c in t if not unicodedata.combining(c)).lower()
    return _NON_ALNUM.sub(" ", t).strip()


def match_keys(title: str, year: int | None, doi: str, pmid: str) -> list[str]:
    """Keys under which a record may match another, strongest first.

    Titles shorter than 4 words are not matched on (too many "Editorial", "Reply" clashes)."""
    keys = []
    d = normalise_doi(doi)
    if d:
        keys.append("doi:" + d)
    p = normalise_pmid(pmid)
    if p:
        keys.append("pmid:" + p)
    t = normalise_title(title)
    if len(t.split()) >= 4:
        keys.append(f"title:{t}|{year or ''}")
    return keys
