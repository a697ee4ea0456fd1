"""NumPy float64 references of the distillation losses, written from their
papers and shared by the test files that check a loss in another setting
(sequences, dense outputs, ensembles) than its own test file.

Hinton et al. (2015) and its divergences (MiniLLM, GKD), DKD (Zhao et al.,
2022, Eq. 1-5), DIST (Huang et al., 2022), RKD (Park et al., 2019) and MLD
(Jin et al., 2023).
"""

import numpy as np


def softmax(z):
    z = np.asarray(z, "float64")
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def kl(p, q):
    return (p * (np.log(p) - np.log(q))).sum(-1)


def numpy_dkd(t_logits, s_logits, labels, alpha, beta, temperature):
    """T^2 (alpha KL(b_T||b_S) + beta KL(p^_T||p^_S)), looped per sample."""
    out = []
    for zt, zs, c in zip(t_logits, s_logits, labels):
        pt, ps = softmax(zt / temperature), softmax(zs / temperature)
        bt = np.array([pt[c], 1 - pt[c]])
        bs = np.array([ps[c], 1 - ps[c]])
        others = np.arange(len(pt)) != c
        ht, hs = pt[others] / (1 - pt[c]), ps[others] / (1 - ps[c])
        out.append(temperature**2 * (alpha * kl(bt, bs) + beta * kl(ht, hs)))
    return np.array(out)


def numpy_dist(t_logits, s_logits, beta, gamma, temperature):
    pt, ps = softmax(t_logits / temperature), softmax(s_logits / temperature)
    inter = np.mean([np.corrcoef(ps[i], pt[i])[0, 1] for i in range(len(pt))])
    intra = np.mean([np.corrcoef(ps[:, c], pt[:, c])[0, 1] for c in range(pt.shape[1])])
    return temperature**2 * (beta * (1 - inter) + gamma * (1 - intra))


def smooth_l1(a, b):
    d = np.abs(a - b)
    return np.where(d < 1, 0.5 * d * d, d - 0.5).mean()


def numpy_rkd(t, s, wd=25.0, wa=50.0):
    def distances(e):
        n = len(e)
        d = np.array([[np.linalg.norm(e[i] - e[j]) for j in range(n)] for i in range(n)])
        return d / d[~np.eye(n, dtype=bool)].mean()

    def angles(e):
        n = len(e)
        out = np.zeros((n, n, n))
        for i in range(n):
            for j in range(n):
                for k in range(n):
                    u, v = e[j] - e[i], e[k] - e[i]
                    if j != i and k != i:
                        out[i, j, k] = u @ v / (np.linalg.norm(u) * np.linalg.norm(v))
        return out

    t, s = t.reshape(len(t), -1), s.reshape(len(s), -1)
    return wd * smooth_l1(distances(s), distances(t)) + wa * smooth_l1(angles(s), angles(t))


def np_log_softmax(z):
    z = np.asarray(z, "float64")
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def np_kl(log_p, log_q):
    """KL(p || q) over the last axis, from log-probabilities."""
    return (np.exp(log_p) * (log_p - log_q)).sum(-1)


def np_divergence(teacher, student, temperature, divergence="forward", beta=0.5):
    """T^2 * D(softmax(t / T), softmax(s / T)) in float64."""
    log_pt = np_log_softmax(np.asarray(teacher, "float64") / temperature)
    log_ps = np_log_softmax(np.asarray(student, "float64") / temperature)
    if divergence == "forward" or (divergence == "jsd" and beta == 0):
        value = np_kl(log_pt, log_ps)
    elif divergence == "reverse" or (divergence == "jsd" and beta == 1):
        value = np_kl(log_ps, log_pt)
    else:
        # Eq. (1) of GKD: m = beta p_t + (1 - beta) p_s.
        log_m = np.logaddexp(np.log(beta) + log_pt, np.log1p(-beta) + log_ps)
        value = beta * np_kl(log_pt, log_m) + (1 - beta) * np_kl(log_ps, log_m)
    return temperature**2 * value


def numpy_mld(t_logits, s_logits, temperatures, weights=(1.0, 1.0, 1.0), standardize=False):
    """Multi-level logit distillation (Jin et al., 2023; mdistiller's MLKD),
    summed over the temperatures: T^2 mean_i KL(p_t[i] || p_s[i]), plus
    sum_ij (G_t - G_s)^2 / B with G = P P^T (samples), plus
    sum_ab (M_t - M_s)^2 / C with M = P^T P (classes); looped, float64.
    `standardize` z-scores the logits of the instance term (Sun et al.)."""
    t_logits = np.asarray(t_logits, "float64")
    s_logits = np.asarray(s_logits, "float64")
    # Sun et al.'s MLKD standardizes the instance term's logits only.
    t_std, s_std = (
        (z - z.mean(-1, keepdims=True)) / (z.std(-1, ddof=1, keepdims=True) + 1e-7)
        if standardize
        else z
        for z in (t_logits, s_logits)
    )
    batch, classes = s_logits.shape
    total = 0.0
    for temperature in temperatures:
        qt, qs = softmax(t_std / temperature), softmax(s_std / temperature)
        instance = temperature**2 * np.mean([kl(qt[i], qs[i]) for i in range(batch)])
        pt, ps = softmax(t_logits / temperature), softmax(s_logits / temperature)
        samples = sum(
            (pt[i] @ pt[j] - ps[i] @ ps[j]) ** 2 for i in range(batch) for j in range(batch)
        )
        per_class = sum(
            (pt[:, a] @ pt[:, b] - ps[:, a] @ ps[:, b]) ** 2
            for a in range(classes)
            for b in range(classes)
        )
        total += weights[0] * instance + weights[1] * samples / batch
        total += weights[2] * per_class / classes
    return total
