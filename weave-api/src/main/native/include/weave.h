/*
 * weave.h: thread-death destructors for JNI code, through the running JVM's weave.
 *
 * The counterpart of ft_utils' ft_weave.h for native libraries loaded into a JVM. Header-only
 * (static inline), C99 or later (C++11 too). Nothing links against weave or libjvm: every call
 * goes through JNI to dev.weave.Weave.registry() of the JVM the library is loaded into, so that
 * JVM needs dev.weave:weave-api and a backend (weave-ffm on Java 22+, weave-jnr or weave-jna) on
 * its class path or module path. POSIX only (pthreads and dlsym); weave's backends are Linux/glibc.
 *
 *   #include "weave.h"          // from weave-api.jar: META-INF/native/include/weave.h
 *
 *   static weave_local void *buffer;              // this thread's scratch buffer
 *
 *   JNIEXPORT void JNICALL Java_org_example_Codec_work(JNIEnv *env, jclass cls) {
 *     if (buffer == NULL) {
 *       buffer = malloc(65536);
 *       if (weave_register_destructor(env, &buffer, free) != 0) {
 *         free(buffer);
 *         buffer = NULL;
 *         return;                                  // the Java exception is pending
 *       }
 *     }
 *     ...                                          // free(buffer) runs when this thread dies
 *   }
 *
 * Compile: cc -shared -fPIC -pthread -I<dir with weave.h> -I$JAVA_HOME/include
 *          -I$JAVA_HOME/include/linux mylib.c -o libmylib.so   (add -ldl before glibc 2.34)
 *
 * SEMANTICS (those of dev.weave.DestructorRegistry, whose registerNative(long, long) and
 * unregister(long) these functions call):
 *   - A registration belongs to the calling OS thread. When that thread dies, each of its
 *     registrations runs once, on that thread, in the order registered (across all variables and
 *     all of the thread's Java and native registrations), and is passed the value its variable
 *     holds at the moment it is called: a destructor that changes a later one's variable is seen.
 *   - weave_unregister_destructor removes every registration of the calling thread on the
 *     variable and says whether there was one. Other threads' registrations stay.
 *   - Destructors run after the thread's Java code has finished; Thread.join() may return first
 *     (pthread_join on a thread created in C returns after them). Threads still alive when the
 *     JVM exits do not run their destructors.
 *   - The registration goes to the backend Weave.registry() picks at the time of the call
 *     (-Dweave.backend=NAME, WEAVE_BACKEND, else the best usable one).
 *
 * RETURN VALUES: 0 (WEAVE_OK) on success. Otherwise non-zero and, whenever a JVM and a JNIEnv are
 * at hand, a Java exception is left pending for the caller (return from your native method and
 * Java sees it, or check it with ExceptionOccurred and ExceptionClear). Never a crash.
 *   WEAVE_ERROR_ARGUMENT  var or fn is NULL: IllegalArgumentException is pending.
 *   WEAVE_ERROR_JAVA      a Java exception is pending: NoClassDefFoundError if dev.weave.Weave is
 *                         not visible (the message says what to add), WeaveException if no usable
 *                         backend is there, IllegalStateException on a virtual thread or for the
 *                         cell of a closed slot, IllegalArgumentException for a var not aligned to
 *                         8 bytes or a cell of another backend's slot, ... It is also returned,
 *                         with nothing done, if an exception was already pending.
 *   WEAVE_ERROR_NO_JVM    env was NULL and this process has no JVM: nothing is pending.
 *   WEAVE_ERROR_ATTACH    env was NULL and the thread could not be attached: nothing is pending.
 *
 * env MAY BE NULL: the header then finds the JVM with JNI_GetCreatedJavaVMs, resolved at run time
 * with dlsym(RTLD_DEFAULT, ...) (libjvm is already loaded into the process) and uses the calling
 * thread's JNIEnv. If the thread is not attached to the JVM, the header attaches it ONCE, as a
 * daemon thread named WEAVE_ATTACHED_THREAD_NAME (define it before including to change it), and
 * leaves it attached until the thread exits, when a pthread key destructor of this header detaches
 * it. That is for cost, not correctness: each attachment makes a new java.lang.Thread, and weave
 * itself keeps a thread's registrations across attachments (see CAVEATS). A thread that is already
 * attached (a Java thread, or one your code attached) is used as it is and never detached by
 * weave.h. weave_env() gives that JNIEnv, for example to read an exception left pending by a call
 * made with a NULL env.
 *
 * CLASS LOOKUP: dev.weave.Weave is looked up, once, with JNI FindClass, so with the class loader of
 * the Java method that called into native code, or the system class loader on a thread that has no
 * Java frames (a thread created in C). If weave lives in another class loader (an application
 * server, a plugin), call weave_init(env) from JNI_OnLoad (weave_init(NULL) there uses the loading
 * thread's env) or from one of your native methods first; threads created in C then find it too.
 * The class is cached as a global reference, with its method IDs, under a mutex. All of the
 * header's state (the JavaVM, the class, the detach key) is per translation unit.
 *
 * CAVEATS
 *   - A destructor must not call into the JVM (no JNIEnv, no AttachCurrentThread, no callbacks
 *     into Java) and must not call these functions: it runs while the OS thread is being torn down,
 *     possibly while the JVM shuts down, inside a backend's own thread-death callback.
 *   - The value of a weave_local variable at destructor time. The destructor reads the dying
 *     thread's variable through the address registered. glibc keeps a thread's static TLS (and the
 *     dynamic TLS of dlopen'ed libraries such as this one) until after its pthread key destructors,
 *     where weave's destructors run, so on Linux/glibc the destructor gets the thread's value. Other
 *     platforms may not: on macOS, depending on many factors, a thread_local can be back at its
 *     initial value, or gone, by then. Where that matters, keep the value in a weave slot's cell
 *     (ThreadLocalSlot.cellAddress(), a void** that outlives the destructors) or in heap memory
 *     that lives until the destructors have run, and register against that address instead.
 *   - A thread created in C may detach from the JVM and attach again between calls, any number of
 *     times. weave finds an OS thread's registrations and slot cells through its pthread keys, not
 *     through its java.lang.Thread, so after DetachCurrentThread and a new AttachCurrentThread
 *     (a new Thread) the registrations made before are still seen by weave_unregister_destructor
 *     and still run at the thread's death, in registration order with the later ones, and a weave
 *     slot keeps its value and its cellAddress(). Pass the JNIEnv of the current attachment (a
 *     JNIEnv is not valid after DetachCurrentThread), or NULL. Attaching once and detaching just
 *     before the thread ends stays the cheaper way: each attachment makes a new java.lang.Thread.
 *   - These functions register with the default backend (Weave.registry()). A cell of a slot of
 *     another backend (its ThreadLocalSlot.cellAddress(), when several backends are loaded) is
 *     refused with IllegalArgumentException (WEAVE_ERROR_JAVA), in any attachment of the thread:
 *     that backend frees its cells on its own schedule, possibly before the default backend's
 *     destructors read them. Register such a cell in Java with the slot's own registry instead. A
 *     cell of the default backend's slot is tied to that slot: closing the slot drops it.
 *   - A thread that exits while still attached (this header's own attachment included) may be
 *     called into from other libraries' pthread key destructors as it exits: these functions then
 *     act on the thread's live registrations, or on a fresh state, never on memory weave freed; a
 *     registration made then runs in glibc's next destructor pass.
 *   - The variable and the destructor's code must outlive the thread: a library that can be
 *     unloaded (loaded by a class loader that may be collected) must not leave registrations or
 *     header-attached threads behind.
 *   - Each call goes into Java (Weave.registry(), then the registry): register once per thread
 *     and variable, not on every hot call. Do not call these functions from signal handlers.
 */
