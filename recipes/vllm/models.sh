# Per-model settings of the vLLM recipes (sourced by serve.sh and eval.sh).
#
#   model_settings NAME   sets HF_ID, VIDEO_KWARGS, LIMIT_MM, TASKS, EXTRA_SERVE_ARGS, MAX_MODEL_LEN
#
# Frame sampling follows the paper (App. C.2): the *server* decodes each clip (the suite sends
# native videos as file:// URLs, so temporal encoding is kept), so the sampling lives in
# vLLM's --media-io-kwargs:
#   Qwen3-VL      2 fps (all frames read, resampled at 2 fps)
#   InternVL3.5   48 frames uniformly
#   Molmo2        4 fps, at most 64 frames
# vLLM's video-loader options have changed between releases (fps / num_frames / max_frames);
# check them against your vLLM version and override with VIDEO_KWARGS='{"video": {...}}'.
#
# A k-shot question has k + 1 videos (up to 4) and the middle-frame ablation one image, so
# --limit-mm-per-prompt allows 4 videos and 1 image.  Molmo2 takes one video per prompt:
# its TASKS are the MC and 0-shot tasks only (the paper reports no k-shot numbers for it).

model_settings() {
  case "$1" in
    qwen3-vl-8b)
      HF_ID="${HF_ID:-Qwen/Qwen3-VL-8B-Instruct}"
      VIDEO_KWARGS="${VIDEO_KWARGS:-{\"video\": {\"fps\": 2, \"num_frames\": -1}}}"
      LIMIT_MM="${LIMIT_MM:-{\"video\": 4, \"image\": 1}}"
      MAX_MODEL_LEN="${MAX_MODEL_LEN:-131072}"
      TASKS="${TASKS:-videonet_all,videonet_mc_val}"
      EXTRA_SERVE_ARGS=()
      ;;
    internvl3.5-8b)
      HF_ID="${HF_ID:-OpenGVLab/InternVL3_5-8B}"
      VIDEO_KWARGS="${VIDEO_KWARGS:-{\"video\": {\"num_frames\": 48}}}"
      LIMIT_MM="${LIMIT_MM:-{\"video\": 4, \"image\": 1}}"
      MAX_MODEL_LEN="${MAX_MODEL_LEN:-65536}"
      TASKS="${TASKS:-videonet_all,videonet_mc_val}"
      EXTRA_SERVE_ARGS=(--trust-remote-code)
      ;;
    molmo2-8b)
      HF_ID="${HF_ID:-allenai/Molmo2-8B}"
      VIDEO_KWARGS="${VIDEO_KWARGS:-{\"video\": {\"fps\": 4, \"num_frames\": 64}}}"
      LIMIT_MM="${LIMIT_MM:-{\"video\": 1, \"image\": 1}}"
      MAX_MODEL_LEN="${MAX_MODEL_LEN:-36864}"
      TASKS="${TASKS:-videonet_mc,videonet_mc_val,videonet_binary_hard_0shot,videonet_binary_random_0shot}"
      EXTRA_SERVE_ARGS=(--trust-remote-code)
      ;;
    *)
      echo "unknown model '$1'; choose qwen3-vl-8b, internvl3.5-8b or molmo2-8b" >&2
      return 2
      ;;
  esac
}

# The benchmark directory (absolute: vLLM only reads local files below --allowed-local-media-path).
data_root() {
  local data="${VIDEONET_DATA:-videonet}"
  if [[ ! -d "$data" ]]; then
    echo "benchmark directory '$data' not found; build it with 'videonet build-benchmark ANNOTATIONS --out videonet' or set VIDEONET_DATA" >&2
    return 2
  fi
  (cd "$data" && pwd -P)
}

# Print a command (DRY_RUN=1) or run it.
run() {
  if [[ "${DRY_RUN:-0}" == "1" ]]; then
    printf '%q ' "$@"
    printf '\n'
  else
    "$@"
  fi
}
