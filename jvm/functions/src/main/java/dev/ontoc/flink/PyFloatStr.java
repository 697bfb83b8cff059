package dev.ontoc.flink;

import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;

import org.apache.flink.table.annotation.DataTypeHint;

import org.apache.flink.table.functions.ScalarFunction;

/**
 * {@code ONTOC_PY_STR(x DOUBLE | TIMESTAMP_LTZ(6)) -> STRING}: {@code str(x)} exactly as Python prints a
 * float, or a datetime (below).
 *
 * <p>Python prints the shortest decimal that reads back as the same double (ties: the one nearest
 * the exact binary value), in fixed notation when the decimal exponent is in [-4, 16), otherwise
 * as {@code d.ddde+XX}; Java's {@code Double.toString} differs ({@code 1.0E7}, {@code 1.0E-4}).
 */
public class PyFloatStr extends ScalarFunction {

    public String eval(Double x) {
        if (x == null) {
            return null;
        }
        double v = x;
        if (Double.isNaN(v)) {
            return "nan";
        }
        if (Double.isInfinite(v)) {
            return v > 0 ? "inf" : "-inf";
        }
        if (v == 0.0) {
            return 1.0 / v < 0 ? "-0.0" : "0.0";
        }
        BigDecimal exact = new BigDecimal(v);
        BigDecimal shortest = exact;
        for (int precision = 1; precision <= 17; precision++) {
            BigDecimal nearest = exact.round(new MathContext(precision, RoundingMode.HALF_EVEN));
            if (nearest.doubleValue() == v) {
                shortest = nearest;
                break;
            }
            // the other neighbour of that precision can still read back as v: below a power of two
            // the gap to the next double is half the gap above (2^-24 prints as 5.960464477539063e-08)
            BigDecimal down = exact.round(new MathContext(precision, RoundingMode.DOWN));
            BigDecimal other = nearest.compareTo(down) == 0
                    ? exact.round(new MathContext(precision, RoundingMode.UP)) : down;
            if (other.doubleValue() == v) {
                shortest = other;
                break;
            }
        }
        BigDecimal magnitude = shortest.abs().stripTrailingZeros();
        String digits = magnitude.unscaledValue().toString();
        int point = digits.length() - magnitude.scale(); // value = 0.<digits> * 10^point
        String sign = v < 0 ? "-" : "";
        if (point <= -4 || point > 16) {
            String mantissa = digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
            int exponent = point - 1;
            String e = String.format("%02d", Math.abs(exponent));
            return sign + mantissa + "e" + (exponent < 0 ? "-" : "+") + e;
        }
        if (point <= 0) {
            return sign + "0." + "0".repeat(-point) + digits;
        }
        if (point < digits.length()) {
            return sign + digits.substring(0, point) + "." + digits.substring(point);
        }
        return sign + digits + "0".repeat(point - digits.length()) + ".0";
    }

    /**
     * {@code str(t)} of a datetime as ontoc's documents hold it (aware, in UTC):
     * {@code 2024-01-01 00:00:00+00:00}, with {@code .ffffff} when it has microseconds.
     */
    public String eval(@DataTypeHint("TIMESTAMP_LTZ(6)") Instant t) {
        if (t == null) {
            return null;
        }
        LocalDateTime utc = LocalDateTime.ofInstant(t, ZoneOffset.UTC);
        String text = String.format("%04d-%02d-%02d %02d:%02d:%02d", utc.getYear(), utc.getMonthValue(),
                utc.getDayOfMonth(), utc.getHour(), utc.getMinute(), utc.getSecond());
        int micros = utc.getNano() / 1000;
        return (micros == 0 ? text : text + String.format(".%06d", micros)) + "+00:00";
    }
}
