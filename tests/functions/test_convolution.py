import numpy as np
import pytest

import glassnet as gn
import glassnet.nn.functional as F
from gen_conv import CASES  # tests/fixtures is on sys.path (conftest)


@pytest.mark.parametrize("C, O, size, k, opts", [
    (1, 2, (5, 4), 1, {}),
    (3, 2, (5, 6), 3, dict(padding=1)),
    (2, 3, (7, 6), 3, dict(stride=2, padding=1)),
    (2, 2, (6, 7), 5, dict(stride=(2, 1), padding=2)),
    (4, 4, (7, 7), 3, dict(stride=2, dilation=2, groups=2)),
    (4, 6, (5, 5), 3, dict(padding=1, groups=2)),
    (2, 2, (5, 6), 4, dict(padding="same")),              # asymmetric: one more at the bottom/right
    (2, 2, (6, 5), 3, dict(padding="same", dilation=2)),
])
def test_conv2d_gradcheck(C, O, size, k, opts, rng):
    x = rng.tensor(2, C, *size)
    w = rng.tensor(O, C // opts.get("groups", 1), k, k)
    b = rng.tensor(O)
    assert gn.gradcheck(lambda x, w, b: F.conv2d(x, w, b, **opts), (x, w, b))


@pytest.mark.parametrize("opts", [dict(padding=1), dict(stride=2, padding=(1, 2), dilation=2, groups=2), {}])
def test_conv2d_in_batch_chunks_matches_one_chunk_and_gradchecks(opts, rng, monkeypatch):
    """Layers too big for one im2col block run in batch chunks (uneven last chunk here) and
    rebuild each chunk's block in the backward pass: same numbers as the one-block path."""
    from glassnet.kernels import convolution
    x, w, b = rng.tensor(5, 4, 6, 7), rng.tensor(6, 4 // opts.get("groups", 1), 3, 3), rng.tensor(6)

    def run():
        for t in (x, w, b):
            t.grad = None
        y = F.conv2d(x, w, b, **opts)
        (y * y).sum().backward()
        return [a.numpy().copy() for a in (y, x.grad, w.grad, b.grad)]

    whole = run()
    per_sample = 4 * 9 * np.prod(F.conv2d(x, w, b, **opts).shape[2:]) * 8
    monkeypatch.setattr(convolution, "CHUNK_BYTES", int(2 * per_sample))     # chunks of 2, 2, 1
    assert len(convolution.chunks(5, 36, per_sample // 36 // 8, 8)) == 3
    for got, want in zip(run(), whole):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    assert gn.gradcheck(lambda x, w, b: F.conv2d(x, w, b, **opts), (x, w, b))


@pytest.mark.parametrize("opts", [dict(padding=1), dict(padding=(2, 1), dilation=(1, 2)),
                                  dict(padding=2, groups=2), dict(padding=(0, 3), dilation=2), {}])
@pytest.mark.parametrize("chunk_bytes", [None, 1])
def test_conv2d_shifted_rows_path_matches_im2col(opts, chunk_bytes, rng, monkeypatch):
    """The stride-1 shifted-rows convolution (conv_shifts: kh + kw contiguous copies, output
    rows in blocks when chunk_bytes is tiny) gives the im2col path's y, dx, dW and db, and
    passes gradcheck on its own."""
    from glassnet.kernels import conv_shifts, convolution
    if chunk_bytes is not None:
        monkeypatch.setattr(convolution, "CHUNK_BYTES", chunk_bytes)        # one output row per block
    groups = opts.get("groups", 1)
    x, w, b = rng.tensor(3, 4, 7, 6), rng.tensor(6, 4 // groups, 3, 2), rng.tensor(6)

    def run(shifts):
        monkeypatch.setattr(conv_shifts, "worth_it", lambda *args: shifts)
        for t in (x, w, b):
            t.grad = None
        y = F.conv2d(x, w, b, **opts)
        (y * y.detach()).sum().backward()
        return [a.numpy().copy() for a in (y, x.grad, w.grad, b.grad)]

    for got, want in zip(run(True), run(False)):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    assert gn.gradcheck(lambda x, w, b: F.conv2d(x, w, b, **opts), (x, w, b))     # still shifted


def test_conv2d_takes_shifted_rows_only_where_it_writes_less(rng):
    from glassnet.kernels.conv_shifts import worth_it
    assert worth_it(6, 16, 5, 5, (1, 1), 128)          # LeNet conv2: 30 + 80 rows < 150
    assert worth_it(32, 32, 3, 3, (1, 1), 64)          # 96 + 96 < 288
    assert not worth_it(1, 6, 5, 5, (1, 1), 128)       # LeNet conv1: 5 + 30 > 25 (it takes conv_direct)
    assert not worth_it(3, 32, 3, 3, (1, 1), 64)       # an RGB input layer: 9 + 96 > 27
    assert not worth_it(32, 32, 3, 3, (2, 2), 64)      # strided: im2col
    assert not worth_it(32, 32, 3, 3, (1, 1), 0)       # empty batch


@pytest.mark.parametrize("opts", [dict(padding=1), dict(stride=2, padding=2, dilation=2), dict(groups=2),
                                  dict(padding="same")])
def test_conv1d_gradcheck(opts, rng):
    x, w, b = rng.tensor(2, 4, 9), rng.tensor(6, 4 // opts.get("groups", 1), 4), rng.tensor(6)
    assert gn.gradcheck(lambda x, w, b: F.conv1d(x, w, b, **opts), (x, w, b))


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_conv2d_padding_modes_gradcheck(mode, rng):
    layer = gn.nn.Conv2d(2, 3, 3, padding=1, padding_mode=mode).double()
    x = rng.tensor(2, 2, 5, 4)
    w, b = layer.weight, layer.bias
    assert gn.gradcheck(lambda x, w, b: F.conv2d(F.pad(x, (1, 1, 1, 1), mode=mode), w, b), (x, w, b))
    assert gn.gradcheck(layer, (x,))


def _module(case):
    cls = gn.nn.Conv2d if case["dim"] == 2 else gn.nn.Conv1d
    return cls(**case["args"]).double()


@pytest.mark.parametrize("case_name", sorted(CASES))
def test_conv_matches_torch(case_name, fixtures):
    case, ref = CASES[case_name], fixtures[case_name]
    layer = _module(case)
    layer.load_state_dict({k: ref[k] for k in ("weight", "bias") if k in ref})
    x = gn.tensor(ref["x"], requires_grad=True)
    y = layer(x)
    y.backward(gn.tensor(ref["dy"]))
    checks = [(y, "y"), (x.grad, "dx"), (layer.weight.grad, "dweight")]
    if layer.bias is not None:
        checks.append((layer.bias.grad, "dbias"))
    for got, key in checks:
        assert got.shape == ref[key].shape, key
        np.testing.assert_allclose(got.numpy(), ref[key], rtol=1e-6, atol=1e-12, err_msg=f"{case_name}: {key}")


def test_conv2d_float32_stays_float32():
    layer = gn.nn.Conv2d(3, 4, 3, padding=1)
    x = gn.randn(2, 3, 6, 6, requires_grad=True)
    y = layer(x)
    y.sum().backward()
    assert y.dtype == gn.float32 and x.grad.dtype == gn.float32 and layer.weight.grad.dtype == gn.float32
    assert layer.bias.grad.dtype == gn.float32


def test_conv2d_default_init_bounds_and_repr():
    gn.manual_seed(0)
    layer = gn.nn.Conv2d(4, 8, 3, groups=2)
    bound = 1 / np.sqrt(2 * 3 * 3)                 # fan_in = in/groups * kH * kW
    assert layer.weight.shape == (8, 2, 3, 3)
    assert np.abs(layer.weight.numpy()).max() <= bound and np.abs(layer.bias.numpy()).max() <= bound
    assert np.abs(layer.weight.numpy()).max() > 0.8 * bound
    assert repr(layer) == "Conv2d(4, 8, kernel_size=(3, 3), stride=(1, 1), groups=2)"
    assert repr(gn.nn.Conv2d(1, 2, 3, padding="same", bias=False, padding_mode="reflect")) == \
        "Conv2d(1, 2, kernel_size=(3, 3), stride=(1, 1), padding=same, bias=False, padding_mode=reflect)"
    assert repr(gn.nn.Conv1d(2, 4, 3, stride=2, padding=1, dilation=2)) == \
        "Conv1d(2, 4, kernel_size=(3,), stride=(2,), padding=(1,), dilation=(2,))"
    assert list(layer.state_dict()) == ["weight", "bias"]


def test_conv_channel_mismatch_names_layer_and_channels():
    model = gn.nn.Sequential(gn.nn.Conv2d(1, 4, 3), gn.nn.ReLU())
    with pytest.raises(gn.ShapeError, match=r"layer '0' Conv2d\(1, 4.*expected input with 1 channels, got 3 "
                                            r"channels.*\(2, 3, 8, 8\)"):
        model(gn.zeros(2, 3, 8, 8))
    with pytest.raises(gn.ShapeError, match=r"expected input .* to have 2 channels, but got 3"):
        F.conv2d(gn.zeros(1, 3, 5, 5), gn.zeros(4, 1, 3, 3), groups=2)


def test_conv_kernel_larger_than_padded_input_reports_output_size():
    with pytest.raises(gn.ShapeError, match=r"computed output size \(0, 0\).*padded to \(4, 4\)"):
        gn.nn.Conv2d(1, 1, 5)(gn.zeros(1, 1, 4, 4))
    with pytest.raises(gn.ShapeError, match=r"computed output size \(-2,\)"):
        F.conv1d(gn.zeros(1, 1, 4), gn.zeros(1, 1, 3), dilation=3)


def test_conv_wrong_ndim_names_expected_shape():
    with pytest.raises(gn.ShapeError, match=r"layer Conv2d\(.*4-d input \(N, C, H, W\).*\(2, 8\)"):
        gn.nn.Conv2d(1, 2, 3)(gn.zeros(2, 8))
    with pytest.raises(gn.ShapeError, match=r"\(N, C, L\).*\(1, 2, 3, 4\)"):
        gn.nn.Conv1d(2, 2, 3)(gn.zeros(1, 2, 3, 4))


def test_conv_bad_arguments():
    with pytest.raises(ValueError, match="not supported for strided"):
        gn.nn.Conv2d(1, 1, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="Invalid padding string 'full'"):
        gn.nn.Conv2d(1, 1, 3, padding="full")
    with pytest.raises(ValueError, match="divisible by groups"):
        gn.nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="padding_mode"):
        gn.nn.Conv2d(1, 1, 3, padding_mode="mirror")


def test_conv2d_empty_batch_as_torch(rng):
    """A batch of zero samples gives an empty output and zero weight gradients, as torch."""
    x = gn.zeros(0, 3, 5, 5, dtype=gn.float64, requires_grad=True)
    w, b = rng.tensor(4, 3, 3, 3), rng.tensor(4)
    y = F.conv2d(x, w, b, padding=1)
    y.sum().backward()
    assert y.shape == (0, 4, 5, 5) and x.grad.shape == (0, 3, 5, 5)
    np.testing.assert_array_equal(w.grad.numpy(), 0)
    np.testing.assert_array_equal(b.grad.numpy(), 0)


@pytest.mark.parametrize("chunk_bytes", [None, 3000])
def test_conv2d_random_configurations_match_live_torch(chunk_bytes, monkeypatch):
    """Sixty random (channels, groups, kernel, stride, dilation, padding incl. 'same', size)
    configurations, forward and all three gradients against torch in float64, both
    convolution paths (im2col and shifted rows) and, with tiny chunks, their blocked forms."""
    torch = pytest.importorskip("torch")
    from glassnet.kernels import conv_shifts, convolution
    if chunk_bytes is not None:
        monkeypatch.setattr(convolution, "CHUNK_BYTES", chunk_bytes)
    rng = np.random.default_rng(123 if chunk_bytes is None else 99)
    shifted = 0
    for _ in range(60):
        G = int(rng.choice([1, 1, 2, 3]))
        Cg, Og = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        kh, kw = int(rng.integers(1, 5)), int(rng.integers(1, 5))
        sh, sw = int(rng.choice([1, 1, 1, 2])), int(rng.choice([1, 1, 1, 2]))
        dh, dw = int(rng.choice([1, 1, 2])), int(rng.choice([1, 1, 2]))
        H, W = int(rng.integers(kh * dh, kh * dh + 6)), int(rng.integers(kw * dw, kw * dw + 6))
        N = int(rng.integers(1, 4))
        pad = "same" if sh == sw == 1 and rng.random() < 0.3 else (int(rng.integers(0, 3)), int(rng.integers(0, 3)))
        x, w, b = rng.standard_normal((N, Cg * G, H, W)), rng.standard_normal((Og * G, Cg, kh, kw)), rng.standard_normal(Og * G)
        opts = dict(stride=(sh, sw), padding=pad, dilation=(dh, dw), groups=G)
        tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
        ty = torch.nn.functional.conv2d(tx, tw, tb, **opts)
        dy = rng.standard_normal(tuple(ty.shape))
        ty.backward(torch.tensor(dy))
        gx, gw, gb = (gn.tensor(a, requires_grad=True) for a in (x, w, b))
        gy = F.conv2d(gx, gw, gb, **opts)
        gy.backward(gn.tensor(dy))
        shifted += conv_shifts.worth_it(Cg * G, Og * G, kh, kw, (sh, sw), N)
        for got, want in [(gy, ty), (gx.grad, tx.grad), (gw.grad, tw.grad), (gb.grad, tb.grad)]:
            np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=1e-9, atol=1e-9, err_msg=str(opts))
    assert shifted >= 10                         # both paths were exercised


def _force_winograd(monkeypatch):
    """Take the Winograd path wherever it applies (any channel count, either backend)."""
    from glassnet.kernels import winograd
    monkeypatch.setattr(winograd, "worth_it", lambda C, O, kernel, stride, dilation, groups, pads, N:
                        N > 0 and winograd.applies(kernel, stride, dilation, groups, pads))
    return winograd


def _winograd_shaped(case):
    a = case["args"]
    return (case["dim"] == 2 and a["kernel_size"] in (3, (3, 3)) and a.get("stride", 1) == 1
            and a.get("dilation", 1) == 1 and a.get("groups", 1) == 1)


@pytest.mark.parametrize("case_name", sorted(name for name, case in CASES.items() if _winograd_shaped(case)))
def test_conv_matches_torch_on_the_winograd_path(case_name, fixtures, monkeypatch):
    """The committed torch fixtures again (the 3x3 stride-1 single-group ones), on the Winograd path."""
    winograd = _force_winograd(monkeypatch)
    taken = []
    real = winograd.forward
    monkeypatch.setattr(winograd, "forward", lambda *a: taken.append(1) or real(*a))
    test_conv_matches_torch(case_name, fixtures)
    assert taken


@pytest.mark.parametrize("opts", [dict(padding=1), dict(padding=(2, 0)), {}, dict(padding="same")])
def test_conv2d_winograd_path_gradcheck(opts, rng, monkeypatch):
    _force_winograd(monkeypatch)
    x, w, b = rng.tensor(2, 3, 5, 6), rng.tensor(4, 3, 3, 3), rng.tensor(4)
    assert gn.gradcheck(lambda x, w, b: F.conv2d(x, w, b, **opts), (x, w, b))


def test_conv2d_cifar_sized_float32_matches_live_torch(one_blas_thread):
    """A 32 -> 32 channel 3x3 layer in float32, on whichever path the rule picks (Winograd on
    the compiled backend), forward and gradients against torch at float32's precision."""
    torch = pytest.importorskip("torch")
    from glassnet import kernels
    from glassnet.kernels import winograd
    r = np.random.default_rng(11)
    x = r.standard_normal((4, 32, 12, 12)).astype(np.float32)
    w = (r.standard_normal((32, 32, 3, 3)) / 17).astype(np.float32)
    b = r.standard_normal(32).astype(np.float32)
    dy = r.standard_normal((4, 32, 12, 12)).astype(np.float32)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    torch.nn.functional.conv2d(tx, tw, tb, padding=1).backward(torch.tensor(dy))
    ty = torch.nn.functional.conv2d(tx, tw, tb, padding=1)
    gx, gw, gb = (gn.tensor(a, requires_grad=True) for a in (x, w, b))
    gy = F.conv2d(gx, gw, gb, padding=1)
    gy.backward(gn.tensor(dy))
    assert winograd.worth_it(32, 32, (3, 3), (1, 1), (1, 1), 1, (1, 1, 1, 1), 4) == (kernels.BACKEND == "numba")
    for got, want in [(gy, ty), (gx.grad, tx.grad), (gw.grad, tw.grad), (gb.grad, tb.grad)]:
        want = want.detach().numpy()
        assert got.dtype == gn.float32
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-4, atol=1e-5 * np.abs(want).max())
