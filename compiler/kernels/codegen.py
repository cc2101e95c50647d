"""C source for fused regions: one ONNX Runtime custom-op library per artifact.

Each region becomes one custom op (domain :data:`DOMAIN`, op name ``R<digest>``) whose kernel
makes one pass over memory: every element is loaded once per external operand, the whole
chain is computed in registers, and only the values the rest of the graph reads are stored.

# NOTE: the ONNX Runtime ABI. The pip wheel ships no C headers, so the library declares
# what it uses itself, from the documented C API: ``RegisterCustomOps(OrtSessionOptions*,
# const OrtApiBase*)`` is the entry point ``SessionOptions.register_custom_ops_library``
# calls; ``OrtApiBase.GetApi(version)`` returns the ``OrtApi`` table, a struct of function
# pointers whose order is fixed forever (new entries are only appended), so each function is
# read at its documented index. ``OrtCustomOp`` is likewise versioned: the library declares
# version 16, so ONNX Runtime reads the members up to ``KernelComputeV2`` and none after.
# ``KernelContext_ParallelFor`` (API 17+) runs the work items on the session's own intra-op
# thread pool; with an older runtime the library runs them on the calling thread.
#
# NOTE: numerics. Work items are fixed by the shapes (never by the thread count), and a
# trailing reduction sums each item's values in 8 double lanes, then the items of one output
# in order, so results do not depend on how many threads run them. Elementwise ops are
# computed in float32 in the graph's order with one rounding each (the compile flags forbid
# contraction into FMA), so a fused region equals the unfused one bit for bit except for the
# reduction (more exact than a float accumulator).
"""

from __future__ import annotations

import hashlib
import math
from typing import TYPE_CHECKING, Any

from webnnc.compiler.kernels.regions import ELEMENTWISE

if TYPE_CHECKING:
    from webnnc.compiler.kernels.regions import Region

__all__ = ["CHUNK", "DOMAIN", "op_name", "library_source"]

DOMAIN = "webnnc.fused"
# Elements per work item: 16 KiB of float32 per operand stays in L1 for the reduction's
# second sweep, and W1's 150528 elements make 37 items for the intra-op pool.
CHUNK = 4096
# Below this many elements the kernel runs on the calling thread: waking the pool costs
# more than the pass (ORT's own cost model splits only above ~64 KiB of work).
PARALLEL_MIN = 16384
# Elements computed op by op in the main loop: 4 AVX2 vectors (2 AVX-512, 8 SSE) of
# independent work per op. One element at a time, a chain of k dependent ops is bound by the
# latency of each vector op (W2: 100 ops x ~3 cycles per 8 elements, ~1 ms on 2 cores);
# blocked, the core overlaps the 4 chains (benchmarks/bench_kernels.py).
BLOCK = 32

# documented OrtApi indices (append-only table; see the NOTE above)
_API = {
    "CreateStatus": 0, "CreateCustomOpDomain": 26, "CustomOpDomain_Add": 27, "AddCustomOpDomain": 28,
    "GetTensorMutableData": 51, "GetTensorShapeElementCount": 64, "GetTensorTypeAndShape": 65,
    "KernelContext_GetInputCount": 88, "KernelContext_GetInput": 90, "KernelContext_GetOutput": 91,
    "ReleaseTensorTypeAndShapeInfo": 99, "KernelContext_ParallelFor": 274,
}


def _lit(x: float) -> str:
    """An exact float32 literal."""
    if math.isnan(x):
        return "(__builtin_nanf(\"\"))"
    if math.isinf(x):
        return "(__builtin_inff())" if x > 0 else "(-__builtin_inff())"
    return f"({float.hex(x)}f)"


def op_name(region: Region) -> str:
    """A name for the region's op, fixed by what it computes."""
    h = hashlib.sha256()
    for n in region.nodes:
        h.update(n.SerializeToString(deterministic=True))
    if region.reduction is not None:
        h.update(region.reduction.SerializeToString(deterministic=True))
    h.update(repr((region.shape, region.inputs, region.scalars, region.outputs)).encode())
    return "R" + h.hexdigest()[:16]


