"""The native backend's C compiler driver and its private cache of compiled libraries.

Every test works in its own ``compiledir`` (never ~/.cache) with an empty
in-memory library table, so "compiled" and "loaded from disk" are told apart by
:func:`compile_count`.
"""
import ctypes
import hashlib
import os
import stat
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from nnframe.backends.native import compiler as cc
from nnframe.config import config

try:
    cc.find_compiler()
    _NO_CC = False
except cc.NativeUnavailable:
    _NO_CC = True

pytestmark = [pytest.mark.skipif(_NO_CC, reason="no C compiler"),
              pytest.mark.skipif(os.name != "posix", reason="the native backend needs POSIX")]

ADD = textwrap.dedent("""
    #define EXPORT __attribute__((visibility("default")))
    EXPORT int add(int a, int b) { return a + b; }
    int hidden(int a) { return a; }   /* -fvisibility=hidden: not exported */
""")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty compiledir and an empty table of loaded libraries; the cache dir's path."""
    monkeypatch.setattr(cc, "_LOADED", {})
    with config.change_flags(compiledir=str(tmp_path / "compiledir")):
        yield tmp_path / "compiledir" / "native"


def _files(directory, key):
    return directory / f"{key}.so", directory / f"{key}.so.sha256"


def _script(tmp_path, name, body):
    """An executable /bin/sh script ``name`` in ``tmp_path``: a stand-in compiler."""
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def _real_cc():
    compiler = cc.find_compiler()
    return " ".join([compiler.path, *compiler.args])


# -- compiling, calling, reusing ---------------------------------------------------------------

def test_compiles_a_source_and_calls_it(cache):
    before = cc.compile_count()
    lib = cc.load_library(ADD, what="test add")
    assert isinstance(lib, ctypes.PyDLL)  # calls keep the GIL: generated code reads objects
    assert lib.add(40, 2) == 42
    assert cc.compile_count() == before + 1
    assert cc.TIMINGS["compile_s"] > 0 and cc.TIMINGS["load_s"] > 0
    assert not hasattr(lib, "hidden")  # only what the generator exports is visible


def test_second_load_of_the_same_source_does_not_compile(cache):
    lib = cc.load_library(ADD)
    before = cc.compile_count()
    assert cc.load_library(ADD) is lib
    assert cc.compile_count() == before


def test_a_new_process_loads_from_disk_without_compiling(cache, monkeypatch):
    cc.load_library(ADD)
    monkeypatch.setattr(cc, "_LOADED", {})   # what a new process starts with
    before = cc.compile_count()
    assert cc.load_library(ADD).add(2, 3) == 5
    assert cc.compile_count() == before


