#!/usr/bin/env bash
# Produce an ARM bundle on an x86_64 host, check it, and (optionally) run it under aarch64 emulation.
#
#   samples/cross_compile_bundle.sh SRC OUT.etb [--emulate] [-- EXTRA CONVERT ARGS...]
#
#   SRC        what `edgetext convert` reads: a Paddle inference model, a PaddleNLP checkpoint or a
#              Hugging Face BERT-family folder
#   OUT.etb    the bundle to write
#   --emulate  after building, load the bundle with the aarch64 CPython under qemu (needs
#              `make arm-sysroot`) and classify its golden texts there: proves the ARM model, the
#              vocab and the native tokenizer agree on an ARM CPU before you copy it to a device
#   EXTRA      passed to convert, e.g. --labels negative,positive --precision int8 --trim-vocab corpus.txt
#
# Steps (each is one CLI call you can run by hand):
#   1. edgetext convert SRC --out OUT.etb --targets onnx-arm64,lite-arm --json
#        onnx-arm64: an ONNX model for onnxruntime on aarch64 (Linux/Android)
#        lite-arm:   a Paddle Lite .nb for ARM (opt runs on x86 and writes ARM code; it cannot run here)
#   2. edgetext verify OUT.etb      checksums, manifest schema, golden vectors
#   3. (--emulate) scripts/arm/arm_emulation.py python ...   classify under qemu-aarch64 -cpu cortex-a72
#
# Environment: EDGETEXT (the CLI to call; default .venv/bin/edgetext, else `python -m edgetext`),
# TARGETS (default onnx-arm64,lite-arm; add onnx-x86 to also run the bundle on this host).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
usage() { sed -n '2,25p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }

[ $# -ge 2 ] || usage
SRC="$1"; OUT="$2"; shift 2
EMULATE=0
while [ $# -gt 0 ]; do
    case "$1" in
        --emulate) EMULATE=1; shift ;;
        --) shift; break ;;
        -h|--help) usage 0 ;;
        *) break ;;
    esac
done
EXTRA=("$@")
TARGETS="${TARGETS:-onnx-arm64,lite-arm}"

if [ -n "${EDGETEXT:-}" ]; then
    read -r -a CLI <<<"$EDGETEXT"
elif [ -x "$ROOT/.venv/bin/edgetext" ]; then
    CLI=("$ROOT/.venv/bin/edgetext")
else
    CLI=(python3 -m edgetext)
fi

echo "== 1. convert $SRC -> $OUT (targets $TARGETS)" >&2
"${CLI[@]}" convert "$SRC" --out "$OUT" --targets "$TARGETS" --json "${EXTRA[@]}"

echo "== 2. verify $OUT" >&2
"${CLI[@]}" verify "$OUT"

if [ "$EMULATE" = 1 ]; then
    echo "== 3. classify the golden texts on emulated aarch64 (qemu, cortex-a72)" >&2
    HOST_PY="$ROOT/.venv/bin/python"
    [ -x "$HOST_PY" ] || HOST_PY=python3
    bash "$ROOT/scripts/arm/setup.sh" all
    # the aarch64 wheel (dist/, built by scripts/arm/wheels.py when missing) pip-installed in the emulated venv
    "$HOST_PY" "$ROOT/scripts/arm/arm_emulation.py" install-wheel >/dev/null
    BUNDLE="$(realpath "$OUT")"
    "$HOST_PY" "$ROOT/scripts/arm/arm_emulation.py" python - "$BUNDLE" <<'PY'
import json, platform, sys
import edgetext

path = sys.argv[1]
bundle = edgetext.Bundle.open(path)
report = bundle.verify(predictions=True)  # checksums, golden ids and golden labels of the models this CPU runs
clf = edgetext.TextClassifier(path, backend="auto", threads=1)
print(json.dumps({"machine": platform.machine(), "verify": report, "predictor": clf.describe()},
                 default=str, ensure_ascii=False, indent=1))
texts = [g["text"] for g in bundle.manifest.golden] or ["hello"]
for text, cats in zip(texts, clf.classify_batch(texts, top_k=1)):
    print(f"{cats[0].label}\t{cats[0].score:.4f}\t{text[:60]}")
PY
fi
echo "== done: $OUT" >&2
