"""Recurrent layers, one primitive per layer direction over the whole sequence.

Each primitive (``RNN``, ``LSTM``, ``GRU``) runs backpropagation through time written out:

* forward: the input projection of all steps is ONE matrix product, x (T*N, I) @ W_ih^T
  (one batched GEMM that also lays the result out gate by gate, see below); then a
  single loop over time does one fused matmul per step, h_{t-1} @ W_hh^T (N, G*H), giving
  the pre-activations of all gates at once, and applies the gate nonlinearities in place
  on preallocated buffers (nothing big is allocated per step);
* backward: the loop walks time in reverse, carrying dh (and dc) from step t to t-1 and
  writing each step's dz (the gradient w.r.t. the gate pre-activations) into a
  preallocated (T, N, G*H) buffer; after the loop the weight gradients are single GEMMs
  over the stacked sequence: dW_hh = sum_t dz_t^T h_{t-1} = dZ^T @ H_prev,
  dW_ih = dZ^T @ X, db = sum of dZ.

Layout: ``x`` is time-major (T, N, I); ``h0``/``c0`` are (N, H); weights as torch:
W_ih (G*H, I), W_hh (G*H, H), b_ih and b_hh (G*H,) with G = 1 (RNN), 4 (LSTM: i, f, g, o),
3 (GRU: r, z, n). Outputs: y (T, N, H) (the hidden state at every step), h_n (N, H),
and for the LSTM c_n (N, H).

Variable lengths (glassnet's stand-in for torch's packed sequences): ``lengths`` (N,)
gives each sequence's number of valid steps. The loop walks the batch sorted by
decreasing length, so the sequences still running at step t are the first ``b_t`` rows
and every step works on the slice ``[:b_t]`` (as a packed sequence does); the others keep
their state unchanged. Hence h_n is each sequence's state at its last valid step, padded
steps output zeros and receive no gradient. ``reverse=True`` runs the sequence
backwards, each one flipped within its own length, so it starts at its last valid step.

Speed notes (each keeps the arithmetic above, only the memory layout changes):

* sigmoid gates are computed as sigma(z) = (1 + tanh(z/2)) / 2, which never overflows;
  their weight rows are pre-scaled by 1/2 (exact in floating point), so one in-place
  ``tanh`` over all gates of a step serves both kinds of gate;
* the activated gates are stored gate-major, (G, T, N, H), so each gate of a step is one
  contiguous (N, H) block: NumPy's elementwise ops are several times slower on the
  column slices of an (N, G*H) row. The gate gradients are computed in such blocks too
  and copied into the row-major dZ that the GEMMs want;
* the bias is folded into the input projection as a column of ones appended to x, so
  db comes out of the dW_ih GEMM as its last column.
"""
from __future__ import annotations

from ..autograd.function import Function
from ..backend import xp


class _Steps:
    """The map between the caller's (T, N, ...) layout and the order the time loop walks."""

    def __init__(self, T, N, lengths, reverse):
        self.T, self.N, self.reverse = T, N, bool(reverse)
        if lengths is None:
            self.order = None
            self.sizes = [N] * T
            return
        lengths = xp.asarray(lengths, dtype=xp.int64)
        order = xp.argsort(-lengths, kind="stable")           # longest first
        L = lengths[order]
        t = xp.arange(T)[:, None]
        self.order = order
        self.sizes = [int(b) for b in (L[None, :] > t).sum(axis=1)]  # sequences alive at step t
        # source time index of step t: t itself, or L-1-t when flipped within the length
        self.t_src = xp.where(t < L, L - 1 - t, t) if self.reverse else xp.broadcast_to(t, (T, N))
        self.n_src = order[None, :]
        self.pad = t >= lengths[None, :]                       # (T, N) caller layout

    def gather(self, a):
        """Caller layout (T, N, ...) -> step order."""
        if self.order is None:
            return a[::-1] if self.reverse else a
        return a[self.t_src, self.n_src]

    def scatter(self, a):
        """Step order (T, N, ...) -> caller layout (the inverse permutation of ``gather``)."""
        if self.order is None:
            return a[::-1] if self.reverse else a
        out = xp.empty_like(a)
        out[self.t_src, self.n_src] = a
        return out

    def sort(self, h):
        """(N, ...) batch -> step order (a fresh, writable array)."""
        return h.copy() if self.order is None else h[self.order]

    def unsort(self, h):
        if self.order is None:
            return h
        out = xp.empty_like(h)
        out[self.order] = h
        return out

    def outputs(self, Hs):
        """y in caller layout from the states H[1:] in step order; zero at padded steps."""
        y = self.scatter(Hs)
        if self.order is not None:
            y[self.pad] = 0
        return y


