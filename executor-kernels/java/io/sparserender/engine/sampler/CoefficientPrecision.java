package io.sparserender.engine.sampler;

/** How the sampler's scalar step coefficients are computed (the per-element arithmetic is always float64). */
public enum CoefficientPrecision {
    /**
     * Round after every scalar operation to float32, as Wan's and diffusers' schedulers compute them
     * (float32 0-d tensors). Exact for +, −, ×, ÷ (float64 holds every float32 product and quotient
     * closely enough that one rounding to float32 gives the float32 result); ln and expm1 are evaluated
     * in float64 and rounded once, the correctly rounded float32 value.
     */
    REFERENCE_FLOAT32 {
        @Override
        double round(double v) {
            return (float) v;
        }

        @Override
        double fms(double a, double b, double c) {
            return Math.fma((float) -b, (float) c, (float) a);
        }
    },
    /** Plain float64. */
    FLOAT64 {
        @Override
        double round(double v) {
            return v;
        }

        @Override
        double fms(double a, double b, double c) {
            return Math.fma(-b, c, a);
        }
    };

    abstract double round(double v);

    /** a − b·c with one rounding (a fused multiply-add) in this precision. */
    abstract double fms(double a, double b, double c);
}
