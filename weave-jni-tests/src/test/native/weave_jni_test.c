/*
 * The JNI test library of weave.h: ft_utils' _test_weave.c cases, ported. Destructor 1 and 2 count
 * the calls that get their own variable's value (a sentinel's address); reset destructor r1 sets
 * destructor 1's count to 100, which proves the order; the done destructor, registered last on a
 * dying thread, runs after all of that thread's others and wakes the test (no sleeping).
 *
 * The variables come in two flavours: weave_local (_Thread_local) ones, one per thread, and plain
 * static ones, shared by every thread (each thread's registration on them is its own).
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "weave.h"

/* Keep in step with WeaveJni.java. */
enum { FLAVOUR_TLS = 0, FLAVOUR_STATIC = 1 };
enum {
  STEP_REGISTER_D1 = 0,
  STEP_REGISTER_D2 = 1,
  STEP_REGISTER_UNREGISTER_D1 = 2,
  STEP_REGISTER_UNREGISTER_D2 = 3,
  STEP_SEED_4_MAIN = 4,
  STEP_D1_D2_D1_D2_UNREGISTER_D1 = 5,
  STEP_D1_D1_R1 = 6,
  STEP_REGISTER_DONE = 7,
  STEP_CLEANUP = 8
};
enum { WHERE_HERE = 0, WHERE_HERE_NULL_ENV = 1, WHERE_C_THREAD_NULL_ENV = 2 };

#define MAX_THREADS 32
#define ERROR_SIZE 1024

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed;
static int called_1, called_2, wrong_1, wrong_2, done_count;

static int sentinel_1 = 0x12345678;
static int sentinel_2 = 0x07654321;

static weave_local void *tls_1 = NULL;
static weave_local void *tls_2 = NULL;
static weave_local void *tls_done = NULL;
static void *static_1 = NULL;
static void *static_2 = NULL;
static void *static_done = NULL;

/* ---- destructors: no JVM calls in here ----------------------------------------------------- */

static void destructor_1(void *value) {
  pthread_mutex_lock(&lock);
  if (value == &sentinel_1) {
    called_1++;
  } else {
    wrong_1++;
  }
  pthread_cond_broadcast(&changed);
  pthread_mutex_unlock(&lock);
}

static void destructor_2(void *value) {
  pthread_mutex_lock(&lock);
  if (value == &sentinel_2) {
    called_2++;
  } else {
    wrong_2++;
  }
  pthread_cond_broadcast(&changed);
  pthread_mutex_unlock(&lock);
}

static void reset_1(void *value) {
  (void)value;
  pthread_mutex_lock(&lock);
  called_1 = 100;
  pthread_cond_broadcast(&changed);
  pthread_mutex_unlock(&lock);
}

static void done(void *value) {
  (void)value;
  pthread_mutex_lock(&lock);
  done_count++;
  pthread_cond_broadcast(&changed);
  pthread_mutex_unlock(&lock);
}

/* ---- helpers ------------------------------------------------------------------------------- */

struct variables {
  void **v1, **v2, **done;
};

/* The calling thread's variables of a flavour; sets them to their sentinels. */
static struct variables variables_of(int flavour) {
  struct variables v;
  if (flavour == FLAVOUR_TLS) {
    v.v1 = &tls_1;
    v.v2 = &tls_2;
    v.done = &tls_done;
  } else {
    v.v1 = &static_1;
    v.v2 = &static_2;
    v.done = &static_done;
  }
  if (flavour == FLAVOUR_TLS) { /* the statics are set once, by reset, before any thread starts */
    *v.v1 = &sentinel_1;
    *v.v2 = &sentinel_2;
  }
  return v;
}

/* Appends "text" and, if a Java exception is pending on this thread, its toString(), clearing it. */
static void fail(JNIEnv *env, char *error, const char *format, ...) {
  size_t used = strlen(error);
  va_list args;
  va_start(args, format);
  vsnprintf(error + used, ERROR_SIZE - used, format, args);
  va_end(args);
  if (env == NULL) {
    env = weave_env();
  }
  if (env != NULL && (*env)->ExceptionCheck(env)) {
    jthrowable pending = (*env)->ExceptionOccurred(env);
    jclass object;
    jmethodID to_string;
    jstring text = NULL;
    (*env)->ExceptionClear(env);
    object = (*env)->FindClass(env, "java/lang/Object");
    to_string = object == NULL ? NULL : (*env)->GetMethodID(env, object, "toString", "()Ljava/lang/String;");
    if (to_string != NULL) {
      text = (jstring)(*env)->CallObjectMethod(env, pending, to_string);
    }
    if (text != NULL) {
      const char *chars = (*env)->GetStringUTFChars(env, text, NULL);
      used = strlen(error);
      snprintf(error + used, ERROR_SIZE - used, " [pending: %s]", chars == NULL ? "?" : chars);
      if (chars != NULL) {
        (*env)->ReleaseStringUTFChars(env, text, chars);
      }
      (*env)->DeleteLocalRef(env, text);
    }
    (*env)->ExceptionClear(env);
    if (object != NULL) {
      (*env)->DeleteLocalRef(env, object);
    }
    (*env)->DeleteLocalRef(env, pending);
  }
}

static int reg(JNIEnv *env, void **var, weave_destructor_t fn, const char *what, char *error) {
  int status = weave_register_destructor(env, var, fn);
  if (status != WEAVE_OK) {
    fail(env, error, "weave_register_destructor(%s) returned %d", what, status);
    return -1;
  }
  return 0;
}