#ifndef WEAVE_H
#define WEAVE_H

#include <dlfcn.h>
#include <jni.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * weave_local marks a variable as thread-local, as in ft_weave.h: static weave_local void *p;
 * Where thread_local is already a keyword or a macro, it is the same thing.
 */
#ifndef weave_local
#if defined(__cplusplus) && __cplusplus >= 201103L
#define weave_local thread_local
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define weave_local _Thread_local
#elif defined(__GNUC__) || defined(__clang__)
#define weave_local __thread
#else
#error "weave.h: no thread-local storage class known for this compiler; define weave_local"
#endif
#endif

/* A destructor: called at the registering thread's death with its variable's then-current value. */
typedef void (*weave_destructor_t)(void *);

#define WEAVE_OK 0
#define WEAVE_ERROR_ARGUMENT 1
#define WEAVE_ERROR_JAVA 2
#define WEAVE_ERROR_NO_JVM 3
#define WEAVE_ERROR_ATTACH 4

#ifndef WEAVE_ATTACHED_THREAD_NAME
#define WEAVE_ATTACHED_THREAD_NAME "weave-attached-native-thread"
#endif

/* ---- implementation ------------------------------------------------------------------------ */

#ifdef __cplusplus
#define WEAVE__ENV(env) ((env)->functions)
#define WEAVE__VM(vm) ((vm)->functions)
#else
#define WEAVE__ENV(env) (*(env))
#define WEAVE__VM(vm) (*(vm))
#endif