def _layout(region: Region) -> tuple[list[int], list[list[int]], int]:
    """(merged dims, per-input merged strides, index of the first reduced merged dim).

    Dims of 1 are dropped; neighbouring dims are merged where every input is either present
    in both or broadcast over both, and never across the reduction's boundary. The last
    merged dim is the contiguous inner run: each input is either contiguous along it or
    constant along it (stride 0).
    """
    shape = list(region.shape)
    rank = len(shape)
    red_from = rank - region.reduced_axes if region.reduction is not None else rank
    ins = [[1] * (rank - len(s)) + list(s) for s in region.inputs.values()]
    dims: list[tuple[int, list[bool], bool]] = []  # (extent, per-input present, reduced)
    for d in range(rank):
        if shape[d] == 1:
            continue
        present = [s[d] != 1 for s in ins]
        reduced = d >= red_from
        if dims and dims[-1][1] == present and dims[-1][2] == reduced:
            dims[-1] = (dims[-1][0] * shape[d], present, reduced)
        else:
            dims.append((shape[d], present, reduced))
    if not dims:
        dims = [(1, [False] * len(ins), region.reduction is not None)]
    extents = [e for e, _, _ in dims]
    strides: list[list[int]] = []
    for k in range(len(ins)):
        st = [0] * len(dims)
        acc = 1
        for d in range(len(dims) - 1, -1, -1):
            if dims[d][1][k]:
                st[d] = acc
                acc *= dims[d][0]
        strides.append(st)
    first_red = next((d for d, (_, _, r) in enumerate(dims) if r), len(dims))
    return extents, strides, first_red


def _expr(op: str, args: list[str], node: object, region: Region) -> str:
    attrs = {a.name: a for a in node.attribute}  # type: ignore[attr-defined]
    a = args[0]
    if op == "Add":
        return f"{a} + {args[1]}"
    if op == "Sub":
        return f"{a} - {args[1]}"
    if op == "Mul":
        return f"{a} * {args[1]}"
    if op == "Div":
        return f"{a} / {args[1]}"
    if op in ("Max", "Min"):  # NaN propagates, as in ONNX Runtime and numpy
        cmp = ">" if op == "Max" else "<"
        b = args[1]
        return f"({a} != {a} || {a} {cmp} {b}) ? {a} : {b}"
    if op == "Relu":
        return f"({a} < 0.0f) ? 0.0f : {a}"  # NaN passes through, as ONNX Runtime's Relu
    if op == "Neg":
        return f"-{a}"
    if op == "Abs":
        return f"__builtin_fabsf({a})"
    if op == "Sqrt":
        return f"__builtin_sqrtf({a})"
    if op == "Identity":
        return a
    if op == "LeakyRelu":
        alpha = attrs["alpha"].f if "alpha" in attrs else 0.01
        return f"({a} < 0.0f) ? {a} * {_lit(alpha)} : {a}"
    if op == "Clip":
        ins = list(node.input)  # type: ignore[attr-defined]
        out = a
        if len(ins) > 1 and ins[1]:
            lo = _lit(region.scalars[ins[1]])
            out = f"(({out}) < {lo} ? {lo} : ({out}))"
        if len(ins) > 2 and ins[2]:
            hi = _lit(region.scalars[ins[2]])
            out = f"(({out}) > {hi} ? {hi} : ({out}))"
        return out
    raise ValueError(f"no kernel for {op}")  # pragma: no cover - regions.py admits only ELEMENTWISE


