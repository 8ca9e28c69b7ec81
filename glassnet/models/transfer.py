"""Transfer learning: freeze a pretrained backbone, give it a new head, train only the head.

    model = gn.models.resnet18()
    model.load_state_dict(gn.load("resnet18.safetensors"))
    gn.models.freeze(model)                   # everything: no grads, batch norms locked in eval
    gn.models.replace_head(model, 5)          # a fresh, trainable Linear(512, 5) as model.fc
    opt = gn.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01)

Frozen parameters get ``requires_grad=False``, so backward leaves their ``.grad`` at None
and optimizers skip them. A frozen batch norm must also stop updating its running
statistics, which ``requires_grad`` does not cover (running stats are buffers, updated in
the forward of training mode); ``bn_eval`` handles that with the ``eval_locked`` flag of
:class:`glassnet.nn.BatchNorm2d`: while set, the layer's ``training`` reads False whatever
``model.train()`` assigned, so it normalises with, and keeps, its pretrained statistics.
"""
from __future__ import annotations

from .. import nn
from ..nn.modules.normalization import _BatchNorm


def _set_frozen(module: nn.Module, frozen: bool, bn_eval: bool) -> None:
    module.requires_grad_(not frozen)
    if bn_eval:
        for m in module.modules():
            if isinstance(m, _BatchNorm):
                m.eval_locked = frozen


def freeze(model: nn.Module, up_to: str | None = None, bn_eval: bool = True) -> nn.Module:
    """Freeze ``model`` (in place, returned) for feature extraction or fine-tuning.

    Args:
        model: any Module.
        up_to: name of a top-level child (``"layer3"`` for a ResNet, ``"features"`` for VGG):
            freeze the children from the first up to and including this one, in registration
            order, and leave the rest trainable. None: freeze the whole model.
        bn_eval: keep the batch norms of the frozen part in eval mode even after
            ``model.train()`` (their running statistics stay the pretrained ones).
    """
    if up_to is None:
        _set_frozen(model, True, bn_eval)
        return model
    names = [name for name, _ in model.named_children()]
    if up_to not in names:
        raise ValueError(f"freeze: {type(model).__name__} has no top-level child {up_to!r}; "
                         f"its children are {names}")
    for name, child in model.named_children():
        _set_frozen(child, True, bn_eval)
        if name == up_to:
            break
    return model


def unfreeze(model: nn.Module) -> nn.Module:
    """Undo :func:`freeze`: every parameter trainable, every batch norm following ``train()`` again."""
    _set_frozen(model, False, True)
    return model


def _last_linear(model: nn.Module):
    """(parent module, attribute name) of the classifier Linear: ``fc``, else the last Linear found."""
    fc = getattr(model, "fc", None)
    if isinstance(fc, nn.Linear):
        return model, "fc"
    found = None
    for path, m in model.named_modules():
        if isinstance(m, nn.Linear) and path:
            found = path
    if found is None:
        raise ValueError(f"replace_head: {type(model).__name__} has no Linear layer to replace")
    parent, _, name = found.rpartition(".")
    return model.get_submodule(parent), name


def replace_head(model: nn.Module, num_classes: int) -> nn.Module:
    """Swap the final classifier Linear for a fresh, trainable ``Linear(in_features, num_classes)``.

    The head is ``model.fc`` (ResNet) or else the last Linear in registration order (the
    last one of ``classifier`` for VGG and AlexNet, of any Sequential). It keeps the old
    head's ``in_features``, bias setting and dtype. Returns ``model`` (changed in place).
    """
    parent, name = _last_linear(model)
    old = getattr(parent, name)
    new = nn.Linear(old.in_features, num_classes, bias=old.bias is not None, dtype=old.weight.dtype)
    setattr(parent, name, new)
    return model
