#!/bin/sh
# Builds weave's native walker, libweave_walker.so (walker/*.c), for each platform it ships on that
# this machine has a C compiler for, checks it, and records its SHA-256; builds and runs its C
# tests (src/test/native). Run by exec-maven-plugin:
#   build.sh library CLASSES    CLASSES/META-INF/native/<platform>/libweave_walker.so, and their
#                               SHA-256 in CLASSES/META-INF/native/libweave_walker.sha256, in
#                               sha256sum's format (check a jar's with sha256sum -c there)
#   build.sh test CLASSES OUT   the C tests against each library in CLASSES, built in OUT
# Platforms: linux-x86_64 and linux-aarch64, with glibc. The machine's own is built with CC (default
# cc); the other with Debian's cross compiler (x86_64-linux-gnu-gcc or aarch64-linux-gnu-gcc) when
# it is on the PATH. A platform without a compiler is left out of the jar, and the build says so:
# weave runs its Java walker there. A foreign platform's C tests run under qemu-user
# (qemu-<cpu>-static -L /usr/<cpu>-linux-gnu), or are skipped with a message.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
tests=$(cd "$here/../../test/native" && pwd)
cc=${CC:-cc}
name=libweave_walker.so
platforms="linux-x86_64 linux-aarch64"
warnings="-Wall -Wextra -Werror -pedantic -Wshadow -Wstrict-prototypes -Wconversion"
# -z nodelete: a pthread key destructor may point into the library until the process ends, so it
# stays mapped whatever an FFI library does when its handle is closed or collected.
library_flags="-std=c11 -O2 -fPIC -shared -fvisibility=hidden -s -Wl,-z,nodelete
  -Wl,-z,noexecstack -Wl,-z,relro -Wl,-z,now -Wl,--no-undefined"

cpu() {
  case $1 in
    linux-x86_64) echo x86_64 ;;
    linux-aarch64) echo aarch64 ;;
  esac
}

# The highest glibc symbol version the library may need: that of the oldest glibc weave's JDKs run
# on. Built on Debian 12, pthread_key_*, pthread_create and sem_* need GLIBC_2.34 (issue 20).
glibc_limit() {
  case $1 in
    linux-x86_64) echo 2.3.2 ;;
    linux-aarch64) echo 2.17 ;;
  esac
}

# The platform a compiler builds for, from its target triplet (glibc only), or nothing.
platform_of() {
  case $("$1" -dumpmachine 2>/dev/null || true) in
    *musl* | *android*) ;;
    x86_64-*linux*) echo linux-x86_64 ;;
    aarch64-*linux*) echo linux-aarch64 ;;
  esac
}

host=
if command -v "$cc" >/dev/null 2>&1; then
  host=$(platform_of "$cc")
fi

# The compiler for a platform: CC for the machine's own, else Debian's cross compiler, or nothing.
compiler_for() {
  if [ "$1" = "$host" ]; then
    echo "$cc"
    return
  fi
  cross=$(cpu "$1")-linux-gnu-gcc
  if command -v "$cross" >/dev/null 2>&1; then
    echo "$cross"
  fi
}

