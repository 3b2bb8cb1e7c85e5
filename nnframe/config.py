"""nnframe's configuration flags, read like Theano's.

Precedence, lowest first: built-in defaults < the ``[global]`` section of
``~/.nnframerc`` (or the file named by ``$NNFRAMERC``) < ``$NNFRAME_FLAGS``
(``"floatX=float64,device=opencl"``) < assignments in code.

>>> from nnframe import config
>>> config.floatX
'float32'
>>> with config.change_flags(floatX='float64'):
...     config.floatX
'float64'

Unknown flags and bad values raise :class:`ConfigError`, which names the flag
and where it came from (the rc file and its line, the environment variable or
the code).
"""
import configparser
import contextlib
import os

__all__ = ["config", "ConfigError"]


class ConfigError(ValueError):
    """A flag that does not exist, or a value a flag does not accept."""


def _choice(*allowed):
    def check(value):
        if value not in allowed:
            raise ValueError(f"must be one of {', '.join(map(repr, allowed))}")
        return value
    check.describe = "one of " + ", ".join(allowed)
    return check


def _bool(value):
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError("must be a boolean (True/False, 1/0, yes/no)")


def _str(value):
    return str(value)


def _optional(parse):
    """``parse``, accepting None or '' as "unset" (the flag's default of None)."""
    def check(value):
        return None if value is None or value == "" else parse(value)
    return check


@_optional
def _vector_bits(value):
    try:
        bits = int(value)
    except (TypeError, ValueError):
        bits = None
    if bits not in (128, 256, 512):
        raise ValueError("must be 128, 256 or 512 (bits), or empty for the device's own width")
    return bits


@_optional
def _optional_bytes(value):
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = -1.0
    if not number >= 1 or number != int(number):
        raise ValueError("must be a positive whole number of bytes (e.g. 2e9), "
                         "or empty for the machine's memory")
    return int(number)


@_optional
def _optional_int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError("must be an integer index") from None


# name -> (default, parser, doc)
_FLAGS = {
    "floatX": ("float32", _choice("float32", "float64"),
               "dtype of unprefixed constructors, Python floats and shared()"),
    "device": ("native", _choice("numpy", "opencl", "native"),
               "backend used when function() gets no mode: native (generated C; the NumPy "
               "backend where no C compiler works, said once in the log), numpy (the "
               "reference) or opencl"),
    "opencl_platform": (None, _optional_int, "index of the OpenCL platform"),
    "opencl_device": (None, _optional_int, "index of the OpenCL device"),
    "opencl_max_vector_bits": (None, _vector_bits,
                               "cap on the vector width of generated kernels (128, 256, 512); "
                               "unset: the SIMD width of the target the device compiles for"),
    "opencl_tune": (True, _bool,
                    "time a few GEMM tile sizes at the first matrix product per OpenCL device "
                    "and dtype, and cache the choice under compiledir (off: the built-in tile)"),
    "opencl_replay": (True, _bool,
                      "after two calls with the same input shapes, an OpenCL function replays "
                      "the kernels it recorded instead of running its Python per node "
                      "(read when the function is compiled; off: every call runs per node)"),
    "native_gemm": ("auto", _choice("auto", "blas"),
                    "float32 matrix products of the native backend: 'auto' runs the large ones "
                    "with nnframe's own kernel where the CPU has AVX-512, the others with the "
                    "bundled BLAS; 'blas': all with the BLAS (read when a function is "
                    "compiled)"),
    "compiledir": (os.path.join(os.path.expanduser("~"), ".cache", "nnframe"), _str,
                   "where compiled kernels are cached"),
    "profile": (False, _bool, "record time per node in f.profile"),
    "max_array_bytes": (None, _optional_bytes,
                        "largest array a data file or checkpoint may declare (bytes); "
                        "unset: the machine's physical memory"),
    "on_nan": ("ignore", _choice("ignore", "warn", "raise"),
               "what a function does when an output holds NaN/Inf"),
    "warn_float64": ("ignore", _choice("ignore", "warn", "raise"),
                     "what to do when a float64 variable is created"),
    "compute_test_value": ("off", _choice("off", "ignore", "warn", "raise"),
                           "evaluate each node on its inputs' tag.test_value as the graph is "
                           "built, so shape errors surface at the line that built the node "
                           "('off': never; 'ignore', 'warn', 'raise': what an input without a "
                           "test value does)"),
    "optimizer": ("fast_run", _choice("fast_run", "None"),
                  "graph rewrites applied by function() ('None' turns them off)"),
}