#if defined(RTLD_DEFAULT)
#define WEAVE__RTLD_DEFAULT RTLD_DEFAULT
#else
/* glibc and musl define RTLD_DEFAULT only with _GNU_SOURCE; it is the null handle there. */
#define WEAVE__RTLD_DEFAULT ((void *)0)
#endif

#if defined(__APPLE__)
#define WEAVE__LIBJVM "libjvm.dylib"
#else
#define WEAVE__LIBJVM "libjvm.so"
#endif

#define WEAVE__MISSING_CLASS                                                                      \
  "weave.h: class dev.weave.Weave not found. Put dev.weave:weave-api and a weave backend "       \
  "(weave-ffm on Java 22+, weave-jnr or weave-jna) on the class path. weave.h looks it up with "  \
  "the class loader of the Java method that called into native code, or the system class loader " \
  "on a thread with no Java frames; to use your library's class loader, call weave_init(env) "     \
  "from JNI_OnLoad or from one of your native methods first."

struct weave__state {
  JavaVM *vm;
  jclass weave;              /* global reference to dev.weave.Weave */
  jmethodID registry;        /* static DestructorRegistry Weave.registry() */
  jmethodID register_native; /* void DestructorRegistry.registerNative(long, long) */
  jmethodID unregister;      /* boolean DestructorRegistry.unregister(long) */
  int detach_key_state;      /* 0: not made yet, 1: made, -1: pthread_key_create failed */
  pthread_key_t detach_key;  /* value: the JavaVM*, on threads this header attached */
};

static inline struct weave__state *weave__state(void) {
  static struct weave__state state;
  return &state;
}

static inline pthread_mutex_t *weave__lock(void) {
  static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
  return &lock;
}

/* The destructor of the detach key: runs at the exit of a thread this header attached. */
static inline void weave__detach_at_exit(void *value) {
  JavaVM *vm = (JavaVM *)value;
  JNIEnv *env = NULL;
  /* GetEnv answers JNI_EDETACHED, without touching anything, once the JVM is destroyed. */
  if (vm != NULL && WEAVE__VM(vm)->GetEnv(vm, (void **)&env, JNI_VERSION_1_6) == JNI_OK) {
    WEAVE__VM(vm)->DetachCurrentThread(vm);
  }
}

typedef jint(JNICALL *weave__get_created_vms_t)(JavaVM **, jsize, jsize *);

/* The JVM this library is loaded into, found without linking against libjvm. */
static inline JavaVM *weave__find_vm(void) {
  weave__get_created_vms_t get_created_vms = NULL;
  JavaVM *vm = NULL;
  jsize count = 0;
  void *symbol = dlsym(WEAVE__RTLD_DEFAULT, "JNI_GetCreatedJavaVMs");
#ifdef RTLD_NOLOAD
  if (symbol == NULL) { /* a launcher that loaded libjvm with RTLD_LOCAL */
    void *libjvm = dlopen(WEAVE__LIBJVM, RTLD_LAZY | RTLD_NOLOAD);
    if (libjvm != NULL) {
      symbol = dlsym(libjvm, "JNI_GetCreatedJavaVMs");
      dlclose(libjvm); /* only drops the reference RTLD_NOLOAD took; libjvm stays */
    }
  }
#endif
  if (symbol == NULL) {
    return NULL;
  }
  memcpy(&get_created_vms, &symbol, sizeof get_created_vms);
  if (get_created_vms(&vm, 1, &count) != JNI_OK || count < 1) {
    return NULL;
  }
  return vm;
}

/* The JVM: cached, else from env, else found in the process. */
static inline JavaVM *weave__vm(JNIEnv *env) {
  struct weave__state *state = weave__state();
  JavaVM *vm;
  pthread_mutex_lock(weave__lock());
  vm = state->vm;
  pthread_mutex_unlock(weave__lock());
  if (vm != NULL) {
    return vm;
  }
  if (env != NULL) {
    if (WEAVE__ENV(env)->GetJavaVM(env, &vm) != JNI_OK) {
      vm = NULL;
    }
  } else {
    vm = weave__find_vm();
  }
  if (vm != NULL) {
    pthread_mutex_lock(weave__lock());
    if (state->vm == NULL) {
      state->vm = vm;
    }
    vm = state->vm;
    pthread_mutex_unlock(weave__lock());
  }
  return vm;
}

