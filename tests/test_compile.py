"""gn.compile: a recorded plan gives eager's values bit for bit, sees every change to the model,
and runs eagerly (with the reason in explain()) where a replay would be wrong."""
import logging

import numpy as np
import pytest

import glassnet as gn
from glassnet.compile import CompiledModule, CompileError
from speed_guard import faster  # noqa: E402  (tests/speed_guard.py)

nn = gn.nn


def _inputs(shape, n=4, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return [gn.from_numpy(rng.standard_normal(shape).astype(dtype)) for _ in range(n)]


def _same(a, b):
    if isinstance(a, (tuple, list)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
        return
    if a is None or b is None:
        assert a is None and b is None
        return
    assert a.shape == b.shape and a.dtype == b.dtype
    np.testing.assert_array_equal(a.numpy(), b.numpy())   # bit-identical values (-0.0 == 0.0)


def _compare(model, inputs, **options):
    """Compiled and eager on each input in turn; every call must agree exactly."""
    compiled = gn.compile(model, **options)
    with gn.no_grad():
        for x in inputs:
            args = x if isinstance(x, tuple) else (x,)
            _same(compiled(*args), model(*args))
    return compiled


def mlp(dtype=gn.float32):
    gn.manual_seed(0)
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                         nn.Linear(128, 10)).to(dtype).eval()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch", [1, 3])
def test_mlp_replays_eager_bit_for_bit(dtype, batch):
    model = mlp(gn.float32 if dtype == np.float32 else gn.float64)
    compiled = _compare(model, _inputs((batch, 784), 5, dtype=dtype))
    assert compiled.counts == {"recorded": 1, "replayed": 3, "eager": 1}   # the first replay is checked
    assert "replaying" in compiled.explain()
    assert "_affine" in compiled.code and "_maximum" in compiled.code      # the buffer forms


def test_unbatched_and_three_dimensional_inputs():
    model = mlp()
    compiled = _compare(model, _inputs((784,), 3) + _inputs((2, 3, 784), 3))
    assert compiled.counts["replayed"] == 2 and len(compiled._plans) == 2


def test_same_state_and_parameters_as_the_model():
    model = mlp()
    compiled = gn.compile(model)
    assert isinstance(compiled, CompiledModule) and compiled._orig_mod is model
    assert list(compiled.state_dict()) == list(model.state_dict())
    assert [id(p) for p in compiled.parameters()] == [id(p) for p in model.parameters()]
    assert compiled[0] is model[0]                     # attributes and indexing reach the model
    compiled.train()
    assert model.training and all(m.training for m in model.modules())
    compiled.eval()
    assert not model.training


def test_outputs_are_not_shared_between_calls():
    model = mlp()
    compiled = gn.compile(model)
    x1, x2 = _inputs((1, 784), 2)
    with gn.no_grad():
        outs = [compiled(x1) for _ in range(4)]
        kept = outs[-1].numpy().copy()
        compiled(x2)
    np.testing.assert_array_equal(outs[-1].numpy(), kept)
    assert outs[2].numpy() is not outs[3].numpy()


def test_in_place_parameter_update_is_seen():
    model = mlp()
    x = _inputs((1, 784), 1)[0]
    compiled = _compare(model, [x] * 3)
    opt = gn.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loss = model(x).sum()                    # a training step on the model itself, then inference
    loss.backward()
    opt.step()
    recorded = compiled.counts["recorded"]
    with gn.no_grad():
        _same(compiled(x), model(x))
    assert compiled.counts["recorded"] == recorded       # read by reference: no new recording


def test_load_state_dict_is_seen():
    model, other = mlp(), mlp()
    for p in other.parameters():
        p.data = p.data * 2 + 1
    x = _inputs((1, 784), 1)[0]
    compiled = _compare(model, [x] * 3)
    compiled.load_state_dict(other.state_dict())      # copies into the same arrays
    with gn.no_grad():
        _same(compiled(x), other(x))
    assert compiled.counts["recorded"] == 1


def test_reassigned_parameter_data_records_again():
    model = mlp()
    x = _inputs((1, 784), 1)[0]
    compiled = _compare(model, [x] * 3)
    model[2].weight.data = np.ones((128, 256), np.float32)    # a new array, not an in-place update
    with gn.no_grad():
        _same(compiled(x), model(x))
    assert compiled.counts["recorded"] == 2


def test_changed_structure_records_again():
    model = mlp()
    x = _inputs((1, 784), 1)[0]
    compiled = _compare(model, [x] * 3)
    gn.manual_seed(1)
    model[4] = nn.Linear(128, 10).eval()          # a new child: new parameters
    with gn.no_grad():
        _same(compiled(x), model(x))
    assert compiled.counts["recorded"] == 2
    model[1] = nn.Tanh().eval()                    # a new child without parameters
    with gn.no_grad():
        _same(compiled(x), model(x))
    assert compiled.counts["recorded"] == 3


def test_changed_hyperparameter_records_again():
    gn.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 4), nn.LeakyReLU(0.1)).eval()
    x = _inputs((2, 5), 1)[0]
    compiled = _compare(model, [x] * 3)
    model[1].negative_slope = 0.5
    with gn.no_grad():
        _same(compiled(x), model(x))
    assert compiled.counts["recorded"] == 2


