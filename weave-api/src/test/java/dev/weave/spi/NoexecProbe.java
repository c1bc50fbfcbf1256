package dev.weave.spi;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * For {@link WalkerNoexecTest}, in a JVM of its own: loads the native walker with {@link
 * System#load} under each directory named on the command line, and prints one line for each: the
 * directory, the choice, and how many entries the extraction left there.
 */
final class NoexecProbe {
  private NoexecProbe() {}

  public static void main(String[] directories) throws IOException {
    NativePrimitives primitives =
        WalkerLibraryTest.primitives(
            Optional.of(
                WalkerLibraryTest.loader(
                    file -> {
                      System.load(file.toString());
                      return WalkerLibraryTest.library(WalkerLibrary.ABI_VERSION);
                    })));
    for (String directory : directories) {
      System.setProperty(WalkerLibrary.WORKDIR_PROPERTY, directory);
      WalkerChoice choice = WalkerLibrary.load("probe", primitives);
      long left;
      try (Stream<Path> entries = Files.list(Path.of(directory))) {
        left = entries.count();
      }
      System.out.println(directory + " -> " + choice + " | left " + left);
    }
  }
}
