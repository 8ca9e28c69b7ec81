"""How ``optim/``'s updates run fast: each parameter's update in one pass over memory.

The math (torch's formulations; checked against the textbook equations in
``tests/functions/reference_optim.py`` by ``tests/kernels/test_optim_kernels.py``, and step
for step against torch by ``tests/optim/test_optimizers.py``), with ``g`` the gradient,
negated when maximizing:

    SGD       d = g + wd p;  b = d (first step) else mu b + (1 - dampening) d
              v = d + mu b (nesterov) else b (d when mu = 0);  p = p - lr v
    Adam      g = g + wd p (Adam) or p = p (1 - lr wd) (AdamW)
              m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2;  vmax = max(vmax, v)
              p = p - step_size m / (sqrt(v or vmax) / sqrt(1 - beta2^t) + eps),
              step_size = lr / (1 - beta1^t)
    RMSprop   g = g + wd p;  s = alpha s + (1 - alpha) g^2;  a = alpha a + (1 - alpha) g
              d = sqrt(s - a^2) + eps (centered) else sqrt(s) + eps
              b = mu b + g / d;  p = p - lr b   (momentum)  else  p = p - lr g / d
    Adagrad   g = g + wd p;  s = s + g^2;  p = p - lr_t g / (sqrt(s) + eps)

NumPy runs each line as its own pass over the parameter (SGD with momentum: four passes and
a temporary); the compiled twins read p, g and the state once and write them once, in the
arrays' memory order. Every scalar is rounded to the parameter's dtype before the loop, so a
float32 update computes in float32 as NumPy does, in the same order of operations.

Each case of an update (weight decay or not, centered, momentum, amsgrad) runs its own copy of
the loop, inlined with its flags as constants: with the flags as branches inside one loop,
LLVM left RMSprop's loop scalar, about as slow as NumPy's five passes, and only timing showed
it (the speed guards in ``tests/kernels/test_optim_kernels.py`` time every case).

The arrays of one update must share one dense memory order (a parameter and the state
buffers made with ``zeros_like`` do; a gradient almost always does). When they do not, the
NumPy twin runs.

One call per parameter, not one pass over a flat buffer that all parameters view (torch's
``fused=True``). Measured on the benchmark models, a single call over a flat buffer saves the
per-call cost (a few microseconds a parameter) only if the gradients are already in a flat
buffer too; copying them there each step costs as much as it saves, and having every
backward write its gradient into a view of one buffer would reach into every layer. So the
parameters keep their own arrays, and ``load_state_dict``, ``p.data = ...``, data-parallel
gradient hooks and per-parameter state work as before.
"""
from __future__ import annotations

import math

from ..backend import xp
from . import jit, pick

# Numba has no float16 arithmetic: other floating dtypes take the NumPy twin
_COMPILED_DTYPES = (xp.dtype(xp.float32), xp.dtype(xp.float64))
from .layout import flat


def _same_dense(*arrays):
    """1-d views of arrays that share one shape, dtype and dense memory order; None otherwise."""
    first = arrays[0]
    shape, strides, dtype = first.shape, first.strides, first.dtype
    for a in arrays:
        if a.shape != shape or a.strides != strides or a.dtype != dtype:
            return None
    if dtype not in _COMPILED_DTYPES:
        return None
    if first.flags.c_contiguous:       # the common case, checked once for all (same strides)
        return [a.ravel() for a in arrays]
    views = [flat(a) for a in arrays]
    return None if views[0] is None else views


def _empty(p):
    """A zero-length stand-in for a state buffer an update does not use (one compiled signature)."""
    return xp.empty(0, p.dtype)


# -- SGD ----------------------------------------------------------------------------------------
def sgd_numpy(p, g, buf, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
              maximize=False, first=False, tmp=None):
    """In place on p (and buf when momentum > 0). ``tmp(like, slot)`` lends scratch arrays."""
    tmp = tmp or (lambda like, slot: xp.empty_like(like))
    if maximize:
        g = xp.negative(g, out=tmp(p, 3))
    if weight_decay:                                        # d = g + wd p
        g = xp.add(g, xp.multiply(p, weight_decay, out=tmp(p, 1)), out=tmp(p, 1))
    v = g
    if momentum:
        if first:
            xp.copyto(buf, g)                                  # b = d
        else:                                                  # b = mu b + (1 - dampening) d
            buf *= momentum
            buf += xp.multiply(g, 1 - dampening, out=tmp(p, 2)) if dampening else g
        v = buf
        if nesterov:                                           # v = d + mu b
            v = xp.add(g, xp.multiply(buf, momentum, out=tmp(p, 2)), out=tmp(p, 2))
    p -= xp.multiply(v, lr, out=tmp(p, 0))