def _region_source(idx: int, region: Region) -> str:
    extents, strides, first_red = _layout(region)
    nin = len(region.inputs)
    names = list(region.inputs)
    inner = extents[-1]
    outer = extents[:-1]
    n_outer = math.prod(outer) if outer else 1
    has_red = region.reduction is not None
    # groups: one per reduction output (all outer indices when there is no reduction)
    m = math.prod(extents[first_red:-1]) if has_red and first_red < len(extents) - 1 else 1
    if not has_red:
        m = n_outer
    groups = n_outer // m
    if inner >= CHUNK:
        per_outer = -(-inner // CHUNK)
        items_per_group = m * per_outer
        k_outer = 1
    else:
        per_outer = 1
        k_outer = max(1, CHUNK // inner)
        items_per_group = -(-m // k_outer)
    items = groups * items_per_group
    elem_outputs = [o for o in region.outputs if region.reduction is None or o != region.reduction.output[0]]
    p = f"r{idx}"
    lines: list[str] = []
    w = lines.append
    w(f"typedef struct {{ const float* in[{max(nin, 1)}]; float* out[{max(len(elem_outputs), 1)}]; double* part; }} {p}_args;")
    w(f"static void {p}_item(void* vp, size_t item) {{")
    w(f"  {p}_args* a = ({p}_args*)vp;")
    w(f"  size_t g = item / {items_per_group}u, j = item % {items_per_group}u;")
    if per_outer > 1:
        w(f"  size_t o0 = g * {m}u + j / {per_outer}u, o1 = o0 + 1;")
        w(f"  size_t i0 = (j % {per_outer}u) * {CHUNK}u, i1 = i0 + {CHUNK}u < {inner}u ? i0 + {CHUNK}u : {inner}u;")
    else:
        w(f"  size_t o0 = g * {m}u + j * {k_outer}u, o1 = o0 + {k_outer}u;")
        w(f"  if (o1 > (g + 1) * {m}u) o1 = (g + 1) * {m}u;")
        w(f"  size_t i0 = 0, i1 = {inner}u;")
    if has_red:
        w("  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};")
        w(f"  float tmp[{min(inner, CHUNK)}];")
    w("  for (size_t o = o0; o < o1; ++o) {")
    for k in range(nin):
        terms = []
        rem_expr = "o"
        for d in range(len(outer) - 1, -1, -1):
            if strides[k][d]:
                terms.append(f"(({rem_expr}) % {outer[d]}u) * {strides[k][d]}u")
            rem_expr = f"{rem_expr} / {outer[d]}u" if d > 0 else rem_expr
        off = " + ".join(terms) if terms else "0"
        w(f"    const float* __restrict__ x{k} = a->in[{k}] + ({off});")
        if strides[k][-1] == 0:
            w(f"    const float s{k} = x{k}[0];")
    for q in range(len(elem_outputs)):
        w(f"    float* __restrict__ y{q} = a->out[{q}] + o * {inner}u;")
    # the blocked loop: each op over BLOCK lanes before the next op (independent vectors in
    # flight), then the same chain element by element for the tail
    w("    size_t i = i0;")
    w(f"    for (; i + {BLOCK}u <= i1; i += {BLOCK}u) {{")
    _chain(w, region, names, strides, elem_outputs, has_red, blocked=True)
    w("    }")
    w("    for (; i < i1; ++i) {")
    _chain(w, region, names, strides, elem_outputs, has_red, blocked=False)
    w("    }")
    if has_red:
        w("    size_t n = i1 - i0, b = 0;")
        w("    for (; b + 8 <= n; b += 8)")
        w("      for (int l = 0; l < 8; ++l) acc[l] += (double)tmp[b + l];")
        w("    for (; b < n; ++b) acc[b & 7] += (double)tmp[b];")
    w("  }")
    if has_red:
        w("  a->part[item] = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));")
    w("}")
    # compute: fetch operands, check sizes, run the items, finish the reduction
    total_elems = region.elements
    w(f"static OrtStatus* {p}_compute(void* kernel, OrtKernelContext* ctx) {{")
    w(f"  {p}_args a; (void)kernel; memset(&a, 0, sizeof a);")
    for k, name in enumerate(names):
        count = math.prod(region.inputs[name]) if region.inputs[name] else 1
        w(f"  {{ const OrtValue* v = NULL; OrtStatus* s = API(KernelContext_GetInput, fn_get_input)(ctx, {k}, &v);")
        w("    if (s) return s;")
        w(f"    if (!v) return fail(\"input {k} missing\");")
        w(f"    if ((s = check_count(v, {count}u, {k}))) return s;")
        w(f"    if ((s = API(GetTensorMutableData, fn_data)((OrtValue*)v, (void**)&a.in[{k}]))) return s; }}")
    out_index = 0
    for q, name in enumerate(elem_outputs):
        dims = ", ".join(str(d) for d in region.output_shapes[name]) or "0"
        rank = len(region.output_shapes[name])
        w(f"  {{ static const int64_t dims[] = {{{dims}}}; OrtValue* v = NULL;")
        w(f"    OrtStatus* s = API(KernelContext_GetOutput, fn_get_output)(ctx, {out_index}, dims, {rank}, &v);")
        w("    if (s) return s;")
        w(f"    if ((s = API(GetTensorMutableData, fn_data)(v, (void**)&a.out[{q}]))) return s; }}")
        out_index += 1
    red_ptr = ""
    if has_red:
        name = region.reduction.output[0]
        dims = ", ".join(str(d) for d in region.output_shapes[name]) or "0"
        rank = len(region.output_shapes[name])
        w("  float* red = NULL;")
        w(f"  {{ static const int64_t dims[] = {{{dims}}}; OrtValue* v = NULL;")
        w(f"    OrtStatus* s = API(KernelContext_GetOutput, fn_get_output)(ctx, {out_index}, dims, {rank}, &v);")
        w("    if (s) return s;")
        w("    if ((s = API(GetTensorMutableData, fn_data)(v, (void**)&red))) return s; }")
        w(f"  double stack_part[{min(items, 512)}];")
        w(f"  a.part = {items}u <= 512u ? stack_part : (double*)malloc({items}u * sizeof(double));")
        w("  if (!a.part) return fail(\"out of memory\");")
        red_ptr = "red"
    w(f"  run_items(ctx, {p}_item, &a, {items}u, {int(total_elems >= PARALLEL_MIN)});")
    if has_red:
        scale = f" / {float(m * inner)!r}" if region.reduce_mean else ""
        w(f"  for (size_t g = 0; g < {groups}u; ++g) {{")
        w("    double s = 0.0;")
        w(f"    for (size_t j = 0; j < {items_per_group}u; ++j) s += a.part[g * {items_per_group}u + j];")
        w(f"    {red_ptr}[g] = (float)(s{scale});")
        w("  }")
        w("  if (a.part != stack_part) free(a.part);")
    w("  return NULL;")
    w("}")
    w(f"static void {p}_compute_v1(void* kernel, OrtKernelContext* ctx) {{ (void){p}_compute(kernel, ctx); }}")
    w(f"static const char* {p}_name(const OrtCustomOp* op) {{ (void)op; return \"{op_name(region)}\"; }}")
    w(f"static size_t {p}_nin(const OrtCustomOp* op) {{ (void)op; return {nin}; }}")
    w(f"static size_t {p}_nout(const OrtCustomOp* op) {{ (void)op; return {len(region.outputs)}; }}")
    return "\n".join(lines)


def _chain(
    w: Any, region: Region, names: list[str], strides: list[list[int]], elem_outputs: list[str],
    has_red: bool, *, blocked: bool,
) -> None:
    """The region's ops for one element (``blocked``: for BLOCK consecutive elements, op by op)."""
    lane = "[l]" if blocked else ""
    # unrolled fully, the BLOCK lanes of each temporary live in registers (without the
    # pragma gcc 12 keeps each op a 4-trip loop over a stack array; W1 0.13 -> 0.10 ms)
    loop = f'_Pragma("GCC unroll {BLOCK}") for (int l = 0; l < {BLOCK}; ++l) ' if blocked else ""
    at = "i + l" if blocked else "i"
    env: dict[str, str] = {}
    for k, name in enumerate(names):
        env[name] = f"s{k}" if strides[k][-1] == 0 else f"x{k}[{at}]"
    for name, value in region.scalars.items():
        env[name] = _lit(value)
    for t, node in enumerate(region.nodes):
        args = [env[x] for x in node.input[: ELEMENTWISE[node.op_type]]]
        expr = _expr(node.op_type, args, node, region)
        if blocked:
            w(f"      float t{t}[{BLOCK}]; {loop}t{t}[l] = {expr};")
        else:
            w(f"      const float t{t} = {expr};")
        env[node.output[0]] = f"t{t}{lane}"
    for q, name in enumerate(elem_outputs):
        w(f"      {loop}y{q}[{at}] = {env[name]};")
    if has_red:
        w(f"      {loop}tmp[{at} - i0] = {env[region.reduction.input[0]]};")


_PRELUDE = r"""/* generated by webnnc (compiler/kernels): fused elementwise regions as ONNX Runtime custom ops */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Opaque ONNX Runtime types and the few documented entry points this library calls. */
typedef struct OrtStatus OrtStatus;
typedef struct OrtValue OrtValue;
typedef struct OrtKernelContext OrtKernelContext;
typedef struct OrtKernelInfo OrtKernelInfo;
typedef struct OrtSessionOptions OrtSessionOptions;
typedef struct OrtCustomOpDomain OrtCustomOpDomain;
typedef struct OrtTensorTypeAndShapeInfo OrtTensorTypeAndShapeInfo;
typedef struct OrtApi OrtApi;
typedef struct OrtApiBase {
  const OrtApi* (*GetApi)(uint32_t version);
  const char* (*GetVersionString)(void);
} OrtApiBase;

typedef struct OrtCustomOp OrtCustomOp;
struct OrtCustomOp { /* members in the documented order; version 16 reads up to KernelComputeV2 */
  uint32_t version;
  void* (*CreateKernel)(const OrtCustomOp*, const OrtApi*, const OrtKernelInfo*);
  const char* (*GetName)(const OrtCustomOp*);
  const char* (*GetExecutionProviderType)(const OrtCustomOp*);
  int (*GetInputType)(const OrtCustomOp*, size_t);
  size_t (*GetInputTypeCount)(const OrtCustomOp*);
  int (*GetOutputType)(const OrtCustomOp*, size_t);
  size_t (*GetOutputTypeCount)(const OrtCustomOp*);
  void (*KernelCompute)(void*, OrtKernelContext*);
  void (*KernelDestroy)(void*);
  int (*GetInputCharacteristic)(const OrtCustomOp*, size_t);
  int (*GetOutputCharacteristic)(const OrtCustomOp*, size_t);
  int (*GetInputMemoryType)(const OrtCustomOp*, size_t);
  int (*GetVariadicInputMinArity)(const OrtCustomOp*);
  int (*GetVariadicInputHomogeneity)(const OrtCustomOp*);
  int (*GetVariadicOutputMinArity)(const OrtCustomOp*);
  int (*GetVariadicOutputHomogeneity)(const OrtCustomOp*);
  OrtStatus* (*CreateKernelV2)(const OrtCustomOp*, const OrtApi*, const OrtKernelInfo*, void**);
  OrtStatus* (*KernelComputeV2)(void*, OrtKernelContext*);
  void* reserved[9]; /* later members; never read at version 16 */
};

typedef OrtStatus* (*fn_create_status)(int, const char*);
typedef OrtStatus* (*fn_create_domain)(const char*, OrtCustomOpDomain**);
typedef OrtStatus* (*fn_domain_add)(OrtCustomOpDomain*, const OrtCustomOp*);
typedef OrtStatus* (*fn_add_domain)(OrtSessionOptions*, OrtCustomOpDomain*);
typedef OrtStatus* (*fn_data)(OrtValue*, void**);
typedef OrtStatus* (*fn_count)(const OrtTensorTypeAndShapeInfo*, size_t*);
typedef OrtStatus* (*fn_type_shape)(const OrtValue*, OrtTensorTypeAndShapeInfo**);
typedef OrtStatus* (*fn_get_input)(const OrtKernelContext*, size_t, const OrtValue**);
typedef OrtStatus* (*fn_get_output)(OrtKernelContext*, size_t, const int64_t*, size_t, OrtValue**);
typedef void (*fn_release_info)(OrtTensorTypeAndShapeInfo*);
typedef OrtStatus* (*fn_parallel_for)(const OrtKernelContext*, void (*)(void*, size_t), size_t, size_t, void*);

static const OrtApi* g_api = NULL;
static uint32_t g_api_version = 0;
#define API(name, type) ((type)(((void* const*)g_api)[IDX_##name]))
"""

_GLUE = r"""
static OrtStatus* fail(const char* msg) { return API(CreateStatus, fn_create_status)(2 /* ORT_INVALID_ARGUMENT */, msg); }

static OrtStatus* check_count(const OrtValue* v, size_t want, int index) {
  OrtTensorTypeAndShapeInfo* info = NULL;
  size_t n = 0;
  OrtStatus* s = API(GetTensorTypeAndShape, fn_type_shape)(v, &info);
  if (s) return s;
  s = API(GetTensorShapeElementCount, fn_count)(info, &n);
  API(ReleaseTensorTypeAndShapeInfo, fn_release_info)(info);
  if (s) return s;
  (void)index;
  if (n != want) return fail("webnnc fused kernel: an input has another element count than the one compiled for");
  return NULL;
}

static void run_items(OrtKernelContext* ctx, void (*fn)(void*, size_t), void* args, size_t items, int parallel) {
  if (parallel && items > 1 && g_api_version >= 17) {
    OrtStatus* s = API(KernelContext_ParallelFor, fn_parallel_for)(ctx, fn, items, 0, args);
    if (!s) return;
    /* no pool available: run below (ParallelFor left nothing half done: it failed before starting) */
  }
  for (size_t i = 0; i < items; ++i) fn(args, i);
}

static void* create_v1(const OrtCustomOp* op, const OrtApi* api, const OrtKernelInfo* info) { (void)api; (void)info; return (void*)op; }
static OrtStatus* create_v2(const OrtCustomOp* op, const OrtApi* api, const OrtKernelInfo* info, void** k) {
  (void)api; (void)info; *k = (void*)op; return NULL;
}
static void destroy(void* k) { (void)k; }
static const char* provider(const OrtCustomOp* op) { (void)op; return "CPUExecutionProvider"; }
static int float_type(const OrtCustomOp* op, size_t i) { (void)op; (void)i; return 1; /* FLOAT */ }
static int required(const OrtCustomOp* op, size_t i) { (void)op; (void)i; return 0; /* INPUT_OUTPUT_REQUIRED */ }
static int mem_default(const OrtCustomOp* op, size_t i) { (void)op; (void)i; return 0; }
static int one(const OrtCustomOp* op) { (void)op; return 1; }
static int zero(const OrtCustomOp* op) { (void)op; return 0; }
"""


def library_source(regions: list[Region]) -> str:
    """The whole C translation unit for ``regions`` (one custom op each)."""
    parts = [_PRELUDE]
    parts.extend(f"#define IDX_{name} {index}" for name, index in _API.items())
    parts.append(_GLUE)
    for i, region in enumerate(regions):
        parts.append(_region_source(i, region))
    n = len(regions)
    reg = [f"static OrtCustomOp g_ops[{n}];", "", "__attribute__((visibility(\"default\")))"]
    reg.append("OrtStatus* RegisterCustomOps(OrtSessionOptions* options, const OrtApiBase* base) {")
    reg.append("  for (uint32_t v = 17; v >= 16 && !g_api; --v) { g_api = base->GetApi(v); g_api_version = v; }")
    reg.append("  if (!g_api) return NULL; /* cannot even report: ONNX Runtime older than 1.16 */")
    reg.append("  OrtCustomOpDomain* domain = NULL;")
    reg.append(f"  OrtStatus* s = API(CreateCustomOpDomain, fn_create_domain)(\"{DOMAIN}\", &domain);")
    reg.append("  if (s) return s;")
    for i in range(n):
        reg.append(f"  memset(&g_ops[{i}], 0, sizeof g_ops[{i}]);")
        fields = {
            "version": "16", "CreateKernel": "create_v1", "GetName": f"r{i}_name",
            "GetExecutionProviderType": "provider", "GetInputType": "float_type",
            "GetInputTypeCount": f"r{i}_nin", "GetOutputType": "float_type", "GetOutputTypeCount": f"r{i}_nout",
            "KernelCompute": f"r{i}_compute_v1", "KernelDestroy": "destroy",
            "GetInputCharacteristic": "required", "GetOutputCharacteristic": "required",
            "GetInputMemoryType": "mem_default", "GetVariadicInputMinArity": "one",
            "GetVariadicInputHomogeneity": "zero", "GetVariadicOutputMinArity": "one",
            "GetVariadicOutputHomogeneity": "zero", "CreateKernelV2": "create_v2",
            "KernelComputeV2": f"r{i}_compute",
        }
        reg.extend(f"  g_ops[{i}].{k} = {v};" for k, v in fields.items())
        reg.append(f"  if ((s = API(CustomOpDomain_Add, fn_domain_add)(domain, &g_ops[{i}]))) return s;")
    reg.append("  return API(AddCustomOpDomain, fn_add_domain)(options, domain);")
    reg.append("}")
    parts.append("\n".join(reg))
    return "\n\n".join(parts) + "\n"
