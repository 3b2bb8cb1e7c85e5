"""The C compiler driver of the native backend and its private cache of shared objects.

:func:`find_compiler` picks a C compiler once per process (``$CC``, then ``cc``,
``gcc``, ``clang``); :func:`load_library` turns C source into a loaded
:class:`ctypes.PyDLL`, compiling it only when neither this process nor the
on-disk cache (``<compiledir>/native/``) has it yet.  The source may come as
several translation units: they are compiled at the same time, one compiler
process each, and linked into one library (a segment's C takes about half
the time on two cores).

A compiler is tried on real work: the first compile with a compiler this cache
has not seen yet uses ``-march=native`` and, when it succeeds, records that the
compiler works with those flags; only when it fails is the compiler tested on a
one-line program (with and without ``-march=native``) to tell a compiler problem
from an nnframe bug.  A separate test compile first would add ~40 ms to every
cold start.

The cache is trusted code: whatever is in it gets loaded into the process.  So
the directory must be ours and writable by no one else, a cached ``.so`` must
be a regular file of ours whose SHA-256 matches the digest written next to it,
and every file is written to a private temporary name and renamed into place,
which also lets several processes compile the same source at once.

>>> from nnframe.backends.native.compiler import load_library
>>> lib = load_library('__attribute__((visibility("default"))) int one(void) { return 1; }',
...                    what="a doctest")                        # doctest: +SKIP
>>> lib.one()                                                   # doctest: +SKIP
1
"""
import contextlib
import ctypes
import dataclasses
import functools
import hashlib
import hmac
import json
import os
import platform
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import warnings

import numpy

from nnframe.config import config

__all__ = ["NativeUnavailable", "NativeCompileError", "Compiler", "DEFAULT_FLAGS",
           "find_compiler", "cache_dir", "cache_key", "cpu_identity", "load_library",
           "compile_count", "TIMINGS", "COMPILE_TIMEOUT_S"]

# Results must not depend on fast-math; contraction off keeps a*b+c two roundings as NumPy does.
# -fno-trapping-math changes no value (nnframe never traps on FP exceptions): it lets GCC compute
# both arms of a select, so loops with switch/maximum/clip vectorise (without it they do not,
# even on AVX-512).
# -O2 with the vectoriser at its dynamic cost model: the loops run as fast as at -O3 (W2,
# W3) and a training step compiles in half the time (0.3 s instead of 0.6 s for W1).
DEFAULT_FLAGS = ("-O2", "-ftree-vectorize", "-fvect-cost-model=dynamic", "-std=gnu11", "-fPIC",
                 "-shared", "-ffp-contract=off", "-fno-math-errno", "-fno-trapping-math",
                 "-fsigned-char", "-fwrapv", "-fno-strict-aliasing", "-fvisibility=hidden")
# After the source: libm is linked explicitly so generated code may call expf & co. even where
# the host executable does not already pull libm in.
LINK_FLAGS = ("-lm",)
COMPILE_TIMEOUT_S = 120
# Bump when the way sources become libraries changes, so old cache entries are not reused.
_FORMAT = "nnframe-native-2"
_COMPILEDIR_HOW = ("NNFRAME_FLAGS='compiledir=/some/dir', or compiledir = /some/dir in "
                   "~/.nnframerc's [global] section, or config.compiledir = '/some/dir'")
# The test program of _probe_in: needs the C headers and libm the generated code uses.
_PROBE_SOURCE = ("#include <math.h>\n#include <stdint.h>\n"
                 '__attribute__((visibility("default"))) int32_t nnf_probe(int32_t x) '
                 "{ return (int32_t)floor((double)x + 1.5); }\n")

#: seconds spent by the last compile and the last load (verification + dlopen)
TIMINGS = {"compile_s": 0.0, "load_s": 0.0}


class NativeUnavailable(RuntimeError):
    """The native backend cannot run here: no usable compiler, or no safe place to cache code."""


class NativeCompileError(RuntimeError):
    """The compiler rejected C that nnframe generated (an nnframe bug)."""


