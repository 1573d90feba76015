#!/usr/bin/env bash
# Start an OpenAI-compatible vLLM server for one of the paper's open models, set up for the
# VideoNet suite (native multi-video prompts read from the local benchmark directory).
#
#   VIDEONET_DATA=videonet bash recipes/vllm/serve.sh qwen3-vl-8b [extra vllm serve args]
#
# Models: qwen3-vl-8b, internvl3.5-8b, molmo2-8b (settings in models.sh).
# Environment: VIDEONET_DATA (benchmark dir, default ./videonet), HOST (127.0.0.1), PORT (8000),
# TP (tensor parallel size, 1), GPU_MEM (0.9), DRY_RUN=1 prints the command instead.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=models.sh
source "$here/models.sh"

model="${1:-}"
if [[ -z "$model" ]]; then
  echo "usage: $0 {qwen3-vl-8b|internvl3.5-8b|molmo2-8b} [extra vllm serve args]" >&2
  exit 2
fi
shift
model_settings "$model"
root="$(data_root)"

run vllm serve "$HF_ID" \
  --host "${HOST:-127.0.0.1}" --port "${PORT:-8000}" \
  --served-model-name "$HF_ID" \
  --tensor-parallel-size "${TP:-1}" \
  --gpu-memory-utilization "${GPU_MEM:-0.9}" \
  --max-model-len "$MAX_MODEL_LEN" \
  --limit-mm-per-prompt "$LIMIT_MM" \
  --media-io-kwargs "$VIDEO_KWARGS" \
  --allowed-local-media-path "$root" \
  "${EXTRA_SERVE_ARGS[@]}" "$@"