/* The calling thread's JNIEnv; attaches the thread (as a daemon, until it exits) only if needed. */
static inline int weave__current_env(JNIEnv **out) {
  struct weave__state *state = weave__state();
  JavaVMAttachArgs args;
  JNIEnv *env = NULL;
  JavaVM *vm = weave__vm(NULL);
  jint status;
  int key_state;
  *out = NULL;
  if (vm == NULL) {
    return WEAVE_ERROR_NO_JVM;
  }
  status = WEAVE__VM(vm)->GetEnv(vm, (void **)&env, JNI_VERSION_1_6);
  if (status == JNI_OK) {
    *out = env;
    return WEAVE_OK;
  }
  if (status != JNI_EDETACHED) {
    return WEAVE_ERROR_ATTACH;
  }
  pthread_mutex_lock(weave__lock());
  if (state->detach_key_state == 0) {
    state->detach_key_state =
        pthread_key_create(&state->detach_key, weave__detach_at_exit) == 0 ? 1 : -1;
  }
  key_state = state->detach_key_state;
  pthread_mutex_unlock(weave__lock());
  if (key_state != 1) {
    return WEAVE_ERROR_ATTACH; /* without the key the thread would never be detached */
  }
  args.version = JNI_VERSION_1_6;
  args.name = (char *)WEAVE_ATTACHED_THREAD_NAME;
  args.group = NULL;
  if (WEAVE__VM(vm)->AttachCurrentThreadAsDaemon(vm, (void **)&env, &args) != JNI_OK || env == NULL) {
    return WEAVE_ERROR_ATTACH;
  }
  if (pthread_setspecific(state->detach_key, vm) != 0) {
    WEAVE__VM(vm)->DetachCurrentThread(vm);
    return WEAVE_ERROR_ATTACH;
  }
  *out = env;
  return WEAVE_OK;
}

/* Resolves a NULL env; refuses to run over an exception that is already pending. */
static inline int weave__enter(JNIEnv **env) {
  if (*env == NULL) {
    int status = weave__current_env(env);
    if (status != WEAVE_OK) {
      return status;
    }
  } else {
    (void)weave__vm(*env); /* remembered for later calls with a NULL env */
  }
  return WEAVE__ENV(*env)->ExceptionCheck(*env) ? WEAVE_ERROR_JAVA : WEAVE_OK;
}

static inline int weave__throw(JNIEnv *env, const char *class_name, const char *message, int status) {
  jclass type = WEAVE__ENV(env)->FindClass(env, class_name);
  if (type != NULL) {
    WEAVE__ENV(env)->ThrowNew(env, type, message);
    WEAVE__ENV(env)->DeleteLocalRef(env, type);
  }
  return status; /* if FindClass failed, its error is pending instead */
}

/* Replaces a NoClassDefFoundError or ClassNotFoundException with one that says what to do. */
static inline void weave__explain_missing_class(JNIEnv *env) {
  jthrowable original = WEAVE__ENV(env)->ExceptionOccurred(env);
  jclass no_class_def = NULL, not_found = NULL;
  jmethodID init, init_cause;
  jstring text = NULL;
  jobject replacement = NULL, self;
  int replaced = 0;
  if (original == NULL) {
    return;
  }
  WEAVE__ENV(env)->ExceptionClear(env);
  no_class_def = WEAVE__ENV(env)->FindClass(env, "java/lang/NoClassDefFoundError");
  if (no_class_def != NULL) {
    not_found = WEAVE__ENV(env)->FindClass(env, "java/lang/ClassNotFoundException");
  }
  if (not_found != NULL && (WEAVE__ENV(env)->IsInstanceOf(env, original, no_class_def) ||
                            WEAVE__ENV(env)->IsInstanceOf(env, original, not_found))) {
    init = WEAVE__ENV(env)->GetMethodID(env, no_class_def, "<init>", "(Ljava/lang/String;)V");
    init_cause = init == NULL ? NULL
        : WEAVE__ENV(env)->GetMethodID(env, no_class_def, "initCause",
                                       "(Ljava/lang/Throwable;)Ljava/lang/Throwable;");
    text = init_cause == NULL ? NULL : WEAVE__ENV(env)->NewStringUTF(env, WEAVE__MISSING_CLASS);
    replacement = text == NULL ? NULL : WEAVE__ENV(env)->NewObject(env, no_class_def, init, text);
    if (replacement != NULL) {
      self = WEAVE__ENV(env)->CallObjectMethod(env, replacement, init_cause, original);
      if (self != NULL) {
        WEAVE__ENV(env)->DeleteLocalRef(env, self);
      }
      if (!WEAVE__ENV(env)->ExceptionCheck(env)) {
        WEAVE__ENV(env)->Throw(env, (jthrowable)replacement);
        replaced = 1;
      }
    }
  }
  if (!replaced && !WEAVE__ENV(env)->ExceptionCheck(env)) {
    WEAVE__ENV(env)->Throw(env, original);
  }
  if (replacement != NULL) WEAVE__ENV(env)->DeleteLocalRef(env, replacement);
  if (text != NULL) WEAVE__ENV(env)->DeleteLocalRef(env, text);
  if (not_found != NULL) WEAVE__ENV(env)->DeleteLocalRef(env, not_found);
  if (no_class_def != NULL) WEAVE__ENV(env)->DeleteLocalRef(env, no_class_def);
  WEAVE__ENV(env)->DeleteLocalRef(env, original);
}

