package io.sparserender.testing;

import java.io.StringWriter;
import java.util.HashMap;
import java.util.Map;
import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.core.LoggerContext;
import org.apache.logging.log4j.core.appender.WriterAppender;
import org.apache.logging.log4j.core.config.Configuration;
import org.apache.logging.log4j.core.config.LoggerConfig;
import org.apache.logging.log4j.core.layout.PatternLayout;

/**
 * Everything logged in this JVM while open (Spark, Hadoop, the AWS SDK, sparse-render), at the levels
 * asked for, as text ("epoch-millis LEVEL logger: message" lines): for tests that grep logs. Levels and
 * appenders are restored on close.
 */
public final class CapturedLogs implements AutoCloseable {
    private final StringWriter text = new StringWriter();
    private final LoggerContext ctx = (LoggerContext) LogManager.getContext(false);
    private final WriterAppender appender;
    private final Map<String, Level> previous = new HashMap<>();

    /**
     * @param level  the level of the root and every configured logger
     * @param finer  loggers (by name) to open further, e.g. {@code "org.apache.hadoop.fs.s3a" -> DEBUG}
     */
    public CapturedLogs(Level level, Map<String, Level> finer) {
        Configuration config = ctx.getConfiguration();
        appender = WriterAppender.newBuilder().setName("captured-" + System.nanoTime()).setTarget(text)
                .setLayout(PatternLayout.newBuilder().withPattern("%d{UNIX_MILLIS} %-5p %c: %m%n%throwable").build()).build();
        appender.start();
        config.addAppender(appender);
        for (LoggerConfig lc : config.getLoggers().values()) {
            previous.put(lc.getName(), lc.getLevel());
            lc.setLevel(level);
        }
        config.getRootLogger().addAppender(appender, null, null);
        finer.forEach((name, l) -> {
            LoggerConfig lc = config.getLoggerConfig(name);
            if (!lc.getName().equals(name)) {
                lc = new LoggerConfig(name, l, true);
                config.addLogger(name, lc);
                previous.put(name, null);
            } else {
                previous.putIfAbsent(name, lc.getLevel());
            }
            lc.setLevel(l);
        });
        ctx.updateLoggers();
    }

    /** What was logged so far. */
    public String text() {
        return text.toString();
    }

    @Override
    public void close() {
        Configuration config = ctx.getConfiguration();
        config.getRootLogger().removeAppender(appender.getName());
        previous.forEach((name, level) -> {
            if (level == null) {
                config.removeLogger(name);
            } else {
                config.getLoggerConfig(name.isEmpty() ? LogManager.ROOT_LOGGER_NAME : name).setLevel(level);
            }
        });
        appender.stop();
        ctx.updateLoggers();
    }
}
