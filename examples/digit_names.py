"""One-to-many: from one 8x8 digit image, write the digit's English name letter by letter.

    image of a 7  ->  s, e, v, e, n, <end>

An image encoder gives the decoder RNN its first state; the decoder then writes one letter per
step. Trained with teacher forcing (the decoder reads the true previous letter), evaluated by
greedy decoding (it reads its own previous letter) on held-out images: a name counts as right
only if every letter and the end token are.

Run:  python examples/digit_names.py
"""
import time

import numpy as np

import glassnet as gn
import glassnet.nn.functional as F
from glassnet.models.seq2seq import ImageToSequence, teacher_forcing_inputs

NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
ALPHABET = sorted(set("".join(NAMES)))
BOS, EOS = len(ALPHABET), len(ALPHABET) + 1
MAX_LEN = max(len(n) for n in NAMES) + 1          # letters + EOS


def spell(digit):
    ids = [ALPHABET.index(ch) for ch in NAMES[digit]] + [EOS]
    return ids + [EOS] * (MAX_LEN - len(ids))        # EOS-padded; the loss ignores what follows the first EOS


def targets(labels):
    tgt = np.array([spell(int(d)) for d in labels])
    loss_tgt = tgt.copy()
    for row, d in zip(loss_tgt, labels):
        row[len(NAMES[int(d)]) + 1:] = -100          # ignore_index: padding after the end token
    return gn.tensor(tgt).long(), gn.tensor(loss_tgt).long()


def read(ids):
    return "".join(ALPHABET[i] for i in ids if i < len(ALPHABET)) if EOS in ids else "(no end)"


def accuracy(model, images, labels):
    pred = model.greedy_decode(images, MAX_LEN)
    return float(np.mean([read(list(p)) == NAMES[int(d)] for p, d in zip(pred, labels)])), pred


def train(epochs=30, batch_size=64, seed=0, verbose=True):
    gn.manual_seed(seed)
    images, labels = gn.data.load_digits(images=True)
    X, y = images.numpy(), labels.numpy()
    order = np.random.default_rng(seed).permutation(len(y))
    test, fit = order[:360], order[360:]
    model = ImageToSequence(64, len(ALPHABET) + 2, bos=BOS, eos=EOS, hidden_size=96)
    opt = gn.optim.Adam(model.parameters(), lr=3e-3)
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        rng.shuffle(fit)
        for i in range(0, len(fit), batch_size):
            idx = fit[i:i + batch_size]
            tgt, loss_tgt = targets(y[idx])
            logits = model(gn.tensor(X[idx]), teacher_forcing_inputs(tgt, BOS))   # teacher forcing
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), loss_tgt.reshape(-1), ignore_index=-100)
            opt.zero_grad()
            loss.backward()
            opt.step()
        if verbose and epoch % 10 == 0:
            print(f"epoch {epoch:3d}  loss {loss.item():.3f}")
    seconds = time.perf_counter() - start
    acc, _ = accuracy(model, gn.tensor(X[test]), y[test])
    return model, acc, seconds, (X[test], y[test])


def main():
    model, acc, seconds, (X_test, y_test) = train()
    print(f"held-out images spelled exactly right: {acc:.1%} (trained in {seconds:.0f} s)")
    _, pred = accuracy(model, gn.tensor(X_test[:8]), y_test[:8])
    for p, d in zip(pred, y_test[:8]):
        print(f"  image of a {int(d)} -> {read(list(p))}")


if __name__ == "__main__":
    main()
