"""The classic unsupervised hashing baselines, in NumPy.

Each baseline is fitted on a data matrix (the database, one item a row) and
encodes any matrix with the same columns into codes in {-1, +1} (``int8``,
one bit a column; a pre-activation of exactly 0 gives +1, as ``T.ste_sign``):

- :class:`LSH`: signs of random Gaussian projections of the centred data
  (Charikar 2002; the "LSH" baseline of Gong & Lazebnik's ITQ code);
- :class:`PCAH`: signs of the top principal components (also called tPCA);
- :class:`ITQ`: iterative quantisation (Gong & Lazebnik, CVPR 2011): PCA to
  ``bits`` dimensions, then a rotation learnt by alternating
  ``B = sgn(V R)`` with an orthogonal Procrustes step for ``R``;
- :class:`SpectralHashing`: Weiss, Torralba & Fergus (NIPS 2008), with the
  conventions of the authors' ``trainSH.m`` / ``compressSH.m``.

All follow one interface: ``fit(X, bits, seed=0)`` returns the fitted object,
``encode(X)`` returns the ``(n, bits)`` codes.  The linear ones (LSH, PCAH,
ITQ) also expose ``mean_`` and ``projection_`` (``D x bits``) with
``encode(X) == sgn((X - mean_) @ projection_)``, and ``project(X)`` for the
real-valued pre-activations (what an ITQ-initialised encoder starts from).

>>> import numpy as np
>>> X = np.random.default_rng(0).normal(size=(200, 10))
>>> codes = ITQ().fit(X, bits=4, seed=0).encode(X)
>>> codes.shape, codes.dtype, sorted(np.unique(codes).tolist())
((200, 4), dtype('int8'), [-1, 1])
"""
import numpy as np

__all__ = ["LSH", "PCAH", "ITQ", "SpectralHashing", "BASELINES", "fit_baseline",
           "sign_codes", "pca"]


def sign_codes(z):
    """Codes in {-1, +1} (``int8``) from pre-activations: ``z >= 0`` gives +1.

    >>> sign_codes(np.array([[-0.5, 0.0, 2.0]]))
    array([[-1,  1,  1]], dtype=int8)
    """
    return np.where(np.asarray(z) >= 0, 1, -1).astype(np.int8)


def pca(X, k):
    """Top-``k`` principal directions of the rows of ``X`` (centred here).

    Parameters
    ----------
    X : array ``(n, D)``
    k : number of directions, ``1 <= k <= D``

    Returns ``(mean, components, variances)``: the column means ``(D,)``, the
    unit eigenvectors of the covariance as columns ``(D, k)`` in decreasing
    order of eigenvalue, and those eigenvalues ``(k,)``.  Each eigenvector's
    largest-magnitude entry is made positive so that the result does not
    depend on the LAPACK build's sign choices.

    >>> mean, W, var = pca(np.random.default_rng(0).normal(size=(50, 3)), 2)
    >>> W.shape, bool(var[0] >= var[1])
    ((3, 2), True)
    """
    X = np.asarray(X, dtype=np.float64)
    mean = X.mean(axis=0)
    centred = X - mean
    cov = centred.T @ centred / max(X.shape[0] - 1, 1)
    variances, vectors = np.linalg.eigh(cov)              # ascending order
    order = np.argsort(variances, kind="stable")[::-1][:k]
    components = vectors[:, order]
    pivots = np.argmax(np.abs(components), axis=0)
    components = components * np.sign(components[pivots, np.arange(k)])
    return mean, components, variances[order]


def _check_fit_args(name, X, bits, max_bits=None):
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{name}.fit: X must be a 2-D matrix (items x features), got shape "
                         f"{X.shape}")
    if X.shape[0] < 2:
        raise ValueError(f"{name}.fit: needs at least 2 items to fit, got {X.shape[0]}")
    if not np.issubdtype(X.dtype, np.number) or not np.all(np.isfinite(X)):
        raise ValueError(f"{name}.fit: X must hold finite numbers")
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or bits < 1:
        raise ValueError(f"{name}.fit: bits must be a positive int, got {bits!r}")
    if max_bits is not None and bits > max_bits:
        raise ValueError(f"{name}.fit: bits={bits} exceeds the {max_bits} features of X "
                         f"(shape {X.shape}); use at most {max_bits} bits")
    return X.astype(np.float64)


