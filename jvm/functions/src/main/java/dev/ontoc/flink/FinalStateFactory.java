package dev.ontoc.flink;

import java.util.Set;

import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;
import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.catalog.Column;
import org.apache.flink.table.catalog.ResolvedSchema;
import org.apache.flink.table.connector.ChangelogMode;
import org.apache.flink.table.connector.format.EncodingFormat;
import org.apache.flink.table.connector.sink.DynamicTableSink;
import org.apache.flink.table.connector.sink.SinkV2Provider;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.factories.DynamicTableSinkFactory;
import org.apache.flink.table.factories.FactoryUtil;
import org.apache.flink.table.factories.SerializationFormatFactory;
import org.apache.flink.table.types.DataType;

/**
 * The {@code ontoc-final-state} table connector: a sink that takes a view's whole changelog and writes
 * only its final state, one line per key, when its input ends ({@link FinalStateSink}). {@code ontoc run
 * --local} inserts every view into one (ontoc/runtime/embedded/final_state.py), instead of writing every
 * change to files for Python to fold.
 *
 * <p>Options: {@code path} (the folder of the final rows) and a {@code format} with its options, which
 * encodes the rows (ontoc uses {@code json}).
 */
public class FinalStateFactory implements DynamicTableSinkFactory {

    public static final String IDENTIFIER = "ontoc-final-state";

    static final ConfigOption<String> PATH =
            ConfigOptions.key("path").stringType().noDefaultValue().withDescription("the file of final rows");

    @Override
    public String factoryIdentifier() {
        return IDENTIFIER;
    }

    @Override
    public Set<ConfigOption<?>> requiredOptions() {
        return Set.of(PATH, FactoryUtil.FORMAT);
    }

    @Override
    public Set<ConfigOption<?>> optionalOptions() {
        return Set.of();
    }

    @Override
    public DynamicTableSink createDynamicTableSink(Context context) {
        FactoryUtil.TableFactoryHelper helper = FactoryUtil.createTableFactoryHelper(this, context);
        EncodingFormat<SerializationSchema<RowData>> format =
                helper.discoverEncodingFormat(SerializationFormatFactory.class, FactoryUtil.FORMAT);
        helper.validate();
        ResolvedSchema schema = context.getCatalogTable().getResolvedSchema();
        return new TableSink(helper.getOptions().get(PATH), format, schema);
    }

    /**
     * The sink of one view: every change in (insertions, updates, retractions), at its input's parallelism
     * (Flink refuses another one for an updating input without a primary key, and a primary key would let
     * the planner merge a view's duplicate rows before the fold could see them).
     */
    static final class TableSink implements DynamicTableSink {
        private final String path;
        private final EncodingFormat<SerializationSchema<RowData>> format;
        private final ResolvedSchema schema;

        TableSink(String path, EncodingFormat<SerializationSchema<RowData>> format, ResolvedSchema schema) {
            this.path = path;
            this.format = format;
            this.schema = schema;
        }

        @Override
        public ChangelogMode getChangelogMode(ChangelogMode requestedMode) {
            // every change, retractions included: the fold counts each row value in and out (a key left with
            // several rows, or a retraction of a row never inserted, is a view's error the caller reports)
            return ChangelogMode.all();
        }

        @Override
        public SinkRuntimeProvider getSinkRuntimeProvider(Context context) {
            DataType rowType = schema.toPhysicalRowDataType();
            Column key = schema.getColumns().get(0);
            DataType keyRow = DataTypes.ROW(DataTypes.FIELD(key.getName(), key.getDataType()));
            return SinkV2Provider.of(
                    new FinalStateSink(
                            path,
                            format.createRuntimeEncoder(context, rowType),
                            format.createRuntimeEncoder(context, keyRow),
                            rowType.getLogicalType().getChildren().get(0)));
        }

        @Override
        public DynamicTableSink copy() {
            return new TableSink(path, format, schema);
        }

        @Override
        public String asSummaryString() {
            return IDENTIFIER;
        }
    }
}
