"""The character-level language model job behind ``glassnet train --model char-lstm``.

Embedding -> LSTM -> Linear on every step, trained by the :class:`Trainer` with truncated
BPTT (``tbptt=64``: the text cut into 32 parallel streams, each one sample of one batch,
windows of 64 characters), gradient clipping at norm 5 and Adam. With no text file, the
corpus is the Python standard library's own source on this machine. A checkpoint is
written every ``checkpoint_every_seconds`` (and when the time budget ends), so a killed
run resumes where it was. Reports bits per character on held-out text
(cross-entropy / ln 2) and prints a sample.

Runs on different corpora never share a checkpoint: a text file trains into
``runs/char-lstm-<file stem>-<first 8 hex digits of the text's SHA-256>``, the default
corpus into ``runs/char-lstm``, and every checkpoint records its corpus's digest; resuming
one on other text is refused (:class:`CorpusMismatchError`).
"""
from __future__ import annotations

import hashlib
import math
import pathlib
import re
import time

from .. import backend, nn, optim
from ..autograd import grad_mode
from ..data import TensorDataset, TextCorpus, load_text
from ..io import CheckpointError, load
from ..tensor import Tensor
from .tbptt import batchify
from .trainer import Trainer

DEFAULTS = dict(embedding_dim=64, hidden_size=256, num_layers=1, batch_size=32, bptt=64, lr=2e-3, clip=5.0)
HELD_OUT_STREAMS = 16


class CorpusMismatchError(CheckpointError):
    """The run directory's checkpoint was trained on another text."""


def _model(vocab_size, config):
    from ..models import CharRNN
    return CharRNN(vocab_size, config["embedding_dim"], config["hidden_size"], config["num_layers"], "lstm")


