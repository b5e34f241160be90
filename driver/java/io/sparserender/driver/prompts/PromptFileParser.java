package io.sparserender.driver.prompts;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.csv.CsvMapper;
import com.fasterxml.jackson.dataformat.csv.CsvParser;
import com.fasterxml.jackson.dataformat.csv.CsvSchema;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Splits one JSONL or CSV prompt file into rows, each a JSON object of its fields or the reason it
 * could not be read. Row numbers are 1-based lines (JSONL) or records after the header (CSV).
 * Text is decoded strictly as UTF-8, so invalid bytes are reported, never silently replaced.
 */
public final class PromptFileParser {
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
    private static final CsvMapper CSV = new CsvMapper();

    /** One row: fields when it parsed, otherwise the reason. */
    public record ParsedRow(long row, ObjectNode fields, String error) {}

    private PromptFileParser() {}

    public static List<ParsedRow> parse(byte[] content, PromptFormat format) {
        return switch (format) {
            case JSONL -> jsonLines(content);
            case CSV -> csv(content);
            case PARQUET -> throw new IllegalArgumentException("Parquet prompts are read by Spark, not parsed as text");
        };
    }

    private static List<ParsedRow> jsonLines(byte[] content) {
        List<ParsedRow> rows = new ArrayList<>();
        int start = 0;
        long line = 0;
        while (start < content.length) {
            int end = start;
            while (end < content.length && content[end] != '\n') {
                end++;
            }
            line++;
            int stop = end > start && content[end - 1] == '\r' ? end - 1 : end;
            rows.add(jsonLine(line, content, start, stop));
            start = end + 1;
        }
        rows.removeIf(r -> r == null);
        return rows;
    }

    private static ParsedRow jsonLine(long line, byte[] content, int from, int to) {
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(content, from, to - from)).toString();
        } catch (CharacterCodingException e) {
            return new ParsedRow(line, null, "line is not valid UTF-8");
        }
        if (line == 1 && text.startsWith("\uFEFF")) {
            text = text.substring(1); // byte order mark
        }
        if (text.isBlank()) {
            return null;
        }
        try {
            JsonNode n = JSON.readTree(text);
            if (n == null || !n.isObject()) {
                return new ParsedRow(line, null, "line is not a JSON object");
            }
            return new ParsedRow(line, (ObjectNode) n, null);
        } catch (IOException e) {
            return new ParsedRow(line, null, "malformed JSON: " + firstLine(e.getMessage()));
        }
    }

    private static List<ParsedRow> csv(byte[] content) {
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(content)).toString();
        } catch (CharacterCodingException e) {
            return List.of(new ParsedRow(0, null, "file is not valid UTF-8"));
        }
        if (text.startsWith("\uFEFF")) {
            text = text.substring(1);
        }
        List<ParsedRow> rows = new ArrayList<>();
        CsvSchema schema = CsvSchema.emptySchema().withHeader();
        try (MappingIterator<Map<String, String>> it = CSV.readerForMapOf(String.class).with(schema)
                .with(CsvParser.Feature.FAIL_ON_MISSING_COLUMNS)
                .readValues(text)) {
            long row = 0;
            while (true) {
                row++;
                try {
                    if (!it.hasNextValue()) {
                        break;
                    }
                    Map<String, String> m = it.nextValue();
                    ObjectNode o = JsonNodeFactory.instance.objectNode();
                    boolean blank = true;
                    for (Iterator<Map.Entry<String, String>> e = m.entrySet().iterator(); e.hasNext(); ) {
                        Map.Entry<String, String> kv = e.next();
                        if (kv.getValue() != null && !kv.getValue().isEmpty()) {
                            o.put(kv.getKey(), kv.getValue());
                            blank = false;
                        }
                    }
                    if (!blank) {
                        rows.add(new ParsedRow(row, o, null));
                    }
                } catch (RuntimeException | IOException e) {
                    rows.add(new ParsedRow(row, null, "malformed CSV: " + firstLine(e.getMessage())));
                    break; // the parser cannot resynchronise after a broken record
                }
            }
        } catch (IOException | RuntimeException e) {
            rows.add(new ParsedRow(0, null, "malformed CSV header: " + firstLine(e.getMessage())));
        }
        return rows;
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "no detail";
        }
        int nl = s.indexOf('\n');
        String line = nl < 0 ? s : s.substring(0, nl);
        return line.length() > 200 ? line.substring(0, 200) + "..." : line;
    }
}
