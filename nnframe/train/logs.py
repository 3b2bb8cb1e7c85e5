"""What a run writes beside its checkpoints: metrics.jsonl, metrics.csv, report.json, curves."""
import contextlib
import csv
import json
import math
import os

from nnframe.train.curves import panels

__all__ = ["MetricsLog", "write_report", "plot_curves", "load_pyplot", "naming"]


@contextlib.contextmanager
def naming(path):
    """Give an OSError raised while writing ``path`` that file's name (a full disk shows
    as ``[Errno 28] No space left on device`` with no file otherwise).

    >>> with naming("runs/x/metrics.jsonl"):
    ...     raise OSError(28, "No space left on device")
    Traceback (most recent call last):
    OSError: [Errno 28] No space left on device: 'runs/x/metrics.jsonl'
    """
    try:
        yield
    except OSError as exc:
        if exc.filename is None and exc.errno is not None:
            raise OSError(exc.errno, exc.strerror, os.fspath(path)) from None
        raise


def _clean(value):
    """JSON-safe floats (NaN and infinities as strings)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


#: metrics.jsonl of a resumed run is read back only up to this size (it is a few KB per
#: 100 epochs); a larger one is not this run's log.
MAX_LOG_BYTES = 64 << 20


def _read_rows(path, upto_epoch):
    """The rows of an earlier ``metrics.jsonl`` for epochs 1..upto_epoch, or None when the
    file is missing, too big, or not the consecutive rows this runner writes."""
    try:
        if os.path.getsize(path) > MAX_LOG_BYTES:
            return None
        with open(path, encoding="utf-8") as fh:
            rows = [json.loads(line) for line in fh if line.strip()]
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    kept = [r for r in rows if isinstance(r, dict) and isinstance(r.get("epoch"), int)
            and r["epoch"] <= upto_epoch]
    if [r["epoch"] for r in kept] != list(range(1, upto_epoch + 1)):
        return None
    return kept


class MetricsLog:
    """One row per epoch in ``metrics.jsonl`` and ``metrics.csv``.

    A resumed run (``upto_epoch`` > 0) keeps the rows of the epochs its
    checkpoint holds and drops those of epochs it will redo.  Appending a row
    costs the same at epoch 1000 as at epoch 1: both files are only appended
    to (the CSV is rewritten only when a new column appears).

    >>> log = MetricsLog(run_dir)                               # doctest: +SKIP
    >>> log.append({"epoch": 1, "train.loss": 0.52})           # doctest: +SKIP
    """

    def __init__(self, directory, upto_epoch=0):
        self.jsonl = os.path.join(directory, "metrics.jsonl")
        self.csv = os.path.join(directory, "metrics.csv")
        rows = _read_rows(self.jsonl, upto_epoch) if upto_epoch else []
        self.complete = rows is not None     # False: the earlier epochs' rows were lost
        self.rows = rows or []
        self.columns = []
        self._rewrite()

    def append(self, row):
        self.rows.append(dict(row))
        with naming(self.jsonl), open(self.jsonl, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({k: _clean(v) for k, v in row.items()}) + "\n")
        if any(k not in self.columns for k in row):
            self._write_csv()
        else:
            with naming(self.csv), open(self.csv, "a", newline="", encoding="utf-8") as fh:
                csv.DictWriter(fh, fieldnames=self.columns).writerow(row)

    def _rewrite(self):
        with naming(self.jsonl), open(self.jsonl, "w", encoding="utf-8") as fh:
            for row in self.rows:
                fh.write(json.dumps({k: _clean(v) for k, v in row.items()}) + "\n")
        self._write_csv()

    def _write_csv(self):
        columns = []
        for row in self.rows:
            columns += [k for k in row if k not in columns]
        self.columns = columns
        with naming(self.csv), open(self.csv, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns)
            writer.writeheader()
            for row in self.rows:
                writer.writerow(row)


def write_report(directory, report):
    """``report.json``: final and best metrics by split and name."""
    path = os.path.join(directory, "report.json")
    with naming(path), open(path, "w", encoding="utf-8") as fh:
        json.dump(report, fh, indent=2, default=_clean)
        fh.write("\n")
    return path


def load_pyplot():
    """``matplotlib.pyplot`` on the Agg backend, or None without matplotlib.  The runner
    calls it at start-up when the recipe plots, so that the import (a third of a second)
    is not charged to the training it measures."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def plot_curves(directory, rows):
    """Loss and metric curves per epoch to ``curves.png`` (the panels and lines of
    curves.svg); None without matplotlib."""
    plt = load_pyplot()
    drawn = panels(rows)
    if plt is None or not drawn:
        return None
    fig, axes = plt.subplots(1, len(drawn), figsize=(4.5 * len(drawn), 3.5), squeeze=False)
    for ax, (metric, lines) in zip(axes[0], drawn.items()):
        for split, points in lines.items():
            epochs, values = zip(*points)
            ax.plot(epochs, values, marker="o", markersize=3, label=split)
        ax.set_xlabel("epoch")
        ax.set_title(metric)
        ax.legend()
    fig.tight_layout()
    path = os.path.join(directory, "curves.png")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
