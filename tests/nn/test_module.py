"""Module: registration, traversal, modes, state_dict (torch's keys), loading, dtype, containers, hooks."""
from collections import OrderedDict

import numpy as np
import pytest

import glassnet as gn
from gen_core import ARCHITECTURES

nn = gn.nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(3, 4)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(4, 2)
        self.scale = nn.Parameter(gn.ones(2))
        self.register_buffer("steps", gn.zeros(1))
        self.register_buffer("cache", gn.zeros(2), persistent=False)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x))) * self.scale


def _snapshot(module):
    return {k: v.numpy().copy() for k, v in module.state_dict().items()}


def _assert_bitwise_equal(module, snapshot):
    now = module.state_dict()
    assert list(now) == list(snapshot)
    for key, value in snapshot.items():
        assert now[key].numpy().tobytes() == value.tobytes(), key


# ------------------------------------------------------------------ registration
def test_attributes_register_parameters_buffers_and_children():
    net = Net()
    assert [n for n, _ in net.named_parameters()] == ["scale", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert [n for n, _ in net.named_buffers()] == ["steps", "cache"]
    assert [n for n, _ in net.named_children()] == ["fc1", "act", "fc2"]
    assert list(net.children()) == [net.fc1, net.act, net.fc2]
    assert [type(m).__name__ for m in net.modules()] == ["Net", "Linear", "ReLU", "Linear"]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in net.parameters())
    assert net.fc1.weight is net.get_parameter("fc1.weight") and net.get_submodule("fc2") is net.fc2


