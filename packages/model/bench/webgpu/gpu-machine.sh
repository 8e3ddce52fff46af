#!/usr/bin/env bash
# The WebGPU benchmark on a GPU machine that has no network, no Node and no checkout of its own
# (see README.md beside this file). Two steps:
#
#   prepare   here, on a machine with the checkout, npm's packages and apt: builds the bundle
#             (build.mjs), compresses Dawn's native module, packs this machine's Node binary, downloads
#             the Vulkan loader's Debian packages and stages the PyTorch peer's script, all under
#             bench/webgpu/dist/ (git-ignored; carry that folder to the GPU machine).
#               bash bench/webgpu/gpu-machine.sh prepare --peer <torch_prm_step.py>   (or PQM_TORCH_PEER)
#
#   run       there, from anywhere: unpacks Node and Dawn, puts the Vulkan loader in place, points
#             Vulkan at NVIDIA's driver, records the GPU, and runs the bundle with the peer on CUDA.
#               bash packages/model/bench/webgpu/gpu-machine.sh run [--label h200] [--out <folder>] [bench flags...]
#             The results go to <folder>/webgpu-<label>.json and .md (default folder: $OUT, else
#             bench/results). Flags after these go to the bench (e.g. --configs S,M --steps 20);
#             PQM_PEER_DEVICE=cpu runs the peer on the CPU (a machine without CUDA).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dist=$here/dist
dawn=$dist/node_modules/webgpu/dist/linux-x64/dawn.node

prepare() {
  local peer=${PQM_TORCH_PEER:-}
  while [ $# -gt 0 ]; do
    case $1 in
      --peer) peer=$2; shift 2 ;;
      *) echo "gpu-machine.sh prepare: unknown flag $1" >&2; exit 2 ;;
    esac
  done
  [ -n "$peer" ] && [ -f "$peer" ] || { echo "gpu-machine.sh prepare: pass --peer <torch_prm_step.py> (or set PQM_TORCH_PEER)" >&2; exit 2; }
  node "$here/build.mjs" --platform linux-x64
  xz -T0 -6 "$dawn"                                   # dawn.node.xz, about a third of the size
  xz -T0 -6 -c "$(command -v node)" >"$dist/node.xz"  # this machine's Node (glibc, libstdc++)
  mkdir -p "$dist/debs" "$dist/peer"
  # The Vulkan loader and the GL dispatch libraries NVIDIA's Vulkan driver loads.
  (cd "$dist/debs" && apt-get download libvulkan1 libglvnd0 libegl1 libgl1 libglx0 libopengl0 libgles2 >/dev/null)
  cp "$peer" "$dist/peer/torch_prm_step.py"
  echo "prepared $dist ($(du -sh "$dist" | cut -f1)); node $(node --version)"
}

run() {
  local label=h200 out=${OUT:-$here/../results}
  local -a rest=()
  while [ $# -gt 0 ]; do
    case $1 in
      --label) label=$2; shift 2 ;;
      --out) out=$2; shift 2 ;;
      *) rest+=("$1"); shift ;;
    esac
  done
  [ -f "$dist/webgpu-bench.mjs" ] || { echo "gpu-machine.sh run: $dist/webgpu-bench.mjs is missing; run prepare first" >&2; exit 2; }
  local work
  work=$(mktemp -d)
  xz -dc "$dist/node.xz" >"$work/node"
  chmod +x "$work/node"
  [ -f "$dawn" ] || xz -dk "$dawn.xz"
  # The loader: into / as root (what was measured on the H200 machine), else beside and on the path.
  if [ "$(id -u)" = 0 ] && [ -z "${PQM_NO_SYSTEM_LIBS:-}" ]; then
    for deb in "$dist"/debs/*.deb; do dpkg -x "$deb" /; done
    ldconfig
  else
    for deb in "$dist"/debs/*.deb; do dpkg -x "$deb" "$work/root"; done
    export LD_LIBRARY_PATH="$work/root/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  fi
  for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json \
    /etc/vulkan/icd.d/nvidia_icd.json; do
    if [ -f "$icd" ]; then export VK_DRIVER_FILES=$icd; break; fi
  done
  export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$work/xdg}
  mkdir -p -m 700 "$XDG_RUNTIME_DIR"
  mkdir -p "$out"
  {
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "VK_DRIVER_FILES: ${VK_DRIVER_FILES:-unset}"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 || true
    "${PQM_PEER_PYTHON:-python3}" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" 2>&1 || true
  } | tee "$out/webgpu-$label.machine.txt"
  "$work/node" "$dist/webgpu-bench.mjs" --peer "$dist/peer/torch_prm_step.py" --peer-device "${PQM_PEER_DEVICE:-cuda}" \
    --label "$label" --out "$out/webgpu-$label.json" "${rest[@]}"
}

case ${1:-} in
  prepare) shift; prepare "$@" ;;
  run) shift; run "$@" ;;
  *) echo "usage: gpu-machine.sh prepare --peer <torch_prm_step.py> | run [--label name] [--out folder] [bench flags]" >&2; exit 2 ;;
esac
