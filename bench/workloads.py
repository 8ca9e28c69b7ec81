"""The benchmark workloads, written once per framework with the same shapes and seeds.

Each builder takes the framework module (``glassnet`` or ``torch``) and returns
``(step, flops)``: ``step()`` runs one full training step (forward, loss, backward,
optimizer step with SGD momentum 0.9, float32) or one inference call, and ``flops`` is
the multiply-add count x2 of the step's GEMM work when it is GEMM-bound (else None).
"""
from __future__ import annotations

import numpy as np


def _is_torch(fw) -> bool:
    return fw.__name__ == "torch"


def _data(shape, classes, seed=0, integer=False, high=None):
    rng = np.random.default_rng(seed)
    if integer:
        return rng.integers(0, high, shape).astype(np.int64)
    return rng.standard_normal(shape).astype(np.float32), rng.integers(0, classes, shape[0]).astype(np.int64)


def _tensors(fw, *arrays):
    if _is_torch(fw):
        return tuple(fw.from_numpy(a) for a in arrays)
    return tuple(fw.from_numpy(a) for a in arrays)


def _train_step(fw, model, x, y, loss_fn, clip=None):
    opt = fw.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    nn = fw.nn

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        if clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
    return step


def _seed(fw, seed=0):
    fw.manual_seed(seed)


def mlp(fw, batch=128):
    _seed(fw)
    nn = fw.nn
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
    x, y = _tensors(fw, *_data((batch, 784), 10))
    dims = [(784, 256), (256, 128), (128, 10)]
    forward = sum(2 * batch * i * o for i, o in dims)
    flops = 3 * forward - 2 * batch * 784 * 256  # no input gradient for the first layer
    return _train_step(fw, model, x, y, nn.CrossEntropyLoss()), flops


def mlp_b1_infer(fw):
    _seed(fw)
    nn = fw.nn
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
    model.eval()
    (x,) = _tensors(fw, _data((1, 784), 10)[0])

    def step():
        with fw.no_grad():
            model(x)
    return step, None


def mlp_b1_compiled(fw):
    """mlp_b1_infer through each framework's captured plan: ``gn.compile`` (recorded once, replayed on
    preallocated buffers) against ``torch.jit.trace`` + ``torch.jit.freeze`` (a traced graph with the
    weights folded in). The eager row, mlp_b1_infer, stays as it was."""
    _seed(fw)
    nn = fw.nn
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
    model.eval()
    (x,) = _tensors(fw, _data((1, 784), 10)[0])
    with fw.no_grad():
        model = fw.jit.freeze(fw.jit.trace(model, x)) if _is_torch(fw) else fw.compile(model)
        for _ in range(3):   # glassnet records, then checks its first replay; torch's executor profiles
            model(x)

    def step():
        with fw.no_grad():
            model(x)
    return step, None


def lenet5(fw, batch=128):
    _seed(fw)
    nn = fw.nn
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
    x, y = _tensors(fw, *_data((batch, 1, 28, 28), 10))
    return _train_step(fw, model, x, y, nn.CrossEntropyLoss()), None


def cifar_cnn(fw, batch=64):
    _seed(fw)
    nn = fw.nn
    model = nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(4096, 256), nn.ReLU(), nn.Dropout(0.5), nn.Linear(256, 10))
    x, y = _tensors(fw, *_data((batch, 3, 32, 32), 10))
    convs = [(3, 32, 32), (32, 32, 32), (32, 64, 16), (64, 64, 16)]  # (in, out, spatial)
    forward = sum(2 * batch * s * s * o * i * 9 for i, o, s in convs) + 2 * batch * (4096 * 256 + 256 * 10)
    flops = 3 * forward - 2 * batch * 32 * 32 * 32 * 3 * 9
    return _train_step(fw, model, x, y, nn.CrossEntropyLoss()), flops


def bn_mlp(fw, batch=256):
    _seed(fw)
    nn = fw.nn
    model = nn.Sequential(nn.Linear(784, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Dropout(0.2),
                          nn.Linear(512, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Linear(512, 10))
    x, y = _tensors(fw, *_data((batch, 784), 10))
    return _train_step(fw, model, x, y, nn.CrossEntropyLoss()), None


class _LastStep:
    """Recurrent layer over the sequence, then a Linear on the last step's output."""

    def __init__(self, fw, cell, batch, seq_len, hidden=128, features=28):
        nn = fw.nn
        base = nn.Module

        class Model(base):
            def __init__(self):
                super().__init__()
                self.rnn = getattr(nn, cell)(features, hidden, batch_first=True)
                self.fc = nn.Linear(hidden, 10)

            def forward(self, x):
                out, _ = self.rnn(x)
                return self.fc(out[:, -1])

        self.model = Model()


def _recurrent(fw, cell, batch=128, seq_len=28):
    _seed(fw)
    model = _LastStep(fw, cell, batch, seq_len).model
    x, y = _tensors(fw, *_data((batch, seq_len, 28), 10))
    return _train_step(fw, model, x, y, fw.nn.CrossEntropyLoss()), None


def rnn_seq(fw, batch=128, seq_len=28):
    return _recurrent(fw, "RNN", batch, seq_len)


def lstm_seq(fw, batch=128, seq_len=28):
    return _recurrent(fw, "LSTM", batch, seq_len)


def gru_seq(fw, batch=128, seq_len=28):
    return _recurrent(fw, "GRU", batch, seq_len)


def char_lstm(fw, batch=32, seq_len=64, vocab=65):
    _seed(fw)
    nn = fw.nn

    class CharModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(vocab, 64)
            self.lstm = nn.LSTM(64, 256, batch_first=True)
            self.head = nn.Linear(256, vocab)

        def forward(self, x):
            out, _ = self.lstm(self.embed(x))
            return self.head(out).reshape(-1, vocab)

    model = CharModel()
    ids = _data((batch, seq_len + 1), None, integer=True, high=vocab)
    x, y = _tensors(fw, np.ascontiguousarray(ids[:, :-1]), np.ascontiguousarray(ids[:, 1:]).reshape(-1))
    return _train_step(fw, model, x, y, nn.CrossEntropyLoss(), clip=5.0), None


WORKLOADS = {
    "mlp": mlp, "mlp_b1_infer": mlp_b1_infer, "mlp_b1_compiled": mlp_b1_compiled, "lenet5": lenet5,
    "cifar_cnn": cifar_cnn, "bn_mlp": bn_mlp, "rnn_seq": rnn_seq, "lstm_seq": lstm_seq, "gru_seq": gru_seq,
    "char_lstm": char_lstm,
}

# issue #10's targets: glassnet / torch time per step, same run
TARGETS = {"mlp": 1.0, "bn_mlp": 0.95, "lenet5": 1.0, "cifar_cnn": 1.2, "rnn_seq": 0.8, "lstm_seq": 0.95,
           "gru_seq": 0.8, "char_lstm": 1.0, "mlp_b1_infer": 0.6}


def sweep():
    """(label, builder name, kwargs) for the scaling sweep."""
    items = [(f"mlp@b{b}", "mlp", {"batch": b}) for b in (32, 128, 512, 1024)]
    items += [(f"lstm_seq@b{b}", "lstm_seq", {"batch": b}) for b in (32, 128, 512, 1024)]
    items += [(f"lstm_seq@T{t}", "lstm_seq", {"seq_len": t}) for t in (16, 64, 256)]
    return items


def build(framework_name: str, workload: str, kwargs=None):
    if framework_name == "torch":
        import torch as fw
    else:
        import glassnet as fw
    return WORKLOADS[workload](fw, **(kwargs or {}))
