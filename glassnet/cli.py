"""The ``glassnet`` command line (``glassnet --help``)."""
from __future__ import annotations

import argparse
import sys

EXAMPLES = """examples:
    glassnet train                         # MLP on the embedded digits (the main job)
    glassnet train --model cnn             # a small CNN on the digits
    glassnet train --model lenet5 --data mnist --data-path ~/mnist
    glassnet summary alexnet               # the notes' AlexNet parameter table
    glassnet explain                       # the notes' worked example, step by step
    glassnet train --model char-lstm       # character LSTM on Python's own sources
    glassnet experiment vanishing-gradients
"""

SUMMARY_MODELS = {
    "mlp": ("mlp", (1, 64)), "cnn": ("digits_cnn", (1, 1, 8, 8)), "lenet5": ("lenet5", (1, 1, 28, 28)),
    "alexnet": ("alexnet", (1, 3, 227, 227)), "vgg11": ("vgg11", (1, 3, 224, 224)),
    "vgg16": ("vgg16", (1, 3, 224, 224)), "vgg19": ("vgg19", (1, 3, 224, 224)),
    "resnet18": ("resnet18", (1, 3, 224, 224)), "resnet34": ("resnet34", (1, 3, 224, 224)),
    "resnet50": ("resnet50", (1, 3, 224, 224)),
}


def _positive(kind):
    """argparse type: a number > 0, refused with argparse's own message otherwise."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__}, got {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
        return value
    parse.__name__ = f"positive {kind.__name__}"
    return parse


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="glassnet", description="glassnet: a deep-learning library you can read.",
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EXAMPLES)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    t = sub.add_parser("train", help="train a model and report its test accuracy",
                       description="Train a model on a data set, show progress, print the test accuracy, "
                                   "and save a checkpoint (runs/MODEL-DATA/). Re-running the same command "
                                   "resumes from that checkpoint; use --fresh to start over.")
    t.add_argument("--model", default=None,
                   help="mlp | cnn | lstm | gru (digits), lenet5 (mnist), char-lstm (text). "
                        "Default: mlp, or char-lstm for --data text")
    t.add_argument("--data", default=None, help="digits (embedded, the default) | mnist | text")
    t.add_argument("--data-path", default=None, help="directory of MNIST IDX files, or a text file for char-lstm")
    t.add_argument("--epochs", type=_positive(int), default=None, help="number of epochs (default: the model's own)")
    t.add_argument("--batch-size", type=_positive(int), default=32)
    t.add_argument("--lr", type=_positive(float), default=None,
                   help="learning rate for Adam (default: the model's own)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", default="runs", help="where checkpoints go (default: runs/)")
    t.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint and start over")
    t.add_argument("--minutes", type=_positive(float), default=None, help="char-lstm: training time budget in minutes")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.add_argument("--report", default=None, metavar="FILE.html",
                   help="write a self-contained HTML training report, updated during training")

    s = sub.add_parser("summary", help="print a model's layers, output sizes and parameter counts")
    s.add_argument("model", choices=sorted(SUMMARY_MODELS), help="which model")

    sub.add_parser("explain", help="replay the notes' worked example: one forward and backward step, every value")

    g = sub.add_parser("generate", help="sample text from a trained char-lstm checkpoint")
    g.add_argument("--checkpoint", required=True, help="the .safetensors file written by train --model char-lstm")
    g.add_argument("--prime", default="def ", help="text to start from")
    g.add_argument("--length", type=_positive(int), default=400)
    g.add_argument("--temperature", type=_positive(float), default=0.8)
    g.add_argument("--top-k", type=_positive(int), default=None)
    g.add_argument("--seed", type=int, default=0)

    e = sub.add_parser("experiment", help="run one of the notes' experiments")
    e.add_argument("name", choices=["vanishing-gradients"])
    e.add_argument("--out", default="vanishing_gradients.png", help="where to save the plot")
    e.add_argument("--steps", type=_positive(int), default=None, help="training steps per model and length")

    from . import commands
    for module in commands.load():
        module.add_parser(sub)
    return p


def _summary(name: str) -> None:
    from . import models
    from .glassbox import summary
    factory, shape = SUMMARY_MODELS[name]
    summary(getattr(models, factory)(), shape, verbose=1)


def _explain() -> None:
    from .glassbox.worked_examples import notes_sigmoid_network
    print(notes_sigmoid_network())


def main(argv=None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "train":
        progress = False if args.quiet else None
        if args.model is None:
            args.model = "char-lstm" if args.data == "text" else "mlp"
        text_model = args.model == "char-lstm"
        if text_model != (args.data == "text" or (args.data is None and text_model)):
            parser.error(f"--model {args.model} does not train on --data {args.data or 'digits'}: text data "
                         f"trains --model char-lstm, and char-lstm trains on text")
        if args.model == "char-lstm" and args.report:
            parser.error("--report is written for the classifiers (mlp, cnn, lstm, gru, lenet5), not char-lstm")
        if args.model == "char-lstm":
            from .training.char_lm import train_char_lm
            train_char_lm(args.data_path, minutes=args.minutes, epochs=args.epochs, lr=args.lr,
                          seed=args.seed, out_dir=args.out, progress=progress, resume=not args.fresh)
        else:
            from .training.recipes import train_classifier
            train_classifier(args.model, args.data or "digits", epochs=args.epochs, batch_size=args.batch_size,
                             lr=args.lr, seed=args.seed, data_path=args.data_path, out_dir=args.out,
                             progress=progress, resume=not args.fresh, report=args.report)
    elif args.command == "summary":
        _summary(args.model)
    elif args.command == "explain":
        _explain()
    elif args.command == "generate":
        from .training.char_lm import generate_from_checkpoint
        print(generate_from_checkpoint(args.checkpoint, args.prime, args.length, args.temperature,
                                       args.top_k, args.seed))
    elif args.command == "experiment":
        from .experiments.vanishing_gradients import run as run_vanishing
        run_vanishing(out=args.out, steps=args.steps)
    else:
        from . import commands
        for module in commands.load():
            if args.command in getattr(module, "NAMES", (module.__name__.rsplit(".", 1)[1],)):
                return module.run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
