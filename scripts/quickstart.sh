#!/usr/bin/env bash
# Installs what is missing, builds build/, and plans the bundled default: DeepSeek-V3 shapes on
# 4 nodes x 8 GPUs with 32 redundant experts, on a synthetic trace.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh
eplb_install_deps
eplb_build build >/dev/null
echo "build/eplb plan"
build/eplb plan
