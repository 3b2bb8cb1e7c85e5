"""What every backend's Scan kernel does before and around its loop.

The step is compiled once (:func:`compile_step`) with the backend's own mode;
:class:`LoopPlan` holds the layout (where each tap reads in its state's
buffer) and the checks and error messages a user needs, so that the NumPy and
OpenCL loops report the same mistakes in the same words.
"""
from nnframe.core.ops.scan import ScanError

__all__ = ["LoopPlan", "compile_step"]


def compile_step(op, mode):
    """The step's :class:`~nnframe.core.link.LinkedGraph`, compiled with ``mode``: its
    ``run(*inner_values)`` returns ``(outputs, ())``."""
    from nnframe.core.function import function
    f = function(op.inner_inputs, op.inner_outputs, mode=mode, on_unused_input="ignore",
                 name=f"{op.name} step")
    return f.maker.linked


class LoopPlan:
    """What every backend's Scan kernel checks and lays out before looping.

    ``check(n, seqs, inits)`` raises the user's error for sequences too
    short for ``n`` steps and initial values without enough rows.
    """

    def __init__(self, op):
        self.op = op
        self.lags = op.state_lags
        # Where each tap reads in its state's buffer, relative to the step index.
        self.tap_offsets = [[lag + tap for tap in taps]
                            for lag, taps in zip(self.lags, op.state_taps)]
        self.n_states = op.n_states
        self.n_carried = op.n_carried
        self.n_collected = op.n_collected

    def check(self, n, seqs, inits, row_count=len):
        op = self.op
        if n < 0:
            raise ScanError(f"{op.name}: the number of steps is {n}: the sequences are too short "
                            f"for their taps ({', '.join(op.seq_info)})")
        for info, s in zip(op.seq_info, seqs):
            if row_count(s) < n:
                raise ScanError(f"{op.name}: {info} has {row_count(s)} rows but the loop runs "
                                f"{n} steps; give a longer sequence or a smaller n_steps")
        for k, (lag, init) in enumerate(zip(self.lags, inits)):
            if row_count(init) < lag:
                raise ScanError(f"{op.name}: the initial value of output {k} has "
                                f"{row_count(init)} rows but its taps {list(op.state_taps[k])} "
                                f"need {lag}")

    def step_error(self, exc, t, linked):
        """``exc``, raised by the step at step ``t``, as the same type of exception whose
        message names the scan, the step and the inner node that failed."""
        from nnframe.core.link import attach_node_to_exception
        node, values = linked.node_of_exception(exc)
        if node is not None:
            exc = attach_node_to_exception(exc, node, values, f"{self.op.name} step")
        try:
            return type(exc)(f"{self.op.name}, step {t}: {exc}")
        except Exception:  # exceptions whose constructor wants other arguments
            return RuntimeError(f"{self.op.name}, step {t}: {exc}")

    def shape_error(self, what, k, t, got, want):
        return ScanError(f"{self.op.name}: at step {t} the step's {what} {k} has shape {got}, "
                         f"but {want}; a loop's outputs must keep their shape from step to "
                         "step (check the initial value's shape in outputs_info)")
