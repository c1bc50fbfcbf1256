#!/bin/sh
# Builds libscratch.so, the README's "From C" library (scratch.c), as the README tells a user to:
# weave.h taken from the weave-api artifact, the JNI headers of the JDK that will load it.
# Run by exec-maven-plugin:
#   build.sh OUTPUT_DIR CLASS_PATH
# weave.h is META-INF/native/include/weave.h in the weave-api jar or classes directory on CLASS_PATH.
# The JNI headers are the toolchain JDK's (TOOLCHAIN_JAVA_HOME, set by exec-maven-plugin), else those
# of the JDK running Maven (MAVEN_JAVA_HOME). CC chooses the compiler (default cc).
set -eu

out=$1
classpath=$2
here=$(cd "$(dirname "$0")" && pwd)
jdk=${TOOLCHAIN_JAVA_HOME:-${MAVEN_JAVA_HOME:-}}
cc=${CC:-cc}

if [ ! -f "$jdk/include/jni.h" ]; then
  echo "build.sh: no JNI headers under '$jdk/include' (TOOLCHAIN_JAVA_HOME/MAVEN_JAVA_HOME)" >&2
  exit 1
fi
case $(uname -s) in
  Linux) platform=linux ;;
  *) platform=$(uname -s | tr '[:upper:]' '[:lower:]') ;;
esac

include=$out/include
rm -rf "$include" "$out/META-INF"
mkdir -p "$include"
old_ifs=$IFS
IFS=:
for entry in $classpath; do
  case $entry in
    *weave-api*) ;;
    *) continue ;;
  esac
  if [ -f "$entry/META-INF/native/include/weave.h" ]; then
    cp "$entry/META-INF/native/include/weave.h" "$include/"
  elif [ -f "$entry" ]; then
    (cd "$out" && "$jdk/bin/jar" xf "$entry" META-INF/native/include/weave.h)
    [ -f "$out/META-INF/native/include/weave.h" ] && mv "$out/META-INF/native/include/weave.h" "$include/"
  fi
  [ -f "$include/weave.h" ] && break
done
IFS=$old_ifs
if [ ! -f "$include/weave.h" ]; then
  echo "build.sh: META-INF/native/include/weave.h is in no weave-api entry of the class path: $classpath" >&2
  exit 1
fi

# The README's command, with warnings as errors; -ldl for glibc before 2.34 (a no-op after).
"$cc" -std=c11 -O2 -fPIC -shared -pthread -Wall -Wextra -Werror -pedantic \
  -I"$include" -I"$jdk/include" -I"$jdk/include/$platform" \
  "$here/scratch.c" -o "$out/libscratch.so" -ldl
