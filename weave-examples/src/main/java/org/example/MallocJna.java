package org.example;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Platform;
import com.sun.jna.Structure;
import com.sun.jna.Structure.FieldOrder;

/** glibc's heap figure through JNA, for the Java 17 examples. */
final class MallocJna {
  /** glibc's {@code mallinfo2()} (2.33 and later). */
  public interface C extends Library {
    Mallinfo2 mallinfo2();
  }

  /** glibc's {@code struct mallinfo2}: ten {@code size_t}. */
  @FieldOrder({
    "arena",
    "ordblks",
    "smblks",
    "hblks",
    "hblkhd",
    "usmblks",
    "fsmblks",
    "uordblks",
    "fordblks",
    "keepcost"
  })
  public static final class Mallinfo2 extends Structure implements Structure.ByValue {
    public long arena;
    public long ordblks;
    public long smblks;
    public long hblks;
    public long hblkhd;
    public long usmblks;
    public long fsmblks;
    public long uordblks;
    public long fordblks;
    public long keepcost;
  }

  private static final C LIBC = Native.load(Platform.C_LIBRARY_NAME, C.class);

  private MallocJna() {}

  /**
   * @return the bytes malloc has handed out and not had back, in every arena and in mmap'd blocks
   */
  static long heapInUse() {
    Mallinfo2 info = LIBC.mallinfo2();
    return info.uordblks + info.hblkhd;
  }
}
