"""Ready-made architectures (``gn.models``). No weights are downloaded: load your own file
with ``model.load_state_dict(gn.load(path))``; keys follow torchvision's naming."""
from .mlp import mlp
from .cnn import digits_cnn
from .lenet import lenet5
from .alexnet import alexnet, alexnet_torchvision
from .vgg import vgg11, vgg11_bn, vgg16, vgg16_bn, vgg19, vgg19_bn
from .resnet import resnet18, resnet34, resnet50
from .googlenet import GoogLeNet, googlenet
from .transfer import freeze, replace_head
from .char_rnn import CharRNN, char_rnn
from .sequence import RowSequenceClassifier, SequenceTagger
from .seq2seq import ImageToSequence, Seq2Seq

__all__ = ["mlp", "digits_cnn", "lenet5", "alexnet", "alexnet_torchvision", "vgg11", "vgg11_bn", "vgg16",
           "vgg16_bn", "vgg19", "vgg19_bn", "resnet18", "resnet34", "resnet50", "googlenet", "GoogLeNet",
           "freeze", "replace_head", "CharRNN", "char_rnn", "RowSequenceClassifier", "SequenceTagger",
           "Seq2Seq", "ImageToSequence"]
