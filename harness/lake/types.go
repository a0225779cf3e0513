package lake

import (
	"fmt"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/format"
)

// parquetColumn is one top-level field of a Parquet file, as the Hive type
// it carries plus its physical description for messages.
type parquetColumn struct {
	name string
	t    *fileType
}

// fileType is the type a Parquet field carries: the htype Athena would map
// it to and the physical details the rules look at.
type fileType struct {
	h      *htype
	phys   string // INT32, INT64, INT96, FLOAT, DOUBLE, BOOLEAN, BYTE_ARRAY, FIXED_LEN_BYTE_ARRAY, group
	unit   string // timestamps: MILLIS, MICROS, NANOS, INT96, or "" for an INT64 without annotation
	utc    bool
	plain  bool // no logical/converted annotation
	elem   *fileType
	key    *fileType
	fields []fileField
}

type fileField struct {
	name string
	t    *fileType
}

func (t *fileType) describe() string {
	switch t.phys {
	case "group":
		return t.h.String()
	}
	d := t.phys
	switch {
	case t.h.kind == "timestamp" && t.unit == "INT96":
	case t.h.kind == "timestamp":
		d += fmt.Sprintf(" TIMESTAMP(%s, isAdjustedToUTC=%t)", t.unit, t.utc)
	case t.h.kind == "decimal":
		d += fmt.Sprintf(" DECIMAL(%d,%d)", t.h.p, t.h.s)
	case t.h.kind == "date":
		d += " DATE"
	case t.h.kind == "string":
		d += " STRING"
	case t.h.kind == "tinyint", t.h.kind == "smallint":
		d += " " + strings.ToUpper(t.h.kind)
	}
	return d
}

func leafLogical(t parquet.Type) format.LogicalTypeValue {
	if lt := t.LogicalType(); lt != nil {
		return lt.Value
	}
	return nil
}

// parquetFileType maps a Parquet field to what it carries. ignoreRepeat
// reads a repeated field's element (inside a LIST).
func parquetFileType(fld parquet.Field, ignoreRepeat bool, depth int) *fileType {
	if depth > maxTypeDepth {
		return &fileType{h: &htype{kind: "binary"}, phys: "group"}
	}
	var ft *fileType
	if fld.Leaf() {
		ft = leafFileType(fld.Type())
	} else {
		ft = groupFileType(fld, depth)
	}
	if fld.Repeated() && !ignoreRepeat {
		return &fileType{h: &htype{kind: "array", elem: ft.h}, phys: "group", elem: ft}
	}
	return ft
}

func groupFileType(fld parquet.Field, depth int) *fileType {
	fields := fld.Fields()
	lv := leafLogical(fld.Type())
	ct := fld.Type().ConvertedType()
	_, isList := lv.(*format.ListType)
	_, isMap := lv.(*format.MapType)
	if ct != nil {
		isList = isList || *ct == deprecated.List
		isMap = isMap || *ct == deprecated.Map || *ct == deprecated.MapKeyValue
	}
	switch {
	case isList && len(fields) == 1:
		rep := fields[0]
		var elem *fileType
		if !rep.Leaf() && len(rep.Fields()) == 1 && rep.Name() != "array" && !strings.HasSuffix(rep.Name(), "_tuple") {
			elem = parquetFileType(rep.Fields()[0], false, depth+1) // three-level list
		} else {
			elem = parquetFileType(rep, true, depth+1) // two-level (legacy) list
		}
		return &fileType{h: &htype{kind: "array", elem: elem.h}, phys: "group", elem: elem}
	case isMap && len(fields) == 1 && !fields[0].Leaf() && len(fields[0].Fields()) == 2:
		kv := fields[0].Fields()
		k, v := parquetFileType(kv[0], false, depth+1), parquetFileType(kv[1], false, depth+1)
		return &fileType{h: &htype{kind: "map", key: k.h, elem: v.h}, phys: "group", key: k, elem: v}
	}
	ft := &fileType{h: &htype{kind: "struct"}, phys: "group"}
	for _, f := range fields {
		sub := parquetFileType(f, false, depth+1)
		ft.fields = append(ft.fields, fileField{f.Name(), sub})
		ft.h.fields = append(ft.h.fields, hfield{f.Name(), sub.h})
	}
	return ft
}