@jit
def _sgd_flat(p, g, buf, lr, momentum, keep, weight_decay, nesterov, sign, first):
    t = p.dtype.type
    lr, mu, keep, wd, sign = t(lr), t(momentum), t(keep), t(weight_decay), t(sign)
    n = p.size
    l2 = weight_decay != 0.0          # skipped when 0, so an inf parameter does not make 0 * inf = nan
    # one loop per case, so each inner loop is branch-free and vectorises
    if momentum == 0.0:
        for i in range(n):
            d = sign * g[i] + wd * p[i] if l2 else sign * g[i]
            p[i] -= lr * d
    elif first:
        for i in range(n):
            d = sign * g[i] + wd * p[i] if l2 else sign * g[i]
            buf[i] = d
            v = d + mu * d if nesterov else d
            p[i] -= lr * v
    elif nesterov:
        for i in range(n):
            d = sign * g[i] + wd * p[i] if l2 else sign * g[i]
            b = mu * buf[i] + keep * d
            buf[i] = b
            p[i] -= lr * (d + mu * b)
    else:
        for i in range(n):
            d = sign * g[i] + wd * p[i] if l2 else sign * g[i]
            b = mu * buf[i] + keep * d
            buf[i] = b
            p[i] -= lr * b


def sgd_compiled(p, g, buf, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
                 maximize=False, first=False, tmp=None):
    """SGD's update (module docstring) in one compiled pass, in place on p and buf."""
    views = _same_dense(p, g, buf) if momentum else _same_dense(p, g)
    if views is None:
        return sgd_numpy(p, g, buf, lr, momentum, dampening, weight_decay, nesterov, maximize, first, tmp)
    b = views[2] if momentum else _empty(p)
    # dampening does not apply on the first step (b = d), as in torch
    _sgd_flat(views[0], views[1], b, float(lr), float(momentum), 1.0 - float(dampening), float(weight_decay),
              bool(nesterov), -1.0 if maximize else 1.0, bool(first))


# -- Adam / AdamW -------------------------------------------------------------------------------
def adam_numpy(p, g, m, v, vmax, step, lr, beta1, beta2, eps, weight_decay=0.0, decoupled=False,
               maximize=False, tmp=None):
    """In place on p, m, v (and vmax, the amsgrad maximum, unless None); ``step`` is t >= 1."""
    tmp = tmp or (lambda like, slot: xp.empty_like(like))
    if maximize:
        g = xp.negative(g, out=tmp(p, 3))
    if weight_decay:
        if decoupled:
            p *= 1 - lr * weight_decay                       # AdamW: decay the weights directly
        else:                                                # g = g + wd p
            g = xp.add(g, xp.multiply(p, weight_decay, out=tmp(p, 2)), out=tmp(p, 2))
    t0 = tmp(p, 0)
    m *= beta1                                               # m = beta1 m + (1 - beta1) g
    m += xp.multiply(g, 1 - beta1, out=t0)
    v *= beta2                                               # v = beta2 v + (1 - beta2) g^2
    sq = xp.multiply(g, g, out=t0)
    sq *= 1 - beta2
    v += sq
    if vmax is not None:
        xp.maximum(vmax, v, out=vmax)
        v = vmax
    denom = xp.sqrt(v, out=tmp(p, 1))                        # sqrt(v / (1 - beta2^t)) + eps
    denom /= math.sqrt(1 - beta2 ** step)
    denom += eps
    update = xp.divide(m, denom, out=t0)                     # p -= lr / (1 - beta1^t) m / denom
    update *= lr / (1 - beta1 ** step)
    p -= update


