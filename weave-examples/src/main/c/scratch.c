/* scratch.c: a 64 KiB scratch buffer per thread, freed on that thread when it dies. */
#include <stdint.h>
#include <stdlib.h>
#include "weave.h"

static weave_local void *scratch;                /* this thread's buffer, or NULL */

JNIEXPORT jlong JNICALL Java_org_example_Scratch_buffer(JNIEnv *env, jclass cls) {
  (void)cls;
  if (scratch == NULL) {
    void *buffer = malloc(64 * 1024);
    if (buffer == NULL) {
      (*env)->ThrowNew(env, (*env)->FindClass(env, "java/lang/OutOfMemoryError"), "scratch");
      return 0;
    }
    scratch = buffer;
    /* At this thread's death, free(scratch) runs, with the value scratch holds then. */
    if (weave_register_destructor(env, &scratch, free) != WEAVE_OK) {
      scratch = NULL;
      free(buffer);
      return 0;                                  /* the Java exception is pending */
    }
  }
  return (jlong)(intptr_t)scratch;
}

JNIEXPORT void JNICALL Java_org_example_Scratch_release(JNIEnv *env, jclass cls) {
  int unregistered = 0;
  (void)cls;
  if (weave_unregister_destructor(env, &scratch, &unregistered) == WEAVE_OK && unregistered) {
    free(scratch);                               /* freed now; nothing runs at death */
    scratch = NULL;
  }
}
