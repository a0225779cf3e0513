package lake

import "fmt"

// Severity says whether a violation fails the check (Error) or only informs
// (Warning).
type Severity int

const (
	// Error fails the check: Report.OK returns false, `tickflow verify` exits 1.
	Error Severity = iota
	// Warning is reported but never fails the check.
	Warning
)

func (s Severity) String() string {
	if s == Warning {
		return "warning"
	}
	return "error"
}

// MarshalText makes a Severity print as "error"/"warning" in JSON reports.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText is the inverse of MarshalText.
func (s *Severity) UnmarshalText(b []byte) error {
	switch string(b) {
	case "error":
		*s = Error
	case "warning":
		*s = Warning
	default:
		return fmt.Errorf("lake: unknown severity %q", b)
	}
	return nil
}

// Violation is one broken rule of docs/lake-contract.md, found in one object
// or folder. Callers branch on Rule ("L05"), never on Message.
type Violation struct {
	Rule     string   `json:"rule"`     // rule ID: L01–L26, C01 (crawler prediction), R01 (record count), K01–K03 (Kafka)
	Name     string   `json:"name"`     // rule name, e.g. "one-schema"
	Severity Severity `json:"severity"` // Error or Warning
	Key      string   `json:"key"`      // object key or folder (relative to the store) the problem is in
	Message  string   `json:"message"`  // what is wrong
	Fix      string   `json:"fix"`      // how to fix it
	Source   string   `json:"source"`   // the AWS documentation page, or "observed" behaviour
}

func (v Violation) String() string {
	return fmt.Sprintf("%s %s (%s) %s: %s", v.Rule, v.Name, v.Severity, v.Key, v.Message)
}

// Rule describes one rule of the contract.
type Rule struct {
	ID       string
	Name     string
	Severity Severity
	Observed bool   // the behaviour comes from reports, not from AWS documentation
	Fix      string // generic fix, used when a check has nothing more specific
	Source   string
}

const (
	glueDocs   = "docs.aws.amazon.com/glue/latest/dg/"
	athenaDocs = "docs.aws.amazon.com/athena/latest/ug/"
	// trinoFormats is where Athena engine 3's (Trino's) JSON readers live.
	trinoFormats = "trinodb/trino lib/trino-hive-formats/src/main/java/io/trino/hive/formats/"
)

