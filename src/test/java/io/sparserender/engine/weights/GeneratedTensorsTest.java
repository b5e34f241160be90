package io.sparserender.engine.weights;

import static org.assertj.core.api.Assertions.assertThat;

import io.sparserender.engine.tensor.DType;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Generated weights are generated and encoded in parallel batches, and the file is byte for byte the one a sequential
 * generation writes with {@link SafetensorsWriter#add}: more tensors than cores (several batches), odd shapes, each
 * storable float dtype.
 */
class GeneratedTensorsTest {
    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F16", "BF16", "F64"})
    void parallelBatchesWriteTheSequentialFile(DType dtype) {
        int n = 2 * Runtime.getRuntime().availableProcessors() + 3;
        List<GeneratedTensors.Spec> specs = new ArrayList<>();
        SafetensorsWriter sequential = new SafetensorsWriter().metadata("format", "pt");
        for (int t = 0; t < n; t++) {
            int[] shape = {t + 1, 2 * t + 3};
            long seed = 1000 + t;
            specs.add(new GeneratedTensors.Spec("w" + t, shape, () -> values(seed, shape[0] * shape[1])));
            sequential.add("w" + t, dtype, shape, values(seed, shape[0] * shape[1]));
        }
        SafetensorsWriter batched = new SafetensorsWriter().metadata("format", "pt");
        GeneratedTensors.addAll(batched, dtype, specs);
        assertThat(batched.toBytes()).isEqualTo(sequential.toBytes());
    }

    private static float[] values(long seed, int count) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[count];
        for (int i = 0; i < count; i++) {
            v[i] = (float) (r.nextGaussian() * 3);
        }
        return v;
    }
}
