"""The ``glassnet`` command line (``glassnet --help``)."""
from __future__ import annotations

import argparse
import sys

EXAMPLES = """examples:
    glassnet train                         # --model mlp on the embedded digits (the main job)
    glassnet train --model cnn             # a small CNN on the digits
    glassnet train --model lstm            # an LSTM reading each digit row by row (--model gru: a GRU)
    glassnet train --model lenet5 --data mnist --data-path ~/mnist   # your MNIST IDX files
    glassnet train --model char-lstm --minutes 4                     # character LSTM on Python's own sources
    glassnet generate --checkpoint runs/char-lstm/last.safetensors --prime "def "
    glassnet summary alexnet               # the notes' AlexNet parameter table
    glassnet explain                       # the notes' worked example, step by step
    glassnet experiment vanishing-gradients  # also activations, batch-norm, dropout, exploding-gradients, optimizers
    glassnet train --report run.html       # an HTML report of the run (glassnet report RUN_DIR rebuilds it)

Re-running a train command resumes from its checkpoint (--fresh starts over); Ctrl-C stops
it and says where the last checkpoint is.
"""

# which data each model trains on (the first is the default)
MODEL_DATA = {"mlp": ("digits", "mnist"), "cnn": ("digits",), "lstm": ("digits",), "gru": ("digits",),
              "lenet5": ("mnist",), "char-lstm": ("text",)}


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows each option's default, except where there is none to show (None, flags)."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False or action.default is argparse.SUPPRESS:
            return action.help
        return super()._get_help_string(action)

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


