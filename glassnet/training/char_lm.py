"""The character-level language model job behind ``glassnet train --model char-lstm``.

Embedding -> LSTM -> Linear on every step, trained with truncated BPTT (``tbptt.py``),
gradient clipping at norm 5 and Adam. With no text file, the corpus is the Python
standard library's own source on this machine. Reports bits per character on held-out
text (cross-entropy / ln 2) and prints samples as it goes.
"""
from __future__ import annotations

import math
import pathlib
import sys
import time

from .. import backend, nn, optim
from ..autograd import grad_mode
from ..data import TextCorpus, load_text
from ..io import load, save
from ..nn.utils import clip_grad_norm_
from .tbptt import batchify, detach_state, windows

DEFAULTS = dict(embedding_dim=64, hidden_size=256, num_layers=1, batch_size=32, bptt=64, lr=2e-3, clip=5.0)


def _model(vocab_size, config):
    from ..models import CharRNN
    return CharRNN(vocab_size, config["embedding_dim"], config["hidden_size"], config["num_layers"], "lstm")


def evaluate_bpc(model, streams, bptt: int) -> float:
    """Bits per character of ``model`` on (B, n) held-out streams (state carried, no graph)."""
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
                top_k=None, seed: int = 0) -> str:
    from ..sampling import generate
    prime = "".join(c for c in prime if c in corpus.stoi) or corpus.vocab[0]
    ids = generate(model, corpus.encode(prime), length, temperature=temperature, top_k=top_k, seed=seed)
    return prime + corpus.decode(ids)   # generate returns only the new ids


def train_char_lm(path=None, minutes=None, epochs=None, lr=None, seed: int = 0, out_dir="runs", progress=None,
                  resume: bool = True, max_chars: int = 1_000_000, log=print, **overrides) -> dict:
    """Train on the text at ``path`` (default: Python's stdlib sources) for ``minutes``
    (default 3) or ``epochs`` passes; save the checkpoint; return the held-out bits per char."""
    config = dict(DEFAULTS, **overrides)
    if lr is not None:
        config["lr"] = lr
    backend.manual_seed(seed)
    corpus = load_text(path, max_chars=max_chars)
    split = int(len(corpus) * 0.95)
    train = batchify(corpus.data[:split], config["batch_size"])
    held_out = batchify(corpus.data[split:], 4)
    model = _model(corpus.vocab_size, config)
    optimizer = optim.Adam(model.parameters(), lr=config["lr"])
    run_dir = pathlib.Path(out_dir) / "char-lstm"
    ckpt_path = run_dir / "last.safetensors"
    step, epoch_done = 0, 0
    if resume and ckpt_path.exists():
        state = load(ckpt_path)
        if state.get("vocab") == "".join(corpus.vocab):
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            step, epoch_done = int(state["step"]), int(state["epoch"])
            log(f"resumed from {ckpt_path} at step {step}")
    budget = None if epochs else 60 * (minutes if minutes is not None else 3.0)
    total_epochs = epochs or 10**9
    log(f"char-lstm: {len(corpus):,} characters ({'file ' + str(path) if path else 'Python stdlib sources'}), "
        f"vocabulary {corpus.vocab_size}, {sum(p.numel() for p in model.parameters()):,} parameters; "
        + (f"{epochs} epochs" if epochs else f"{budget / 60:.1f} minutes"))
    show = sys.stderr.isatty() if progress is None else progress
    bar = None
    if show:
        from tqdm.auto import tqdm
        bar = tqdm(total=int(budget) if budget else None, unit="s" if budget else "step", leave=False)
    started = last_report = time.perf_counter()
    running = None
    finished = False
    while epoch_done < total_epochs and not finished:
        state = None
        for x, y in windows(train, config["bptt"]):
            logits, state = model(x, state)
            loss = nn.functional.cross_entropy(logits.reshape(-1, corpus.vocab_size), y.reshape(-1))
            optimizer.zero_grad()
            loss.backward()
            norm = float(clip_grad_norm_(model.parameters(), config["clip"]))
            if not (math.isfinite(loss.item()) and math.isfinite(norm)):
                raise RuntimeError(f"char-lstm: loss {loss.item()} / gradient norm {norm} at step {step + 1}: "
                                   f"stopped; lower the learning rate")
            optimizer.step()
            state = detach_state(state)   # truncate: the next window's gradient stops here
            step += 1
            running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
            now = time.perf_counter()
            if bar is not None:
                bar.n = int(now - started) if budget else step
                bar.set_postfix(loss=f"{running:.3f}", bpc=f"{running / math.log(2):.2f}")
                bar.refresh()
            if now - last_report > 30:
                last_report = now
                log(f"step {step}: train loss {running:.3f} ({running / math.log(2):.2f} bits/char), "
                    f"grad norm before clipping {norm:.2f}")
            if budget is not None and now - started > budget:
                finished = True
                break
        else:
            epoch_done += 1
    if bar is not None:
        bar.close()
    bpc = evaluate_bpc(model, held_out, config["bptt"])
    save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "vocab": "".join(corpus.vocab),
          "config": config, "step": step, "epoch": epoch_done, "held_out_bpc": bpc}, ckpt_path)
    log(f"held-out: {bpc:.3f} bits per character after {step} steps ({time.perf_counter() - started:.0f}s)")
    log("sample (temperature 0.8, prime 'def '):")
    log(sample_text(model, corpus, "def ", 300, 0.8, seed=seed))
    log(f"checkpoint: {ckpt_path}   generate more: glassnet generate --checkpoint {ckpt_path} --prime 'def '")
    return {"bpc": bpc, "steps": step, "checkpoint": ckpt_path}


def generate_from_checkpoint(path, prime: str = "def ", length: int = 400, temperature: float = 0.8,
                             top_k=None, seed: int = 0) -> str:
    state = load(path)
    if "vocab" not in state or "config" not in state:
        raise ValueError(f"{path} is not a char-lstm checkpoint (no vocabulary): train one with "
                         f"glassnet train --model char-lstm")
    corpus = TextCorpus(state["vocab"], vocab=list(state["vocab"]))
    model = _model(len(corpus.vocab), state["config"])
    model.load_state_dict(state["model"])
    return sample_text(model, corpus, prime, length, temperature, top_k, seed)
