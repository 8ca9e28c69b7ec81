"""The notes' toy CNN, one step forward and back, printing every intermediate.

    image X (1, 1, 5, 5)
    Conv2d(1, 2, 3, stride=2, padding=1)   filters F1 (bias 1), F2 (bias 0)   -> z (1, 2, 3, 3)
    ReLU                                                                       -> a
    MaxPool2d(3)          one number per feature map                           -> p (1, 2, 1, 1)
    Flatten, Linear(2, 1) weights [-1, 0.2], bias 0.3, Sigmoid                 -> y_hat
    BCE loss against target 1

Run:  python examples/toy_cnn.py
"""
import numpy as np

import glassnet as gn
import glassnet.nn.functional as F

X = np.array([[0, 2, 0, 0, 2],
              [0, 0, 0, 2, 0],
              [2, 1, 2, 0, 0],
              [2, 2, 1, 1, 0],
              [1, 2, 2, 1, 0]], dtype=np.float64)
F1 = [[-1, 0, -1], [1, 1, -1], [-1, 1, -1]]
F2 = [[-1, -1, 0], [0, 1, 1], [-1, 0, 1]]


def build():
    conv = gn.nn.Conv2d(1, 2, 3, stride=2, padding=1).double()
    fc = gn.nn.Linear(2, 1).double()
    conv.load_state_dict({"weight": np.array([[F1], [F2]], dtype=np.float64), "bias": np.array([1.0, 0.0])})
    fc.load_state_dict({"weight": np.array([[-1.0, 0.2]]), "bias": np.array([0.3])})
    return conv, fc


def step(conv, fc, target=1.0):
    """One forward and backward pass; returns every intermediate as a numpy array."""
    x = gn.tensor(X[None, None])
    z = conv(x)
    a = F.relu(z)
    p = F.max_pool2d(a, 3)
    h = p.flatten(1)
    y_hat = F.sigmoid(fc(h))
    loss = F.binary_cross_entropy(y_hat, gn.tensor([[target]], dtype=gn.float64))
    for t in (z, a, p, y_hat):
        t.retain_grad()
    loss.backward()
    return {"z": z, "a": a, "p": p, "y_hat": y_hat, "loss": loss, "dy_hat": y_hat.grad, "dp": p.grad,
            "da": a.grad, "dz": z.grad, "dW_conv": conv.weight.grad, "db_conv": conv.bias.grad,
            "dW_fc": fc.weight.grad, "db_fc": fc.bias.grad}


def main():
    np.set_printoptions(precision=3, suppress=True)
    conv, fc = build()
    r = {k: v.numpy() for k, v in step(conv, fc).items()}
    print("input X:\n", X)
    print("z1 = X * F1 + 1 (stride 2, padding 1):\n", r["z"][0, 0])
    print("z2 = X * F2 + 0:\n", r["z"][0, 1])
    print("a = relu(z):\n", r["a"][0] + 0.0)  # + 0.0 shows -0.0 as 0
    print("max pool 3x3 ->", r["p"].ravel())
    print(f"y_hat = sigmoid(-1 * {r['p'].ravel()[0]:g} + 0.2 * {r['p'].ravel()[1]:g} + 0.3) = {r['y_hat'].item():.3f}")
    print(f"BCE loss (target 1) = {r['loss'].item():.3f}")
    print(f"dL/dy_hat = {r['dy_hat'].item():.3f}   dL/dp = {r['dp'].ravel()}")
    print("dL/dz1 (only the pooled maximum gets gradient):\n", r["dz"][0, 0])
    print("dL/dF1:\n", r["dW_conv"][0, 0])
    print("dL/dF2:\n", r["dW_conv"][1, 0])
    print(f"dL/dF1 centre weight = {r['dW_conv'][0, 0, 1, 1]:.3f}")


if __name__ == "__main__":
    main()
