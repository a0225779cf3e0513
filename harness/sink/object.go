package sink

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/klauspost/compress/s2"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/snappy"

	"github.com/tickflow/tickflow/harness/objstore"
	"github.com/tickflow/tickflow/harness/tick"
)

// Object metadata keys the sink writes on every lake object (S3 user
// metadata, lowercase). The lake checker uses them to prove the offsets of
// each Kafka partition tile without overlap or gap.
const (
	MetaTopic       = "tickflow-topic"
	MetaPartition   = "tickflow-partition"
	MetaStartOffset = "tickflow-start-offset" // first offset covered, inclusive (= the offset in the key)
	MetaEndOffset   = "tickflow-end-offset"   // end of the range, EXCLUSIVE: the next object starts here
	MetaRecords     = "tickflow-records"      // rows in the file
	MetaDLQ         = "tickflow-dlq"          // records of the range sent to the dead-letter topic instead
	MetaFormat      = "tickflow-format"       // parquet | json | json.gz
	MetaExpired     = "tickflow-expired"      // offsets of the range retention removed before the sink read them
	MetaTopicID     = "tickflow-topic-id"     // the topic's ID (its incarnation), when the cluster has topic IDs
	MetaBytes       = "tickflow-bytes"        // the object's size: an object whose Content-Length differs is not the one written
)

// checkWhole refuses an object (HEAD h, at key, its range [start, end)
// read from its metadata) whose metadata cannot describe it: a recorded
// size other than its Content-Length, or counts that do not fit its range
// (rows + dead letters + expired offsets at most end − start — fewer on a
// transactional or compacted topic, whose offsets have gaps — and at
// least one row: the sink writes no empty objects). Objects from before
// MetaBytes are checked on the counts alone, objects without counts (not
// the sink's) on their range alone.
func checkWhole(key string, h objstore.Object, start, end int64) error {
	if v, ok := h.Metadata[MetaBytes]; ok {
		if n, err := strconv.ParseInt(v, 10, 64); err != nil || n != h.Size {
			return fmt.Errorf("sink: %w: %s is not whole: its %s metadata says %q bytes, the store has %d; move it away so the sink writes the range again",
				errForeignObject, key, MetaBytes, v, h.Size)
		}
	}
	rv, ok := h.Metadata[MetaRecords]
	if !ok {
		return nil
	}
	rows, err1 := strconv.ParseInt(rv, 10, 64)
	var dlq, exp int64
	var err2, err3 error
	if v, ok := h.Metadata[MetaDLQ]; ok {
		dlq, err2 = strconv.ParseInt(v, 10, 64)
	}
	if v, ok := h.Metadata[MetaExpired]; ok {
		exp, err3 = strconv.ParseInt(v, 10, 64)
	}
	if err1 != nil || err2 != nil || err3 != nil || rows <= 0 || dlq < 0 || exp < 0 || rows+dlq+exp > end-start {
		return fmt.Errorf("sink: %w: %s has an impossible range: [%d, %d) with %s=%q %s=%q %s=%q (rows + dead letters + expired cannot exceed end − start, and it has rows); move it away so the sink writes the range again",
			errForeignObject, key, start, end, MetaRecords, rv, MetaDLQ, h.Metadata[MetaDLQ], MetaExpired, h.Metadata[MetaExpired])
	}
	return nil
}

// Extension is the file extension for a format ("parquet", "json", "json.gz").
func Extension(f Format, gz bool) string {
	if f == JSON && gz {
		return "json.gz"
	}
	return string(f)
}

// ObjectKey is the lake key of the object of topic/partition whose range
// starts at start, in the dt/hour folder partPath (tick.PartitionPath):
// <prefix>/stock_ticks/dt=YYYY-MM-DD/hour=HH/<topic>+<partition>+<start %020d>.<ext>.
func ObjectKey(prefix, partPath, topic string, partition int32, start int64, ext string) string {
	var b strings.Builder
	if p := strings.Trim(prefix, "/"); p != "" {
		b.WriteString(p)
		b.WriteByte('/')
	}
	fmt.Fprintf(&b, "%s/%s/%s+%d+%020d.%s", tick.Table, partPath, topic, partition, start, ext)
	return b.String()
}

