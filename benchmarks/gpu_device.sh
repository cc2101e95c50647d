#!/usr/bin/env bash
# The GPU deployment run (benchmarks/gpu_deploy.py) on the device machine, in as few calls as
# the 64 MiB-per-call limit allows. Python 3.12 there, no package registry: onnxruntime-gpu
# (~250 MB) travels in 5 parts (../shared/gpu/README.md), and webnnc with the dependencies the
# device image lacks (diskcache, blake3; it has numpy, onnx, onnxruntime 1.30) as wheels.
#
#   here, in the checkout the device tool sends:  benchmarks/gpu_device.sh prepare [MODELS...]
#     -> .ortgpu1..5 + .ortgpu-name/.ortgpu-sha256 (shared script), .gpuwork/whl, .gpuwork/models
#        (default models: squeezenet1_1 mobilenet_v3_large from $CORPUS, /work/corpus if unset)
#   device, calls 1-4 (carry [".ortgpuN"]):      mkdir -p $HOME/ortgpu && cp .ortgpuN/* $HOME/ortgpu/
#   device, call 5 (carry [".ortgpu5", ".ortgpu-name", ".ortgpu-sha256", ".gpuwork"]):
#                                                 bash benchmarks/gpu_device.sh run
#     -> $OUT/gpu_deploy.md, $OUT/gpu_deploy.json, $OUT/log
set -euo pipefail
root=$(git rev-parse --show-toplevel 2>/dev/null || pwd)
cd "$root"

case "${1:-}" in
prepare)
  shift
  # the device tool sends the session's main checkout (where .git is a folder, as the shared
  # script needs); SKIP_ORT=1 prepares the rest only (e.g. to try it in a worktree)
  [ -n "${SKIP_ORT:-}" ] || "${SHARED:-$root/../shared}/gpu/prepare-ort-gpu.sh"
  rm -rf .gpuwork && mkdir -p .gpuwork/whl .gpuwork/models
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .gpuwork/whl diskcache==5.6.3 blake3==1.0.11
  python3 -m pip wheel -q --no-deps -w .gpuwork/whl .
  corpus=${CORPUS:-/work/corpus}
  for m in "${@:-squeezenet1_1 mobilenet_v3_large}"; do
    for n in $m; do cp "$corpus/$n.onnx" "$corpus/$n.json" .gpuwork/models/; done
  done
  # .gitignore ignores both: they travel only where a call's carry names them
  git check-ignore -q .gpuwork && git check-ignore -q .ortgpu5 || { echo "gpu_device.sh: .gpuwork or .ortgpu5 is not ignored" >&2; exit 1; }
  du -shc .ortgpu5 .gpuwork 2>/dev/null || du -sh .gpuwork
  ;;
run)
  out=${OUT:-$root/benchmarks/results/tmp}
  mkdir -p "$out"
  if [ -f .ortgpu-name ]; then
    cp .ortgpu5/* "$HOME/ortgpu/"
    (cd "$HOME/ortgpu" && cat part* > "$(cat "$root/.ortgpu-name")" \
      && echo "$(cat "$root/.ortgpu-sha256")  $(cat "$root/.ortgpu-name")" | sha256sum -c -)
    # bytecode compiled as a normal pip install does (with --no-compile every fresh process
    # compiled ORT's and webnnc's modules again: 43-48 ms of each cold start)
    python3 -m pip install -q --no-index --no-deps --target "$HOME/site" \
      "$HOME/ortgpu/$(cat .ortgpu-name)" .gpuwork/whl/*.whl
  fi
  export PYTHONPATH=$HOME/site PYTHONUNBUFFERED=1
  { nvidia-smi --query-gpu=name,driver_version --format=csv,noheader || echo "no nvidia-smi"; } | tee "$out/log"
  # Can ORT create the CUDA provider with the libraries the loader finds? If not (CUDA 13 only in
  # the nvidia-* wheels PyTorch brought), put those wheels' lib folders on LD_LIBRARY_PATH and
  # say so in the log: webnnc itself does not search them (a gap to report, not hide).
  probe='import onnxruntime as o, onnx, onnx.helper as h
m = h.make_model(h.make_graph([h.make_node("Relu", ["x"], ["y"])], "g",
    [h.make_tensor_value_info("x", 1, [1])], [h.make_tensor_value_info("y", 1, [1])]), opset_imports=[h.make_opsetid("", 17)])
m.ir_version = 10
print(o.InferenceSession(m.SerializeToString(), providers=["CUDAExecutionProvider"]).get_providers())'
  if ! python3 -c "$probe" 2>>"$out/log" | tee -a "$out/log" | grep -q CUDA; then
    libs=$(python3 -c 'import glob, os, nvidia; print(":".join(sorted(glob.glob(os.path.join(list(nvidia.__path__)[0], "*", "lib")))))' || true)
    export LD_LIBRARY_PATH=$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    echo "CUDA provider not created with the default library path; retrying with the nvidia wheels' libs" | tee -a "$out/log"
    python3 -c "$probe" 2>&1 | tail -1 | tee -a "$out/log"
  fi
  # outside the checkout: its top-level webnnc/ is the facade alone (the installed wheel maps
  # compiler/, runtime/, cache/ into webnnc.*)
  cd /tmp
  set -o pipefail
  python3 "$root/benchmarks/gpu_deploy.py" --models "$root/.gpuwork/models" --out "$out" "${@:2}" 2>&1 \
    | tee -a "$out/log"
  ;;
*)
  echo "usage: benchmarks/gpu_device.sh prepare [MODELS...] | run [gpu_deploy.py options]" >&2
  exit 2
  ;;
esac
