"""Packages export every public name of their modules (each module's ``__all__``),
so a new layer, update rule or loader needs no edit of the package's ``__init__``.
(``nnframe.tensor``, whose families may override each other, has its own test.)"""
import pytest

from nnframe import data, layers, optim


@pytest.mark.parametrize("package", [layers, optim, data], ids=lambda p: p.__name__)
def test_every_public_name_of_every_module_is_in_its_package(package):
    for module in package.MODULES:
        for name in module.__all__:
            assert getattr(package, name, None) is getattr(module, name), \
                f"{module.__name__}.{name} is missing from {package.__name__}"
    assert set(package.__all__) == {n for m in package.MODULES for n in m.__all__}


def test_the_packages_still_export_what_users_import():
    assert {"DenseLayer", "get_output", "batch_norm"} <= set(layers.__all__)
    assert {"adam", "sgd", "Updates", "CosineDecay", "total_norm_constraint"} <= set(optim.__all__)
    assert {"load_dataset", "split", "Minibatches", "read_idx", "DatasetError"} <= set(data.__all__)