def test_shape_change_records_again_up_to_the_cache_limit(caplog):
    model = mlp()
    compiled = gn.compile(model, cache_size_limit=2)
    with gn.no_grad():
        for batch in (1, 2, 1, 2):
            x = _inputs((batch, 784), 1, seed=batch)[0]
            _same(compiled(x), model(x))
        assert compiled.counts["recorded"] == 2
        with caplog.at_level(logging.WARNING, logger="glassnet.compile"):
            x = _inputs((5, 784), 1)[0]
            _same(compiled(x), model(x))
    assert compiled.counts["recorded"] == 2
    assert "cache_size_limit (2) reached" in compiled.explain()
    assert any("cache_size_limit" in r.getMessage() for r in caplog.records)
    compiled.reset()
    with gn.no_grad():
        compiled(x)
    assert compiled.counts["recorded"] == 3


def test_training_falls_back_to_eager_and_backward_works():
    model = mlp()
    model.train()
    compiled = gn.compile(model)
    x = _inputs((2, 784), 1)[0]
    out = compiled(x)                                # grad enabled, parameters require grad
    out.sum().backward()
    assert model[0].weight.grad is not None
    assert "requires grad" in compiled.explain() and compiled.counts["recorded"] == 0
    with gn.no_grad():                               # training mode, even without gradients
        _same(compiled(x), model(x))
    assert "training mode" in compiled.explain() and compiled.counts["recorded"] == 0


def test_grad_enabled_with_frozen_parameters_replays():
    model = mlp().requires_grad_(False)
    compiled = gn.compile(model)
    for x in _inputs((1, 784), 4):
        _same(compiled(x), model(x))
    assert compiled.counts["replayed"] == 2


def test_dropout_eval_and_training():
    gn.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 30), nn.ReLU(), nn.Dropout(0.5), nn.Linear(30, 4)).eval()
    compiled = _compare(model, _inputs((3, 20), 4))
    assert compiled.counts["replayed"] == 2
    model.train()
    with gn.no_grad():
        out = compiled(_inputs((3, 20), 1)[0])      # dropout draws: eager, and the reason is given
    assert out.shape == (3, 4) and "training mode" in compiled.explain()


@pytest.mark.parametrize("dims", [1, 2])
def test_batch_norm_eval_and_its_buffers(dims):
    gn.manual_seed(0)
    if dims == 1:
        model = nn.Sequential(nn.Linear(8, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 3))
        shape = (4, 8)
    else:
        model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(),
                              nn.Linear(3 * 5 * 5, 3))
        shape = (2, 2, 5, 5)
    with gn.no_grad():
        for x in _inputs(shape, 3, seed=7):          # running statistics that are not 0 and 1
            model(x)
    model.eval()
    x = _inputs(shape, 1)[0]
    compiled = _compare(model, [x] + _inputs(shape, 3, seed=3))
    assert compiled.counts["replayed"] == 2
    bn = model[1]
    bn.running_mean.numpy()[...] += 0.5               # buffers too are read by reference
    with gn.no_grad():
        _same(compiled(x), model(x))
    assert compiled.counts["recorded"] == 1


def test_lenet():
    gn.manual_seed(0)
    model = gn.nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10)).eval()
    compiled = _compare(model, _inputs((2, 1, 28, 28), 4))
    assert compiled.counts["replayed"] == 2


