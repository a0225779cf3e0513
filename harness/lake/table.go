package lake

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/tickflow/tickflow/harness/tick"
)

// Column is one column of a table definition: its name and its Glue/Hive
// type as written ("bigint", "decimal(10,2)", "array<struct<x:double>>").
type Column struct {
	Name string `json:"name"`
	Type string `json:"type"`
	typ  *htype
}

// htype returns the parsed type (parsing it on first use for a Column built
// by hand; an unparsable type reads as string).
func (c *Column) htype() *htype {
	if c.typ == nil {
		t, err := parseTypeString(c.Type)
		if err != nil {
			t = &htype{kind: "string"}
		}
		c.typ = t
	}
	return c.typ
}

// Table formats a definition can declare.
const (
	FormatParquet = "parquet"
	FormatJSON    = "json"
)

// The SerDes a definition can name.
const (
	SerDeParquet   = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
	SerDeOpenXJSON = "org.openx.data.jsonserde.JsonSerDe"
	SerDeHiveJSON  = "org.apache.hive.hcatalog.data.JsonSerDe"
)

// TableDef is a table as Glue and Athena know it: what `aws glue get-table`
// prints, what `tickflow ddl --glue-json` writes, or what an Athena CREATE
// EXTERNAL TABLE declares. Check reads a lake against one (WithTable);
// ParseTable builds one from a file.
type TableDef struct {
	Name     string `json:"name"`
	Database string `json:"database,omitempty"`
	// Location is the table's s3://bucket/path/; its path (without the
	// bucket) is where Check looks under the store. Empty for the built-in
	// stock_ticks, whose root is the prefix's stock_ticks/ folder.
	Location      string   `json:"location,omitempty"`
	Format        string   `json:"format,omitempty"` // FormatParquet, FormatJSON, or "" (either, the built-in table)
	SerDe         string   `json:"serde,omitempty"`
	Columns       []Column `json:"columns"`
	PartitionKeys []Column `json:"partition_keys"`
	// Parameters are the table properties (TBLPROPERTIES, Glue Parameters),
	// among them partition projection's projection.* keys.
	Parameters      map[string]string `json:"parameters,omitempty"`
	SerDeParameters map[string]string `json:"serde_parameters,omitempty"`
	// Crawled says a Glue crawler maintains the table, so the crawler's
	// view (rules L05, C01) matters; otherwise schema drift is judged by
	// how Athena reads each file (rule L19).
	Crawled bool   `json:"crawled"`
	Source  string `json:"source,omitempty"` // the file it was parsed from

	byName map[string]int // lowercase column name → index (prepared definitions)
	json   *jsonReader    // how the SerDe reads JSON values (prepared definitions)
	// sinkNames: objects are named like tickflow's sink names them
	// (<topic>+<partition>+<startOffset>), part of L12.
	sinkNames bool
}

// StockTicks returns the built-in definition of the table tickflow's sink
// writes (docs/lake-contract.md): Parquet or JSON Lines, partitioned by dt
// (YYYY-MM-DD) and hour (00–23), maintained by a crawler or by the partition
// projection `tickflow ddl` prints (any day up to now).
func StockTicks() *TableDef {
	cols := make([]Column, len(tick.Columns))
	for i, c := range tick.Columns {
		cols[i] = Column{Name: c.Name, Type: c.Type}
	}
	return &TableDef{
		Name: tick.Table, Columns: cols,
		PartitionKeys: []Column{{Name: "dt", Type: "string"}, {Name: "hour", Type: "string"}},
		Parameters: map[string]string{
			"projection.enabled": "true",
			"projection.dt.type": "date", "projection.dt.format": "yyyy-MM-dd", "projection.dt.range": "NOW-100YEARS,NOW",
			"projection.dt.interval": "1", "projection.dt.interval.unit": "DAYS",
			"projection.hour.type": "integer", "projection.hour.range": "0,23", "projection.hour.digits": "2",
		},
		Crawled:   true,
		sinkNames: true,
	}
}

// crawledParameters reports whether a table's parameters show that a Glue
// crawler created or updates it: the crawler writes UPDATED_BY_CRAWLER (its
// name) and CrawlerSchemaDeserializerVersion/CrawlerSchemaSerializerVersion
// into every table it makes.
func crawledParameters(p map[string]string) bool {
	for _, k := range []string{"UPDATED_BY_CRAWLER", "CrawlerSchemaDeserializerVersion", "CrawlerSchemaSerializerVersion"} {
		if p[k] != "" {
			return true
		}
	}
	return false
}

