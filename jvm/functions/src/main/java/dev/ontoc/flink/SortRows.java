package dev.ontoc.flink;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.catalog.DataTypeFactory;
import org.apache.flink.table.data.ArrayData;
import org.apache.flink.table.data.DecimalData;
import org.apache.flink.table.data.GenericArrayData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.data.TimestampData;
import org.apache.flink.table.data.binary.BinaryStringData;
import org.apache.flink.table.functions.FunctionContext;
import org.apache.flink.table.functions.FunctionDefinition;
import org.apache.flink.table.functions.ScalarFunction;
import org.apache.flink.table.functions.SpecializedFunction;
import org.apache.flink.table.functions.UserDefinedFunction;
import org.apache.flink.table.types.DataType;
import org.apache.flink.table.types.inference.ArgumentCount;
import org.apache.flink.table.types.inference.CallContext;
import org.apache.flink.table.types.inference.ConstantArgumentCount;
import org.apache.flink.table.types.inference.InputTypeStrategy;
import org.apache.flink.table.types.inference.Signature;
import org.apache.flink.table.types.inference.TypeInference;
import org.apache.flink.table.types.inference.TypeStrategies;
import org.apache.flink.table.types.inference.TypeStrategy;
import org.apache.flink.table.types.logical.ArrayType;
import org.apache.flink.table.types.logical.DistinctType;
import org.apache.flink.table.types.logical.LogicalType;
import org.apache.flink.table.types.logical.LogicalTypeRoot;

/**
 * {@code ONTOC_SORT_ROWS(arr ARRAY<ROW<...>>, ascending BOOLEAN) -> ARRAY<ROW<...>>}.
 *
 * <p>Returns the rows of {@code arr} in a stable sort. Rows compare lexicographically: by field 0,
 * then field 1, and so on; each field in its natural order, NULL before any value:
 *
 * <ul>
 *   <li>CHAR/VARCHAR: Unicode code point order (the unsigned order of the UTF-8 bytes, which is
 *       NOT Java's UTF-16 {@code String.compareTo} for supplementary characters);
 *   <li>BOOLEAN: false &lt; true;
 *   <li>numbers numerically (FLOAT/DOUBLE: -0.0 equals 0.0, NaN after every number);
 *   <li>DECIMAL, DATE, TIME, TIMESTAMP, TIMESTAMP_LTZ, intervals: chronologically / numerically;
 *   <li>BINARY/VARBINARY: unsigned bytes, lexicographic;
 *   <li>nested ROW: lexicographic by field; ARRAY: lexicographic by element, then shorter first;
 *   <li>MAP, MULTISET, RAW and other types without an order compare equal (stable order kept).
 * </ul>
 *
 * <p>{@code ascending = FALSE} reverses the comparison (NULLs then come last); equal rows keep
 * their input order in both directions. A NULL array, or a NULL {@code ascending}, gives NULL. The
 * result has exactly the type of {@code arr} (same row field names and types); any {@code
 * ARRAY<ROW<...>>} is accepted.
 *
 * <p>The planner specializes the function per call site ({@link SpecializedFunction}) so the
 * runtime instance knows the row type and works on Flink's internal data structures directly.
 */
public class SortRows extends ScalarFunction implements SpecializedFunction {

    private static final long serialVersionUID = 1L;

    /** Element type of the sorted array; null in the unspecialized (catalog) instance. */
    private final LogicalType elementType;

    private transient Comparator<Object> comparator;
    private transient ArrayData.ElementGetter elementGetter;

    /** The instance created by the catalog (CREATE FUNCTION ... AS 'dev.ontoc.flink.SortRows'). */
    public SortRows() {
        this(null);
    }

    private SortRows(LogicalType elementType) {
        this.elementType = elementType;
    }

    // ------------------------------------------------------------------ planning

    @Override
    public TypeInference getTypeInference(DataTypeFactory typeFactory) {
        return TypeInference.newBuilder()
                .inputTypeStrategy(new InputStrategy())
                .outputTypeStrategy(TypeStrategies.nullableIfArgs(new SameAsFirstArgument()))
                .build();
    }

