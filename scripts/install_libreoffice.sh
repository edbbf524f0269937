#!/usr/bin/env bash
# Install LibreOffice from Debian's packages, without its recommends (no GUI, no Java): the
# headless writer, calc and impress that read legacy .doc and .ppt files for chroma-sync and
# make the test suite's office documents. Also DejaVu fonts (the tests draw text for OCR) and
# libGL, which the OpenCV wheel under the OCR engine loads. About 240 MB; idempotent.
set -euo pipefail

packages=(libreoffice-writer-nogui libreoffice-calc-nogui libreoffice-impress-nogui
  fonts-dejavu-core libgl1)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" \
    || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing from Debian: ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || { "${sudo_cmd[@]}" apt-get update -qq \
      && "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
fi
soffice --version
