/**
 * weave's backend on jnr-ffi, usable on Java 17 and newer on Linux. {@code dev.weave.jnr} is
 * exported because jnr-ffi's generated classes implement its binding interfaces, and so that tests
 * can wrap {@link dev.weave.jnr.JnrPrimitives}. jnr-ffi and jffi have no module descriptors; they
 * are automatic modules named by their manifests.
 *
 * <p>On Java 24 and newer, run with {@code --enable-native-access=org.jnrproject.jffi} (module path)
 * or {@code --enable-native-access=ALL-UNNAMED} (class path), or the JVM warns when jffi loads its
 * native library.
 */
@SuppressWarnings("requires-automatic")
module dev.weave.jnr {
  requires transitive dev.weave;
  requires org.jnrproject.ffi;
  requires org.jnrproject.jffi;
  requires static com.google.auto.service;

  exports dev.weave.jnr;

  provides dev.weave.spi.WeaveBackend with dev.weave.jnr.JnrBackend;
}