    @Override
    public UserDefinedFunction specialize(SpecializedContext context) {
        LogicalType arrayType =
                context.getCallContext().getArgumentDataTypes().get(0).getLogicalType();
        return new SortRows(((ArrayType) arrayType).getElementType());
    }

    /** (ARRAY&lt;ROW&lt;...&gt;&gt;, BOOLEAN); a NULL literal is accepted for the flag. */
    private static final class InputStrategy implements InputTypeStrategy {

        @Override
        public ArgumentCount getArgumentCount() {
            return ConstantArgumentCount.of(2);
        }

        @Override
        public Optional<List<DataType>> inferInputTypes(
                CallContext callContext, boolean throwOnFailure) {
            List<DataType> args = callContext.getArgumentDataTypes();
            LogicalType arr = args.get(0).getLogicalType();
            if (arr.getTypeRoot() != LogicalTypeRoot.ARRAY
                    || ((ArrayType) arr).getElementType().getTypeRoot() != LogicalTypeRoot.ROW) {
                return callContext.fail(
                        throwOnFailure,
                        "%s expects ARRAY<ROW<...>> as its first argument, got %s",
                        callContext.getName(),
                        arr.asSummaryString());
            }
            LogicalType flag = args.get(1).getLogicalType();
            DataType flagType;
            if (flag.getTypeRoot() == LogicalTypeRoot.BOOLEAN) {
                flagType = args.get(1).bridgedTo(Boolean.class);
            } else if (flag.getTypeRoot() == LogicalTypeRoot.NULL) {
                flagType = DataTypes.BOOLEAN().bridgedTo(Boolean.class);
            } else {
                return callContext.fail(
                        throwOnFailure,
                        "%s expects BOOLEAN as its second argument (ascending), got %s",
                        callContext.getName(),
                        flag.asSummaryString());
            }
            List<DataType> out = new ArrayList<>(2);
            out.add(args.get(0).bridgedTo(ArrayData.class));
            out.add(flagType);
            return Optional.of(out);
        }

        @Override
        public List<Signature> getExpectedSignatures(FunctionDefinition definition) {
            return List.of(
                    Signature.of(
                            Signature.Argument.of("arr", "ARRAY<ROW<...>>"),
                            Signature.Argument.of("ascending", "BOOLEAN")));
        }
    }

    /** The output type is the first argument's type (row field names and types kept). */
    private static final class SameAsFirstArgument implements TypeStrategy {
        @Override
        public Optional<DataType> inferType(CallContext callContext) {
            return Optional.of(callContext.getArgumentDataTypes().get(0).bridgedTo(ArrayData.class));
        }
    }

    // ------------------------------------------------------------------ runtime

    @Override
    public void open(FunctionContext context) throws Exception {
        prepare();
    }

    private void prepare() {
        if (comparator != null) {
            return;
        }
        if (elementType == null) {
            throw new IllegalStateException(
                    "ONTOC_SORT_ROWS was not specialized by the planner (no element type)");
        }
        elementGetter = ArrayData.createElementGetter(elementType);
        comparator = nullsFirst(comparatorFor(elementType));
    }

    public ArrayData eval(ArrayData arr, Boolean ascending) {
        if (arr == null || ascending == null) {
            return null;
        }
        prepare();
        int n = arr.size();
        Object[] rows = new Object[n];
        for (int i = 0; i < n; i++) {
            rows[i] = elementGetter.getElementOrNull(arr, i);
        }
        // Arrays.sort on objects is a stable merge sort (TimSort)
        Arrays.sort(rows, ascending ? comparator : comparator.reversed());
        return new GenericArrayData(rows);
    }

    // ------------------------------------------------------------------ ordering

    private static Comparator<Object> nullsFirst(Comparator<Object> c) {
        return (a, b) -> {
            if (a == null) {
                return b == null ? 0 : -1;
            }
            if (b == null) {
                return 1;
            }
            return c.compare(a, b);
        };
    }