/* Fills *out from the cache, looking dev.weave.Weave up first if needed. */
static inline int weave__lookup(JNIEnv *env, struct weave__state *out) {
  struct weave__state *state = weave__state();
  jclass weave, registry_type;
  jobject global;
  jmethodID registry, register_native, unregister;
  pthread_mutex_lock(weave__lock());
  *out = *state;
  pthread_mutex_unlock(weave__lock());
  if (out->weave != NULL) {
    return WEAVE_OK;
  }
  /* Looked up outside the lock: FindClass may run Java code (class loading), which may call in. */
  weave = WEAVE__ENV(env)->FindClass(env, "dev/weave/Weave");
  if (weave == NULL) {
    weave__explain_missing_class(env);
    return WEAVE_ERROR_JAVA;
  }
  registry_type = WEAVE__ENV(env)->FindClass(env, "dev/weave/DestructorRegistry");
  if (registry_type == NULL) {
    WEAVE__ENV(env)->DeleteLocalRef(env, weave);
    weave__explain_missing_class(env);
    return WEAVE_ERROR_JAVA;
  }
  registry = WEAVE__ENV(env)->GetStaticMethodID(env, weave, "registry",
                                                "()Ldev/weave/DestructorRegistry;");
  register_native = registry == NULL ? NULL
      : WEAVE__ENV(env)->GetMethodID(env, registry_type, "registerNative", "(JJ)V");
  unregister = register_native == NULL ? NULL
      : WEAVE__ENV(env)->GetMethodID(env, registry_type, "unregister", "(J)Z");
  global = unregister == NULL ? NULL : WEAVE__ENV(env)->NewGlobalRef(env, weave);
  WEAVE__ENV(env)->DeleteLocalRef(env, registry_type);
  WEAVE__ENV(env)->DeleteLocalRef(env, weave);
  if (global == NULL) {
    if (!WEAVE__ENV(env)->ExceptionCheck(env)) {
      return weave__throw(env, "java/lang/OutOfMemoryError", "weave.h: NewGlobalRef failed",
                          WEAVE_ERROR_JAVA);
    }
    return WEAVE_ERROR_JAVA; /* NoSuchMethodError: a weave-api older than this header */
  }
  pthread_mutex_lock(weave__lock());
  if (state->weave == NULL) { /* else another thread was first: keep its reference */
    state->weave = (jclass)global;
    state->registry = registry;
    state->register_native = register_native;
    state->unregister = unregister;
    global = NULL;
  }
  *out = *state;
  pthread_mutex_unlock(weave__lock());
  if (global != NULL) {
    WEAVE__ENV(env)->DeleteGlobalRef(env, global);
  }
  return WEAVE_OK;
}

static inline int weave__registry(JNIEnv *env, const struct weave__state *ids, jobject *registry) {
  *registry = WEAVE__ENV(env)->CallStaticObjectMethod(env, ids->weave, ids->registry);
  if (WEAVE__ENV(env)->ExceptionCheck(env)) {
    if (*registry != NULL) {
      WEAVE__ENV(env)->DeleteLocalRef(env, *registry);
    }
    return WEAVE_ERROR_JAVA;
  }
  if (*registry == NULL) {
    return weave__throw(env, "java/lang/IllegalStateException",
                        "weave.h: dev.weave.Weave.registry() returned null", WEAVE_ERROR_JAVA);
  }
  return WEAVE_OK;
}

