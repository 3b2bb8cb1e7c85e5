"""The hashing autoencoder of the recipes: ``L = ||f(sgn(g(X))) - X||^2``.

A linear encoder g (D -> bits), a binary code layer (``sgn`` with a
straight-through estimator, or none), a linear decoder f (bits -> D):

- ``estimator: none``: plain ``sgn``, whose gradient is zero: the encoder
  never changes (only the decoder learns);
- ``identity`` / ``hardtanh``: straight-through estimators (the gradient of
  sgn taken as 1, or as 1 where |z| <= 1);
- ``noise``: ``tanh(z + sigma * eps)`` while training, ``sgn`` at test.

``init: itq`` starts from ITQ fitted on the training data (the database):
the encoder is ITQ's projection and rotation, rescaled so that each bit's
pre-activation has unit standard deviation (the codes are ITQ's codes), and
the decoder is the least-squares affine decoder of those codes.

Recipes name it as the model builder ``hashing_autoencoder``
(:data:`nnframe.hashing.recipe_hooks.MODEL`); its report hook :func:`report_metrics`
adds ``bits``, ``estimator`` and the retrieval metrics of
:func:`nnframe.hashing.evaluate` (``mAP``, ``precision@100``, ``knn_precision@50``,
``recon``, ``bit_balance``, ``distinct_codes``) to ``report.json``.
"""
import numpy as np

from nnframe import config, function, layers
from nnframe.hashing.baselines import ITQ
from nnframe.hashing.retrieval import affine_decoder, evaluate

__all__ = ["build_hashing_autoencoder", "itq_initialisation", "code_function",
           "report_metrics"]


def itq_initialisation(x, bits, seed):
    """Encoder (W, b) and decoder (W, b) arrays that start from ITQ on ``x``."""
    itq = ITQ().fit(x, bits, seed=seed)
    w = itq.projection_                        # (D, bits): ITQ's PCA and rotation
    b = -itq.mean_ @ w
    z = x @ w + b
    scale = z.std(axis=0)
    scale[scale == 0] = 1.0
    w_enc, b_enc = w / scale, b / scale        # unit-std pre-activations, same signs
    codes = np.where(z >= 0, 1.0, -1.0)
    w_dec, b_dec = affine_decoder(codes, x)
    return w_enc, b_enc, w_dec, b_dec


def build_hashing_autoencoder(l_in, args, context):
    """Encoder, code layer and decoder on ``l_in`` (see the module docstring)."""
    dim = int(np.prod(l_in.output_shape[1:]))
    flat = l_in if len(l_in.output_shape) == 2 else layers.FlattenLayer(l_in, 2, name="flat")
    bits = args["bits"]
    if args["init"] == "itq":
        x = np.asarray(context["splits"]["train"].x, dtype=np.float64).reshape(-1, dim)
        w_enc, b_enc, w_dec, b_dec = itq_initialisation(x, bits, context.get("seed", 0))
        enc_w, enc_b, dec_w, dec_b = (a.astype(config.floatX) for a in (w_enc, b_enc, w_dec,
                                                                          b_dec))
    else:
        from nnframe import init
        enc_w, dec_w = init.GlorotUniform(), init.GlorotUniform()
        enc_b = dec_b = init.Constant(0.0)
    encoder = layers.DenseLayer(flat, bits, W=enc_w, b=enc_b, nonlinearity=None, name="encoder")
    code = layers.BinaryCodeLayer(encoder, estimator=args["estimator"], sigma=args["sigma"],
                                  name="code")
    return layers.DenseLayer(code, dim, W=dec_w, b=dec_b, nonlinearity=None, name="decoder")


def code_function(output_layer):
    """A compiled ``x -> codes`` (deterministic, ±1) of a hashing autoencoder."""
    code = next(l for l in layers.get_all_layers(output_layer) if l.name == "code")
    l_in = layers.get_all_layers(output_layer)[0]
    return function([l_in.input_var], layers.get_output(code, deterministic=True),
                    name="codes")


def report_metrics(prepared, resolved):
    """Retrieval metrics of the trained codes, queries against the database: the entries
    the recipe's report.json gets (``bits``, ``estimator``, ``init``, ``mAP``...)."""
    codes_of = code_function(prepared.model.output_layer)
    query, db = prepared.splits["query"], prepared.splits["train"]
    flat = lambda a: np.asarray(a, dtype=np.float64).reshape(len(a), -1)  # noqa: E731
    q_codes = codes_of(query.x).astype(np.int8)
    db_codes = codes_of(db.x).astype(np.int8)
    args = resolved["model"]["builder"]
    metrics = evaluate(q_codes, db_codes, query.y, db.y, flat(query.x), flat(db.x))
    return {"bits": args["bits"], "estimator": args["estimator"], "init": args["init"],
            **metrics}

