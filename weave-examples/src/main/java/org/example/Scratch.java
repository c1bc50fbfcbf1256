package org.example;

public final class Scratch {
  static {
    System.loadLibrary("scratch");
  }

  public static native long buffer(); // this thread's buffer, freed when the thread dies

  public static native void release(); // free it now
}