    /** Comparator over non-null internal values of {@code type}. */
    @SuppressWarnings({"unchecked", "rawtypes"})
    static Comparator<Object> comparatorFor(LogicalType type) {
        switch (type.getTypeRoot()) {
            case CHAR:
            case VARCHAR:
                return (a, b) -> compareStrings((StringData) a, (StringData) b);
            case BOOLEAN:
                return (a, b) -> Boolean.compare((Boolean) a, (Boolean) b);
            case TINYINT:
            case SMALLINT:
            case INTEGER:
            case BIGINT:
            case DATE:
            case TIME_WITHOUT_TIME_ZONE:
            case INTERVAL_YEAR_MONTH:
            case INTERVAL_DAY_TIME:
                return (a, b) -> ((Comparable) a).compareTo(b);
            case FLOAT:
                return (a, b) -> compareDoubles((Float) a, (Float) b);
            case DOUBLE:
                return (a, b) -> compareDoubles((Double) a, (Double) b);
            case DECIMAL:
                return (a, b) -> ((DecimalData) a).compareTo((DecimalData) b);
            case TIMESTAMP_WITHOUT_TIME_ZONE:
            case TIMESTAMP_WITH_LOCAL_TIME_ZONE:
                return (a, b) -> ((TimestampData) a).compareTo((TimestampData) b);
            case BINARY:
            case VARBINARY:
                return (a, b) -> Arrays.compareUnsigned((byte[]) a, (byte[]) b);
            case ROW:
            case STRUCTURED_TYPE:
                return rowComparator(type.getChildren());
            case ARRAY:
                return arrayComparator(((ArrayType) type).getElementType());
            case DISTINCT_TYPE:
                return comparatorFor(((DistinctType) type).getSourceType());
            default:
                // no natural order (MAP, MULTISET, RAW, NULL, ...): equal, input order kept
                return (a, b) -> 0;
        }
    }

    private static Comparator<Object> rowComparator(List<LogicalType> fieldTypes) {
        int arity = fieldTypes.size();
        RowData.FieldGetter[] getters = new RowData.FieldGetter[arity];
        List<Comparator<Object>> comparators = new ArrayList<>(arity);
        for (int i = 0; i < arity; i++) {
            getters[i] = RowData.createFieldGetter(fieldTypes.get(i), i);
            comparators.add(nullsFirst(comparatorFor(fieldTypes.get(i))));
        }
        return (a, b) -> {
            RowData x = (RowData) a;
            RowData y = (RowData) b;
            for (int i = 0; i < arity; i++) {
                int c =
                        comparators
                                .get(i)
                                .compare(getters[i].getFieldOrNull(x), getters[i].getFieldOrNull(y));
                if (c != 0) {
                    return c;
                }
            }
            return 0;
        };
    }

    private static Comparator<Object> arrayComparator(LogicalType elementType) {
        ArrayData.ElementGetter getter = ArrayData.createElementGetter(elementType);
        Comparator<Object> elements = nullsFirst(comparatorFor(elementType));
        return (a, b) -> {
            ArrayData x = (ArrayData) a;
            ArrayData y = (ArrayData) b;
            int n = Math.min(x.size(), y.size());
            for (int i = 0; i < n; i++) {
                int c = elements.compare(getter.getElementOrNull(x, i), getter.getElementOrNull(y, i));
                if (c != 0) {
                    return c;
                }
            }
            return Integer.compare(x.size(), y.size());
        };
    }

    /** Unicode code point order = unsigned lexicographic order of the UTF-8 encodings. */
    static int compareStrings(StringData a, StringData b) {
        if (a instanceof BinaryStringData && b instanceof BinaryStringData) {
            // BinaryStringData compares its UTF-8 bytes as unsigned values
            return ((BinaryStringData) a).compareTo((BinaryStringData) b);
        }
        return Arrays.compareUnsigned(a.toBytes(), b.toBytes());
    }

    /** Numeric order with -0.0 == 0.0 and NaN after every number (a total preorder). */
    static int compareDoubles(double a, double b) {
        boolean nanA = Double.isNaN(a);
        boolean nanB = Double.isNaN(b);
        if (nanA || nanB) {
            return nanA == nanB ? 0 : (nanA ? 1 : -1);
        }
        return a < b ? -1 : (a > b ? 1 : 0);
    }
}
