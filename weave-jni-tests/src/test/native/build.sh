#!/bin/sh
# Builds the JNI test library with the machine's C compiler, and checks that weave.h compiles on
# its own as strict C99, C11 and (where a C++ compiler is found) C++11, warnings as errors.
# Run by exec-maven-plugin in process-test-classes:
#   build.sh OUTPUT_DIR CLASS_PATH
# weave.h is taken as weave-api ships it: META-INF/native/include/weave.h from the weave-api jar or
# classes directory on CLASS_PATH. The JNI headers are the toolchain JDK's (TOOLCHAIN_JAVA_HOME, set
# by exec-maven-plugin), else those of the JDK running Maven (MAVEN_JAVA_HOME). CC and CXX choose
# the compilers (default cc and c++).
set -eu

out=$1
classpath=$2
here=$(cd "$(dirname "$0")" && pwd)
jdk=${TOOLCHAIN_JAVA_HOME:-${MAVEN_JAVA_HOME:-}}
cc=${CC:-cc}
cxx=${CXX:-c++}

if [ ! -f "$jdk/include/jni.h" ]; then
  echo "build.sh: no JNI headers under '$jdk/include' (TOOLCHAIN_JAVA_HOME/MAVEN_JAVA_HOME)" >&2
  exit 1
fi
case $(uname -s) in
  Linux) platform=linux ;;
  Darwin) platform=darwin ;;
  *) platform=$(uname -s | tr '[:upper:]' '[:lower:]') ;;
esac

include=$out/include
rm -rf "$include"
mkdir -p "$include"
found=
old_ifs=$IFS
IFS=:
for entry in $classpath; do
  if [ -f "$entry/META-INF/native/include/weave.h" ]; then
    cp "$entry/META-INF/native/include/weave.h" "$include/weave.h"
    found=$entry
  elif [ -f "$entry" ] && case $entry in *weave-api*.jar) true ;; *) false ;; esac; then
    (cd "$out" && "$jdk/bin/jar" xf "$entry" META-INF/native/include/weave.h)
    if [ -f "$out/META-INF/native/include/weave.h" ]; then
      mv "$out/META-INF/native/include/weave.h" "$include/weave.h"
      found=$entry
    fi
  fi
  [ -n "$found" ] && break
done
IFS=$old_ifs
if [ -z "$found" ]; then
  echo "build.sh: META-INF/native/include/weave.h is in no weave-api entry of the class path: $classpath" >&2
  exit 1
fi
echo "build.sh: weave.h from $found; JNI headers from $jdk; compiler $cc"

jni="-I$jdk/include"
jni_platform="-I$jdk/include/$platform"
strict="-Wall -Wextra -Werror -pedantic -Wshadow -Wstrict-prototypes -Wconversion"

for std in c99 c11; do
  # shellcheck disable=SC2086 # $strict is a list of flags
  "$cc" -std=$std $strict -fsyntax-only -I"$include" "$jni" "$jni_platform" "$here/weave_h_alone.c"
done
if command -v "$cxx" >/dev/null 2>&1; then
  # shellcheck disable=SC2086
  "$cxx" -std=c++11 -Wall -Wextra -Werror -pedantic -fsyntax-only -x c++ \
    -I"$include" "$jni" "$jni_platform" "$here/weave_h_alone.c"
fi

# shellcheck disable=SC2086
"$cc" -std=c11 -Wall -Wextra -Werror -pedantic -O2 -g -fPIC -shared -pthread \
  -I"$include" "$jni" "$jni_platform" "$here/weave_jni_test.c" "$here/native_walker_test.c" \
  -o "$out/libweave_jni_test.so" -ldl
echo "build.sh: built $out/libweave_jni_test.so"
