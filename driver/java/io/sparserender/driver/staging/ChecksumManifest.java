package io.sparserender.driver.staging;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * SHA-256 checksums of a model folder's files in the format of {@code sha256sum} ({@code <hex>  <path>},
 * or {@code <hex> *<path>}; paths relative to the folder, a leading {@code ./} ignored), so that
 * {@code sha256sum -c} checks either copy. Beside a remote model as {@link #FILE} it says what every
 * staged file must hash to; inside a staged copy as {@link #STAGED} it records what was copied.
 */
public final class ChecksumManifest {
    /** The manifest a model folder may carry: {@code (cd MODEL && find . -type f ! -name checksums.sha256 -print0 | xargs -0 sha256sum) > MODEL/checksums.sha256}. */
    public static final String FILE = "checksums.sha256";
    /** Written last into a staged copy: the checksums computed while copying. */
    public static final String STAGED = ".staged.sha256";

    private static final Pattern LINE = Pattern.compile("([0-9a-fA-F]{64}) [ *](.+)");

    private ChecksumManifest() {}

    /** Path → lower-case hex SHA-256. Errors name the manifest and the line. */
    public static Map<String, String> parse(byte[] content, String where) {
        Map<String, String> sums = new TreeMap<>();
        String[] lines = new String(content, StandardCharsets.UTF_8).split("\r?\n");
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i];
            if (line.isBlank()) {
                continue;
            }
            Matcher m = LINE.matcher(line);
            if (!m.matches()) {
                throw new StagingException("Invalid checksum manifest " + where + " line " + (i + 1)
                        + ": expected '<64 hex digits>  <path>' (sha256sum output), got '" + line + "'");
            }
            String path = m.group(2).startsWith("./") ? m.group(2).substring(2) : m.group(2);
            if (path.startsWith("/") || path.equals("..") || path.startsWith("../") || path.contains("/../")) {
                throw new StagingException("Invalid checksum manifest " + where + " line " + (i + 1)
                        + ": path '" + path + "' is not inside the model folder");
            }
            if (sums.put(path, m.group(1).toLowerCase(java.util.Locale.ROOT)) != null) {
                throw new StagingException("Invalid checksum manifest " + where + " line " + (i + 1)
                        + ": '" + path + "' is listed twice");
            }
        }
        return sums;
    }

    public static byte[] format(Map<String, String> sums) {
        StringBuilder b = new StringBuilder();
        new TreeMap<>(sums).forEach((path, hex) -> b.append(hex).append("  ").append(path).append('\n'));
        return b.toString().getBytes(StandardCharsets.UTF_8);
    }
}
