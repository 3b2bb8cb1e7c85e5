"""``nnframe.layers`` has every public name of its modules, automatically."""
from nnframe import layers


def test_every_public_name_of_every_layer_module_is_in_layers():
    for module in layers.MODULES:
        for name in module.__all__:
            assert getattr(layers, name, None) is getattr(module, name), \
                f"{module.__name__}.{name} is missing from nnframe.layers"
    assert sorted(layers.__all__) == layers.__all__ and "DenseLayer" in layers.__all__
