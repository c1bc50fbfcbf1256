package dev.weave.spi;

import java.util.function.LongUnaryOperator;

/**
 * An engine's native walker: weave's C library ({@code walker/weave_walker.c}), whose {@code
 * weave_walker_walk} is the walker key's destructor, and the engine's configuration in native
 * memory ({@code struct weave_walker_config}), written once here and never freed. The walk runs
 * native destructors itself and calls into Java ({@link Engine}'s callback) only for Java ones, on
 * a thread it attaches to the JVM for them; it frees a dying thread's chunks itself (unless the
 * engine runs checked, which must see every free) and leaves the record on a list that the engine
 * takes ({@link #takeWalked()}) and frees.
 */
final class NativeWalker {
  // The configuration, as byte offsets (weave_walker.h).
  static final long JAVA_VM = 0;
  static final long UPCALL = 8;
  static final long FREE_CHUNK = 16;
  static final long SHUTTING_DOWN = 24;
  static final long WALKED = 32;
  static final long CONFIG_BYTES = 48;

  private final NativePrimitives primitives;

  /** The configuration's address: every record names it. */
  final long config;

  /** {@code weave_walker_walk}: the walker key's destructor. */
  final long walkFunction;

  /** Whether the walk frees a dying thread's chunks; else the engine does, as it takes records. */
  final boolean freesChunks;

  private final LongUnaryOperator takeWalked;
  private final LongUnaryOperator walksAtDeath;

  private NativeWalker(
      NativePrimitives primitives,
      long config,
      long walkFunction,
      boolean freesChunks,
      LongUnaryOperator takeWalked,
      LongUnaryOperator walksAtDeath) {
    this.primitives = primitives;
    this.config = config;
    this.walkFunction = walkFunction;
    this.freesChunks = freesChunks;
    this.takeWalked = takeWalked;
    this.walksAtDeath = walksAtDeath;
  }

  /**
   * Sets the walker up for an engine: finds the JVM and the library's functions, makes the callback
   * into Java, and writes the configuration.
   *
   * @param javaCalls what the walk's calls into Java run (a Java destructor, or a report)
   * @param checked whether the engine runs checked: the engine then frees the chunks of a thread
   *     the walk walked, through its checker
   * @throws IllegalStateException if there is no JVM to be found
   */
  static NativeWalker start(
      SharedLibrary library,
      SharedLibrary.Loader loader,
      NativePrimitives primitives,
      ThreadDeathHandler javaCalls,
      boolean checked) {
    long javaVm =
        library
            .function("weave_walker_java_vm")
            .applyAsLong(loader.jvmFunction("JNI_GetCreatedJavaVMs"));
    if (javaVm == 0) {
      throw new IllegalStateException("JNI_GetCreatedJavaVMs found no JVM");
    }
    long upcall = primitives.callbackFunction(javaCalls);
    long walk = library.address("weave_walker_walk");
    LongUnaryOperator takeWalked = library.function("weave_walker_take_walked");
    LongUnaryOperator walksAtDeath = library.function("weave_walker_walks_at_death");
    long config = primitives.allocateZeroed(CONFIG_BYTES);
    primitives.putWord(config + JAVA_VM, javaVm);
    primitives.putWord(config + UPCALL, upcall);
    if (!checked) {
      primitives.putWord(config + FREE_CHUNK, primitives.freeFunction());
    }
    return new NativeWalker(primitives, config, walk, !checked, takeWalked, walksAtDeath);
  }

  /** From the shutdown hook, before the walker key is deleted: no more calls into Java. */
  void shutDown() {
    primitives.putWord(config + SHUTTING_DOWN, 1);
  }

  /**
   * @return whether a walk at death has left a record for the engine to take
   */
  boolean hasWalked() {
    return primitives.getWord(config + WALKED) != 0;
  }

  /**
   * Takes every record walked at death, atomically.
   *
   * @return the first, whose {@link Record#NEXT_WALKED} links the others, or 0
   */
  long takeWalked() {
    return takeWalked.applyAsLong(config);
  }

  /**
   * @return how many walks at death the calling OS thread has had with this engine
   */
  long walksAtDeath() {
    return walksAtDeath.applyAsLong(0);
  }
}
