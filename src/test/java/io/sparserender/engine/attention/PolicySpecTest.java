package io.sparserender.engine.attention;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class PolicySpecTest {
    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        "dense | dense:br=64,bc=64,order=natural",
        "topk:k=16 | topk:k=16,br=64,bc=64,order=natural",
        "topp:p=0.95 | topp:p=0.95,br=64,bc=64,order=natural",
        "blasst:scale=200 | blasst:scale=200,br=64,bc=64,order=natural",
        "dynsparse:lambda=-9 | dynsparse:lambda=-9,br=64,bc=64,order=natural",
        "dynsparse:preal=0.1,bc=32 | dynsparse:preal=0.1,br=64,bc=32,order=natural",
        "recall:r=0.95 | recall:r=0.95,bound=max,br=64,bc=64,order=natural",
        "recall:r=1,bound=exact,order=local | recall:r=1,bound=exact,br=64,bc=64,order=local",
        "recall:r=0.9,bound=binned,br=32,bc=128 | recall:r=0.9,bound=binned,br=32,bc=128,order=natural",
        "hybrid:r=0.95 | hybrid:r=0.95,bound=max,pre=0.2,global=8,br=64,bc=64,order=estimate",
        "hybrid:r=0.95,pre=0,order=natural | hybrid:r=0.95,bound=max,pre=0,global=8,br=64,bc=64,order=natural",
        "hybrid:r=0.95,global=0 | hybrid:r=0.95,bound=max,pre=0.2,global=0,br=64,bc=64,order=estimate",
        " topk : k = 3 , br = 16 | topk:k=3,br=16,bc=64,order=natural",
    })
    void acceptsAndCanonicalises(String spec, String canonical) {
        AttentionPolicy p = PolicySpec.parse(spec);
        assertThat(p.spec()).isEqualTo(canonical);
        assertThat(PolicySpec.parse(p.spec())).isEqualTo(p);
    }

    @Test
    void givesTheRecordsTheirValues() {
        assertThat(PolicySpec.parse("topk:k=16")).isEqualTo(new AttentionPolicy.TopK(16, Tiling.defaults()));
        AttentionPolicy.DynSparse d = (AttentionPolicy.DynSparse) PolicySpec.parse("dynsparse:preal=0.1,bc=32");
        assertThat(d.lambdaFor(2048)).isCloseTo(Math.log(0.1) + Math.log(32.0 / 2048), org.assertj.core.data.Offset.offset(1e-12));
        assertThat(((AttentionPolicy.DynSparse) PolicySpec.parse("dynsparse:lambda=-9")).lambdaFor(5000)).isEqualTo(-9);
        assertThat(((AttentionPolicy.Blasst) PolicySpec.parse("blasst:scale=200")).threshold(1000)).isEqualTo(Math.log(0.2));
        assertThat(((AttentionPolicy.Hybrid) PolicySpec.parse("hybrid:r=0.9,pre=0.5")).loopRecall())
                .isCloseTo(0.95, org.assertj.core.data.Offset.offset(1e-12));
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        "foo | unknown policy 'foo' (known: dense, topk, topp, blasst, dynsparse, recall, hybrid)",
        "recall:x=1,r=0.9 | unknown key 'x' for policy 'recall' (keys: r, bound, br, bc, order)",
        "dense:k=3 | unknown key 'k' for policy 'dense' (keys: br, bc, order)",
        "recall:r=1.5 | r must be in (0, 1], got 1.5",
        "recall:r=0 | r must be in (0, 1], got 0",
        "recall:r=-0.1 | r must be in (0, 1], got -0.1",
        "recall | missing required key 'r'",
        "recall:r=abc | value of 'r' is not a number: 'abc'",
        "recall:r=NaN | value of 'r' is not finite: 'NaN'",
        "recall:r=0.9,bound=loose | unknown bound 'loose' (known: max, exact, binned)",
        "hybrid:r=0.9,pre=2 | pre must be in [0, 1], got 2",
        "hybrid:r=0.9,global=-1 | global must be at least 0, got -1",
        "hybrid:r=0.9,global=two | value of 'global' is not an integer: 'two'",
        "topk:k=0 | k must be at least 1, got 0",
        "topk:k=2.5 | value of 'k' is not an integer: '2.5'",
        "topp:p=1.01 | p must be in (0, 1], got 1.01",
        "blasst:scale=-1 | scale must be positive, got -1",
        "dynsparse:lambda=-9,preal=0.1 | give exactly one of 'lambda' and 'preal'",
        "dynsparse | give exactly one of 'lambda' and 'preal'",
        "dynsparse:preal=0 | preal must be positive, got 0",
        "dense:br=0 | br must be at least 1, got 0",
        "dense:order=random | unknown order 'random' (known: natural, local, estimate)",
        "recall:r=0.9,r=0.8 | key 'r' given twice",
        "recall:r | 'r' is not key=value",
        "recall: | no key=value after ':'",
    })
    void rejectsWithOneLineNamingTheKey(String spec, String what) {
        assertThatThrownBy(() -> PolicySpec.parse(spec))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("Invalid policy spec '" + spec + "': " + what);
    }

    @Test
    void parsesListsSeparatedBySemicolonsOrLines() {
        assertThat(PolicySpec.parseList("dense; recall:r=0.9\n# comment\n\ntopk:k=2")).extracting(AttentionPolicy::name)
                .containsExactly("dense", "recall", "topk");
        assertThatThrownBy(() -> PolicySpec.parseList(" ; ")).hasMessageStartingWith("Invalid policy list");
    }
}
