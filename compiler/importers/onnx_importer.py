"""Import an ONNX model (opsets 7 to 21) into a WebNN graph through ``MLGraphBuilder``.

Stages, in order:

1. load and check the model (``onnx.checker``; its complaints are logged), read the opset
   (models older than opset 7 are upgraded with ``onnx.version_converter``);
2. pin every graph input to a concrete shape (from the model, or ``input_shapes``) and
   refuse, listing them all, when a dimension is still symbolic;
3. run ONNX's shape inference (``onnx.shape_inference``); a mapped result whose shape
   differs from the inferred one is logged;
4. walk the nodes in order: a node whose inputs are all constants is folded with ONNX's own
   reference evaluator (numpy); ``Shape``/``Size`` of an operand fold from its static shape;
   every other node goes through its converter in the op table;
5. report every unsupported node at once (:class:`UnsupportedOnnxOperatorsError`).

# NOTE: onnx is imported inside the functions that need it (only emitters import it at
# module level), so importing webnnc.compiler stays cheap.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

# Register the converters (their modules fill CONVERTERS on import).
import webnnc.compiler.importers._onnx_ops_elementwise
import webnnc.compiler.importers._onnx_ops_nn
import webnnc.compiler.importers._onnx_ops_recurrent
import webnnc.compiler.importers._onnx_ops_tensor  # noqa: F401
from webnnc.compiler.errors import ValidationError
from webnnc.compiler.frontend import MLGraphBuilder, MLOperand
from webnnc.compiler.importers._fold_bounds import FoldRefused, bounded_fold, fold_limits
from webnnc.compiler.importers._onnx_core import (
    _OPS_WITH_NO_RUNTIME_FORM,
    CONVERTERS,
    ONNX_TO_NUMPY,
    UNSUPPORTED_ONNX_OPS,
    ImportContext,
    OnnxImportError,
    OnnxNode,
    Tensor,
    Unsupported,
    UnsupportedOnnxOperatorsError,
    UnsupportedProblem,
)
from webnnc.compiler.ops import MAX_IMPORT_FOLDED_ELEMENTS

if TYPE_CHECKING:
    import onnx

__all__ = ["MIN_OPSET", "MAX_OPSET", "import_onnx", "parse_input_shapes"]

logger = logging.getLogger(__name__)

MIN_OPSET = 7
MAX_OPSET = 21
# Never folded: their value must not be frozen at import time (random values), or folding
# them loses what the model is (a dequantized constant weight becomes float32: ONNX Runtime
# then runs the float kernels on 4x the bytes instead of its int8 ones; see the lowering in
# compiler/emitters/onnx/quantization.py).
_NON_DETERMINISTIC = frozenset(
    {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli",
     "DequantizeLinear"}
)
_MAX_DIM = 2**31 - 1  # the largest dimension WebNN (and ONNX Runtime's int32 indexing) takes
_WEBNN_INPUT_TYPES = {"float32", "float16", "int32", "uint32", "int64", "uint64", "int8", "uint8"}


def parse_input_shapes(items: Sequence[str] | None) -> dict[str, list[int]]:
    """Parse ``name=1,3,224,224`` strings (the CLI's ``--input-shape``).

    >>> parse_input_shapes(["x=1,3,8,8", "ids=1,16"])
    {'x': [1, 3, 8, 8], 'ids': [1, 16]}
    """
    shapes: dict[str, list[int]] = {}
    for item in items or ():
        name, sep, dims = item.rpartition("=")
        try:
            parsed = [int(d) for d in dims.replace("x", ",").split(",") if d.strip()]
        except ValueError:
            parsed = []
        if not sep or not name or not parsed:
            raise OnnxImportError(
                f"--input-shape {item!r}: expected NAME=D1,D2,... with integers from 1 to {_MAX_DIM}, "
                "e.g. input=1,3,224,224"
            )
        bad = [d for d in parsed if not 1 <= d <= _MAX_DIM]
        if bad:  # else onnx's "Value out of range" (no argument named) for a dimension past int64
            raise OnnxImportError(
                f"--input-shape {item!r}: expected NAME=D1,D2,... with dimensions from 1 to {_MAX_DIM}; found {bad[0]}"
            )
        shapes[name] = parsed
    return shapes


def _load(model: Any) -> tuple[onnx.ModelProto, str, dict[str, np.ndarray]]:
    """(the model, where it came from, its initializers already read into arrays)."""
    import onnx

    if isinstance(model, onnx.ModelProto):
        return model, model.graph.name or "model", {}
    if isinstance(model, bytes | bytearray):
        try:
            return onnx.load_from_string(bytes(model)), "model", {}
        except Exception as e:  # protobuf's DecodeError, onnx's own errors
            raise OnnxImportError(f"model bytes: not a readable ONNX model: {type(e).__name__}: {e}") from None
    if not isinstance(model, str | Path):
        raise OnnxImportError(
            f"ONNX model: expected a file path, serialized bytes or an onnx.ModelProto; found {type(model).__name__}"
        )
    path = Path(model)
    if not path.is_file():
        raise OnnxImportError(f"ONNX model {str(path)!r} does not exist")
    try:
        loaded, arrays = _read_model(path)
    except Exception as e:
        raise OnnxImportError(f"{path}: not a readable ONNX model: {e}") from None
    return loaded, str(path), arrays


def _read_model(path: Path) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    """``onnx.load(path)``, parsed from a read-only map of the file instead of a copy of it,
    and its large raw weights read straight into arrays ({initializer name: array}; those
    initializers are left without data in the model).

    # NOTE: ``onnx.load`` reads the whole file into a bytes object and then parses it, so its
    # weights are copied twice before the importer sees them; parsing the mapped file drops
    # the first copy: BERT-base (436 MB) 0.90 s -> 0.54-0.57 s (2 shared cores). Reading the
    # raw data with protobuf still copies each weight twice more (the parse, then the field's
    # bytes); ``_onnx_weights.py`` leaves large raw data out of the parse and reads it once.
    # The map is closed when this returns.
    """
    import mmap

    import onnx
    from onnx.external_data_helper import load_external_data_for_model

    from webnnc.compiler.importers._onnx_weights import read_weights, split_weights

    arrays: dict[str, np.ndarray] | None = None
    with (
        open(path, "rb") as f,
        mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped,
        memoryview(mapped) as view,
    ):
        split = split_weights(view)
        if split is not None:
            model = onnx.ModelProto.FromString(split[0])
            arrays = read_weights(f, model, split[1])
        if arrays is None:  # nothing to split, or not the plain layout: parse it all
            model = onnx.ModelProto.FromString(view)
    load_external_data_for_model(model, str(path.parent))  # as onnx.load does; none here is a no-op
    return model, arrays or {}


def _opset(model: onnx.ModelProto, where: str) -> int:
    versions = {imp.domain: imp.version for imp in model.opset_import}
    if "" not in versions and "ai.onnx" not in versions:
        raise OnnxImportError(f"{where}: the model imports no default-domain (ai.onnx) opset")
    version = int(versions.get("", versions.get("ai.onnx", 0)))
    if version > MAX_OPSET:
        logger.warning("%s: opset %d is newer than %d; importing with opset-%d semantics",
                       where, version, MAX_OPSET, MAX_OPSET)
    return version


def _upgrade(model: onnx.ModelProto, opset: int, where: str) -> tuple[onnx.ModelProto, int]:
    """Convert a model older than MIN_OPSET with ONNX's version converter."""
    import onnx.version_converter

    try:
        upgraded = onnx.version_converter.convert_version(model, MIN_OPSET)
    except Exception as e:
        raise OnnxImportError(
            f"{where}: opset {opset} is older than {MIN_OPSET} and ONNX's version converter "
            f"cannot upgrade it ({e}); convert the model to opset {MIN_OPSET} or newer"
        ) from None
    logger.info("%s: upgraded from opset %d to %d with onnx.version_converter", where, opset, MIN_OPSET)
    return upgraded, MIN_OPSET


# Initializers with more elements than this are left out of the skeleton (declared as graph
# inputs of their type and shape instead); smaller ones stay, as shape inference's data
# propagation reads the values of shape tensors.
_SKELETON_MAX_ELEMENTS = 256


def _copy_fields(src: Any, dst: Any, skip: str) -> None:
    for fd, value in src.ListFields():
        if fd.name == skip:
            continue
        if fd.is_repeated:
            getattr(dst, fd.name).extend(value)
        elif fd.message_type is not None:
            getattr(dst, fd.name).CopyFrom(value)
        else:
            setattr(dst, fd.name, value)


def _skeleton(model: onnx.ModelProto) -> tuple[onnx.ModelProto, frozenset[str]]:
    """A copy of ``model`` without the data of its large initializers, which become typed
    graph inputs, and their names (the caller's model is not mutated; no weight is copied)."""
    import onnx

    skeleton = onnx.ModelProto()
    _copy_fields(model, skeleton, skip="graph")
    graph = skeleton.graph
    _copy_fields(model.graph, graph, skip="initializer")
    declared = {i.name for i in graph.input}
    stripped: set[str] = set()
    for t in model.graph.initializer:
        # the element count from dims, not ByteSize(): that walks the data (0.26 s on BERT)
        if math.prod(t.dims) <= _SKELETON_MAX_ELEMENTS:
            graph.initializer.append(t)
            continue
        stripped.add(t.name)
        if t.name not in declared:  # an IR < 4 model lists its initializers as inputs already
            graph.input.append(onnx.helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
    return skeleton, frozenset(stripped)


def _shape_value(value: Any, name: str, where: str) -> list[int]:
    """``input_shapes[name]`` as a list of ints, or an :class:`OnnxImportError` naming it."""
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise OnnxImportError(
            f"{where}: input_shapes[{name!r}]: expected a sequence of integers; found {type(value).__name__}"
        )
    dims = list(value)
    if not all(isinstance(d, int | np.integer) and not isinstance(d, bool) for d in dims):
        raise OnnxImportError(f"{where}: input_shapes[{name!r}]: expected a sequence of integers; found {dims!r}")
    bad = [d for d in dims if not 1 <= d <= _MAX_DIM]
    if bad:
        raise OnnxImportError(f"{where}: input_shapes[{name!r}]: expected dimensions from 1 to {_MAX_DIM}; found {bad[0]}")
    return [int(d) for d in dims]


def _pin_input_shapes(
    model: onnx.ModelProto, shapes: Mapping[str, Sequence[int]], where: str, weights: frozenset[str] = frozenset()
) -> onnx.ModelProto:
    """``model`` (a skeleton: mutated in place) with concrete dims on its real inputs; raise
    listing any symbolic ones. ``weights``: inputs that stand for stripped initializers."""
    initializers = {t.name for t in model.graph.initializer} | weights
    real_inputs = [i for i in model.graph.input if i.name not in initializers]
    known = {i.name for i in real_inputs}
    unknown = sorted(set(shapes) - known)
    if unknown:
        raise OnnxImportError(
            f"{where}: --input-shape names {unknown} are not graph inputs; inputs are {sorted(known)}"
        )
    missing: list[str] = []
    examples: list[str] = []
    for inp in real_inputs:
        tt = inp.type.tensor_type
        if inp.name in shapes:
            dims = _shape_value(shapes[inp.name], inp.name, where)
            if tt.HasField("shape") and len(tt.shape.dim) not in (0, len(dims)):
                raise OnnxImportError(
                    f"{where}: input {inp.name!r} has rank {len(tt.shape.dim)}; --input-shape "
                    f"gives {len(dims)} dimensions {dims}"
                )
            tt.shape.Clear()
            for d in dims:
                tt.shape.dim.add().dim_value = int(d)
            continue
        if not tt.HasField("shape"):
            missing.append(f"{inp.name} (unknown rank)")
            continue
        dims_text = [d.dim_param if d.dim_param else (str(d.dim_value) if d.dim_value > 0 else "?")
                     for d in tt.shape.dim]
        if any(not (d.HasField("dim_value") and d.dim_value > 0) for d in tt.shape.dim):
            missing.append(f"{inp.name} [{', '.join(dims_text)}]")
            sizes = [str(d.dim_value) if d.dim_value > 0 else "1" for d in tt.shape.dim]
            examples.append(f"--input-shape {inp.name}={','.join(sizes)}")
    if missing:
        raise OnnxImportError(
            f"{where}: WebNN needs static shapes, and these inputs have dynamic dimensions: "
            f"{'; '.join(missing)}. Give concrete shapes on the command line, e.g. "
            f"{' '.join(examples)} (with the sizes you will run), or input_shapes={{name: shape}} "
            "in the API"
        )
    return model


_SCHEMAS: dict[tuple[str, int], Any] = {}


def _schema_problem(node: onnx.NodeProto, opset: int) -> str | None:
    """Why ``node`` (default domain) does not fit its operator's schema: an attribute of the
    wrong type, a required attribute missing, too few inputs; None when it fits or has no schema.
    Converters read attributes as the schema types them, so these would otherwise fail inside
    a converter (``'int' object is not iterable``)."""
    import onnx

    key = (node.op_type, opset)
    if key not in _SCHEMAS:
        try:
            _SCHEMAS[key] = onnx.defs.get_schema(node.op_type, opset, "")
        except (onnx.defs.SchemaError, TypeError):  # TypeError: an opset beyond int32
            _SCHEMAS[key] = None
    schema = _SCHEMAS[key]
    if schema is None:
        return None
    names = onnx.AttributeProto.AttributeType.Name
    declared = schema.attributes
    given = set()
    for a in node.attribute:
        given.add(a.name)
        spec = declared.get(a.name)
        if spec is None or a.ref_attr_name or a.type == onnx.AttributeProto.UNDEFINED:
            continue
        expected = int(spec.type.value)
        if a.type != expected:
            return f"attribute {a.name!r}: expected {names(expected)}, found {names(a.type)}"
    missing = sorted(n for n, spec in declared.items() if spec.required and n not in given)
    if missing:
        return f"required attribute {missing[0]!r} is missing"
    if len(node.input) < schema.min_input:
        return f"expected at least {schema.min_input} input(s); found {len(node.input)}"
    return None


def _decode_attributes(node: onnx.NodeProto) -> dict[str, Any]:
    import onnx
    from onnx import numpy_helper

    attrs: dict[str, Any] = {}
    for a in node.attribute:
        if a.type == onnx.AttributeProto.TENSOR:
            attrs[a.name] = numpy_helper.to_array(a.t)
        elif a.type == onnx.AttributeProto.GRAPH or a.type == onnx.AttributeProto.GRAPHS:
            attrs[a.name] = a  # control flow; never mapped
        else:
            value = onnx.helper.get_attribute_value(a)
            if isinstance(value, bytes):
                value = value.decode("utf-8", "replace")
            elif isinstance(value, list) and value and isinstance(value[0], bytes):
                value = [v.decode("utf-8", "replace") for v in value]
            attrs[a.name] = value
    return attrs


class _Folder:
    """Evaluates all-constant nodes with onnx's reference implementation (numpy).

    One ``ReferenceEvaluator`` serves every node of the same form: the node with its inputs
    and outputs renamed ``in<i>`` / ``out<i>``, its name and doc string dropped, at one opset.
    A real model folds the same few shape computations thousands of times (swin_t: 5491
    folds, 2838 of them non-Constant, in ~60 forms), and building the evaluator was 60% of a
    fold. (``Constant`` nodes with a tensor or numeric value never come here: the importer
    reads them like initializers, ``_fold_or_convert``.)
    """

    _CACHE_SIZE = 512

    def __init__(self, model: onnx.ModelProto) -> None:
        self._opsets = {imp.domain or "": imp.version for imp in model.opset_import}
        self._evaluators: dict[bytes, Any] = {}
        self.limits = fold_limits()  # read once per import (a fold is ~50 us)

    def __call__(
        self, node: onnx.NodeProto, inputs: list[np.ndarray | None], opset: int
    ) -> list[np.ndarray] | None:
        import onnx
        from onnx.reference import ReferenceEvaluator

        names = [f"in{i}" if n else "" for i, n in enumerate(node.input)]
        feeds = {n: v for n, v in zip(names, inputs, strict=True) if n}
        outs = [f"out{i}" for i in range(len(node.output))]
        clone = onnx.NodeProto()
        clone.CopyFrom(node)
        clone.name = ""
        clone.doc_string = ""
        del clone.input[:]
        clone.input.extend(names)
        del clone.output[:]
        clone.output.extend(outs)
        form = opset.to_bytes(4, "little") + clone.SerializeToString()
        try:
            evaluator = self._evaluators.get(form)
            if evaluator is None:
                g = onnx.helper.make_graph(
                    [clone], "fold",
                    [onnx.helper.make_tensor_value_info(n, onnx.TensorProto.UNDEFINED, None) for n in feeds],
                    [onnx.helper.make_tensor_value_info(n, onnx.TensorProto.UNDEFINED, None) for n in outs],
                )
                opsets = {**self._opsets, "": opset}  # a function body's nodes have their own opset
                m = onnx.helper.make_model(
                    g, opset_imports=[onnx.helper.make_opsetid(d, v) for d, v in opsets.items()]
                )
                evaluator = ReferenceEvaluator(m)
                if len(self._evaluators) >= self._CACHE_SIZE:
                    self._evaluators.pop(next(iter(self._evaluators)))
                self._evaluators[form] = evaluator
            results = evaluator.run(None, feeds)
        except Exception as e:  # the node is then converted instead of folded
            logger.debug("could not fold %s %r: %s", node.op_type, node.name, e)
            return None
        return [np.asarray(r) for r in results]


_CONSTANT_NUMBERS = {"value_float": np.float32, "value_floats": np.float32, "value_int": np.int64, "value_ints": np.int64}


def _constant_value(attrs: Mapping[str, Any]) -> np.ndarray | None:
    """A Constant node's value from its decoded attributes (the ONNX spec's types), None for
    forms left to the evaluator (sparse tensors, strings)."""
    if len(attrs) != 1:
        return None
    ((name, value),) = attrs.items()
    if name == "value" and isinstance(value, np.ndarray):
        return value
    dtype = _CONSTANT_NUMBERS.get(name)
    return None if dtype is None else np.asarray(value, dtype=dtype)


def _fold_shape_op(node: OnnxNode) -> list[np.ndarray] | None:
    """Shape / Size of an operand, known statically."""
    x = node.input(0)
    if not isinstance(x, MLOperand):
        return None
    if node.op_type == "Size":
        return [np.array(int(np.prod(x.shape)), dtype=np.int64)]
    dims = list(x.shape)
    start, end = node.attr("start", 0), node.attr("end", None)
    return [np.array(dims[start:end], dtype=np.int64)]


def import_onnx(
    path_or_model: Any,
    input_shapes: Mapping[str, Sequence[int]] | None = None,
    builder: MLGraphBuilder | None = None,
) -> Any:
    """Import an ONNX model into a WebNN graph.

    Args:
        path_or_model: a file path, serialized bytes, or an ``onnx.ModelProto``.
        input_shapes: concrete shapes for inputs with dynamic dimensions
            (``{"input": [1, 3, 224, 224]}``); they override the model's shapes.
        builder: add the model to this builder and return its outputs
            (``{name: MLOperand}``) without building; by default a fresh builder is used and
            the built IR :class:`~webnnc.compiler.ir.Graph` is returned.

    Returns:
        The output operands (when ``builder`` is given) or the built graph.

    Raises:
        OnnxImportError: unreadable model, unsupported opset, or dynamic input shapes.
        UnsupportedOnnxOperatorsError: some nodes (listed, all at once) have no WebNN form.
    """
    import onnx

    model, where, arrays = _load(path_or_model)
    opset = _opset(model, where)
    if opset < MIN_OPSET:
        if arrays:  # the version converter rewrites the whole model: read it whole
            model, arrays = onnx.load(where), {}
        model, opset = _upgrade(model, opset, where)
    # The checker and shape inference see the model without its weights: both serialize the
    # whole proto and parse it again in C++, which took 4.7 s of BERT-base's 13.4 s compile
    # (437 MB of weights) and 11 ms on its weight-less skeleton.
    skeleton, weights = _skeleton(model)
    skeleton = _pin_input_shapes(skeleton, input_shapes or {}, where, weights)
    try:
        onnx.checker.check_model(skeleton)
    except UnicodeDecodeError as e:  # protobuf then hands out bytes for str fields
        raise OnnxImportError(
            f"{where}: the model holds a name or op type that is not UTF-8 ({e.reason} at byte {e.start}); "
            "ONNX strings are UTF-8"
        ) from None
    except Exception as e:  # checker complaints: the builder still validates
        logger.warning("%s: the ONNX checker reports: %s; importing anyway", where, e)
    try:
        # no data_prop: ONNX's data propagation materializes computed shape values as protos
        # without a bound (Range(0, 2^40) -> Cast exhausted memory; 10^7 elements: 5 s, 1.4 GB)
        # and the inferred shapes only cross-check the builder's (issue 15)
        skeleton = onnx.shape_inference.infer_shapes(skeleton)
    except Exception as e:  # inference is an aid; the builder re-derives every shape
        logger.warning("%s: ONNX shape inference failed (%s); continuing without it", where, e)

    own_builder = builder is None
    b = builder if builder is not None else MLGraphBuilder()
    outputs = _convert_graph(skeleton, model.graph.initializer, b, opset, where, arrays)
    if not own_builder:
        return outputs
    return b.build(outputs, name=Path(where).stem if where != "model" else None)


def _convert_graph(
    model: onnx.ModelProto,
    initializers: Iterable[onnx.TensorProto],
    b: MLGraphBuilder,
    opset: int,
    where: str,
    arrays: Mapping[str, np.ndarray] | None = None,
) -> dict[str, MLOperand]:
    """``arrays``: initializers already read (``_read_model``), whose protos hold no data."""
    from onnx import numpy_helper

    graph = model.graph
    ctx = ImportContext(b)
    values: dict[str, Tensor] = {}
    for init in initializers:
        if arrays and init.name in arrays:
            values[init.name] = arrays[init.name]
            continue
        try:
            values[init.name] = numpy_helper.to_array(init)
        except Exception as e:  # an unknown data_type (KeyError), data shorter than its dims
            raise OnnxImportError(
                f"{where}: initializer {init.name!r} (ONNX data type {init.data_type}, dims "
                f"{list(init.dims)}) cannot be read: {type(e).__name__}: {e}"
            ) from None
    for inp in graph.input:
        if inp.name in values:
            continue
        elem = inp.type.tensor_type.elem_type
        dtype = ONNX_TO_NUMPY.get(elem)
        if dtype not in _WEBNN_INPUT_TYPES:
            import onnx

            known = elem in onnx.TensorProto.DataType.values()
            raise OnnxImportError(
                f"{where}: input {inp.name!r} has ONNX element type "
                f"{onnx.TensorProto.DataType.Name(elem).lower() if known else elem}; WebNN inputs are one of "
                f"{sorted(_WEBNN_INPUT_TYPES)}"
            )
        dims = [d.dim_value for d in inp.type.tensor_type.shape.dim]
        values[inp.name] = b.input(inp.name, dims, dtype)

    used: dict[str, int] = {}
    writer: dict[str, str] = {}  # value name -> the node that assigns it (ONNX assigns each once)
    for index, node in enumerate(graph.node):
        for n in node.input:
            used[n] = used.get(n, 0) + 1
        for n in node.output:
            if not n:
                continue
            if n in writer or n in values:
                label = node.name or f"{node.op_type}_{index}"
                first = f"node {writer[n]!r}" if n in writer else "a graph input or initializer"
                raise OnnxImportError(
                    f"{where}: node {label!r} writes {n!r}, which {first} already defines; "
                    "expected every value to be assigned once"
                )
            writer[n] = node.name or f"{node.op_type}_{index}"
    for out in graph.output:
        used[out.name] = used.get(out.name, 0) + 1

    # ONNX's own shape inference, used to cross-check every mapped result's shape
    inferred: dict[str, list[int]] = {}
    for vi in [*graph.value_info, *graph.output]:
        tt = vi.type.tensor_type
        if tt.HasField("shape") and all(d.HasField("dim_value") for d in tt.shape.dim):
            inferred[vi.name] = [d.dim_value for d in tt.shape.dim]

    folder = _Folder(model)
    problems: list[UnsupportedProblem] = []
    poisoned: set[str] = set()

    def process(node: onnx.NodeProto, node_opset: int, label: str, depth: int = 0) -> None:
        if node.domain not in ("", "ai.onnx"):
            problems.append(UnsupportedProblem(label, f"{node.domain}.{node.op_type}", node_opset,
                                               f"custom domain {node.domain!r} has no WebNN mapping"))
            poisoned.update(node.output)
            return
        if any(n in poisoned for n in node.input if n):
            poisoned.update(node.output)
            if node.op_type not in CONVERTERS and node.op_type not in _OPS_WITH_NO_RUNTIME_FORM:
                problems.append(UnsupportedProblem(label, node.op_type, node_opset, _no_mapping(node.op_type)))
            return
        missing = [n for n in node.input if n and n not in values]
        if missing:
            raise OnnxImportError(f"{where}: node {label!r} reads {missing}, which nothing produces")
        inputs: list[Tensor | None] = [values[n] if n else None for n in node.input]
        problem = _schema_problem(node, node_opset)
        if problem is not None:
            problems.append(UnsupportedProblem(label, node.op_type, node_opset, problem))
            poisoned.update(node.output)
            return
        try:
            attrs = _decode_attributes(node)
        except Exception as e:  # a tensor attribute of an unknown data type (KeyError), bad data
            raise OnnxImportError(
                f"{where}: node {label!r} ({node.op_type}): an attribute cannot be read: {type(e).__name__}: {e}"
            ) from None
        view = OnnxNode(
            label, node.op_type, node_opset, inputs, attrs, len(node.output),
            frozenset(i for i, n in enumerate(node.output) if n and (used.get(n) or depth)),
        )
        results = _fold_or_convert(ctx, folder, node, view)
        if isinstance(results, str) and node.op_type == "If" and not isinstance(inputs[0], MLOperand):
            # a condition known at import time (often a shape check): inline the taken branch
            branch = _taken_branch(view, inputs[0])
            if isinstance(branch, str):
                problems.append(UnsupportedProblem(label, node.op_type, node_opset, branch))
                poisoned.update(node.output)
                return
            for k, sub in enumerate(branch.node):
                process(sub, node_opset, f"{label}/{sub.name or f'{sub.op_type}_{k}'}", depth + 1)
            for name, out in zip(node.output, branch.output, strict=True):
                if out.name in poisoned:
                    poisoned.add(name)
                elif out.name in values:
                    values[name] = values[out.name]
            return
        if (isinstance(results, str) and not isinstance(results, FoldRefused)
                and node.op_type not in CONVERTERS and depth < _MAX_FUNCTION_DEPTH):
            # no direct mapping: expand the operator into its ONNX function body, if it has one
            expansion = _expand_function(node, node_opset, inputs, label)
            if expansion is not None:
                body, body_opset = expansion
                for sub in body:
                    process(sub, body_opset, f"{label}/{sub.op_type}", depth + 1)
                return
        if isinstance(results, str):
            problems.append(UnsupportedProblem(label, node.op_type, node_opset, results))
            poisoned.update(node.output)
            return
        for i, name in enumerate(node.output):
            if not name:
                continue
            r = results[i] if i < len(results) else None
            if r is None:
                if used.get(name) or depth:
                    problems.append(UnsupportedProblem(
                        label, node.op_type, node_opset, f"output {i} ({name!r}) has no WebNN equivalent"))
                    poisoned.add(name)
                continue
            expected = inferred.get(name)
            if expected is not None and not depth and list(r.shape) != expected:
                # Not fatal: ONNX's inference lags ONNX Runtime in places (ceil_mode pools
                # that drop a window starting in the padding), and the runtime is the reference.
                logger.warning("%s: node %r output %r: WebNN shape %s, ONNX shape inference %s",
                               where, label, name, list(r.shape), expected)
            values[name] = r

    for index, node in enumerate(graph.node):
        process(node, opset, node.name or f"{node.op_type}_{index}")
    if problems:
        raise UnsupportedOnnxOperatorsError(problems, where)

    outputs: dict[str, MLOperand] = {}
    for out in graph.output:
        if out.name not in values:
            raise OnnxImportError(f"{where}: graph output {out.name!r} is produced by no node, input or initializer")
        v = values[out.name]
        if not isinstance(v, MLOperand) or v.value.producer is None:
            if not ctx.has("identity"):
                raise OnnxImportError(
                    f"{where}: output {out.name!r} is a constant or a graph input; WebNN graph outputs "
                    "must be computed (and this builder has no identity operator)"
                )
            try:
                v = ctx.call("identity", ctx.operand(v))
            except Unsupported as e:
                raise OnnxImportError(f"{where}: output {out.name!r}: {e}") from None
        outputs[out.name] = v
    return outputs


_MAX_FUNCTION_DEPTH = 4


def _taken_branch(view: OnnxNode, condition: Any) -> onnx.GraphProto | str:
    """The branch an ``If`` with a constant condition takes, or why it cannot be inlined."""
    import onnx

    cond = np.asarray(condition)
    if cond.size != 1:
        return f"condition: expected one boolean; found shape {list(cond.shape)}"
    name = "then_branch" if bool(cond.reshape(())) else "else_branch"
    branch = view.attrs.get(name)
    if not isinstance(branch, onnx.AttributeProto) or not branch.HasField("g"):
        return f"attribute {name!r}: expected a graph; found {'nothing' if branch is None else 'no graph'}"
    if len(branch.g.output) != view.num_outputs:
        return f"{name}: expected {view.num_outputs} output(s), one per If output; found {len(branch.g.output)}"
    return branch.g


def _expand_function(
    node: onnx.NodeProto, opset: int, inputs: Sequence[Tensor | None], label: str
) -> tuple[list[onnx.NodeProto], int] | None:
    """The node's ONNX function body (from its schema), inlined with the node's names and
    attributes, and the opset the body is written against; None when it has no function."""
    import onnx
    from onnx import helper

    try:
        schema = onnx.defs.get_schema(node.op_type, opset, node.domain)
    except onnx.defs.SchemaError:
        return None
    available = list(getattr(schema, "all_function_opset_versions", []))
    if not available:
        return None
    # any body of this operator version is a valid expansion: it declares its own opset
    older = [v for v in available if v <= opset]
    version = max(older) if older else min(available)
    try:
        if version in getattr(schema, "function_opset_versions", []):
            raw = getattr(schema, "get_function_with_opset_version")(version)  # noqa: B009 (untyped)
        else:
            types = []
            for t in inputs:
                if t is None:
                    types.append(onnx.TypeProto().SerializeToString())
                    continue
                dtype = np.dtype(t.value.data_type.numpy_dtype if isinstance(t, MLOperand) else t.dtype)
                types.append(helper.make_tensor_type_proto(
                    helper.np_dtype_to_tensor_dtype(dtype), list(t.shape)).SerializeToString())
            raw = getattr(schema, "get_context_dependent_function_with_opset_version")(  # noqa: B009
                version, node.SerializeToString(), types)
    except Exception as e:
        logger.debug("no function body for %s %r: %s", node.op_type, label, e)
        return None
    body = onnx.FunctionProto.FromString(raw)
    if not body.node:
        return None
    body_opset = next((imp.version for imp in body.opset_import if imp.domain in ("", "ai.onnx")), version)
    given = {a.name: a for a in node.attribute}
    defaults = {name: a.default_value for name, a in schema.attributes.items() if a.default_value.name}
    rename = dict(zip(body.input, node.input, strict=False))
    rename.update(dict.fromkeys(body.input[len(node.input):], ""))
    rename.update(zip(body.output, node.output, strict=False))
    prefix = f"{label}/"
    out: list[onnx.NodeProto] = []
    for n in body.node:
        clone = onnx.NodeProto()
        clone.CopyFrom(n)
        clone.name = f"{label}/{n.name or n.op_type}"
        del clone.input[:]
        clone.input.extend(rename.get(x, prefix + x) if x else "" for x in n.input)
        del clone.output[:]
        clone.output.extend(rename.get(x, prefix + x) if x else "" for x in n.output)
        del clone.attribute[:]
        for a in n.attribute:
            if a.ref_attr_name:
                src = given.get(a.ref_attr_name) or defaults.get(a.ref_attr_name)
                if src is None:
                    continue
                resolved = onnx.AttributeProto()
                resolved.CopyFrom(src)
                resolved.name = a.name
                clone.attribute.append(resolved)
            else:
                clone.attribute.append(a)
        out.append(clone)
    logger.debug("expanded %s %r into its ONNX function (%d nodes)", node.op_type, label, len(out))
    return out, body_opset


def _no_mapping(op_type: str) -> str:
    if op_type.startswith(("Sequence", "Optional")):
        return "WebNN has no sequence or optional types"
    return UNSUPPORTED_ONNX_OPS.get(op_type, "no WebNN mapping for this ONNX operator")


def _fold_or_convert(
    ctx: ImportContext, folder: _Folder, node: onnx.NodeProto, view: OnnxNode
) -> list[Tensor | None] | str:
    """The node's results, or the reason it cannot be imported."""
    fold_refused: str | None = None
    if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
        # its value is in the file already, like an initializer: no folding limit applies
        # (a sparse value, which could expand, goes through the bounded fold below)
        value = _constant_value(view.attrs)
        if value is not None:
            return [value]
    if all(not isinstance(t, MLOperand) for t in view.inputs) and node.op_type not in _NON_DETERMINISTIC:
        arrays = [t if t is None else np.asarray(t) for t in view.inputs]
        folded = bounded_fold(node, arrays, {**folder._opsets, "": view.opset},
                              lambda: folder(node, arrays, view.opset), folder.limits)
        if isinstance(folded, list):
            return list(folded)
        fold_refused = folded
    if node.op_type in ("Shape", "Size"):
        shape_result = _fold_shape_op(view)
        if shape_result is not None:
            return list(shape_result)
    converter = CONVERTERS.get(node.op_type)
    if converter is None:
        if fold_refused is not None:
            return FoldRefused(f"its inputs are constant but it was not folded: {fold_refused}")
        if all(not isinstance(t, MLOperand) for t in view.inputs):
            return ("its inputs are constant but it could not be folded (result over "
                    f"{MAX_IMPORT_FOLDED_ELEMENTS} elements, or the reference evaluator failed)")
        if node.op_type in _OPS_WITH_NO_RUNTIME_FORM:
            return "its inputs are computed at run time; WebNN needs it folded to a constant"
        return _no_mapping(node.op_type)
    try:
        return converter.convert(ctx, view)
    except Unsupported as e:
        return str(e)
    except ValidationError as e:  # the builder rejected what the converter asked for
        return f"WebNN rejects the mapped operation: {e}"
    except Exception as e:  # a converter bug must still name the node it failed on
        logger.debug("converter for %s %r failed", node.op_type, view.name, exc_info=True)
        return f"importer error ({type(e).__name__}: {e}); please report it"