// prepared returns a copy of d with every column type parsed, safe to
// share between the goroutines that read the files.
func (d *TableDef) prepared() *TableDef {
	c := *d
	c.Columns = append([]Column(nil), d.Columns...)
	c.PartitionKeys = append([]Column(nil), d.PartitionKeys...)
	c.byName = make(map[string]int, len(c.Columns))
	for i := range c.Columns {
		c.Columns[i].htype()
		c.byName[strings.ToLower(c.Columns[i].Name)] = i
	}
	for i := range c.PartitionKeys {
		c.PartitionKeys[i].htype()
	}
	c.json = jsonReaderFor(&c)
	return &c
}

// builtin is the prepared built-in definition, for files read without one.
var builtin = StockTicks().prepared()

// column returns the data column called name (case-insensitive).
func (d *TableDef) column(name string) (*Column, bool) {
	if d.byName != nil {
		if i, ok := d.byName[name]; ok {
			return &d.Columns[i], true
		}
		if i, ok := d.byName[strings.ToLower(name)]; ok {
			return &d.Columns[i], true
		}
		return nil, false
	}
	for i := range d.Columns {
		if strings.EqualFold(d.Columns[i].Name, name) {
			return &d.Columns[i], true
		}
	}
	return nil, false
}

// isPartitionKey reports whether name is one of the partition keys.
func (d *TableDef) isPartitionKey(name string) bool {
	for _, k := range d.PartitionKeys {
		if strings.EqualFold(k.Name, name) {
			return true
		}
	}
	return false
}

// kafkaColumns reports whether the table carries the sink's Kafka
// coordinates, so offset tiling (L12) applies to it.
func (d *TableDef) kafkaColumns() bool {
	p, okP := d.column("kafka_partition")
	o, okO := d.column("kafka_offset")
	if !okP || !okO {
		return false
	}
	_, ip := p.htype().integer()
	_, io := o.htype().integer()
	return ip && io
}

// locationPath returns the Location's path without the bucket, with a
// trailing slash ("" for a bucket root).
func (d *TableDef) locationPath() string {
	rest := d.Location
	for _, s := range []string{"s3://", "s3a://", "s3n://"} {
		if r, ok := strings.CutPrefix(rest, s); ok {
			rest = r
			break
		}
	}
	_, p, _ := strings.Cut(rest, "/")
	if p != "" && !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p
}

// Bucket returns the bucket of the Location ("" without one).
func (d *TableDef) Bucket() string {
	rest := d.Location
	for _, s := range []string{"s3://", "s3a://", "s3n://"} {
		if r, ok := strings.CutPrefix(rest, s); ok {
			b, _, _ := strings.Cut(r, "/")
			return b
		}
	}
	return ""
}

// DefinitionError is a table definition ParseTable cannot use: the file, the
// line and column, what is wrong and how to fix it.
type DefinitionError struct {
	File      string
	Line, Col int
	Msg, Fix  string
}

func (e *DefinitionError) Error() string {
	s := fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
	if e.Fix != "" {
		s += "; fix: " + e.Fix
	}
	return s
}

// ParseTable reads a table definition: the JSON of `aws glue get-table`
// ({"Table": {...}}), a Glue CreateTable input ({"TableInput": {...}}, what
// `tickflow ddl --glue-json` writes) or a bare TableInput, or an Athena
// CREATE EXTERNAL TABLE statement. name is the file name used in errors.
// Every error is a *DefinitionError with the line and column.
//
// Supported: columns and partition keys of Glue/Hive types (string, int,
// bigint, double, float, boolean, date, timestamp, decimal(p,s), char,
// varchar, binary, array/map/struct), Parquet or JSON (OpenX or Hive JSON
// SerDe), the location and table properties (partition projection);
// delimited text (CSV) too with AcceptText.
func ParseTable(name string, data []byte, opts ...ParseOption) (*TableDef, error) {
	var cfg parseConfig
	for _, o := range opts {
		o(&cfg)
	}
	src := bytes.TrimPrefix(data, utf8BOM)
	off := len(data) - len(src)
	trimmed := bytes.TrimLeft(src, " \t\r\n")
	var def *TableDef
	var err error
	if len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[') {
		def, err = parseGlueJSON(src, cfg.text)
	} else {
		def, err = parseDDL(string(src), cfg.text)
	}
	if err != nil {
		var pe *posError
		if errors.As(err, &pe) {
			line, col := lineCol(data, pe.tok.off+off)
			return nil, &DefinitionError{File: name, Line: line, Col: col, Msg: pe.msg, Fix: pe.fix}
		}
		return nil, &DefinitionError{File: name, Line: 1, Col: 1, Msg: err.Error()}
	}
	def.Source = name
	return def, nil
}

