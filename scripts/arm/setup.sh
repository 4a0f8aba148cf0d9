#!/usr/bin/env bash
# Sets up ARM emulation on an x86_64 Debian host. Idempotent: each part is skipped when done.
#
#   scripts/arm/setup.sh toolchain   qemu-user-static + aarch64/armhf cross gcc and libc (apt; ~20 s)
#   scripts/arm/setup.sh sysroot     aarch64 CPython 3.11 from Debian arm64 .debs in .cache/arm/sysroot (~20 s)
#   scripts/arm/setup.sh wheels      aarch64 cp311 wheels (requirements-aarch64.txt) in .cache/arm/site
#   scripts/arm/setup.sh all         all three (default)
#
# Run an aarch64 Python afterwards:
#   qemu-aarch64-static -cpu cortex-a72 -L .cache/arm/sysroot .cache/arm/sysroot/usr/bin/python3.11
# (scripts/arm/arm_emulation.py wraps this, see its docstring). Pitfalls handled here: the sysroot gets an
# ARM-style proc/cpuinfo (onnxruntime segfaults on the host's x86 one), and the target's cffi is pinned to
# the host's (the host generates the extension's C).
#
# Exit status 3 means "apt is unreachable": callers (the fast smoke) may skip on it, nothing else.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ARM_CACHE="${ARM_CACHE:-$ROOT/.cache/arm}"
SYSROOT="$ARM_CACHE/sysroot"
SITE="$ARM_CACHE/site"
REQS="$ROOT/scripts/arm/requirements-aarch64.txt"
HOST_PY="${HOST_PY:-$ROOT/.venv/bin/python}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive

log() { printf '[arm-setup] %s\n' "$*" >&2; }
die() { log "error: $*"; exit "${2:-1}"; }

TOOLCHAIN_PKGS=(qemu-user-static gcc-aarch64-linux-gnu libc6-dev-arm64-cross gcc-arm-linux-gnueabihf libc6-dev-armhf-cross)

toolchain_ok() {
    command -v qemu-aarch64-static >/dev/null && command -v qemu-arm-static >/dev/null \
        && command -v aarch64-linux-gnu-gcc >/dev/null && command -v arm-linux-gnueabihf-gcc >/dev/null \
        && [ -f /usr/aarch64-linux-gnu/include/stdio.h ] && [ -f /usr/arm-linux-gnueabihf/include/stdio.h ]
}

# Wait for another apt/dpkg run (a colleague's install) instead of failing on its lock.
APT=(apt-get -o DPkg::Lock::Timeout=300)

apt_update() {
    $SUDO "${APT[@]}" update -qq >/dev/null 2>&1 \
        || die "apt-get update failed: the Debian mirror is unreachable" 3
}

setup_toolchain() {
    if toolchain_ok; then log "toolchain: present"; return; fi
    log "toolchain: installing ${TOOLCHAIN_PKGS[*]}"
    apt_update
    $SUDO "${APT[@]}" install -y -q --no-install-recommends "${TOOLCHAIN_PKGS[@]}" >/dev/null \
        || die "apt-get install ${TOOLCHAIN_PKGS[*]} failed"
    toolchain_ok || die "toolchain still incomplete after apt-get install"
}

# The arm64 .debs python3.11 needs (plus headers and libstdc++ for onnxruntime), resolved by apt so that
# the list follows the mirror. Tools (dpkg, tar, perl, ...) are left out: only libraries and python.
sysroot_packages() {
    apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
        --no-replaces --no-enhances \
        python3.11:arm64 libpython3.11-dev:arm64 libstdc++6:arm64 2>/dev/null \
        | grep -E '^[a-z0-9][a-z0-9.+-]*:arm64$' \
        | grep -vE '^(dpkg|tar|install-info|libc-dev-bin|rpcsvc-proto|perl|perl-base):' \
        | sort -u
}

fake_cpuinfo() {
    # What an aarch64 guest expects to read (Cortex-A72, the CPU qemu is asked to emulate).
    local n
    for n in 0 1 2 3; do
        printf 'processor\t: %d\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\n' "$n"
        printf 'CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd08\nCPU revision\t: 3\n\n'
    done
}

