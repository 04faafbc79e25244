"""RIS reader (Ovid, EBSCO, Scopus, Web of Science, EndNote, Zotero, ASReview exports).

Own line parser rather than `rispy`: on real exports rispy (0.10) silently drops the first record
of a file with a UTF-8 BOM and the last record of a file without a final `ER` (Scopus, Zotero,
truncated downloads), returns nothing for an empty file, keeps only the last value of repeated
non-list tags, and gives no line numbers for error messages. The tests check that both readers
agree on the files rispy does read (tests/unit/io/test_ris_reader.py).

Tag lines are `XY  - value` (one to three spaces before the dash, tolerated); a line without a
tag continues the previous tag's value; `TY` opens and `ER` closes a record.
"""

from __future__ import annotations

import html
import re
from typing import Iterable, Iterator
from urllib.parse import unquote

from triage.errors import ImportFormatError
from triage.io.record import LABELS, Record

TAG_LINE = re.compile(r"^([A-Z][A-Z0-9]) {1,3}-(?:[ \t]+(.*?))?\s*$")

_DOI = re.compile(r"10\.\d{4,9}/[^\s\"]+")
# '<' starting an HTML/XML tag ('</a>', '<br>', '<!--') ends a DOI; any other '<' is part of it:
# old Wiley SICI DOIs such as 10.1002/1097-4679(198901)45:1<76::aid-jclp2270450111>3.0.co;2-h
_DOI_END_TAG = re.compile(r"<[/!?A-Za-z]")
_PMID_TEXT = re.compile(r"\bPMID:?\s*(\d{1,9})\b|pubmed(?:\.ncbi\.nlm\.nih\.gov/|/)(\d{1,9})", re.I)
_YEAR = re.compile(r"(?<!\d)(1[6-9]\d\d|20\d\d)(?!\d)")
_ASREVIEW = re.compile(r"ASReview_(relevant|irrelevant|not_seen)\b")
_ASREVIEW_LABEL = {"relevant": "include", "irrelevant": "exclude", "not_seen": None}

TITLE_TAGS = ("TI", "T1", "CT", "BT")
ABSTRACT_TAGS = ("AB", "N2")
JOURNAL_TAGS = ("JF", "T2", "JO", "JA", "J2")
YEAR_TAGS = ("PY", "Y1", "DA")


def values(fields: dict, tag: str) -> list[str]:
    """All values of a tag as a list (fields hold a str for a single value, a list for repeats)."""
    v = fields.get(tag)
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def first(fields: dict, tags: Iterable[str]) -> str:
    """First non-empty value among `tags`, in that order of preference ('' if none)."""
    for tag in tags:
        for v in values(fields, tag):
            if v.strip():
                return v.strip()
    return ""


def parse_year(text: str) -> int | None:
    """Year from '2019', '2019///', '2019/05/01/', 'MAY 2019', '2021 Nov-Dec' (None if absent)."""
    m = _YEAR.search(text or "")
    return int(m.group(1)) if m else None


def find_doi(text: str) -> str:
    """The first DOI in free text or a URL ('https://doi.org/10...', 'DOI 10...'), or ''.

    SICI DOIs keep their '<...>' part; a DOI inside '<...>' or followed by an HTML tag loses
    the brackets and tag."""
    text = unquote(text or "")
    if "&" in text:  # '&lt;' in HTML-escaped exports
        text = html.unescape(text)
    m = _DOI.search(text)
    if not m:
        return ""
    doi = m.group(0)
    tag = _DOI_END_TAG.search(doi)
    if tag:
        doi = doi[:tag.start()]
    if "://" in text or "?" in doi:  # inside a URL: query string and fragment are not part of it
        doi = re.split(r"[&?#]", doi)[0]
    doi = doi.rstrip(".,;:'")
    closing = {")": "(", "]": "[", ">": "<"}
    while doi.endswith(tuple(closing)) and doi.count(doi[-1]) > doi.count(closing[doi[-1]]):
        doi = doi[:-1].rstrip(".,;:'")
    return doi


def find_pmid(text: str) -> str:
    m = _PMID_TEXT.search(text or "")
    return (m.group(1) or m.group(2)) if m else ""


