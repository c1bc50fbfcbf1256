/* weave.h on its own, as the first include: build.sh compiles this as strict C99, C11 and C++11. */
#include "weave.h"

static weave_local void *alone_variable;

static void alone_destructor(void *value) {
  (void)value;
}

int weave_h_alone(JNIEnv *env);

int weave_h_alone(JNIEnv *env) {
  int unregistered = 0;
  int status = weave_init(env);
  if (status == WEAVE_OK) {
    status = weave_register_destructor(env, &alone_variable, alone_destructor);
  }
  if (status == WEAVE_OK) {
    status = weave_unregister_destructor(NULL, &alone_variable, &unregistered);
  }
  return status != WEAVE_OK ? status : (weave_env() != NULL && unregistered) ? WEAVE_OK : -1;
}
