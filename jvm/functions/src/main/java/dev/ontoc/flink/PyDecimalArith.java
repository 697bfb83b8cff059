package dev.ontoc.flink;

import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;

import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.functions.ScalarFunction;

/**
 * {@code ONTOC_PY_DECIMAL(x DECIMAL(38, 10), y DECIMAL(38, 10), op STRING) -> DECIMAL(38, 10)}:
 * Python's {@code x + y}, {@code x - y}, {@code x * y} or {@code x / y} (op {@code '+'}, {@code '-'},
 * {@code '*'}, {@code '/'}) of two Decimals, carried at the view's scale.
 *
 * <p>Python's decimal module computes the result to the default context's 28 significant digits,
 * rounding half to even; this function does the same and rounds that result half to even to the 10
 * digits after the point that a view's DECIMAL(38, 10) holds. Flink's own operators shorten the
 * result's scale instead, by its rules for a result type past 38 digits: 9 digits for a sum of two
 * DECIMAL(38, 10), 6 for a product or a quotient ({@code 100 / 3} is {@code 33.333333}).
 *
 * <p>NULL for NULL arguments, an unknown op, a zero divisor (Python raises; the caller flags it), and
 * a result with more than 28 digits before the point, which DECIMAL(38, 10) cannot carry (the caller
 * makes the getter None, as for an int past 64 bits).
 */
public class PyDecimalArith extends ScalarFunction {

    private static final MathContext PYTHON = new MathContext(28, RoundingMode.HALF_EVEN);
    private static final int SCALE = 10;
    private static final int PRECISION = 38;

    public @DataTypeHint("DECIMAL(38, 10)") BigDecimal eval(
            @DataTypeHint("DECIMAL(38, 10)") BigDecimal x,
            @DataTypeHint("DECIMAL(38, 10)") BigDecimal y,
            String op) {
        if (x == null || y == null || op == null) {
            return null;
        }
        BigDecimal exact;
        switch (op) {
            case "+":
                exact = x.add(y, PYTHON);
                break;
            case "-":
                exact = x.subtract(y, PYTHON);
                break;
            case "*":
                exact = x.multiply(y, PYTHON);
                break;
            case "/":
                if (y.signum() == 0) {
                    return null;
                }
                exact = x.divide(y, PYTHON);
                break;
            default:
                return null;
        }
        BigDecimal carried = exact.setScale(SCALE, RoundingMode.HALF_EVEN);
        return carried.precision() > PRECISION ? null : carried;
    }
}