def _sum_bias(b_ih, b_hh):
    if b_ih is None:
        return b_hh
    return b_ih if b_hh is None else b_ih + b_hh


def _gate_scale(pattern, H, dtype):
    """Per-row factors: 0.5 for sigmoid gates (see the module docstring), 1 for tanh gates."""
    return xp.repeat(xp.asarray(pattern, dtype), H)


def _sigmoid_from_tanh(a):
    """In place: a holds tanh(z/2); afterwards sigma(z) = (1 + tanh(z/2)) / 2."""
    a *= 0.5
    a += 0.5


def _times_sigmoid_grad(d, s, tmp):
    """In place d *= s (1 - s), the derivative of the sigmoid in terms of its output s."""
    xp.subtract(1, s, out=tmp)
    tmp *= s
    d *= tmp


def _times_tanh_grad(d, a, tmp):
    """In place d *= 1 - a^2, the derivative of tanh in terms of its output a."""
    xp.multiply(a, a, out=tmp)
    xp.subtract(1, tmp, out=tmp)
    d *= tmp


def _rows(blocks):
    """(G, b, H) gate blocks seen as the (b, G, H) rows of an (b, G*H) matrix (a strided view)."""
    return blocks.transpose(1, 0, 2)


class _Recurrent(Function):
    gates = 1

    def _start(self, x, W_ih, W_hh, bias, scale, lengths, reverse):
        """Shared set-up: step order, inputs [x_t | 1], the projected inputs (G, T, N, H)."""
        T, N, I = x.shape
        G, H = self.gates, W_hh.shape[1]
        dtype = xp.result_type(x, W_hh)
        s = self.steps = _Steps(T, N, lengths, reverse)
        X1 = self.X1 = xp.empty((T * N, I + (bias is not None)), dtype)    # step-order [x_t | 1]
        X1[:, :I] = s.gather(x).reshape(T * N, I)
        Wx = W_ih
        if bias is not None:
            X1[:, I] = 1
            Wx = xp.concatenate([W_ih, bias[:, None]], axis=1)
        # (G, T*N, H) = [x | 1] [W_g | b_g]^T for every gate g: one batched GEMM, gate-major
        Wg = (Wx * scale[:, None]).reshape(G, H, -1).transpose(0, 2, 1)
        Z = xp.empty((G, T, N, H), dtype)
        xp.matmul(X1, Wg, out=Z.reshape(G, T * N, H))
        self.W_ih, self.W_hh, self.I = W_ih, W_hh, I
        WhT = xp.ascontiguousarray((W_hh * scale[:, None]).T)   # (H, G*H)
        return T, N, H, dtype, Z, WhT

    def _state_buffer(self, T, N, H, dtype, s0):
        S = xp.empty((T + 1, N, H), dtype)
        S[0] = 0 if s0 is None else self.steps.sort(s0)
        return S

    @staticmethod
    def _carry(S, t, b):
        if b < S.shape[1]:        # finished sequences keep their state
            S[t + 1, b:] = S[t, b:]

    def _weight_grads(self, dZ, Hs, need_x, need_W_ih, need_W_hh, need_b):
        """From the row-major dZ (T, N, G*H) in step order, with single GEMMs over the sequence:

            dW_ih | db = dZ^T [X | 1]     dW_hh = dZ^T H_prev     dx = dZ W_ih
        """
        (T, N, GH), I = dZ.shape, self.I
        dZ2 = dZ.reshape(T * N, GH)
        dx = dW_ih = dW_hh = db = None
        if need_W_ih or (self.has_bias and need_b):
            dWa = dZ2.T @ self.X1
            dW_ih = dWa[:, :I] if need_W_ih else None
            db = dWa[:, I].copy() if self.has_bias else None
        if need_W_hh:
            dW_hh = dZ2.T @ Hs[:-1].reshape(T * N, -1)
        if need_x:
            dx = self.steps.scatter((dZ2 @ self.W_ih).reshape(T, N, I))
        return dx, dW_ih, dW_hh, db



