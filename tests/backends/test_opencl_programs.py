"""Programs the driver can build, cache and hand back in another process.

- kernels never use a vector wider than the device's compile target (or the
  ``opencl_max_vector_bits`` cap), and the width is part of the cache key;
- a program the driver returns without its kernels is rebuilt, or refused
  with a clear error, never stored;
- a function compiled in one process runs in fresh processes that load it
  from nnframe's cache and from the driver's own cache.  These run in
  subprocesses, so a driver crash fails one test, naming the signal, instead
  of killing pytest; so do the checks that a process exits cleanly.
"""
import os
import re
import signal
import subprocess
import sys
import textwrap
import types

import numpy as np
import pytest

pytest.importorskip("pyopencl", reason="the OpenCL backend needs pyopencl (pip install 'nnframe[opencl]')")

import nnframe.tensor as T  # noqa: E402
from nnframe import config, function  # noqa: E402
from nnframe.backends.opencl import program, target  # noqa: E402
from nnframe.backends.opencl.context import get_context  # noqa: E402
from nnframe.config import ConfigError  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

_BITS = {"char": 8, "uchar": 8, "short": 16, "ushort": 16, "int": 32, "uint": 32,
         "long": 64, "ulong": 64, "float": 32, "double": 64}
_VECTOR = re.compile(r"\b(u?char|u?short|u?int|u?long|float|double)(2|3|4|8|16)\b")
# Shapes and strides travel as long8 kernel arguments, read one component at a time
# (shape.s3): they are never computed with as vectors.
_LONG8_PARAM = re.compile(r"\blong8 \w+\s*[,)]")


def widest_vector_bits(source):
    """The widest vector value (bits) the OpenCL C ``source`` computes with."""
    source = _LONG8_PARAM.sub("", source)
    return max((_BITS[t] * int(n) for t, n in _VECTOR.findall(source)), default=0)


def _graph():
    """Vectorised elementwise chains and GEMMs in both float dtypes, a reduction."""
    x, y = T.fmatrix("x"), T.fmatrix("y")
    u, v = T.dmatrix("u"), T.dmatrix("v")
    outputs = [T.tanh(x * 2 + y) * T.nnet.sigmoid(x), T.dot(x, y.T), T.exp(u) - v * u,
               T.dot(u, v.T), (x - y).sum(axis=1)]
    return [x, y, u, v], outputs


def _values(seed=0):
    r = np.random.default_rng(seed)
    return ([r.normal(size=(33, 47)).astype("float32") for _ in range(2)]
            + [r.normal(size=(29, 19)) for _ in range(2)])


def _reference(x, y, u, v):
    return [np.tanh(x * 2 + y) / (1 + np.exp(-x)), x @ y.T, np.exp(u) - v * u, u @ v.T,
            (x - y).sum(axis=1)]


def _assert_close(got, want):
    for k, (a, b) in enumerate(zip(got, want)):
        rtol = 1e-5 if np.asarray(a).dtype == np.float32 else 1e-12
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol, err_msg=f"output {k}")


@pytest.fixture
def built_sources(monkeypatch):
    """The source of every program built while the test runs."""
    sources = []
    real = program.get_program

    def recording(ctx, source, kernel_names=()):
        sources.append(source)
        return real(ctx, source, kernel_names)
    monkeypatch.setattr(program, "get_program", recording)
    return sources


# -- the width ---------------------------------------------------------------------------
@pytest.mark.parametrize("hstr, bits", [
    ("pthread-x86_64-unknown-linux-gnu-znver3", 256),        # AMD Zen 4 under PoCL 3.0 / LLVM 14
    ("pthread-x86_64-unknown-linux-gnu-haswell", 256),
    ("pthread-x86_64-unknown-linux-gnu-skylake-avx512", 512),
    ("pthread-x86_64-unknown-linux-gnu-icelake-server", 512),
    ("cpu-x86_64-pc-linux-gnu-znver4", 512),
    ("pthread-x86_64-unknown-linux-gnu-x86-64-v4", 512),
    ("pthread-x86_64-unknown-linux-gnu-nehalem", 128),
    ("pthread-x86_64-unknown-linux-gnu-x86-64", 128),
    ("pthread-x86_64-unknown-linux-gnu-some-future-cpu", 256),
    ("pthread-aarch64-unknown-linux-gnu-neoverse-n1", 128),
    ("cpu-x86_64-apple-darwin22.1.0-alderlake", 256),
])
def test_cpu_width_comes_from_the_target_pocl_compiles_for(hstr, bits):
    assert target.cpu_target_bits(hstr) == bits


