/** The weave TCK: the suite every backend must pass, and a runner that prints backend x case. */
module dev.weave.tck {
  requires transitive dev.weave; // its types are in the TCK's signatures
  requires com.sun.jna; // an automatic module: not transitive
  requires java.logging;
  requires java.management;
  requires transitive org.junit.jupiter.api;
  requires org.junit.platform.launcher;

  exports dev.weave.tck;

  opens dev.weave.tck to
      org.junit.platform.commons;
}
