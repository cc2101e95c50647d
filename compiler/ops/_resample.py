"""Where ONNX ``Resize`` samples: per-axis source positions for every coordinate mode.

WebNN's ``resample2d`` places samples like ONNX's ``half_pixel`` coordinates (and rounds
nearest-neighbor ties down). webnnc's ``resample2d`` also takes ONNX's other sample
placements as an extension beyond WebNN (``coordinateTransformationMode``,
``nearestMode``), so that an imported ``Resize`` stays one node and reaches ONNX Runtime's
own Resize kernel. Targets without those placements (CoreML's MIL) resample axis by axis
from the tables here; the ONNX importer uses them for resizes ``resample2d`` cannot hold
(other ranks, resized batch/channels).

Nearest and (multi)linear resizing are separable: each resized axis is

- **nearest**: a gather of the source index of every output position;
- **linear**: a gather of the left and of the right neighbour (clamped at the edges, as
  ONNX Runtime does) and ``left + (right - left) * weight``.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "COORDINATE_MODES",
    "DEFAULT_COORDINATE_MODE",
    "DEFAULT_NEAREST_MODE",
    "NEAREST_MODES",
    "linear_taps",
    "nearest_index",
    "source_coords",
]

DEFAULT_COORDINATE_MODE = "half_pixel"
DEFAULT_NEAREST_MODE = "round_prefer_floor"
COORDINATE_MODES = (
    "half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn",
    "half_pixel_symmetric",
)
"""ONNX ``coordinate_transformation_mode`` values (all but ``tf_crop_and_resize``, which needs a roi)."""
NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")
"""ONNX ``nearest_mode`` values."""


def source_coords(mode: str, out_len: int, in_len: int, scale: float) -> np.ndarray:
    """``x_original`` of every output position on one axis (ONNX Resize formulas, float64).

    ``scale`` is the given scale, or ``out_len / in_len`` when sizes were given.

    >>> source_coords("align_corners", 3, 5, 0.6).tolist()
    [0.0, 2.0, 4.0]
    """
    x = np.arange(out_len, dtype=np.float64)
    if mode == "half_pixel":
        return (x + 0.5) / scale - 0.5
    if mode == "pytorch_half_pixel":
        return (x + 0.5) / scale - 0.5 if out_len > 1 else np.zeros_like(x)
    if mode == "align_corners":
        return x * (in_len - 1) / (out_len - 1) if out_len > 1 else np.zeros_like(x)
    if mode == "asymmetric":
        return x / scale
    if mode == "tf_half_pixel_for_nn":
        return (x + 0.5) / scale
    if mode == "half_pixel_symmetric":
        adjustment = out_len / (scale * in_len)
        offset = in_len / 2 * (1 - adjustment)
        return offset + (x + 0.5) / scale - 0.5
    raise ValueError(f"coordinate_transformation_mode={mode!r} is not one of {COORDINATE_MODES}")


def nearest_index(coords: np.ndarray, rounding: str, in_len: int) -> np.ndarray:
    """The source index (int32, clamped) nearest each coordinate under ONNX ``nearest_mode``.

    >>> nearest_index(np.array([0.5, 1.5, 7.0]), "round_prefer_ceil", 4).tolist()
    [1, 2, 3]
    """
    frac = coords - np.floor(coords)
    if rounding == "round_prefer_floor":
        idx = np.where(frac == 0.5, np.floor(coords), np.round(coords))
    elif rounding == "round_prefer_ceil":
        idx = np.where(frac == 0.5, np.ceil(coords), np.round(coords))
    elif rounding == "floor":
        idx = np.floor(coords)
    elif rounding == "ceil":
        idx = np.ceil(coords)
    else:
        raise ValueError(f"nearest_mode={rounding!r} is not one of {NEAREST_MODES}")
    return np.clip(idx, 0, in_len - 1).astype(np.int32)


def linear_taps(coords: np.ndarray, in_len: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(left index, right index, right weight) of every coordinate; indices clamped like ONNX Runtime.

    >>> [t.tolist() for t in linear_taps(np.array([-0.25, 0.5, 1.0]), 2)]
    [[0, 0, 1], [0, 1, 1], [0.75, 0.5, 0.0]]
    """
    left = np.floor(coords)
    lo = np.clip(left, 0, in_len - 1).astype(np.int32)
    hi = np.clip(left + 1, 0, in_len - 1).astype(np.int32)
    return lo, hi, coords - left