def _fake_device(kind, version):
    import pyopencl as cl
    # PoCL reports a preferred width of 16 floats on Zen 4, whose code it compiles
    # for znver3 (AVX2): the width must not come from it
    return types.SimpleNamespace(type=getattr(cl.device_type, kind), version=version,
                                 driver_version="3.0", preferred_vector_width_float=16)


def test_device_widths_come_from_the_target_not_the_preferred_width():
    import pyopencl as cl
    zen4 = _fake_device("CPU", "OpenCL 3.0 PoCL HSTR: pthread-x86_64-unknown-linux-gnu-znver3")
    assert target.device_widths(cl, zen4) == (256, 256)
    xeon = _fake_device("CPU", "OpenCL 3.0 PoCL HSTR: pthread-x86_64-unknown-linux-gnu-"
                               "skylake-avx512")
    assert target.device_widths(cl, xeon) == (512, 512)
    assert target.device_widths(cl, _fake_device("CPU", "OpenCL 2.1 another driver")) == (256, 256)
    assert target.device_widths(cl, _fake_device("GPU", "OpenCL 3.0 CUDA")) == (128, 512)


def test_this_device_width_follows_its_target():
    ctx = get_context()
    hstr = target.pocl_target(ctx.device)
    if ctx.cpu and hstr is not None:
        assert ctx.vector_bits == ctx.tile_bits == target.cpu_target_bits(hstr)
    assert ctx.vector_bits in (128, 256, 512) and ctx.tile_bits in (128, 256, 512)


@pytest.mark.parametrize("bad", ["64", "300", "wide", "-256"])
def test_the_cap_flag_refuses_other_values(bad):
    with pytest.raises(ConfigError, match=r"opencl_max_vector_bits.*128, 256 or 512"):
        config.opencl_max_vector_bits = bad


def test_kernels_are_never_wider_than_the_device_or_the_cap(built_sources, fresh_compiledir):
    ctx = get_context()
    vals = _values()
    for cap in (None, 256, 128):
        with config.change_flags(opencl_max_vector_bits=cap):
            f = function(*_graph(), mode="opencl")
            _assert_close(f(*vals), _reference(*vals))
        source = built_sources[-1]
        widest = widest_vector_bits(source)
        assert 0 < widest <= min(max(ctx.vector_bits, ctx.tile_bits), cap or 512), (cap, widest)
    # the width is in the program's source, so in its cache key: one binary per width used
    widths = {(min(ctx.vector_bits, cap or 512), min(ctx.tile_bits, cap or 512))
              for cap in (None, 256, 128)}
    assert len(list(fresh_compiledir.rglob("*.bin"))) == len(widths)


def test_widest_vector_bits_reads_kernel_text():
    text = ("__kernel void k(long8 shape, __global float* p) { float8 a = 0; double4 b; "
            "long c = shape.s1; }")
    assert widest_vector_bits(text) == 256
    assert widest_vector_bits("float16 z = vload16(0, p);") == 512
    assert widest_vector_bits("long8 z = (long8)(0);") == 512


# -- programs without their kernels ---------------------------------------------------------
def _next_program_lacks_kernels(monkeypatch):
    """The next program the driver builds or loads looks as if it had no kernels."""
    real = program._kernel_names
    calls = []

    def lacking_once(ctx, prog):
        calls.append(prog)
        return set() if len(calls) == 1 else real(ctx, prog)
    monkeypatch.setattr(program, "_kernel_names", lacking_once)


