/*
 * The native walker (issue 20) seen from a JNI library: threads created in C that register only
 * native destructors through weave.h, detach and die (their destructors record whether the thread
 * was attached when they ran), and a native destructor that blocks until released, for close()
 * racing the walk. Keep in step with NativeWalkerTest.java.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <jni.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "weave.h"

#define NATIVE_ONLY_MAX_THREADS 64

static JavaVM *walker_test_vm;

struct native_only_job {
  pthread_t thread;
  int ran;                   /* its destructors that ran */
  int attached_when_run;     /* of those, run while the thread was attached to the JVM */
  char error[256];
};

static weave_local void *first_variable = NULL;
static weave_local void *second_variable = NULL;

/* Records whether the dying thread is attached to the JVM as it runs: it never enters the JVM. */
static void records_attachment(void *value) {
  struct native_only_job *job = (struct native_only_job *)value;
  JNIEnv *env = NULL;
  job->ran++;
  if ((*walker_test_vm)->GetEnv(walker_test_vm, (void **)&env, JNI_VERSION_1_6) == JNI_OK) {
    job->attached_when_run++;
  }
}

/* Attaches, registers two native destructors through weave.h, detaches, and exits. */
static void *native_only_main(void *argument) {
  struct native_only_job *job = (struct native_only_job *)argument;
  JNIEnv *env = NULL;
  if ((*walker_test_vm)->AttachCurrentThread(walker_test_vm, (void **)&env, NULL) != JNI_OK) {
    snprintf(job->error, sizeof job->error, "AttachCurrentThread failed");
    return NULL;
  }
  first_variable = job;
  second_variable = job;
  if (weave_register_destructor(env, &first_variable, records_attachment) != WEAVE_OK ||
      weave_register_destructor(env, &second_variable, records_attachment) != WEAVE_OK) {
    snprintf(job->error, sizeof job->error, "weave_register_destructor failed");
    (*env)->ExceptionClear(env);
  }
  (*walker_test_vm)->DetachCurrentThread(walker_test_vm);
  return NULL; /* its death runs the destructors, detached */
}

/*
 * Starts threads C threads of native_only_main and joins them in C (their key destructors have all
 * run then). Returns "T threads: D destructors ran, A of them attached", or throws AssertionError.
 */
JNIEXPORT jstring JNICALL Java_dev_weave_jni_NativeWalkerTest_dieDetachedWithNativeDestructorsOnly(
    JNIEnv *env, jclass cls, jint threads) {
  static struct native_only_job jobs[NATIVE_ONLY_MAX_THREADS];
  static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
  char summary[256];
  int i, ran = 0, attached = 0, started;
  (void)cls;
  if (threads < 1 || threads > NATIVE_ONLY_MAX_THREADS) {
    (*env)->ThrowNew(env, (*env)->FindClass(env, "java/lang/AssertionError"), "1 to 64 threads");
    return NULL;
  }
  (*env)->GetJavaVM(env, &walker_test_vm);
  pthread_mutex_lock(&lock);
  memset(jobs, 0, sizeof jobs);
  for (i = 0; i < threads; i++) {
    if (pthread_create(&jobs[i].thread, NULL, native_only_main, &jobs[i]) != 0) {
      snprintf(jobs[i].error, sizeof jobs[i].error, "pthread_create failed");
    }
  }
  for (i = 0; i < threads; i++) {
    started = jobs[i].error[0] == '\0';
    if (started) {
      pthread_join(jobs[i].thread, NULL);
    }
  }
  for (i = 0; i < threads; i++) {
    if (jobs[i].error[0] != '\0') {
      pthread_mutex_unlock(&lock);
      (*env)->ThrowNew(env, (*env)->FindClass(env, "java/lang/AssertionError"), jobs[i].error);
      return NULL;
    }
    ran += jobs[i].ran;
    attached += jobs[i].attached_when_run;
  }
  pthread_mutex_unlock(&lock);
  snprintf(summary, sizeof summary, "%d threads: %d destructors ran, %d of them attached",
           (int)threads, ran, attached);
  return (*env)->NewStringUTF(env, summary);
}

/* ---- a native destructor that blocks until released ----------------------------------------- */

struct gate {
  sem_t started;
  sem_t released;
  int done; /* set last, as the destructor returns */
};

static void blocks_until_released(void *value) {
  struct gate *gate = (struct gate *)value;
  sem_post(&gate->started);
  while (sem_wait(&gate->released) != 0) {
  }
  __atomic_store_n(&gate->done, 1, __ATOMIC_SEQ_CST);
}

JNIEXPORT jlong JNICALL Java_dev_weave_jni_NativeWalkerTest_newGate(JNIEnv *env, jclass cls) {
  struct gate *gate = calloc(1, sizeof *gate);
  (void)env;
  (void)cls;
  sem_init(&gate->started, 0, 0);
  sem_init(&gate->released, 0, 0);
  return (jlong)(intptr_t)gate; /* kept: a walk may hold it until its destructor returns */
}

JNIEXPORT jlong JNICALL Java_dev_weave_jni_NativeWalkerTest_blockingDestructor(JNIEnv *env,
                                                                                jclass cls) {
  (void)env;
  (void)cls;
  return (jlong)(intptr_t)blocks_until_released;
}

JNIEXPORT jboolean JNICALL Java_dev_weave_jni_NativeWalkerTest_awaitStarted(
    JNIEnv *env, jclass cls, jlong gate, jlong timeout_millis) {
  struct timespec deadline;
  (void)env;
  (void)cls;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += (time_t)(timeout_millis / 1000);
  deadline.tv_nsec += (long)(timeout_millis % 1000) * 1000000L;
  if (deadline.tv_nsec >= 1000000000L) {
    deadline.tv_sec++;
    deadline.tv_nsec -= 1000000000L;
  }
  for (;;) {
    if (sem_timedwait(&((struct gate *)(intptr_t)gate)->started, &deadline) == 0) {
      return JNI_TRUE;
    }
    if (errno == ETIMEDOUT) {
      return JNI_FALSE;
    }
  }
}

JNIEXPORT void JNICALL Java_dev_weave_jni_NativeWalkerTest_release(JNIEnv *env, jclass cls,
                                                                   jlong gate) {
  (void)env;
  (void)cls;
  sem_post(&((struct gate *)(intptr_t)gate)->released);
}

JNIEXPORT jboolean JNICALL Java_dev_weave_jni_NativeWalkerTest_done(JNIEnv *env, jclass cls,
                                                                    jlong gate) {
  (void)env;
  (void)cls;
  return __atomic_load_n(&((struct gate *)(intptr_t)gate)->done, __ATOMIC_SEQ_CST) ? JNI_TRUE
                                                                                   : JNI_FALSE;
}