def test_state_dict_holds_parameters_and_persistent_buffers_sharing_storage():
    net = Net()
    sd = net.state_dict()
    # torch's order: each module's parameters, then its persistent buffers, then its children
    assert list(sd) == ["scale", "steps", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert not any(v.requires_grad for v in sd.values())
    assert np.shares_memory(sd["fc1.weight"].numpy(), net.fc1.weight.numpy())


def test_assigning_a_plain_value_to_a_parameter_name_raises():
    net = Net()
    with pytest.raises(TypeError, match="cannot assign ndarray as parameter 'scale'"):
        net.scale = np.ones(2)
    with pytest.raises(TypeError, match="cannot assign int as child module 'fc1'"):
        net.fc1 = 3
    net.fc1 = None                             # removing is allowed, as torch
    assert "fc1.weight" not in net.state_dict()


def test_assigning_before_super_init_is_explained():
    class Broken(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(1, 1)

    with pytest.raises(AttributeError, match="super\\(\\).__init__\\(\\)"):
        Broken()


def test_shared_parameters_are_listed_once():
    fc = nn.Linear(2, 2)
    model = nn.Sequential(fc, nn.ReLU(), fc)
    assert len(list(model.parameters())) == 2


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_state_dict_keys_equal_torchs(arch, fixtures):
    model = ARCHITECTURES[arch](nn)
    expected = [str(k) for k in fixtures[arch]["keys"]]
    assert list(model.state_dict()) == expected
    assert [n for n, _ in model.named_parameters()] == expected   # no buffers in these architectures


# ---------------------------------------------------------------------- modes
def test_train_and_eval_reach_every_submodule():
    model = ARCHITECTURES["core_arch_nested"](nn)
    assert all(m.training for m in model.modules())
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    model.features.train(False)
    assert model.training and not model.features[1].heads["a"].training


def test_zero_grad_sets_grads_to_none_by_default():
    net = Net()
    net(gn.ones(2, 3)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.numpy().any() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_requires_grad_false_freezes_parameters():
    net = Net()
    assert net.fc1.requires_grad_(False) is net.fc1
    x = gn.ones(2, 3, requires_grad=True)
    net(x).sum().backward()
    assert net.fc1.weight.grad is None and net.fc1.bias.grad is None
    assert net.fc2.weight.grad is not None and x.grad is not None
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())


# ------------------------------------------------------------------ load_state_dict
@pytest.mark.parametrize("as_type", ["numpy", "tensor", "list"])
def test_load_state_dict_accepts_arrays_and_tensors(as_type):
    src, dst = Net(), Net()
    convert = {"numpy": lambda t: t.numpy().copy(), "tensor": lambda t: t,
               "list": lambda t: t.numpy().tolist()}[as_type]
    result = dst.load_state_dict({k: convert(v) for k, v in src.state_dict().items()})
    assert result.missing_keys == [] and result.unexpected_keys == []
    for key, value in src.state_dict().items():
        np.testing.assert_array_equal(dst.state_dict()[key].numpy(), value.numpy())
    assert dst.fc1.weight.dtype == gn.float32        # copied into the existing float32 storage
    assert not np.shares_memory(dst.fc1.weight.numpy(), src.fc1.weight.numpy())


def _bad_state(kind):
    sd = {k: v.numpy().copy() + 1 for k, v in Net().state_dict().items()}   # every entry different
    if kind == "missing":
        del sd["fc2.bias"]
        return sd, "Missing key.*fc2.bias"
    if kind == "unexpected":
        sd["fc3.weight"] = np.zeros((2, 2))
        return sd, "Unexpected key.*fc3.weight"
    sd["fc2.weight"] = np.zeros((4, 2))
    return sd, r"size mismatch for fc2.weight.*\(4, 2\).*\(2, 4\)"


@pytest.mark.parametrize("kind", ["missing", "unexpected", "mis-shaped"])
def test_load_state_dict_error_names_the_key_and_changes_nothing(kind):
    net = Net()
    before = _snapshot(net)
    sd, pattern = _bad_state(kind)
    with pytest.raises(RuntimeError, match=pattern):
        net.load_state_dict(sd)
    _assert_bitwise_equal(net, before)


def test_load_state_dict_non_strict_reports_keys_but_still_rejects_shapes():
    net = Net()
    sd = {k: v.numpy() + 1 for k, v in net.state_dict().items()}
    del sd["fc2.bias"]
    sd["extra"] = np.zeros(1)
    result = net.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["fc2.bias"] and result.unexpected_keys == ["extra"]
    np.testing.assert_array_equal(net.scale.numpy(), sd["scale"])
    before = _snapshot(net)
    with pytest.raises(RuntimeError, match="size mismatch for scale"):
        net.load_state_dict({"scale": np.ones(3)}, strict=False)
    _assert_bitwise_equal(net, before)


def _state_with(key, value):
    """Net's own state, every entry changed (so a partial write would show), with ``key`` set to ``value``."""
    sd = {k: v.numpy().copy() + 1 for k, v in Net().state_dict().items()}
    sd[key] = value
    return sd


# the bad entry is fc2.* (late in the dict), so a load that wrote as it went would have changed fc1.* first
@pytest.mark.parametrize("key, value, pattern", [
    ("fc2.bias", ["a", "b"], r'"fc2.bias".*float32.*str'),
    ("fc2.bias", np.array([1 + 2j, 3]), r'"fc2.bias".*float32.*complex128'),
    ("fc2.bias", None, r'"fc2.bias".*float32.*None'),
    ("fc2.bias", np.array([object(), 1.0], dtype=object), r'"fc2.bias".*float32.*object'),
    ("fc2.bias", np.array([1e40, 0.0]), r'"fc2.bias".*1e\+40.*overflows float32'),
    ("fc2.weight", {"not": "an array"}, r'"fc2.weight".*float32.*dict'),
])
def test_load_state_dict_refuses_unconvertible_values_and_writes_nothing(key, value, pattern):
    net = Net()
    before = _snapshot(net)
    with pytest.raises(RuntimeError, match=pattern):
        net.load_state_dict(_state_with(key, value))
    _assert_bitwise_equal(net, before)


def test_load_state_dict_reports_every_bad_value_at_once():
    sd = _state_with("fc2.bias", None)
    sd["fc1.weight"] = np.full((4, 3), 1e300)
    with pytest.raises(RuntimeError, match=r'(?s)"fc1.weight".*"fc2.bias"'):
        Net().load_state_dict(sd)


def test_load_state_dict_integer_buffer_takes_whole_numbers_only():
    bn = nn.BatchNorm1d(2)
    sd = {k: v.numpy().copy() for k, v in bn.state_dict().items()}
    sd["num_batches_tracked"] = np.array(7.0)      # a float that is a whole number: as torch, it loads
    bn.load_state_dict(sd)
    assert int(bn.num_batches_tracked.item()) == 7
    sd["num_batches_tracked"] = np.array(2.5)
    with pytest.raises(RuntimeError, match=r'"num_batches_tracked".*int64.*2.5'):
        bn.load_state_dict(sd)
    assert int(bn.num_batches_tracked.item()) == 7


def test_load_state_dict_float64_values_into_float32_round_as_before():
    net = Net()
    sd = {k: v.numpy().astype(np.float64) / 3 for k, v in Net().state_dict().items()}
    net.load_state_dict(sd)
    np.testing.assert_array_equal(net.fc1.weight.numpy(), sd["fc1.weight"].astype(np.float32))


# ---------------------------------------------------------------------- dtype
def test_to_float64_converts_parameters_buffers_and_grads():
    net = Net()
    net(gn.ones(1, 3)).sum().backward()
    assert net.to(gn.float64) is net
    assert all(t.dtype == gn.float64 for t in net.state_dict().values())
    assert all(p.grad.dtype == gn.float64 for p in net.parameters())
    assert net(gn.ones(1, 3, dtype=gn.float64)).dtype == gn.float64
    net.float()
    assert net.fc1.weight.dtype == gn.float32 and isinstance(net.fc1.weight, nn.Parameter)
    assert net.to("cpu") is net and net.cpu() is net and net.double().fc2.bias.dtype == gn.float64


# ------------------------------------------------------------------ containers
def test_sequential():
    a, b, c = nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)
    seq = nn.Sequential(a, b, c)
    assert len(seq) == 3 and seq[0] is a and seq[-1] is c and list(seq) == [a, b, c]
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    head = seq[1:]
    assert isinstance(head, nn.Sequential) and list(head) == [b, c]
    x = gn.randn(5, 3)
    np.testing.assert_array_equal(seq(x).numpy(), c(b(a(x))).numpy())
    seq.append(nn.ReLU())
    assert len(seq) == 4 and list(seq.state_dict())[-1] == "2.bias"
    seq[3] = nn.Sigmoid()
    assert isinstance(seq[3], nn.Sigmoid)
    named = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("out", nn.Identity())]))
    assert list(named.state_dict()) == ["fc.weight", "fc.bias"] and named.fc is named[0]


