package lake

import (
	"path"
	"strings"

	"github.com/tickflow/tickflow/harness/objstore"
	"github.com/tickflow/tickflow/harness/tick"
)

// file is one object under the table root and what reading it found.
type file struct {
	key         string // full object key
	rel         string // key relative to the table root
	size        int64  // bytes
	meta        map[string]string
	def         *TableDef // the table the file is read against
	folders     []string  // folder names between the table root and the object
	name        string    // base name
	format      string    // "parquet", "json", or "" (unknown extension)
	compression string    // "none" or "gzip"
	marker      string    // why this is a marker object (L03), "" for data objects

	unreadable string        // why the content cannot be read as its format (L04), "" if readable
	schema     []tick.Column // columns with Glue types as a crawler infers them
	jsonArray  bool          // JSON file whose top level is an array
	problems   []Violation   // violations found while reading (L06, L07, L10, L11)

	rows        int64
	hidden      bool // named _… or .…: Athena skips it, its rows are invisible
	parquetCols []parquetColumn
	timestamps  map[string]string // Parquet timestamp column → encoding (unit, isAdjustedToUTC)
	recs        []record          // one per row, when kafka_offset and kafka_partition exist
	hasOffsets  bool
	hasEvent    bool
	jsonKinds   map[string]map[string]int // JSON only: undeclared key → kind as written (bigint, double, string, …) → lines (L07)
}

// record is what the coverage and partition checks need from one row.
type record struct {
	partition int32
	offset    int64
	event     int64 // event_time, ms since epoch UTC
	eventOK   bool
	eventRaw  string // JSON only: the text when it could not be parsed
}

func newFile(root string, o objstore.Object) *file {
	rel := strings.TrimPrefix(o.Key, root)
	f := &file{key: o.Key, rel: rel, size: o.Size, compression: "none", def: builtin}
	parts := strings.Split(rel, "/")
	f.name = parts[len(parts)-1]
	f.folders = parts[:len(parts)-1]
	switch {
	case strings.HasSuffix(f.name, ".parquet"):
		f.format = "parquet"
	case strings.HasSuffix(f.name, ".json.gz"):
		f.format, f.compression = "json", "gzip"
	case strings.HasSuffix(f.name, ".json"):
		f.format = "json"
	}
	f.marker = markerReason(f.name, o.Size)
	f.hidden = o.Size > 0 && f.format != "" && (strings.HasPrefix(f.name, "_") || strings.HasPrefix(f.name, "."))
	return f
}

// markerReason says why an object is a marker/temporary object Athena would
// still try to read, or "" for a data object.
func markerReason(name string, size int64) string {
	switch {
	case name == "":
		return "a zero-byte folder placeholder (key ends with /)"
	case name == "_SUCCESS":
		return "a _SUCCESS marker"
	case strings.HasSuffix(name, "_$folder$"):
		return "a *_$folder$ placeholder"
	case strings.HasSuffix(name, ".tmp") || strings.HasSuffix(name, ".partial"):
		return "a temporary file (" + path.Ext(name) + ")"
	case strings.HasPrefix(name, "_") || strings.HasPrefix(name, "."):
		return "a name starting with " + name[:1] + ": Athena treats it as hidden and never reads it (Hadoop's hidden-file convention)"
	case size == 0:
		return "a zero-byte object"
	}
	return ""
}

func (f *file) isData() bool { return f.marker == "" }

// readable reports whether the content was understood (format known and parsed).
func (f *file) readable() bool { return f.isData() && f.format != "" && f.unreadable == "" }

func (f *file) analyse(body []byte) {
	if f.marker != "" && !f.hidden {
		return
	}
	if f.hidden {
		// Read only to count the rows nobody will see.
		g := *f
		g.marker, g.hidden = "", false
		g.analyse(body)
		f.rows = g.rows
		return
	}
	switch f.format {
	case "parquet":
		f.analyseParquet(body)
	case "json":
		f.analyseJSON(body)
	default:
		f.unreadable = "its extension is not .parquet, .json or .json.gz"
	}
}

func (f *file) problem(v Violation) { f.problems = append(f.problems, v) }
