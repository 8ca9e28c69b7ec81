"""Batch normalisation per feature map and dropout, replayed with glassnet's layers."""
from __future__ import annotations

import numpy as np

from .. import manual_seed, nn
from ..nn import functional as F
from ._util import t
from .registry import lesson

# A mini-batch of 2 images with 2 feature maps of 2x2 (values chosen here; the notes give none).
BN_INPUT = np.array([[[[1.0, 2.0], [3.0, 4.0]], [[0.0, 1.0], [0.0, 1.0]]],
                     [[[5.0, 6.0], [7.0, 8.0]], [[2.0, 3.0], [2.0, 3.0]]]])


@lesson("batch-norm", "Batch norm per feature map: mu, sigma, x_hat, then gamma x_hat + beta",
        ("001", "Batch normalization"), ("001", "Batch normalization in CNN"))
def batch_norm(board):
    board.say("z^N = (z - m_z)/s_z * gamma + beta, with one mean and one standard deviation per feature map, "
              "over the batch and both spatial axes. The input: 2 images x 2 maps x 2x2 (values chosen here).")
    x = t(BN_INPUT)
    board.show("map 0 over the batch", BN_INPUT[:, 0].reshape(2, 4))
    board.show("map 1 over the batch", BN_INPUT[:, 1].reshape(2, 4))
    bn = nn.BatchNorm2d(2).double()
    gamma, beta = np.array([2.0, 0.5]), np.array([1.0, -1.0])
    bn.load_state_dict({**{k: v for k, v in bn.state_dict().items()}, "weight": gamma, "bias": beta})
    y = bn(x)
    board.step("Statistics per feature map (glassnet tensors)")
    mu = x.mean(dim=(0, 2, 3))
    var = ((x - mu.reshape(1, 2, 1, 1)) ** 2).mean(dim=(0, 2, 3))
    sigma = (var + bn.eps).sqrt()
    board.show("mu", mu, key="mu")
    board.show("sigma^2 (biased: divide by N*H*W = 8)", var, key="var")
    board.show(f"sigma = sqrt(sigma^2 + eps), eps = {bn.eps:g}", sigma, key="sigma")
    x_hat = (x - mu.reshape(1, 2, 1, 1)) / sigma.reshape(1, 2, 1, 1)
    board.show("x_hat, map 0", x_hat.numpy()[:, 0].reshape(2, 4), key="x_hat0")
    board.show("x_hat, map 1", x_hat.numpy()[:, 1].reshape(2, 4), key="x_hat1")
    board.step(f"Scale and shift: gamma = {gamma.tolist()}, beta = {beta.tolist()}")
    by_hand = x_hat * t(gamma).reshape(1, 2, 1, 1) + t(beta).reshape(1, 2, 1, 1)
    board.show("gamma x_hat + beta, map 0", by_hand.numpy()[:, 0].reshape(2, 4))
    board.show("nn.BatchNorm2d output, map 0", y.numpy()[:, 0].reshape(2, 4), key="y0")
    board.show("nn.BatchNorm2d output, map 1", y.numpy()[:, 1].reshape(2, 4), key="y1")
    board.show("largest difference", float(np.abs(by_hand.numpy() - y.numpy()).max()), digits=2)
    board.values["y"] = y.numpy()
    board.show("output mean per map (= beta)", y.mean(dim=(0, 2, 3)), key="out_mean")
    board.show("output std per map (~ gamma)", y.numpy().std(axis=(0, 2, 3)), key="out_std")
    board.note("001 says 'the parameters gamma & beta shift the mean and standard deviation respectively': it is "
               "the other way round, as its next line says and the numbers above show: the output of each map "
               "has mean beta and standard deviation gamma (gamma scales, beta shifts).")
    board.step("Running statistics for evaluation")
    board.show("running_mean = 0.9 * 0 + 0.1 * mu", bn.running_mean, key="running_mean")
    board.show("running_var = 0.9 * 1 + 0.1 * unbiased var", bn.running_var, key="running_var")
    board.note("Conventions the notes leave open: training normalises with the batch's biased variance plus eps "
               "(torch's), evaluation with running averages (momentum 0.1) whose variance is unbiased (divide "
               "by 7 here). The conv layer before batch norm needs no bias, as the notes say: the mean "
               "subtraction removes it.")


@lesson("dropout", "Dropout: p is the drop probability, survivors scaled by 1/(1 - p) at training time",
        ("000", "Dropout Technique:"), ("001", "Dropouts"), ("002", "4.5 DROPOUT"))
def dropout(board):
    p = 0.5
    manual_seed(0)
    x = t(np.arange(1.0, 11.0)[None])
    y = F.dropout(x, p=p, training=True)
    mask = (y.numpy() != 0).astype(float)
    board.step(f"Training: F.dropout(x, p={p}, training=True) (glassnet's generator seeded with 0)")
    board.show("x", x, key="x")
    board.show("mask (1 kept, 0 dropped)", mask, key="mask")
    board.show("y = x * mask / (1 - p)", y, key="y")
    board.show("check: x * mask / (1 - p)", x.numpy() * mask / (1 - p))
    board.step("Evaluation: dropout does nothing")
    board.show("F.dropout(x, p, training=False)", F.dropout(x, p=p, training=False), key="y_eval")
    board.step("Why the scaling: the expected output equals x either way")
    manual_seed(1)
    big = t(np.ones((2000, 10)))
    mean_inverted = F.dropout(big, p=p, training=True).numpy().mean()
    board.show("mean over 20,000 units, inverted dropout at training", mean_inverted, key="mean_inverted")
    keep = 1 - p
    manual_seed(1)
    raw = (F.dropout(big, p=p, training=True).numpy() != 0).astype(float)
    board.show("mean of the unscaled masked units at training", raw.mean(), key="mean_raw")
    board.show("notes' test-time scaling: full net, outputs times keep rate", keep)
    board.note("Two conventions disagree with the notes. (1) Where the scaling goes: 000 and 001 drop without "
               "scaling and multiply by the keep rate at test time; glassnet, like torch, scales the survivors "
               "by 1/(1 - p) during training ('inverted dropout') so evaluation is the plain network. The "
               "expected activations match either way. (2) What p means: 000 and torch call p the probability "
               "of being DROPPED (typically 0.5); 001 says each node is RETAINED with probability p (0.5 hidden, "
               "0.8 visible), so 001's p = 0.8 is glassnet's p = 0.2. 002's '10 or 20%' are drop rates.")
    board.compare("000's dropout rate, as glassnet's p", nn.Dropout(p=0.5).p, "0.5")
    module = nn.Dropout(p=1 - 0.8)
    board.compare("001's 'retained with p = 0.8', as glassnet's p", module.p, "0.8", key="p_visible",
                  why="001's p is the probability of keeping a node; glassnet's (torch's) p is the probability "
                      "of dropping it, so 001's 0.8 is nn.Dropout(p=0.2)")
    board.show("nn.Dropout(p=0.2): the survivors' scale", 1 / (1 - module.p), key="scale_p02")
