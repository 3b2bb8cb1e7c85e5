"""Configuration flags: defaults < ~/.nnframerc < NNFRAME_FLAGS < code."""
import os
import subprocess
import sys

import pytest

import nnframe
from nnframe import config
from nnframe.config import ConfigError


def run_python(code, tmp_path, env_extra=None, rc=None):
    env = dict(os.environ)
    env.pop("NNFRAME_FLAGS", None)
    env.pop("NNFRAMERC", None)
    env["HOME"] = str(tmp_path)
    # The subprocess imports the same nnframe as this test run, installed or not.
    repo = os.path.dirname(os.path.dirname(os.path.abspath(nnframe.__file__)))
    env["PYTHONPATH"] = repo + os.pathsep + env.get("PYTHONPATH", "")
    if rc is not None:
        (tmp_path / ".nnframerc").write_text(rc)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          cwd=str(tmp_path))


def test_default_floatX_is_float32():
    assert config.floatX == "float32"


def test_default_device_is_native_and_functions_without_a_mode_run_in_c(tmp_path):
    result = run_python("import numpy as np, nnframe.tensor as T; from nnframe import config, "
                        "function; from nnframe.backends import native; x = T.fvector(); "
                        "f = function([x], T.tanh(x) * 2); "
                        "print(config.device, config.source_of('device'), "
                        "native.fallback_reason() is None, len(native.native_nodes(f)) > 0, "
                        "f(np.zeros(2, 'float32')).tolist())", tmp_path)
    assert result.returncode == 0, result.stderr
    device, source, works, in_c, values = result.stdout.split(maxsplit=4)
    assert (device, source, values.strip()) == ("native", "default", "[0.0, 0.0]")
    assert in_c == works  # in C wherever a compiler works (else NumPy: the fallback tests)


def test_rc_file_sets_floatX(tmp_path):
    # The seed's example: ~/.nnframerc with a [global] section, like .theanorc.
    result = run_python("import nnframe.tensor as T; from nnframe import config;"
                        "print(config.floatX, T.matrix().dtype, config.source_of('floatX'))",
                        tmp_path, rc="[global]\nfloatX = float64\n")
    assert result.returncode == 0, result.stderr
    floatx, dtype, source = result.stdout.split(maxsplit=2)
    assert (floatx, dtype) == ("float64", "float64")
    assert ".nnframerc:2" in source


def test_environment_overrides_rc(tmp_path):
    result = run_python("from nnframe import config; print(config.floatX, config.device)", tmp_path,
                        env_extra={"NNFRAME_FLAGS": "floatX=float32, device=numpy"},
                        rc="[global]\nfloatX = float64\n")
    assert result.stdout.split() == ["float32", "numpy"]


def test_nnframerc_variable_points_to_another_file(tmp_path):
    other = tmp_path / "custom.rc"
    other.write_text("[global]\nprofile = True\n")
    result = run_python("from nnframe import config; print(config.profile)", tmp_path,
                        env_extra={"NNFRAMERC": str(other)})
    assert result.stdout.strip() == "True"


def test_unknown_flag_in_rc_names_file_and_line(tmp_path):
    result = run_python("import nnframe", tmp_path, rc="[global]\nfloatX = float32\nflaotX = float64\n")
    assert result.returncode != 0
    assert "unknown nnframe flag 'flaotX'" in result.stderr
    assert ".nnframerc:3" in result.stderr
    assert "Did you mean 'floatX'" in result.stderr


def test_bad_value_in_environment_names_flag_and_source(tmp_path):
    result = run_python("import nnframe", tmp_path, env_extra={"NNFRAME_FLAGS": "floatX=float16"})
    assert result.returncode != 0
    assert "bad value 'float16' for flag 'floatX' (from NNFRAME_FLAGS)" in result.stderr


def test_malformed_environment_entry(tmp_path):
    result = run_python("import nnframe", tmp_path, env_extra={"NNFRAME_FLAGS": "floatX"})
    assert "not of the form name=value" in result.stderr


def test_code_assignment_and_change_flags():
    with config.change_flags(floatX="float64"):
        assert config.floatX == "float64"
        assert config.source_of("floatX") == "change_flags"
    assert config.floatX == "float32"
    old = config.profile
    config.profile = "yes"
    try:
        assert config.profile is True
    finally:
        config.profile = old


def test_code_errors():
    with pytest.raises(ConfigError, match="unknown nnframe flag 'floatx'.*Did you mean 'floatX'"):
        config.floatx = "float64"
    with pytest.raises(ConfigError, match="bad value 'int8' for flag 'floatX' \\(from code\\)"):
        config.floatX = "int8"
    device = config.device  # numpy, or the --device of the test run
    with pytest.raises(ConfigError, match="bad value"):
        with config.change_flags(device="cuda"):
            pass
    assert config.device == device


@pytest.mark.parametrize("bad", ["-1", "0", "2.5", "lots"])
def test_max_array_bytes_takes_a_positive_whole_number(bad):
    with pytest.raises(ConfigError, match=r"max_array_bytes.*positive whole number of bytes"):
        config.max_array_bytes = bad
    with config.change_flags(max_array_bytes="2e9"):
        assert config.max_array_bytes == 2_000_000_000
    with config.change_flags(max_array_bytes=""):
        assert config.max_array_bytes is None
