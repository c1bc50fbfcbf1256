/**
 * weave: native thread-local slots and destructors that run, in registration order, when an OS
 * thread dies. Start at {@link dev.weave.Weave}.
 */
module dev.weave {
  exports dev.weave;
  exports dev.weave.spi;

  uses dev.weave.spi.WeaveBackend;
}
