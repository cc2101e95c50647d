"""Data types and operand descriptors, named as in the WebNN spec."""

from __future__ import annotations

import enum
from collections.abc import Iterable
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


class OperandDescriptor:
    """Data type and static shape of an operand (``MLOperandDescriptor``); immutable.

    >>> d = OperandDescriptor("float32", [1, np.int64(3)])
    >>> d, str(d), d == OperandDescriptor(DataType.FLOAT32, (1, 3))
    (OperandDescriptor(data_type=<DataType.FLOAT32: 'float32'>, shape=(1, 3)), 'float32[1,3]', True)
    """

    # NOTE: written out rather than ``@dataclass(frozen=True, slots=True)``, with the same
    # behaviour (positional/keyword init, value equality and hash, repr, immutability: an
    # AttributeError, as dataclasses' FrozenInstanceError is one, without importing dataclasses).
    # Every builder call makes one, and the dataclass cost 0.8 ms to create at import (its
    # generated methods are compiled then) plus a __post_init__ that re-set both fields on
    # every instance; building W3 (MobileNetV2) makes about 220 of them.
    __slots__ = ("data_type", "shape")
    __match_args__ = ("data_type", "shape")

    data_type: DataType
    shape: Shape

    def __init__(self, data_type: DataType | str, shape: Iterable[Any]) -> None:
        if type(data_type) is not DataType:
            data_type = DataType.parse(data_type)
        if type(shape) is not tuple or not all(type(d) is int for d in shape):
            shape = tuple(int(d) for d in shape)
        _set(self, "data_type", data_type)
        _set(self, "shape", shape)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"OperandDescriptor is immutable: cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"OperandDescriptor is immutable: cannot delete field {name!r}")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, OperandDescriptor)
        return self.data_type == other.data_type and self.shape == other.shape

    def __hash__(self) -> int:
        return hash((self.data_type, self.shape))

    def __repr__(self) -> str:
        return f"OperandDescriptor(data_type={self.data_type!r}, shape={self.shape!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (OperandDescriptor, (self.data_type, self.shape))

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
        # _value_: the member's plain attribute; ``.value`` goes through enum's descriptor,
        # and the canonical printer formats every value's descriptor for each cache key
        return f"{self.data_type._value_}[{','.join(map(str, self.shape))}]"


_set = object.__setattr__
