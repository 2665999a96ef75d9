"""Knowing when not to answer, in numpy: out-of-distribution scores, temperature scaling, ECE, split conformal sets.

Everything works on L2-normalised embeddings (image [N, D], class text embeddings [C, D]) and the model's logit
scale, so the same code serves the demo model and a released UniMed-CLIP export. Conventions:
- an out-of-distribution score is larger for inputs further from what the model was calibrated on;
- probabilities are softmax(logit_scale * cos / T) with T the fitted temperature;
- the conformal score of a labelled image is 1 - p(true label); the set at coverage 1 - a is every label whose
  score is at most the ceil((n + 1)(1 - a))-th smallest calibration score (split conformal, "LAC").
"""

import math

import numpy as np


def normalize(x):
    x = np.asarray(x, dtype=np.float64)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


# ----------------------------------------------------------------------------------------------- detectors
def mcm_score(img, cls, logit_scale):
    """Maximum concept matching (text side): minus the top softmax probability over the prompt set's labels."""
    return -softmax(logit_scale * img @ cls.T).max(axis=1)


def max_cosine_score(img, cls):
    """Text side, scale-free: minus the best cosine to any label."""
    return -(img @ cls.T).max(axis=1)


def negative_label_score(img, cls, neg, logit_scale):
    """Text side with negative labels: the softmax mass that goes to the negative labels."""
    p = softmax(logit_scale * img @ np.concatenate([cls, neg]).T)
    return p[:, len(cls):].sum(axis=1)


def fit_mahalanobis(emb, labels, shrinkage=1e-3):
    """Class means and the shared (within-class) precision matrix of normalised embeddings."""
    names = sorted(set(labels))
    labels = np.asarray(labels)
    means = np.stack([emb[labels == c].mean(0) for c in names])
    centred = emb - means[np.searchsorted(names, labels)]
    cov = centred.T @ centred / len(emb)
    cov += shrinkage * np.trace(cov) / cov.shape[0] * np.eye(cov.shape[0])
    return {"classes": names, "means": means, "precision": np.linalg.inv(cov)}


def mahalanobis_score(img, stats):
    """Squared Mahalanobis distance to the nearest class mean (shared covariance)."""
    d = img[:, None, :] - stats["means"][None, :, :]
    return np.einsum("ncd,de,nce->nc", d, stats["precision"], d).min(axis=1)


def knn_score(img, bank, k=10, exclude_self=False):
    """Cosine distance to the k-th nearest reference embedding (exclude_self: img is the bank, skip the match)."""
    out = np.empty(len(img))
    for i in range(0, len(img), 512):
        sim = img[i:i + 512] @ bank.T
        kk = k + 1 if exclude_self else k
        out[i:i + 512] = 1.0 - np.sort(sim, axis=1)[:, -kk]
    return out


def threshold_for(id_scores, abstain_rate):
    """The score above which an input is abstained, so that at most abstain_rate of exchangeable in-distribution
    inputs are: the ceil((n + 1)(1 - rate))-th smallest calibration score (conformal quantile)."""
    s = np.sort(np.asarray(id_scores, dtype=np.float64))
    k = math.ceil((len(s) + 1) * (1 - abstain_rate))
    if k > len(s):
        raise ValueError(f"abstention rate {abstain_rate} needs more than {len(s)} calibration images")
    return float(s[k - 1])


def auroc(id_scores, ood_scores):
    """P(ood score > id score) + 0.5 P(tie): the Mann-Whitney statistic, OOD as the positive class."""
    a = np.concatenate([np.asarray(id_scores, float), np.asarray(ood_scores, float)])
    order = a.argsort(kind="mergesort")
    ranks = np.empty(len(a))
    sa = a[order]
    i = 0
    while i < len(a):  # average ranks of ties
        j = i
        while j + 1 < len(a) and sa[j + 1] == sa[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    n0, n1 = len(id_scores), len(ood_scores)
    return float((ranks[n0:].sum() - n1 * (n1 + 1) / 2) / (n0 * n1))


def fpr_at_tpr(id_scores, ood_scores, tpr=0.95):
    """Share of in-distribution inputs abstained when the threshold abstains tpr of the out-of-distribution ones."""
    t = np.quantile(np.asarray(ood_scores, float), 1 - tpr)
    return float((np.asarray(id_scores) >= t).mean())


# ----------------------------------------------------------------------------------------------- calibration
def nll(cos, y, scale):
    p = softmax(scale * cos)
    return float(-np.log(np.clip(p[np.arange(len(y)), y], 1e-300, None)).mean())


def fit_temperature(cos, y, logit_scale, lo=1e-2, hi=1e3, iters=100):
    """T minimising the NLL of softmax(logit_scale * cos / T) (golden-section search on log(scale / T))."""
    g = (math.sqrt(5) - 1) / 2
    a, b = math.log(lo), math.log(hi)
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = nll(cos, y, math.exp(c)), nll(cos, y, math.exp(d))
    for _ in range(iters):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = nll(cos, y, math.exp(c))
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = nll(cos, y, math.exp(d))
    return logit_scale / math.exp((a + b) / 2)


def ece(probs, y, bins=15):
    """Expected calibration error of the top-1 confidence, equal-width bins over (0, 1]."""
    conf, pred = probs.max(axis=1), probs.argmax(axis=1)
    correct = (pred == np.asarray(y)).astype(float)
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            total += m.sum() * abs(correct[m].mean() - conf[m].mean())
    return float(total / len(y))


def reliability(probs, y, bins=15):
    """Per bin: (lower edge, count, mean confidence, accuracy) for a reliability diagram."""
    conf, pred = probs.max(axis=1), probs.argmax(axis=1)
    correct = pred == np.asarray(y)
    edges = np.linspace(0, 1, bins + 1)
    out = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (conf > lo) & (conf <= hi)
        out.append((float(lo), int(m.sum()), float(conf[m].mean()) if m.any() else None,
                    float(correct[m].mean()) if m.any() else None))
    return out


def conformal_scores(probs, y):
    """Sorted nonconformity scores 1 - p(true label) of the calibration images."""
    return np.sort(1.0 - probs[np.arange(len(y)), np.asarray(y)])


def conformal_quantile(sorted_scores, coverage):
    n = len(sorted_scores)
    k = math.ceil((n + 1) * coverage) if 0 < coverage < 1 else n + 1  # NaN and out-of-range fall through
    if k > n:
        raise ValueError(f"coverage {coverage} is not in (0, {n}/{n + 1}] for {n} calibration images")
    return float(sorted_scores[k - 1])


def prediction_sets(probs, sorted_scores, coverage):
    """Boolean [N, C]: label c is in image i's set iff 1 - p_ic <= q (the set may be empty: no label plausible)."""
    return (1.0 - probs) <= conformal_quantile(sorted_scores, coverage)
