package io.sparserender.driver.spark;

import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.spark.sql.SparkSession;

/**
 * The Spark settings every sparse-render job runs with, declared once (DESIGN §5): Kryo with every
 * shipped class registered, speculation off (a clip must not render twice at once), and for local
 * runs a loopback driver address (Spark otherwise picks whatever the host name resolves to).
 */
public final class SparkSettings {
    private SparkSettings() {}

    public static Map<String, String> common() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("spark.serializer", "org.apache.spark.serializer.KryoSerializer");
        m.put("spark.kryo.registrationRequired", "true");
        m.put("spark.kryo.registrator", KryoRegistrator.class.getName());
        m.put("spark.speculation", "false");
        m.put("spark.sql.sources.partitionOverwriteMode", "dynamic");
        return m;
    }

    public static Map<String, String> local(int threads) {
        Map<String, String> m = common();
        m.put("spark.master", "local[" + threads + "]");
        m.put("spark.driver.host", "127.0.0.1");
        m.put("spark.driver.bindAddress", "127.0.0.1");
        m.put("spark.ui.showConsoleProgress", "false");
        m.put("spark.sql.shuffle.partitions", String.valueOf(Math.max(2, threads)));
        return m;
    }

    /**
     * The session of a job started from the CLI: under spark-submit (which sets {@code spark.master}) with
     * the submitted settings plus {@link #common()}, otherwise in local mode on {@code localMaster}
     * without the web UI. {@code extra} is added in both cases.
     */
    public static SparkSession jobSession(String appName, String localMaster, Map<String, String> extra) {
        boolean submitted = System.getProperty("spark.master") != null;
        SparkSession.Builder b = SparkSession.builder().appName(appName);
        Map<String, String> conf = submitted ? common() : local(1);
        if (!submitted) {
            conf.put("spark.master", localMaster);
            conf.put("spark.ui.enabled", "false");
        }
        conf.putAll(extra);
        conf.forEach(b::config);
        return b.getOrCreate();
    }

    /** A {@code spark.plugins} list with {@code plugin} added at the end unless it is there already. */
    public static String withPlugin(String plugins, String plugin) {
        java.util.List<String> names = new java.util.ArrayList<>();
        for (String p : plugins.split(",")) {
            if (!p.isBlank()) {
                names.add(p.trim());
            }
        }
        if (!names.contains(plugin)) {
            names.add(plugin);
        }
        return String.join(",", names);
    }

    /** A local session for the quickstart, the CLI without spark-submit, and tests. */
    public static SparkSession localSession(String appName, int threads, boolean ui) {
        SparkSession.Builder b = SparkSession.builder().appName(appName);
        local(threads).forEach(b::config);
        b.config("spark.ui.enabled", String.valueOf(ui));
        return b.getOrCreate();
    }
}
