"""Learning to hash: baselines, retrieval metrics and the evaluation protocols.

- :mod:`nnframe.hashing.baselines`: LSH, PCAH, ITQ and Spectral Hashing in
  NumPy (``fit(X, bits, seed)``, ``encode(X)`` -> codes in {-1, +1});
- :mod:`nnframe.hashing.retrieval`: Hamming ranking metrics (tie-aware mAP,
  precision@k, kNN precision), reconstruction error, bit balance, distinct
  codes, and :func:`evaluate` that computes them all;
- :mod:`nnframe.hashing.protocol`: the ``mnist5k`` and ``digits``
  query/database splits;
- :mod:`nnframe.hashing.model` and :mod:`nnframe.hashing.recipe_hooks`: the
  hashing autoencoder and the retrieval split as the training recipes name them
  (``model.builder.type: hashing_autoencoder``, ``data.split.type: retrieval``).

>>> import numpy as np
>>> from nnframe.hashing import ITQ, evaluate, mnist5k_protocol
>>> rng = np.random.default_rng(0)
>>> split = mnist5k_protocol(rng.integers(0, 256, size=(5000, 784)),
...                          np.repeat(np.arange(10), 500), seed=0)
>>> itq = ITQ().fit(split.db_x, bits=16, seed=0)
>>> metrics = evaluate(itq.encode(split.query_x), itq.encode(split.db_x), split.query_y,
...                    split.db_y, split.query_x, split.db_x)
>>> sorted(metrics)
['bit_balance', 'distinct_codes', 'knn_precision@50', 'mAP', 'precision@100', 'recon']
"""
from nnframe.hashing.baselines import (
                                       BASELINES,
                                       ITQ,
                                       LSH,
                                       PCAH,
                                       SpectralHashing,
                                       fit_baseline,
                                       sign_codes,
)
from nnframe.hashing.protocol import (
                                       RetrievalSplit,
                                       digits_protocol,
                                       mnist5k_protocol,
                                       split_protocol,
)
from nnframe.hashing.retrieval import (
                                       affine_decoder,
                                       bit_balance,
                                       distinct_codes,
                                       evaluate,
                                       hamming_distances,
                                       knn_precision,
                                       mean_average_precision,
                                       reconstruction_error,
                                       tie_aware_average_precision,
                                       tie_aware_precision_at_k,
)

__all__ = ["LSH", "PCAH", "ITQ", "SpectralHashing", "BASELINES", "fit_baseline", "sign_codes",
           "RetrievalSplit", "split_protocol", "mnist5k_protocol", "digits_protocol",
           "hamming_distances", "tie_aware_average_precision", "mean_average_precision",
           "tie_aware_precision_at_k", "knn_precision", "affine_decoder",
           "reconstruction_error", "bit_balance", "distinct_codes", "evaluate"]