# Fails if the library needs a glibc symbol version above the platform's limit, naming the symbols.
check_glibc() {
  lib=$1
  platform=$2
  limit=$(glibc_limit "$platform")
  needed=$(readelf -W -V "$lib" | sed -n 's/.*Name: \(GLIBC_[^ ]*\).*/\1/p' | sort -u)
  report=$(printf '%s\n' "$needed" | awk -v limit="$limit" '
    function above(version, bound,   a, b, i, x, y) {
      split(version, a, ".")
      split(bound, b, ".")
      for (i = 1; i <= 3; i++) {
        x = (i in a) ? a[i] + 0 : 0
        y = (i in b) ? b[i] + 0 : 0
        if (x != y) return x > y
      }
      return 0
    }
    /^GLIBC_/ {
      version = substr($0, 7)
      # GLIBC_PRIVATE, GLIBC_ABI_DT_RELR and the like are no version an old glibc has.
      if (version !~ /^[0-9]+(\.[0-9]+)*$/ || above(version, limit)) { print "too-new " $0; next }
      if (highest == "" || above(version, highest)) highest = version
    }
    END { print "highest " (highest == "" ? "none" : "GLIBC_" highest) }')
  too_new=$(printf '%s\n' "$report" | sed -n 's/^too-new //p')
  highest=$(printf '%s\n' "$report" | sed -n 's/^highest //p')
  if [ -n "$too_new" ]; then
    echo "build.sh: ERROR: $platform/$name needs a glibc symbol version above GLIBC_$limit:" >&2
    for version in $too_new; do
      symbols=$(readelf -W --dyn-syms "$lib" | awk -v v="$version" '{ n = split($8, p, "@") } n > 1 && p[n] == v { print $8 }')
      echo "  $version:" ${symbols:-"(no symbol: a version the linker requires)"} >&2
    done
    echo "  Get such functions from Java as function pointers instead (walker/weave_walker.h)." >&2
    rm -f "$lib"
    exit 1
  fi
  echo "$highest"
}

# Fails if the library defines a dynamic symbol that is not weave_walker_*: hidden visibility keeps
# everything else its own.
check_exports() {
  lib=$1
  others=$(readelf -W --dyn-syms "$lib" |
    awk '$7 != "UND" && $7 != "Ndx" && $8 != "" && $4 != "SECTION" && $8 !~ /^weave_walker_/ { print $8 }')
  if [ -n "$others" ]; then
    echo "build.sh: ERROR: $lib exports more than weave_walker_*:" $others >&2
    rm -f "$lib"
    exit 1
  fi
}

build_library() {
  native=$1/META-INF/native
  manifest=$native/libweave_walker.sha256
  mkdir -p "$native"
  rm -f "$manifest"
  for platform in $platforms; do
    rm -f "$native/$platform/$name"
    rmdir "$native/$platform" 2>/dev/null || true
  done
  if ! command -v "$cc" >/dev/null 2>&1; then
    echo "build.sh: WARNING: no C compiler '$cc' on the PATH"
  elif [ -z "$host" ]; then
    echo "build.sh: WARNING: $cc builds for $("$cc" -dumpmachine), not Linux x86-64 or aarch64 with glibc"
  fi
  built=
  for platform in $platforms; do
    compiler=$(compiler_for "$platform")
    if [ -z "$compiler" ]; then
      echo "build.sh: WARNING: no $(cpu "$platform")-linux-gnu-gcc on the PATH: weave-api ships no $platform walker (Debian: apt-get install gcc-$(cpu "$platform")-linux-gnu)"
      continue
    fi
    lib=$native/$platform/$name
    mkdir -p "$native/$platform"
    # shellcheck disable=SC2086 # the flag lists are lists
    "$compiler" $library_flags $warnings -I"$here/walker" "$here"/walker/*.c -o "$lib"
    highest=$(check_glibc "$lib" "$platform")
    check_exports "$lib"
    echo "build.sh: built $platform/$name with $compiler: $(wc -c <"$lib") bytes, highest glibc symbol version needed: $highest (limit GLIBC_$(glibc_limit "$platform"))"
    built="$built $platform/$name"
  done
  if [ -n "$built" ]; then
    # shellcheck disable=SC2086 # $built is a list of relative paths without spaces
    (cd "$native" && sha256sum $built) >"$manifest"
  else
    : >"$manifest"
  fi
}

run_tests() {
  native=$1/META-INF/native
  out=$2
  failed=
  for platform in $platforms; do
    lib=$native/$platform/$name
    if [ ! -f "$lib" ]; then
      echo "build.sh: no $platform library was built: its C tests are skipped"
      continue
    fi
    compiler=$(compiler_for "$platform")
    if [ -z "$compiler" ]; then
      echo "build.sh: no compiler for $platform here: its C tests are skipped"
      continue
    fi
    mkdir -p "$out/$platform"
    program=$out/$platform/walker_test
    # shellcheck disable=SC2086
    "$compiler" -std=c11 -O1 -g -pthread $warnings -I"$here/walker" "$tests"/*.c \
      -L"$native/$platform" -lweave_walker -Wl,-rpath,"$native/$platform" -o "$program"
    if [ "$platform" = "$host" ]; then
      echo "build.sh: C tests on $platform"
      "$program" || failed="$failed $platform"
      continue
    fi
    qemu=qemu-$(cpu "$platform")-static
    sysroot=/usr/$(cpu "$platform")-linux-gnu
    if command -v "$qemu" >/dev/null 2>&1 && [ -d "$sysroot" ]; then
      echo "build.sh: C tests on $platform, under $qemu -L $sysroot"
      "$qemu" -L "$sysroot" "$program" || failed="$failed $platform"
    else
      echo "build.sh: WARNING: no $qemu (Debian: apt-get install qemu-user-static) or no $sysroot: the $platform C tests are built, not run"
    fi
  done
  if [ -n "$failed" ]; then
    echo "build.sh: ERROR: C tests failed on:$failed" >&2
    exit 1
  fi
}

case ${1:-} in
  library) build_library "$2" ;;
  test) run_tests "$2" "$3" ;;
  *)
    echo "usage: build.sh library CLASSES | build.sh test CLASSES OUT" >&2
    exit 2
    ;;
esac
