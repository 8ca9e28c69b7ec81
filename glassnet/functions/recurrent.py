"""Recurrent layers: the forward pass over a sequence and backpropagation through time.

One primitive per layer direction runs the whole sequence (``RNN``, ``LSTM``, ``GRU``).
Each follows the notes: 002_b0cc0517b37ffd9b.txt, "4 RECURRENT NEURAL NETWORK" and "4.2 BACK
PROPAGATION THROUGH TIME" (the RNN); 001_0ad103dc23bd7991.txt, the BPTT slides and the slides
titled "LSTM", "LSTM Architecture" and "GRU Architecture" (whose equations are in figures the
transcript lost: the equations below are torch's, see GRU for the notes' own form):

* forward: the input side x_t W_ih^T + b of every step is one matrix product over the
  whole sequence (it does not depend on h); then a loop over t adds the recurrent side
  h_{t-1} W_hh^T (all gates of a step in one product) and applies the step's equations;
* backward: the loop walks t from last to first, carrying dL/dh (and dL/dc) from step t
  to step t-1; each step turns them into da_t, the gradient of the step's pre-activations;
  since every step uses the same weights, their gradients are sums over steps, taken after
  the loop: dW_ih = sum_t da_t^T x_t, dW_hh = sum_t da_t^T h_{t-1}, db = sum_t da_t, and
  dx_t = da_t W_ih.

Each step's arithmetic is one call of a named kernel from ``glassnet/kernels/recurrent.py``
(``kernels.lstm_forward`` and so on), and so are the two products over the whole sequence
(``kernels.project_steps``: x_t W_ih^T + b for all t; ``kernels.sum_over_steps``: the sums
over t of the weight and bias gradients): the equations are written beside every call, the
kernel module holds how they run fast, and ``tests/kernels/test_recurrent_kernels.py``
checks every kernel against the textbook loop in ``tests/functions/reference.py``.

Shapes: x (T, N, I) time-major; h0, c0 (N, H); weights as torch's: W_ih (G*H, I),
W_hh (G*H, H), b_ih, b_hh (G*H,), the gates stacked in torch's order, G = 1 (RNN),
4 (LSTM: i, f, g, o) or 3 (GRU: r, z, n). Outputs: y (T, N, H) (h_t for every t), h_n
(N, H), and for the LSTM c_n (N, H). Indices: step t = 0..T-1 reads the state h[t] and
writes h[t + 1], with h[0] = h_0 (so h[t + 1] is the notes' h_t for their t = 1..T).

Where BLAS's threads can take them, the LSTM runs all of its steps at once, split by hidden
units: each thread owns a share of the units (its rows of the weights) for the whole sequence
and the threads meet after every step (``kernels/recurrent_lanes.py``, checked against the
same reference loops by ``tests/kernels/test_recurrent_lanes.py``). The loop below is the
math either way.

Variable lengths (glassnet's stand-in for torch's packed sequences): ``lengths`` (N,) gives
each sequence's number of valid steps; ``steps.sizes[t]`` (``b``) is how many sequences
are still running at step t, and each step works on those. The others keep their state, so
h_n is each sequence's state at its last valid step; padded steps output zeros and receive
no gradient. ``reverse=True`` reads every sequence backwards from its own last valid step.
"""
from __future__ import annotations

from ..autograd.function import Function
from ..backend import xp
from ..kernels import recurrent as kernels
from ..kernels.recurrent_lanes import LSTMLanes


def _sum_bias(b_ih, b_hh):
    if b_ih is None:
        return b_hh
    return b_ih if b_hh is None else b_ih + b_hh


class _Sequence(Function):
    """What RNN, LSTM and GRU share: the step order, the inputs, the stored states."""

    def _begin(self, x, W_hh, lengths, reverse):
        T, N, _ = x.shape
        self.steps = kernels.StepOrder(T, N, lengths, reverse)
        self.x = self.steps.gather(x)                         # x_t in the order the loop walks
        self.dtype = xp.result_type(x, W_hh)
        return T, N, W_hh.shape[1]

    def _states(self, s0, T, N, H):
        """h[0] = h_0 (zeros when None); h[t + 1] is written by step t."""
        S = xp.empty((T + 1, N, H), self.dtype)
        S[0] = 0 if s0 is None else self.steps.sort(s0)
        return S

    def _per_step(self, T, N, width):
        """One (N, width) array per step for gradients; zero where a step is padding."""
        return (xp.zeros if self.steps.padded else xp.empty)((T, N, width), self.dtype)

    def _input_grad(self, dA, W_ih):
        """dx_t = da_t W_ih for every t, (T, N, I) in the order the caller gave x."""
        T, N = dA.shape[:2]
        return self.steps.scatter((dA.reshape(T * N, -1) @ W_ih).reshape(T, N, -1))

    def _weight_grads(self, dA, h, need_W_ih, need_W_hh, need_b):
        """dW_ih = sum_t da_t^T x_t, dW_hh = sum_t da_t^T h_{t-1} and db = sum_t da_t (None where
        not wanted), in one pass over the steps."""
        (dW_ih, dW_hh), db = kernels.sum_over_steps(
            dA, (self.x if need_W_ih else None, h[:-1] if need_W_hh else None), need_b)
        return dW_ih, dW_hh, db


