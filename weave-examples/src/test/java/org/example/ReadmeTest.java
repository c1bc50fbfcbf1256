package org.example;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The README's code blocks that name their source are that source, which this module compiles and
 * runs. In the README, such a block follows a line {@code <!-- source: PATH -->} (the whole file)
 * or {@code <!-- source: PATH#NAME -->} (the lines between {@code // NAME: begin} and {@code //
 * NAME: end}, less the indentation of the first marker and any blank lines before the end marker);
 * PATH is relative to the repository.
 */
class ReadmeTest {
  private static final Pattern SOURCED_BLOCK =
      Pattern.compile(
          "<!-- source: ([^#\\s]+)(?:#(\\w+))? -->\\n```\\w*\\n(.*?)```", Pattern.DOTALL);

  @Test
  void everyBlockThatNamesItsSourceIsThatSource() throws IOException {
    Path readme = Paths.get(System.getProperty("weave.examples.readme"));
    Path repository = readme.getParent();
    Matcher block = SOURCED_BLOCK.matcher(Files.readString(readme));
    List<String> sources = new ArrayList<>();
    while (block.find()) {
      String source =
          block.group(2) == null ? block.group(1) : block.group(1) + "#" + block.group(2);
      String text = Files.readString(repository.resolve(block.group(1)));
      String expected = block.group(2) == null ? text : region(text, block.group(2), source);
      assertEquals(expected, block.group(3), "the README's block from " + source);
      sources.add(source);
    }
    assertEquals(
        List.of(
            "weave-examples/src/main/java/org/example/ZstdContexts.java#Quickstart",
            "weave-examples/src/main/c/scratch.c",
            "weave-examples/src/main/java/org/example/Scratch.java"),
        sources,
        "the README's blocks that name their source");
  }

  /** The lines between {@code // NAME: begin} and {@code // NAME: end}, less their indentation. */
  private static String region(String text, String name, String source) {
    Matcher region =
        Pattern.compile(
                "^( *)// " + name + ": begin\\n(.*?)^ *// " + name + ": end$",
                Pattern.DOTALL | Pattern.MULTILINE)
            .matcher(text);
    assertTrue(region.find(), source + " has no region " + name);
    String indentation = region.group(1);
    StringBuilder lines = new StringBuilder();
    for (String line : region.group(2).split("\n", -1)) {
      if (!line.isEmpty()) {
        assertTrue(line.startsWith(indentation), source + ": a line less indented than its region");
        lines.append(line.substring(indentation.length()));
      }
      lines.append('\n');
    }
    // split's last piece is the empty end; the formatter puts a blank line before an end marker
    // that follows a member
    return lines.toString().replaceAll("\n+$", "\n");
  }
}
