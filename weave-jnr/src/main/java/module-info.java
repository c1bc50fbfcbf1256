/**
 * weave's backend on jnr-ffi, usable on Java 17 and newer on Linux. {@code dev.weave.jnr} is
 * exported because jnr-ffi's generated classes implement its binding interfaces, and so that tests
 * can wrap {@link dev.weave.jnr.JnrPrimitives}. jnr-ffi and jffi have no module descriptors; they
 * are automatic modules named by their manifests.
 *
 * <p>On Java 24 and newer, run with {@code --enable-native-access=org.jnrproject.jffi} (module
 * path) or {@code --enable-native-access=ALL-UNNAMED} (class path), or the JVM warns when jffi
 * loads its native library.
 */
@SuppressWarnings("requires-automatic")
module dev.weave.jnr {
  requires transitive dev.weave;
  requires org.jnrproject.ffi;
  requires org.jnrproject.jffi;
  // jnr-ffi generates its bindings with ASM, but as an automatic module it cannot say so: without
  // this, ASM (an explicit module) is left out of the module graph and jnr-ffi fails to load.
  requires org.objectweb.asm;
  requires static com.google.auto.service;

  exports dev.weave.jnr;

  provides dev.weave.spi.WeaveBackend with
      dev.weave.jnr.JnrBackend;
}