class RNN(_Sequence):
    """Elman RNN over a sequence:  h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh).

    act is tanh (``nonlinearity='tanh'``) or relu. Inputs x (T, N, I), h0 (N, H) or None,
    W_ih (H, I), W_hh (H, H), b_ih, b_hh (H,) or None -> y (T, N, H), h_n (N, H).
    """

    def forward(self, x, h0, W_ih, W_hh, b_ih=None, b_hh=None, nonlinearity="tanh", lengths=None,
                reverse=False):
        T, N, H = self._begin(x, W_hh, lengths, reverse)
        self.relu, self.has_bias = nonlinearity == "relu", b_ih is not None or b_hh is not None
        self.W_ih, self.W_hh = W_ih, W_hh
        step = kernels.rnn_relu_forward if self.relu else kernels.rnn_tanh_forward
        ax = kernels.project_steps(self.x, W_ih, _sum_bias(b_ih, b_hh))   # x_t W_ih^T + b_ih + b_hh, all t
        h = self.h = self._states(h0, T, N, H)
        ah = xp.empty((N, H), self.dtype)                       # h_{t-1} W_hh^T of one step
        for t, b in enumerate(self.steps.sizes):                # b: sequences still running
            self.steps.carry(h, t)
            xp.matmul(h[t, :b], W_hh.T, out=ah[:b])
            step(ax[t, :b], ah[:b], h[t + 1, :b])               # h_t = act(ax_t + h_{t-1} W_hh^T)
        return self.steps.outputs(h[1:]), self.steps.unsort(h[T])

    def backward(self, dy, dh_n):
        # h_t feeds the output y_t and the next step, so dh_t = dy_t + da_{t+1} W_hh (the part
        # that came back through the recurrent weights), and with a_t the pre-activation:
        #   da_t = dh_t * (1 - h_t^2)          (relu: dh_t * [h_t > 0])
        #   dh_{t-1} (through W_hh) = da_t W_hh
        steps, h, W_hh = self.steps, self.h, self.W_hh
        T, N, H = h.shape[0] - 1, h.shape[1], h.shape[2]
        step = kernels.rnn_relu_backward if self.relu else kernels.rnn_tanh_backward
        dY = steps.gather_grad(dy)
        dA = self._per_step(T, N, H)
        dh = steps.sort(dh_n)                                  # dL/dh_T from above
        for t in reversed(range(T)):
            b = steps.sizes[t]
            if b == 0:
                continue
            step(dh[:b], dY[t, :b], h[t + 1, :b], dA[t, :b])    # da_t = (dh + dy_t) * act'(a_t)
            xp.matmul(dA[t, :b], W_hh, out=dh[:b])             # dh_{t-1} = da_t W_hh
        need = self.needs_input_grad
        dx = self._input_grad(dA, self.W_ih) if need[0] else None
        dW_ih, dW_hh, db = self._weight_grads(dA, h, need[2], need[3], self.has_bias)
        return (dx, steps.unsort(dh) if need[1] else None, dW_ih, dW_hh,
                db if need[4] else None, db.copy() if need[5] else None)


