#!/bin/sh
# Installs the ezra executable for this machine: picks the release artifact for this OS, CPU and
# libc, downloads it and SHA256SUMS, checks the checksum, and only then moves it into place.
#
#   curl -fsSL https://github.com/ezra-queue/ezra/releases/latest/download/install.sh | sh
#   sh install.sh [--version VERSION] [--dir DIR] [--base-url URL]
#
# Settings (a flag wins over its variable):
#   --version, EZRA_VERSION       release to install, e.g. 0.1.0 or v0.1.0 (default: latest)
#   --dir, EZRA_INSTALL_DIR       where to put ezra (default: /usr/local/bin as root, else ~/.local/bin)
#   --base-url, EZRA_BASE_URL     folder holding the artifacts and SHA256SUMS
#                                 (default: the GitHub release of that version)
set -eu

# The repository releases are published from. Placeholder: set it to the real repository.
REPOSITORY_URL="https://github.com/ezra-queue/ezra"

say() { printf 'ezra install: %s\n' "$*"; }
die() {
  printf 'ezra install: error: %s\n' "$*" >&2
  exit 1
}

usage() {
  cat <<'USAGE'
Usage: sh install.sh [--version VERSION] [--dir DIR] [--base-url URL]

  --version VERSION  release to install, e.g. 0.1.0 (env EZRA_VERSION; default: latest)
  --dir DIR          install directory (env EZRA_INSTALL_DIR; default: /usr/local/bin
                     as root, ~/.local/bin otherwise)
  --base-url URL     folder with the ezra-<os>-<arch> artifacts and SHA256SUMS
                     (env EZRA_BASE_URL; default: the GitHub release of VERSION)
  -h, --help         show this help
USAGE
}

version="${EZRA_VERSION:-latest}"
install_dir="${EZRA_INSTALL_DIR:-}"
base_url="${EZRA_BASE_URL:-}"

# A flag's value: "--flag value" or "--flag=value"; $2 is the next argument, if any.
need_value() {
  [ "$2" -ge 2 ] || die "$1 needs a value (see --help)"
}
while [ $# -gt 0 ]; do
  case "$1" in
    --version) need_value "$1" $#; version=$2; shift 2 ;;
    --version=*) version=${1#*=}; shift ;;
    --dir) need_value "$1" $#; install_dir=$2; shift 2 ;;
    --dir=*) install_dir=${1#*=}; shift ;;
    --base-url) need_value "$1" $#; base_url=$2; shift 2 ;;
    --base-url=*) base_url=${1#*=}; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown option: $1 (see --help)" ;;
  esac
done

# --- which artifact ---------------------------------------------------------

# glibc or musl: ldd says which libc it belongs to; failing that, musl's loader is the sign.
linux_libc() {
  case "$(ldd --version 2>&1 || true)" in
    *musl*) echo musl; return ;;
    *GLIBC* | *"GNU libc"* | *glibc*) echo glibc; return ;;
  esac
  for loader in /lib/ld-musl-*.so.1; do
    if [ -e "$loader" ]; then echo musl; return; fi
  done
  echo glibc
}

unsupported() {
  die "no ezra build for $1. Builds exist for Linux (x86_64, aarch64; glibc or musl), macOS (x86_64, arm64) and Windows (x86_64); on anything else build from source: https://github.com/ezra-queue/ezra/blob/main/docs/install.md"
}

uname_s=$(uname -s)
uname_m=$(uname -m)
case "$uname_s" in
  Linux) os=linux ;;
  Darwin) os=darwin ;;
  MINGW* | MSYS* | CYGWIN*) os=windows ;;
  *) unsupported "$uname_s $uname_m" ;;
esac
case "$uname_m" in
  x86_64 | amd64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) unsupported "$uname_s $uname_m" ;;
esac
# A shell under Rosetta reports x86_64 on an Apple Silicon Mac: the native build is better.
if [ "$os" = darwin ] && [ "$arch" = x64 ] && [ "$(sysctl -n sysctl.proc_translated 2>/dev/null || true)" = 1 ]; then
  arch=arm64
fi
if [ "$os" = windows ] && [ "$arch" != x64 ]; then unsupported "$uname_s $uname_m"; fi