class RNN(_Recurrent):
    """Elman RNN over a sequence:  h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh).

    act is tanh (``nonlinearity='tanh'``) or relu. Inputs x (T, N, I), h0 (N, H) or None,
    W_ih (H, I), W_hh (H, H), b_ih, b_hh (H,) or None -> y (T, N, H), h_n (N, H).
    """

    def forward(self, x, h0, W_ih, W_hh, b_ih=None, b_hh=None, nonlinearity="tanh", lengths=None,
                reverse=False):
        self.relu, self.has_bias = nonlinearity == "relu", b_ih is not None or b_hh is not None
        one = xp.ones(W_hh.shape[0], xp.result_type(x, W_hh))
        T, N, H, dtype, Z, WhT = self._start(x, W_ih, W_hh, _sum_bias(b_ih, b_hh), one, lengths, reverse)
        s = self.steps
        Hs = self.H = self._state_buffer(T, N, H, dtype, h0)
        hW = xp.empty((N, H), dtype)
        for t, b in enumerate(s.sizes):
            self._carry(Hs, t, b)
            z = Z[0, t, :b]
            z += xp.matmul(Hs[t, :b], WhT, out=hW[:b])
            if self.relu:
                xp.maximum(z, 0, out=Hs[t + 1, :b])
            else:
                xp.tanh(z, out=Hs[t + 1, :b])
        return s.outputs(Hs[1:]), s.unsort(Hs[T])

    def backward(self, dy, dh_n):
        # h_t = tanh(z_t), z_t = x_t U + h_{t-1} W + b (U = W_ih^T, W = W_hh^T). h_t feeds the
        # output y_t and the next step, so dh_t = dy_t + dh_{t+1->t} and
        #   dz_t = dh_t * (1 - h_t^2)       (relu: dh_t * [h_t > 0])
        #   dh_{t-1} = dz_t W^T             (the part carried to the previous step)
        # and the weights sum over steps: dW_hh = sum_t dz_t^T h_{t-1}, dW_ih = sum_t dz_t^T x_t.
        s, Hs = self.steps, self.H
        T, N, H = Hs.shape[0] - 1, Hs.shape[1], Hs.shape[2]
        dy_s = s.gather(dy)
        dh = s.sort(dh_n)
        dZ = (xp.zeros if s.order is not None else xp.empty)((T, N, H), Hs.dtype)
        tmp = xp.empty((N, H), Hs.dtype)
        for t in range(T - 1, -1, -1):
            b = s.sizes[t]
            if b == 0:
                continue
            dh_b, h, dz, tmp_b = dh[:b], Hs[t + 1, :b], dZ[t, :b], tmp[:b]
            dh_b += dy_s[t, :b]
            if self.relu:
                xp.multiply(dh_b, h > 0, out=dz)
            else:
                xp.multiply(h, h, out=tmp_b)
                xp.subtract(1, tmp_b, out=tmp_b)
                xp.multiply(dh_b, tmp_b, out=dz)
            xp.matmul(dz, self.W_hh, out=dh_b)
        need = self.needs_input_grad
        dx, dW_ih, dW_hh, db = self._weight_grads(dZ, Hs, need[0], need[2], need[3], need[4] or need[5])
        return (dx, s.unsort(dh) if need[1] else None, dW_ih, dW_hh,
                db if need[4] else None, db.copy() if need[5] else None)