class LSTM(_Sequence):
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

    def forward(self, x, h0, c0, W_ih, W_hh, b_ih=None, b_hh=None, lengths=None, reverse=False):
        T, N, H = self._begin(x, W_hh, lengths, reverse)
        self.has_bias = b_ih is not None or b_hh is not None
        self.W_ih, self.W_hh = W_ih, W_hh
        # the same steps, all of them at once split by hidden units over BLAS's threads, where
        # those can take them (kernels/recurrent_lanes.py); below, the steps one at a time
        in_lanes = self._forward_in_lanes(h0, c0, W_ih, W_hh, _sum_bias(b_ih, b_hh), N, H)
        if in_lanes is not None:
            return in_lanes
        # x_t W_ih^T + b for all t and all gates; step t turns its row into its gates i, f, g, o
        gates = self.gates = kernels.project_steps(self.x, W_ih, _sum_bias(b_ih, b_hh))
        h, c = self.h, self.c = self._states(h0, T, N, H), self._states(c0, T, N, H)
        tanh_c = self.tanh_c = xp.empty((T, N, H), self.dtype)
        ah = xp.empty((N, 4 * H), self.dtype)                     # h_{t-1} W_hh^T of one step
        for t, b in enumerate(self.steps.sizes):
            self.steps.carry(h, t)
            self.steps.carry(c, t)
            # a = x_t W_ih^T + b + h_{t-1} W_hh^T              (all four gates, one product)
            # i, f, g, o = sigma(a_i), sigma(a_f), tanh(a_g), sigma(a_o)
            # c_t = f * c_{t-1} + i * g
            # h_t = o * tanh(c_t)
            xp.matmul(h[t, :b], W_hh.T, out=ah[:b])
            kernels.lstm_forward(ah[:b], c[t, :b], gates[t, :b], c[t + 1, :b], tanh_c[t, :b], h[t + 1, :b])
        s = self.steps
        return s.outputs(h[1:]), s.unsort(h[T]), s.unsort(c[T])

    def backward(self, dy, dh_n, dc_n):
        steps, need = self.steps, self.needs_input_grad
        dY = steps.gather_grad(dy)
        if self.lanes is not None:                               # the forward ran in lanes: so does this
            return self._backward_in_lanes(dY, dh_n, dc_n)
        h, c, W_hh = self.h, self.c, self.W_hh
        T, N, H = self.tanh_c.shape
        dA = self._per_step(T, N, 4 * H)
        dh, dc = steps.sort(dh_n), steps.sort(dc_n)              # dL/dh_T, dL/dc_T from above
        for t in reversed(range(T)):
            b = steps.sizes[t]
            if b == 0:
                continue
            # dh_t = dy_t + da_{t+1} W_hh                       (dh holds the second part)
            # h_t = o tanh(c_t):          do = dh_t tanh(c_t)
            #                             dc_t = dc_{t+1 -> t} + dh_t o (1 - tanh(c_t)^2)
            # c_t = f c_{t-1} + i g:      di = dc_t g    df = dc_t c_{t-1}    dg = dc_t i
            # through the activations:    da_i = di i (1 - i)     da_f = df f (1 - f)
            #                             da_g = dg (1 - g^2)     da_o = do o (1 - o)
            # the cell's highway:         dc_{t-1} = dc_t * f     (no squashing, no weights)
            kernels.lstm_backward(dh[:b], dY[t, :b], dc[:b], c[t, :b], self.gates[t, :b], self.tanh_c[t, :b],
                                  dA[t, :b])
            xp.matmul(dA[t, :b], W_hh, out=dh[:b])               # dh_{t-1} = da_t W_hh (four gates)
        dx = self._input_grad(dA, self.W_ih) if need[0] else None
        dW_ih, dW_hh, db = self._weight_grads(dA, h, need[3], need[4], self.has_bias)
        return (dx, steps.unsort(dh) if need[1] else None, steps.unsort(dc) if need[2] else None,
                dW_ih, dW_hh, db if need[5] else None, db.copy() if need[6] else None)

    def _forward_in_lanes(self, h0, c0, W_ih, W_hh, b, N, H):
        """The forward pass in ``kernels.recurrent_lanes`` ((y, h_n, c_n)), or None where it
        does not run (then ``self.lanes`` is None and the backward takes the loop too)."""
        s = self.steps
        # lanes compute in float32: a float64 W_ih or bias beside float32 x and W_hh keeps the loop
        self.lanes = LSTMLanes.start(N, H, xp.result_type(self.dtype, W_ih, *([] if b is None else [b])))
        if self.lanes is None:
            return None
        zeros = xp.zeros((N, H), self.dtype)
        h = self.lanes.forward(self.x, zeros if h0 is None else s.sort(h0), zeros if c0 is None else s.sort(c0),
                               W_ih, W_hh, b, s.sizes)
        if h is None:                                            # another thread holds BLAS's threads
            self.lanes = None
            return None
        self.h = h
        return s.outputs(h[1:]), s.unsort(h[-1]), s.unsort(self.lanes.c_n())

    def _backward_in_lanes(self, dY, dh_n, dc_n):
        steps, need = self.steps, self.needs_input_grad
        dx, dh, dc, dW_ih, dW_hh, db = self.lanes.backward(
            dY, steps.sort(dh_n), steps.sort(dc_n), steps.padded, need[0], need[3], need[4],
            self.has_bias and (need[5] or need[6]))
        return (steps.scatter(dx) if need[0] else None, steps.unsort(dh) if need[1] else None,
                steps.unsort(dc) if need[2] else None, dW_ih, dW_hh,
                db if need[5] else None, db.copy() if need[6] else None)


