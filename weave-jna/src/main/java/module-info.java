/** weave's backend on JNA, usable on Java 17 and newer wherever JNA's native library loads. */
module dev.weave.jna {
  requires dev.weave;
  requires com.sun.jna;
  requires static com.google.auto.service;

  exports dev.weave.jna;

  provides dev.weave.spi.WeaveBackend with
      dev.weave.jna.JnaBackend;
}
