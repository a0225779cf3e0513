package lake

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/tickflow/tickflow/harness/objstore"
	"github.com/tickflow/tickflow/harness/tick"
)

// DefaultStartDate is projection.dt.range's first day when none is given:
// partitions before it are invisible to Athena.
const DefaultStartDate = "2020-01-01"

// DDLOption configures DDL and GlueTableInput.
type DDLOption func(*ddlConfig)

type ddlConfig struct {
	format    string
	startDate string
	database  string
}

// DDLFormat selects the lake's file format: "parquet" (default) or "json"
// (.json and .json.gz both, read by the OpenX JSON SerDe).
func DDLFormat(f string) DDLOption { return func(c *ddlConfig) { c.format = f } }

// StartDate sets projection.dt.range's first day (YYYY-MM-DD); default DefaultStartDate.
func StartDate(d string) DDLOption { return func(c *ddlConfig) { c.startDate = d } }

// Database sets the Glue database of GlueTableInput (default "default").
func Database(name string) DDLOption { return func(c *ddlConfig) { c.database = name } }

// tableDef is the resolved table definition both outputs print.
type tableDef struct {
	location, template string
	cfg                ddlConfig
}

// resolve validates the options and turns the prefix location
// (s3://bucket/prefix/, the folder that holds stock_ticks/) into the table
// location (L14: ends with /, no //).
func resolve(prefixLocation string, opts []DDLOption) (tableDef, error) {
	cfg := ddlConfig{format: "parquet", startDate: DefaultStartDate, database: "default"}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.format != "parquet" && cfg.format != "json" {
		return tableDef{}, fmt.Errorf("lake: format %q: want parquet or json", cfg.format)
	}
	if _, err := time.Parse(time.DateOnly, cfg.startDate); err != nil {
		return tableDef{}, fmt.Errorf("lake: start date %q is not YYYY-MM-DD", cfg.startDate)
	}
	rest, ok := strings.CutPrefix(prefixLocation, "s3://")
	if !ok || rest == "" || strings.HasPrefix(rest, "/") {
		return tableDef{}, fmt.Errorf("lake: location %q: want s3://bucket/prefix/ (the folder that holds %s/)", prefixLocation, tick.Table)
	}
	if strings.Contains(rest, "//") {
		return tableDef{}, fmt.Errorf("lake: location %q contains // (L14): remove the empty folder name", prefixLocation)
	}
	if strings.ContainsAny(rest, "'\\") {
		return tableDef{}, fmt.Errorf("lake: location %q contains a quote or backslash", prefixLocation)
	}
	bucket, path, _ := strings.Cut(rest, "/")
	if err := objstore.ValidBucket(bucket); err != nil {
		return tableDef{}, fmt.Errorf("lake: location %q: %w", prefixLocation, err)
	}
	if segs := strings.Split(strings.Trim(path, "/"), "/"); segs[len(segs)-1] == tick.Table {
		parent := "s3://" + bucket + "/" + strings.Join(segs[:len(segs)-1], "/")
		if !strings.HasSuffix(parent, "/") {
			parent += "/"
		}
		return tableDef{}, fmt.Errorf("lake: location %q already ends with the table folder %s/, so the table would be at %s%s/: give the folder that holds it, %s",
			prefixLocation, tick.Table, strings.TrimSuffix(prefixLocation, "/")+"/", tick.Table, parent)
	}
	if !strings.HasSuffix(rest, "/") {
		rest += "/"
	}
	loc := "s3://" + rest + tick.Table + "/"
	return tableDef{location: loc, template: loc + "dt=${dt}/hour=${hour}/", cfg: cfg}, nil
}

func (d tableDef) properties() [][2]string {
	return [][2]string{
		{"projection.enabled", "true"},
		{"projection.dt.type", "date"},
		{"projection.dt.format", "yyyy-MM-dd"},
		{"projection.dt.range", d.cfg.startDate + ",NOW"},
		{"projection.dt.interval", "1"},
		{"projection.dt.interval.unit", "DAYS"},
		{"projection.hour.type", "integer"},
		{"projection.hour.range", "0,23"},
		{"projection.hour.digits", "2"},
		{"storage.location.template", d.template},
	}
}