static int unreg(JNIEnv *env, void **var, int expected, const char *what, char *error) {
  int found = -1;
  int status = weave_unregister_destructor(env, var, &found);
  if (status != WEAVE_OK) {
    fail(env, error, "weave_unregister_destructor(%s) returned %d", what, status);
    return -1;
  }
  if (found != expected) {
    fail(env, error, "weave_unregister_destructor(%s) found %d, expected %d", what, found, expected);
    return -1;
  }
  return 0;
}

#define REG(var, fn) \
  if (reg(env, v.var, fn, #fn " on " #var, error) != 0) return -1
#define UNREG(var, expected, what) \
  if (unreg(env, v.var, expected, what, error) != 0) return -1

/* Runs one step of a case on the calling thread. 0, or -1 with a message in error. */
static int run_step(JNIEnv *env, int flavour, int step, char *error) {
  struct variables v = variables_of(flavour);
  int ignored;
  switch (step) {
    case STEP_REGISTER_D1:
      REG(v1, destructor_1);
      return 0;
    case STEP_REGISTER_D2:
      REG(v2, destructor_2);
      return 0;
    case STEP_REGISTER_UNREGISTER_D1:
      REG(v1, destructor_1);
      UNREG(v1, 1, "unregister d1 after registering it");
      return 0;
    case STEP_REGISTER_UNREGISTER_D2:
      REG(v2, destructor_2);
      UNREG(v2, 1, "unregister d2 after registering it");
      return 0;
    case STEP_SEED_4_MAIN:
      REG(v2, destructor_2);
      REG(v2, destructor_2);
      UNREG(v2, 1, "first unregister of two registrations of d2");
      UNREG(v2, 0, "second unregister: the first removed both");
      UNREG(v2, 0, "third unregister");
      REG(v2, destructor_2);
      UNREG(v2, 1, "unregister after registering d2 again");
      UNREG(v1, 0, "unregister d1's variable, which has no registration");
      return 0;
    case STEP_D1_D2_D1_D2_UNREGISTER_D1:
      REG(v1, destructor_1);
      REG(v2, destructor_2);
      REG(v1, destructor_1);
      REG(v2, destructor_2);
      UNREG(v1, 1, "unregister d1 after d1, d2, d1, d2");
      return 0;
    case STEP_D1_D1_R1:
      REG(v1, destructor_1);
      REG(v1, destructor_1);
      REG(v1, reset_1);
      return 0;
    case STEP_REGISTER_DONE:
      REG(done, done);
      return 0;
    case STEP_CLEANUP:
      weave_unregister_destructor(env, v.v1, &ignored);
      weave_unregister_destructor(env, v.v2, &ignored);
      weave_unregister_destructor(env, v.done, &ignored);
      if (env != NULL && (*env)->ExceptionCheck(env)) {
        fail(env, error, "cleanup");
        return -1;
      }
      return 0;
    default:
      fail(env, error, "no step %d", step);
      return -1;
  }
}

static void throw_assertion(JNIEnv *env, const char *message) {
  jclass type = (*env)->FindClass(env, "java/lang/AssertionError");
  if (type != NULL) {
    (*env)->ThrowNew(env, type, message);
    (*env)->DeleteLocalRef(env, type);
  }
}

static JavaVM *java_vm;

JNIEXPORT jint JNICALL JNI_OnLoad(JavaVM *vm, void *reserved) {
  pthread_condattr_t attributes;
  (void)reserved;
  java_vm = vm;
  if (pthread_condattr_init(&attributes) != 0 ||
      pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC) != 0 ||
      pthread_cond_init(&changed, &attributes) != 0) {
    return JNI_ERR;
  }
  pthread_condattr_destroy(&attributes);
  return JNI_VERSION_1_6;
}

/* ---- threads created in C ------------------------------------------------------------------ */

struct job {
  int flavour, step, null_env;
  pthread_t thread;
  int started;
  char error[ERROR_SIZE];
};

/*
 * A thread created in C: attaches itself and detaches before it exits (the usual JNI way), or,
 * with null_env, calls weave.h with a NULL env and lets the header attach it (and detach it at
 * exit). Either way, the done destructor goes last.
 */
static void *job_main(void *argument) {
  struct job *job = (struct job *)argument;
  JNIEnv *env = NULL;
  if (!job->null_env) {
    if ((*java_vm)->AttachCurrentThread(java_vm, (void **)&env, NULL) != JNI_OK) {
      snprintf(job->error, ERROR_SIZE, "AttachCurrentThread failed");
      return NULL;
    }
  }
  if (run_step(env, job->flavour, job->step, job->error) == 0) {
    run_step(env, job->flavour, STEP_REGISTER_DONE, job->error);
  }
  if (!job->null_env) {
    (*java_vm)->DetachCurrentThread(java_vm);
  }
  return NULL;
}

/* ---- JNI entry points of dev.weave.jni.WeaveJni --------------------------------------------- */

JNIEXPORT void JNICALL Java_dev_weave_jni_WeaveJni_reset(JNIEnv *env, jclass cls) {
  (void)env;
  (void)cls;
  pthread_mutex_lock(&lock);
  called_1 = called_2 = wrong_1 = wrong_2 = done_count = 0;
  static_1 = &sentinel_1;
  static_2 = &sentinel_2;
  static_done = NULL;
  pthread_mutex_unlock(&lock);
}

JNIEXPORT void JNICALL Java_dev_weave_jni_WeaveJni_step(
    JNIEnv *env, jclass cls, jint flavour, jint step, jboolean null_env) {
  char error[ERROR_SIZE] = "";
  (void)cls;
  if (run_step(null_env ? NULL : env, flavour, step, error) != 0) {
    throw_assertion(env, error);
  }
}

JNIEXPORT jstring JNICALL Java_dev_weave_jni_WeaveJni_runInCThreads(
    JNIEnv *env, jclass cls, jint flavour, jint step, jint threads, jboolean null_env) {
  static struct job jobs[MAX_THREADS];
  static pthread_mutex_t jobs_lock = PTHREAD_MUTEX_INITIALIZER;
  char errors[ERROR_SIZE * 2] = "";
  jstring result = NULL;
  int i;
  (void)cls;
  if (threads < 1 || threads > MAX_THREADS) {
    throw_assertion(env, "runInCThreads: 1 to 32 threads");
    return NULL;
  }
  pthread_mutex_lock(&jobs_lock);
  for (i = 0; i < threads; i++) {
    struct job *job = &jobs[i];
    int status;
    memset(job, 0, sizeof *job);
    job->flavour = flavour;
    job->step = step;
    job->null_env = null_env;
    status = pthread_create(&job->thread, NULL, job_main, job);
    job->started = status == 0;
    if (status != 0) {
      snprintf(job->error, ERROR_SIZE, "pthread_create: %s", strerror(status));
    }
  }
  for (i = 0; i < threads; i++) { /* returns after the thread's key destructors: weave's too */
    if (jobs[i].started) {
      pthread_join(jobs[i].thread, NULL);
    }
  }
  for (i = 0; i < threads; i++) {
    if (jobs[i].error[0] != '\0') {
      size_t used = strlen(errors);
      snprintf(errors + used, sizeof errors - used, "%sthread %d: %s", used ? "; " : "", i, jobs[i].error);
    }
  }
  pthread_mutex_unlock(&jobs_lock);
  if (errors[0] != '\0') {
    result = (*env)->NewStringUTF(env, errors);
  }
  return result;
}

JNIEXPORT jintArray JNICALL Java_dev_weave_jni_WeaveJni_counts(JNIEnv *env, jclass cls) {
  jint values[5];
  jintArray result;
  (void)cls;
  pthread_mutex_lock(&lock);
  values[0] = called_1;
  values[1] = called_2;
  values[2] = wrong_1;
  values[3] = wrong_2;
  values[4] = done_count;
  pthread_mutex_unlock(&lock);
  result = (*env)->NewIntArray(env, 5);
  if (result != NULL) {
    (*env)->SetIntArrayRegion(env, result, 0, 5, values);
  }
  return result;
}

JNIEXPORT jboolean JNICALL Java_dev_weave_jni_WeaveJni_awaitDone(
    JNIEnv *env, jclass cls, jint count, jlong timeout_millis) {
  struct timespec deadline;
  int reached;
  (void)env;
  (void)cls;
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  deadline.tv_sec += (time_t)(timeout_millis / 1000);
  deadline.tv_nsec += (long)(timeout_millis % 1000) * 1000000L;
  if (deadline.tv_nsec >= 1000000000L) {
    deadline.tv_sec++;
    deadline.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&lock);
  while (done_count < count) {
    if (pthread_cond_timedwait(&changed, &lock, &deadline) == ETIMEDOUT) {
      break;
    }
  }
  reached = done_count >= count;
  pthread_mutex_unlock(&lock);
  return reached ? JNI_TRUE : JNI_FALSE;
}

JNIEXPORT jlong JNICALL Java_dev_weave_jni_WeaveJni_variable(JNIEnv *env, jclass cls, jint flavour, jint which) {
  struct variables v = variables_of(flavour);
  (void)env;
  (void)cls;
  return (jlong)(intptr_t)(which == 1 ? v.v1 : which == 2 ? v.v2 : v.done);
}

JNIEXPORT jlong JNICALL Java_dev_weave_jni_WeaveJni_destructor(JNIEnv *env, jclass cls, jint which) {
  weave_destructor_t fn = which == 1 ? destructor_1 : which == 2 ? destructor_2 : which == 3 ? reset_1 : done;
  (void)env;
  (void)cls;
  return (jlong)(intptr_t)fn;
}

/* ---- bad input, pending exceptions, attaching ----------------------------------------------- */

struct attempt {
  int unregister, null_var, null_fn;
  int status, found;
  jobject pending; /* a global reference, or NULL */
};

static void attempt_run(JNIEnv *env, struct attempt *a) {
  void **var = a->null_var ? NULL : &tls_1;
  weave_destructor_t fn = a->null_fn ? NULL : destructor_1;
  JNIEnv *current;
  tls_1 = &sentinel_1;
  a->found = -1;
  a->status = a->unregister ? weave_unregister_destructor(env, var, &a->found)
                            : weave_register_destructor(env, var, fn);
  current = env != NULL ? env : weave_env();
  if (current != NULL && (*current)->ExceptionCheck(current)) {
    jthrowable pending = (*current)->ExceptionOccurred(current);
    (*current)->ExceptionClear(current);
    a->pending = (*current)->NewGlobalRef(current, pending);
    (*current)->DeleteLocalRef(current, pending);
  }
}

static void *attempt_main(void *argument) {
  attempt_run(NULL, (struct attempt *)argument);
  return NULL;
}

static jint attempt(JNIEnv *env, jint where, struct attempt *a, jobjectArray pending) {
  a->pending = NULL;
  if (where == WHERE_C_THREAD_NULL_ENV) {
    pthread_t thread;
    if (pthread_create(&thread, NULL, attempt_main, a) != 0) {
      throw_assertion(env, "pthread_create failed");
      return -1;
    }
    pthread_join(thread, NULL);
  } else {
    attempt_run(where == WHERE_HERE_NULL_ENV ? NULL : env, a);
  }
  if (a->pending != NULL) {
    jobject local = (*env)->NewLocalRef(env, a->pending);
    (*env)->DeleteGlobalRef(env, a->pending);
    (*env)->SetObjectArrayElement(env, pending, 0, local);
    (*env)->DeleteLocalRef(env, local);
  }
  return a->status;
}

JNIEXPORT jint JNICALL Java_dev_weave_jni_WeaveJni_tryRegister(
    JNIEnv *env, jclass cls, jint where, jboolean null_var, jboolean null_fn, jobjectArray pending) {
  struct attempt a;
  (void)cls;
  memset(&a, 0, sizeof a);
  a.null_var = null_var;
  a.null_fn = null_fn;
  return attempt(env, where, &a, pending);
}

JNIEXPORT jint JNICALL Java_dev_weave_jni_WeaveJni_tryUnregister(
    JNIEnv *env, jclass cls, jint where, jboolean null_var, jintArray found, jobjectArray pending) {
  struct attempt a;
  jint status, value;
  (void)cls;
  memset(&a, 0, sizeof a);
  a.unregister = 1;
  a.null_var = null_var;
  status = attempt(env, where, &a, pending);
  value = a.found;
  (*env)->SetIntArrayRegion(env, found, 0, 1, &value);
  return status;
}

JNIEXPORT jint JNICALL Java_dev_weave_jni_WeaveJni_registerOverPendingException(
    JNIEnv *env, jclass cls, jobjectArray pending) {
  jclass type = (*env)->FindClass(env, "java/lang/IllegalStateException");
  jthrowable thrown;
  int status;
  (void)cls;
  if (type == NULL) {
    return -1;
  }
  (*env)->ThrowNew(env, type, "pending before weave_register_destructor");
  (*env)->DeleteLocalRef(env, type);
  tls_1 = &sentinel_1;
  status = weave_register_destructor(env, &tls_1, destructor_1);
  thrown = (*env)->ExceptionOccurred(env);
  (*env)->ExceptionClear(env);
  (*env)->SetObjectArrayElement(env, pending, 0, thrown);
  return status;
}

JNIEXPORT jint JNICALL Java_dev_weave_jni_WeaveJni_init(JNIEnv *env, jclass cls, jobjectArray pending) {
  int status = weave_init(env);
  (void)cls;
  if ((*env)->ExceptionCheck(env)) {
    jthrowable thrown = (*env)->ExceptionOccurred(env);
    (*env)->ExceptionClear(env);
    (*env)->SetObjectArrayElement(env, pending, 0, thrown);
    (*env)->DeleteLocalRef(env, thrown);
  }
  return status;
}

struct attached {
  char text[256];
};

/* On a new C thread: weave_env() attaches it; reports the Java thread's name and daemon flag. */
static void *attached_main(void *argument) {
  struct attached *result = (struct attached *)argument;
  JNIEnv *env = weave_env();
  jclass thread_type;
  jmethodID current_thread, get_name, is_daemon;
  jobject thread;
  jstring name;
  const char *chars;
  JNIEnv *again = NULL;
  if (env == NULL) {
    snprintf(result->text, sizeof result->text, "weave_env() returned NULL");
    return NULL;
  }
  if ((*java_vm)->GetEnv(java_vm, (void **)&again, JNI_VERSION_1_6) != JNI_OK || again != env ||
      weave_env() != env) {
    snprintf(result->text, sizeof result->text, "weave_env() gave another env the second time");
    return NULL;
  }
  thread_type = (*env)->FindClass(env, "java/lang/Thread");
  current_thread = (*env)->GetStaticMethodID(env, thread_type, "currentThread", "()Ljava/lang/Thread;");
  get_name = (*env)->GetMethodID(env, thread_type, "getName", "()Ljava/lang/String;");
  is_daemon = (*env)->GetMethodID(env, thread_type, "isDaemon", "()Z");
  thread = (*env)->CallStaticObjectMethod(env, thread_type, current_thread);
  name = (jstring)(*env)->CallObjectMethod(env, thread, get_name);
  chars = (*env)->GetStringUTFChars(env, name, NULL);
  snprintf(result->text, sizeof result->text, "%s daemon=%s", chars,
           (*env)->CallBooleanMethod(env, thread, is_daemon) ? "true" : "false");
  (*env)->ReleaseStringUTFChars(env, name, chars);
  (*env)->DeleteLocalRef(env, name);
  (*env)->DeleteLocalRef(env, thread);
  (*env)->DeleteLocalRef(env, thread_type);
  return NULL; /* no DetachCurrentThread: weave.h's key detaches the thread as it exits */
}

JNIEXPORT jstring JNICALL Java_dev_weave_jni_WeaveJni_attachedThreadName(JNIEnv *env, jclass cls) {
  struct attached result;
  pthread_t thread;
  (void)cls;
  memset(&result, 0, sizeof result);
  if (pthread_create(&thread, NULL, attached_main, &result) != 0) {
    throw_assertion(env, "pthread_create failed");
    return NULL;
  }
  pthread_join(thread, NULL);
  return (*env)->NewStringUTF(env, result.text);
}

/* ---- a thread created in C that detaches and attaches again --------------------------------- */

/*
 * weave keeps an OS thread's cells and registrations with the thread (its pthread keys), not with
 * its java.lang.Thread: a thread that detaches and attaches again (a new Thread) keeps them. The
 * reattach destructors record, in order, which of them ran and with which value; the Java side
 * (reattachRecord) records into the same list, so the order across Java and C is seen.
 */

/* Keep in step with WeaveJni.java. */
enum { REATTACH_EARLY = 0, REATTACH_V1 = 1, REATTACH_V2 = 2, REATTACH_V3 = 3 };
enum { RECORD_D1 = 1, RECORD_D2 = 2, RECORD_D3 = 3, RECORD_DONE = 4, RECORD_JAVA = 5 };

#define REATTACH_MAX_CALLS 16

static int reattach_value_early = 0x0ea71;
static int reattach_value_1 = 0x1;
static int reattach_value_2 = 0x2;
static int reattach_value_3 = 0x3;

static weave_local void *reattach_1 = NULL;
static weave_local void *reattach_2 = NULL;
static weave_local void *reattach_3 = NULL;
static weave_local void *reattach_done = NULL;

/* Guarded by lock; changes are broadcast on changed. */
static int reattach_calls;
static int reattach_which[REATTACH_MAX_CALLS];
static void *reattach_values[REATTACH_MAX_CALLS];
static int reattach_done_seen;

static void reattach_record(int which, void *value) {
  pthread_mutex_lock(&lock);
  if (reattach_calls < REATTACH_MAX_CALLS) {
    reattach_which[reattach_calls] = which;
    reattach_values[reattach_calls] = value;
  }
  reattach_calls++;
  if (which == RECORD_DONE) {
    reattach_done_seen = 1;
  }
  pthread_cond_broadcast(&changed);
  pthread_mutex_unlock(&lock);
}

/* No JVM calls in the destructors. */
static void reattach_d1(void *value) { reattach_record(RECORD_D1, value); }
static void reattach_d2(void *value) { reattach_record(RECORD_D2, value); }
static void reattach_d3(void *value) { reattach_record(RECORD_D3, value); }
static void reattach_done_destructor(void *value) { reattach_record(RECORD_DONE, value); }

static void *reattach_value(int which) {
  switch (which) {
    case REATTACH_EARLY: return &reattach_value_early;
    case REATTACH_V1: return &reattach_value_1;
    case REATTACH_V2: return &reattach_value_2;
    case REATTACH_V3: return &reattach_value_3;
    default: return NULL;
  }
}

static weave_destructor_t reattach_destructor(int which) {
  switch (which) {
    case RECORD_D1: return reattach_d1;
    case RECORD_D2: return reattach_d2;
    case RECORD_D3: return reattach_d3;
    default: return reattach_done_destructor;
  }
}

/* The calls so far, as "d1:v1 d2:v2 done"; the caller holds lock. */
static void reattach_describe(char *out, size_t size) {
  static const char *const names[] = {"?", "d1", "d2", "d3", "done", "java"};
  int i, n = reattach_calls < REATTACH_MAX_CALLS ? reattach_calls : REATTACH_MAX_CALLS;
  out[0] = '\0';
  for (i = 0; i < n; i++) {
    size_t used = strlen(out);
    int which = reattach_which[i];
    void *value = reattach_values[i];
    const char *name = which >= 1 && which <= 5 ? names[which] : names[0];
    const char *separator = i == 0 ? "" : " ";
    if (which == RECORD_DONE) {
      snprintf(out + used, size - used, "%s%s", separator, name);
    } else if (value == &reattach_value_early) {
      snprintf(out + used, size - used, "%s%s:v1-early", separator, name);
    } else if (value == &reattach_value_1 || value == &reattach_value_2 || value == &reattach_value_3) {
      snprintf(out + used, size - used, "%s%s:v%d", separator, name,
               value == &reattach_value_1 ? 1 : value == &reattach_value_2 ? 2 : 3);
    } else {
      snprintf(out + used, size - used, "%s%s:%p", separator, name, value);
    }
  }
  if (reattach_calls > REATTACH_MAX_CALLS) {
    size_t used = strlen(out);
    snprintf(out + used, size - used, " ... (%d calls)", reattach_calls);
  }
}

struct reattach_job {
  int native_registrations;
  jobject in_first, in_second; /* global references to Runnables, or NULL */
  int finished;                /* guarded by lock */
  char error[ERROR_SIZE];
};

static int reattach_attach(JNIEnv **env, const char *name, struct reattach_job *job) {
  JavaVMAttachArgs args;
  args.version = JNI_VERSION_1_6;
  args.name = (char *)name;
  args.group = NULL;
  if ((*java_vm)->AttachCurrentThread(java_vm, (void **)env, &args) != JNI_OK || *env == NULL) {
    snprintf(job->error, ERROR_SIZE, "AttachCurrentThread (%s) failed", name); /* not fail(): no weave_env() */
    return -1;
  }
  return 0;
}

static jobject reattach_current_thread(JNIEnv *env) {
  jclass thread_type = (*env)->FindClass(env, "java/lang/Thread");
  jmethodID current_thread;
  jobject thread = NULL;
  if (thread_type == NULL) {
    return NULL;
  }
  current_thread = (*env)->GetStaticMethodID(env, thread_type, "currentThread", "()Ljava/lang/Thread;");
  if (current_thread != NULL) {
    thread = (*env)->CallStaticObjectMethod(env, thread_type, current_thread);
  }
  (*env)->DeleteLocalRef(env, thread_type);
  return thread;
}

static int reattach_run(JNIEnv *env, jobject runnable, const char *what, char *error) {
  jclass type;
  jmethodID run;
  if (runnable == NULL) {
    return 0;
  }
  type = (*env)->FindClass(env, "java/lang/Runnable");
  run = type == NULL ? NULL : (*env)->GetMethodID(env, type, "run", "()V");
  if (run != NULL) {
    (*env)->CallVoidMethod(env, runnable, run);
  }
  if (type != NULL) {
    (*env)->DeleteLocalRef(env, type);
  }
  if ((*env)->ExceptionCheck(env)) {
    fail(env, error, "the Java code of the %s attachment threw", what);
    return -1;
  }
  return 0;
}

/*
 * First attachment: (native) d1 on reattach_1, holding v1-early, and d3 on reattach_3; the Java
 * code inFirst. Detach. Second attachment, a new java.lang.Thread: the Java code inSecond;
 * (native) d2 on reattach_2, unregister reattach_3 (must find d3), reattach_1 set to v1; done last.
 * Detach and exit: d1:v1, d2:v2, done must then run, in that order, once each.
 */
static void *reattach_main(void *argument) {
  struct reattach_job *job = (struct reattach_job *)argument;
  JNIEnv *env = NULL;
  jobject first_thread = NULL, second_thread = NULL;

  if (reattach_attach(&env, "weave-jni-reattach-first", job) != 0) {
    goto out;
  }
  first_thread = reattach_current_thread(env);
  if (first_thread == NULL) {
    fail(env, job->error, "Thread.currentThread() in the first attachment");
  } else {
    jobject global = (*env)->NewGlobalRef(env, first_thread);
    (*env)->DeleteLocalRef(env, first_thread);
    first_thread = global;
  }
  if (job->error[0] == '\0' && job->native_registrations) {
    reattach_1 = &reattach_value_early;
    reattach_3 = &reattach_value_3;
    if (reg(env, &reattach_1, reattach_d1, "d1 in the first attachment", job->error) == 0) {
      reg(env, &reattach_3, reattach_d3, "d3 in the first attachment", job->error);
    }
  }
  if (job->error[0] == '\0') {
    reattach_run(env, job->in_first, "first", job->error);
  }
  (*java_vm)->DetachCurrentThread(java_vm);
  env = NULL;
  if (job->error[0] != '\0') {
    goto out;
  }

  if (reattach_attach(&env, "weave-jni-reattach-second", job) != 0) {
    goto out;
  }
  second_thread = reattach_current_thread(env);
  if (second_thread == NULL) {
    fail(env, job->error, "Thread.currentThread() in the second attachment");
  } else if (first_thread != NULL && (*env)->IsSameObject(env, first_thread, second_thread)) {
    fail(env, job->error, "the second attachment has the first one's java.lang.Thread: nothing was re-attached");
  }
  if (job->error[0] == '\0' && job->native_registrations) {
    int found = -1;
    reattach_2 = &reattach_value_2;
    if (reg(env, &reattach_2, reattach_d2, "d2 in the second attachment", job->error) == 0 &&
        weave_unregister_destructor(env, &reattach_3, &found) != WEAVE_OK) {
      fail(env, job->error, "weave_unregister_destructor(d3's variable) in the second attachment failed");
    } else if (job->error[0] == '\0' && found != 1) {
      fail(env, job->error,
           "weave_unregister_destructor(d3's variable, registered in the first attachment) in the second "
           "attachment: unregistered=%d, expected 1",
           found);
    }
    reattach_1 = &reattach_value_1; /* d1 must get the value at death, not at registration */
  }
  if (job->error[0] == '\0') {
    reattach_run(env, job->in_second, "second", job->error);
  }
  if (job->error[0] == '\0') {
    reg(env, &reattach_done, reattach_done_destructor, "done in the second attachment", job->error);
  }
  if (first_thread != NULL) {
    (*env)->DeleteGlobalRef(env, first_thread);
    first_thread = NULL;
  }
  if (second_thread != NULL) {
    (*env)->DeleteLocalRef(env, second_thread);
  }
  (*java_vm)->DetachCurrentThread(java_vm);

out:
  pthread_mutex_lock(&lock);
  job->finished = 1;
  pthread_cond_broadcast(&changed);
  pthread_mutex_unlock(&lock);
  return NULL; /* the thread's death runs its destructors */
}

JNIEXPORT jstring JNICALL Java_dev_weave_jni_WeaveJni_reattachInCThread(
    JNIEnv *env, jclass cls, jboolean native_registrations, jobject in_first, jobject in_second,
    jlong timeout_millis) {
  char result[ERROR_SIZE * 3] = "";
  char calls[ERROR_SIZE];
  struct reattach_job *job;
  struct timespec deadline;
  pthread_t thread;
  int status, timed_out = 0;
  (void)cls;
  job = (struct reattach_job *)calloc(1, sizeof *job);
  if (job == NULL) {
    throw_assertion(env, "reattachInCThread: out of memory");
    return NULL;
  }
  job->native_registrations = native_registrations;
  job->in_first = in_first == NULL ? NULL : (*env)->NewGlobalRef(env, in_first);
  job->in_second = in_second == NULL ? NULL : (*env)->NewGlobalRef(env, in_second);
  pthread_mutex_lock(&lock);
  reattach_calls = 0;
  reattach_done_seen = 0;
  pthread_mutex_unlock(&lock);

  status = pthread_create(&thread, NULL, reattach_main, job);
  if (status != 0) {
    snprintf(result, sizeof result, "pthread_create: %s", strerror(status));
    if (job->in_first != NULL) (*env)->DeleteGlobalRef(env, job->in_first);
    if (job->in_second != NULL) (*env)->DeleteGlobalRef(env, job->in_second);
    free(job);
    return (*env)->NewStringUTF(env, result);
  }

  /* Wait for done (the thread's last destructor), or for the thread to end having failed. */
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  deadline.tv_sec += (time_t)(timeout_millis / 1000);
  deadline.tv_nsec += (long)(timeout_millis % 1000) * 1000000L;
  if (deadline.tv_nsec >= 1000000000L) {
    deadline.tv_sec++;
    deadline.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&lock);
  while (!reattach_done_seen && !(job->finished && job->error[0] != '\0')) {
    if (pthread_cond_timedwait(&changed, &lock, &deadline) == ETIMEDOUT) {
      timed_out = !reattach_done_seen && !(job->finished && job->error[0] != '\0');
      break;
    }
  }
  pthread_mutex_unlock(&lock);

  if (timed_out) {
    pthread_detach(thread); /* job and its references are left to it */
    pthread_mutex_lock(&lock);
    reattach_describe(calls, sizeof calls);
    snprintf(result, sizeof result, "error: done did not run within %lld ms (thread %s); calls: %s",
             (long long)timeout_millis, job->finished ? "ended" : "still running", calls);
    pthread_mutex_unlock(&lock);
    return (*env)->NewStringUTF(env, result);
  }
  /* Returns after the thread's pthread key destructors, weave's among them: no call comes later. */
  pthread_join(thread, NULL);
  pthread_mutex_lock(&lock);
  reattach_describe(calls, sizeof calls);
  pthread_mutex_unlock(&lock);
  if (job->error[0] != '\0') {
    snprintf(result, sizeof result, "error: %s; calls: %s", job->error, calls);
  } else {
    snprintf(result, sizeof result, "%s", calls);
  }
  if (job->in_first != NULL) (*env)->DeleteGlobalRef(env, job->in_first);
  if (job->in_second != NULL) (*env)->DeleteGlobalRef(env, job->in_second);
  free(job);
  return (*env)->NewStringUTF(env, result);
}

JNIEXPORT jlong JNICALL Java_dev_weave_jni_WeaveJni_reattachValue(JNIEnv *env, jclass cls, jint which) {
  (void)env;
  (void)cls;
  return (jlong)(intptr_t)reattach_value(which);
}

JNIEXPORT jlong JNICALL Java_dev_weave_jni_WeaveJni_reattachDestructor(JNIEnv *env, jclass cls, jint which) {
  (void)env;
  (void)cls;
  return (jlong)(intptr_t)reattach_destructor(which);
}

JNIEXPORT void JNICALL Java_dev_weave_jni_WeaveJni_reattachRecord(JNIEnv *env, jclass cls, jint which, jlong value) {
  (void)env;
  (void)cls;
  reattach_record(which, (void *)(intptr_t)value);
}

/* ---- attached at exit: the walker detaches what it attached, and only that ------------------ */

/*
 * A backend's walker runs as a pthread key destructor, so a thread that has already detached must
 * be attached again for it and detached afterwards; a thread that is still attached (by weave.h, or
 * by its own code) must stay attached until its own detach. Each C thread here has its own key,
 * the "own key", set while it runs and set again in each of its destructor calls, so that it is
 * called once in each of glibc's passes (PTHREAD_DESTRUCTOR_ITERATIONS, 4): its call count is the
 * pass number. Keep in step with WeaveJni.java.
 */
enum {
  EXIT_STAYS_ATTACHED = 0,        /* attached itself with a name; still attached at exit */
  EXIT_STAYS_ATTACHED_DAEMON = 1, /* attached itself as an unnamed daemon, as an FFM upcall does */
  EXIT_DETACHED = 2,              /* detached itself before exit: the walker needs a new attachment */
  EXIT_REGISTERED_IN_PASS_4 = 3   /* registers from its own key destructor: the walker's first visit
                                     is in glibc's 4th and last pass */
};

#define EXIT_PASSES 4
#define EXIT_THREAD_NAME "weave-jni-exit"

struct exit_job {
  int mode;
  int register_in_pass; /* EXIT_REGISTERED_IN_PASS_4: the own key's call that registers; 0: none */
  int own_calls;        /* calls of the own key's destructor so far */
  int attached_at_own_detach;
  int done_calls;
  int own_calls_at_done;
  pthread_t thread;
  int started;
  char error[ERROR_SIZE];
};

static pthread_key_t exit_own_key;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;
static int exit_key_error = -1;
static weave_local void *exit_variable = NULL;

/* Registered last (and only) on each thread: records when it ran. No JVM calls. */
static void exit_done(void *value) {
  struct exit_job *job = (struct exit_job *)value;
  job->done_calls++;
  job->own_calls_at_done = job->own_calls;
}

/* Attaches (daemon and unnamed, or with the thread's name), registers exit_done, detaches if asked. */
static void exit_attach_and_register(struct exit_job *job, int daemon, int detach) {
  JavaVMAttachArgs args;
  JNIEnv *env = NULL;
  jint status;
  args.version = JNI_VERSION_1_6;
  args.name = (char *)EXIT_THREAD_NAME;
  args.group = NULL;
  status = daemon ? (*java_vm)->AttachCurrentThreadAsDaemon(java_vm, (void **)&env, NULL)
                  : (*java_vm)->AttachCurrentThread(java_vm, (void **)&env, &args);
  if (status != JNI_OK || env == NULL) {
    snprintf(job->error, ERROR_SIZE, "AttachCurrentThread%s failed: %d", daemon ? "AsDaemon" : "", (int)status);
    return;
  }
  exit_variable = job;
  reg(env, &exit_variable, exit_done, "exit_done", job->error);
  if (detach) {
    (*java_vm)->DetachCurrentThread(java_vm);
  }
}

static void exit_own_destructor(void *value) {
  struct exit_job *job = (struct exit_job *)value;
  job->own_calls++;
  if (job->mode == EXIT_REGISTERED_IN_PASS_4 && job->own_calls == job->register_in_pass) {
    exit_attach_and_register(job, 0, 1);
  }
  if (job->own_calls < EXIT_PASSES) {
    pthread_setspecific(exit_own_key, job); /* glibc calls it again in its next pass */
    return;
  }
  if (job->mode == EXIT_STAYS_ATTACHED || job->mode == EXIT_STAYS_ATTACHED_DAEMON) {
    /* The thread's own detach, as late as glibc allows: weave must not have detached it before. */
    JNIEnv *env = NULL;
    job->attached_at_own_detach = (*java_vm)->GetEnv(java_vm, (void **)&env, JNI_VERSION_1_6) == JNI_OK;
    (*java_vm)->DetachCurrentThread(java_vm);
  }
}

static void exit_make_key(void) {
  exit_key_error = pthread_key_create(&exit_own_key, exit_own_destructor);
}

static void *exit_main(void *argument) {
  struct exit_job *job = (struct exit_job *)argument;
  int error = pthread_setspecific(exit_own_key, job);
  if (error != 0) {
    snprintf(job->error, ERROR_SIZE, "pthread_setspecific: %s", strerror(error));
    return NULL;
  }
  switch (job->mode) {
    case EXIT_STAYS_ATTACHED:
      exit_attach_and_register(job, 0, 0);
      break;
    case EXIT_STAYS_ATTACHED_DAEMON:
      exit_attach_and_register(job, 1, 0);
      break;
    case EXIT_DETACHED:
      exit_attach_and_register(job, 0, 1);
      break;
    default: /* EXIT_REGISTERED_IN_PASS_4: registers from the own key, or, calibrating, now */
      if (job->register_in_pass == 0) {
        exit_attach_and_register(job, 0, 1);
      }
      break;
  }
  return NULL; /* the thread's death runs the destructors */
}

/* Runs count threads of a mode at once and joins them: their key destructors have all run then. */
static int exit_run(JNIEnv *env, struct exit_job *jobs, int count, int mode, int register_in_pass) {
  int i, status;
  for (i = 0; i < count; i++) {
    memset(&jobs[i], 0, sizeof jobs[i]);
    jobs[i].mode = mode;
    jobs[i].register_in_pass = register_in_pass;
    status = pthread_create(&jobs[i].thread, NULL, exit_main, &jobs[i]);
    jobs[i].started = status == 0;
    if (status != 0) {
      snprintf(jobs[i].error, ERROR_SIZE, "pthread_create: %s", strerror(status));
    }
  }
  for (i = 0; i < count; i++) {
    if (jobs[i].started) {
      pthread_join(jobs[i].thread, NULL);
    }
  }
  for (i = 0; i < count; i++) {
    if (jobs[i].error[0] != '\0') {
      throw_assertion(env, jobs[i].error);
      return -1;
    }
  }
  return 0;
}

JNIEXPORT jstring JNICALL Java_dev_weave_jni_WeaveJni_dieAttached(JNIEnv *env, jclass cls, jint mode, jint threads) {
  static struct exit_job jobs[MAX_THREADS];
  static pthread_mutex_t exit_lock = PTHREAD_MUTEX_INITIALIZER;
  char summary[512];
  int i, own_before_walker = 0, register_in_pass = 0, done = 0, attached = 0, in_pass_4 = 0;
  jstring result = NULL;
  (void)cls;
  if (threads < 1 || threads > MAX_THREADS || mode < EXIT_STAYS_ATTACHED || mode > EXIT_REGISTERED_IN_PASS_4) {
    throw_assertion(env, "dieAttached: a mode from 0 to 3 and 1 to 32 threads");
    return NULL;
  }
  pthread_once(&exit_once, exit_make_key);
  if (exit_key_error != 0) {
    throw_assertion(env, "dieAttached: pthread_key_create failed");
    return NULL;
  }
  pthread_mutex_lock(&exit_lock);
  if (mode == EXIT_REGISTERED_IN_PASS_4) {
    /*
     * glibc visits keys in index order within a pass. One thread that registers while alive shows
     * whether the own key comes before the walker's key (exit_done then sees the own key's first
     * call). Registering in the own key's 4th call (own key first) or 3rd (walker key first) then
     * puts the walker's first visit in pass 4.
     */
    if (exit_run(env, jobs, 1, mode, 0) != 0) {
      goto out;
    }
    own_before_walker = jobs[0].own_calls_at_done == 1;
    register_in_pass = own_before_walker ? EXIT_PASSES : EXIT_PASSES - 1;
  }
  if (exit_run(env, jobs, threads, mode, register_in_pass) != 0) {
    goto out;
  }
  for (i = 0; i < threads; i++) {
    done += jobs[i].done_calls == 1;
    attached += jobs[i].attached_at_own_detach;
    in_pass_4 += jobs[i].own_calls_at_done + (own_before_walker ? 0 : 1) == EXIT_PASSES;
  }
  if (mode == EXIT_STAYS_ATTACHED || mode == EXIT_STAYS_ATTACHED_DAEMON) {
    snprintf(summary, sizeof summary, "%d threads: destructors ran on %d, still attached at their own detach on %d",
             (int)threads, done, attached);
  } else if (mode == EXIT_REGISTERED_IN_PASS_4) {
    snprintf(summary, sizeof summary, "%d threads: destructors ran on %d, in glibc's pass 4 on %d",
             (int)threads, done, in_pass_4);
  } else {
    snprintf(summary, sizeof summary, "%d threads: destructors ran on %d", (int)threads, done);
  }
  result = (*env)->NewStringUTF(env, summary);
out:
  pthread_mutex_unlock(&exit_lock);
  return result;
}
