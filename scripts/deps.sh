#!/usr/bin/env bash
# Install the Debian packages pdsim needs, only the ones that are missing.
# Usage: scripts/deps.sh [build|test|bench|valgrind]...   (works as root on a fresh Debian 12)
set -euo pipefail

pkgs=(build-essential cmake pkg-config libcurl4-openssl-dev libcjson-dev libyaml-dev
      libcivetweb-dev libssl-dev libzmq3-dev libmsgpack-dev libsqlite3-dev)
for what in "$@"; do
  case "$what" in
    build) ;;
    test) pkgs+=(libcmocka-dev python3 clang-format prometheus nodejs npm openssl python3-yaml
                 kubernetes-client clang libclang-rt-14-dev python3-zmq python3-msgpack) ;;
    bench) pkgs+=(nginx-light wrk gnuplot-nox) ;;
    valgrind) pkgs+=(valgrind) ;;
    *) echo "deps.sh: unknown group '$what' (build, test, bench, valgrind)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${pkgs[@]}"; do
  # nodejs/npm may come from the machine image rather than apt: a working binary is enough.
  case "$p" in
    nodejs) command -v node >/dev/null 2>&1 && continue ;;
    npm) command -v npm >/dev/null 2>&1 && continue ;;
    # any kubectl will do (the tests only run `kubectl kustomize`)
    kubernetes-client) command -v kubectl >/dev/null 2>&1 && continue ;;
  esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps.sh: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