def test_a_program_returned_without_kernels_is_rebuilt_and_not_stored(fresh_compiledir,
                                                                       monkeypatch):
    _next_program_lacks_kernels(monkeypatch)
    before = dict(program.STATS)
    vals = _values(1)
    _assert_close(function(*_graph(), mode="opencl")(*vals), _reference(*vals))
    assert program.STATS["rebuilt"] - before["rebuilt"] == 1
    # nothing is stored: a new process builds it again
    assert not list(fresh_compiledir.rglob("*.bin"))
    monkeypatch.setattr(program, "_PROGRAMS", {})
    _assert_close(function(*_graph(), mode="opencl")(*vals), _reference(*vals))
    assert program.STATS["built"] - before["built"] == 2
    assert len(list(fresh_compiledir.rglob("*.bin"))) == 1


def test_a_driver_that_never_returns_the_kernels_gives_a_clear_error(fresh_compiledir,
                                                                     monkeypatch):
    monkeypatch.setattr(program, "_kernel_names", lambda ctx, prog: set())
    device = get_context().device.name
    with pytest.raises(program.ProgramError) as info:
        function(*_graph(), mode="opencl")
    message = str(info.value)
    assert device in message
    for hint in ("opencl_max_vector_bits=128", "POCL_KERNEL_CACHE=0", "mode='numpy'"):
        assert hint in message
    assert not list(fresh_compiledir.rglob("*.bin"))   # nothing broken is stored


def test_a_stored_binary_without_kernels_is_replaced(fresh_compiledir, monkeypatch):
    vals = _values(2)
    function(*_graph(), mode="opencl")
    monkeypatch.setattr(program, "_PROGRAMS", {})
    _next_program_lacks_kernels(monkeypatch)   # the binary loaded from disk
    before = dict(program.STATS)
    _assert_close(function(*_graph(), mode="opencl")(*vals), _reference(*vals))
    assert program.STATS["built"] - before["built"] == 1
    assert program.STATS["rebuilt"] == before["rebuilt"]


# -- fresh processes -----------------------------------------------------------------------
def run_python(code, env_extra, args=(), timeout=600):
    """Run ``code`` in a fresh interpreter; a crash becomes a failed assertion naming the signal."""
    env = dict(os.environ, **env_extra)
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], env=env, cwd=REPO,
                         capture_output=True, text=True, timeout=timeout)
    if out.returncode < 0:
        name = signal.Signals(-out.returncode).name
        pytest.fail(f"the subprocess was killed by {name} (a crash in the OpenCL driver?)\n"
                    f"--- stderr ---\n{out.stderr[-4000:]}")
    assert out.returncode == 0, (f"exit status {out.returncode}\n--- stderr ---\n"
                                 f"{out.stderr[-4000:]}")
    assert "references to IRs" not in out.stderr, out.stderr[-4000:]
    return out


_RUN_GRAPH = """
import json, sys
sys.path.insert(0, {tests!r})
import numpy as np
from nnframe import function
from nnframe.backends.opencl import program
from test_opencl_programs import _graph, _values, _reference, _assert_close
vals = _values(3)
_assert_close(function(*_graph(), mode="opencl")(*vals), _reference(*vals))
print(json.dumps(program.STATS))
"""


def _stats(out):
    import json
    return json.loads(out.stdout.strip().splitlines()[-1])


def _env(compiledir, pocl_cache, cap):
    flags = f"compiledir={compiledir}"
    if cap is not None:
        flags += f",opencl_max_vector_bits={cap}"
    return {"NNFRAME_FLAGS": flags, "POCL_CACHE_DIR": str(pocl_cache), "POCL_KERNEL_CACHE": "1"}


def test_a_function_built_in_one_process_runs_in_fresh_ones(tmp_path, vector_cap):
    code = _RUN_GRAPH.format(tests=os.path.dirname(os.path.abspath(__file__)))
    pocl_cache = tmp_path / "pocl"
    first = run_python(code, _env(tmp_path / "a", pocl_cache, vector_cap))
    assert _stats(first)["built"] == 1
    # nnframe's binary cache
    second = run_python(code, _env(tmp_path / "a", pocl_cache, vector_cap))
    assert _stats(second)["loaded"] == 1 and _stats(second)["built"] == 0
    # the driver's own kernel cache (nnframe's cache is empty)
    third = run_python(code, _env(tmp_path / "b", pocl_cache, vector_cap))
    assert _stats(third)["built"] == 1