def corpus_digest(text: str) -> str:
    """SHA-256 of the text (UTF-8), in hex: what keeps runs on different corpora apart."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def run_directory(out_dir, path, digest: str) -> pathlib.Path:
    """``out_dir/char-lstm`` for the default corpus, ``out_dir/char-lstm-<stem>-<digest[:8]>`` for a file."""
    if path is None:
        return pathlib.Path(out_dir) / "char-lstm"
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", pathlib.Path(path).stem)[:40] or "text"
    return pathlib.Path(out_dir) / f"char-lstm-{stem}-{digest[:8]}"


def lm_loss(logits, target):
    """Mean cross-entropy over every step: logits (B, T, V), target (B, T)."""
    return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1))


def stream_dataset(ids, streams: int) -> TensorDataset:
    """(L,) ids -> ``streams`` samples of inputs (n - 1,) and next-character targets (n - 1,)."""
    data = batchify(ids, streams)
    return TensorDataset(Tensor._wrap(data[:, :-1]), Tensor._wrap(data[:, 1:]))


def evaluate_bpc(model, streams, bptt: int) -> float:
    """Bits per character of ``model`` on (B, n) held-out streams (state carried, no graph)."""
    from .tbptt import windows
    model.eval()
    total, count, state = 0.0, 0, None
    with grad_mode.no_grad():
        for x, y in windows(streams, bptt):
            logits, state = model(x, state)
            loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="sum")
            total += loss.item()
            count += y.numel()
    model.train()
    return total / max(count, 1) / math.log(2)


def sample_text(model, corpus: TextCorpus, prime: str, length: int, temperature: float = 0.8,
                top_k=None, seed: int = 0, log=None) -> str:
    """``prime`` continued by ``length`` sampled characters; prime characters outside the
    vocabulary are dropped, and ``log`` (if given) is told which."""
    from ..sampling import generate
    dropped = [c for c in dict.fromkeys(prime) if c not in corpus.stoi]   # in order of appearance
    if dropped and log is not None:
        log(f"note: dropped {len(dropped)} prime character(s) outside the model's vocabulary: "
            f"{''.join(dropped)!r}")
    kept = "".join(c for c in prime if c in corpus.stoi)
    if not kept:
        kept = corpus.vocab[0]
        if log is not None and prime:
            log(f"note: no prime character is in the vocabulary; starting from {kept!r}")
    ids = generate(model, corpus.encode(kept), length, temperature=temperature, top_k=top_k, seed=seed)
    return kept + corpus.decode(ids)   # generate returns only the new ids


def _check_corpus(ckpt_path, digest: str, corpus: TextCorpus) -> None:
    if not ckpt_path.exists():
        return
    meta = load(ckpt_path).get("metadata") or {}
    if meta.get("corpus_sha256") != digest or meta.get("vocab") != "".join(corpus.vocab):
        raise CorpusMismatchError(
            f"{ckpt_path} was trained on another text (SHA-256 {str(meta.get('corpus_sha256'))[:8]}..., this one "
            f"{digest[:8]}...): resuming it would mix two corpora. Train into another directory, or start over")


SAMPLE_LENGTH = 300


def _after_training_seconds(model, held_out: TensorDataset, bptt: int):
    """(evaluation, sample) seconds: how long the held-out evaluation and the sample will
    take, from one window and one single-character step timed after a warm-up."""
    x = held_out.tensors[0]
    windows = -(-x.shape[1] // bptt)
    with grad_mode.no_grad():
        model(Tensor._wrap(x._data[:, :bptt]))
        started = time.perf_counter()
        model(Tensor._wrap(x._data[:, :bptt]))
        window = time.perf_counter() - started
        started = time.perf_counter()
        model(Tensor._wrap(x._data[:1, :1]))
        step = time.perf_counter() - started
    return window * windows, step * SAMPLE_LENGTH


def train_char_lm(path=None, minutes=None, epochs=None, lr=None, seed: int = 0, out_dir="runs", progress=None,
                  resume: bool = True, max_chars: int = 1_000_000, log=print, checkpoint_every_seconds=30.0,
                  **overrides) -> dict:
    """Train on the text at ``path`` (default: Python's stdlib sources) for ``minutes``
    (default 3, the held-out evaluation included) or ``epochs`` passes, checkpointing every
    ``checkpoint_every_seconds``; return the held-out bits per character.

    Raises CorpusMismatchError when the run directory holds a checkpoint of another text.
    """
    config = dict(DEFAULTS, **overrides)
    if lr is not None:
        config["lr"] = lr
    backend.manual_seed(seed)
    corpus = load_text(path, max_chars=max_chars)
    digest = corpus_digest(corpus.text)
    split = int(len(corpus) * 0.95)
    train = stream_dataset(corpus.data[:split], config["batch_size"])
    held_out = stream_dataset(corpus.data[split:], HELD_OUT_STREAMS)
    model = _model(corpus.vocab_size, config)
    optimizer = optim.Adam(model.parameters(), lr=config["lr"])
    run_dir = run_directory(out_dir, path, digest)
    ckpt_path = run_dir / "last.safetensors"
    if resume:
        _check_corpus(ckpt_path, digest, corpus)
    trainer = Trainer(model, optimizer, lm_loss, metrics=(), clip_grad_norm=config["clip"], tbptt=config["bptt"],
                      checkpoint_dir=run_dir, checkpoint_every_seconds=checkpoint_every_seconds, progress=progress,
                      log=log, checkpoint_metadata={"vocab": "".join(corpus.vocab), "config": config,
                                                    "corpus_sha256": digest,
                                                    "corpus": str(path) if path else "python-stdlib"})
    budget = None if epochs and minutes is None else 60 * (minutes if minutes is not None else 3.0)
    eval_s, sample_s = _after_training_seconds(model, held_out, config["bptt"]) if budget else (0.0, 0.0)
    reserve = eval_s + sample_s + 0.5
    log(f"char-lstm: {len(corpus):,} characters ({'file ' + str(path) if path else 'Python stdlib sources'}, "
        f"SHA-256 {digest[:8]}), vocabulary {corpus.vocab_size}, {sum(p.numel() for p in model.parameters()):,} "
        f"parameters; " + (f"{epochs} epochs" if epochs else "") + (" or " if epochs and budget else "")
        + (f"{budget / 60:.1f} minutes (about {reserve:.0f} s of it for the held-out evaluation and the sample)" if budget else ""))
    started = time.perf_counter()
    trainer.fit(train, epochs=epochs, batch_size=config["batch_size"], shuffle=False, resume=resume,
                max_time=None if budget is None else max(budget - reserve, 1.0))
    trained = time.perf_counter() - started
    # what is left of the budget (at least the estimate): on a machine busier than when the
    # estimate was taken, fewer held-out characters are read, and the line below says how many
    left = None if budget is None else max(budget - trained - sample_s - 0.25, 0.1)
    result = trainer.evaluate(held_out, batch_size=HELD_OUT_STREAMS, max_time=left)
    bpc = result["loss"] / math.log(2)
    total = held_out.tensors[1].numel()
    part = "" if result.get("complete", True) else f" (the first {result['targets']:,} of {total:,} characters: " \
                                                    f"the time budget ran out)"
    recent = trainer.history.get("step_loss", [])[-50:]
    if recent:      # the training text, for comparison: the mean loss of the last (up to) 50 steps
        log(f"training text: {sum(recent) / len(recent) / math.log(2):.3f} bits per character "
            f"(the last {len(recent)} steps)")
    log(f"held-out: {bpc:.3f} bits per character{part} after {trainer.global_step} steps "
        f"({trained:.0f}s training, {time.perf_counter() - started:.0f}s with the evaluation)")
    log("sample (temperature 0.8, prime 'def '):")
    log(sample_text(model, corpus, "def ", SAMPLE_LENGTH, 0.8, seed=seed))
    log(f"checkpoint: {ckpt_path}   generate more: glassnet generate --checkpoint {ckpt_path} --prime 'def '")
    return {"bpc": bpc, "steps": trainer.global_step, "checkpoint": ckpt_path, "run_dir": run_dir}


def generate_from_checkpoint(path, prime: str = "def ", length: int = 400, temperature: float = 0.8,
                             top_k=None, seed: int = 0, log=None) -> str:
    """Sample from a char-lstm checkpoint; ``log`` hears which prime characters were dropped."""
    state = load(path)
    state = dict(state, **(state.get("metadata") or {}))     # Trainer checkpoints keep them under 'metadata'
    if "vocab" not in state or "config" not in state:
        raise ValueError(f"{path} is not a char-lstm checkpoint (no vocabulary): train one with "
                         f"glassnet train --model char-lstm")
    corpus = TextCorpus(state["vocab"], vocab=list(state["vocab"]))
    model = _model(len(corpus.vocab), state["config"])
    model.load_state_dict(state["model"])
    return sample_text(model, corpus, prime, length, temperature, top_k, seed, log=log)
