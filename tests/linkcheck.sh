#!/usr/bin/env bash
# tests/linkcheck.sh — the folder dependency order of README.md ("Layout and
# dependency order"), checked on the built objects: every symbol a folder's
# objects use (nm -u) must be defined in that folder, in a folder it may
# depend on, or outside the project (libc, libcurl, ...). A call into a
# folder it may not use (clients/ into replay/, say) fails here.
# Usage: tests/linkcheck.sh [OBJDIR]   (default build; make test passes O)
set -u
cd "$(dirname "$0")/.."
O=${1:-build}

# Folder: the folders it may use, as the README's table says.
declare -A may=(
    [common]=""
    [traces]="common"
    [engine]="common traces"
    [clients]="common traces engine"
    [replay]="common traces clients analysis"
    [capture]="common traces"
    [analysis]="common traces"
    [cli]="common traces engine clients replay capture analysis"
)
folders="common traces engine clients replay capture analysis cli"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
for d in $folders; do
    # The objects of the folder's current sources (not stale ones of moved files).
    objs=()
    for c in "$d"/*.c "$d"/*.S; do
        [ -f "$c" ] && objs+=("$O/${c%.*}.o")
    done
    for o in "${objs[@]}"; do
        [ -f "$o" ] || { echo "FAIL $d: $o is missing (build first)"; objs=(); break; }
    done
    if [ ${#objs[@]} = 0 ]; then fail=$((fail + 1)); continue; fi
    nm --defined-only -g "${objs[@]}" | awk 'NF == 3 { print $3 }' | sort -u > "$tmp/def.$d"
    nm -u "${objs[@]}" | awk 'NF == 2 { print $2 }' | sort -u > "$tmp/und.$d"
done
for d in $folders; do
    [ -f "$tmp/und.$d" ] || continue
    bad=0
    for e in $folders; do
        [ "$e" = "$d" ] && continue
        case " ${may[$d]} " in *" $e "*) continue ;; esac
        syms=$(comm -12 "$tmp/und.$d" "$tmp/def.$e")
        if [ -n "$syms" ]; then
            echo "FAIL $d/ uses $e/, which the README's dependency order does not allow:"
            echo "$syms" | sed 's/^/    /'
            bad=1
        fi
    done
    if [ $bad = 0 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
done
echo "$pass passed, $fail failed"
[ $fail = 0 ]
