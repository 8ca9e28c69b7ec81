"""Generating sequences from a one-to-many model (e.g. :class:`glassnet.models.CharRNN`).

The model is any module called as ``model(ids (1, T), state) -> (logits (1, T, V), state)``.
The prime is read in one call; then each new id is fed back, one step at a time, with the
state carried forward, so generating n ids costs n single-step calls.

Choosing the next id from the last logits z (V,):
    greedy:       argmax_v z_v
    temperature:  p = softmax(z / temperature)   (< 1 sharper, > 1 flatter)
    top_k:        keep the k largest z, renormalise, sample (top_k=1 is greedy)
"""
from __future__ import annotations

from . import backend
from .autograd import grad_mode
from .backend import xp
from .tensor import Tensor

__all__ = ["generate", "sample_next"]


def sample_next(logits, temperature: float = 1.0, top_k=None, greedy: bool = False, rng=None) -> int:
    """One id from a 1-D array of logits (see the module docstring for the rules)."""
    z = xp.asarray(logits._data if isinstance(logits, Tensor) else logits, dtype=xp.float64).reshape(-1)
    if greedy or top_k == 1:
        return int(xp.argmax(z))
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature} (use greedy=True for argmax)")
    z = z / temperature
    if top_k is not None:
        if top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {top_k}")
        if top_k < z.size:
            kth = xp.partition(z, -top_k)[-top_k]
            z = xp.where(z >= kth, z, -xp.inf)
    p = xp.exp(z - z.max())
    p /= p.sum()
    rng = backend.rng() if rng is None else rng
    return int(rng.choice(z.size, p=p))


def generate(model, prime_ids, length: int, temperature: float = 1.0, top_k=None, greedy: bool = False,
             seed=None) -> list:
    """Continue ``prime_ids`` with ``length`` new ids, feeding the state forward step by step.

    Args:
        model: ``model(ids (1, T), state) -> (logits (1, T, V), state)``.
        prime_ids: the start of the sequence (list, array or 1-D Tensor of ints; at least one).
        length: how many ids to generate.
        temperature, top_k, greedy: how to pick each id (module docstring).
        seed: an int seeds a private generator (same seed, same ids); None draws from
            glassnet's global generator (``gn.manual_seed``).
    Returns:
        the ``length`` generated ids as a list of ints (the prime not included).

    The model is put in eval mode while generating (no dropout) and restored afterwards.
    """
    prime = xp.asarray(prime_ids._data if isinstance(prime_ids, Tensor) else prime_ids, dtype=xp.int64).reshape(-1)
    if prime.size == 0:
        raise ValueError("generate: prime_ids must hold at least one id")
    rng = xp.random.default_rng(seed) if seed is not None else None
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    out = []
    try:
        with grad_mode.no_grad():
            logits, state = model(Tensor._wrap(prime[None, :]), None)
            for _ in range(length):
                next_id = sample_next(logits._data[0, -1], temperature, top_k, greedy, rng)
                out.append(next_id)
                logits, state = model(Tensor._wrap(xp.asarray([[next_id]], xp.int64)), state)
    finally:
        if was_training:
            model.train()
    return out
