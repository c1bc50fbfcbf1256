package dev.weave.verification;

import static org.assertj.core.api.Assertions.assertThat;

import dev.weave.tck.Rule;
import dev.weave.tck.TckCase;
import dev.weave.tck.WeaveTckTest;
import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The specification in the repository, {@code docs/SPEC.md}, which every TCK failure links to: a
 * section per rule, headed as {@link Rule#heading()} (so that {@link Rule#link()} lands there),
 * stating the rule as {@link Rule#sentence()} does, and listing every case of that rule by id.
 */
class SpecTest {
  static final Path SPEC = Path.of("..", "docs", "SPEC.md");

  @Test
  void everyRuleHasItsSectionWithItsSentenceAndCases() throws IOException {
    String spec = Files.readString(SPEC, StandardCharsets.UTF_8);
    for (Rule rule : Rule.values()) {
      String section = section(spec, rule);
      assertThat(rule.link()).endsWith("#" + gitHubAnchor(rule.heading()));
      assertThat(plain(section))
          .as(rule.heading() + ": the rule as the contract states it")
          .contains(rule.sentence());
      for (TckCase c : WeaveTckTest.cases()) {
        if (c.rule() == rule) {
          assertThat(section)
              .as(rule.heading() + " lists case " + c.id())
              .contains("| `" + c.id() + "` |");
        }
      }
    }
  }

  /** Every failure links to the copy in the TCK, which is this file as it was built. */
  @Test
  void theTckCarriesTheSpecificationItLinksTo() throws IOException {
    for (Rule rule : Rule.values()) {
      String link = rule.link();
      assertThat(link).as(rule.heading()).contains(Rule.SPEC_RESOURCE + "#" + rule.anchor());
      try (InputStream copy = new URL(link.substring(0, link.indexOf('#'))).openStream()) {
        assertThat(new String(copy.readAllBytes(), StandardCharsets.UTF_8))
            .as("the TCK's copy of the specification, at " + link)
            .isEqualTo(Files.readString(SPEC, StandardCharsets.UTF_8));
      }
    }
  }

  @Test
  void listsNoCaseThatTheTckDoesNotHave() throws IOException {
    List<String> listed = new ArrayList<>();
    for (String line : Files.readAllLines(SPEC, StandardCharsets.UTF_8)) {
      if (line.matches("\\| `[a-z0-9-]+` \\|.*")) {
        listed.add(line.substring(3, line.indexOf('`', 3)));
      }
    }
    assertThat(listed)
        .containsExactlyInAnyOrderElementsOf(
            WeaveTckTest.cases().stream().map(TckCase::id).toList());
  }

  /** From the rule's heading to the next heading of the same level. */
  private static String section(String spec, Rule rule) {
    String heading = "\n## " + rule.heading() + "\n";
    int start = spec.indexOf(heading);
    assertThat(start).as("SPEC.md has the heading '## " + rule.heading() + "'").isNotNegative();
    int end = spec.indexOf("\n## ", start + heading.length());
    return spec.substring(start, end < 0 ? spec.length() : end);
  }

  /** The text without Markdown quoting, emphasis and code marks, on one line. */
  private static String plain(String markdown) {
    return markdown
        .replaceAll("(?m)^> ?", "")
        .replace("`", "")
        .replace("*", "")
        .replaceAll("\\s+", " ");
  }

  /**
   * GitHub's anchor for a heading: lower case, punctuation other than - and _ dropped, spaces as
   * hyphens.
   */
  private static String gitHubAnchor(String heading) {
    return heading
        .toLowerCase(java.util.Locale.ROOT)
        .replaceAll("[^a-z0-9 _-]", "")
        .replace(' ', '-');
  }
}
