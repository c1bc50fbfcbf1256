package dev.weave.spi;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.stream.Collectors;

/**
 * What is logged to {@code dev.weave} while it is open, at every level (System.Logger goes to
 * java.util.logging here: DEBUG is FINE).
 */
public final class CapturedLog implements AutoCloseable {
  private final Logger logger = Logger.getLogger("dev.weave");
  private final Level level = logger.getLevel();
  private final List<LogRecord> records = new CopyOnWriteArrayList<>();
  private final Handler handler =
      new Handler() {
        @Override
        public void publish(LogRecord record) {
          records.add(record);
        }

        @Override
        public void flush() {}

        @Override
        public void close() {}
      };

  public CapturedLog() {
    handler.setLevel(Level.ALL);
    logger.setLevel(Level.ALL);
    logger.addHandler(handler);
  }

  /**
   * @return the messages logged at {@code level}, formatted
   */
  public List<String> messages(Level level) {
    return records.stream()
        .filter(r -> r.getLevel().equals(level))
        .map(r -> new java.util.logging.SimpleFormatter().formatMessage(r))
        .collect(Collectors.toList());
  }

  /**
   * @return the records logged at {@code level}
   */
  public List<LogRecord> records(Level level) {
    return records.stream().filter(r -> r.getLevel().equals(level)).collect(Collectors.toList());
  }

  @Override
  public void close() {
    logger.removeHandler(handler);
    logger.setLevel(level);
  }
}