// resolveFormat decides the file format from the SerDe, the input format,
// STORED AS and the classification parameter.
func resolveFormat(serde, input, stored, classification string) (format, lib string, ok bool) {
	l := strings.ToLower(serde + " " + input + " " + stored)
	switch {
	case strings.Contains(l, "parquet"):
		return FormatParquet, SerDeParquet, true
	case serde == SerDeOpenXJSON:
		return FormatJSON, SerDeOpenXJSON, true
	case serde == SerDeHiveJSON || serde == "org.apache.hadoop.hive.serde2.JsonSerDe":
		return FormatJSON, serde, true
	case serde == "" && input == "" && stored == "" && strings.EqualFold(classification, "parquet"):
		return FormatParquet, SerDeParquet, true
	case serde == "" && input == "" && stored == "" && strings.EqualFold(classification, "json"):
		return FormatJSON, SerDeOpenXJSON, true
	}
	return "", "", false
}

const definitionFix = "give the JSON of aws glue get-table, a Glue TableInput (tickflow ddl --glue-json), or one Athena CREATE EXTERNAL TABLE statement"

const formatFix = "declare STORED AS PARQUET, or ROW FORMAT SERDE '" + SerDeOpenXJSON + "' (or '" + SerDeHiveJSON + "') for JSON Lines"

// validate checks what both parsers produce; at is where to point errors
// that have no better position.
func (d *TableDef) validate(at token, pos map[string]token) error {
	where := func(key string) token {
		if t, ok := pos[key]; ok {
			return t
		}
		return at
	}
	if d.Name == "" {
		return &posError{tok: at, msg: "the table has no name", fix: "give the table a Name"}
	}
	if len(d.Columns) == 0 {
		return &posError{tok: where("columns"), msg: "the table has no columns", fix: "declare the data columns with their types"}
	}
	seen := map[string]string{}
	for i, c := range append(append([]Column(nil), d.Columns...), d.PartitionKeys...) {
		kind := "column"
		if i >= len(d.Columns) {
			kind = "partition key"
		}
		low := strings.ToLower(c.Name)
		if c.Name == "" {
			return &posError{tok: where(kind + "#" + fmt.Sprint(i)), msg: "a " + kind + " has no name", fix: "name every column"}
		}
		if prev, dup := seen[low]; dup {
			fix := "rename one of them"
			if kind == "partition key" && prev == "column" {
				fix = "drop " + c.Name + " from the data columns: Athena fills a partition key from the folder name (…/" + low + "=value/)"
			}
			return &posError{tok: where(kind + ":" + c.Name), msg: fmt.Sprintf("%s %q is declared twice (as a %s and as a %s; names are case-insensitive)", kind, c.Name, prev, kind), fix: fix}
		}
		seen[low] = kind
	}
	if d.Location == "" {
		return &posError{tok: at, msg: "the table has no location", fix: "add LOCATION 's3://bucket/path/' (Glue: StorageDescriptor.Location)"}
	}
	if d.Bucket() == "" {
		return &posError{tok: where("location"), msg: fmt.Sprintf("location %q is not s3://bucket/path/", d.Location), fix: "write the location as s3://bucket/path/"}
	}
	if strings.EqualFold(d.Parameters["projection.enabled"], "true") {
		if _, err := parseProjection(d); err != nil {
			t := where("tblproperties")
			var pe *projectionError
			if errors.As(err, &pe) {
				if pt, ok := pos["param:"+pe.param]; ok {
					t = pt
				}
			}
			return &posError{tok: t, msg: err.Error(), fix: "see Athena's partition projection reference: projection.<key>.type enum|integer|date|injected with its range/values/format"}
		}
	}
	return nil
}

// sortedKeys returns m's keys in order (deterministic output).
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