@jit(inline="always")
def _adam_loop(p, g, m, v, vmax, beta1, keep1, beta2, keep2, eps, wd, decay, sign, bc2_sqrt, step_size,
               l2, amsgrad):
    for i in range(p.size):
        pi = p[i] * decay                  # decay = 1 - lr wd for AdamW, 1 otherwise
        gi = sign * g[i] + wd * pi if l2 else sign * g[i]
        mi = beta1 * m[i] + keep1 * gi
        vi = beta2 * v[i] + (gi * gi) * keep2
        vhat = max(vmax[i], vi) if amsgrad else vi
        m[i] = mi                          # every load before the first store: with vmax read
        v[i] = vi                          # after m's store, amsgrad's loop ran at half speed
        if amsgrad:
            vmax[i] = vhat
        p[i] = pi - (mi / (math.sqrt(vhat) / bc2_sqrt + eps)) * step_size


@jit
def _adam_flat(p, g, m, v, vmax, beta1, keep1, beta2, keep2, eps, wd, decay, amsgrad, sign, bc2_sqrt,
               step_size):
    t = p.dtype.type
    beta1, keep1, beta2, keep2, eps, wd = t(beta1), t(keep1), t(beta2), t(keep2), t(eps), t(wd)
    decay, sign, bc2_sqrt, step_size = t(decay), t(sign), t(bc2_sqrt), t(step_size)
    # the loop inlined once per case with its flags as constants (module docstring); the
    # weight decay term is skipped when 0 (and for AdamW), as NumPy skips it
    if wd != 0 and amsgrad:
        _adam_loop(p, g, m, v, vmax, beta1, keep1, beta2, keep2, eps, wd, decay, sign, bc2_sqrt, step_size,
                   True, True)
    elif wd != 0:
        _adam_loop(p, g, m, v, vmax, beta1, keep1, beta2, keep2, eps, wd, decay, sign, bc2_sqrt, step_size,
                   True, False)
    elif amsgrad:
        _adam_loop(p, g, m, v, vmax, beta1, keep1, beta2, keep2, eps, wd, decay, sign, bc2_sqrt, step_size,
                   False, True)
    else:
        _adam_loop(p, g, m, v, vmax, beta1, keep1, beta2, keep2, eps, wd, decay, sign, bc2_sqrt, step_size,
                   False, False)


def adam_compiled(p, g, m, v, vmax, step, lr, beta1, beta2, eps, weight_decay=0.0, decoupled=False,
                  maximize=False, tmp=None):
    """Adam's / AdamW's update (module docstring) in one compiled pass."""
    views = _same_dense(p, g, m, v) if vmax is None else _same_dense(p, g, m, v, vmax)
    if views is None:
        return adam_numpy(p, g, m, v, vmax, step, lr, beta1, beta2, eps, weight_decay, decoupled, maximize, tmp)
    decay = 1 - lr * weight_decay if (decoupled and weight_decay) else 1.0
    wd = 0.0 if decoupled else float(weight_decay)
    _adam_flat(views[0], views[1], views[2], views[3], views[4] if vmax is not None else _empty(p),
               float(beta1), 1.0 - beta1, float(beta2), 1.0 - beta2, float(eps), wd, float(decay),
               vmax is not None, -1.0 if maximize else 1.0, math.sqrt(1 - beta2 ** step),
               lr / (1 - beta1 ** step))


# -- RMSprop ------------------------------------------------------------------------------------
def rmsprop_numpy(p, g, s, a, b, lr, alpha, eps, weight_decay=0.0, momentum=0.0, maximize=False, tmp=None):
    """In place on p, s, a (centered; else None) and b (momentum > 0; else None)."""
    if maximize:
        g = -g
    if weight_decay:
        g = g + weight_decay * p
    s *= alpha                                              # s = alpha s + (1 - alpha) g^2
    s += (1 - alpha) * (g * g)
    if a is not None:                                       # centered: subtract the mean's square
        a *= alpha
        a += (1 - alpha) * g
        denom = xp.sqrt(s - a * a)
    else:
        denom = xp.sqrt(s)
    denom += eps
    if b is not None:                                       # b = mu b + g / d;  p -= lr b
        b *= momentum
        b += g / denom
        p -= lr * b
    else:
        p -= lr * (g / denom)


@jit(inline="always")
def _rmsprop_loop(p, g, s, a, b, lr, alpha, keep, eps, wd, mu, sign, l2, centered, use_momentum):
    for i in range(p.size):
        gi = sign * g[i] + wd * p[i] if l2 else sign * g[i]
        si = alpha * s[i] + keep * (gi * gi)
        s[i] = si
        if centered:
            ai = alpha * a[i] + keep * gi
            a[i] = ai
            d = math.sqrt(si - ai * ai) + eps
        else:
            d = math.sqrt(si) + eps
        if use_momentum:
            bi = mu * b[i] + gi / d
            b[i] = bi
            p[i] -= lr * bi
        else:
            p[i] -= lr * (gi / d)


