package dev.weave.tck;

import static org.junit.jupiter.api.Assertions.fail;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * Records what weave logs on {@code dev.weave}, where {@link System.Logger} goes to {@code
 * java.util.logging} (the JDK's default), and keeps it off the console while the test runs.
 */
final class LogCapture implements AutoCloseable {
  private final Logger logger = Logger.getLogger("dev.weave");
  private final boolean parentHandlers = logger.getUseParentHandlers();
  private final List<LogRecord> records = new ArrayList<>();
  private final Handler handler =
      new Handler() {
        @Override
        public void publish(LogRecord record) {
          synchronized (records) {
            records.add(record);
            records.notifyAll();
          }
        }

        @Override
        public void flush() {}

        @Override
        public void close() {}
      };

  LogCapture() {
    handler.setLevel(Level.ALL);
    logger.addHandler(handler);
    logger.setUseParentHandlers(false);
  }

  /** Waits for a record that matches, and returns it. */
  LogRecord await(String description, Predicate<LogRecord> matches, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    synchronized (records) {
      while (true) {
        for (LogRecord record : records) {
          if (matches.test(record)) {
            return record;
          }
        }
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          fail(
              "weave logged no "
                  + description
                  + " on logger dev.weave within "
                  + timeout
                  + "; it logged: "
                  + messages());
        }
        try {
          records.wait(Math.max(1, left / 1_000_000));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          fail("interrupted");
        }
      }
    }
  }

  private List<String> messages() {
    List<String> messages = new ArrayList<>();
    for (LogRecord record : records) {
      messages.add(record.getLevel() + " " + record.getMessage());
    }
    return messages;
  }

  @Override
  public void close() {
    logger.removeHandler(handler);
    logger.setUseParentHandlers(parentHandlers);
  }
}