func leafFileType(t parquet.Type) *fileType {
	lv := leafLogical(t)
	ct := t.ConvertedType()
	ft := &fileType{phys: t.Kind().String()}
	switch t.Kind() {
	case parquet.ByteArray:
		ft.phys = "BYTE_ARRAY"
	case parquet.FixedLenByteArray:
		ft.phys = "FIXED_LEN_BYTE_ARRAY"
	case parquet.Int32:
		ft.phys = "INT32"
	case parquet.Int64:
		ft.phys = "INT64"
	case parquet.Int96:
		ft.phys = "INT96"
	case parquet.Float:
		ft.phys = "FLOAT"
	case parquet.Double:
		ft.phys = "DOUBLE"
	case parquet.Boolean:
		ft.phys = "BOOLEAN"
	}
	if dt, ok := lv.(*format.DecimalType); ok {
		ft.h = &htype{kind: "decimal", p: int(dt.Precision), s: int(dt.Scale)}
		return ft
	}
	if ts, ok := lv.(*format.TimestampType); ok {
		ft.h, ft.utc = &htype{kind: "timestamp"}, ts.IsAdjustedToUTC
		switch ts.Unit.Value.(type) {
		case *format.MilliSeconds:
			ft.unit = "MILLIS"
		case *format.MicroSeconds:
			ft.unit = "MICROS"
		case *format.NanoSeconds:
			ft.unit = "NANOS"
		}
		return ft
	}
	if lv == nil && ct != nil {
		switch *ct {
		case deprecated.TimestampMillis:
			ft.h, ft.unit, ft.utc = &htype{kind: "timestamp"}, "MILLIS", true
			return ft
		case deprecated.TimestampMicros:
			ft.h, ft.unit, ft.utc = &htype{kind: "timestamp"}, "MICROS", true
			return ft
		}
	}
	lt := logical(t)
	switch t.Kind() {
	case parquet.Boolean:
		ft.h = &htype{kind: "boolean"}
	case parquet.Int32:
		switch {
		case lt == "DATE":
			ft.h = &htype{kind: "date"}
		case strings.HasPrefix(lt, "INT(8"):
			ft.h = &htype{kind: "tinyint"}
		case strings.HasPrefix(lt, "INT(16"):
			ft.h = &htype{kind: "smallint"}
		default:
			ft.h, ft.plain = &htype{kind: "int"}, lt == "" || strings.HasPrefix(lt, "INT(32")
		}
	case parquet.Int64:
		ft.h, ft.plain = &htype{kind: "bigint"}, lt == "" || strings.HasPrefix(lt, "INT(64")
	case parquet.Int96:
		ft.h, ft.unit = &htype{kind: "timestamp"}, "INT96"
	case parquet.Float:
		ft.h = &htype{kind: "float"}
	case parquet.Double:
		ft.h = &htype{kind: "double"}
	default:
		ft.h = &htype{kind: "binary"}
		if lt == "STRING" || lt == "ENUM" || lt == "JSON" {
			ft.h = &htype{kind: "string"}
		}
	}
	return ft
}

// typeIssue is one way a file's column does not fit its declaration.
type typeIssue struct {
	rule string // L11, L17 or L18
	msg  string
	fix  string
}

// compareTypes checks a file type against a declared type. path names the
// column (col.field[].key…).
func compareTypes(path string, want *htype, got *fileType, inNested bool) []typeIssue {
	if want.nested() {
		return compareNested(path, want, got)
	}
	rule := "L11"
	if inNested {
		rule = "L18"
	}
	mismatch := func(symptom, fix string) []typeIssue {
		return []typeIssue{{rule, fmt.Sprintf("column %s is %s in the file, the table declares %s: %s", path, got.describe(), want, symptom), fix}}
	}
	if got.phys == "group" {
		return mismatch("Athena fails with HIVE_BAD_DATA (a nested or repeated field where a plain value is declared)", "write one plain "+want.String()+" value per row, or declare the column's real type")
	}
	g := got.h
	switch want.kind {
	case "string", "char", "varchar":
		if g.kind == "string" {
			return nil
		}
		if g.kind == "binary" && got.phys == "BYTE_ARRAY" {
			return mismatch("BYTE_ARRAY without the STRING (UTF8) annotation: a crawler types it binary and Athena does not read it as string (HIVE_BAD_DATA)", "annotate the column as STRING (UTF8) in the Parquet writer")
		}
	case "tinyint", "smallint", "int", "bigint":
		wb, _ := want.integer()
		if gb, ok := g.integer(); ok {
			if gb == wb || (gb < wb && wb <= 32) {
				return nil // same width, or a narrower annotation on the same INT32
			}
			if gb < wb {
				return mismatch(fmt.Sprintf("Athena's Parquet reader checks the physical type and fails with HIVE_BAD_DATA (%s in parquet is incompatible with type %s)", got.phys, want), fmt.Sprintf("write %s as %s, or declare it %s", path, physicalFor(want), g))
			}
			return mismatch(fmt.Sprintf("values wider than %s cannot be read: HIVE_BAD_DATA (%s in parquet is incompatible with type %s)", want, got.phys, want), fmt.Sprintf("declare %s %s, or write %s", path, g, physicalFor(want)))
		}
	case "float", "double":
		if g.kind == want.kind {
			return nil
		}
		if g.kind == "float" || g.kind == "double" {
			return mismatch(fmt.Sprintf("HIVE_BAD_DATA (%s in parquet is incompatible with type %s)", got.phys, want), fmt.Sprintf("write %s as %s, or declare it %s", path, physicalFor(want), g))
		}
	case "boolean", "date", "binary":
		if g.kind == want.kind || (want.kind == "binary" && got.phys == "BYTE_ARRAY") {
			return nil
		}
	case "timestamp":
		return timestampIssues(path, rule, got)
	case "decimal":
		if g.kind != "decimal" {
			return []typeIssue{{"L17", fmt.Sprintf("column %s is %s in the file, the table declares %s: HIVE_BAD_DATA (a decimal must be stored as DECIMAL(p,s), not as a float or plain integer)", path, got.describe(), want),
				"write the column with the DECIMAL(p,s) logical type the table declares"}}
		}
		if g.p > 38 {
			return []typeIssue{{"L17", fmt.Sprintf("column %s is DECIMAL(%d,%d): precision above 38, Athena's maximum", path, g.p, g.s), "write decimals with precision ≤ 38"}}
		}
		if g.p != want.p || g.s != want.s {
			return []typeIssue{{"L17", fmt.Sprintf("column %s is DECIMAL(%d,%d) in the file, the table declares %s: HIVE_BAD_DATA (precision and scale must match)", path, g.p, g.s, want),
				fmt.Sprintf("write %s as DECIMAL(%d,%d) in every file, or declare the file's precision and scale", path, want.p, want.s)}}
		}
		return nil
	}
	return mismatch("HIVE_BAD_DATA (the Parquet type cannot be read as the declared type)", fmt.Sprintf("write %s as %s, or declare the column's real type", path, physicalFor(want)))
}

