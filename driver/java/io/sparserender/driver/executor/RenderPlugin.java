package io.sparserender.driver.executor;

import java.util.HashMap;
import java.util.Map;
import io.sparserender.driver.spark.SparkHadoopConf;
import io.sparserender.driver.staging.StagingSettings;
import org.apache.spark.SparkConf;
import org.apache.spark.api.plugin.DriverPlugin;
import org.apache.spark.api.plugin.ExecutorPlugin;
import org.apache.spark.api.plugin.PluginContext;
import org.apache.spark.api.plugin.SparkPlugin;
import org.apache.spark.resource.ResourceInformation;

/**
 * {@code spark.plugins=io.sparserender.driver.executor.RenderPlugin}: each executor builds its
 * renderer (CUDA context on the GPU Spark assigned, model staged and loaded) once at start, before any
 * task, and publishes its {@link RenderMetrics} through Spark's metrics system; shutdown releases the device.
 *
 * <p>A failed start does not end the executor: an executor that exits at start is relaunched by the
 * cluster manager, loads the same broken model and exits again, and the job waits on executors that
 * never come. Instead the failure is kept ({@link ExecutorEngine}), the executor refuses every task
 * with it, and the driver ends the run at the first refusal with the message (file and tensor named).
 */
public final class RenderPlugin implements SparkPlugin {
    static final String PREFIX = "spark.sparserender.renderer.";

    /** The Spark configuration entries that carry these settings to executors. */
    public static Map<String, String> toConf(RendererSettings s) {
        Map<String, String> m = new HashMap<>();
        m.put(PREFIX + "factory", s.factoryClass());
        m.put(PREFIX + "backend", s.backend());
        m.put(PREFIX + "model", s.model());
        s.options().forEach((k, v) -> m.put(PREFIX + "option." + k, v));
        return m;
    }

    static RendererSettings fromConf(SparkConf conf) {
        Map<String, String> options = new HashMap<>();
        for (scala.Tuple2<String, String> kv : conf.getAllWithPrefix(PREFIX + "option.")) {
            options.put(kv._1(), kv._2());
        }
        return new RendererSettings(conf.get(PREFIX + "factory"), conf.get(PREFIX + "backend"),
                conf.get(PREFIX + "model"), options);
    }

    /** The GPU index Spark assigned to this executor, or -1 when no GPU resource is configured. */
    static int gpuIndex(Map<String, ResourceInformation> resources) {
        ResourceInformation gpu = resources.get("gpu");
        if (gpu == null || gpu.addresses().length == 0) {
            return -1;
        }
        if (gpu.addresses().length > 1) {
            throw new IllegalStateException("Cannot start the renderer: executor has " + gpu.addresses().length
                    + " GPUs " + String.join(",", gpu.addresses()) + "; set spark.executor.resource.gpu.amount=1");
        }
        return Integer.parseInt(gpu.addresses()[0]);
    }

    @Override
    public DriverPlugin driverPlugin() {
        return null;
    }

    @Override
    public ExecutorPlugin executorPlugin() {
        return new ExecutorPlugin() {
            @Override
            public void init(PluginContext ctx, Map<String, String> extraConf) {
                if (!ctx.conf().contains(PREFIX + "factory")) {
                    return; // not a render job (e.g. the report job)
                }
                RenderMetrics.start(ctx.metricRegistry());
                Map<String, String> conf = new HashMap<>();
                for (scala.Tuple2<String, String> kv : ctx.conf().getAll()) {
                    conf.put(kv._1(), kv._2());
                }
                try {
                    ExecutorEngine.start(fromConf(ctx.conf()), gpuIndex(ctx.resources()), StagingSettings.fromSparkConf(conf),
                            SparkHadoopConf.of(conf));
                } catch (RendererStartException e) {
                    // kept by ExecutorEngine (and logged there): the first task reports it to the driver
                }
            }

            @Override
            public void shutdown() {
                ExecutorEngine.shutdown();
            }
        };
    }
}