artifact="ezra-$os-$arch"
binary=ezra
if [ "$os" = linux ] && [ "$(linux_libc)" = musl ]; then artifact="$artifact-musl"; fi
if [ "$os" = windows ]; then artifact="$artifact.exe"; binary=ezra.exe; fi

version=${version#v}
if [ -z "$base_url" ]; then
  if [ "$version" = latest ]; then
    base_url="$REPOSITORY_URL/releases/latest/download"
  else
    base_url="$REPOSITORY_URL/releases/download/v$version"
  fi
fi
base_url=${base_url%/}

if [ -z "$install_dir" ]; then
  if [ "$(id -u)" = 0 ]; then
    install_dir=/usr/local/bin
  elif [ -n "${HOME:-}" ]; then
    install_dir="$HOME/.local/bin"
  else
    die "HOME is not set: choose the install directory with --dir or EZRA_INSTALL_DIR"
  fi
fi

# --- download and verify ----------------------------------------------------

if command -v curl >/dev/null 2>&1; then
  fetch_with=curl
elif command -v wget >/dev/null 2>&1; then
  fetch_with=wget
else
  die "neither curl nor wget is installed; install one (apt-get install curl, apk add curl, dnf install curl, brew install curl) and run this again"
fi

# fetch URL FILE
fetch() {
  if [ "$fetch_with" = curl ]; then
    curl --fail --silent --show-error --location --proto '=https,http' --output "$2" "$1"
  else
    wget --quiet --output-document="$2" "$1"
  fi || die "could not download $1"
}

# sha256 FILE: the hex digest, with whichever tool this system has.
sha256() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | awk '{ print $1 }'
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | awk '{ print $1 }'
  elif command -v openssl >/dev/null 2>&1; then
    openssl dgst -sha256 "$1" | awk '{ print $NF }'
  else
    die "cannot verify the download: install sha256sum (coreutils), shasum (perl) or openssl"
  fi
}

work=$(mktemp -d 2>/dev/null || mktemp -d -t ezra-install) || die "cannot create a temporary directory"
staged=""
cleanup() {
  rm -rf "$work"
  if [ -n "$staged" ]; then rm -f "$staged"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "downloading $artifact ($version) from $base_url with $fetch_with"
fetch "$base_url/$artifact" "$work/$artifact"
fetch "$base_url/SHA256SUMS" "$work/SHA256SUMS"

# sha256sum lines are "<hex>  <name>" (or "<hex> *<name>" in binary mode).
expected=$(awk -v name="$artifact" '$2 == name || $2 == "*" name { print $1; exit }' "$work/SHA256SUMS")
[ -n "$expected" ] || die "SHA256SUMS at $base_url has no line for $artifact; nothing was installed"
actual=$(sha256 "$work/$artifact")
if [ "$actual" != "$expected" ]; then
  die "checksum mismatch for $artifact: SHA256SUMS says $expected, the download is $actual; nothing was installed"
fi
say "checksum verified (sha256 $actual)"

# --- install ----------------------------------------------------------------

mkdir -p "$install_dir" || die "cannot create $install_dir (choose another with --dir)"
target="$install_dir/$binary"
# Copy next to the target, then rename: a rename within one directory is atomic, so the
# target is either the old binary or the whole new one, never a partial copy.
staged="$install_dir/.$binary.install.$$"
cp "$work/$artifact" "$staged" || die "cannot write to $install_dir (choose another with --dir, or run as a user who can)"
chmod 755 "$staged"
mv -f "$staged" "$target" || die "cannot replace $target"
staged=""
say "installed $target"

if installed_version=$("$target" --version 2>/dev/null); then
  say "$installed_version"
else
  say "warning: $target --version did not run on this machine; see docs/install.md to build from source"
fi

case ":$PATH:" in
  *":$install_dir:"*)
    say "next: ezra --data-dir ./data --create-data-dir"
    ;;
  *)
    say "$install_dir is not on your PATH; add it (e.g. in ~/.profile):"
    say "  export PATH=\"$install_dir:\$PATH\""
    say "next: $target --data-dir ./data --create-data-dir"
    ;;
esac