// DDL returns Athena's CREATE EXTERNAL TABLE for the lake whose prefix is
// prefixLocation (s3://bucket/prefix/, the folder that holds stock_ticks/),
// with partition projection (A partition-projection-setting-up). Partition
// keys are strings on purpose (A other-notable-limitations).
func DDL(prefixLocation string, opts ...DDLOption) (string, error) {
	d, err := resolve(prefixLocation, opts)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE EXTERNAL TABLE IF NOT EXISTS `%s` (\n", tick.Table)
	for i, c := range tick.Columns {
		sep := ","
		if i == len(tick.Columns)-1 {
			sep = ""
		}
		fmt.Fprintf(&b, "  `%s` %s%s\n", c.Name, c.Type, sep)
	}
	b.WriteString(")\nPARTITIONED BY (\n  `dt` string,\n  `hour` string\n)\n")
	if d.cfg.format == "json" {
		// No ignore.malformed.json: the lake must have zero malformed lines (L06).
		b.WriteString("ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'\n")
		b.WriteString("STORED AS INPUTFORMAT 'org.apache.hadoop.mapred.TextInputFormat'\n")
		b.WriteString("OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'\n")
	} else {
		b.WriteString("STORED AS PARQUET\n")
	}
	fmt.Fprintf(&b, "LOCATION '%s'\nTBLPROPERTIES (\n", d.location)
	props := d.properties()
	for i, p := range props {
		sep := ","
		if i == len(props)-1 {
			sep = ""
		}
		fmt.Fprintf(&b, "  '%s'='%s'%s\n", p[0], p[1], sep)
	}
	b.WriteString(");\n")
	return b.String(), nil
}

// Glue CreateTable input (the shape `aws glue create-table --cli-input-json` takes).
type (
	glueCreateTable struct {
		DatabaseName string    `json:"DatabaseName"`
		TableInput   glueTable `json:"TableInput"`
	}
	glueTable struct {
		Name              string            `json:"Name"`
		TableType         string            `json:"TableType"`
		Parameters        map[string]string `json:"Parameters"`
		PartitionKeys     []glueColumn      `json:"PartitionKeys"`
		StorageDescriptor glueStorage       `json:"StorageDescriptor"`
	}
	glueColumn struct {
		Name string `json:"Name"`
		Type string `json:"Type"`
	}
	glueStorage struct {
		Columns      []glueColumn `json:"Columns"`
		Location     string       `json:"Location"`
		InputFormat  string       `json:"InputFormat"`
		OutputFormat string       `json:"OutputFormat"`
		SerdeInfo    glueSerde    `json:"SerdeInfo"`
	}
	glueSerde struct {
		SerializationLibrary string            `json:"SerializationLibrary"`
		Parameters           map[string]string `json:"Parameters"`
	}
)

// GlueTableInput returns the Glue CreateTable input JSON equivalent to DDL
// (for `aws glue create-table --cli-input-json file://…`).
func GlueTableInput(prefixLocation string, opts ...DDLOption) ([]byte, error) {
	d, err := resolve(prefixLocation, opts)
	if err != nil {
		return nil, err
	}
	params := map[string]string{"EXTERNAL": "TRUE", "classification": d.cfg.format}
	for _, p := range d.properties() {
		params[p[0]] = p[1]
	}
	sd := glueStorage{Location: d.location}
	for _, c := range tick.Columns {
		sd.Columns = append(sd.Columns, glueColumn{c.Name, c.Type})
	}
	if d.cfg.format == "json" {
		sd.InputFormat = "org.apache.hadoop.mapred.TextInputFormat"
		sd.OutputFormat = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
		sd.SerdeInfo = glueSerde{SerializationLibrary: "org.openx.data.jsonserde.JsonSerDe", Parameters: map[string]string{}}
	} else {
		sd.InputFormat = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
		sd.OutputFormat = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
		sd.SerdeInfo = glueSerde{SerializationLibrary: "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe", Parameters: map[string]string{"serialization.format": "1"}}
	}
	in := glueCreateTable{DatabaseName: d.cfg.database, TableInput: glueTable{
		Name: tick.Table, TableType: "EXTERNAL_TABLE", Parameters: params,
		PartitionKeys:     []glueColumn{{"dt", "string"}, {"hour", "string"}},
		StorageDescriptor: sd,
	}}
	b, err := json.MarshalIndent(in, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// FirstDay returns the earliest dt=YYYY-MM-DD partition of the stock_ticks
// table under prefix (the folder that holds stock_ticks/): the start of
// projection.dt.range that leaves no partition invisible and lists no empty
// days before the data (rules L25, L26).
func FirstDay(ctx context.Context, st objstore.Store, prefix string) (string, error) {
	prefix = strings.TrimPrefix(prefix, "/")
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	root := prefix + tick.Table + "/"
	objs, err := st.List(ctx, root)
	if err != nil {
		return "", fmt.Errorf("lake: list %s %s: %w", st, root, err)
	}
	if len(objs) == 0 {
		return "", fmt.Errorf("%w %s in %s", ErrEmptyLake, root, st)
	}
	first := ""
	for _, o := range objs {
		seg, _, _ := strings.Cut(strings.TrimPrefix(o.Key, root), "/")
		v, ok := strings.CutPrefix(seg, "dt=")
		if !ok {
			continue
		}
		if _, err := time.Parse(time.DateOnly, v); err == nil && (first == "" || v < first) {
			first = v
		}
	}
	if first == "" {
		return "", fmt.Errorf("lake: no dt=YYYY-MM-DD folder under %s in %s (run tickflow verify)", root, st)
	}
	return first, nil
}
