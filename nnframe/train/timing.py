"""Where a run's wall time goes: compiled steps, evaluation, checkpoints, data, the rest.

The trainer charges each span of time to one category, and the run ends
with one line, as a profiler's summary would::

    >>> clock = Stopwatch()
    >>> clock.add("steps", 1.5)
    >>> clock.add("checkpoints", 0.1)
    >>> clock.summary(elapsed=2.0)["other"]
    0.4
    >>> clock.line(elapsed=2.0)
    'time after start-up 2.00 s: steps 1.50 s (75%), evaluation 0.00 s (0%), checkpoints 0.10 s (5%), data 0.00 s (0%), other 0.40 s (20%)'

"Start-up" (reading the recipe and data, building and compiling the model)
is measured separately: it does not grow with the number of epochs.
"""
import time

__all__ = ["Stopwatch", "CATEGORIES"]

#: steps: the compiled training function; evaluation: the compiled evaluation function
#: (validation each epoch, the final report); checkpoints: writing last.h5/best.h5;
#: data: gathering minibatches; other: everything else (logging, metrics, the loop).
CATEGORIES = ("steps", "evaluation", "checkpoints", "data", "other")


class Stopwatch:
    """Seconds spent per category since :meth:`restart` (or creation)."""

    def __init__(self):
        self.restart()

    def restart(self):
        self.started = time.perf_counter()
        self.totals = dict.fromkeys(CATEGORIES[:-1], 0.0)

    def add(self, category, seconds):
        self.totals[category] += seconds

    def elapsed(self):
        return time.perf_counter() - self.started

    def summary(self, elapsed=None):
        """Seconds per category; ``other`` is what the others leave of ``elapsed``."""
        elapsed = self.elapsed() if elapsed is None else elapsed
        spent = dict(self.totals)
        spent["other"] = round(max(elapsed - sum(spent.values()), 0.0), 9)
        return spent

    def compiled_fraction(self, elapsed=None):
        """The share of the time spent in compiled functions (steps and evaluation)."""
        elapsed = self.elapsed() if elapsed is None else elapsed
        return (self.totals["steps"] + self.totals["evaluation"]) / elapsed if elapsed else 0.0

    def line(self, elapsed=None):
        elapsed = self.elapsed() if elapsed is None else elapsed
        parts = [f"{name} {seconds:.2f} s ({100 * seconds / elapsed if elapsed else 0:.0f}%)"
                 for name, seconds in self.summary(elapsed).items()]
        return f"time after start-up {elapsed:.2f} s: " + ", ".join(parts)
