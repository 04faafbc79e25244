"""PubMed/MEDLINE reader (.nbib / .txt as saved from PubMed "Send to: Citation manager").

A record starts at `PMID- `; a tag is up to 4 characters padded with spaces, then `- `; lines
indented by spaces continue the previous tag's value; blank lines separate records.
"""

from __future__ import annotations

import re
from typing import Iterable

from triage.errors import ImportFormatError
from triage.io.record import Record
from triage.io.ris import add_field, last, parse_year, set_last, values

TAG_LINE = re.compile(r"^([A-Z][A-Z0-9]{0,3}) {0,3}- ?(.*?)\s*$")
_BRACKETED = re.compile(r"^(.*?)\s*\[(\w+)\]\s*$")


def _ids(fields: dict, kind: str) -> list[str]:
    """Identifiers of one kind from AID/LID values such as '10.1016/j.x.2019.1 [doi]'."""
    out = []
    for v in values(fields, "AID") + values(fields, "LID"):
        m = _BRACKETED.match(v)
        if m and m.group(2).lower() == kind:
            out.append(m.group(1))
    return out


def record_from_fields(fields: dict, position: int, line: int | None) -> Record:
    """Map MEDLINE tags to a Record; `fields` (tag -> str or list of str) is kept verbatim."""
    def one(*tags: str) -> str:
        return next((v.strip() for t in tags for v in values(fields, t) if v.strip()), "")

    authors = values(fields, "FAU") or values(fields, "AU")
    dois = _ids(fields, "doi")
    return Record(
        title=one("TI", "BTI", "VTI"), abstract=one("AB"), authors=[a.strip() for a in authors],
        year=parse_year(one("DP", "DEP", "EDAT")), journal=one("JT", "TA"), doi=dois[0] if dois else "",
        pmid=one("PMID"), keywords=[k.strip() for k in values(fields, "OT") + values(fields, "MH") if k.strip()],
        fields=fields, position=position, line=line)


def parse_medline(lines: Iterable[tuple[int, str]], path: str = "<medline>") -> list[Record]:
    """Records of a MEDLINE file, given its decoded lines as (1-based line number, text).

    Continuation lines are collected and joined once per value (linear in the value's length)."""
    out: list[Record] = []
    fields: dict | None = None
    start = 0
    last_tag = None
    more: list[str] = []  # continuation lines of last_tag's latest value

    def flush() -> None:
        if more:
            set_last(fields, last_tag, " ".join([last(fields, last_tag)] + more).strip())
            more.clear()

    def close() -> None:
        flush()
        out.append(record_from_fields(fields, len(out) + 1, start))

    for n, text in lines:
        if not text.strip():
            continue
        if text[:1] == " ":
            if fields is None or last_tag is None:
                raise ImportFormatError(path, "indented continuation line outside a record", line=n)
            more.append(text.strip())
            continue
        m = TAG_LINE.match(text)
        if not m:
            raise ImportFormatError(path, f"not a MEDLINE tag line: {text[:40]!r}", line=n)
        tag, value = m.group(1), m.group(2)
        if tag == "PMID":
            if fields is not None:
                close()
            fields, start = {}, n
        elif fields is None:
            raise ImportFormatError(path, f"tag {tag} before the first 'PMID- ' line", line=n)
        flush()
        add_field(fields, tag, value)
        last_tag = tag
    if fields is not None:
        close()
    return out
