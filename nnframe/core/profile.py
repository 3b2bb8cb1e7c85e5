"""Per-node profiling of compiled functions (``config.profile = True``).

>>> from nnframe import config
>>> config.profile = True          # then compile: f.profile.summary()
"""
import time
from collections import defaultdict

__all__ = ["ProfileStats"]


class ProfileStats:
    """Time, calls and output bytes per node of one compiled function."""

    def __init__(self, name=None):
        self.name = name
        self.calls = 0
        self.call_time = 0.0
        self.node_time = defaultdict(float)
        self.node_calls = defaultdict(int)
        self.node_bytes = {}
        self.nodes = []
        #: the backend's counters (a callable returning a dict of running totals, e.g. the
        #: OpenCL backend's kernels, transfers and blocking waits) or None
        self.counter_source = None
        self.counts = defaultdict(float)

    def counters_before_call(self):
        """A snapshot of the backend's counters (None without any)."""
        return self.counter_source() if self.counter_source is not None else None

    def count_call(self, before):
        """Add what the backend's counters grew by since ``before``."""
        if before is not None:
            for key, value in self.counter_source().items():
                self.counts[key] += value - before.get(key, 0)

    def per_call(self):
        """The backend's counters per call (``{}`` without any), and ``host_seconds``: the
        call time outside blocking waits, where the backend counts ``wait_seconds``."""
        if not self.calls or not self.counts:
            return {}
        result = {k: v / self.calls for k, v in self.counts.items()}
        if "wait_seconds" in result:
            result["host_seconds"] = self.call_time / self.calls - result["wait_seconds"]
        return result

    def timing_kernel(self, node, kernel):
        """``kernel`` wrapped to add its run time to this profile."""
        self.nodes.append(node)
        key = len(self.nodes) - 1
        clock = time.perf_counter
        times, calls, nbytes = self.node_time, self.node_calls, self.node_bytes
        multi = len(node.outputs) > 1

        def timed(*inputs):
            start = clock()
            result = kernel(*inputs)
            times[key] += clock() - start
            calls[key] += 1
            outs = result if multi else (result,)
            nbytes[key] = sum(getattr(o, "nbytes", 0) for o in outs)
            return result
        return timed

    def by_op_class(self):
        """``{op class name: (seconds, calls)}``."""
        table = defaultdict(lambda: [0.0, 0])
        for key, node in enumerate(self.nodes):
            entry = table[type(node.op).__name__]
            entry[0] += self.node_time[key]
            entry[1] += self.node_calls[key]
        return {k: tuple(v) for k, v in table.items()}

    def summary(self, n=20, file=None):
        """Print the costliest nodes and op classes as tables."""
        import sys
        out = file or sys.stdout
        total = sum(self.node_time.values()) or 1e-12
        print(f"Function profile: {self.name or '<unnamed>'}: {self.calls} call(s), "
              f"{self.call_time:.6f} s in calls, {total:.6f} s in nodes", file=out)
        per_call = self.per_call()
        if per_call:
            shown = ", ".join(f"{k} {v:.6f}" if k.endswith("seconds") else f"{k} {v:g}"
                              for k, v in sorted(per_call.items()))
            print(f"Per call on the device: {shown}", file=out)
        print(f"{'<% time>':>9} {'<sec>':>11} {'<calls>':>8} {'<out bytes>':>12}  <op class>", file=out)
        for name, (sec, calls) in sorted(self.by_op_class().items(), key=lambda kv: -kv[1][0]):
            print(f"{100 * sec / total:8.1f}% {sec:11.6f} {calls:8d} {'':>12}  {name}", file=out)
        print(f"{'<% time>':>9} {'<sec>':>11} {'<calls>':>8} {'<out bytes>':>12}  <node>", file=out)
        order = sorted(range(len(self.nodes)), key=lambda k: -self.node_time[k])[:n]
        for key in order:
            sec = self.node_time[key]
            print(f"{100 * sec / total:8.1f}% {sec:11.6f} {self.node_calls[key]:8d} "
                  f"{self.node_bytes.get(key, 0):12d}  {self.nodes[key]}", file=out)