class LSTM(_Recurrent):
    """Long short-term memory over a sequence (torch's gate order i, f, g, o):

        i_t = sigma(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)     input gate
        f_t = sigma(W_if x_t + b_if + W_hf h_{t-1} + b_hf)     forget gate
        g_t = tanh (W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)     candidate cell
        o_t = sigma(W_io x_t + b_io + W_ho h_{t-1} + b_ho)     output gate
        c_t = f_t * c_{t-1} + i_t * g_t
        h_t = o_t * tanh(c_t)

    Inputs x (T, N, I), h0, c0 (N, H) or None, W_ih (4H, I), W_hh (4H, H), biases (4H,)
    -> y (T, N, H), h_n (N, H), c_n (N, H).
    """

    gates = 4

    def forward(self, x, h0, c0, W_ih, W_hh, b_ih=None, b_hh=None, lengths=None, reverse=False):
        self.has_bias = b_ih is not None or b_hh is not None
        half = _gate_scale([0.5, 0.5, 1, 0.5], W_hh.shape[1], xp.result_type(x, W_hh))
        # Z[:, t] holds z/2 for i, f, o and z for g; then, in place, the activated gates
        T, N, H, dtype, Z, WhT = self._start(x, W_ih, W_hh, _sum_bias(b_ih, b_hh), half, lengths, reverse)
        s, self.Z = self.steps, Z
        Hs = self.H = self._state_buffer(T, N, H, dtype, h0)
        Cs = self.C = self._state_buffer(T, N, H, dtype, c0)
        TC = self.TC = xp.empty((T, N, H), dtype)               # tanh(c_t)
        hW, ig = xp.empty((N, 4 * H), dtype), xp.empty((N, H), dtype)
        for t, b in enumerate(s.sizes):
            self._carry(Hs, t, b)
            self._carry(Cs, t, b)
            z = Z[:, t, :b]
            xp.matmul(Hs[t, :b], WhT, out=hW[:b])                # all four gates, one GEMM
            z += _rows(hW[:b].reshape(b, 4, H))
            xp.tanh(z, out=z)
            _sigmoid_from_tanh(Z[:2, t, :b])                     # i, f
            _sigmoid_from_tanh(Z[3, t, :b])                      # o
            i, f, g, o = Z[0, t, :b], Z[1, t, :b], Z[2, t, :b], Z[3, t, :b]
            c = Cs[t + 1, :b]
            xp.multiply(f, Cs[t, :b], out=c)
            c += xp.multiply(i, g, out=ig[:b])
            xp.multiply(o, xp.tanh(c, out=TC[t, :b]), out=Hs[t + 1, :b])
        return s.outputs(Hs[1:]), s.unsort(Hs[T]), s.unsort(Cs[T])

    def backward(self, dy, dh_n, dc_n):
        # h_t = o * tanh(c_t):       do = dh tanh(c_t),  dc_t += dh o (1 - tanh(c_t)^2)
        # c_t = f c_{t-1} + i g:     di = dc g,  df = dc c_{t-1},  dg = dc i,
        #                            dc_{t-1} = dc f   (the gradient highway through the cell)
        # through the gate activations: dz_i = di i(1-i), dz_f = df f(1-f), dz_o = do o(1-o),
        # dz_g = dg (1-g^2); then dh_{t-1} = dz W_hh (all four gates at once) and, after the
        # loop, dW_hh = sum_t dz_t^T h_{t-1}, dW_ih = sum_t dz_t^T x_t, db = sum_t dz_t.
        s, Z, Hs, Cs, TC = self.steps, self.Z, self.H, self.C, self.TC
        T, N, H = TC.shape
        dy_s = s.gather(dy)
        dh, dc = s.sort(dh_n), s.sort(dc_n)
        dZ = (xp.zeros if s.order is not None else xp.empty)((T, N, 4 * H), Hs.dtype)
        D, tmp = xp.empty((4, N, H), Hs.dtype), xp.empty((N, H), Hs.dtype)   # one step's dz, gate-major
        for t in range(T - 1, -1, -1):
            b = s.sizes[t]
            if b == 0:
                continue
            dh_b, dc_b, tc, tmp_b = dh[:b], dc[:b], TC[t, :b], tmp[:b]
            i, f, g, o = Z[0, t, :b], Z[1, t, :b], Z[2, t, :b], Z[3, t, :b]
            di, df, dg, do = D[0, :b], D[1, :b], D[2, :b], D[3, :b]
            dh_b += dy_s[t, :b]
            xp.multiply(dh_b, tc, out=do)
            xp.multiply(dh_b, o, out=tmp_b)
            _times_tanh_grad(tmp_b, tc, di)                      # di is free scratch here
            dc_b += tmp_b
            xp.multiply(dc_b, g, out=di)
            xp.multiply(dc_b, Cs[t, :b], out=df)
            xp.multiply(dc_b, i, out=dg)
            dc_b *= f
            _times_sigmoid_grad(di, i, tmp_b)
            _times_sigmoid_grad(df, f, tmp_b)
            _times_sigmoid_grad(do, o, tmp_b)
            _times_tanh_grad(dg, g, tmp_b)
            dz = dZ[t, :b]
            _rows(dz.reshape(b, 4, H))[...] = D[:, :b]          # into the row-major (b, 4H) dz_t
            xp.matmul(dz, self.W_hh, out=dh_b)                   # dh_{t-1}: all four gates, one GEMM
        need = self.needs_input_grad
        dx, dW_ih, dW_hh, db = self._weight_grads(dZ, Hs, need[0], need[3], need[4], need[5] or need[6])
        return (dx, s.unsort(dh) if need[1] else None, s.unsort(dc) if need[2] else None,
                dW_ih, dW_hh, db if need[5] else None, db.copy() if need[6] else None)