_WIDE_KERNEL = """
import json, sys
from nnframe.backends.opencl import program
from nnframe.backends.opencl.context import get_context
ctx = get_context()
builder = program.ProgramBuilder(ctx)
# The repro of the PoCL 3.0 bug: on an AVX2 target (AMD Zen 4) its kernel cache hands
# this program back without kernels.  It is never launched nor its binary read:
# compiling its 512-bit code there aborts PoCL's LLVM, which is why nnframe never
# generates such kernels.
twice = builder.kernel("__kernel void twice(__global float* x) "
                       "{ float16 v = vload16(0, x); vstore16(v * 2, 0, x); }")
if sys.argv[1] == "seed":   # only the driver's own cache gets it
    import pyopencl as cl
    cl.Program(ctx.context, builder.source()).build(options=ctx.build_options)
else:
    builder.build()
    assert twice.kernel is not None and twice.kernel.function_name == "twice"
print(json.dumps(program.STATS))
"""


def test_the_driver_cache_never_hands_out_a_program_without_kernels(tmp_path):
    """The program goes into the driver's own cache in one process, then fresh
    processes ask nnframe for it: where the driver hands it back without its
    kernels, nnframe notices and rebuilds it, and the process exits cleanly.
    """
    pocl_cache = tmp_path / "pocl"
    run_python(_WIDE_KERNEL, _env(tmp_path / "seed", pocl_cache, None), args=["seed"])
    for run in range(2):
        out = run_python(_WIDE_KERNEL, _env(tmp_path / f"nnframe{run}", pocl_cache, None),
                         args=["build"])
        assert _stats(out)["built"] == 1


def test_opencl_processes_exit_cleanly(tmp_path):
    """No abort or driver message at interpreter exit, with functions and programs alive."""
    code = """
    import numpy as np, nnframe.tensor as T
    from nnframe import function, shared
    x = T.fmatrix('x')
    W = shared(np.ones((5, 3), 'float32'), name='W')
    f = function([x], T.tanh(T.dot(x, W)).sum(), updates=[(W, W * 0.5)], mode='opencl')
    g = function([x], x.max(axis=0), mode='opencl')
    print(f(np.ones((4, 5), 'float32')), g(np.ones((4, 5), 'float32')))
    """
    run_python(code, _env(tmp_path / "c", tmp_path / "pocl", None))


def test_an_opencl_training_run_exits_cleanly(tmp_path):
    pytest.importorskip("sklearn", reason="the digits dataset ships with scikit-learn")
    code = f"""
    import sys
    from nnframe.train.__main__ import main
    sys.exit(main([{os.path.join(REPO, 'recipes', 'mlp_digits.yaml')!r}, '--set', 'train.epochs=1',
                   '--device', 'opencl', '--out', {str(tmp_path / 'run')!r}]))
    """
    run_python(code, _env(tmp_path / "c", tmp_path / "pocl", None))
    assert (tmp_path / "run" / "report.json").is_file()


def test_names_never_reach_a_kernel_source(built_sources, tmp_path, monkeypatch):
    """User text (a layer's name from a recipe) stays out of generated OpenCL C."""
    from nnframe import shared
    monkeypatch.chdir(tmp_path)
    name = 'W*/ }\r\n#include "PWNED" /*\x00\u2028'
    x = T.fmatrix("x" + name)
    W = shared(np.ones((3, 3), dtype="float32"), name=name)
    f = function([x], [T.tanh(T.dot(x, W)).sum(axis=0), (x * W).max()],
                 updates=[(W, W * 0.5)], mode="opencl")
    f(np.ones((3, 3), "float32"))
    assert built_sources and not any("PWNED" in source for source in built_sources)
    assert os.listdir(tmp_path) == []