// ParseObjectName splits an object key's base name into topic, partition
// and start offset; ok is false for names the sink does not write. Topic
// names may contain dots (e.g. "market.ticks"), so the known extension is
// stripped from the end rather than cut at the first dot.
func ParseObjectName(key string) (topic string, partition int32, start int64, ok bool) {
	base := key[strings.LastIndexByte(key, '/')+1:]
	name := ""
	for _, ext := range [...]string{".json.gz", ".parquet", ".json"} {
		if n, found := strings.CutSuffix(base, ext); found {
			name = n
			break
		}
	}
	if name == "" {
		return "", 0, 0, false
	}
	// Topic names cannot contain '+', so the last two '+' split the name.
	j := strings.LastIndexByte(name, '+')
	if j < 0 || len(name)-j-1 != 20 {
		return "", 0, 0, false
	}
	i := strings.LastIndexByte(name[:j], '+')
	if i <= 0 {
		return "", 0, 0, false
	}
	p, err1 := strconv.ParseInt(name[i+1:j], 10, 32)
	s, err2 := strconv.ParseInt(name[j+1:], 10, 64)
	if err1 != nil || err2 != nil || p < 0 || s < 0 {
		return "", 0, 0, false
	}
	return name[:i], int32(p), s, true
}

// parquetEncoders keep their parquet-go writers and buffers between objects.
var parquetEncoders = sync.Pool{New: func() any {
	return tick.NewParquetEncoder(parquet.Compression(&fastSnappy{}))
}}

// fastSnappy is Parquet's SNAPPY codec with klauspost's plain snappy block
// encoder instead of the "better" one parquet-go uses: its output is
// ordinary snappy (any reader — Athena, Glue, DuckDB — decodes it) and
// compresses a little less, at about half the CPU, which was the largest
// single cost of the sink. Decoding is parquet-go's.
type fastSnappy struct{ snappy.Codec }

func (*fastSnappy) Encode(dst, src []byte) ([]byte, error) {
	if s2.MaxEncodedLen(len(src)) < 0 {
		return dst[:0], fmt.Errorf("snappy: page of %d bytes is too large", len(src))
	}
	return s2.EncodeSnappy(dst, src), nil
}

// EncodeParquet writes rows as one snappy-compressed Parquet file to buf:
// tick.ParquetSchema, the value columns OPTIONAL and NULL where Row.Null
// says so.
func EncodeParquet(buf *bytes.Buffer, rows []tick.Row) error {
	return encodeChunks(buf, Parquet, false, rows)
}

// EncodeJSON writes rows as JSON Lines (tick.AppendJSONRow, NULL values as
// null) to buf, gzip-compressed when gz is set.
func EncodeJSON(buf *bytes.Buffer, rows []tick.Row, gz bool) error {
	return encodeChunks(buf, JSON, gz, rows)
}

// encodeChunks writes the rows of all chunks, in order, as one object of
// format f to buf.
func encodeChunks(buf *bytes.Buffer, f Format, gz bool, chunks ...[]tick.Row) error {
	if f == Parquet {
		enc := parquetEncoders.Get().(*tick.ParquetEncoder)
		if err := enc.Encode(buf, chunks...); err != nil {
			return err // the encoder is dropped: its writer may be mid-file
		}
		parquetEncoders.Put(enc)
		return nil
	}
	line := make([]byte, 0, 256)
	if !gz {
		for _, rows := range chunks {
			for _, r := range rows {
				buf.Write(tick.AppendJSONRow(line[:0], r))
			}
		}
		return nil
	}
	zw := gzipWriters.Get().(*gzip.Writer)
	zw.Reset(buf)
	for _, rows := range chunks {
		for _, r := range rows {
			if _, err := zw.Write(tick.AppendJSONRow(line[:0], r)); err != nil {
				return fmt.Errorf("encode json.gz: %w", err)
			}
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("encode json.gz: %w", err)
	}
	gzipWriters.Put(zw)
	return nil
}

var gzipWriters = sync.Pool{New: func() any { return gzip.NewWriter(nil) }}
