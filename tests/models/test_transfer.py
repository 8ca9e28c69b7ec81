"""freeze / unfreeze / replace_head: frozen parameters stay put, frozen batch norms stay in eval."""
import numpy as np
import pytest

import glassnet as gn
import glassnet.models as models
from glassnet import nn
from glassnet.models.transfer import unfreeze

needs_conv = pytest.mark.skipif(not all(hasattr(gn.nn, n) for n in ("Conv2d", "MaxPool2d", "AdaptiveAvgPool2d")),
                                reason="needs gn.nn.Conv2d / MaxPool2d / AdaptiveAvgPool2d (not written yet)")


class Tiny(nn.Module):
    """A dense stand-in for a backbone + head: stem, body (with batch norm), fc."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU())
        self.body = nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8), nn.ReLU())
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        return self.fc(self.body(self.stem(x)))


def _train_step(model, opt):
    x, y = gn.randn(16, 6), gn.tensor(np.arange(16) % 3)
    opt.zero_grad()
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()


def _snapshot(module):
    return {k: v.numpy().copy() for k, v in module.state_dict().items()}


def test_freeze_up_to_freezes_prefix_of_children():
    model = models.freeze(Tiny(), up_to="stem")
    assert not any(p.requires_grad for p in model.stem.parameters())
    assert all(p.requires_grad for p in model.body.parameters())
    assert all(p.requires_grad for p in model.fc.parameters())
    assert model.stem[1].eval_locked and not model.body[1].eval_locked


@pytest.mark.parametrize("make_opt", [lambda ps: gn.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=1e-2),
                                      lambda ps: gn.optim.Adam(ps, lr=0.1, weight_decay=1e-2)])
def test_frozen_parameters_and_running_stats_unchanged_by_training(make_opt):
    gn.manual_seed(0)
    model = models.freeze(Tiny(), up_to="body")
    model.train()
    before = _snapshot(model.stem), _snapshot(model.body), _snapshot(model.fc)
    opt = make_opt(model.parameters())        # all parameters: frozen ones have grad None and are skipped
    for _ in range(3):
        _train_step(model, opt)
    for part, snap in zip((model.stem, model.body), before[:2]):
        for key, value in _snapshot(part).items():
            np.testing.assert_array_equal(value, snap[key], err_msg=key)
    assert all(p.grad is None for p in model.stem.parameters())
    assert not np.array_equal(model.fc.weight.numpy(), before[2]["weight"])


def test_frozen_batch_norm_stays_in_eval_after_train():
    model = models.freeze(Tiny())              # everything
    model.train()
    assert model.training and not model.stem[1].training and not model.body[1].training
    x = gn.randn(5, 6)
    train_out = model(x).numpy()
    model.eval()
    np.testing.assert_array_equal(model(x).numpy(), train_out)   # normalised with running statistics
    assert int(model.stem[1].num_batches_tracked.item()) == 0


def test_freeze_without_bn_eval_lets_batch_norm_train():
    model = models.freeze(Tiny(), bn_eval=False).train()
    assert model.stem[1].training
    model(gn.randn(5, 6))
    assert int(model.stem[1].num_batches_tracked.item()) == 1


def test_unfreeze():
    model = unfreeze(models.freeze(Tiny()))
    assert all(p.requires_grad for p in model.parameters()) and model.stem[1].training


def test_freeze_unknown_child_names_the_children():
    with pytest.raises(ValueError, match=r"no top-level child 'layer9'.*\['stem', 'body', 'fc'\]"):
        models.freeze(Tiny(), up_to="layer9")


def test_replace_head_on_fc_and_last_linear():
    model = models.replace_head(models.freeze(Tiny()), 5)
    assert isinstance(model.fc, nn.Linear) and model.fc.in_features == 8 and model.fc.out_features == 5
    assert model.fc.weight.requires_grad and list(model.state_dict())[-2:] == ["fc.weight", "fc.bias"]
    seq = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3), nn.Softmax(dim=1)).double()
    models.replace_head(seq, 2)
    assert seq[2].out_features == 2 and seq[2].weight.dtype == np.float64 and isinstance(seq[3], nn.Softmax)


def test_only_head_trains_after_freeze_and_replace():
    model = models.replace_head(models.freeze(Tiny()), 3)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable == ["fc.weight", "fc.bias"]


@needs_conv
def test_resnet_freeze_up_to_layer3_and_replace_head():
    model = models.resnet18(num_classes=10)
    models.freeze(model, up_to="layer3")
    frozen = {n.split(".")[0] for n, p in model.named_parameters() if not p.requires_grad}
    assert frozen == {"conv1", "bn1", "layer1", "layer2", "layer3"}
    assert model.layer4[0].bn1.training and not model.layer3[0].bn1.training
    models.replace_head(model, 4)
    assert (model.fc.in_features, model.fc.out_features) == (512, 4)
    y = model.train()(gn.randn(2, 3, 32, 32))
    y.sum().backward()
    assert model.layer3[0].conv1.weight.grad is None and model.layer4[0].conv1.weight.grad is not None


@needs_conv
def test_replace_head_vgg_style_classifier():
    model = models.alexnet(num_classes=10)
    models.replace_head(model, 2)
    assert (model.classifier[6].in_features, model.classifier[6].out_features) == (4096, 2)
    model = models.digits_cnn()
    models.freeze(model, up_to="features")
    models.replace_head(model, 4)
    assert model.classifier[5].out_features == 4 and not model.features[1].training