class _Baseline:
    """Shared checks: ``encode`` needs a fitted model and the fitted width."""

    def _check_encode(self, X):
        if getattr(self, "mean_", None) is None:
            raise RuntimeError(f"{type(self).__name__}.encode: call fit(X, bits, seed) first")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.mean_.shape[0]:
            raise ValueError(f"{type(self).__name__}.encode: X must have shape (n, "
                             f"{self.mean_.shape[0]}) like the fitted data, got {X.shape}")
        return X


class _LinearBaseline(_Baseline):
    """``codes = sgn((X - mean_) @ projection_)``."""

    mean_ = None
    projection_ = None

    def project(self, X):
        """Real-valued pre-activations ``(X - mean_) @ projection_``, shape ``(n, bits)``."""
        X = self._check_encode(X)
        return (X - self.mean_) @ self.projection_

    def encode(self, X):
        """Codes ``(n, bits)`` in {-1, +1} (``int8``)."""
        return sign_codes(self.project(X))


class LSH(_LinearBaseline):
    """Random-hyperplane LSH: signs of Gaussian projections of the centred data.

    ``fit(X, bits, seed)`` stores the mean of ``X`` and a ``(D, bits)``
    matrix of standard normal entries drawn from
    ``numpy.random.default_rng(seed)``.

    >>> X = np.random.default_rng(0).normal(size=(100, 8))
    >>> LSH().fit(X, bits=16, seed=1).encode(X).shape
    (100, 16)
    """

    def fit(self, X, bits, seed=0):
        X = _check_fit_args("LSH", X, bits)
        self.mean_ = X.mean(axis=0)
        self.projection_ = np.random.default_rng(seed).standard_normal((X.shape[1], bits))
        return self


class PCAH(_LinearBaseline):
    """PCA hashing: signs of the top ``bits`` principal components.

    Deterministic (``seed`` is accepted for the common interface and unused).
    Its retrieval quality typically *falls* as bits grow, because the
    low-variance directions added last are weighted like the first ones.

    >>> X = np.random.default_rng(0).normal(size=(100, 8))
    >>> PCAH().fit(X, bits=4).encode(X).shape
    (100, 4)
    """

    def fit(self, X, bits, seed=0):
        X = _check_fit_args("PCAH", X, bits, max_bits=np.shape(X)[1])
        self.mean_, self.projection_, _ = pca(X, bits)
        return self


class ITQ(_LinearBaseline):
    """Iterative quantisation (Gong & Lazebnik 2011).

    With ``V = (X - mean) @ W_pca`` the data projected on its top ``bits``
    principal directions, ITQ minimises the quantisation loss
    ``||B - V R||_F^2`` over codes ``B`` in {-1, +1} and orthogonal ``R`` by
    alternating ``B = sgn(V R)`` and the orthogonal Procrustes solution
    ``R = U_A U_B^T`` where ``B^T V = U_B S U_A^T`` (an SVD).  ``R`` starts as
    the left singular vectors of a standard normal matrix drawn from
    ``numpy.random.default_rng(seed)`` (a random orthogonal matrix), as in the
    authors' ``ITQ.m``.

    Parameters
    ----------
    n_iter : number of (B, R) updates, 50 as in the paper

    After ``fit``: ``projection_ = W_pca @ R`` and ``quantization_loss_``, the
    ``n_iter + 1`` values of ``||sgn(V R) - V R||_F^2`` for the initial
    rotation and after each update (non-increasing: each half-step minimises
    the loss over one of the two variables).

    >>> X = np.random.default_rng(0).normal(size=(300, 12))
    >>> itq = ITQ(n_iter=10).fit(X, bits=6, seed=0)
    >>> loss = itq.quantization_loss_
    >>> bool(loss[-1] <= loss[0])
    True
    """

    def __init__(self, n_iter=50):
        if isinstance(n_iter, bool) or not isinstance(n_iter, (int, np.integer)) or n_iter < 0:
            raise ValueError(f"ITQ: n_iter must be a non-negative int, got {n_iter!r}")
        self.n_iter = int(n_iter)

    def fit(self, X, bits, seed=0):
        X = _check_fit_args("ITQ", X, bits, max_bits=np.shape(X)[1])
        self.mean_, components, _ = pca(X, bits)
        V = (X - self.mean_) @ components
        rotation = np.linalg.svd(np.random.default_rng(seed).standard_normal((bits, bits)))[0]
        losses = []
        for _ in range(self.n_iter):
            Z = V @ rotation
            B = np.where(Z >= 0, 1.0, -1.0)
            losses.append(float(np.sum((B - Z) ** 2)))
            U_B, _, U_A_T = np.linalg.svd(B.T @ V)
            rotation = U_A_T.T @ U_B.T
        Z = V @ rotation
        losses.append(float(np.sum((np.where(Z >= 0, 1.0, -1.0) - Z) ** 2)))
        self.rotation_ = rotation
        self.projection_ = components @ rotation
        self.quantization_loss_ = np.array(losses)
        return self


