"""Ctrl-C and SIGTERM during training: finish the step, save, stop cleanly.

While a :class:`StopRequests` is active, the first SIGINT (Ctrl-C), SIGTERM or
SIGUSR1 only records the request; the trainer checks it at every step
boundary, writes ``last.h5`` (with the position inside the epoch, so the
resumed run is exact) and stops.  A second Ctrl-C interrupts at once, as
usual.  SIGUSR1 is for data-parallel jobs: Open MPI's ``mpirun`` kills its ranks
a quarter of a second after a Ctrl-C or SIGTERM, too soon to save, but forwards
SIGUSR1 to them (``kill -USR1 <mpirun's pid>`` stops the job cleanly).

>>> with StopRequests() as stop:                      # doctest: +SKIP
...     for step in steps:
...         train(step)
...         if stop.requested:
...             save_and_stop(stop.requested)           # 'SIGINT' or 'SIGTERM'
"""
import signal
import threading

__all__ = ["StopRequests"]


class StopRequests:
    """Records SIGINT/SIGTERM instead of raising, in the main thread (elsewhere it does
    nothing: signal handlers can only be set there)."""

    def __init__(self):
        self.requested = None
        self._previous = {}

    def _handle(self, signum, frame):
        if self.requested == "SIGINT" and signum == signal.SIGINT:
            raise KeyboardInterrupt        # a second Ctrl-C: the user means it
        self.requested = signal.Signals(signum).name

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGUSR1", None)):
                if signum is None:      # Windows has no SIGUSR1
                    continue
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc):
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()
        return False
