/**
 * The consumers' program. On the module path it reads weave as {@code dev.weave} and finds the
 * backends as services ({@code provides}); on the class path this descriptor is ignored.
 */
module weave.consumer {
  requires dev.weave;
}
