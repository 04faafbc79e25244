"""TF-IDF features of a review's records (fit on all records: unsupervised, as ASReview does).

Optionally cached as `<cache_dir>/tfidf/<key>.npz`, key = hash of every text hash + parameters
+ scikit-learn version; a corrupt or mismatching file is dropped with a CacheWarning and rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from triage.features.cache import CacheWarning, atomic_savez, hash_array


def _params(ngram_range, sublinear_tf, max_df, min_df, max_features, stop_words, n_features=None) -> dict:
    p = {"ngram_range": [int(ngram_range[0]), int(ngram_range[1])], "sublinear_tf": bool(sublinear_tf),
         "max_df": max_df, "min_df": min_df, "max_features": max_features, "stop_words": stop_words}
    if n_features:
        p["n_features"] = int(n_features)
    return p


def hashed_tfidf(texts: list[str], n_features: int, ngram_range=(1, 2), sublinear_tf: bool = True,
                 max_df: float | int = 1.0, min_df: float | int = 1, stop_words=None,
                 chunk: int = 20000) -> sp.csr_matrix:
    """TF-IDF over hashed n-grams (HashingVectorizer): no vocabulary in memory, so a million
    records fit in a few GB. Same weighting as TfidfVectorizer (smooth idf, optional sublinear tf,
    max_df/min_df on document frequency, L2 rows); hash collisions merge rare terms.
    Returns (len(texts), n_features) csr_matrix float32."""
    from sklearn.feature_extraction.text import HashingVectorizer
    from sklearn.preprocessing import normalize

    hv = HashingVectorizer(ngram_range=tuple(ngram_range), n_features=n_features, alternate_sign=False,
                           norm=None, stop_words=stop_words, dtype=np.float32)
    n = len(texts)
    parts = [sp.csr_matrix(hv.transform(texts[i:i + chunk]), dtype=np.float32) for i in range(0, n, chunk)]
    df = np.zeros(n_features, dtype=np.int64)
    for m in parts:
        df += np.bincount(m.indices, minlength=n_features)
    max_docs = max_df if isinstance(max_df, int) else max_df * n
    min_docs = min_df if isinstance(min_df, int) else min_df * n
    keep = (df <= max(max_docs, min_docs)) & (df >= min_docs)
    idf = (np.log((1 + n) / (1 + df)) + 1).astype(np.float32) * keep
    for m in parts:
        if sublinear_tf:
            np.log(m.data, out=m.data)
            m.data += 1
        m.data *= idf[m.indices]
        m.eliminate_zeros()
    out = sp.vstack(parts, format="csr", dtype=np.float32) if parts else sp.csr_matrix((0, n_features), dtype=np.float32)
    del parts
    return normalize(out, copy=False)


def tfidf_key(texts: list[str], params: dict) -> str:
    """32-hex cache key: all text hashes (in order) + parameters + scikit-learn version."""
    import sklearn
    h = hashlib.blake2b(digest_size=16)
    h.update(json.dumps([params, sklearn.__version__], sort_keys=True).encode())
    h.update(hash_array(texts).tobytes())
    return h.hexdigest()


def _checksum(key: str, m: sp.csr_matrix) -> str:
    h = hashlib.blake2b(digest_size=16)
    h.update(key.encode())
    for a in (np.asarray(m.shape, dtype=np.int64), m.indptr, m.indices, m.data):
        h.update(memoryview(np.ascontiguousarray(a)))  # no copy: matrices reach GBs
    return h.hexdigest()


def _load(path: Path, key: str, n_rows: int) -> sp.csr_matrix | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["key"]) != key:
                raise ValueError("key mismatch")
            shape = tuple(int(s) for s in z["shape"])
            m = sp.csr_matrix((z["data"], z["indices"], z["indptr"]), shape=shape)
            stored = str(z["checksum"])
        if shape[0] != n_rows or m.dtype != np.float32:
            raise ValueError(f"shape {shape} dtype {m.dtype}, expected {n_rows} rows of float32")
        if _checksum(key, m) != stored:
            raise ValueError("checksum mismatch")
        try:
            os.utime(path)  # most recently used: `prune_cache` keeps it
        except OSError:
            pass
        return m
    except Exception as e:  # noqa: BLE001 - an unreadable cache file is dropped, never trusted
        warnings.warn(f"TF-IDF cache: dropping {path} ({type(e).__name__}: {e}); recomputing",
                      CacheWarning, stacklevel=3)
        path.unlink(missing_ok=True)
        return None


def tfidf_features(texts: list[str], ngram_range: tuple[int, int] = (1, 2), sublinear_tf: bool = True,
                   max_df: float | int = 0.95, min_df: float | int = 1, max_features: int | None = None,
                   stop_words: str | list[str] | None = None, n_features: int | None = None,
                   cache_dir: str | Path | None = None) -> sp.csr_matrix:
    """(len(texts), n_terms) csr_matrix float32, rows L2-normalised (TfidfVectorizer).

    Parameters are TfidfVectorizer's. If the corpus is too small for max_df (max_df * n < min_df),
    max_df is relaxed to 1.0; if no term survives (e.g. all texts empty) the result has 0
    columns. n_features: hash n-grams into this many columns (`hashed_tfidf`) instead of keeping
    a vocabulary: for pools of 10^5-10^6 records. cache_dir: if given, read/write
    `<cache_dir>/tfidf/<key>.npz` (atomic write).
    """
    texts = list(texts)
    params = _params(ngram_range, sublinear_tf, max_df, min_df, max_features, stop_words, n_features)
    path = key = None
    if cache_dir is not None:
        key = tfidf_key(texts, params)
        path = Path(cache_dir) / "tfidf" / f"{key}.npz"
        cached = _load(path, key, len(texts))
        if cached is not None:
            return cached
    n = len(texts)
    max_docs = max_df if isinstance(max_df, int) else max_df * n
    min_docs = min_df if isinstance(min_df, int) else min_df * n
    if max_docs < min_docs:
        max_df = 1.0
    if n_features:
        m = hashed_tfidf(texts, n_features, tuple(params["ngram_range"]), sublinear_tf, max_df, min_df, stop_words)
    else:
        m = _vocabulary_tfidf(texts, params, sublinear_tf, max_df, min_df, max_features, stop_words)
    m.sort_indices()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_savez(path, data=m.data, indices=m.indices, indptr=m.indptr,
                     shape=np.asarray(m.shape, dtype=np.int64), key=np.array(key),
                     checksum=np.array(_checksum(key, m)))
    return m


def prune_cache(cache_dir: str | Path, keep: int = 2) -> int:
    """Delete all but the `keep` most recently used TF-IDF matrices in `<cache_dir>/tfidf/`;
    returns how many were deleted. Each import or question edit changes the corpus and adds
    an entry (hundreds of MB for 10^5 records), so a project keeps only its latest few."""
    entries = sorted(Path(cache_dir, "tfidf").glob("*.npz"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[keep:]:
        old.unlink(missing_ok=True)
    return max(0, len(entries) - keep)


def _vocabulary_tfidf(texts, params, sublinear_tf, max_df, min_df, max_features, stop_words) -> sp.csr_matrix:
    from sklearn.feature_extraction.text import TfidfVectorizer

    n = len(texts)
    vec = TfidfVectorizer(ngram_range=tuple(params["ngram_range"]), sublinear_tf=sublinear_tf,
                          max_df=max_df, min_df=min_df, max_features=max_features,
                          stop_words=stop_words, dtype=np.float32)
    try:
        m = sp.csr_matrix(vec.fit_transform(texts), dtype=np.float32)
    except ValueError as e:
        if "empty vocabulary" not in str(e) and "no terms remain" not in str(e):
            raise
        m = sp.csr_matrix((n, 0), dtype=np.float32)
    return m
