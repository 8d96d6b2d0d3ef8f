#!/usr/bin/env bash
# The system packages finreport needs besides Python's: Java (HermiT, the OWL reasoner), Pango, HarfBuzz and a
# font (WeasyPrint), and with --tests poppler-utils (the tests rasterise report pages). `make setup`, and so
# `make report` and `make test`, run this first; so does CI.
#
# Installs what is missing with apt-get when run as root; otherwise prints the one command to run and stops.
# On a system without dpkg (not Debian or Ubuntu) it checks the commands it can and says what to install.
set -euo pipefail

need=()
command -v python3.11 >/dev/null || need+=(python3.11 python3.11-venv)
command -v java >/dev/null || need+=(default-jre-headless)
if [ "${1:-}" = "--tests" ]; then
  command -v pdftoppm >/dev/null || need+=(poppler-utils)
fi
if command -v dpkg >/dev/null; then
  if command -v python3.11 >/dev/null && ! python3.11 -c "import ensurepip" 2>/dev/null; then
    need+=(python3.11-venv)
  fi
  for package in libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core; do
    dpkg -s "$package" >/dev/null 2>&1 || need+=("$package")
  done
elif [ ${#need[@]} -eq 0 ]; then
  echo "system-deps: no dpkg here; make sure Pango, HarfBuzz (with hb-subset) and a TrueType font are installed" >&2
fi

[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "system-deps: installing ${need[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  exit 0
fi
echo "system-deps: finreport needs system packages that are missing; install them, then run make again:" >&2
echo "  sudo apt-get install -y ${need[*]}" >&2
exit 1
