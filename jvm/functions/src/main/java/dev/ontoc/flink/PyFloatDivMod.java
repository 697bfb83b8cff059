package dev.ontoc.flink;

import org.apache.flink.table.functions.ScalarFunction;

/**
 * {@code ONTOC_PY_FLOAT_DIVMOD(x DOUBLE, y DOUBLE, floor_div BOOLEAN) -> DOUBLE}: Python's
 * {@code x // y} (floor_div TRUE) or {@code x % y} (FALSE) of two floats.
 *
 * <p>Python computes both from the exact remainder {@code fmod(x, y)} (Java's {@code %} on doubles),
 * moved to the sign of {@code y}, and the quotient {@code (x - mod) / y} rounded to the nearest
 * integer: {@code 1 // 0.1} is {@code 9.0} and {@code 1 % 0.1} is {@code 0.09999999999999995}, where
 * {@code FLOOR(x / y)} gives 10 and {@code x - y * FLOOR(x / y)} 0. NULL for NULL arguments or a zero
 * {@code y} (Python raises ZeroDivisionError; the caller flags it).
 */
public class PyFloatDivMod extends ScalarFunction {

    public Double eval(Double x, Double y, Boolean floorDiv) {
        if (x == null || y == null || floorDiv == null || y == 0.0) {
            return null;
        }
        double vx = x;
        double wx = y;
        double mod = vx % wx;
        double div = (vx - mod) / wx;
        if (mod != 0.0) {
            if ((wx < 0) != (mod < 0)) {
                mod += wx;
                div -= 1.0;
            }
        } else {
            mod = Math.copySign(0.0, wx);
        }
        if (!floorDiv) {
            return mod;
        }
        if (div != 0.0) {
            double floored = Math.floor(div);
            if (div - floored > 0.5) {
                floored += 1.0;
            }
            return floored;
        }
        return Math.copySign(0.0, vx / wx);
    }
}
