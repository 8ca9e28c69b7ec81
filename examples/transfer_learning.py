"""Transfer learning on the 8x8 digits: pretrain on 0-4, reuse the features for 5-9.

1. Pretrain ``digits_cnn`` on the digits 0-4, every layer trained.
2. ``freeze`` a copy: its parameters get no gradients, and its batch norms keep the
   running statistics of pretraining even in training mode.
3. ``replace_head``: a fresh Linear(128, 5) takes the place of the last layer.
4. Train what is left trainable on the digits 5-9 (relabelled 0-4), two ways:
   a. head only: ``freeze(model)``, just the new Linear(128, 5) learns (645 parameters);
   b. classifier: ``freeze(model, up_to="features")``, the convolutions stay frozen and
      the whole classifier learns (the usual recipe for VGG-style networks).
   and, for comparison, (b) on a frozen *random* backbone: the gap is what the
   pretrained convolutional features are worth.

The convolutional features transfer better than the 128 classifier features, which
pretraining shaped to tell 0-4 apart.

    python examples/transfer_learning.py          (a few seconds)
"""
from __future__ import annotations

import time

import numpy as np

import glassnet as gn
import glassnet.nn.functional as F
from glassnet.models import digits_cnn, freeze, replace_head


def split(X, y, classes, rng, test_fraction=0.25):
    """The samples of ``classes``, relabelled 0..len(classes)-1, as shuffled train and test parts."""
    idx = rng.permutation(np.flatnonzero(np.isin(y, classes)))
    labels = np.searchsorted(classes, y[idx])           # e.g. 5..9 -> 0..4
    n_test = int(len(idx) * test_fraction)
    return (X[idx[n_test:]], labels[n_test:]), (X[idx[:n_test]], labels[:n_test])


def train(model, data, epochs, lr, seed, batch_size=64):
    X, y = data
    rng = np.random.default_rng(seed)
    params = [p for p in model.parameters() if p.requires_grad]   # frozen ones would get no grad anyway
    opt = gn.optim.Adam(params, lr=lr)
    for _ in range(epochs):
        model.train()               # frozen batch norms stay in eval mode regardless
        order = rng.permutation(len(X))
        for i in range(0, len(X), batch_size):
            b = order[i:i + batch_size]
            loss = F.cross_entropy(model(gn.tensor(X[b])), gn.tensor(y[b]))
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model


def accuracy(model, data):
    X, y = data
    model.eval()
    with gn.no_grad():
        return float((model(gn.tensor(X)).numpy().argmax(1) == y).mean())


def transfer(weights, task, up_to, epochs, lr):
    """A digits_cnn with ``weights`` (None: random), frozen up to ``up_to``, a new 5-way head,
    trained on ``task``; returns (test accuracy, trained parameters, all parameters)."""
    model = digits_cnn(num_classes=5)
    if weights is not None:
        model.load_state_dict(weights)
    replace_head(freeze(model, up_to=up_to), num_classes=5)
    bn = model.features[1]
    running_mean = bn.running_mean.numpy().copy()
    train(model, task[0], epochs=epochs, lr=lr, seed=2)
    assert np.array_equal(bn.running_mean.numpy(), running_mean), "a frozen batch norm moved"
    trained = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return accuracy(model, task[1]), trained, sum(p.numel() for p in model.parameters())


def main():
    start = time.time()
    gn.manual_seed(0)
    rng = np.random.default_rng(0)
    X, y = (t.numpy() for t in gn.data.load_digits(images=True))
    source = split(X, y, np.arange(0, 5), rng)
    target = split(X, y, np.arange(5, 10), rng)

    pretrained = train(digits_cnn(num_classes=5), source[0], epochs=6, lr=1e-3, seed=1)
    print(f"pretrained on digits 0-4: test accuracy {accuracy(pretrained, source[1]):.3f}")
    weights = pretrained.state_dict()

    print("on digits 5-9, with a new head:")
    for label, w, up_to, epochs, lr in [("(a) head only, pretrained backbone", weights, None, 10, 1e-2),
                                        ("(b) classifier, pretrained features", weights, "features", 8, 1e-3),
                                        ("(b) classifier, random features", None, "features", 8, 1e-3)]:
        acc, trained, total = transfer(w, target, up_to, epochs, lr)
        print(f"  {label:<38} {trained:>7,} of {total:,} parameters trained: test accuracy {acc:.3f}")
    print(f"({time.time() - start:.1f} s)")


if __name__ == "__main__":
    main()
