package dev.ontoc.flink;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import org.apache.flink.metrics.Counter;
import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.api.ValidationException;
import org.apache.flink.table.catalog.DataTypeFactory;
import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.functions.FunctionContext;
import org.apache.flink.table.functions.ScalarFunction;
import org.apache.flink.table.functions.SpecializedFunction;
import org.apache.flink.table.functions.UserDefinedFunction;
import org.apache.flink.table.types.DataType;
import org.apache.flink.table.types.inference.CallContext;
import org.apache.flink.table.types.inference.InputTypeStrategy;
import org.apache.flink.table.types.inference.TypeInference;

/**
 * What {@link ValidateEvent} (Kafka records) and {@link ValidateLine} (lines of an input file) share:
 * the spec literal read at planning time, the result row, the metric, and the rule that a call
 * never throws.
 *
 * <p>The result is {@code ROW<topic STRING, kind STRING, reason STRING, partition INT, offset BIGINT,
 * doc_id STRING, value STRING, t_<topic> ROW<column ...>, ...>}: kind is 'upsert', 'delete' or
 * 'invalid'; reason, partition, offset and value (the text, cut at 10,000 characters) are set only
 * for an invalid event; {@code t_<topic>} holds the typed columns of an upsert of that topic.
 *
 * <p>The row is built as Flink's internal data ({@link GenericRowData}, {@link StringData}; the
 * result type is bridged to {@link RowData}) and the topic comes in as StringData: Flink passes
 * them through as they are, where an external {@code Row} was converted field by field on every call.
 *
 * <p>Declared non-deterministic so that the planner evaluates it once per record: a deterministic
 * call is copied into every projection that reads a field of its result, and would count an
 * invalid record more than once.
 */
abstract class EventValidator extends ScalarFunction implements SpecializedFunction {

    public static final String METRIC_NAME = "ontoc_invalid_events";
    public static final int MAX_INVALID_VALUE_CHARS = 10_000;
    // kinds as StringData built from bytes: immutable and already in the binary form Flink compares and copies
    static final StringData UPSERT = StringData.fromBytes("upsert".getBytes(StandardCharsets.UTF_8));
    static final StringData DELETE = StringData.fromBytes("delete".getBytes(StandardCharsets.UTF_8));
    static final StringData INVALID = StringData.fromBytes("invalid".getBytes(StandardCharsets.UTF_8));
    static final int FIXED_FIELDS = 7;

    protected final ValidatorSpec spec; // null only in the unspecialized instance the planner inspects
    private transient Map<String, Integer> slots;
    private transient StringData[] slotTopics; // each slot's topic name, in binary form already
    private transient Counter invalidEvents;

    EventValidator(ValidatorSpec spec) {
        this.spec = spec;
    }

    /** The same function, knowing the spec. */
    abstract EventValidator withSpec(ValidatorSpec spec);

    /** The arguments after the spec. */
    abstract InputTypeStrategy inputs();

    @Override
    public void open(FunctionContext context) {
        invalidEvents = context.getMetricGroup().counter(METRIC_NAME);
    }

    /** The index of a topic's slot, or null when the job does not read it. */
    Integer slot(StringData topic) {
        if (slots == null) {
            slots = new HashMap<>();
            slotTopics = new StringData[spec.topics.size()];
            for (int i = 0; i < spec.topics.size(); i++) {
                slots.put(spec.topics.get(i).name, i);
                slotTopics[i] = StringData.fromBytes(spec.topics.get(i).name.getBytes(StandardCharsets.UTF_8));
            }
        }
        return topic == null ? null : slots.get(topic.toString());
    }

    /** The columns of an upsert of {@code topic}, or null for a delete ({@code value} parsed JSON). */
    static RowData columns(EventRules.Topic topic, Object value) throws EventRules.Invalid {
        return value == null ? null : topic.validate(value);
    }

    /** The verdict on a valid event of the topic in {@code slot} (see {@link #slot}); null columns: a delete. */
    RowData valid(int slot, StringData docId, RowData columns) {
        GenericRowData out = new GenericRowData(FIXED_FIELDS + spec.topics.size());
        out.setField(0, slotTopics[slot]);
        out.setField(1, columns == null ? DELETE : UPSERT);
        out.setField(5, docId);
        if (columns != null) {
            out.setField(FIXED_FIELDS + slot, columns);
        }
        return out;
    }

    RowData invalid(StringData topic, String reason, Integer partition, Long offset, String docId, byte[] value) {
        if (invalidEvents != null) {
            invalidEvents.inc();
        }
        GenericRowData out = new GenericRowData(FIXED_FIELDS + spec.topics.size());
        out.setField(0, topic);
        out.setField(1, INVALID);
        out.setField(2, StringData.fromString(EventRules.cut(reason, 1000)));
        out.setField(3, partition);
        out.setField(4, offset);
        out.setField(5, docId == null ? null : StringData.fromString(docId));
        if (value != null) {
            out.setField(6, StringData.fromString(EventRules.cut(EventRules.lenientUtf8(value), MAX_INVALID_VALUE_CHARS)));
        }
        return out;
    }

    @Override
    public boolean isDeterministic() {
        return false;
    }

    @Override
    public UserDefinedFunction specialize(SpecializedContext context) {
        return withSpec(specOf(context.getCallContext()));
    }

    private static ValidatorSpec specOf(CallContext context) {
        Optional<String> text = context.getArgumentValue(0, String.class);
        if (!text.isPresent()) {
            throw new ValidationException("the first argument (the spec) must be a string literal");
        }
        return ValidatorSpec.parse(text.get());
    }

    @Override
    public TypeInference getTypeInference(DataTypeFactory typeFactory) {
        return TypeInference.newBuilder()
                .inputTypeStrategy(inputs())
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
        return DataTypes.ROW(fields.toArray(new DataTypes.Field[0])).bridgedTo(RowData.class);
    }
}
