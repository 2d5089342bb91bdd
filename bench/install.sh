#!/usr/bin/env bash
# Installs what the benchmark's nginx receiver mode and its wrk ceiling need (Debian packages):
#   nginx                    the receiver (the benchmark starts it itself, with its own config and prefix)
#   libnginx-mod-http-echo   the echo module: answers {"errno":0} and reads the request body so it can be logged
#   wrk                      the HTTP load generator that measures the ceiling against the same nginx
# The distribution's nginx service is not used: the benchmark runs nginx on 127.0.0.1 as a child process.
set -euo pipefail

packages=(nginx libnginx-mod-http-echo wrk)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "bench/install.sh: ${packages[*]} already installed"
  exit 0
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "bench/install.sh: installed ${missing[*]}"
