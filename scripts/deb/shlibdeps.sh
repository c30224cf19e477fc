#!/bin/sh
# Prints the Depends: line for the given ELF binaries: the Debian package of
# every shared library they link directly, as installed on this build host
# (the Swift runtime is linked in statically by `make build-dist`).
set -eu
libs=$(for bin in "$@"; do readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; done | sort -u)
pkgs=
for lib in $libs; do
    path=$(ldconfig -p | awk -v l="$lib" '$1 == l && /x86-64/ { print $NF; exit }')
    if [ -z "$path" ]; then
        echo "shlibdeps: $lib is not a system library (the Swift runtime? build with make build-dist)" >&2
        exit 1
    fi
    real=$(readlink -f "$path")
    owner=
    for p in "$path" "$real" "/usr$path" "/usr$real"; do
        owner=$(dpkg -S "$p" 2>/dev/null | head -n1) && [ -n "$owner" ] && break
    done
    [ -n "$owner" ] || { echo "shlibdeps: no package owns $path" >&2; exit 1; }
    pkgs="$pkgs ${owner%%:*}"
done
printf '%s\n' $pkgs | sort -u | paste -sd, - | sed 's/,/, /g'
