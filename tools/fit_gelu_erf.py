#!/usr/bin/env python3
"""Fit the polynomial behind v_gelu_erf (libsbert/kernels/vecmath.h) and print its coefficients.

GELU(x) = 0.5 x erfc(-x / sqrt 2), computed through e = erfc(z) / 2 with z = |x| / sqrt 2 and
erfc(z) = exp(-z^2) t S(t), t = 1 / (1 + z / 2). This fits S(t) / 2 on t in [T_MIN, 1]
(|x| <= 14, where the kernel caps |x|) for the smallest relative error: weighted least squares
on Chebyshev nodes, reweighted toward minimax (Lawson's iteration), in double precision against
libm's erfc. It prints the C lines and the error of the fit, exactly and evaluated in float32.

Usage: /usr/bin/python3 tools/fit_gelu_erf.py [degree]      (numpy; default degree 8)
"""
import math
import sys

import numpy as np

X_CAP = 14.0
T_MIN = 1.0 / (1.0 + X_CAP / math.sqrt(2.0) / 2.0)  # 0.168


def s_exact(t):
    z = (1.0 / t - 1.0) * 2.0
    return np.array([math.exp(v * v) * math.erfc(v) for v in z]) / t


def fit(degree, nodes=4000, rounds=60):
    k = np.arange(nodes)
    t = (T_MIN + 1) / 2 + (1 - T_MIN) / 2 * np.cos(np.pi * (k + 0.5) / nodes)
    target = s_exact(t) / 2
    vander = np.vander(t, degree + 1)  # highest power first, as Horner's rule takes them
    weight = 1 / target
    for _ in range(rounds):
        coef, *_ = np.linalg.lstsq(vander * weight[:, None], target * weight, rcond=None)
        rel = np.abs(vander @ coef - target) / target
        weight = weight * np.sqrt(rel / rel.max() + 1e-3)
    return coef


def horner_f32(coef, t):
    c = coef.astype(np.float32)
    s = np.full_like(t, c[0])
    for v in c[1:]:
        s = (s * t + v).astype(np.float32)
    return s


def main():
    degree = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    coef = fit(degree)
    t = np.linspace(T_MIN, 1.0, 200001)
    exact = s_exact(t) / 2
    rel_fit = np.max(np.abs(np.polyval(coef, t) - exact) / exact)
    t32 = t.astype(np.float32)
    exact32 = s_exact(t32.astype(np.float64)) / 2
    rel_f32 = np.max(np.abs(horner_f32(coef, t32) - exact32) / exact32)
    print(f"/* degree {degree} on t in [{T_MIN:.4f}, 1]: {rel_fit:.2e} relative "
          f"({rel_f32:.2e} evaluated in float32) */")
    print(f"    VF s = v_set1({coef[0]:.9e}f); /* S(t) / 2 */")
    for v in coef[1:]:
        print(f"    s = v_fmadd(s, t, v_set1({v:.9e}f));")


if __name__ == "__main__":
    main()
