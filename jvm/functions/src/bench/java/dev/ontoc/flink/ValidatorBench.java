package dev.ontoc.flink;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.Arrays;
import java.util.Locale;
import java.util.SplittableRandom;

import org.apache.flink.core.memory.DataOutputSerializer;
import org.apache.flink.formats.common.TimestampFormat;
import org.apache.flink.formats.json.JsonParserRowDataDeserializationSchema;
import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.data.TimestampData;
import org.apache.flink.table.data.conversion.DataStructureConverter;
import org.apache.flink.table.data.conversion.DataStructureConverters;
import org.apache.flink.table.runtime.typeutils.InternalTypeInfo;
import org.apache.flink.table.runtime.typeutils.RowDataSerializer;
import org.apache.flink.table.types.DataType;
import org.apache.flink.table.types.logical.RowType;

/**
 * CPU ns per event (this thread's CPU time: steadier than the wall on a shared machine) of the source
 * thread's work on bench part 4's order events, in one JVM thread: ONTOC_VALIDATE_EVENT's call, its result
 * as Flink's internal row (a conversion when the function returned a Row), then what the chain does with
 * it (object reuse on, as `ontoc submit` sets it: the consumers' filters on the topic and kind, the
 * projection to the deduplication's exchange serialized); beside Flink's own json format on the same
 * bytes and the expert's source row serialized to its exchange. Run by {@code python -m bench.validator_micro}
 * (the spec literal of part 4's package as the argument).
 */
@SuppressWarnings("deprecation") // DataTypes.of(LogicalType), the exchange's nested row type
final class ValidatorBench {

    static volatile Object sink;
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    public static void main(String[] args) throws Exception {
        String specText = new String(Files.readAllBytes(Paths.get(args[0])), StandardCharsets.UTF_8).trim();
        ValidatorSpec spec = ValidatorSpec.parse(specText);
        int slot = 0;
        while (!spec.topics.get(slot).name.contains("orders")) {
            slot++;
        }
        String ordersTopic = spec.topics.get(slot).name;
        int n = 20_000;
        byte[][] keys = new byte[n][];
        byte[][] values = new byte[n][];
        SplittableRandom rnd = new SplittableRandom(7);
        long stamp = 1_764_480_000_000_000L;
        for (int i = 0; i < n; i++) { // as jvm/probe's E2eProbe.order writes them
            int cents = rnd.nextInt(10_000, 9_000_000);
            stamp += rnd.nextInt(1, 400);
            String value = "{\"customer\":\"c" + rnd.nextInt(1000) + "\",\"amount\":" + (cents / 100) + "."
                    + String.format(Locale.ROOT, "%02d", cents % 100) + ",\"stamp\":" + (stamp / 1_000_000L) + "."
                    + String.format(Locale.ROOT, "%06d", stamp % 1_000_000L) + "}";
            keys[i] = ("o" + (i % 20_000)).getBytes(StandardCharsets.UTF_8);
            values[i] = value.getBytes(StandardCharsets.UTF_8);
        }
        ValidateEvent fn = new ValidateEvent(spec);
        // the topic as Kafka's metadata gives it; eval takes a String (before) or StringData (now)
        Method eval = Arrays.stream(ValidateEvent.class.getMethods()).filter(m -> m.getName().equals("eval")).findFirst().get();
        boolean stringData = eval.getParameterTypes()[1] == StringData.class;
        DataType resultType = EventValidator.resultType(spec);
        DataStructureConverter<Object, Object> converter = DataStructureConverters.getConverter(resultType);
        converter.open(ValidatorBench.class.getClassLoader());
        RowType docType = (RowType) ((RowType) resultType.getLogicalType()).getTypeAt(EventValidator.FIXED_FIELDS + slot);
        RowType exchangeType = (RowType) DataTypes.ROW(
                DataTypes.FIELD("doc_id", DataTypes.STRING()),
                DataTypes.FIELD("kind", DataTypes.STRING()),
                DataTypes.FIELD("doc", DataTypes.of(docType)),
                DataTypes.FIELD("pt", DataTypes.TIMESTAMP_LTZ(3))).getLogicalType();
        RowDataSerializer exchange = new RowDataSerializer(exchangeType);
        StringData topicLiteral = StringData.fromString(ordersTopic);
        StringData invalidLiteral = StringData.fromString("invalid");

        RowType orderType = (RowType) DataTypes.ROW(
                DataTypes.FIELD("customer", DataTypes.STRING()),
                DataTypes.FIELD("amount", DataTypes.DOUBLE()),
                DataTypes.FIELD("stamp", DataTypes.DOUBLE())).getLogicalType();
        JsonParserRowDataDeserializationSchema json = new JsonParserRowDataDeserializationSchema(
                orderType, InternalTypeInfo.of(orderType), false, true, TimestampFormat.ISO_8601);
        json.open(null);
        RowType expertType = (RowType) DataTypes.ROW(
                DataTypes.FIELD("doc_id", DataTypes.STRING()),
                DataTypes.FIELD("customer", DataTypes.STRING()),
                DataTypes.FIELD("amount", DataTypes.DOUBLE()),
                DataTypes.FIELD("stamp", DataTypes.DOUBLE())).getLogicalType();
        RowDataSerializer expertExchange = new RowDataSerializer(expertType);
        DataOutputSerializer out = new DataOutputSerializer(256);

        String[] names = {
            "validator call", "call, result internal", "call, internal, chain + exchange",
            "flink json format", "flink json + exchange"};
        double[][] results = new double[names.length][];
        for (int variant = 0; variant < names.length; variant++) {
            double[] rounds = new double[12];
            for (int round = 0; round < rounds.length; round++) {
                long t0 = THREADS.getCurrentThreadCpuTime();
                for (int rep = 0; rep < 10; rep++) {
                    for (int i = 0; i < n; i++) {
                        Object result;
                        if (variant < 3) {
                            StringData topic = StringData.fromString(ordersTopic);
                            result = eval.invoke(fn, specText, stringData ? topic : topic.toString(), 0, (long) i, keys[i], values[i]);
                            if (variant > 0) {
                                result = converter.toInternalOrNull(result);
                            }
                            if (variant == 2) {
                                RowData v = (RowData) result;
                                if (v.getString(0).equals(topicLiteral) && !v.getString(1).equals(invalidLiteral)
                                        && !v.isNullAt(5)) {
                                    GenericRowData projected = GenericRowData.of(
                                            v.getString(5), v.getString(1), v.getRow(EventValidator.FIXED_FIELDS + slot, docType.getFieldCount()),
                                            TimestampData.fromEpochMillis(i));
                                    out.clear();
                                    exchange.serialize(projected, out);
                                }
                            }
                        } else {
                            RowData row = json.deserialize(values[i]);
                            result = row;
                            if (variant == 4) {
                                GenericRowData joined = GenericRowData.of(
                                        StringData.fromBytes(keys[i]), row.getString(0), row.getDouble(1), row.getDouble(2));
                                out.clear();
                                expertExchange.serialize(joined, out);
                            }
                        }
                        sink = result;
                    }
                }
                rounds[round] = (THREADS.getCurrentThreadCpuTime() - t0) / (10.0 * n);
            }
            results[variant] = rounds;
        }
        for (int v = 0; v < names.length; v++) {
            double[] measured = Arrays.copyOfRange(results[v], 4, 12); // the first four rounds: warm-up
            Arrays.sort(measured);
            System.out.printf(Locale.ROOT, "%-34s %6.0f CPU ns/event (median of %d rounds, min %.0f)%n",
                    names[v], (measured[3] + measured[4]) / 2, measured.length, measured[0]);
        }
    }
}
