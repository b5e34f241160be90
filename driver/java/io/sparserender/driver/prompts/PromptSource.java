package io.sparserender.driver.prompts;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sparserender.engine.pipeline.ClipSpec;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.api.java.function.MapFunction;
import org.apache.spark.sql.AnalysisException;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.catalyst.encoders.ExpressionEncoder;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * Reads a prompt dataset (JSONL, CSV or Parquet on any Hadoop FileSystem) and validates every row on
 * the executors; the small result comes back to the driver as plain rows (no Kryo-shipped types).
 */
public final class PromptSource {
    /** Columns of a validated row: the clip's canonical spec, or the rejection reason. */
    public static final StructType VALIDATED = new StructType(new StructField[] {
        DataTypes.createStructField("source", DataTypes.StringType, false),
        DataTypes.createStructField("row", DataTypes.LongType, false),
        DataTypes.createStructField("user_id", DataTypes.StringType, true),
        DataTypes.createStructField("spec", DataTypes.StringType, true),
        DataTypes.createStructField("reason", DataTypes.StringType, true),
    });

    private PromptSource() {}

    /** Reads and validates every row; rows come back in file and row order. */
    public static List<Validation> read(SparkSession spark, String path, PromptFormat format, RowValidator validator) {
        Dataset<Row> validated;
        try {
            validated = switch (format) {
                case JSONL, CSV -> textRows(spark, path, format, validator);
                case PARQUET -> parquetRows(spark, path, validator);
            };
        } catch (Exception e) { // Scala's AnalysisException is checked in Java's eyes but not declared
            if (e instanceof AnalysisException a) {
                throw new IllegalArgumentException("Cannot read prompts " + path + ": " + a.getSimpleMessage(), e);
            }
            throw (RuntimeException) e;
        }
        List<Validation> out = new ArrayList<>();
        for (Row r : validated.orderBy("source", "row").collectAsList()) {
            String reason = r.getString(4);
            if (reason != null) {
                out.add(new Validation.Rejected(r.getString(0), r.getLong(1), reason));
            } else {
                out.add(new Validation.Accepted(r.getString(0), r.getLong(1), r.getString(2),
                        ClipSpec.fromCanonicalJson(r.getString(3))));
            }
        }
        return out;
    }

    private static Dataset<Row> textRows(SparkSession spark, String path, PromptFormat format, RowValidator validator) {
        Dataset<Row> files = spark.read().format("binaryFile").load(path).select("path", "content");
        boolean csv = format == PromptFormat.CSV;
        FlatMapFunction<Row, Row> parse = file -> {
            String source = file.getString(0);
            List<Row> rows = new ArrayList<>();
            for (PromptFileParser.ParsedRow p : PromptFileParser.parse((byte[]) file.get(1), format)) {
                rows.add(p.error() != null ? rejected(source, p.row(), p.error())
                        : toRow(validator.validate(source, p.row(), p.fields(), csv)));
            }
            return rows.iterator();
        };
        return files.flatMap(parse, ExpressionEncoder.apply(VALIDATED));
    }

    private static Dataset<Row> parquetRows(SparkSession spark, String path, RowValidator validator) {
        Dataset<Row> data = spark.read().parquet(path);
        StructType schema = data.schema();
        Dataset<Row> withPos = data.select(data.col("*"), data.col("_metadata.file_path").as("__source"),
                data.col("_metadata.row_index").as("__row"));
        MapFunction<Row, Row> check = r -> {
            ObjectNode fields = JsonNodeFactory.instance.objectNode();
            for (int i = 0; i < schema.size(); i++) {
                if (r.isNullAt(i)) {
                    continue;
                }
                String name = schema.fields()[i].name();
                Object v = r.get(i);
                if (v instanceof String s) {
                    fields.put(name, s);
                } else if (v instanceof Integer || v instanceof Long || v instanceof Short || v instanceof Byte) {
                    fields.put(name, ((Number) v).longValue());
                } else if (v instanceof Float || v instanceof Double) {
                    fields.put(name, ((Number) v).doubleValue());
                } else if (v instanceof java.math.BigDecimal d) {
                    fields.put(name, d);
                } else {
                    return rejected(r.getString(schema.size()), r.getLong(schema.size() + 1) + 1,
                            name + " has unsupported Parquet type " + schema.fields()[i].dataType().simpleString());
                }
            }
            return toRow(validator.validate(r.getString(schema.size()), r.getLong(schema.size() + 1) + 1, fields, false));
        };
        return withPos.map(check, ExpressionEncoder.apply(VALIDATED));
    }

    private static Row rejected(String source, long row, String reason) {
        return RowFactory.create(source, row, null, null, reason);
    }

    private static Row toRow(Validation v) {
        if (v instanceof Validation.Accepted a) {
            return RowFactory.create(a.source(), a.row(), a.userId(), a.spec().canonicalJson(), null);
        }
        Validation.Rejected r = (Validation.Rejected) v;
        return rejected(r.source(), r.row(), r.reason());
    }

}
