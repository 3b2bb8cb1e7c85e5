"""The benchmark steps in JAX (jit-compiled, CPU, one thread): an optional peer.

Imported by bench_native.py only when jax is installed (``pip install 'jax[cpu]'``).
Written as a JAX user writes a training loop: a pure loss function, ``jax.jit`` of
``jax.value_and_grad`` plus the SGD update, the parameters held in the closure and
replaced by the new ones every step (their buffers donated to the step, so XLA may
update them in place).  Every call ends with ``jax.block_until_ready``, so a time
covers the work done, not just its dispatch.

One thread: XLA's CPU client runs its Eigen kernels (GEMM, convolution) on a
thread pool unless ``--xla_cpu_multi_thread_eigen=false``, which this module puts
in ``XLA_FLAGS`` before jax is imported (so import it before jax, or set the flag
yourself); ``intra_op_parallelism_threads=1``, the other half of the usual recipe,
comes along (jaxlib 0.10 ignores it).  With the flag, a jitted 2048^2 product keeps
one core busy (process CPU time = wall time) on a 2-core machine; without it, both.

>>> import numpy as np, jax_workloads as jw
>>> step = jw.mlp_step([np.eye(2, dtype='float32'), np.zeros(2, 'float32')], 0.1)
>>> round(step(np.eye(2, dtype='float32'), np.array([0, 1])), 4)
0.3133
"""
import os
import sys

_ONE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
if "jax" not in sys.modules and "xla_cpu_multi_thread_eigen" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + _ONE_THREAD).strip()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jax import lax  # noqa: E402


def _crossentropy(z, y):
    """The mean softmax cross-entropy of logits ``z`` (n, classes) for int labels ``y``."""
    logp = jax.nn.log_softmax(z, axis=1)
    return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))


def _sgd_step(loss_fn, lr):
    """``(params, X, y) -> (loss, new params)``, jit-compiled, the old params' buffers donated."""
    def step(params, X, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, X, y)
        return loss, [p - lr * g for p, g in zip(params, grads)]
    return jax.jit(step, donate_argnums=0)


def _trainer(jitted, params):
    """A ``step(X, y) -> float loss`` that replaces its parameters with the updated ones."""
    state = [jnp.asarray(p) for p in params]

    def step(X, y):
        loss, new = jitted(state, X, y)
        jax.block_until_ready((loss, new))
        state[:] = new
        return float(loss)
    return step


def _mlp_loss(params, X, y):
    h = X
    layers = len(params) // 2
    for k in range(layers):
        h = h @ params[2 * k] + params[2 * k + 1]
        if k < layers - 1:
            h = jax.nn.relu(h)
    return _crossentropy(h, y)


def mlp_step(params, lr):
    """An SGD step of a ReLU MLP (``params``: W1, b1, ..., Wk, bk); ``step(X, y)`` -> loss."""
    return _trainer(_sgd_step(_mlp_loss, np.float32(lr)), params)


def elementwise(a, x, b):
    """A zero-argument callable computing ``tanh(a*x + b) * sigmoid(x)`` (x already on device)."""
    f = jax.jit(lambda a, x, b: jnp.tanh(a * x + b) * jax.nn.sigmoid(x))
    ja, jx, jb = (jax.device_put(np.asarray(v)) for v in (a, x, b))

    def run():
        return f(ja, jx, jb).block_until_ready()
    return run


def _conv_relu_pool(x, w, b):
    """conv 'valid' (NCHW, OIHW, not flipped) + bias + ReLU + 2x2 max pooling."""
    out = lax.conv_general_dilated(x, w, window_strides=(1, 1), padding="VALID",
                                   dimension_numbers=("NCHW", "OIHW", "NCHW"))
    out = jax.nn.relu(out + b[None, :, None, None])
    return lax.reduce_window(out, -jnp.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")


def _cnn_loss(params, X, y):
    C1, c1, C2, c2, W, b = params
    h = _conv_relu_pool(_conv_relu_pool(X, C1, c1), C2, c2)
    return _crossentropy(h.reshape(h.shape[0], -1) @ W + b, y)


def cnn_step(params, lr):
    """SGD step of 2 x (conv3x3 + ReLU + maxpool2) + dense; ``step(X, y)`` -> loss."""
    return _trainer(_sgd_step(_cnn_loss, np.float32(lr)), params)
