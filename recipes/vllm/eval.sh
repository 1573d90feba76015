#!/usr/bin/env bash
# Run the VideoNet suite against a server started by serve.sh, then write the report.
#
#   VIDEONET_DATA=videonet bash recipes/vllm/eval.sh qwen3-vl-8b [extra videonet eval args]
#
# lmms-eval's `openai` chat backend with pass_video_url=True sends each clip as a file:// video
# URL, so the server decodes it with the sampling set in serve.sh (native video, timestamps
# kept) instead of lmms-eval's 32 client-side frames; the VideoNet preset is therefore
# `native` (the task sends the clip, not frames).
# Environment: VIDEONET_DATA, HOST, PORT, OUT (runs/vllm), TASKS (per model, see models.sh),
# WAIT (seconds to wait for the server, 1800), CONCURRENCY (16), DRY_RUN=1 prints the commands.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=models.sh
source "$here/models.sh"

model="${1:-}"
if [[ -z "$model" ]]; then
  echo "usage: $0 {qwen3-vl-8b|internvl3.5-8b|molmo2-8b} [extra videonet eval args]" >&2
  exit 2
fi
shift
model_settings "$model"
root="$(data_root)"
base_url="http://${HOST:-127.0.0.1}:${PORT:-8000}/v1"
out="${OUT:-runs/vllm}/$model"

if [[ "${DRY_RUN:-0}" != "1" ]]; then
  echo "waiting for $base_url/models ..." >&2
  deadline=$((SECONDS + ${WAIT:-1800}))
  until curl -sf "$base_url/models" >/dev/null; do
    if ((SECONDS > deadline)); then
      echo "server at $base_url did not come up within ${WAIT:-1800}s" >&2
      exit 1
    fi
    sleep 10
  done
fi

run videonet eval --data "$root" --preset native \
  --model openai \
  --model_args "model_version=$HF_ID,base_url=$base_url,api_key=EMPTY,pass_video_url=True,timeout=900,max_retries=3,num_concurrent=${CONCURRENCY:-16},httpx_trust_env=False" \
  --tasks "$TASKS" \
  --output_path "$out" --log_samples "$@"
run videonet report "$model=$out" --out "$out/report"