// Rules is the catalogue of every rule Check enforces, in ID order. L15 is a
// warning and only runs with Production(true).
var Rules = []Rule{
	{ID: "L01", Name: "hive-partitions",
		Fix:    "write objects under stock_ticks/dt=YYYY-MM-DD/hour=HH/ (lowercase keys, dt then hour)",
		Source: glueDocs + "crawler-s3-folder-table-partition.html (partition_N naming observed); " + athenaDocs + "msck-repair-table.html"},
	{ID: "L02", Name: "no-root-files",
		Fix:    "move the object into a dt=/hour= partition folder or out of the table location",
		Source: glueDocs + "crawler-maximum-number-of-tables.html"},
	{ID: "L03", Name: "no-marker-files",
		Fix:    "delete the object; do not write _SUCCESS, .tmp, *_$folder$, zero-byte, or _/. prefixed objects under the table",
		Source: athenaDocs + "tables-location-format.html; Hadoop FileInputFormat's hidden-file filter (_ and . names, which Athena's Hive reader applies)"},
	{ID: "L04", Name: "one-format",
		Fix:    "write every object of the table in one format and compression (.parquet, or .json, or .json.gz)",
		Source: glueDocs + "crawler-grouping-policy.html; repost.aws glue-crawler-detect-schema"},
	{ID: "L05", Name: "one-schema",
		Fix:    "write every file with the table's columns and types (for stock_ticks: harness/tick.Row)",
		Source: glueDocs + "crawler-grouping-policy.html (70% similarity) → HIVE_PARTITION_SCHEMA_MISMATCH"},
	{ID: "L06", Name: "json-lines",
		Fix:    "write exactly one JSON object per line: no arrays, no pretty-printing, no blank lines, valid UTF-8",
		Source: glueDocs + "custom-classifier.html; " + athenaDocs + "json-serde.html; " + athenaDocs + "openx-json-serde.html (ignore.malformed.json, OpenX only); " + trinoFormats + "line/openxjson/OpenXJsonDeserializer.java (a malformed line with ignore.malformed.json is a row of NULLs)"},
	{ID: "L07", Name: "json-types",
		Fix:    "always write doubles with a decimal point or exponent (123.0) and integers without one",
		Source: glueDocs + "crawler-grouping-policy.html (the crawler samples the first 1 MB); " + athenaDocs + "openx-json-serde.html (use.null.for.invalid.data); " + trinoFormats + "line/openxjson/OpenXJsonDeserializer.java (quoted numbers parsed); " + trinoFormats + "line/json/JsonDeserializer.java (numbers only from JSON numbers)"},
	{ID: "L08", Name: "column-names",
		Fix:    "rename the column: lowercase ASCII letters, digits and _, not starting with _ or a digit, ≤255 bytes, not a reserved word",
		Source: athenaDocs + "tables-databases-columns-names.html; " + athenaDocs + "reserved-words.html; trinodb/trino#10828"},
	{ID: "L09", Name: "no-key-in-data",
		Fix:    "drop the partition key columns (dt, hour) from the files; they come from the folder names",
		Source: athenaDocs + "alter-table-add-partition.html; confluentinc/kafka-connect-storage-cloud#387"},
	{ID: "L10", Name: "partition-matches-data",
		Fix:    "derive dt/hour from the row's event_time in UTC when choosing the object's folder",
		Source: athenaDocs + "data-types-timestamps.html"},
	{ID: "L11", Name: "parquet-types",
		Fix:    "store each column with the Parquet type its declared type needs: int=INT32, bigint=INT64, double=DOUBLE, float=FLOAT, string=BYTE_ARRAY STRING (UTF8), date=INT32 DATE, timestamp=INT64 TIMESTAMP(MILLIS)",
		Source: athenaDocs + "updates-changing-column-type.html; " + athenaDocs + "data-types.html; AWS DMS ParquetTimestampInMillisecond (millisecond timestamps for Athena/Glue)"},
	{ID: "L12", Name: "deterministic-names",
		Fix:    "name objects <topic>+<partition>+<startOffset %020d>.<ext> and cover each Kafka partition's offsets exactly once",
		Source: "Confluent S3 sink exactly-once semantics; Amazon MSK delivery docs"},
	{ID: "L13", Name: "no-kafka-partition-folder",
		Fix:    "remove the partition=N folder level; the Kafka partition is the kafka_partition column",
		Source: "Confluent S3 sink default layout (partition is reserved, not a business key)"},
	{ID: "L14", Name: "location",
		Fix:    "use a table location that ends with /, has no //, and is a folder, not an object",
		Source: athenaDocs + "tables-location-format.html"},
	{ID: "L15", Name: "file-size", Severity: Warning,
		Fix:    "flush bigger objects (raise --flush-records/--flush-bytes) or compact small ones",
		Source: "AWS Big Data Blog: Top 10 performance tuning tips for Amazon Athena"},
	{ID: "L16", Name: "partition-values",
		Fix:    "use partition values made of [0-9a-zA-Z_-] only (dt=2024-01-05, hour=10)",
		Source: athenaDocs + "msck-repair-table.html"},
	{ID: "L17", Name: "decimal-types",
		Fix:    "store decimals as DECIMAL(p,s) with p ≤ 38 and the declared precision and scale in every file; in JSON write them as plain numbers",
		Source: athenaDocs + "data-types.html (decimal precision up to 38); " + athenaDocs + "updates-changing-column-type.html"},
	{ID: "L18", Name: "nested-types",
		Fix:    "write struct columns as Parquet groups / JSON objects, arrays as LIST / JSON arrays, maps as MAP / JSON objects, with the declared fields and element types",
		Source: athenaDocs + "rows-and-structs.html; " + athenaDocs + "data-types.html; Parquet LogicalTypes.md (LIST, MAP)"},
	{ID: "L19", Name: "schema-drift",
		Fix:    "keep a column's name across files; add new columns instead of renaming old ones",
		Source: athenaDocs + "handling-schema-updates-chapter.html (update matrix); " + athenaDocs + "updates-renaming-columns.html; " + athenaDocs + "updates-and-partitions.html"},
	{ID: "L20", Name: "json-int-range",
		Fix:    "declare the column wide enough (bigint) or keep values within the declared integer type",
		Source: athenaDocs + "data-types.html (int is 32-bit); " + athenaDocs + "openx-json-serde.html"},
	{ID: "L21", Name: "json-key-case",
		Fix:    "write every key once and in lowercase",
		Source: athenaDocs + "openx-json-serde.html (case.insensitive, mapping.*, duplicate keys); awsdocs/amazon-athena-user-guide#46 (Duplicate key error, NULL for upper-case keys); " + trinoFormats + "line/openxjson/OpenXJsonOptions.java (case.insensitive default true); " + trinoFormats + "line/json/JsonDeserializer.java (keys lowercased)"},
	{ID: "L22", Name: "json-date-time",
		Fix:    "write dates as \"YYYY-MM-DD\" and timestamps as \"yyyy-MM-dd HH:mm:ss.SSS\" (or declare timestamp.formats); other forms depend on the SerDe",
		Source: athenaDocs + "hive-json-serde.html (timestamp.formats); " + athenaDocs + "openx-json-serde.html; " + athenaDocs + "data-types-timestamps.html; " + trinoFormats + "line/openxjson/OpenXJsonDeserializer.java (TimestampDecoder: ISO 8601, epoch numbers); " + trinoFormats + "HiveFormatUtils.java (Hive JSON SerDe default and ISO parsers)"},
	{ID: "L23", Name: "nested-table-root",
		Fix:    "give each table its own location that is not inside another table's (e.g. s3://bucket/events/clicks/ and s3://bucket/events/clicks_archive/)",
		Source: athenaDocs + "tables-location-format.html (Athena reads all files under the location, subfolders included)"},
	{ID: "L25", Name: "projection-unreachable",
		Fix:    "widen the projection (range, values, digits, interval) or move the folder to a value projection generates",
		Source: athenaDocs + "partition-projection-supported-types.html; " + athenaDocs + "partition-projection.html (Athena ignores partitions outside the projection)"},
	{ID: "L26", Name: "projection-empty", Severity: Warning,
		Fix:    "narrow the projection to the values that exist (start the date range at the first folder, list only used enum values)",
		Source: athenaDocs + "partition-projection.html (queries over empty projected partitions still list S3)"},
	{ID: "C01", Name: "crawler-one-table",
		Fix:    "fix the violations above; a default Glue crawler must create exactly one table stock_ticks with the contract schema",
		Source: glueDocs + "crawler-grouping-policy.html; docs/lake-contract.md (crawler emulation)"},
	{ID: "K01", Name: "retention-expired", Severity: Warning,
		Fix:    "the records are gone from Kafka: raise the topic's retention.ms/retention.bytes above the sink's worst lag and alert on consumer lag",
		Source: "Kafka topic configs retention.ms, retention.bytes (kafka.apache.org/documentation/#topicconfigs); the sink's tickflow-expired object metadata; with --brokers, the group's committed offset below the log start (an error: nothing accounts for them)"},
	{ID: "K02", Name: "kafka-not-in-lake",
		Fix:    "deliver the missing offsets from Kafka again (run the sink until it catches up; for a range before the lake's first object, reset the group's offset to its start), then find out why they are missing",
		Source: "Kafka ListOffsets (log start, end offsets); reconciliation of the lake against the topic"},
	{ID: "K03", Name: "committed-not-in-lake",
		Fix:    "the group committed offsets the lake does not hold (loss): deliver them again while Kafka still has them (reset the group's offset to the range's start and run the sink), and find out why they are missing (deleted objects, an S3 lifecycle rule, a second writer)",
		Source: "Kafka OffsetFetch (the group's committed offsets); the sink commits only what is durably in S3 (docs/exactly-once.md)"},
	{ID: "R01", Name: "record-count",
		Fix:    "find the missing or extra records (the offset coverage and, with --brokers, the Kafka table place them by partition and offset) and deliver the missing ones again (tickflow sink: reset the group's offsets to them)",
		Source: "reconciliation (ExpectRecords)"},
}

var rulesByID = func() map[string]Rule {
	m := make(map[string]Rule, len(Rules))
	for _, r := range Rules {
		m[r.ID] = r
	}
	return m
}()

// plural writes n with its noun, singular or plural ("1 row", "3 rows");
// many is the plural when it is not noun+"s".
func plural[N int | int64](n N, noun, many string) string {
	if n == 1 {
		return "1 " + noun
	}
	if many == "" {
		many = noun + "s"
	}
	return fmt.Sprintf("%d %s", n, many)
}

// violation builds a Violation of rule id; fix overrides the rule's generic
// fix when not empty. Observed rules say so in the message.
func violation(id, key, fix, format string, args ...any) Violation {
	r, ok := rulesByID[id]
	if !ok {
		panic("lake: unknown rule " + id) // programming error, caught by tests
	}
	msg := fmt.Sprintf(format, args...)
	if r.Observed {
		msg += " (observed behaviour, not documented by AWS)"
	}
	if fix == "" {
		fix = r.Fix
	}
	return Violation{Rule: r.ID, Name: r.Name, Severity: r.Severity, Key: key, Message: msg, Fix: fix, Source: r.Source}
}
