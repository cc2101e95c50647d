"""The WebNN -> numpy storage table is one fact, read by the compiler and the runtime alike."""

from __future__ import annotations

import numpy as np

from webnnc.cache.dtypes import NUMPY_STORAGE, WIDENED
from webnnc.compiler.ir import DataType
from webnnc.runtime.graph import NUMPY_DTYPES


def test_every_webnn_data_type_has_one_storage_dtype() -> None:
    assert [t.value for t in DataType] == list(NUMPY_STORAGE)
    assert WIDENED == {"int4", "uint4"}
    for name, storage in NUMPY_STORAGE.items():
        assert DataType(name).numpy_dtype == np.dtype(storage) == np.dtype(NUMPY_DTYPES[name])
