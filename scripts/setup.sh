#!/usr/bin/env bash
# Installs everything edgeroute needs on a fresh Debian machine: system packages
# for the C++ build, a project-local Python venv for the reference checks, and
# the pretrained encoder laid out as a Hugging Face directory under models/.
#
# Idempotent: each step checks what is already there and does only what is
# missing, so every Makefile target can call it cheaply.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

venv="${EDGEROUTE_VENV:-$root/.venv}"
models="$root/models"

log() { printf '[setup] %s\n' "$*"; }

apt_packages=(
  build-essential cmake ninja-build pkg-config git
  libutf8proc-dev nlohmann-json3-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libcpp-httplib-dev libtomlplusplus-dev libsqlite3-dev sqlite3 libpq-dev postgresql curl jq
  clang-format clang-tidy prometheus chromium
)

install_apt() {
  local missing=()
  for p in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    log "Debian packages: all present"
    return
  fi
  log "Debian packages: installing ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

install_python() {
  local req="$root/python/requirements.txt"
  local stamp="$venv/.edgeroute-requirements"
  if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && cmp -s "$req" "$stamp"; then
    log "Python venv: up to date ($venv)"
    return
  fi
  log "Python venv: installing $req into $venv"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  local pip_args=(--quiet)
  # The CPU build of torch lies on disk on machines of this kind; without
  # it pip would take a multi-GB CUDA build from PyPI.
  [ -d /opt/wheels ] && pip_args+=(--find-links /opt/wheels)
  "$venv/bin/python" -m pip install "${pip_args[@]}" -r "$req"
  cp "$req" "$stamp"
}

layout_model() {
  local out="$models/all-MiniLM-L6-v2"
  if [ -f "$out/model.safetensors" ] && [ -f "$out/vocab.txt" ] && [ -f "$out/config.json" ] \
     && [ -f "$out/tokenizer_config.json" ]; then
    log "model: $out present"
    return
  fi
  log "model: laying out all-MiniLM-L6-v2 under $out"
  "$venv/bin/python" "$root/python/export_minilm.py" --out "$out"
}

install_apt
install_python
layout_model
log "done"
