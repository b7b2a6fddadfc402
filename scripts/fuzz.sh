#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz natively (clang, ASan + UBSan) in build/fuzz and runs
# each for a while on a work corpus seeded from real files (docs/fuzzing.md).
#
#   scripts/fuzz.sh [seconds-per-target] [target ...]      targets: model_file tfjs_import image
#   scripts/fuzz.sh build                                  only build the targets and the seeds
#
# Environment: CC (default clang), WT_SHARED_DIR (default ../shared beside the repository),
# FUZZ_NICE (default 10), FUZZ_ARGS (extra libFuzzer flags). One target runs at a time, in one
# process. A finding is written to build/fuzz/artifacts/<target>/; see docs/fuzzing.md for how to
# minimise it and add it to tests/fuzz/regressions/<target>/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/build/fuzz"
SHARED="${WT_SHARED_DIR:-$ROOT/../shared}"
CC="${CC:-clang}"
ALL_TARGETS="model_file tfjs_import image"

BUILD_ONLY=0
SECS=60
if [[ $# -gt 0 ]]; then
  if [[ "$1" == build ]]; then BUILD_ONLY=1; else SECS="$1"; fi
  shift
fi
TARGETS="${*:-$ALL_TARGETS}"

if ! command -v "$CC" >/dev/null; then
  echo "fuzz.sh: $CC not found (Debian: apt-get install clang libclang-rt-14-dev libsimde-dev libstb-dev)" >&2
  exit 1
fi

# Same defines and SIMD setting as the native CMake build of the core (CMakeLists.txt).
SIMDE_INC=/usr/include
[[ -f $SIMDE_INC/simde/wasm/simd128.h ]] || { echo "fuzz.sh: SIMDe missing (apt-get install libsimde-dev)" >&2; exit 1; }
CFLAGS=(-std=gnu11 -g -O1 -fno-omit-frame-pointer -msse4.1 -I"$ROOT/include" -I"$ROOT/src" -I"$SIMDE_INC")
# shellcheck disable=SC2054 # the commas belong to the flag
SAN=(-fsanitize=address,undefined -fno-sanitize-recover=undefined)

mkdir -p "$OUT/obj" "$OUT/seeds" "$OUT/logs"

# ---- build: the core with coverage instrumentation, then each target -------------------------
build_core() {
  local objs=() src obj
  for src in "$ROOT"/src/*.c "$ROOT"/src/kernels/*.c; do
    obj="$OUT/obj/$(basename "$(dirname "$src")")_$(basename "${src%.c}").o"
    # rebuild when the source or any header is newer than the object
    if [[ ! -f $obj || $src -nt $obj || -n $(find "$ROOT/src" "$ROOT/include" -name '*.h' -newer "$obj" -print -quit) ]]; then
      local extra=()
      [[ $(basename "$src") == image_stb.c ]] && extra=(-fwrapv) # as CMakeLists.txt compiles it
      "$CC" "${CFLAGS[@]}" "${SAN[@]}" "${extra[@]}" -fsanitize=fuzzer-no-link -c "$src" -o "$obj"
    fi
    objs+=("$obj")
  done
  CORE_OBJS=("${objs[@]}")
}

build_target() {
  local t=$1
  "$CC" "${CFLAGS[@]}" "${SAN[@]}" -fsanitize=fuzzer -I"$ROOT/tests/fuzz" \
    "$ROOT/tests/fuzz/fuzz_$t.c" "${CORE_OBJS[@]}" -lpthread -lm -o "$OUT/fuzz_$t"
}

# ---- seeds: built at run time from the shared files and tiny nets -----------------------------
make_seeds() {
  local s="$OUT/seeds"
  rm -rf "$s"
  mkdir -p "$s/model_file" "$s/tfjs_import" "$s/image"
  "$CC" "${CFLAGS[@]}" "${SAN[@]}" "$ROOT/tests/fuzz/seedgen.c" "${CORE_OBJS[@]}" -fsanitize=fuzzer-no-link \
    -lpthread -lm -o "$OUT/seedgen"
  "$OUT/seedgen" "$s" "$SHARED" "$ROOT/tests/fuzz/seeds/tfjs_import"

  # images: one control byte, then the image (fuzz_image.c)
  local flowers="$SHARED/datasets/flowers" i=0 f
  add_image() { # <file> <control byte 0..255>
    { printf '%b' "\\x$(printf %02x "$2")"; cat "$1"; } >"$s/image/$(basename "$1").c$2"
  }
  if [[ -d $flowers ]]; then
    # a few real photos as they are (the smallest ones: < 32 KiB)
    while IFS= read -r f; do
      add_image "$f" $((i * 37 % 256)); i=$((i + 1))
    done < <(find "$flowers" -name '*.jpg' -size -32k | sort | head -n 4)
    if convert -version 2>/dev/null | grep -q ImageMagick; then
      local src tmp="$OUT/seeds/tmp"
      mkdir -p "$tmp"
      src=$(find "$flowers" -name '*.jpg' | sort | head -n 1)
      convert "$src" -resize 24x17! -quality 75 "$tmp/small.jpg"
      convert "$src" -resize 20x20! -interlace JPEG -quality 60 "$tmp/progressive.jpg"
      convert "$src" -resize 16x12! -colorspace Gray "$tmp/grey.jpg"
      convert "$src" -resize 16x16! -colorspace CMYK "$tmp/cmyk.jpg"
      convert "$src" -resize 9x7! -sampling-factor 4:2:0 -quality 90 "$tmp/subsampled.jpg"
      convert "$src" -resize 12x8! -orient RightTop "$tmp/exif6.jpg"
      convert "$src" -resize 12x8! -orient LeftBottom "$tmp/exif8.jpg"
      convert "$src" -resize 16x16! "$tmp/rgb8.png"
      convert "$src" -resize 13x9! -depth 16 "$tmp/rgb16.png"
      convert "$src" -resize 15x11! -colors 16 PNG8:"$tmp/palette.png"
      convert "$src" -resize 10x10! -colorspace Gray -depth 1 "$tmp/grey1.png"
      convert "$src" -resize 11x7! -colorspace Gray -depth 4 "$tmp/grey4.png"
      convert "$src" -resize 17x13! -interlace PNG "$tmp/interlaced.png"
      convert "$src" -resize 8x8! -alpha set -channel A -evaluate set 50% PNG32:"$tmp/rgba.png"
      convert "$src" -resize 8x6! -colorspace Gray -alpha set PNG:"$tmp/grey_alpha.png"
      i=0
      for f in "$tmp"/*; do add_image "$f" $((i * 53 % 256)); i=$((i + 1)); done
      rm -rf "$tmp"
    else
      echo "fuzz.sh: ImageMagick (convert) not found: image seeds are the photos only" >&2
    fi
  else
    echo "fuzz.sh: $flowers not found: no photo seeds" >&2
  fi
  printf '\x00\xff\xd8\xff' >"$s/image/jpeg_magic"
  printf '\x03\x89PNG\r\n\x1a\n' >"$s/image/png_magic"
  echo "fuzz.sh: seeds: $(ls "$s/model_file" | wc -l) model files, $(ls "$s/tfjs_import" | wc -l) tfjs inputs, $(ls "$s/image" | wc -l) images"
}

build_core
for t in $ALL_TARGETS; do build_target "$t"; done
make_seeds
echo "fuzz.sh: built $(for t in $ALL_TARGETS; do printf '%s ' "build/fuzz/fuzz_$t"; done)"
[[ $BUILD_ONLY == 1 ]] && exit 0

# ---- run ------------------------------------------------------------------------------------
max_len() {
  case $1 in
    model_file) echo 65536 ;;
    tfjs_import) echo 131072 ;; # the Teachable Machine model.json is 90 KiB
    image) echo 65536 ;;
  esac
}

status=0
for t in $TARGETS; do
  corpus="$OUT/corpus/$t" artifacts="$OUT/artifacts/$t"
  mkdir -p "$corpus" "$artifacts"
  log="$OUT/logs/$t-$(date +%Y%m%d-%H%M%S).log"
  dict=()
  [[ -f $ROOT/tests/fuzz/$t.dict ]] && dict=(-dict="$ROOT/tests/fuzz/$t.dict")
  echo "fuzz.sh: $t for ${SECS}s (log $log)"
  start=$(date +%s)
  set +e
  nice -n "${FUZZ_NICE:-10}" "$OUT/fuzz_$t" "$corpus" "$OUT/seeds/$t" "$ROOT/tests/fuzz/regressions/$t" \
    -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -max_len="$(max_len "$t")" \
    -artifact_prefix="$artifacts/" -print_final_stats=1 "${dict[@]}" ${FUZZ_ARGS:-} >"$log" 2>&1
  rc=$?
  set -e
  secs=$(($(date +%s) - start))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$t" "${secs:-?}" "${execs:-?}" "$(ls "$corpus" | wc -l)" "$rc" \
    >>"$OUT/stats.tsv"
  echo "fuzz.sh: $t: exit $rc, ${execs:-?} executions in ${secs:-?} s, corpus $(ls "$corpus" | wc -l) inputs"
  if [[ $rc != 0 ]]; then
    status=1
    grep -m 3 -E 'ERROR|SUMMARY|FUZZ_CHECK|Test unit written' "$log" || true
  fi
done
echo "fuzz.sh: totals per target (build/fuzz/stats.tsv: seconds, executions):"
awk -F'\t' '{ s[$2] += $3; e[$2] += $4 } END { for (t in s) printf "  %-12s %8d s %12d execs\n", t, s[t], e[t] }' "$OUT/stats.tsv"
exit $status