func timestampIssues(path, rule string, got *fileType) []typeIssue {
	const fix = "write timestamps as INT64 TIMESTAMP(MILLIS) (e.g. pyarrow coerce_timestamps='ms', Spark spark.sql.parquet.outputTimestampType=TIMESTAMP_MILLIS)"
	var what string
	switch {
	case got.h.kind != "timestamp" && got.phys == "INT64":
		what = "INT64 without a TIMESTAMP annotation: Athena does not read a plain integer as a timestamp (HIVE_BAD_DATA); the crawler types it bigint"
	case got.h.kind != "timestamp":
		what = "not a timestamp: HIVE_BAD_DATA"
	case got.unit == "INT96":
		what = "legacy INT96 (deprecated by Parquet): Athena reads it, but Glue, Spark and other engines may shift it by the session time zone; write MILLIS"
	case got.unit == "MICROS":
		what = "microseconds: Athena's timestamp keeps milliseconds, the sub-millisecond digits are lost, and some readers misread the unit"
	case got.unit == "NANOS":
		what = "nanoseconds: Athena's Hive tables do not read nanosecond timestamps reliably (wrong dates or HIVE_BAD_DATA)"
	default:
		return nil
	}
	return []typeIssue{{rule, fmt.Sprintf("column %s is %s in the file: %s", path, got.describe(), what), fix}}
}

func compareNested(path string, want *htype, got *fileType) []typeIssue {
	bad := func(what string) []typeIssue {
		return []typeIssue{{"L18", fmt.Sprintf("column %s is %s in the file, the table declares %s: %s", path, got.h, want, what),
			"write the nested column with the declared shape (struct = group, array = LIST, map = MAP), or declare the file's shape"}}
	}
	switch want.kind {
	case "array":
		if got.h.kind != "array" || got.elem == nil {
			return bad("HIVE_BAD_DATA (not a list)")
		}
		return compareTypes(path+"[]", want.elem, got.elem, true)
	case "map":
		if got.h.kind != "map" || got.key == nil {
			return bad("HIVE_BAD_DATA (not a map)")
		}
		out := compareTypes(path+".key", want.key, got.key, true)
		return append(out, compareTypes(path+".value", want.elem, got.elem, true)...)
	case "struct":
		if got.h.kind != "struct" {
			return bad("HIVE_BAD_DATA (not a struct)")
		}
		var out []typeIssue
		for _, wf := range want.fields {
			var sub *fileType
			for _, gf := range got.fields {
				if strings.EqualFold(gf.name, wf.name) {
					sub = gf.t
				}
			}
			if sub == nil {
				out = append(out, typeIssue{"L18", fmt.Sprintf("struct field %s.%s is declared but missing in the file: it reads as NULL in every row", path, wf.name),
					"write the field, or drop it from the declaration"})
				continue
			}
			out = append(out, compareTypes(path+"."+wf.name, wf.t, sub, true)...)
		}
		return out
	}
	return nil
}

// physicalFor names the Parquet type a declared primitive wants.
func physicalFor(t *htype) string {
	switch t.kind {
	case "string", "char", "varchar":
		return "BYTE_ARRAY STRING"
	case "tinyint", "smallint", "int":
		return "INT32"
	case "bigint":
		return "INT64"
	case "float":
		return "FLOAT"
	case "double":
		return "DOUBLE"
	case "boolean":
		return "BOOLEAN"
	case "date":
		return "INT32 DATE"
	case "timestamp":
		return "INT64 TIMESTAMP(MILLIS)"
	case "decimal":
		return fmt.Sprintf("DECIMAL(%d,%d)", t.p, t.s)
	}
	return t.String()
}