def test_a_real_second_process_reuses_the_cached_library(cache):
    cc.load_library(ADD)
    code = textwrap.dedent(f"""
        from nnframe.config import config
        from nnframe.backends.native import compiler as cc
        config.compiledir = {str(cache.parent)!r}
        print(cc.load_library({ADD!r}).add(20, 22), cc.compile_count())
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120).stdout.split()
    assert out == ["42", "0"]


def test_threads_loading_one_new_source_compile_it_once(cache):
    source = ADD + "/* threads */"
    before = cc.compile_count()
    libs, start = [], threading.Barrier(4)

    def load():
        start.wait()
        libs.append(cc.load_library(source))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(libs) == 4 and all(lib is libs[0] for lib in libs)
    assert cc.compile_count() == before + 1


def test_concurrent_processes_compiling_one_source_all_succeed(cache):
    # big enough that the compiles overlap; each renames its own temp file into place
    body = "\n".join(f"EXPORT int f{i}(int x) {{ return x * {i} + {i % 7}; }}" for i in range(400))
    source = '#define EXPORT __attribute__((visibility("default")))\n' + body
    code = textwrap.dedent(f"""
        import sys
        from nnframe.config import config
        from nnframe.backends.native import compiler as cc
        config.compiledir = {str(cache.parent)!r}
        print(cc.load_library(sys.stdin.read()).f399(2))
    """)
    procs = [subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True) for _ in range(4)]
    outs = [p.communicate(source, timeout=120)[0].strip() for p in procs]
    assert [p.returncode for p in procs] == [0] * 4
    assert outs == [str(2 * 399 + 399 % 7)] * 4
    key = cc.cache_key(source, cc.find_compiler())
    so, digest = _files(cache, key)
    assert hashlib.sha256(so.read_bytes()).hexdigest() == digest.read_text().strip()
    left = sorted(p.name for p in cache.iterdir() if not p.name.startswith("compiler-"))
    assert left == [so.name, digest.name]  # no temp left


# -- translation units compiled at the same time ---------------------------------------------

HALF = "int twice(int x) { return 2 * x; }\n"   # hidden: -fvisibility=hidden
QUAD = ('int twice(int x);\n__attribute__((visibility("default"))) '
        "int quad(int x) { return twice(twice(x)); }\n")


def test_translation_units_are_linked_into_one_library(cache):
    before = cc.compile_count()
    lib = cc.load_library([QUAD, HALF], what="two units")
    assert lib.quad(3) == 12
    assert not hasattr(lib, "twice")            # the units call it; no one else can
    assert cc.compile_count() == before + 1     # one library
    key = cc.cache_key([QUAD, HALF], cc.find_compiler())
    left = sorted(p.name for p in cache.iterdir() if not p.name.startswith("compiler-"))
    assert left == [f"{key}.so", f"{key}.so.sha256"]  # no object or temp left
    assert len({key, cc.cache_key([HALF, QUAD], cc.find_compiler()),
                cc.cache_key(QUAD + HALF, cc.find_compiler())}) == 3


def test_translation_units_compile_at_the_same_time(tmp_path, cache, monkeypatch):
    """Each unit's compiler waits (up to 10 s) until the other has started: one at a
    time, the first would fail."""
    wrapper = _script(tmp_path, "paircc", textwrap.dedent(f"""\
        case " $* " in *" -c "*)
            touch {tmp_path}/started.$$
            n=0
            while [ "$(ls {tmp_path} | grep -c '^started')" -lt 2 ]; do
                n=$((n + 1)); [ $n -gt 100 ] && echo "alone" >&2 && exit 1
                sleep 0.1
            done;;
        esac
        exec {_real_cc()} "$@"
    """))
    monkeypatch.setenv("CC", wrapper)
    assert cc.load_library([QUAD, HALF + "/* pair */"]).quad(5) == 20


def test_a_unit_the_compiler_rejects_is_kept_for_the_report(cache):
    bad = "int twice(int x) { return 2 * x }\n"      # the unit with the error
    with pytest.raises(cc.NativeCompileError) as info:
        cc.load_library([QUAD, bad], what="function two_units")
    message = str(info.value)
    saved = cache / (cc.cache_key([QUAD, bad], cc.find_compiler()) + ".c")
    assert "function two_units" in message and str(saved) in message
    assert saved.read_text() == bad                  # the compiler's line numbers are its own
    assert f"{saved}:1" in message                   # and its diagnostics point into it
    assert not [p for p in cache.iterdir() if p.name.startswith(".")]


def test_units_that_leave_a_function_undefined_are_reported_whole(cache):
    with pytest.raises(cc.NativeCompileError) as info:
        cc.load_library([QUAD, "int thrice(int x) { return 3 * x; }\n"], what="unlinked")
    saved = next(cache.glob("*.c"))
    assert str(saved) in str(info.value) and "twice" in str(info.value)
    text = saved.read_text()
    assert "translation unit 1 of 2" in text and "translation unit 2 of 2" in text
    assert "thrice" in text and "quad" in text


# -- the cache directory -----------------------------------------------------------------------

def test_cache_dir_is_created_private_with_its_parents(tmp_path):
    with config.change_flags(compiledir=str(tmp_path / "a" / "b")):
        path = cc.cache_dir()
    assert path == str(tmp_path / "a" / "b" / "native")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o700


def test_group_writable_cache_dir_is_refused(cache):
    cc.cache_dir()
    os.chmod(cache, 0o777)
    with pytest.raises(cc.NativeUnavailable) as info:
        cc.load_library(ADD)
    assert str(cache) in str(info.value) and "chmod 700" in str(info.value)
    assert "compiledir" in str(info.value)


def test_cache_dir_of_another_user_is_refused(cache, monkeypatch):
    cc.cache_dir()
    monkeypatch.setattr(os, "getuid", lambda: os.stat(cache).st_uid + 1)
    with pytest.raises(cc.NativeUnavailable, match="owned by uid") as info:
        cc.cache_dir()
    assert str(cache) in str(info.value)


def test_symlinked_cache_dir_is_refused(cache, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    cache.parent.mkdir()
    cache.symlink_to(elsewhere)
    with pytest.raises(cc.NativeUnavailable, match="symbolic link"):
        cc.cache_dir()


def test_uncreatable_cache_dir_is_unavailable(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with config.change_flags(compiledir=str(blocker)):
        with pytest.raises(cc.NativeUnavailable, match="cannot create") as info:
            cc.cache_dir()
    assert str(blocker) in str(info.value)


# -- what is trusted on disk -------------------------------------------------------------------

def _cached(cache, monkeypatch, source=ADD):
    """Compile ``source`` into the cache, forget it in memory; its .so and digest paths."""
    cc.load_library(source)
    monkeypatch.setattr(cc, "_LOADED", {})
    return _files(cache, cc.cache_key(source, cc.find_compiler()))


def _assert_rebuilt(cache, so, digest, before):
    assert cc.compile_count() == before + 1
    assert not so.is_symlink() and stat.S_IMODE(so.stat().st_mode) == 0o600
    assert hashlib.sha256(so.read_bytes()).hexdigest() == digest.read_text().strip()


def test_cached_files_are_private(cache, monkeypatch):
    so, digest = _cached(cache, monkeypatch)
    assert stat.S_IMODE(so.stat().st_mode) == 0o600
    assert stat.S_IMODE(digest.stat().st_mode) == 0o600


def test_tampered_library_is_rebuilt(cache, monkeypatch):
    so, digest = _cached(cache, monkeypatch)
    data = bytearray(so.read_bytes())
    data[len(data) // 2] ^= 0xFF
    # A new file renamed over it: writing in place would change the pages this process has
    # mapped already (and crash it), which is not what a tampered cache looks like to a new one.
    tampered = so.with_suffix(".new")
    tampered.write_bytes(bytes(data))
    os.replace(tampered, so)
    before = cc.compile_count()
    assert cc.load_library(ADD).add(1, 1) == 2
    _assert_rebuilt(cache, so, digest, before)


def test_digest_mismatch_or_missing_is_rebuilt(cache, monkeypatch):
    so, digest = _cached(cache, monkeypatch)
    digest.write_text("0" * 64 + "\n")
    before = cc.compile_count()
    cc.load_library(ADD)
    _assert_rebuilt(cache, so, digest, before)
    monkeypatch.setattr(cc, "_LOADED", {})
    digest.unlink()
    cc.load_library(ADD)
    _assert_rebuilt(cache, so, digest, before + 1)


def test_group_writable_library_is_rebuilt(cache, monkeypatch):
    so, digest = _cached(cache, monkeypatch)
    so.chmod(0o666)
    before = cc.compile_count()
    cc.load_library(ADD)
    _assert_rebuilt(cache, so, digest, before)


def test_symlink_planted_at_the_library_is_not_followed(cache, monkeypatch, tmp_path):
    so, digest = _cached(cache, monkeypatch)
    victim = tmp_path / "victim.so"              # a library someone wants us to load
    victim.write_bytes(so.read_bytes())
    so.unlink()
    so.symlink_to(victim)
    digest.write_text(hashlib.sha256(victim.read_bytes()).hexdigest() + "\n")
    before = cc.compile_count()
    assert cc.load_library(ADD).add(3, 4) == 7
    _assert_rebuilt(cache, so, digest, before)
    assert victim.read_bytes() == so.read_bytes()  # a compile is deterministic, and the link
    assert victim.stat().st_ino != so.stat().st_ino  # was replaced, not written through


# -- errors ------------------------------------------------------------------------------------

def test_rejected_source_names_what_and_keeps_the_source(cache):
    bad = "int broken( {\n"
    with pytest.raises(cc.NativeCompileError) as info:
        cc.load_library(bad, what="function lossy_f")
    message = str(info.value)
    saved = cache / (cc.cache_key(bad, cc.find_compiler()) + ".c")
    assert "function lossy_f" in message and "report" in message and str(saved) in message
    assert saved.read_text() == bad and stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert "error" in message.split("\n", 1)[1]       # the compiler's own diagnostics follow
    assert not [p for p in cache.iterdir() if p.name.startswith(".")]  # temp files cleaned


def test_no_compiler_anywhere_is_unavailable_and_detection_follows_the_env(tmp_path, monkeypatch):
    empty = tmp_path / "empty_bin"
    empty.mkdir()
    monkeypatch.setenv("CC", "/nonexistent")
    monkeypatch.setenv("PATH", str(empty))
    for _ in range(2):  # the failure is cached, and raised again each time
        with pytest.raises(cc.NativeUnavailable) as info:
            cc.find_compiler()
        message = str(info.value)
        assert "/nonexistent" in message and str(empty) in message
        assert "gcc or clang" in message and "CC=" in message
    monkeypatch.undo()
    assert cc.find_compiler().path  # switching the env back finds the compiler again


def test_cc_with_arguments_is_used(tmp_path, cache, monkeypatch):
    wrapper = _script(tmp_path, "mycc", f'exec {_real_cc()} "$@"\n')
    monkeypatch.setenv("CC", f"{wrapper} -DANSWER=42")
    compiler = cc.find_compiler()
    assert (compiler.path, compiler.args) == (wrapper, ("-DANSWER=42",))
    src = '__attribute__((visibility("default"))) int answer(void) { return ANSWER; }'
    assert cc.load_library(src).answer() == 42


def test_broken_cc_falls_back_to_cc_on_path_with_a_warning(monkeypatch):
    monkeypatch.setattr(cc, "_DETECTED", {})  # the warning comes with a fresh detection
    monkeypatch.setenv("CC", "/nonexistent/cc")
    with pytest.warns(RuntimeWarning, match="/nonexistent/cc"):
        compiler = cc.find_compiler()
    assert compiler.path != "/nonexistent/cc"


def test_compiler_without_march_native_gets_the_default_flags(tmp_path, cache, monkeypatch):
    wrapper = _script(tmp_path, "oldcc", textwrap.dedent(f"""\
        for a in "$@"; do [ "$a" = -march=native ] && echo "unknown -march" >&2 && exit 1; done
        exec {_real_cc()} "$@"
    """))
    monkeypatch.setenv("CC", wrapper)
    assert cc.load_library(ADD).add(1, 2) == 3   # the first compile settles the flags
    assert cc.find_compiler().flags == cc.DEFAULT_FLAGS
    assert not list(cache.glob("*.c"))           # no bug report: the source was fine
    cc._DETECTED.clear()                         # a new process: remembered, not probed
    assert cc.find_compiler().flags == cc.DEFAULT_FLAGS


def test_a_cold_start_asks_the_compiler_its_version_only(tmp_path, monkeypatch):
    """No test compile before the first real one: on an empty cache, detection runs
    ``cc --version`` and nothing else (a test compile would add ~40 ms to a cold start)."""
    calls = []
    real_run = cc._run
    monkeypatch.setattr(cc, "_run", lambda argv, **k: calls.append(argv) or real_run(argv, **k))
    monkeypatch.setattr(cc, "_DETECTED", {})
    with config.change_flags(compiledir=str(tmp_path)):
        compiler = cc.find_compiler()
        assert [argv[-1] for argv in calls] == ["--version"]
        assert "-march=native" in compiler.flags and not compiler.verified
        assert not list((tmp_path / "native").glob("compiler-*.json"))
        cc.load_library(ADD + "/* cold */")
        assert cc.find_compiler().verified     # the compile proved the flags ...
        assert len(list((tmp_path / "native").glob("compiler-*.json"))) == 1  # ... for good


def test_a_compiler_that_answers_but_cannot_build_is_unavailable(tmp_path, cache, monkeypatch):
    broken = _script(tmp_path, "brokencc", textwrap.dedent(f"""\
        [ "$1" = --version ] && exec {_real_cc()} --version
        echo "cannot find crt1.o" >&2; exit 1
    """))
    monkeypatch.setenv("CC", broken)
    monkeypatch.setenv("PATH", str(tmp_path))   # nothing to fall back to
    monkeypatch.setattr(cc, "_DETECTED", {})
    assert cc.find_compiler().path == broken    # it answered: taken until it fails
    with pytest.raises(cc.NativeUnavailable, match="no working C compiler") as info:
        cc.load_library(ADD)
    assert broken in str(info.value) and "cannot find crt1.o" in str(info.value)
    assert not list(cache.glob("*.c"))           # not reported as an nnframe bug


def test_a_broken_cc_that_answers_gives_way_to_cc_on_path_at_the_first_compile(
        tmp_path, cache, monkeypatch):
    broken = _script(tmp_path, "brokencc", textwrap.dedent(f"""\
        [ "$1" = --version ] && exec {_real_cc()} --version
        exit 1
    """))
    monkeypatch.setenv("CC", broken)
    monkeypatch.setattr(cc, "_DETECTED", {})
    with pytest.warns(RuntimeWarning, match="brokencc"):
        assert cc.load_library(ADD + "/* fallback */").add(2, 2) == 4
    assert cc.find_compiler().path != broken


def test_compiler_removed_after_detection_is_unavailable(tmp_path, cache, monkeypatch):
    # the wrapper restores PATH for the compiler's own helpers (as, ld)
    wrapper = _script(tmp_path, "gone", f'PATH={os.environ["PATH"]!r} exec {_real_cc()} "$@"\n')
    monkeypatch.setenv("CC", wrapper)
    monkeypatch.setenv("PATH", str(tmp_path))   # nothing to fall back to
    compiler = cc.find_compiler()
    os.unlink(wrapper)
    with pytest.raises(cc.NativeUnavailable, match="cannot be run any more"):
        cc.load_library(ADD + "/* new */")
    with pytest.raises(cc.NativeUnavailable, match="no working C compiler"):
        cc.find_compiler()                     # detection was redone, not served from cache
    assert compiler.path == wrapper


def test_hung_compiler_is_killed_after_the_timeout(tmp_path, cache, monkeypatch):
    marker = tmp_path / "still_running"
    wrapper = _script(tmp_path, "slowcc", textwrap.dedent(f"""\
        for a in "$@"; do case "$a" in *probe.c|--version) exec {_real_cc()} "$@";; esac; done
        (sleep 2; touch {marker}) &
        sleep 30
    """))
    monkeypatch.setenv("CC", wrapper)
    monkeypatch.setattr(cc, "COMPILE_TIMEOUT_S", 1)
    start = time.perf_counter()
    with pytest.raises(cc.NativeCompileError, match="within 1 s"):
        cc.load_library(ADD, what="slow f")
    assert time.perf_counter() - start < 10
    time.sleep(max(0.0, start + 2.5 - time.perf_counter()))
    assert not marker.exists()   # the compiler's children were killed too


# -- cache keys --------------------------------------------------------------------------------

def test_cache_key_changes_with_everything_the_code_depends_on(monkeypatch):
    base = cc.find_compiler()
    key = cc.cache_key(ADD, base)
    assert key == cc.cache_key(ADD, base) and len(key) == 64
    variants = [
        cc.cache_key(ADD + " ", base),
        cc.cache_key(ADD, cc.Compiler(base.path, base.version + "x", base.flags, base.args)),
        cc.cache_key(ADD, cc.Compiler(base.path, base.version, base.flags[:-1], base.args)),
        cc.cache_key(ADD, cc.Compiler("/other/cc", base.version, base.flags, base.args)),
        cc.cache_key(ADD, cc.Compiler(base.path, base.version, base.flags, ("-m32",))),
    ]
    monkeypatch.setattr(cc, "cpu_identity", lambda: "x86_64\nflags=sse2")
    variants.append(cc.cache_key(ADD, base))
    assert len({key, *variants}) == len(variants) + 1


def test_cpu_identity_describes_this_cpu():
    import platform
    ident = cc.cpu_identity()
    assert ident.splitlines()[0] == platform.machine()
    if sys.platform.startswith("linux") and platform.machine() in ("x86_64", "AMD64"):
        assert any(line.startswith("flags=") for line in ident.splitlines())


def test_a_new_process_reuses_the_remembered_probe(tmp_path):
    """A compiler that built a library is remembered in the cache directory, so a new
    process loading cached code does not run the compiler at all."""
    with config.change_flags(compiledir=str(tmp_path)):
        cc._DETECTED.clear()
        cc.load_library(ADD + "/* remembered */")
        first = cc.find_compiler()
        records = list((tmp_path / "native").glob("compiler-*.json"))
        assert len(records) == 1 and records[0].stat().st_mode & 0o777 == 0o600
        cc._DETECTED.clear()
        calls = []
        real_run = cc._run
        try:
            cc._run = lambda *a, **k: calls.append(a) or real_run(*a, **k)
            again = cc.find_compiler()
        finally:
            cc._run = real_run
        assert again == first and calls == []
        records[0].write_text("not json")            # a damaged record: detected again
        cc._DETECTED.clear()
        assert cc.find_compiler() == first


def test_a_cached_library_that_matches_its_digest_but_does_not_load_is_rebuilt(cache):
    """A library damaged before its digest was written (the digest matches, dlopen fails)
    is built once more, not reported as an nnframe bug."""
    source = ADD + "\nEXPORT int damaged_then_rebuilt(void) { return 7; }\n"
    cache.mkdir(parents=True, exist_ok=True)
    so, digest = _files(cache, cc.cache_key(source, cc.find_compiler()))
    for path, data in ((so, b""), (digest, hashlib.sha256(b"").hexdigest().encode())):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, data)
        os.close(fd)
    before = cc.compile_count()
    assert cc.load_library(source).damaged_then_rebuilt() == 7
    _assert_rebuilt(cache, so, digest, before)


def test_threads_that_start_at_once_give_one_source_one_cache_key():
    """In a fresh Python (nothing asked sysconfig yet), 16 threads computing a key at the
    same moment all get the same one. CPython fills sysconfig's table on first use without
    a lock: without nnframe's own lock a thread now and then saw no SOABI and another key,
    so a library compiled twice and the next process missed the cache."""
    code = textwrap.dedent("""
        import threading
        from nnframe.backends.native import compiler as cc
        compiler = cc.find_compiler()
        start, keys = threading.Barrier(16), []
        def key():
            start.wait()
            keys.append(cc.cache_key("int x;", compiler))
        threads = [threading.Thread(target=key) for _ in range(16)]
        for t in threads: t.start()
        for t in threads: t.join()
        print(len(keys), len(set(keys)))
    """)
    for _ in range(5):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=120, check=True).stdout.split()
        assert out == ["16", "1"]
