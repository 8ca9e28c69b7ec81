"""Ready-to-run training jobs behind ``glassnet train``: a model, a data set, sensible settings."""
from __future__ import annotations

import pathlib
import time

from .. import backend, data, models, nn, optim
from ..io import save
from .trainer import Trainer

# model name -> (constructor, the input layout it takes, default epochs, default lr)
CLASSIFIERS = {
    "mlp": (lambda: models.mlp(64, (128, 64), 10), "vectors", 40, 1e-3),
    "cnn": (lambda: models.digits_cnn(10), "images", 20, 1e-3),
    "lstm": (lambda: models.RowSequenceClassifier(8, 64, 10, cell="lstm"), "images", 40, 3e-3),
    "gru": (lambda: models.RowSequenceClassifier(8, 64, 10, cell="gru"), "images", 40, 3e-3),
    "lenet5": (lambda: models.lenet5(10), "images", 5, 1e-3),
}


def load_classification_data(name: str, layout: str, data_path=None, seed: int = 0):
    """(train, test) TensorDatasets. digits: a seeded 80/20 split of the embedded 1,797 images."""
    if name == "digits":
        X, y = data.load_digits(images=(layout == "images"))
        train, test = data.random_split(data.TensorDataset(X, y), [0.8, 0.2], generator=seed)
        return train, test
    if name == "mnist":
        if data_path is None:
            raise ValueError("MNIST needs the directory holding its four IDX files (train-images-idx3-ubyte[.gz], "
                             "...; --data-path DIR on the command line): glassnet downloads nothing")
        (Xtr, ytr), (Xte, yte) = data.load_mnist(data_path)
        if layout == "vectors":
            Xtr, Xte = Xtr.reshape(len(Xtr), -1), Xte.reshape(len(Xte), -1)
        return data.TensorDataset(Xtr, ytr), data.TensorDataset(Xte, yte)
    raise ValueError(f"unknown data set {name!r}: choose digits or mnist (or text for char-lstm)")


def train_classifier(model_name: str = "mlp", data_name: str = "digits", epochs=None, batch_size: int = 32,
                     lr=None, seed: int = 0, data_path=None, out_dir="runs", progress=None,
                     resume: bool = True, log=print, report=None, checkpoint_every_seconds=None) -> dict:
    """Train ``model_name`` on ``data_name``, report test accuracy, save a checkpoint.

    ``report``: a path for the HTML training report (``glassnet.report``), about the test set.

    Returns a dict with the test loss and accuracy, the history, and the checkpoint path.
    """
    if model_name not in CLASSIFIERS:
        raise ValueError(f"unknown model {model_name!r}: choose one of {', '.join(CLASSIFIERS)} or char-lstm")
    build, layout, default_epochs, default_lr = CLASSIFIERS[model_name]
    if model_name == "lenet5" and data_name == "digits":
        raise ValueError("lenet5 expects 28x28 images: train it on MNIST (or the cnn on the digits)")
    if model_name in ("cnn", "lstm", "gru") and data_name == "mnist":
        raise ValueError(f"{model_name} is built for the 8x8 digits: train lenet5 or mlp on MNIST")
    backend.manual_seed(seed)
    train_set, test_set = load_classification_data(data_name, layout, data_path, seed)
    if model_name == "mlp" and data_name == "mnist":
        model = models.mlp(784, (256, 128), 10)
    else:
        model = build()
    epochs = epochs or default_epochs
    optimizer = optim.Adam(model.parameters(), lr=lr or default_lr)
    run_dir = pathlib.Path(out_dir) / f"{model_name}-{data_name}"
    if report is not None:
        from ..report.training import TrainingReport
        report = TrainingReport(report, data=test_set, title=f"glassnet train --model {model_name} --data {data_name}",
                                config={"model": model_name, "data": data_name, "data_path": data_path, "seed": seed,
                                        "epochs": epochs, "batch_size": batch_size})
    trainer = Trainer(model, optimizer, nn.CrossEntropyLoss(),
                      scheduler=optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs),
                      checkpoint_dir=run_dir, progress=progress, log=log, report=report,
                      checkpoint_every_seconds=checkpoint_every_seconds)
    log(f"training {model_name} on {data_name}: {len(train_set)} train / {len(test_set)} test samples, "
        f"{sum(p.numel() for p in model.parameters()):,} parameters, {epochs} epochs")
    started = time.perf_counter()
    history = trainer.fit(train_set, epochs=epochs, batch_size=batch_size, resume=resume)
    elapsed = time.perf_counter() - started
    result = trainer.evaluate(test_set)
    weights = run_dir / "model.safetensors"
    save(model.state_dict(), weights)
    log(f"test accuracy {result['accuracy'] * 100:.2f}%  (test loss {result['loss']:.4f}, "
        f"trained in {elapsed:.1f}s)")
    log(f"checkpoint: {run_dir / 'last.safetensors'}  weights: {weights}")
    return {"test_accuracy": result["accuracy"], "test_loss": result["loss"], "history": history,
            "checkpoint": run_dir / "last.safetensors", "weights": weights, "seconds": elapsed}
