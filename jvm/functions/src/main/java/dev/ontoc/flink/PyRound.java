package dev.ontoc.flink;

import java.math.BigDecimal;
import java.math.RoundingMode;

import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.functions.ScalarFunction;

/**
 * {@code ONTOC_PY_ROUND(x, ndigits)}: Python's {@code round(x, ndigits)} for a DOUBLE, BIGINT or
 * DECIMAL(38, 10) {@code x}, of the same type.
 *
 * <p>Python rounds the exact value of {@code x} (for a float, its binary value: {@code 2.675} is
 * {@code 2.67499999...}, so {@code round(2.675, 2)} is {@code 2.67}) to {@code ndigits} decimal
 * places, ties to even, and for a float returns the double nearest that decimal. Flink's
 * {@code ROUND} rounds half up, and a double through its shortest decimal text ({@code 2.68}).
 *
 * <p>NULL where Python raises: a finite float whose rounding is too large for a double
 * ({@code OverflowError}), a Decimal whose result needs more than the default context's 28 digits
 * ({@code InvalidOperation}), and here also an int result outside BIGINT (Python's ints are unbounded).
 */
public class PyRound extends ScalarFunction {

    public Double eval(Double x, Long ndigits) {
        if (x == null || ndigits == null) {
            return null;
        }
        double v = x;
        if (Double.isNaN(v) || Double.isInfinite(v)) {
            return v; // Python returns non-finite floats unchanged
        }
        int digits = clamp(ndigits);
        double rounded = new BigDecimal(v).setScale(digits, RoundingMode.HALF_EVEN).doubleValue();
        if (Double.isInfinite(rounded)) {
            return null; // OverflowError: rounded value too large to represent
        }
        // a zero keeps the sign of x, as Python's does (round(-0.4, 0) is -0.0)
        return rounded == 0.0 ? Math.copySign(0.0, v) : rounded;
    }

    public Long eval(Long x, Long ndigits) {
        if (x == null || ndigits == null) {
            return null;
        }
        if (ndigits >= 0) {
            return x;
        }
        BigDecimal rounded = new BigDecimal(x).setScale(clamp(ndigits), RoundingMode.HALF_EVEN);
        try {
            return rounded.toBigIntegerExact().longValueExact();
        } catch (ArithmeticException outsideBigint) {
            return null;
        }
    }

    public @DataTypeHint("DECIMAL(38, 10)") BigDecimal eval(
            @DataTypeHint("DECIMAL(38, 10)") BigDecimal x, Long ndigits) {
        if (x == null || ndigits == null) {
            return null;
        }
        // Python's Decimal rounds half to even (the default context) to exponent -ndigits, and
        // raises InvalidOperation when the result needs more than the context's 28 digits
        BigDecimal rounded = x.setScale(clamp(ndigits), RoundingMode.HALF_EVEN);
        return rounded.precision() > 28 ? null : rounded;
    }

    /** ndigits far outside a double's range give the same result as the nearest of +-400. */
    private static int clamp(long ndigits) {
        return (int) Math.max(-400, Math.min(400, ndigits));
    }
}
