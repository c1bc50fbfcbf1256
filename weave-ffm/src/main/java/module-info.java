/** weave's backend on {@code java.lang.foreign}, usable on Java 22 and newer. */
module dev.weave.ffm {
  requires dev.weave;
  requires static com.google.auto.service;

  provides dev.weave.spi.WeaveBackend with
      dev.weave.ffm.FfmBackend;
}
