"""Ready-made architectures (``gn.models``). No weights are downloaded: load your own file
with ``model.load_state_dict(gn.load(path))``; keys follow torchvision's naming."""
from .mlp import mlp
from .cnn import digits_cnn
from .lenet import lenet5
from .alexnet import alexnet
from .vgg import vgg11, vgg16, vgg19
from .resnet import resnet18, resnet34, resnet50
from .transfer import freeze, replace_head
from .char_rnn import CharRNN, char_rnn
from .sequence import RowSequenceClassifier, SequenceTagger

__all__ = ["mlp", "digits_cnn", "lenet5", "alexnet", "vgg11", "vgg16", "vgg19", "resnet18", "resnet34",
           "resnet50", "freeze", "replace_head", "CharRNN", "char_rnn", "RowSequenceClassifier",
           "SequenceTagger"]