static inline jlong weave__address(void **var) {
  return (jlong)(intptr_t)var;
}

static inline jlong weave__function(weave_destructor_t fn) {
  return (jlong)(intptr_t)fn;
}

/* ---- API ----------------------------------------------------------------------------------- */

/*
 * Returns the calling thread's JNIEnv, attaching the thread (once, as a daemon, detached when it
 * exits) if it is not attached; NULL if this process has no JVM or the thread cannot be attached.
 */
static inline JNIEnv *weave_env(void) {
  JNIEnv *env = NULL;
  return weave__current_env(&env) == WEAVE_OK ? env : NULL;
}

/*
 * Optional: looks dev.weave.Weave up now, with the class loader of the calling context. Call it
 * from JNI_OnLoad or from a native method of your own when weave is not visible to the system
 * class loader and destructors will be registered from threads created in C. env may be NULL.
 * Returns 0, or non-zero with a Java exception pending, as the functions below.
 */
static inline int weave_init(JNIEnv *env) {
  struct weave__state ids;
  int status = weave__enter(&env);
  return status != WEAVE_OK ? status : weave__lookup(env, &ids);
}

/*
 * Registers fn for the calling thread against the void* variable at var: when this thread dies,
 * fn is called with the value *var holds then, after the thread's earlier registrations. The same
 * variable and function may be registered any number of times; each registration runs.
 * env: the calling thread's JNIEnv, or NULL (see above). Returns 0, or non-zero with a Java
 * exception pending: WEAVE_ERROR_ARGUMENT (IllegalArgumentException) if var or fn is NULL.
 */
static inline int weave_register_destructor(JNIEnv *env, void **var, weave_destructor_t fn) {
  struct weave__state ids;
  jobject registry = NULL;
  int status = weave__enter(&env);
  if (status != WEAVE_OK) {
    return status;
  }
  if (var == NULL) {
    return weave__throw(env, "java/lang/IllegalArgumentException",
                        "weave_register_destructor: var is NULL; pass the address of a void* variable",
                        WEAVE_ERROR_ARGUMENT);
  }
  if (fn == NULL) {
    return weave__throw(env, "java/lang/IllegalArgumentException",
                        "weave_register_destructor: fn is NULL; pass a void (*)(void *) function",
                        WEAVE_ERROR_ARGUMENT);
  }
  if ((status = weave__lookup(env, &ids)) != WEAVE_OK ||
      (status = weave__registry(env, &ids, &registry)) != WEAVE_OK) {
    return status;
  }
  WEAVE__ENV(env)->CallVoidMethod(env, registry, ids.register_native, weave__address(var),
                                  weave__function(fn));
  WEAVE__ENV(env)->DeleteLocalRef(env, registry);
  return WEAVE__ENV(env)->ExceptionCheck(env) ? WEAVE_ERROR_JAVA : WEAVE_OK;
}

/*
 * Removes every registration of the calling thread against var (made here, or from Java with
 * registerNative or through a slot whose cell is var) without running it. *unregistered (if
 * unregistered is not NULL) becomes 1 if there was one, else 0. env: as above. Returns 0, or
 * non-zero with a Java exception pending: WEAVE_ERROR_ARGUMENT (IllegalArgumentException) if var
 * is NULL.
 */
static inline int weave_unregister_destructor(JNIEnv *env, void **var, int *unregistered) {
  struct weave__state ids;
  jobject registry = NULL;
  jboolean found;
  int status;
  if (unregistered != NULL) {
    *unregistered = 0;
  }
  status = weave__enter(&env);
  if (status != WEAVE_OK) {
    return status;
  }
  if (var == NULL) {
    return weave__throw(env, "java/lang/IllegalArgumentException",
                        "weave_unregister_destructor: var is NULL; pass the address of a void* variable",
                        WEAVE_ERROR_ARGUMENT);
  }
  if ((status = weave__lookup(env, &ids)) != WEAVE_OK ||
      (status = weave__registry(env, &ids, &registry)) != WEAVE_OK) {
    return status;
  }
  found = WEAVE__ENV(env)->CallBooleanMethod(env, registry, ids.unregister, weave__address(var));
  WEAVE__ENV(env)->DeleteLocalRef(env, registry);
  if (WEAVE__ENV(env)->ExceptionCheck(env)) {
    return WEAVE_ERROR_JAVA;
  }
  if (unregistered != NULL) {
    *unregistered = found == JNI_TRUE;
  }
  return WEAVE_OK;
}

#ifdef __cplusplus
}
#endif

#endif /* WEAVE_H */