def test_module_list():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(2)])
    assert len(layers) == 2 and [n for n, _ in layers.named_parameters()][:2] == ["0.weight", "0.bias"]
    extra = nn.Linear(2, 2)
    layers.append(extra)
    layers.extend([nn.ReLU()])
    layers.insert(0, nn.Tanh())
    assert [type(m).__name__ for m in layers] == ["Tanh", "Linear", "Linear", "Linear", "ReLU"]
    assert layers[3] is extra and list(layers.state_dict())[0] == "1.weight"
    assert isinstance(layers[1:3], nn.ModuleList) and len(layers[1:3]) == 2
    with pytest.raises(NotImplementedError):
        layers(gn.ones(2))


def test_module_dict():
    heads = nn.ModuleDict({"b": nn.Linear(2, 1), "a": nn.Linear(2, 3)})
    assert list(heads.keys()) == ["b", "a"] and "a" in heads and len(heads) == 2
    heads["c"] = nn.ReLU()
    assert list(heads) == ["b", "a", "c"] and isinstance(heads["c"], nn.ReLU)
    assert list(heads.state_dict()) == ["b.weight", "b.bias", "a.weight", "a.bias"]
    popped = heads.pop("b")
    assert isinstance(popped, nn.Linear) and list(heads.keys()) == ["a", "c"]
    heads.update([("d", nn.Tanh())])
    assert [k for k, _ in heads.items()] == ["a", "c", "d"]


# ---------------------------------------------------------------------- hooks
def test_forward_hooks_see_inputs_and_output_and_can_replace_it():
    layer = nn.Linear(3, 2)
    seen = []
    handle = layer.register_forward_hook(lambda m, inputs, out: seen.append((m, inputs, out)))
    x = gn.ones(1, 3)
    y = layer(x)
    assert len(seen) == 1 and seen[0][0] is layer and seen[0][1][0] is x and seen[0][2] is y
    replace = layer.register_forward_hook(lambda m, inputs, out: out * 0)
    assert not layer(x).numpy().any()
    handle.remove()
    replace.remove()
    layer(x)
    assert len(seen) == 2


def test_hooks_on_submodules_fire_inside_a_parent():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    shapes = []
    for m in model:
        m.register_forward_hook(lambda m, i, o: shapes.append((type(m).__name__, o.shape)))
    model(gn.ones(5, 3))
    assert shapes == [("Linear", (5, 4)), ("ReLU", (5, 4)), ("Linear", (5, 2))]


def test_shape_error_names_the_nested_layer_path():
    model = ARCHITECTURES["core_arch_nested"](nn)
    assert model(gn.ones(4, 2)).shape == (4, 2)
    with pytest.raises(gn.ShapeError, match=r"layer 'features.1.proj' Linear\(in_features=2.*\(4, 5\)"):
        model(gn.ones(4, 5))


def test_repr_lists_children():
    assert repr(nn.Sequential(nn.Linear(2, 3), nn.ReLU())) == (
        "Sequential(\n  (0): Linear(in_features=2, out_features=3, bias=True)\n  (1): ReLU()\n)")


def test_load_state_dict_tolerates_missing_num_batches_tracked():
    """Older torchvision checkpoints have no BatchNorm batch counter; torch loads them."""
    model = gn.nn.Sequential(gn.nn.Linear(3, 4), gn.nn.BatchNorm1d(4))
    state = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    result = model.load_state_dict(state)
    assert result.missing_keys == []