class GRU(_Sequence):
    """Gated recurrent unit over a sequence (torch's gate order r, z, n):

        r_t = sigma(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)     reset gate
        z_t = sigma(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)     update gate
        n_t = tanh (W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn))        reset_after=True
        n_t = tanh (W_in x_t + b_in + W_hn (r_t * h_{t-1}) + b_hn)        reset_after=False
        h_t = (1 - z_t) * n_t + z_t * h_{t-1}

    ``reset_after=True`` is torch's (and cuDNN's) form: the reset gate scales the recurrent
    product, so all three gates' products with h_{t-1} are one matrix product per step.
    ``reset_after=False`` is Cho et al.'s (2014): the reset gate scales h_{t-1} before its
    product with W_hn, which therefore waits for r (two products per step). In both, z
    weighs the previous state and 1 - z the candidate n. The notes (000_f1a626c8fa66bc36.txt,
    "Gated Recurrent Unit") write the reset-before form, g_t = tanh(W x_t + U (r_t * h_{t-1})),
    with the update gate on the other side, h_t = (1 - z_t) h_{t-1} + z_t g_t: the same
    model with z relabelled 1 - z.

    Inputs x (T, N, I), h0 (N, H) or None, W_ih (3H, I), W_hh (3H, H), biases (3H,)
    -> y (T, N, H), h_n (N, H).
    """

    def forward(self, x, h0, W_ih, W_hh, b_ih=None, b_hh=None, lengths=None, reverse=False, reset_after=True):
        T, N, H = self._begin(x, W_hh, lengths, reverse)
        self.has_bias = b_ih is not None or b_hh is not None
        self.reset_after, self.W_ih, self.W_hh = bool(reset_after), W_ih, W_hh
        b_ih = xp.zeros(3 * H, self.dtype) if b_ih is None else b_ih
        b_hh = xp.zeros(3 * H, self.dtype) if b_hh is None else b_hh
        h = self.h = self._states(h0, T, N, H)
        if self.reset_after:
            # x_t W_ih^T + b for all t, where b is b_ih and b_hr, b_hz (b_hn stays inside r * (...));
            # step t turns its row into its gates r, z, n
            b = b_ih + xp.concatenate([b_hh[:2 * H], xp.zeros(H, self.dtype)])
            gates = self.gates = kernels.project_steps(self.x, W_ih, b)
            b_hn = b_hh[2 * H:]
            un = self.un = xp.empty((T, N, H), self.dtype)        # h_{t-1} W_hn^T + b_hn of every step
            ah = xp.empty((N, 3 * H), self.dtype)                 # h_{t-1} W_hh^T of one step
            for t, b in enumerate(self.steps.sizes):
                self.steps.carry(h, t)
                # r, z = sigma(a_r), sigma(a_z)         a = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh
                # n = tanh(x_t W_in^T + b_in + r * (h_{t-1} W_hn^T + b_hn))
                # h_t = (1 - z) * n + z * h_{t-1}
                xp.matmul(h[t, :b], W_hh.T, out=ah[:b])           # all three gates, one product
                kernels.gru_forward(ah[:b], b_hn, h[t, :b], gates[t, :b], un[t, :b], h[t + 1, :b])
        else:
            ax = kernels.project_steps(self.x, W_ih, b_ih + b_hh)  # here b_hn sits outside r, with b_in
            gates = self.gates = xp.empty((T, N, 3 * H), self.dtype)  # r, z, n of every step
            W_hrz, W_hn = W_hh[:2 * H], W_hh[2 * H:]
            rh = self.rh = xp.empty((T, N, H), self.dtype)        # r * h_{t-1} of every step
            ah_rz, ah_n = xp.empty((N, 2 * H), self.dtype), xp.empty((N, H), self.dtype)
            for t, b in enumerate(self.steps.sizes):
                self.steps.carry(h, t)
                # r, z = sigma(a_r), sigma(a_z)          (as above)
                xp.matmul(h[t, :b], W_hrz.T, out=ah_rz[:b])
                kernels.gru_reset_update_forward(ax[t, :b], ah_rz[:b], h[t, :b], gates[t, :b], rh[t, :b])
                # n = tanh(x_t W_in^T + b_in + (r * h_{t-1}) W_hn^T + b_hn)
                # h_t = (1 - z) * n + z * h_{t-1}
                xp.matmul(rh[t, :b], W_hn.T, out=ah_n[:b])
                kernels.gru_candidate_forward(ax[t, :b], ah_n[:b], h[t, :b], gates[t, :b], h[t + 1, :b])
        return self.steps.outputs(h[1:]), self.steps.unsort(h[T])

    def backward(self, dy, dh_n):
        # h_t = (1 - z) n + z h_{t-1} reaches h_{t-1} directly (factor z) and through the gates:
        #   dh_t = dy_t + dh_{t+1} z_{t+1} + (the recurrent products' part, through W_hh)
        #   dn = dh_t (1 - z)        da_n = dn (1 - n^2)
        #   dz = dh_t (h_{t-1} - n)  da_z = dz z (1 - z)
        # reset after, n = tanh(a_n + r u_n), u_n = h_{t-1} W_hn^T + b_hn:
        #   dr = da_n u_n            da_r = dr r (1 - r)      du_n = da_n r
        #   the hidden side's gradient is du = [da_r, da_z, du_n], so dh_{t-1} += du W_hh
        # reset before, n = tanh(a_n + (r h_{t-1}) W_hn^T):
        #   d(r h_{t-1}) = da_n W_hn   dr = d(r h_{t-1}) h_{t-1}   da_r = dr r (1 - r)
        #   dh_{t-1} += d(r h_{t-1}) r + [da_r, da_z] W_h[rz]
        steps, h, W_hh = self.steps, self.h, self.W_hh
        T, N, H = h.shape[0] - 1, h.shape[1], h.shape[2]
        dY = steps.gather_grad(dy)
        dA = self._per_step(T, N, 3 * H)                          # input side: [da_r, da_z, da_n]
        dh_direct = steps.sort(dh_n)                              # dh_t z_t, carried to t-1
        dh_rec = xp.zeros((N, H), self.dtype)                     # the part through W_hh
        if self.reset_after:
            dU = self._per_step(T, N, 3 * H)                      # hidden side: [da_r, da_z, du_n]
            for t in reversed(range(T)):
                b = steps.sizes[t]
                if b == 0:
                    continue
                kernels.gru_backward(dh_direct[:b], dh_rec[:b], dY[t, :b], h[t, :b], self.gates[t, :b],
                                     self.un[t, :b], dA[t, :b], dU[t, :b])
                xp.matmul(dU[t, :b], W_hh, out=dh_rec[:b])        # du_t W_hh
        else:
            W_hrz, W_hn = W_hh[:2 * H], W_hh[2 * H:]
            d_rh = xp.empty((N, H), self.dtype)                  # d(r * h_{t-1}) of one step
            for t in reversed(range(T)):
                b = steps.sizes[t]
                if b == 0:
                    continue
                kernels.gru_candidate_backward(dh_direct[:b], dh_rec[:b], dY[t, :b], h[t, :b], self.gates[t, :b],
                                               dA[t, :b])
                xp.matmul(dA[t, :b, 2 * H:], W_hn, out=d_rh[:b])
                kernels.gru_reset_backward(d_rh[:b], h[t, :b], self.gates[t, :b], dA[t, :b], dh_direct[:b])
                xp.matmul(dA[t, :b, :2 * H], W_hrz, out=dh_rec[:b])
        need = self.needs_input_grad
        dx = self._input_grad(dA, self.W_ih) if need[0] else None
        (dW_ih,), db = kernels.sum_over_steps(dA, (self.x if need[2] else None,), need[4] or need[5])
        dh0 = steps.unsort(dh_direct + dh_rec) if need[1] else None
        db_ih = db if need[4] else None
        if self.reset_after:                                             # sum_t du_t^T h_{t-1}, sum_t du_t
            (dW_hh,), db_hh = kernels.sum_over_steps(dU, (h[:-1] if need[3] else None,), need[5])
        else:
            dW_hh = None
            if need[3]:                                                  # [da_rz^T h_{t-1}; da_n^T (r h_{t-1})]
                dW_hh = xp.concatenate([kernels.sum_over_steps(dA[..., :2 * H], (h[:-1],))[0][0],
                                        kernels.sum_over_steps(dA[..., 2 * H:], (self.rh,))[0][0]])
            db_hh = db.copy() if need[5] else None                       # b_hh enters as b_ih does
        return dx, dh0, dW_ih, dW_hh, db_ih, db_hh
