"""training/trust.py against hand-computed cases."""

import math

import numpy as np
import pytest

from training import trust as T


def test_conformal_quantile_and_sets():
    scores = np.sort(np.array([0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]))
    # n = 10, coverage 0.8: ceil(11 * 0.8) = 9 -> the 9th smallest score
    assert T.conformal_quantile(scores, 0.8) == 0.8
    # coverage 0.9: ceil(11 * 0.9) = 10 -> the largest; above n/(n+1) = 0.909 there is no finite quantile
    assert T.conformal_quantile(scores, 0.9) == 0.9
    with pytest.raises(ValueError):
        T.conformal_quantile(scores, 0.95)
    for bad in (0.0, 1.0, float("nan")):
        with pytest.raises(ValueError):
            T.conformal_quantile(scores, bad)
    probs = np.array([[0.7, 0.2, 0.1], [0.4, 0.35, 0.25], [0.1, 0.1, 0.8]])
    # q = 0.7: label in the set iff p >= 0.3
    assert T.prediction_sets(probs, scores, 0.7).tolist() == [[True, False, False], [True, True, False],
                                                              [False, False, True]]


def test_conformal_scores_are_sorted_one_minus_true_probability():
    probs = np.array([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4]])
    assert np.allclose(T.conformal_scores(probs, [0, 0, 1]), [0.1, 0.6, 0.7])


def test_conformal_coverage_on_exchangeable_data():
    rng = np.random.RandomState(0)
    logits = rng.normal(size=(4000, 5)) * 2
    probs = T.softmax(logits)
    y = np.array([rng.choice(5, p=p) for p in probs])  # labels drawn from the model: calibrated by construction
    s = T.conformal_scores(probs[:2000], y[:2000])
    cover = T.prediction_sets(probs[2000:], s, 0.9)[np.arange(2000), y[2000:]].mean()
    assert 0.88 <= cover <= 0.92


def test_ece_hand_computed():
    # two bins used: conf 0.9 (2 images, 1 right) and conf 0.6 (2 images, both right)
    probs = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.4, 0.6]])
    y = [0, 1, 0, 1]
    assert math.isclose(T.ece(probs, y), (2 * abs(0.5 - 0.9) + 2 * abs(1.0 - 0.6)) / 4)
    assert T.ece(np.array([[1.0, 0.0]]), [0]) == 0.0


def test_temperature_recovers_the_generating_scale():
    rng = np.random.RandomState(1)
    cos = rng.uniform(-1, 1, size=(5000, 4))
    true_scale = 6.0
    y = np.array([rng.choice(4, p=p) for p in T.softmax(true_scale * cos)])
    t = T.fit_temperature(cos, y, logit_scale=12.0)  # the model says 12: the data say 6, so T = 2
    assert abs(t - 2.0) < 0.15
    assert T.nll(cos, y, 12.0 / t) < T.nll(cos, y, 12.0)


def test_threshold_is_the_conformal_quantile():
    s = np.arange(1, 101, dtype=float)  # 100 scores: ceil(101 * 0.95) = 96
    assert T.threshold_for(s, 0.05) == 96.0
    with pytest.raises(ValueError):
        T.threshold_for(s[:10], 0.05)  # ceil(11 * 0.95) = 11 > 10


def test_auroc_hand_computed():
    assert T.auroc([0, 1], [2, 3]) == 1.0
    assert T.auroc([2, 3], [0, 1]) == 0.0
    assert T.auroc([1, 1], [1, 1]) == 0.5
    assert T.auroc([0, 2], [1, 3]) == 0.75  # pairs (0,1) (0,3) (2,3) right, (2,1) wrong


def test_mahalanobis_hand_computed():
    emb = np.array([[1.0, 0.0], [3.0, 0.0], [0.0, 1.0], [0.0, 3.0]])
    stats = T.fit_mahalanobis(emb, ["a", "a", "b", "b"], shrinkage=0.0)
    assert np.allclose(stats["means"], [[2, 0], [0, 2]])
    # within-class deviations: (+-1, 0) and (0, +-1): covariance diag(0.5, 0.5), precision diag(2, 2)
    assert np.allclose(stats["precision"], [[2, 0], [0, 2]])
    assert np.allclose(T.mahalanobis_score(np.array([[2.0, 1.0], [0.0, 0.0]]), stats), [2.0, 8.0])


def test_knn_and_text_scores():
    bank = T.normalize(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
    x = T.normalize(np.array([[1.0, 0.0]]))
    assert np.allclose(T.knn_score(x, bank, k=1), [0.0])
    assert np.allclose(T.knn_score(x, bank, k=2), [1 - 1 / math.sqrt(2)])
    assert np.allclose(T.knn_score(bank[:1], bank, k=1, exclude_self=True), [1 - 1 / math.sqrt(2)])
    cls = np.eye(2)
    assert np.allclose(T.max_cosine_score(x, cls), [-1.0])
    assert np.allclose(T.mcm_score(x, cls, 1.0), [-math.e / (math.e + 1)])
    assert np.allclose(T.negative_label_score(x, cls[:1], cls[1:], 1.0), [1 / (math.e + 1)])