@dataclasses.dataclass(frozen=True)
class Compiler:
    """A C compiler: ``[path, *args, *flags, source, -o, out, -lm]`` builds a .so.

    ``version`` is the first line of ``<cc> --version``; ``args`` are the words after
    the program in ``$CC`` (``CC="ccache gcc"`` gives ``path=.../ccache``, ``args=("gcc",)``).
    ``verified`` is False while ``flags`` are assumed, not yet proven by a compile (the
    first compile proves or settles them); it is not part of the compiler's identity.
    """
    path: str
    version: str
    flags: tuple
    args: tuple = ()
    verified: bool = dataclasses.field(default=True, compare=False)

    def command(self, source_path, output_path):
        """The argument list that compiles ``source_path`` into the .so ``output_path``.

        >>> Compiler("/usr/bin/cc", "cc 12", ("-O3", "-shared")).command("f.c", "f.so")
        ['/usr/bin/cc', '-O3', '-shared', 'f.c', '-o', 'f.so', '-lm']
        """
        return [self.path, *self.args, *self.flags, source_path, "-o", output_path, *LINK_FLAGS]

    def object_command(self, source_path, object_path):
        """The argument list that compiles ``source_path`` into the object ``object_path``.

        >>> Compiler("/usr/bin/cc", "cc 12", ("-O3", "-shared")).object_command("f.c", "f.o")
        ['/usr/bin/cc', '-O3', '-c', 'f.c', '-o', 'f.o']
        """
        flags = [f for f in self.flags if f != "-shared"]  # a link flag: clang warns with -c
        return [self.path, *self.args, *flags, "-c", source_path, "-o", object_path]

    def link_command(self, object_paths, output_path):
        """The argument list that links ``object_paths`` into the .so ``output_path``.

        >>> Compiler("/usr/bin/cc", "cc 12", ("-O3", "-shared")).link_command(["a.o"], "f.so")
        ['/usr/bin/cc', '-O3', '-shared', 'a.o', '-o', 'f.so', '-lm']
        """
        return [self.path, *self.args, *self.flags, *object_paths, "-o", output_path,
                *LINK_FLAGS]


# -- compiler detection ------------------------------------------------------------------------

_DETECTED = {}        # (CC, PATH) -> Compiler, or the NativeUnavailable message
_DETECT_LOCK = threading.Lock()
_COUNT = {"compiles": 0}


def find_compiler():
    """The C compiler for the current ``$CC`` and ``$PATH`` (detected once per value).

    >>> find_compiler().flags[:2]                               # doctest: +SKIP
    ('-O2', '-ftree-vectorize')

    The first candidate that answers ``--version`` is chosen (or, where this cache
    remembers a compiler that worked, that one); a candidate that does not answer is
    tried on a test program.  Raises :class:`NativeUnavailable` naming every
    candidate tried and why it failed.
    """
    env_key = (os.environ.get("CC", ""), os.environ.get("PATH"))
    found = _DETECTED.get(env_key)
    if found is None:
        with _DETECT_LOCK:
            found = _DETECTED.get(env_key)
            if found is None:
                found = _DETECTED[env_key] = _detect(*env_key)
    if isinstance(found, str):
        raise NativeUnavailable(found)
    return found


def _forget_compiler(compiler):
    """Forget detections that chose ``compiler`` (its binary vanished): the next call retries."""
    with _DETECT_LOCK:
        for env_key in [k for k, v in _DETECTED.items() if v == compiler]:
            del _DETECTED[env_key]


def _candidates(cc):
    """``(label, argv words)`` to try, in order: ``$CC`` first, then cc, gcc, clang."""
    out = []
    if cc.strip():
        try:
            words = shlex.split(cc)
        except ValueError as exc:
            words = None
            out.append((f"$CC={cc!r}", exc))
        if words:
            out.append((f"$CC={cc!r}", words))
    out += [(name, [name]) for name in ("cc", "gcc", "clang")]
    return out