def record_from_fields(fields: dict, position: int, line: int | None) -> Record:
    """Map RIS tags to a Record; `fields` (tag -> str or list of str) is kept verbatim."""
    authors = values(fields, "AU") + values(fields, "A1")
    if not authors:
        authors = values(fields, "A2")  # secondary authors (editors) only when nothing better
    doi = find_doi(first(fields, ["DO"]))
    if not doi:
        for tag in ("UR", "M3", "N1", "L2", "L3", "DI"):
            doi = next((d for d in map(find_doi, values(fields, tag)) if d), "")
            if doi:
                break
    db = " ".join(values(fields, "DB") + values(fields, "DP")).lower()
    pmid = ""
    if "medline" in db or "pubmed" in db:  # Ovid MEDLINE: the accession number is the PMID
        pmid = next((v.strip() for v in values(fields, "AN") + values(fields, "ID") if v.strip().isdigit()), "")
    if not pmid:
        for tag in ("N1", "M3", "UR", "AN", "L2"):
            pmid = next((p for p in map(find_pmid, values(fields, tag)) if p), "")
            if pmid:
                break
    label, note = None, ""
    for n in values(fields, "N1"):
        m = _ASREVIEW.search(n)
        if m:
            label = _ASREVIEW_LABEL[m.group(1)]
        m = _TRIAGE.match(n.strip())  # written by `triage export`
        if m:
            if m.group(1) == "note":
                note = m.group(2).strip()
            elif m.group(2).strip() in LABELS:
                label = m.group(2).strip()
    year = next((y for y in (parse_year(v) for t in YEAR_TAGS for v in values(fields, t)) if y), None)
    return Record(
        title=first(fields, TITLE_TAGS), abstract=first(fields, ABSTRACT_TAGS),
        authors=[a.strip() for a in authors if a.strip()], year=year, journal=first(fields, JOURNAL_TAGS),
        doi=doi, pmid=pmid, keywords=[k.strip() for k in values(fields, "KW") if k.strip()],
        fields=fields, position=position, line=line, label=label, note=note)


def add_field(fields: dict, tag: str, value: str) -> None:
    """Store a tag's value; a repeated tag (AU, KW, ...) becomes a list in file order."""
    old = fields.get(tag)
    if old is None:
        fields[tag] = value
    elif isinstance(old, list):
        old.append(value)
    else:
        fields[tag] = [old, value]


_TRIAGE = re.compile(r"^triage(?: (note|reason))?:\s*(.*)$")


def set_last(fields: dict, tag: str, value: str) -> None:
    """Replace the latest value stored for `tag` (see `add_field`)."""
    if isinstance(fields[tag], list):
        fields[tag][-1] = value
    else:
        fields[tag] = value


def last(fields: dict, tag: str) -> str:
    """The latest value stored for `tag` (see `add_field`)."""
    v = fields[tag]
    return v[-1] if isinstance(v, list) else v


def iter_tagged(lines: Iterable[tuple[int, str]], path: str) -> Iterator[tuple[dict, int, bool]]:
    """(fields, start line, cut off by the end of the file without ER) for each record of a RIS file; `lines` are (line number, text).

    Continuation lines are collected and joined once per value (linear in the value's length)."""
    fields: dict | None = None
    start = 0
    last_tag = None
    more: list[str] = []  # continuation lines of last_tag's latest value

    def flush() -> None:
        if more:
            set_last(fields, last_tag, " ".join([v for v in [last(fields, last_tag)] if v] + more))
            more.clear()

    for n, text in lines:
        m = TAG_LINE.match(text)
        if m:
            tag, value = m.group(1), (m.group(2) or "")
            if fields is not None:
                flush()
            if tag == "TY":
                if fields is not None:  # a new record before ER: close the previous one
                    yield fields, start, False  # ER missing mid-file: tolerated
                fields, start, last_tag = {"TY": value}, n, "TY"
                continue
            if fields is None:
                if tag == "ER":
                    continue  # a stray ER between records
                raise ImportFormatError(path, f"tag {tag} outside a record (no 'TY  -' line opens it)", line=n)
            if tag == "ER":
                yield fields, start, False
                fields, last_tag = None, None
                continue
            add_field(fields, tag, value)
            last_tag = tag
        elif text.strip() and fields is not None and last_tag is not None:
            # continuation of the previous tag's value (wrapped abstracts, Ovid/EndNote)
            more.append(text.strip())
        # blank lines, and text before the first TY (publisher preambles), are skipped
    if fields is not None:
        flush()
        yield fields, start, True


def parse_ris(lines: Iterable[tuple[int, str]], path: str = "<ris>") -> list[Record]:
    """Records of a RIS file, given its decoded lines as (1-based line number, text without newline).

    A last record without `ER` is kept when it has a title or abstract (real exports omit it);
    otherwise the file was cut mid-record and an ImportFormatError says so."""
    out = []
    for fields, start, at_eof in iter_tagged(lines, path):
        rec = record_from_fields(fields, len(out) + 1, start)
        if at_eof and not (rec.title or rec.abstract):
            raise ImportFormatError(
                path, f"the file ends inside record {rec.position} (no 'ER  -' line) and that record has neither "
                      "title nor abstract: the export looks truncated; download it again", line=start)
        out.append(rec)
    return out