class SpectralHashing(_Baseline):
    """Spectral Hashing (Weiss, Torralba & Fergus 2008), as ``trainSH.m``.

    ``fit``: PCA to ``npca = min(bits, D)`` directions; a uniform
    distribution on ``[min - eps, max + eps]`` of each projected direction
    (range ``R_j``); the analytical eigenfunctions of the 1-D Laplacian on
    those boxes, ``cos(k pi (x_j - min_j) / R_j)`` with eigenvalue
    ``(k pi / R_j)^2``, enumerated for ``k = 1 .. ceil((bits + 1) R_j / max R)``
    in every direction; the ``bits`` with the smallest eigenvalues are kept
    (a stable sort over the enumeration order, after dropping the constant
    mode, as MATLAB's ``sort``).  Like the reference code, only
    one-dimensional eigenfunctions are enumerated, so each bit thresholds
    one sinusoid of one principal direction.

    ``encode``: bit i is the sign of ``sin(omega_i (x_{d_i} - min_{d_i}) + pi / 2)``
    (``compressSH.m``); deterministic, ``seed`` is unused.

    After ``fit``: ``mean_``, ``components_`` ``(D, npca)``, ``mn_``,
    ``mx_`` ``(npca,)``, ``modes_`` ``(bits, npca)`` (the mode numbers, one
    non-zero a row), ``dims_`` and ``omegas_`` ``(bits,)`` (the direction
    and angular frequency of each bit).

    >>> X = np.random.default_rng(0).normal(size=(100, 8))
    >>> SpectralHashing().fit(X, bits=12).encode(X).shape
    (100, 12)
    """

    def fit(self, X, bits, seed=0):
        X = _check_fit_args("SpectralHashing", X, bits)
        npca = min(bits, X.shape[1])
        self.mean_, self.components_, _ = pca(X, npca)
        projected = (X - self.mean_) @ self.components_
        eps = np.finfo(np.float64).eps
        self.mn_ = projected.min(axis=0) - eps
        self.mx_ = projected.max(axis=0) + eps
        ranges = self.mx_ - self.mn_
        max_mode = np.ceil((bits + 1) * ranges / ranges.max()).astype(int)
        # Enumeration order of trainSH.m: the constant mode, then modes 1..max_mode-1
        # of direction 0, of direction 1, ...; the stable sort keeps that order on ties.
        dims = np.concatenate([[0]] + [np.full(m - 1, j) for j, m in enumerate(max_mode)])
        ks = np.concatenate([[0]] + [np.arange(1, m) for m in max_mode])
        eigenvalues = (ks * np.pi / ranges[dims]) ** 2
        chosen = np.argsort(eigenvalues, kind="stable")[1:bits + 1]
        self.dims_ = dims[chosen]
        self.omegas_ = ks[chosen] * np.pi / ranges[self.dims_]
        self.modes_ = np.zeros((bits, npca), dtype=int)
        self.modes_[np.arange(bits), self.dims_] = ks[chosen]
        return self

    def encode(self, X):
        """Codes ``(n, bits)`` in {-1, +1} (``int8``)."""
        X = self._check_encode(X)
        shifted = (X - self.mean_) @ self.components_ - self.mn_
        return sign_codes(np.sin(shifted[:, self.dims_] * self.omegas_ + np.pi / 2))


BASELINES = {"lsh": LSH, "pcah": PCAH, "itq": ITQ, "sh": SpectralHashing}


def fit_baseline(name, X, bits, seed=0):
    """Fit the baseline called ``name`` (a key of :data:`BASELINES`) on ``X``.

    >>> X = np.random.default_rng(0).normal(size=(100, 8))
    >>> fit_baseline("pcah", X, bits=4).encode(X).shape
    (100, 4)
    """
    if name not in BASELINES:
        raise ValueError(f"unknown hashing baseline {name!r}; choose one of "
                         f"{sorted(BASELINES)}")
    return BASELINES[name]().fit(X, bits, seed)
