"""tf.clip_by_norm, the chapter's fix for explosion, as a library: 'rescale to norm at most n,
direction kept'. These check TensorFlow's function itself (hence the names); the project's use
of it is checked in tests/test_gradients.py (the clipping demo) and test_train.py (Adam's
global_clipnorm). They record the worst case seen for claim C3."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

vectors = hnp.arrays(
    np.float32,
    hnp.array_shapes(min_dims=1, max_dims=3, max_side=6),
    elements=st.floats(-1e4, 1e4, allow_nan=False, width=32),
)
clip_values = st.floats(1e-3, 1e3, allow_nan=False)


@settings(max_examples=200)
@given(x=vectors, n=clip_values)
def test_library_clip_by_norm_never_leaves_a_norm_above_the_bound(x, n, claim):
    clipped = tf.clip_by_norm(x, n).numpy().astype(np.float64)
    ratio = np.linalg.norm(clipped) / n
    claim("C3").measured(max_norm_over_bound=ratio)
    # float32 rescaling can overshoot by a few ulps: measured max ratio 1 + 1.2e-7.
    assert ratio <= 1 + 1e-6


@settings(max_examples=200)
@given(x=vectors, n=clip_values)
def test_library_clip_by_norm_keeps_the_direction(x, n, claim):
    assume(np.linalg.norm(x.astype(np.float64)) > 1e-3)
    clipped = tf.clip_by_norm(x, n).numpy().astype(np.float64)
    x64 = x.astype(np.float64).ravel()
    cosine = clipped.ravel() @ x64 / (np.linalg.norm(clipped) * np.linalg.norm(x64))
    claim("C3").measured(min_cosine=cosine)
    assert cosine > 1 - 1e-6  # float32 scaling: measured 1 - cosine <= 1.2e-7


@settings(max_examples=200)
@given(vectors, st.floats(1.002, 1e3))
def test_library_clip_by_norm_passes_values_within_the_bound_to_one_ulp(x, headroom):
    """Not bit for bit: TF computes x * n / max(||x||, n), and x * 3 / 3 can round. Hypothesis
    found x = [0.9, 0], n = 3 -> 0.90000004 (1 ulp), so the claim holds to 1 ulp, not exactly.
    TF's CPU kernels also flush subnormals to zero: when x * n falls below float32's smallest
    normal (1.18e-38) the element becomes 0. Hypothesis found x = [2.05e-37], n = 0.03125 -> 0.
    Subnormal inputs are read as zero too (x = [2, 1.48e-40], n = 8,000 -> [2, 0]: found when
    the bound was drawn above the norm, which reaches such n). Hence atol = tiny / min(n, 1):
    exactly the inputs that are subnormal or whose product with n is."""
    # The bound drawn above the norm (it was drawn alone and most draws rejected: 3x the time).
    n = max(float(np.linalg.norm(x.astype(np.float64))) * headroom, 1e-3)
    out = tf.clip_by_norm(x, n).numpy()
    atol = np.finfo(np.float32).tiny / min(n, 1.0)
    np.testing.assert_allclose(out, x, rtol=2.4e-7, atol=atol)  # 2 ulp relative


@settings(max_examples=100)
@given(vectors, clip_values)
def test_library_clip_by_norm_never_increases_the_norm(x, n):
    before = np.linalg.norm(x.astype(np.float64))
    after = np.linalg.norm(tf.clip_by_norm(x, n).numpy().astype(np.float64))
    assert after <= before * (1 + 1e-6)
