#!/usr/bin/env bash
# Fetch the ImageNet MobileNetV2 that npm package nsfwjs (MIT) ships and convert it to
# training/runs/mobilenet_v2.pt for the feature teacher. Why a script: the weights are not
# committed on their own; they end up inside the exported teacher ONNX.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/runs/mobilenet_v2.pt}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack nsfwjs@4.3.0 --silent >/dev/null && tar xzf nsfwjs-*.tgz)
m="$tmp/package/dist/models/mobilenet_v2"
node -e "
const fs=require('fs');
fs.writeFileSync('$tmp/model.json', JSON.stringify(require('$m/model.min.js')));
fs.writeFileSync('$tmp/shard.b64', require('$m/group1-shard1of1.min.js'));"
mkdir -p "$(dirname "$out")"
/usr/bin/python3 "$here/mobilenet.py" "$tmp/model.json" "$tmp/shard.b64" "$out"