def _detect(cc, path_env, test=False):
    """A :class:`Compiler`, or the message saying what was tried (cached by the caller).

    ``test``: every candidate not remembered is tried on a test program (see _probe).
    """
    tried, seen = [], set()
    for label, words in _candidates(cc):
        if isinstance(words, Exception):
            tried.append(f"{label}: cannot be split into words ({words})")
            continue
        program = shutil.which(words[0], path=path_env)  # None: the default search path
        if program is None:
            where = "not an executable file" if os.sep in words[0] else "not found on PATH"
            tried.append(f"{label}: {where}")
            continue
        program = os.path.abspath(program)
        identity = (os.path.realpath(program), tuple(words[1:]))
        if identity in seen:  # cc is often gcc: probing it twice only costs time
            continue
        seen.add(identity)
        compiler, why = _probe(program, tuple(words[1:]), test)
        if compiler is not None:
            if tried and cc.strip():
                warnings.warn(f"nnframe native backend: {tried[0]}; using {program} instead",
                              RuntimeWarning, stacklevel=4)
            return compiler
        tried.append(f"{label} ({program}): {why}")
    path_note = "(unset)" if path_env is None else (path_env or "(empty)")
    return ("no working C compiler for nnframe's native backend. Tried: " + "; ".join(tried)
            + f". PATH={path_note}. Install gcc or clang (e.g. `apt install gcc`), or set "
            "CC=/path/to/a/c/compiler, or use another backend (config.device='numpy').")


def _probe(program, args, test=False):
    """``(Compiler, None)`` for ``program``, else ``(None, why)``.

    A compiler this cache remembers is taken as recorded.  Otherwise one that answers
    ``--version`` is taken unverified, with ``-march=native`` (see :func:`_settle`),
    unless ``test``; one that does not, or with ``test``, must build a tiny .so:
    ``-march=native`` is tried first, then without it.
    """
    remembered = _remembered(program, args)
    if remembered is not None:
        return remembered, None
    version = _version(program, args)
    if version and not test:
        return Compiler(program, version, DEFAULT_FLAGS + ("-march=native",), args,
                        verified=False), None
    try:
        with tempfile.TemporaryDirectory(prefix="nnframe-cc-") as tmp:
            compiler, why = _probe_in(program, version, args, tmp)
    except OSError as exc:  # TMPDIR unwritable or full
        return None, f"cannot write a test program to {tempfile.gettempdir()} ({exc})"
    if compiler is not None:
        _remember(program, args, compiler)
    return compiler, why


def _probe_record(program, args):
    """Where a compiler binary that worked (a probe or a first compile) is remembered, or None.

    A new process would otherwise spend ~50 ms (``--version`` and a test compile)
    before loading a cached library.  The name hashes the binary's real path,
    size and modification time, its arguments and the flags, so an upgraded
    compiler is probed again.
    """
    try:
        st = os.stat(program)
        directory = cache_dir()
    except (OSError, NativeUnavailable):
        return None
    text = json.dumps([os.path.realpath(program), st.st_size, st.st_mtime_ns, list(args),
                       list(DEFAULT_FLAGS), _FORMAT])
    return os.path.join(directory, "compiler-" + hashlib.sha256(text.encode()).hexdigest()
                        + ".json")


def _remembered(program, args):
    path = _probe_record(program, args)
    data = _read_private(path) if path else None
    try:
        record = json.loads(data) if data else None
        if record is None:
            return None
        return Compiler(program, str(record["version"]), tuple(map(str, record["flags"])), args)
    except (ValueError, KeyError, TypeError):
        return None


def _remember(program, args, compiler):
    path = _probe_record(program, args)
    if path is None:
        return
    data = json.dumps({"version": compiler.version, "flags": list(compiler.flags)}).encode()
    tmp = f"{path}.tmp-{os.getpid()}-{threading.get_ident()}"
    try:
        _write_private(tmp, data)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _confirm(compiler):
    """``compiler`` (unverified) has built a library: remember it, and use it as verified."""
    verified = dataclasses.replace(compiler, verified=True)
    _remember(compiler.path, compiler.args, verified)
    with _DETECT_LOCK:
        for env_key, found in list(_DETECTED.items()):
            if found == compiler:
                _DETECTED[env_key] = verified


def _settle(compiler):
    """The compiler to use after unverified ``compiler`` failed to build a library.

    The detection is redone with test programs: a compiler that rejects ``-march=native``
    comes back with the default flags, a broken one gives way to the next candidate (with
    a warning) or to :class:`NativeUnavailable`.  The same compiler coming back means the
    compiler works and the source is at fault.
    """
    env_key = (os.environ.get("CC", ""), os.environ.get("PATH"))
    with _DETECT_LOCK:
        for key in [k for k, v in _DETECTED.items() if v == compiler]:
            del _DETECTED[key]
        found = _DETECTED[env_key] = _detect(*env_key, test=True)
    if isinstance(found, str):
        raise NativeUnavailable(found)
    return found