class LastStep(nn.Module):
    """A recurrent layer, then a Linear on the last step: out[:, -1] is recorded as an operation."""

    def __init__(self, cell):
        super().__init__()
        self.rnn = getattr(nn, cell)(6, 8, batch_first=True)
        self.fc = nn.Linear(8, 3)

    def forward(self, x, h0=None):
        out, _ = self.rnn(x) if h0 is None else self.rnn(x, h0)
        return self.fc(out[:, -1]), out


@pytest.mark.parametrize("cell", ["RNN", "LSTM", "GRU"])
def test_recurrent_models(cell):
    gn.manual_seed(0)
    model = LastStep(cell).eval()
    compiled = _compare(model, _inputs((3, 5, 6), 4))     # a tuple output, recorded whole
    assert compiled.counts["replayed"] == 2
    if cell != "LSTM":                                     # a second Tensor input: its own signature
        pairs = [(x, h) for x, h in zip(_inputs((3, 5, 6), 3, seed=1), _inputs((1, 3, 8), 3, seed=2))]
        _compare(model, pairs)


class Nested(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = nn.Sequential(nn.Linear(6, 6), nn.Tanh())
        self.heads = nn.ModuleList([nn.Linear(6, 2), nn.Linear(6, 3)])
        self.scale = 0.5

    def forward(self, x):
        h = self.block(x) + x                       # a residual: the add is recorded too
        h = h * self.scale
        return [head(h).softmax(-1) for head in self.heads]


def test_nested_modules_and_list_output():
    gn.manual_seed(0)
    model = Nested().eval()
    compiled = _compare(model, _inputs((4, 6), 4))
    assert compiled.counts["replayed"] == 2
    model.scale = 2.0                               # a plain attribute read by forward: recorded again
    x = _inputs((4, 6), 1)[0]
    with gn.no_grad():
        _same(compiled(x), model(x))
    assert compiled.counts["recorded"] == 2


class DataDependent(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        y = self.fc(x)
        if y.sum() > 0:                              # Python control flow on values
            return y * 2
        return y - 1


class OutsideTheOperations(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        shift = gn.Tensor._wrap(x._data.mean(axis=0) * 0 + x._data.max())   # computed outside Functions
        return self.fc(x) + shift


def test_data_dependent_control_flow_runs_eagerly():
    gn.manual_seed(0)
    model = DataDependent().eval()
    rng = np.random.default_rng(0)
    xs = [gn.from_numpy((rng.standard_normal((2, 4)) * 3).astype(np.float32)) for _ in range(8)]
    compiled = _compare(model, xs)
    assert compiled.counts["replayed"] == 0 and "data-dependent" in compiled.explain()
    with pytest.raises(CompileError, match="data-dependent"):
        with gn.no_grad():
            gn.compile(model, fullgraph=True)(xs[0])


def test_values_computed_outside_the_operations_are_caught_by_the_first_replay():
    gn.manual_seed(0)
    model = OutsideTheOperations().eval()
    compiled = _compare(model, _inputs((2, 4), 6))
    assert compiled.counts["replayed"] == 0
    assert "differed from eager" in compiled.explain()


class InPlace(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        y = self.fc(x)
        y += 1                                      # an in-place change, outside the Functions
        return y


def test_in_place_change_runs_eagerly():
    gn.manual_seed(0)
    model = InPlace().eval()
    compiled = _compare(model, _inputs((2, 4), 4))
    assert compiled.counts["replayed"] == 0 and "in-place" in compiled.explain()


def test_forward_hooks_run_eagerly():
    model = mlp()
    seen = []
    handle = model[1].register_forward_hook(lambda m, i, o: seen.append(o.shape))
    compiled = _compare(model, _inputs((1, 784), 3))
    assert len(seen) == 6 and compiled.counts["replayed"] == 0
    handle.remove()
    _compare(model, _inputs((1, 784), 3))
    with gn.no_grad():
        for x in _inputs((1, 784), 3):
            compiled(x)
    assert compiled.counts["replayed"] == 1


def test_unsupported_inputs_and_outputs():
    model = mlp()
    compiled = gn.compile(model, fullgraph=True)
    with gn.no_grad(), pytest.raises(CompileError, match="keyword"):
        compiled(input=_inputs((1, 784), 1)[0])

    class Dict(nn.Module):
        def forward(self, x):
            return {"y": x * 2}
    compiled = gn.compile(Dict().eval())
    x = _inputs((2, 3), 1)[0]
    with gn.no_grad():
        for _ in range(3):
            np.testing.assert_array_equal(compiled(x)["y"].numpy(), x.numpy() * 2)
    assert "returned dict" in compiled.explain()


def test_keyword_arguments_like_torch_compile():
    model = mlp()
    assert gn.compile(model, disable=True) is model
    assert gn.compile(mode="reduce-overhead")(model)._orig_mod is model
    assert gn.compile(gn.compile(model))._orig_mod is model
    with pytest.raises(ValueError, match="dynamic=True"):
        gn.compile(model, dynamic=True)
    with pytest.raises(ValueError, match="mode"):
        gn.compile(model, mode="fastest")
    with pytest.raises(ValueError, match="backend"):
        gn.compile(model, backend="cuda")
    with pytest.raises(ValueError, match="unknown option"):
        gn.compile(model, options={"triton.cudagraphs": True})
    with pytest.raises(TypeError, match="Module"):
        gn.compile(lambda x: x)
    eager = gn.compile(model, backend="eager")
    _compare(model, _inputs((1, 784), 3), backend="eager")
    with gn.no_grad():
        eager(_inputs((1, 784), 1)[0])
    assert eager.counts["recorded"] == 0
    unchecked = _compare(model, _inputs((1, 784), 3), options={"check": False})
    assert unchecked.counts == {"recorded": 1, "replayed": 2, "eager": 0}


def test_a_plan_that_differs_from_eager_falls_back_to_the_plain_plan(monkeypatch):
    """Should a Function's forward change (another GEMM call, say), the buffer form no longer
    matches it: the first replay sees that and the plan calls the Function's own forward."""
    from glassnet.functions.linear import Linear
    model = mlp()
    original = Linear.forward

    def shifted(self, x, W, b=None):
        return original(self, x, W, b) + np.float32(1e-3)
    monkeypatch.setattr(Linear, "forward", shifted)
    compiled = _compare(model, _inputs((1, 784), 5))
    assert compiled.counts["replayed"] == 2 and "_affine" not in compiled.code


def test_relu_buffer_form_keeps_nan_and_the_sign_of_zero_as_eager():
    model = nn.Sequential(nn.Linear(2, 4), nn.ReLU()).eval()
    with gn.no_grad():
        model[0].weight.numpy()[...] = 0
        model[0].bias.numpy()[...] = np.array([-0.0, np.nan, -1.0, 2.0], np.float32)
    compiled = _compare(model, _inputs((3, 2), 4))
    assert compiled.counts["replayed"] == 2 and "_maximum" in compiled.code
    with gn.no_grad():
        got, want = compiled(_inputs((3, 2), 1)[0]).numpy(), model(_inputs((3, 2), 1)[0]).numpy()
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))


class WithNone(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)

    def forward(self, x):
        return self.fc(x), None


def test_none_in_the_output_and_the_first_call_is_not_kept():
    gn.manual_seed(0)
    model = WithNone().eval()
    compiled = _compare(model, _inputs((2, 3), 4))
    assert compiled.counts["replayed"] == 2
    plan = next(iter(compiled._plans.values()))
    assert plan.recording is None and plan.source_output is None   # the recorded activations are freed


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(7, 5)
        self.fc = nn.Linear(5, 3)

    def forward(self, ids):
        return self.fc(self.embed(ids)).reshape(-1, 3)


def test_integer_inputs_and_the_embedding_index_check():
    gn.manual_seed(0)
    model = Tagger().eval()
    rng = np.random.default_rng(0)
    ids = [gn.from_numpy(rng.integers(0, 7, (2, 4)).astype(np.int64)) for _ in range(4)]
    compiled = _compare(model, ids)
    assert compiled.counts["replayed"] == 2 and "_rows(" in compiled.code
    bad = gn.from_numpy(np.array([[0, 1, -1, 2], [3, 4, 5, 6]], np.int64))   # NumPy would wrap -1 silently
    with gn.no_grad(), pytest.raises(IndexError, match="index -1 is out of range"):
        compiled(bad)


def test_buffers_keep_eagers_memory_layout():
    """A convolution's output is channel-major; the ReLU buffer after it must be too, so that the
    pooling after it takes the same path (and time) as eagerly."""
    gn.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.MaxPool2d(2)).eval()
    x = _inputs((2, 1, 8, 8), 1)[0]
    compiled = _compare(model, [x] * 3)
    with gn.no_grad():
        eager_relu = model[1](model[0](x)).numpy()
    buffers = [v for k, v in next(iter(compiled._plans.values())).replay.__globals__.items()
               if k.startswith("v") and isinstance(v, np.ndarray)]
    assert buffers and all(b.strides == eager_relu.strides for b in buffers)


# -- speed guard ------------------------------------------------------------------------------
def test_replay_is_faster_than_eager_at_batch_one():
    """The plan must beat the eager call it replaces (a silent fall-back to eager, or guards grown
    costlier than the dispatch they save, shows here); best of several, one retry against noise."""
    model = mlp()
    compiled = gn.compile(model)
    x = _inputs((1, 784), 1)[0]

    def run(module):
        def calls():
            with gn.no_grad():
                for _ in range(50):
                    module(x)
        return calls
    run(compiled)()
    assert faster(run(compiled), run(model), what="gn.compile's replay (50 calls)", than="eager")
    assert compiled.counts["replayed"] >= 400 + 48      # every timed call replayed


def test_a_compiled_child_inside_a_compiled_model():
    gn.manual_seed(0)
    inner = gn.compile(nn.Sequential(nn.Linear(6, 6), nn.ReLU()).eval())
    model = nn.Sequential(nn.Linear(4, 6), inner, nn.Linear(6, 2)).eval()
    xs = _inputs((3, 4), 4)
    with gn.no_grad():
        for x in xs[:3]:
            inner(model[0](x))                     # the child alone: its own plan, replaying
    assert inner.counts["replayed"] == 1
    outer = _compare(model, xs)                     # recorded through the child's operations
    assert outer.counts["replayed"] == 2 and outer.code.count("_affine") == 3


class MonteCarloDropout(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(5, 5)

    def forward(self, x):
        return nn.functional.dropout(self.fc(x), 0.5, training=True)   # random even in eval mode


def test_random_draws_run_eagerly_and_leave_the_generator_as_eager_does():
    gn.manual_seed(0)
    model = MonteCarloDropout().eval()
    x = _inputs((3, 5), 1)[0]
    compiled = gn.compile(model)
    with gn.no_grad():
        gn.manual_seed(5)
        got = [compiled(x).numpy() for _ in range(4)]
        gn.manual_seed(5)
        want = [model(x).numpy() for _ in range(4)]
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    assert compiled.counts["replayed"] == 0 and "random" in compiled.explain()


def test_a_deep_copy_records_its_own_plans():
    import copy
    model = mlp()
    x = _inputs((1, 784), 1)[0]
    compiled = _compare(model, [x] * 3)
    twin = copy.deepcopy(compiled)
    assert twin._orig_mod is not model and not twin._plans
    assert list(twin.state_dict()) == list(model.state_dict())
    with gn.no_grad():
        twin._orig_mod[0].weight.numpy()[...] = 0     # the copy's own parameters
        _same(twin(x), twin._orig_mod(x))
        _same(compiled(x), model(x))
    assert not np.array_equal(twin(x).numpy(), compiled(x).numpy())


class ReturnsAConstant(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)

    def forward(self, x):
        return self.fc(x), gn.zeros(2)


def test_an_output_made_outside_the_operations_is_a_fresh_array_each_call():
    gn.manual_seed(0)
    model = ReturnsAConstant().eval()
    compiled = _compare(model, _inputs((2, 3), 4))
    assert compiled.counts["replayed"] == 2
    with gn.no_grad():
        compiled(_inputs((2, 3), 1)[0])[1].numpy()[...] = 7       # the caller scribbles on it
        np.testing.assert_array_equal(compiled(_inputs((2, 3), 1)[0])[1].numpy(), np.zeros(2))


def test_another_memory_layout_is_another_signature():
    gn.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 3, 3), nn.ReLU(), nn.MaxPool2d(2)).eval()
    rng = np.random.default_rng(0)
    c_order = [gn.from_numpy(rng.standard_normal((2, 2, 8, 8)).astype(np.float32)) for _ in range(3)]
    channel_major = [gn.from_numpy(np.ascontiguousarray(x.numpy().transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3))
                     for x in c_order]
    compiled = _compare(model, c_order + channel_major)
    assert len(compiled._plans) == 2 and compiled.counts["replayed"] == 2