setup_sysroot() {
    if [ -f "$SYSROOT/.stamp" ] && [ -x "$SYSROOT/usr/bin/python3.11" ]; then log "sysroot: present"; return; fi
    toolchain_ok || setup_toolchain
    if ! dpkg --print-foreign-architectures | grep -qx arm64; then
        log "sysroot: dpkg --add-architecture arm64"
        $SUDO dpkg --add-architecture arm64
        apt_update
    fi
    if ! apt-cache show python3.11:arm64 >/dev/null 2>&1; then apt_update; fi
    apt-cache show python3.11:arm64 >/dev/null 2>&1 || die "no python3.11:arm64 in the apt lists" 3

    local debs="$ARM_CACHE/debs" tmp="$ARM_CACHE/sysroot.tmp"
    mkdir -p "$debs"
    mapfile -t pkgs < <(sysroot_packages)
    [ "${#pkgs[@]}" -gt 5 ] || die "could not resolve the arm64 python3.11 dependencies"
    log "sysroot: apt-get download ${#pkgs[@]} arm64 packages"
    # apt-get download as root warns about the unsandboxed _apt user; harmless.
    (cd "$debs" && apt-get download -q "${pkgs[@]}" >/dev/null 2>&1) \
        || die "apt-get download of the arm64 packages failed" 3
    rm -rf "$tmp"
    mkdir -p "$tmp"
    local deb
    for deb in "$debs"/*_arm64.deb; do
        dpkg -x "$deb" "$tmp"
    done
    # Absolute symlinks (e.g. /lib/ld-linux-aarch64.so.1) would point into the host: make them relative.
    while IFS= read -r -d '' link; do
        local target rel
        target="$(readlink "$link")"
        rel="$(realpath -m --relative-to="$(dirname "$link")" "$tmp$target")"
        ln -sfn "$rel" "$link"
    done < <(find "$tmp" -type l -lname '/*' -print0)
    mkdir -p "$tmp/proc"
    fake_cpuinfo >"$tmp/proc/cpuinfo"
    local got
    got="$(qemu-aarch64-static -cpu cortex-a72 -L "$tmp" "$tmp/usr/bin/python3.11" -S -c \
        'import platform, sysconfig; print(platform.machine(), sysconfig.get_config_var("EXT_SUFFIX"))')" \
        || die "the aarch64 python3.11 does not start under qemu"
    log "sysroot: guest python says: $got"
    case "$got" in aarch64*) ;; *) die "unexpected guest machine: $got" ;; esac
    touch "$tmp/.stamp"
    rm -rf "$SYSROOT"
    mv "$tmp" "$SYSROOT"
}

WHEEL_FLAGS=(--only-binary=:all: --python-version 3.11 --implementation cp --abi cp311 --abi abi3 --abi none
    --platform manylinux_2_28_aarch64 --platform manylinux_2_27_aarch64 --platform manylinux_2_26_aarch64
    --platform manylinux_2_24_aarch64 --platform manylinux_2_17_aarch64 --platform manylinux2014_aarch64
    --platform linux_aarch64 --platform any)

setup_wheels() {
    [ -x "$HOST_PY" ] || HOST_PY="$(command -v python3)"
    local want host_cffi stamp
    want="$(sed -n 's/^cffi==\([^ ]*\).*/\1/p' "$REQS")"
    host_cffi="$("$HOST_PY" -c 'import cffi; print(cffi.__version__)' 2>/dev/null || echo none)"
    [ "$host_cffi" = "$want" ] || die "host cffi ($host_cffi from $HOST_PY) != target pin cffi==$want in $REQS: \
the C the host generates must match the target's _cffi_backend; pin both to one version"
    stamp="$(sha256sum "$REQS" | cut -c1-16)"
    if [ "$(cat "$SITE/.stamp" 2>/dev/null)" = "$stamp" ]; then log "wheels: present"; return; fi
    local wheels="$ARM_CACHE/wheels" tmp="$ARM_CACHE/site.tmp"
    rm -rf "$wheels" "$tmp"
    mkdir -p "$wheels"
    log "wheels: pip download (aarch64, cp311) -r $(basename "$REQS")"
    "$HOST_PY" -m pip download -q --disable-pip-version-check "${WHEEL_FLAGS[@]}" -d "$wheels" -r "$REQS" \
        2> >(grep -v "is ignored: it is neither a file nor a directory" >&2) \
        || die "pip download of the aarch64 wheels failed (PyPI unreachable?)" 3
    "$HOST_PY" -m pip install -q --disable-pip-version-check --no-index --no-deps --target "$tmp" \
        "${WHEEL_FLAGS[@]}" "$wheels"/*.whl >/dev/null
    echo "$stamp" >"$tmp/.stamp"
    rm -rf "$SITE"
    mv "$tmp" "$SITE"
}

timed() {
    local start=$SECONDS
    "$@"
    log "$1 done in $((SECONDS - start)) s"
}

part="${1:-all}"
mkdir -p "$ARM_CACHE"
case "$part" in
    toolchain) timed setup_toolchain ;;
    sysroot) timed setup_toolchain; timed setup_sysroot ;;
    wheels) timed setup_wheels ;;
    all) timed setup_toolchain; timed setup_sysroot; timed setup_wheels ;;
    *) die "usage: $0 [toolchain|sysroot|wheels|all]" 2 ;;
esac
