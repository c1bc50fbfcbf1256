package dev.weave.jni;

import java.io.File;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;

/**
 * Run in a JVM of its own by {@link WeaveHeaderTest}, with weave partly or wholly missing from the
 * class path: calls weave_register_destructor on this thread (with its env and with NULL) and on a
 * thread created in C, and prints what each returned and left pending.
 *
 * <p>With the arguments {@code loader CLASS_PATH}, weave is on no class path of the JVM but in a
 * class loader of its own, with a second copy of {@link WeaveJni}: a thread created in C then fails
 * to find weave until weave_init is called from a native method of that copy.
 */
public final class NoWeaveProbe {
  private NoWeaveProbe() {}

  public static void main(String[] args) throws Exception {
    if (args.length == 2 && args[0].equals("loader")) {
      inALoaderOfItsOwn(args[1]);
      return;
    }
    // A thread created in C first: weave.h must find the JVM itself (dlsym), nothing is cached yet.
    int[] places = {WeaveJni.C_THREAD_NULL_ENV, WeaveJni.HERE_NULL_ENV, WeaveJni.HERE};
    for (int where : places) {
      Throwable[] pending = new Throwable[1];
      int status = WeaveJni.tryRegister(where, false, false, pending);
      print("where=" + where, status, pending[0]);
    }
  }

  private static void inALoaderOfItsOwn(String classPath) throws Exception {
    List<URL> urls = new ArrayList<>();
    for (String entry : classPath.split(File.pathSeparator)) {
      urls.add(Paths.get(entry).toUri().toURL());
    }
    try (URLClassLoader loader =
        new URLClassLoader(urls.toArray(new URL[0]), ClassLoader.getPlatformClassLoader())) {
      Class<?> jni = Class.forName(WeaveJni.class.getName(), true, loader);
      Method tryRegister =
          jni.getDeclaredMethod(
              "tryRegister", int.class, boolean.class, boolean.class, Throwable[].class);
      Method init = jni.getDeclaredMethod("init", Throwable[].class);
      tryRegister.setAccessible(true);
      init.setAccessible(true);

      Throwable[] pending = new Throwable[1];
      int status =
          (int) tryRegister.invoke(null, WeaveJni.C_THREAD_NULL_ENV, false, false, pending);
      print("before-init", status, pending[0]);

      pending[0] = null;
      status = (int) init.invoke(null, (Object) pending);
      print("init", status, pending[0]);

      pending[0] = null;
      status = (int) tryRegister.invoke(null, WeaveJni.C_THREAD_NULL_ENV, false, false, pending);
      print("after-init", status, pending[0]);
    }
  }

  private static void print(String what, int status, Throwable pending) {
    Throwable cause = pending == null ? null : pending.getCause();
    System.out.println(what + " status=" + status + " pending=" + pending + " cause=" + cause);
  }
}
