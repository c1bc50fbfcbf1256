package dev.weave.tck;

import dev.weave.Weave;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.ObjectOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.opentest4j.TestAbortedException;

/**
 * The program a {@link ChildJvm} runs: {@code CaseServer BACKEND} reads {@code run ID} lines on
 * standard input, runs each case against the backend, and answers on standard output with a line
 * that starts with {@link ChildJvm#MARK}: {@code result ID pass}, {@code result ID skip REASON}, or
 * {@code result ID fail THROWABLE} (serialized, in Base64; {@code fail-text TEXT} if it cannot be
 * serialized). {@code exit} or the end of input ends it.
 */
public final class CaseServer {
  private CaseServer() {}

  public static void main(String[] args) throws IOException {
    String backend = args[0];
    PrintStream replies = System.out;
    Map<String, TckCase> cases =
        WeaveTckTest.cases().stream().collect(Collectors.toMap(TckCase::id, Function.identity()));
    BufferedReader requests =
        new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    String request;
    while ((request = requests.readLine()) != null && !request.equals("exit")) {
      if (!request.startsWith("run ")) {
        continue;
      }
      String id = request.substring("run ".length());
      TckCase c = cases.get(id);
      String reply;
      if (c == null) {
        reply = "fail-text " + base64("the TCK's child JVM has no case " + id);
      } else {
        reply = run(c, backend);
      }
      replies.println(ChildJvm.MARK + "result " + id + " " + reply);
      replies.flush();
    }
    System.exit(0); // whatever threads a case left behind
  }

  private static String run(TckCase c, String backend) {
    try {
      CaseExecution.execute(c, Weave.registry(backend));
      return "pass";
    } catch (TestAbortedException skipped) {
      return "skip " + base64(String.valueOf(skipped.getMessage()));
    } catch (Throwable t) {
      try {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
          out.writeObject(t);
        }
        return "fail " + Base64.getEncoder().encodeToString(bytes.toByteArray());
      } catch (IOException notSerializable) {
        return "fail-text " + base64(CaseExecution.stackTrace(t));
      }
    }
  }

  private static String base64(String text) {
    return Base64.getEncoder().encodeToString(text.getBytes(StandardCharsets.UTF_8));
  }
}