@jit
def _rmsprop_flat(p, g, s, a, b, lr, alpha, keep, eps, wd, momentum, centered, use_momentum, sign):
    t = p.dtype.type
    lr, alpha, keep, eps, wd, mu, sign = t(lr), t(alpha), t(keep), t(eps), t(wd), t(momentum), t(sign)
    # the loop inlined once per case with its flags as constants (module docstring)
    if wd != 0:
        _rmsprop_cases(p, g, s, a, b, lr, alpha, keep, eps, wd, mu, sign, True, centered, use_momentum)
    else:
        _rmsprop_cases(p, g, s, a, b, lr, alpha, keep, eps, wd, mu, sign, False, centered, use_momentum)


@jit(inline="always")
def _rmsprop_cases(p, g, s, a, b, lr, alpha, keep, eps, wd, mu, sign, l2, centered, use_momentum):
    if centered and use_momentum:
        _rmsprop_loop(p, g, s, a, b, lr, alpha, keep, eps, wd, mu, sign, l2, True, True)
    elif centered:
        _rmsprop_loop(p, g, s, a, b, lr, alpha, keep, eps, wd, mu, sign, l2, True, False)
    elif use_momentum:
        _rmsprop_loop(p, g, s, a, b, lr, alpha, keep, eps, wd, mu, sign, l2, False, True)
    else:
        _rmsprop_loop(p, g, s, a, b, lr, alpha, keep, eps, wd, mu, sign, l2, False, False)


def rmsprop_compiled(p, g, s, a, b, lr, alpha, eps, weight_decay=0.0, momentum=0.0, maximize=False, tmp=None):
    """RMSprop's update (module docstring) in one compiled pass."""
    views = _same_dense(p, g, s, *(x for x in (a, b) if x is not None))
    if views is None:
        return rmsprop_numpy(p, g, s, a, b, lr, alpha, eps, weight_decay, momentum, maximize, tmp)
    rest = iter(views[3:])
    av = next(rest) if a is not None else _empty(p)
    bv = next(rest) if b is not None else _empty(p)
    _rmsprop_flat(views[0], views[1], views[2], av, bv, float(lr), float(alpha), 1.0 - alpha, float(eps),
                  float(weight_decay), float(momentum), a is not None, b is not None, -1.0 if maximize else 1.0)


# -- Adagrad ------------------------------------------------------------------------------------
def adagrad_numpy(p, g, s, lr_t, eps, weight_decay=0.0, maximize=False, tmp=None):
    """In place on p and s; ``lr_t`` is this step's (decayed) learning rate."""
    if maximize:
        g = -g
    if weight_decay:
        g = g + weight_decay * p
    s += g * g                                              # s = s + g^2
    denom = xp.sqrt(s)
    denom += eps
    p -= lr_t * (g / denom)                                 # p -= lr_t g / (sqrt(s) + eps)


@jit
def _adagrad_flat(p, g, s, lr_t, eps, wd, sign):
    t = p.dtype.type
    lr_t, eps, wd, sign = t(lr_t), t(eps), t(wd), t(sign)
    l2 = wd != 0
    for i in range(p.size):
        gi = sign * g[i] + wd * p[i] if l2 else sign * g[i]
        si = s[i] + gi * gi
        s[i] = si
        p[i] -= lr_t * (gi / (math.sqrt(si) + eps))


def adagrad_compiled(p, g, s, lr_t, eps, weight_decay=0.0, maximize=False, tmp=None):
    """Adagrad's update (module docstring) in one compiled pass."""
    views = _same_dense(p, g, s)
    if views is None:
        return adagrad_numpy(p, g, s, lr_t, eps, weight_decay, maximize, tmp)
    _adagrad_flat(views[0], views[1], views[2], float(lr_t), float(eps), float(weight_decay),
                  -1.0 if maximize else 1.0)


sgd = pick(sgd_compiled, sgd_numpy)
adam = pick(adam_compiled, adam_numpy)
rmsprop = pick(rmsprop_compiled, rmsprop_numpy)
adagrad = pick(adagrad_compiled, adagrad_numpy)
