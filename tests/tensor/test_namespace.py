"""``import nnframe.tensor as T`` has every public name of the op families, automatically."""
import nnframe.tensor as T


def test_every_public_name_of_every_family_is_in_T():
    for module in T.FAMILIES:
        for name in module.__all__:
            assert hasattr(T, name), f"{module.__name__}.{name} is missing from T"
            if name not in T._basic.__all__:   # tensor.basic's spellings take precedence
                assert getattr(T, name) is getattr(module, name), f"T.{name} is not " \
                    f"{module.__name__}.{name}"


def test_T_exports_what_it_has():
    assert all(hasattr(T, name) for name in T.__all__)
    for name in ("shape", "reshape", "sum", "argmax", "cumsum", "dot", "grad", "ste_sign",
                 "set_subtensor", "fmatrix", "tensor", "nnet", "random", "logsumexp"):
        assert name in T.__all__, name
    assert callable(T.shape) and callable(T.sum)   # not shadowed by module names
