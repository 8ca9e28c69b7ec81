"""Optimizers and schedules step for step against torch (fixtures from gen_optim.py)."""
import numpy as np
import pytest

import glassnet as gn
from gen_optim import OPTIMIZERS, SCHEDULERS, STEPS  # tests/fixtures is on sys.path (conftest)


def _loss(W, b, x, y):
    return ((gn.tanh(x @ W.T + b) - y) ** 2).mean()


@pytest.mark.parametrize("case_name, name, kwargs", OPTIMIZERS, ids=[c[0] for c in OPTIMIZERS])
def test_optimizer_trajectory_matches_torch(case_name, name, kwargs, fixtures):
    case = fixtures[case_name]
    W = gn.nn.Parameter(gn.tensor(case["W"]))
    b = gn.nn.Parameter(gn.tensor(case["b"]))
    x, y = gn.tensor(case["x"]), gn.tensor(case["y"])
    opt = getattr(gn.optim, name)([W, b], **kwargs)
    for step in range(STEPS):
        opt.zero_grad()
        _loss(W, b, x, y).backward()
        opt.step()
        np.testing.assert_allclose(W.numpy(), case["W_traj"][step], rtol=1e-6, atol=1e-12, err_msg=f"W step {step}")
        np.testing.assert_allclose(b.numpy(), case["b_traj"][step], rtol=1e-6, atol=1e-12, err_msg=f"b step {step}")


@pytest.mark.parametrize("case_name, name, kwargs", OPTIMIZERS, ids=[c[0] for c in OPTIMIZERS])
def test_optimizer_state_dict_resumes_exactly(case_name, name, kwargs, fixtures):
    """Stop after 4 steps, rebuild from state_dicts, and continue: the trajectory is unchanged."""
    case = fixtures[case_name]
    x, y = gn.tensor(case["x"]), gn.tensor(case["y"])
    W = gn.nn.Parameter(gn.tensor(case["W"]))
    b = gn.nn.Parameter(gn.tensor(case["b"]))
    opt = getattr(gn.optim, name)([W, b], **kwargs)
    for _ in range(4):
        opt.zero_grad()
        _loss(W, b, x, y).backward()
        opt.step()
    saved = opt.state_dict()
    W2 = gn.nn.Parameter(gn.tensor(W.numpy().copy()))
    b2 = gn.nn.Parameter(gn.tensor(b.numpy().copy()))
    opt2 = getattr(gn.optim, name)([W2, b2], **kwargs)
    opt2.load_state_dict(saved)
    for step in range(4, STEPS):
        opt2.zero_grad()
        _loss(W2, b2, x, y).backward()
        opt2.step()
        np.testing.assert_allclose(W2.numpy(), case["W_traj"][step], rtol=1e-6, atol=1e-12)


def test_float32_parameters_stay_float32():
    W = gn.nn.Parameter(gn.randn(3, 4))
    for opt in [gn.optim.SGD([W], lr=0.1, momentum=0.9, weight_decay=0.1), gn.optim.Adam([W]),
                gn.optim.AdamW([W]), gn.optim.RMSprop([W], centered=True), gn.optim.Adagrad([W])]:
        W.grad = gn.randn(3, 4)
        opt.step()
        assert W.dtype == gn.float32


def test_parameters_without_grad_are_skipped():
    frozen = gn.nn.Parameter(gn.ones(2))
    live = gn.nn.Parameter(gn.ones(2))
    opt = gn.optim.Adam([frozen, live], lr=0.1, weight_decay=0.5)
    live.grad = gn.ones(2)
    opt.step()
    np.testing.assert_array_equal(frozen.numpy(), np.ones(2, np.float32))
    assert not np.allclose(live.numpy(), 1.0)


def test_param_groups_use_their_own_lr():
    a, b = gn.nn.Parameter(gn.zeros(1)), gn.nn.Parameter(gn.zeros(1))
    opt = gn.optim.SGD([{"params": [a]}, {"params": [b], "lr": 1.0}], lr=0.1)
    a.grad, b.grad = gn.ones(1), gn.ones(1)
    opt.step()
    np.testing.assert_allclose([a.item(), b.item()], [-0.1, -1.0], rtol=1e-6)


def test_invalid_hyperparameters_raise():
    p = gn.nn.Parameter(gn.zeros(1))
    with pytest.raises(ValueError, match="lr=-1"):
        gn.optim.SGD([p], lr=-1)
    with pytest.raises(ValueError, match="Nesterov"):
        gn.optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="empty parameter list"):
        gn.optim.Adam([])


@pytest.mark.parametrize("case_name, name, kwargs", SCHEDULERS, ids=[c[0] for c in SCHEDULERS])
def test_scheduler_matches_torch(case_name, name, kwargs, fixtures):
    p = gn.nn.Parameter(gn.zeros(1))
    opt = gn.optim.SGD([p], lr=0.5)
    sched = getattr(gn.optim.lr_scheduler, name)(opt, **kwargs)
    lrs = []
    for _ in range(STEPS):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    np.testing.assert_allclose(lrs, fixtures[case_name]["lrs"], rtol=1e-12)


def test_reduce_lr_on_plateau_matches_torch(fixtures):
    case = fixtures["sched_plateau"]
    p = gn.nn.Parameter(gn.zeros(1))
    opt = gn.optim.SGD([p], lr=1.0)
    sched = gn.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=1, cooldown=1)
    lrs = []
    for m in case["metrics"]:
        sched.step(float(m))
        lrs.append(opt.param_groups[0]["lr"])
    np.testing.assert_allclose(lrs, case["lrs"], rtol=1e-12)


def test_l1_penalty_gradient_is_sign():
    w = gn.nn.Parameter(gn.tensor([-2.0, 0.5, 3.0]))
    gn.optim.l1_penalty([w], 0.1).backward()
    np.testing.assert_allclose(w.grad.numpy(), [-0.1, 0.1, 0.1], rtol=1e-6)


@pytest.mark.parametrize("name, kwargs", [
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.2, maximize=True)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("Adam", dict(lr=0.01, maximize=True, amsgrad=True)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True, maximize=True)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, maximize=True)),
])
def test_float32_updates_match_torch_live(name, kwargs):
    """float32 parameters, torch's fused (or foreach) update computed live: same trajectory to
    float32 rounding; glassnet takes the same foreach/fused arguments and computes the same update."""
    torch = pytest.importorskip("torch")
    r = np.random.default_rng(0)
    p0 = r.standard_normal((5, 7)).astype(np.float32)
    grads = [r.standard_normal((5, 7)).astype(np.float32) for _ in range(6)]
    impl = dict(fused=True) if name != "RMSprop" else dict(foreach=True)
    tp = torch.nn.Parameter(torch.tensor(p0))
    topt = getattr(torch.optim, name)([tp], **kwargs, **impl)
    gp = gn.nn.Parameter(gn.tensor(p0.copy()))
    gopt = getattr(gn.optim, name)([gp], **kwargs, **impl)
    assert gopt.param_groups[0][next(iter(impl))] is True
    for g in grads:
        tp.grad = torch.tensor(g)
        gp.grad = gn.tensor(g)
        topt.step()
        gopt.step()
        np.testing.assert_allclose(gp.numpy(), tp.detach().numpy(), rtol=1e-5, atol=1e-6)
    state = gopt.state_dict()["state"][0]
    for key, value in topt.state_dict()["state"][0].items():
        if key != "step":
            np.testing.assert_allclose(state[key].numpy(), value.numpy(), rtol=1e-5, atol=1e-6, err_msg=key)
