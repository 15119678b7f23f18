#!/bin/sh
# Installs the Debian 12 packages sagellm-bench needs to build, test and run.
# As root: installs what is missing with apt-get. Otherwise: prints the exact
# apt-get line and fails, so nothing half-works.
# SAGELLM_SKIP_DEPS=1 skips the check (for packagers with their own tooling).
[ -n "$SAGELLM_SKIP_DEPS" ] && exit 0
PKGS="gcc make pkg-config libc6-dev libcurl4-openssl-dev libzstd-dev libcjson-dev
libpcap-dev libmicrohttpd-dev libhttp-parser-dev libcsv-dev zstd curl tcpdump openssl
nghttp2-proxy openmpi-bin libopenmpi-dev python3 python3-yaml python3-matplotlib python3-numpy libpython3-dev"
missing=""
for p in $PKGS; do
  st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)
  case "$st" in *"install ok installed"*) ;; *) missing="$missing $p" ;; esac
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
  echo "deps: installing:$missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing >&2 || {
    echo "deps: apt-get install failed" >&2; exit 1; }
else
  echo "deps: missing Debian packages. Run as root:" >&2
  echo "  apt-get update && apt-get install -y$missing" >&2
  exit 1
fi
