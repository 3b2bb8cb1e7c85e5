"""What a run writes beside its checkpoints: metrics.jsonl, metrics.csv, report.json, curves."""
import csv
import json
import math
import os

__all__ = ["MetricsLog", "write_report", "plot_curves"]


def _clean(value):
    """JSON-safe floats (NaN and infinities as strings)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


class MetricsLog:
    """One row per epoch in ``metrics.jsonl`` and ``metrics.csv`` (kept in step on resume)."""

    def __init__(self, directory, history=()):
        self.jsonl = os.path.join(directory, "metrics.jsonl")
        self.csv = os.path.join(directory, "metrics.csv")
        self.rows = [dict(r) for r in history]
        self._rewrite()      # drop rows of epochs a resumed run will redo

    def append(self, row):
        self.rows.append(dict(row))
        with open(self.jsonl, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({k: _clean(v) for k, v in row.items()}) + "\n")
        self._write_csv()

    def _rewrite(self):
        with open(self.jsonl, "w", encoding="utf-8") as fh:
            for row in self.rows:
                fh.write(json.dumps({k: _clean(v) for k, v in row.items()}) + "\n")
        self._write_csv()

    def _write_csv(self):
        columns = []
        for row in self.rows:
            columns += [k for k in row if k not in columns]
        with open(self.csv, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns)
            writer.writeheader()
            for row in self.rows:
                writer.writerow(row)


def write_report(directory, report):
    """``report.json``: final and best metrics by split and name."""
    path = os.path.join(directory, "report.json")
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(report, fh, indent=2, default=_clean)
        fh.write("\n")
    return path


def plot_curves(directory, rows):
    """Loss and metric curves per epoch to ``curves.png``; None without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    metrics = sorted({k.split(".", 1)[1] for r in rows for k in r if "." in k})
    if not metrics or not rows:
        return None
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics), 3.5), squeeze=False)
    epochs = [r["epoch"] for r in rows]
    for ax, metric in zip(axes[0], metrics):
        for split in ("train", "valid"):
            key = f"{split}.{metric}"
            values = [r.get(key) for r in rows]
            if any(v is not None for v in values):
                ax.plot(epochs, [float("nan") if v is None else v for v in values],
                        marker="o", markersize=3, label=split)
        ax.set_xlabel("epoch")
        ax.set_title(metric)
        ax.legend()
    fig.tight_layout()
    path = os.path.join(directory, "curves.png")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