class Config:
    """Holds the flag values; attribute access reads and assigns them."""

    def __init__(self):
        object.__setattr__(self, "_values", {})
        object.__setattr__(self, "_sources", {})
        for name, (default, _, _) in _FLAGS.items():
            self._values[name] = default
            self._sources[name] = "default"

    # -- access -----------------------------------------------------------
    def __getattr__(self, name):
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(_unknown_flag_message(name, "code")) from None

    def __setattr__(self, name, value):
        self._set(name, value, "code")

    def _set(self, name, value, source):
        if name not in _FLAGS:
            raise ConfigError(_unknown_flag_message(name, source))
        parser = _FLAGS[name][1]
        try:
            parsed = parser(value)
        except ValueError as exc:
            raise ConfigError(f"bad value {value!r} for flag {name!r} (from {source}): {exc}") from None
        self._values[name] = parsed
        self._sources[name] = source

    def source_of(self, name):
        """Where the current value of flag ``name`` came from."""
        return self._sources[name]

    def flags(self):
        """A dict of every flag and its current value."""
        return dict(self._values)

    @contextlib.contextmanager
    def change_flags(self, **changes):
        """Temporarily set flags; the old values come back on exit.

        >>> with config.change_flags(floatX='float64'):
        ...     pass
        """
        old = {k: (self._values.get(k), self._sources.get(k)) for k in changes}
        try:
            for name, value in changes.items():
                self._set(name, value, "change_flags")
            yield self
        finally:
            for name, (value, source) in old.items():
                if name in _FLAGS:
                    self._values[name] = value
                    self._sources[name] = source

    def __repr__(self):
        lines = [f"{k} = {v!r}  ({self._sources[k]})" for k, v in self._values.items()]
        return "nnframe.config:\n  " + "\n  ".join(lines)


def _unknown_flag_message(name, source):
    import difflib
    close = difflib.get_close_matches(name, list(_FLAGS), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return (f"unknown nnframe flag {name!r} (from {source}).{hint} "
            f"Known flags: {', '.join(sorted(_FLAGS))}.")


def _rc_path():
    return os.environ.get("NNFRAMERC") or os.path.join(os.path.expanduser("~"), ".nnframerc")


def _read_rc(cfg, path):
    if not os.path.isfile(path):
        return
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # flag names are case-sensitive (floatX)
    try:
        parser.read(path)
    except configparser.Error as exc:
        raise ConfigError(f"cannot parse {path}: {exc}") from None
    if not parser.has_section("global"):
        return
    with open(path) as fh:
        lines = fh.read().splitlines()
    for name, value in parser.items("global"):
        line = next((i + 1 for i, text in enumerate(lines)
                     if text.strip().split("=")[0].strip() == name), "?")
        cfg._set(name, value.strip(), f"{path}:{line} [global]")


def _read_env(cfg, text):
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        if "=" not in item:
            raise ConfigError(f"NNFRAME_FLAGS entry {item!r} is not of the form name=value "
                              f"(e.g. NNFRAME_FLAGS='floatX=float64,device=opencl')")
        name, value = (s.strip() for s in item.split("=", 1))
        cfg._set(name, value, "NNFRAME_FLAGS")


def _load():
    cfg = Config()
    _read_rc(cfg, _rc_path())
    _read_env(cfg, os.environ.get("NNFRAME_FLAGS", ""))
    return cfg


config = _load()