class GRU(_Recurrent):
    """Gated recurrent unit over a sequence (torch's gate order r, z, n):

        r_t = sigma(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)     reset gate
        z_t = sigma(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)     update gate
        n_t = tanh (W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn))
        h_t = (1 - z_t) * n_t + z_t * h_{t-1}

    Inputs x (T, N, I), h0 (N, H) or None, W_ih (3H, I), W_hh (3H, H), biases (3H,)
    -> y (T, N, H), h_n (N, H).
    """

    gates = 3

    def forward(self, x, h0, W_ih, W_hh, b_ih=None, b_hh=None, lengths=None, reverse=False):
        H = W_hh.shape[1]
        dtype = xp.result_type(x, W_hh)
        self.has_bias = b_ih is not None or b_hh is not None
        # the input side carries b_ih and the r, z parts of b_hh; b_hn stays inside r * (...)
        bias, self.b_hn = None, None
        if self.has_bias:
            b_ih = xp.zeros(3 * H, dtype) if b_ih is None else b_ih
            b_hh = xp.zeros(3 * H, dtype) if b_hh is None else b_hh
            bias = xp.concatenate([b_ih[:2 * H] + b_hh[:2 * H], b_ih[2 * H:]])
            self.b_hn = b_hh[2 * H:]
        # X[:, t] holds the input side (r, z halved); then, in place, r, z, n
        T, N, H, dtype, X, WhT = self._start(x, W_ih, W_hh, bias, _gate_scale([0.5, 0.5, 1], H, dtype),
                                             lengths, reverse)
        s, self.X = self.steps, X
        Un = self.Un = xp.empty((T, N, H), dtype)                # W_hn h_{t-1} + b_hn
        Hs = self.H = self._state_buffer(T, N, H, dtype, h0)
        hW, rh = xp.empty((N, 3 * H), dtype), xp.empty((N, H), dtype)
        for t, b in enumerate(s.sizes):
            self._carry(Hs, t, b)
            u = _rows(xp.matmul(Hs[t, :b], WhT, out=hW[:b]).reshape(b, 3, H))   # all gates, one GEMM
            rz = X[:2, t, :b]
            rz += u[:2]
            xp.tanh(rz, out=rz)
            _sigmoid_from_tanh(rz)
            r, z, n = X[0, t, :b], X[1, t, :b], X[2, t, :b]
            if self.b_hn is None:
                Un[t, :b] = u[2]
            else:
                xp.add(u[2], self.b_hn, out=Un[t, :b])
            n += xp.multiply(r, Un[t, :b], out=rh[:b])
            xp.tanh(n, out=n)
            h = Hs[t + 1, :b]                                     # h = n + z (h_{t-1} - n)
            xp.subtract(Hs[t, :b], n, out=h)
            h *= z
            h += n
        return s.outputs(Hs[1:]), s.unsort(Hs[T])

    def backward(self, dy, dh_n):
        # h_t = n + z (h_{t-1} - n):  dn = dh (1 - z),  dz = dh (h_{t-1} - n),  dh_{t-1} = dh z + ...
        # n = tanh(a_n + r u_n) (u_n = W_hn h_{t-1} + b_hn):
        #     d(pre_n) = dn (1 - n^2),  dr = d(pre_n) u_n,  du_n = d(pre_n) r
        # sigmoids: d(pre_r) = dr r(1-r), d(pre_z) = dz z(1-z)
        # so the input side gets dZx = [d(pre_r), d(pre_z), d(pre_n)], the hidden side
        # dU = [d(pre_r), d(pre_z), du_n]; dh_{t-1} = dh z + dU W_hh and, after the loop,
        # dW_hh = sum_t dU_t^T h_{t-1}, db_hh = sum dU, dW_ih = sum_t dZx_t^T x_t, db_ih = sum dZx.
        s, X, Un, Hs = self.steps, self.X, self.Un, self.H
        T, N, H = Hs.shape[0] - 1, Hs.shape[1], Hs.shape[2]
        dy_s = s.gather(dy)
        dh = s.sort(dh_n)
        alloc = xp.zeros if s.order is not None else xp.empty      # padded steps must hold zero
        dZx, dU = alloc((T, N, 3 * H), Hs.dtype), alloc((T, N, 3 * H), Hs.dtype)
        D, tmp, dhW = xp.empty((4, N, H), Hs.dtype), xp.empty((N, H), Hs.dtype), xp.empty((N, H), Hs.dtype)
        for t in range(T - 1, -1, -1):
            b = s.sizes[t]
            if b == 0:
                continue
            dh_b, tmp_b = dh[:b], tmp[:b]
            r, z, n, un = X[0, t, :b], X[1, t, :b], X[2, t, :b], Un[t, :b]
            dr, dz, dn, dun = D[0, :b], D[1, :b], D[2, :b], D[3, :b]
            dh_b += dy_s[t, :b]
            xp.subtract(Hs[t, :b], n, out=dz)
            dz *= dh_b
            xp.subtract(1, z, out=dn)
            dn *= dh_b
            _times_tanh_grad(dn, n, tmp_b)
            xp.multiply(dn, un, out=dr)
            xp.multiply(dn, r, out=dun)
            _times_sigmoid_grad(dr, r, tmp_b)
            _times_sigmoid_grad(dz, z, tmp_b)
            _rows(dZx[t, :b].reshape(b, 3, H))[...] = D[:3, :b]
            du = dU[t, :b]
            du[:, :2 * H] = dZx[t, :b, :2 * H]
            du[:, 2 * H:] = dun
            dh_b *= z
            dh_b += xp.matmul(du, self.W_hh, out=dhW[:b])        # all three gates, one GEMM
        need = self.needs_input_grad
        dx, dW_ih, _, db_ih = self._weight_grads(dZx, Hs, need[0], need[2], False, need[4])
        dU2 = dU.reshape(T * N, 3 * H)
        dW_hh = dU2.T @ Hs[:-1].reshape(T * N, H) if need[3] else None
        db_hh = dU2.sum(axis=0) if need[5] else None
        return dx, s.unsort(dh) if need[1] else None, dW_ih, dW_hh, db_ih if need[4] else None, db_hh
