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
        print(f"{'<% time>':>9} {'<sec>':>11} {'<calls>':>8} {'<out bytes>':>12}  <op class>", file=out)
        for name, (sec, calls) in sorted(self.by_op_class().items(), key=lambda kv: -kv[1][0]):
            print(f"{100 * sec / total:8.1f}% {sec:11.6f} {calls:8d} {'':>12}  {name}", file=out)
        print(f"{'<% time>':>9} {'<sec>':>11} {'<calls>':>8} {'<out bytes>':>12}  <node>", file=out)
        order = sorted(range(len(self.nodes)), key=lambda k: -self.node_time[k])[:n]
        for key in order:
            sec = self.node_time[key]
            print(f"{100 * sec / total:8.1f}% {sec:11.6f} {self.node_calls[key]:8d} "
                  f"{self.node_bytes.get(key, 0):12d}  {self.nodes[key]}", file=out)
