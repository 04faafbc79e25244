"""The text a record is represented by (title, abstract, keywords), and its hash."""

from __future__ import annotations

import hashlib


def record_text(title: str, abstract: str, keywords: list[str] | None = None) -> str:
    parts = [p.strip() for p in (title, abstract) if p and p.strip()]
    if keywords:
        parts.append("; ".join(k.strip() for k in keywords if k.strip()))
    return "\n".join(parts)


def text_hash(text: str) -> str:
    """Stable 128-bit hex digest of a text: the embedding cache key (with the model id)."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()
