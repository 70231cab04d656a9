#!/usr/bin/env bash
# Installs the system packages kvsql's build needs when they are missing: a C++ compiler,
# and clang with libclang (bindgen uses it to build the RocksDB bindings).
# Debian/Ubuntu; runs apt-get directly as root, through sudo otherwise.
set -euo pipefail

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found; install Rust first: https://rustup.rs" >&2
  exit 1
fi
if ! command -v dpkg >/dev/null 2>&1; then
  echo "setup: not a Debian-like system; make sure clang, libclang and a C++ compiler are installed" >&2
  exit 0
fi

# Ask dpkg, not the file system: fresh machines carry libclang-cpp.so, which bindgen
# cannot use, and no libclang.so.
missing=()
for package in g++ clang libclang-dev; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "setup: installing ${missing[*]} (needed to build RocksDB)" >&2
if [ "$(id -u)" -eq 0 ]; then
  sudo=""
elif command -v sudo >/dev/null 2>&1; then
  sudo="sudo"
else
  echo "setup: please install as root: apt-get install -y ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq "${missing[@]}" >/dev/null
