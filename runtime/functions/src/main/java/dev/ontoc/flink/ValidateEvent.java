package dev.ontoc.flink;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import org.apache.flink.metrics.Counter;
import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.api.ValidationException;
import org.apache.flink.table.catalog.DataTypeFactory;
import org.apache.flink.table.functions.FunctionContext;
import org.apache.flink.table.functions.ScalarFunction;
import org.apache.flink.table.functions.SpecializedFunction;
import org.apache.flink.table.functions.UserDefinedFunction;
import org.apache.flink.table.types.DataType;
import org.apache.flink.table.types.inference.CallContext;
import org.apache.flink.table.types.inference.InputTypeStrategies;
import org.apache.flink.table.types.inference.TypeInference;
import org.apache.flink.types.Row;

/**
 * {@code ONTOC_VALIDATE_EVENT(spec STRING literal, topic STRING, partition INT, offset BIGINT,
 * key BYTES, value BYTES)}: the verdict of spec section 1 on one Kafka record of a source topic.
 *
 * <p>Returns {@code ROW<topic STRING, kind STRING, reason STRING, partition INT, offset BIGINT,
 * doc_id STRING, value STRING, t_<topic> ROW<column ...>, ...>}: kind is 'upsert', 'delete' (a
 * tombstone or the JSON text {@code null}) or 'invalid'; doc_id the key as text (for an invalid
 * record, decoded leniently for the report); reason, partition, offset and value (the text, cut at
 * 10,000 characters) only for an invalid record; {@code t_<topic>} the typed columns of an upsert of
 * that topic (NULL otherwise). The row type is computed at planning time from the {@code spec}
 * literal (see {@link ValidatorSpec}).
 *
 * <p>It never throws: whatever the bytes, a record is a verdict, and each invalid one is counted in
 * the metric {@code ontoc_invalid_events}. It is declared non-deterministic so that the planner
 * evaluates it once per record (a deterministic call would be copied into every projection reading
 * a field of its result, and count an invalid record more than once).
 */
public class ValidateEvent extends ScalarFunction implements SpecializedFunction {

    public static final String METRIC_NAME = "ontoc_invalid_events";
    public static final int MAX_INVALID_VALUE_CHARS = 10_000;
    static final String UPSERT = "upsert";
    static final String DELETE = "delete";
    static final String INVALID = "invalid";

    private final ValidatorSpec spec; // null only in the unspecialized instance the planner inspects
    private transient Map<String, Integer> slots;
    private transient Counter invalidEvents;

    public ValidateEvent() {
        this(null);
    }

    ValidateEvent(ValidatorSpec spec) {
        this.spec = spec;
    }

    @Override
    public void open(FunctionContext context) {
        invalidEvents = context.getMetricGroup().counter(METRIC_NAME);
    }

    public Row eval(String specText, String topic, Integer partition, Long offset, byte[] key, byte[] value) {
        if (slots == null) {
            slots = new HashMap<>();
            for (int i = 0; i < spec.topics.size(); i++) {
                slots.put(spec.topics.get(i).name, i);
            }
        }
        Object[] out = new Object[7 + spec.topics.size()];
        out[0] = topic;
        try {
            Integer slot = topic == null ? null : slots.get(topic);
            if (key == null) {
                throw new EventRules.Invalid("the record has no key (the key is the document's doc_id)");
            }
            out[5] = EventRules.utf8(key);
            if (slot == null) {
                throw new EventRules.Invalid("the record's topic is not a source of this job");
            }
            Object[] columns = verdict(spec.topics.get(slot), value);
            if (columns == null) {
                out[1] = DELETE;
            } else {
                out[1] = UPSERT;
                out[7 + slot] = Row.of(columns);
            }
        } catch (EventRules.Invalid e) {
            invalid(out, e.getMessage(), partition, offset, key, value);
        } catch (RuntimeException | StackOverflowError e) {
            invalid(out, "the validator failed: " + e, partition, offset, key, value);
        }
        return Row.of(out);
    }

    /** The columns of an upsert, or null for a delete. */
    static Object[] verdict(EventRules.Topic topic, byte[] value) throws EventRules.Invalid {
        if (value == null) {
            return null;
        }
        Object parsed = StrictJson.parse(EventRules.utf8(value), StrictJson.MAX_DEPTH);
        return parsed == null ? null : topic.validate(parsed);
    }

    private void invalid(Object[] out, String reason, Integer partition, Long offset, byte[] key, byte[] value) {
        if (invalidEvents != null) {
            invalidEvents.inc();
        }
        out[1] = INVALID;
        out[2] = EventRules.cut(reason, 1000);
        out[3] = partition;
        out[4] = offset;
        out[5] = key == null ? null : EventRules.lenientUtf8(key);
        out[6] = value == null ? null : EventRules.cut(EventRules.lenientUtf8(value), MAX_INVALID_VALUE_CHARS);
        for (int i = 7; i < out.length; i++) {
            out[i] = null;
        }
    }

    @Override
    public boolean isDeterministic() {
        return false;
    }

    @Override
    public UserDefinedFunction specialize(SpecializedContext context) {
        return new ValidateEvent(specOf(context.getCallContext()));
    }

    private static ValidatorSpec specOf(CallContext context) {
        Optional<String> text = context.getArgumentValue(0, String.class);
        if (!text.isPresent()) {
            throw new ValidationException(
                    "ONTOC_VALIDATE_EVENT: the first argument (the spec) must be a string literal");
        }
        return ValidatorSpec.parse(text.get());
    }

    @Override
    public TypeInference getTypeInference(DataTypeFactory typeFactory) {
        return TypeInference.newBuilder()
                .inputTypeStrategy(
                        InputTypeStrategies.sequence(
                                InputTypeStrategies.and(
                                        InputTypeStrategies.LITERAL,
                                        InputTypeStrategies.explicit(DataTypes.STRING())),
                                InputTypeStrategies.explicit(DataTypes.STRING()),
                                InputTypeStrategies.explicit(DataTypes.INT()),
                                InputTypeStrategies.explicit(DataTypes.BIGINT()),
                                InputTypeStrategies.explicit(DataTypes.BYTES()),
                                InputTypeStrategies.explicit(DataTypes.BYTES())))
                .outputTypeStrategy(context -> Optional.of(resultType(specOf(context))))
                .build();
    }

    static DataType resultType(ValidatorSpec spec) {
        List<DataTypes.Field> fields = new ArrayList<>();
        fields.add(DataTypes.FIELD("topic", DataTypes.STRING()));
        fields.add(DataTypes.FIELD("kind", DataTypes.STRING()));
        fields.add(DataTypes.FIELD("reason", DataTypes.STRING()));
        fields.add(DataTypes.FIELD("partition", DataTypes.INT()));
        fields.add(DataTypes.FIELD("offset", DataTypes.BIGINT()));
        fields.add(DataTypes.FIELD("doc_id", DataTypes.STRING()));
        fields.add(DataTypes.FIELD("value", DataTypes.STRING()));
        for (EventRules.Topic topic : spec.topics) {
            fields.add(DataTypes.FIELD("t_" + topic.name, ValidatorSpec.slotType(topic)));
        }
        return DataTypes.ROW(fields.toArray(new DataTypes.Field[0]));
    }
}
