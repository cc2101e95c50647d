"""Data types and operand descriptors, named as in the WebNN spec."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import numpy as np

from webnnc.cache.dtypes import NUMPY_STORAGE, WIDENED

__all__ = ["DataType", "OperandDescriptor", "Shape"]

Shape = tuple[int, ...]


class DataType(enum.StrEnum):
    """A WebNN operand data type (``MLOperandDataType``)."""

    FLOAT32 = "float32"
    FLOAT16 = "float16"
    INT32 = "int32"
    UINT32 = "uint32"
    INT64 = "int64"
    UINT64 = "uint64"
    INT8 = "int8"
    UINT8 = "uint8"
    INT4 = "int4"
    UINT4 = "uint4"

    def __str__(self) -> str:
        return self.value

    @property
    def numpy_dtype(self) -> np.dtype[Any]:
        """The numpy dtype that holds values of this type (int4/uint4 widen to int8/uint8)."""
        return np.dtype(_NUMPY[self])

    @property
    def is_float(self) -> bool:
        return self in (DataType.FLOAT32, DataType.FLOAT16)

    @property
    def is_integer(self) -> bool:
        return not self.is_float

    @property
    def is_signed(self) -> bool:
        return self not in (DataType.UINT32, DataType.UINT64, DataType.UINT8, DataType.UINT4)

    @property
    def itemsize(self) -> int:
        """Bytes per element as stored in memory (int4/uint4 count as one byte)."""
        return self.numpy_dtype.itemsize

    @classmethod
    def parse(cls, value: object, *, what: str = "data type") -> DataType:
        """Accept a DataType, its WebNN name, or a numpy dtype; raise TypeError otherwise.

        >>> DataType.parse("float16")
        <DataType.FLOAT16: 'float16'>
        >>> DataType.parse(np.dtype("int32"))
        <DataType.INT32: 'int32'>
        """
        if isinstance(value, DataType):
            return value
        if isinstance(value, str):
            try:
                return cls(value)
            except ValueError:
                pass
        else:
            try:
                dt = np.dtype(value)  # type: ignore[call-overload]
            except TypeError:
                dt = None
            if dt is not None and dt in _FROM_NUMPY:
                return _FROM_NUMPY[dt]
        names = ", ".join(t.value for t in cls)
        raise TypeError(f"{what}: expected one of {names}; found {value!r}")

    @classmethod
    def from_numpy(cls, dtype: np.dtype[Any]) -> DataType:
        return cls.parse(dtype)


_NUMPY: dict[DataType, str] = {DataType(k): v for k, v in NUMPY_STORAGE.items()}
_FROM_NUMPY: dict[np.dtype[Any], DataType] = {np.dtype(v): k for k, v in _NUMPY.items() if k not in WIDENED}


@dataclass(frozen=True, slots=True)
class OperandDescriptor:
    """Data type and static shape of an operand (``MLOperandDescriptor``)."""

    data_type: DataType
    shape: Shape

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_type", DataType.parse(self.data_type))
        object.__setattr__(self, "shape", tuple(int(d) for d in self.shape))

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        """Number of elements."""
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def nbytes(self) -> int:
        return self.size * self.data_type.itemsize

    def __str__(self) -> str:
        return f"{self.data_type.value}[{','.join(str(d) for d in self.shape)}]"
