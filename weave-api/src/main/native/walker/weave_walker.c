/* libweave_walker: see weave_walker.h. */
#include "weave_walker.h"

int64_t weave_walker_abi_version(void *unused) {
  (void)unused;
  return WEAVE_WALKER_ABI_VERSION;
}

int64_t weave_walker_probe(void *argument) {
  return (int64_t)~(uintptr_t)argument;
}
