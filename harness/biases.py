"""How a layout that adds two biases (PyTorch's bias_ih and bias_hh, ONNX's Wb and Rb) is given two distinct
ones that add back to the injected bias exactly."""

from __future__ import annotations

import numpy as np

BIAS_SHARE = (0.55, 0.85)
"""The range of the recurrent bias's share of each bias element in the harness's runs of two-bias layouts."""


def split_bias(bias, share=None) -> tuple:
    """``(input bias, recurrent bias)`` that add back to ``bias`` exactly, in its dtype.

    ``recurrent = bias * share`` rounded, with ``share`` in BIAS_SHARE, lies within [bias / 2, 2 bias], so
    ``bias - recurrent`` is exact (Sterbenz's lemma) and so is adding the two back. Each then differs from
    the bias by at least 15 %: a converter that drops either one is off by that much. ``share=None``: all of
    the bias in the input one, zeros in the recurrent one.
    """
    bias = np.asarray(bias)
    if share is None:
        return bias.copy(), np.zeros_like(bias)
    recurrent = (bias * np.asarray(share, np.float64)).astype(bias.dtype)
    return bias - recurrent, recurrent
