package io.sparserender.engine.ops;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.sparserender.engine.tensor.Tensor;
import org.junit.jupiter.api.Test;

/** The text-encoder block of {@link CpuOps}: row gather. */
class CpuOpsEmbeddingTest {
    private final CpuOps ops = new CpuOps();

    @Test
    void gathersRowsInIdOrder() {
        Tensor table = new Tensor(new float[] {0, 1, 10, 11, 20, 21}, 3, 2);
        Tensor out = ops.embedding(table, new int[] {2, 0, 2, 1});
        assertThat(out.shape()).containsExactly(4, 2);
        assertThat(out.data()).containsExactly(20, 21, 0, 1, 20, 21, 10, 11);
    }

    @Test
    @SuppressWarnings("unchecked")
    void defaultImplementationGathersThroughTheHost() {
        // a backend that does not override embedding: every other method delegates to CpuOps
        Ops<Tensor> backend = (Ops<Tensor>) java.lang.reflect.Proxy.newProxyInstance(Ops.class.getClassLoader(),
                new Class<?>[] {Ops.class}, (proxy, m, args) -> m.isDefault()
                        ? java.lang.reflect.InvocationHandler.invokeDefault(proxy, m, args) : m.invoke(ops, args));
        Tensor table = new Tensor(new float[] {0, 1, 10, 11, 20, 21}, 3, 2);
        assertThat(backend.embedding(table, new int[] {1, 1, 0}).data()).containsExactly(10, 11, 10, 11, 0, 1);
    }

    @Test
    void rejectsIdsOutsideTheTable() {
        Tensor table = new Tensor(new float[6], 3, 2);
        assertThatThrownBy(() -> ops.embedding(table, new int[] {0, 3}))
                .hasMessage("Cannot gather embeddings: id 3 at position 1 is outside the table's 3 rows");
        assertThatThrownBy(() -> ops.embedding(new Tensor(new float[6], 6), new int[] {0}))
                .hasMessageContaining("is not [V, D]");
    }
}