def _probe_in(program, version, args, tmp):
    """_probe's work in the temporary directory ``tmp``."""
    source = os.path.join(tmp, "probe.c")
    with open(source, "w") as f:
        f.write(_PROBE_SOURCE)
    why = ""
    for flags in (DEFAULT_FLAGS + ("-march=native",), DEFAULT_FLAGS):
        compiler = Compiler(program, version, flags, args)
        output = os.path.join(tmp, f"probe{len(flags)}.so")
        try:
            proc = _run(compiler.command(source, output), timeout=60)
        except OSError as exc:
            return None, f"cannot run it ({exc})"
        except subprocess.TimeoutExpired:
            return None, "it did not compile a one-line test program within 60 s"
        if proc.returncode == 0 and os.path.isfile(output):
            return compiler, None
        why = ("it failed to compile a one-line test program: "
               + _first_lines(proc.stderr, 3).replace("\n", " | "))
    return None, why


def _version(program, args):
    """First line of ``<cc> --version`` ('' when it has none): part of the cache key."""
    try:
        proc = _run([program, *args, "--version"], timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    text = (proc.stdout or proc.stderr).strip()
    return text.splitlines()[0].strip() if text else ""


def _run(argv, timeout):
    """Run ``argv`` (no shell) in its own process group; kill the whole group on timeout."""
    return _run_all([argv], timeout)[0]


def _run_all(argvs, timeout):
    """Run every argument list of ``argvs`` at once (no shell), each in its own process group;
    their ``CompletedProcess`` es.  Raises ``TimeoutExpired`` when they are not all done
    within ``timeout`` seconds, after killing every group.

    The compiler driver starts cc1/as/ld as children: killing only the driver would
    leave them running.  English diagnostics (LC_ALL=C) keep messages and the
    version line (part of the cache key) independent of the user's locale.
    """
    env = dict(os.environ, LC_ALL="C")
    procs, results = [], []
    try:
        for argv in argvs:
            procs.append(subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                          env=env, start_new_session=True))
        deadline = time.monotonic() + timeout
        for argv, proc in zip(argvs, procs):
            out, err = proc.communicate(timeout=max(deadline - time.monotonic(), 0))
            results.append(subprocess.CompletedProcess(
                argv, proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")))
    except BaseException:  # timeout, Ctrl-C or a failed start: no compiler may outlive the call
        for proc in procs:
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        raise
    return results


def _first_lines(text, n):
    lines = text.strip().splitlines()
    more = f"\n... ({len(lines) - n} more lines)" if len(lines) > n else ""
    return "\n".join(lines[:n]) + more


# -- cache directory and keys ------------------------------------------------------------------

def cache_dir():
    """``<compiledir>/native``, created 0700; refused unless it is ours and private.

    Everything in it is loaded as code, so a directory another user could write to
    (or a symlink to one) would let them run code in this process.
    """
    path = os.path.join(config.compiledir, "native")
    try:
        os.makedirs(config.compiledir, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.mkdir(path, 0o700)
    except OSError as exc:
        raise NativeUnavailable(
            f"cannot create nnframe's native code cache {path!r}: {exc}. Choose a writable "
            f"directory with the nnframe flag compiledir ({_COMPILEDIR_HOW}).") from None
    try:
        st = os.lstat(path)
    except OSError as exc:
        raise NativeUnavailable(f"cannot inspect nnframe's native code cache {path!r}: {exc}") \
            from None
    problem = _unsafe(st, "directory")
    if problem is None and not os.access(path, os.W_OK | os.X_OK):
        problem = "is not writable by this user"
    if problem is not None:
        raise NativeUnavailable(
            f"nnframe refuses the native code cache {path!r}: it {problem}, so its contents "
            f"cannot be trusted as code. "
            + (f"Fix it with `chmod 700 {path}`, or choose " if st.st_uid == os.getuid()
               else "It is not yours: choose ")
            + f"another directory with the nnframe flag compiledir ({_COMPILEDIR_HOW}).")
    return path


def _unsafe(st, kind):
    """Why an ``lstat`` result is not a private ``kind`` of ours, or None when it is."""
    is_kind = stat.S_ISDIR if kind == "directory" else stat.S_ISREG
    if stat.S_ISLNK(st.st_mode):
        return "is a symbolic link"
    if not is_kind(st.st_mode):
        return f"is not a {kind}"
    uid = os.getuid() if hasattr(os, "getuid") else None
    if uid is not None and st.st_uid != uid:
        return f"is owned by uid {st.st_uid}, not by this user (uid {uid})"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"is writable by group or others (mode {stat.S_IMODE(st.st_mode):o})"
    return None


# One lock for the identity texts, computed once: CPython's sysconfig fills its table on
# first use without a lock, so two threads asking at once (a segment and the own GEMM's
# library compiling side by side) could see SOABI missing in one of them and give one
# source two cache keys (a needless compile, and a cache that missed in the next process).
_IDENTITY_LOCK = threading.Lock()


@functools.lru_cache(maxsize=1)
def _cpu_text():
    """The CPU's description: machine plus, on Linux, the first CPU's identity lines."""
    parts = [platform.machine()]
    keys = ("vendor_id", "cpu family", "model", "model name", "flags",  # x86
            "CPU implementer", "CPU architecture", "CPU variant", "CPU part",  # arm
            "Features", "cpu", "isa")  # arm, ppc, riscv
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if not line.strip():
                    break  # end of the first CPU's block
                name, _, value = line.partition(":")
                if name.strip() in keys:
                    parts.append(f"{name.strip()}={value.strip()}")
    except OSError:  # not Linux: the processor string is what there is
        parts.append(platform.processor())
    return "\n".join(parts)


def cpu_identity():
    """A text that differs between CPUs -march=native code cannot be shared between."""
    with _IDENTITY_LOCK:
        return _cpu_text()


@functools.lru_cache(maxsize=1)
def _python_text():
    """The Python that loads the library: implementation, version and ABI."""
    return (platform.python_implementation(), sys.version,
            sysconfig.get_config_var("SOABI") or "", getattr(sys, "abiflags", ""))


def _python_identity():
    with _IDENTITY_LOCK:
        return _python_text()


def _units(source):
    """``source`` (one C text, or a sequence of translation units) as a tuple of units."""
    return (source,) if isinstance(source, str) else tuple(source)


def cache_key(source, compiler):
    """The SHA-256 hex name of ``source`` compiled by ``compiler`` for this CPU and Python.

    ``source`` is one C text or a sequence of translation units (see load_library).

    >>> len(cache_key("int x;", find_compiler()))              # doctest: +SKIP
    64
    """
    from nnframe import __version__  # here: this module may load while nnframe is importing
    units = _units(source)
    fields = (_FORMAT, len(units), *units, compiler.path, compiler.version, *compiler.args, "|",
              *compiler.flags, "|", *LINK_FLAGS, cpu_identity(), __version__,
              numpy.__version__, *_python_identity())
    h = hashlib.sha256()
    for field in fields:  # length-prefixed: no two field lists hash the same text
        data = str(field).encode("utf-8", "surrogatepass")
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


# -- compiling and loading ---------------------------------------------------------------------

_LOADED = {}          # cache key -> PyDLL, for the life of the process (never unloaded)
_KEY_LOCKS = {}       # cache key -> Lock: one thread compiles a key, the others wait for it
_LOCKS_LOCK = threading.Lock()


def _after_fork_in_child():
    """New locks in a child process: one held at the fork by a thread that was compiling
    (which the child does not have) would make the child's next compile wait forever. A
    compile the child needs then runs again (the cache's renames make that safe)."""
    global _DETECT_LOCK, _IDENTITY_LOCK, _LOCKS_LOCK
    _DETECT_LOCK, _IDENTITY_LOCK, _LOCKS_LOCK = (threading.Lock(), threading.Lock(),
                                                 threading.Lock())
    _KEY_LOCKS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def compile_count():
    """How many libraries this process has compiled (test programs not counted)."""
    return _COUNT["compiles"]


class _Unsettled(Exception):
    """A compiler whose flags were assumed (not verified) failed to build a library."""


def load_library(source, what="a function"):
    """The loaded library built from ``source``: from memory, from the disk cache, or compiled.

    ``source`` is one C text, or a sequence of translation units compiled at the same
    time and linked together: a function one unit defines and another calls is not
    ``static``, and ``-fvisibility=hidden`` keeps it out of the library's exports.
    ``what`` names the thing being compiled in error messages (e.g. ``"function f"``).
    Raises :class:`NativeUnavailable` (no compiler or no safe cache) or
    :class:`NativeCompileError` (the compiler rejected ``source``).
    """
    compiler = find_compiler()
    try:
        return _load(source, what, compiler)
    except _Unsettled:
        # The first compile with assumed flags failed: test the compiler and build again
        # with what the test found.  If it fails again, the source is at fault.
        return _load(source, what, _settle(compiler))


def _load(source, what, compiler):
    key = cache_key(source, compiler)
    lib = _LOADED.get(key)
    if lib is not None:
        return lib
    with _LOCKS_LOCK:
        lock = _KEY_LOCKS.setdefault(key, threading.Lock())
    with lock:
        lib = _LOADED.get(key)
        if lib is None:
            lib = _LOADED[key] = _load_or_build(source, what, compiler, key)
    return lib


def _load_or_build(source, what, compiler, key):
    directory = cache_dir()
    so_path = os.path.join(directory, key + ".so")
    start = time.perf_counter()
    if not _verified(so_path, so_path + ".sha256"):
        _compile(source, what, compiler, directory, key)
        start = time.perf_counter()
    try:
        lib = _dlopen(so_path, directory, what, source, key)
    except NativeCompileError:
        # A cached library that matches its digest but does not load (damaged before its
        # digest was written): build it once more before calling it a bug.
        _compile(source, what, compiler, directory, key)
        start = time.perf_counter()
        lib = _dlopen(so_path, directory, what, source, key)
    TIMINGS["load_s"] = time.perf_counter() - start  # a cache hit's includes verification
    return lib


def _read_private(path):
    """The bytes of ``path`` if it is a regular file of ours no one else can write, else None.

    Opened with O_NOFOLLOW and checked on the open descriptor, so a symlink or a
    file swapped in between the check and the read is never trusted.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
                     | getattr(os, "O_CLOEXEC", 0))
    except OSError:  # missing, or a symlink (ELOOP)
        return None
    with os.fdopen(fd, "rb") as f:
        if _unsafe(os.fstat(f.fileno()), "file") is not None:
            return None
        return f.read()


def _verified(so_path, digest_path):
    """Whether the cached .so may be loaded: private, regular, and matching its digest."""
    try:
        if stat.S_ISLNK(os.lstat(so_path).st_mode):
            return False
    except OSError:
        return False
    digest = _read_private(digest_path)
    data = _read_private(so_path)
    if digest is None or data is None:
        return False
    actual = hashlib.sha256(data).hexdigest().encode()
    return hmac.compare_digest(actual, digest.strip())


def _write_private(path, data):
    """Create ``path`` (0600, never an existing file or link) holding ``data`` (bytes)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _compile(source, what, compiler, directory, key):
    """Compile ``source`` to ``<key>.so`` and ``<key>.so.sha256``, each renamed into place.

    The work happens in a private temporary directory inside the cache, under the final
    names: the object file records the source's name, so every process compiling one
    source writes the same bytes, and a .so renamed over by another process still
    matches the digest renamed after it.  Several translation units are compiled to
    objects at the same time (one compiler process each), then linked.
    """
    units = _units(source)
    work = tempfile.mkdtemp(prefix=f".tmp-{key[:16]}-", dir=directory)  # 0700
    try:
        names = [key] if len(units) == 1 else [f"{key}-{j}" for j in range(len(units))]
        sources = [os.path.join(work, name + ".c") for name in names]
        so_tmp = os.path.join(work, key + ".so")
        for path, unit in zip(sources, units):
            _write_private(path, unit.encode("utf-8", "surrogateescape"))
        if len(units) == 1:
            steps = [[compiler.command(sources[0], so_tmp)]]
        else:
            objects = [os.path.join(work, name + ".o") for name in names]
            steps = [[compiler.object_command(c, o) for c, o in zip(sources, objects)],
                     [compiler.link_command(objects, so_tmp)]]
        start = time.perf_counter()
        with _LOCKS_LOCK:  # threads may compile different keys at once
            _COUNT["compiles"] += 1
        try:
            failed = _run_steps(steps, start + COMPILE_TIMEOUT_S)
        except OSError as exc:  # the binary was removed (or lost its x bit) since detection
            _forget_compiler(compiler)
            raise NativeUnavailable(
                f"the C compiler {compiler.path} found earlier cannot be run any more ({exc}); "
                "reinstall it, or set CC=/path/to/a/c/compiler") from None
        except subprocess.TimeoutExpired:
            saved = _keep_for_report(units, sources, None, directory, key)
            raise NativeCompileError(
                f"{compiler.path} did not finish compiling {what} within {COMPILE_TIMEOUT_S} s; "
                f"please report it with the source saved at {saved}") from None
        finally:
            TIMINGS["compile_s"] = time.perf_counter() - start
        if failed is not None or not os.path.isfile(so_tmp):
            if not compiler.verified:
                raise _Unsettled()
            unit, stderr = failed if failed is not None else (None, "")
            saved = _keep_for_report(units, sources, unit, directory, key)
            for path in sources:
                stderr = stderr.replace(path, saved)
            raise NativeCompileError(
                f"nnframe generated C that {compiler.path} rejected while compiling {what}; "
                f"please report it with the source saved at {saved}\n"
                f"{_first_lines(stderr, 30)}")
        if not compiler.verified:
            _confirm(compiler)
        # The linker may recreate the output with the umask's mode: make it private again.
        os.chmod(so_tmp, 0o600)
        with open(so_tmp, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        _write_private(so_tmp + ".sha256", (digest + "\n").encode())
        # rename() replaces a planted symlink itself, never the file it points to
        so_path = os.path.join(directory, key + ".so")
        os.replace(so_tmp, so_path)
        os.replace(so_tmp + ".sha256", so_path + ".sha256")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run_steps(steps, deadline):
    """Run each step's commands at once, the steps in order, until one fails.

    Returns None when every command succeeded, else ``(unit, stderr)`` of the first
    failure, ``unit`` being the index of the translation unit that failed to compile (the
    first step compiles the units) or None (the link).  Raises ``TimeoutExpired`` past
    ``deadline`` (``time.perf_counter()``).
    """
    for step, argvs in enumerate(steps):
        procs = _run_all(argvs, timeout=max(deadline - time.perf_counter(), 0))
        for k, proc in enumerate(procs):
            if proc.returncode != 0:
                return (k if step == 0 else None), proc.stderr
    return None


def _keep_for_report(units, sources, unit, directory, key):
    """Keep the source of a failed compile as ``<key>.c`` (0600) for the bug report; its path.

    The unit that failed when one did (the compiler's line numbers are its own), else
    every unit, one after the other.
    """
    if unit is None and len(units) > 1:
        fd, path = tempfile.mkstemp(suffix=".c", dir=os.path.dirname(sources[0]))  # 0600
        with os.fdopen(fd, "wb") as f:
            f.write(_report_text(units).encode("utf-8", "surrogateescape"))
        return _save_source(path, directory, key)
    return _save_source(sources[unit or 0], directory, key)


def _report_text(units):
    """The translation units as one text to read (not to compile: their helpers repeat)."""
    if len(units) == 1:
        return units[0]
    return "".join(f"/* ---- translation unit {j + 1} of {len(units)} ---- */\n{unit}"
                   for j, unit in enumerate(units))


def _save_source(src_path, directory, key):
    """Keep the source nnframe could not use as ``<key>.c`` (0600) for the bug report; its path."""
    saved = os.path.join(directory, key + ".c")
    os.replace(src_path, saved)
    return saved


def _dlopen(so_path, directory, what, source, key):
    """ctypes.PyDLL of ``so_path`` (calls keep the GIL: the generated code reads Python objects)."""
    try:
        return ctypes.PyDLL(so_path)
    except OSError as exc:
        text = str(exc)
        if "failed to map segment" in text or "Operation not permitted" in text:
            raise NativeUnavailable(
                f"cannot load compiled code from {directory!r} ({text}): its file system is "
                "probably mounted noexec. Choose another directory with the nnframe flag "
                f"compiledir ({_COMPILEDIR_HOW}).") from None
        if "ELF" in text or "wrong architecture" in text or "incompatible" in text:
            raise NativeUnavailable(
                f"the C compiler builds libraries this Python cannot load ({text}); set "
                "CC=/path/to/a/compiler for this platform") from None
        fd, src_tmp = tempfile.mkstemp(suffix=".c", dir=directory)  # 0600
        with os.fdopen(fd, "wb") as f:
            f.write(_report_text(_units(source)).encode("utf-8", "surrogateescape"))
        saved = _save_source(src_tmp, directory, key)
        raise NativeCompileError(
            f"nnframe compiled C for {what} that cannot be loaded ({text}); please report it "
            f"with the source saved at {saved}") from None