def _non_negative_int(text):
    """argparse type for seeds: an integer >= 0 (NumPy's generators refuse negative seeds)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an int, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def _parser() -> argparse.ArgumentParser:
    from . import __version__
    p = argparse.ArgumentParser(prog="glassnet", description="glassnet: a deep-learning library you can read.",
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EXAMPLES)
    p.add_argument("--version", action="version", version=f"glassnet {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    t = sub.add_parser("train", help="train a model and report its test accuracy", formatter_class=_Formatter,
                       description="Train a model on a data set, show progress, print the test accuracy, "
                                   "and save a checkpoint (runs/MODEL-DATA/). Re-running the same command "
                                   "resumes from that checkpoint; use --fresh to start over.")
    t.add_argument("--model", default=None,
                   help="mlp | cnn | lstm | gru (digits), lenet5 (mnist), char-lstm (text). "
                        "Default: mlp, or char-lstm for --data text")
    t.add_argument("--data", default=None, help="digits (embedded, the default) | mnist | text")
    t.add_argument("--data-path", default=None, help="directory of MNIST IDX files, or a text file for char-lstm")
    t.add_argument("--epochs", type=_positive(int), default=None, help="number of epochs (default: the model's own)")
    t.add_argument("--batch-size", type=_positive(int), default=32, help="samples per step (classifiers)")
    t.add_argument("--lr", type=_positive(float), default=None,
                   help="learning rate for Adam (default: the model's own)")
    t.add_argument("--seed", type=_non_negative_int, default=0, help="seeds weights, shuffling and dropout")
    t.add_argument("--out", default="runs", help="where run directories (checkpoints) go")
    t.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint and start over")
    t.add_argument("--minutes", type=_positive(float), default=None,
                   help="char-lstm: time budget in minutes, held-out evaluation included (default: 3, "
                        "or none with --epochs)")
    t.add_argument("--checkpoint-every", type=_positive(float), default=30.0, metavar="SECONDS",
                   help="also write the checkpoint this often within an epoch (a kill loses at most this much)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.add_argument("--distributed", action="store_true",
                   help="one rank of a data-parallel job: mpiexec -n N glassnet train --distributed")
    t.add_argument("--report", default=None, metavar="FILE.html",
                   help="write a self-contained HTML training report, updated during training")

    s = sub.add_parser("summary", help="print a model's layers, output sizes and parameter counts")
    s.add_argument("model", choices=sorted(SUMMARY_MODELS), help="which model")

    sub.add_parser("explain", help="replay the notes' worked example: one forward and backward step, every value")

    g = sub.add_parser("generate", help="sample text from a trained char-lstm checkpoint", formatter_class=_Formatter)
    g.add_argument("--checkpoint", required=True, help="the .safetensors file written by train --model char-lstm")
    g.add_argument("--prime", default="def ", help="text to start from")
    g.add_argument("--length", type=_positive(int), default=400, help="characters to generate")
    g.add_argument("--temperature", type=_positive(float), default=0.8, help="< 1 sharper, > 1 flatter")
    g.add_argument("--top-k", type=_positive(int), default=None, help="sample among the k likeliest only")
    g.add_argument("--seed", type=_non_negative_int, default=0, help="the same seed gives the same text")

    e = sub.add_parser("experiment", help="run one of the notes' experiments", formatter_class=_Formatter)
    from .experiments import EXPERIMENTS
    e.add_argument("name", choices=list(EXPERIMENTS))
    e.add_argument("--out", default=None, help="where to save the plot (default: NAME.png, e.g. batch_norm.png)")
    e.add_argument("--steps", type=_positive(int), default=None,
                   help="training steps (vanishing-gradients: per model and length; exploding-gradients: per run)")

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
    from .glassbox.worked_examples import notes_sigmoid_network_text
    print(notes_sigmoid_network_text())


def _check_train_arguments(parser, args) -> None:
    """Model, data and path that go together, or an argparse error saying what does."""
    if args.model is None:
        args.model = "char-lstm" if args.data == "text" else "mlp"
    if args.model not in MODEL_DATA:
        parser.error(f"--model {args.model}: choose one of {', '.join(MODEL_DATA)}")
    allowed = MODEL_DATA[args.model]
    if args.data is None:
        args.data = allowed[0]
    if args.data not in ("digits", "mnist", "text"):
        parser.error(f"--data {args.data}: choose digits, mnist or text")
    if args.model == "char-lstm" or args.data == "text":
        if args.model != "char-lstm" or args.data != "text":
            parser.error(f"--model {args.model} does not train on --data {args.data}: text data "
                         f"trains --model char-lstm, and char-lstm trains on text")
    elif args.data not in allowed:
        others = [m for m, kinds in MODEL_DATA.items() if args.data in kinds]
        parser.error(f"--model {args.model} trains on --data {' or '.join(allowed)} only; for --data {args.data} "
                     f"use --model {' or '.join(others)}")
    if args.data == "mnist" and args.data_path is None:
        parser.error("--data mnist needs --data-path DIR with the four MNIST IDX files "
                     "(train-images-idx3-ubyte[.gz], ...): glassnet downloads nothing")
    if args.data_path is not None and args.data == "digits":
        parser.error("--data-path needs --data mnist (a directory of IDX files) or --model char-lstm (a text "
                     "file): the digits are embedded and read no path")


def _train(parser, args) -> int:
    progress = False if args.quiet else None
    _check_train_arguments(parser, args)
    from . import allocator
    allocator.tune()              # a training process reuses its large blocks (see allocator.py)
    if args.distributed:          # a rank of an mpiexec job (glassnet/distributed/command_line.py)
        from .distributed.command_line import join_job
        join_job()
    if args.model == "char-lstm" and args.report:
        parser.error("--report is written for the classifiers (mlp, cnn, lstm, gru, lenet5), not char-lstm")
    if args.model == "char-lstm":
        from .training.char_lm import train_char_lm
        train_char_lm(args.data_path, minutes=args.minutes, epochs=args.epochs, lr=args.lr,
                      seed=args.seed, out_dir=args.out, progress=progress, resume=not args.fresh,
                      checkpoint_every_seconds=args.checkpoint_every)
    else:
        from .training.recipes import train_classifier
        train_classifier(args.model, args.data, epochs=args.epochs, batch_size=args.batch_size,
                         lr=args.lr, seed=args.seed, data_path=args.data_path, out_dir=args.out,
                         progress=progress, resume=not args.fresh, report=args.report,
                         checkpoint_every_seconds=args.checkpoint_every)
    if args.distributed:
        from .distributed.command_line import leave_job
        leave_job()
    return 0


def _error(message: str, hint: str = "") -> int:
    """A user-facing error: one line (two with a hint) on stderr, exit status 1."""
    print(f"glassnet: error: {message}", file=sys.stderr)
    if hint:
        print(f"glassnet: {hint}", file=sys.stderr)
    return 1


def main(argv=None) -> int:
    """Run the command line; returns the exit status (argparse errors exit with 2).

    Errors a user can act on (missing or corrupt files, a locked run directory, training
    that diverged, data that does not fit) are printed in one or two lines, without a
    traceback; set GLASSNET_TRACEBACK=1 to see one. Ctrl-C exits with 130.
    """
    import os

    from .io import CheckpointError
    from .training import RunLockedError, TrainingError, TrainingInterrupted

    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return _dispatch(parser, args)
    except TrainingInterrupted as stop:
        if stop.checkpoint is None:
            print("glassnet: interrupted before the first checkpoint was written", file=sys.stderr)
        else:
            print(f"glassnet: interrupted; the last checkpoint is {stop.checkpoint} (epoch {stop.epoch}, step "
                  f"{stop.step}): run the same command to resume", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("glassnet: interrupted", file=sys.stderr)
        return 130
    except (CheckpointError, RunLockedError, TrainingError, OSError, ValueError, KeyError) as error:
        if os.environ.get("GLASSNET_TRACEBACK"):
            raise
        message = str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)
        if isinstance(error, OSError) and error.filename is not None and str(error.filename) not in message:
            message = f"{error.filename}: {error.strerror or message}"
        hint = ""
        if isinstance(error, CheckpointError) and args.command == "train":
            hint = "--fresh starts over (the checkpoint is then replaced)"
        return _error(message, hint)


def _dispatch(parser, args) -> int:
    if args.command == "train":
        return _train(parser, args)
    elif args.command == "summary":
        _summary(args.model)
    elif args.command == "explain":
        _explain()
    elif args.command == "generate":
        from .training.char_lm import generate_from_checkpoint
        print(generate_from_checkpoint(args.checkpoint, args.prime, args.length, args.temperature,
                                       args.top_k, args.seed, log=lambda line: print(line, file=sys.stderr)))
    elif args.command == "experiment":
        import inspect

        from .experiments import default_output, module
        run_experiment = module(args.name).run
        if args.steps is not None and "steps" not in inspect.signature(run_experiment).parameters:
            parser.error(f"--steps does not apply to experiment {args.name}")
        run_experiment(out=args.out or default_output(args.name),
                       **({"steps": args.steps} if args.steps is not None else {}))
    else:
        from . import commands
        for module in commands.load():
            if args.command in getattr(module, "NAMES", (module.__name__.rsplit(".", 1)[1],)):
                return module.run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
