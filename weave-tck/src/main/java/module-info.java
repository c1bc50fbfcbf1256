/** The weave TCK: the suite every backend must pass, and a runner that prints backend x case. */
module dev.weave.tck {
  requires dev.weave;
  requires com.sun.jna;
  requires java.logging;
  requires java.management;
  requires org.junit.jupiter.api;
  requires org.junit.platform.launcher;

  exports dev.weave.tck;
  opens dev.weave.tck to org.junit.platform.commons;
}
