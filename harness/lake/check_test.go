package lake_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tickflow/tickflow/harness/lake"
	"github.com/tickflow/tickflow/harness/lake/internal/fixtures"
	"github.com/tickflow/tickflow/harness/objstore"
)

func fixtureStore(t *testing.T, name string) objstore.Store {
	t.Helper()
	st, err := objstore.NewDir(filepath.Join(lakesDir, name))
	require.NoError(t, err)
	return st
}

func fixture(t *testing.T, name string) fixtures.Lake {
	t.Helper()
	for _, l := range fixtures.Lakes() {
		if l.Name == name {
			return l
		}
	}
	t.Fatalf("no fixture %s", name)
	return fixtures.Lake{}
}

// fakeS3 serves an in-memory bucket "lake" through handler middleware mw (nil: none).
func fakeS3(t *testing.T, mw func(http.Handler) http.Handler) *objstore.S3 {
	t.Helper()
	backend := s3mem.New()
	require.NoError(t, backend.CreateBucket("lake"))
	var h http.Handler = gofakes3.New(backend).Server()
	if mw != nil {
		h = mw(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	st, err := objstore.NewS3(context.Background(), objstore.S3Config{Endpoint: srv.URL, Bucket: "lake", AccessKey: "k", SecretKey: "s", MaxAttempts: 1})
	require.NoError(t, err)
	return st
}

func upload(t *testing.T, st objstore.Store, prefix string, objs []fixtures.Object, meta func(fixtures.Object) map[string]string) {
	t.Helper()
	for _, o := range objs {
		var m map[string]string
		if meta != nil {
			m = meta(o)
		}
		require.NoError(t, st.Put(context.Background(), prefix+o.Path, o.Body, m))
	}
}

// TestSameOnS3AndDir: a lake gives the same report from fake S3 under a
// prefix as from a folder.
func TestSameOnS3AndDir(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"good-parquet", "good-json", "bad-overlap", "bad-mixed-formats"} {
		t.Run(name, func(t *testing.T) {
			s3 := fakeS3(t, nil)
			upload(t, s3, "env/prod/", fixture(t, name).Objects, nil)
			fromS3, err := lake.Check(ctx, s3, "env/prod")
			require.NoError(t, err)
			fromDir, err := lake.Check(ctx, fixtureStore(t, name), "")
			require.NoError(t, err)
			assert.Equal(t, fromDir.Rules(), fromS3.Rules())
			assert.Equal(t, fromDir.Rows, fromS3.Rows)
			assert.Equal(t, fromDir.Partitions, fromS3.Partitions)
			assert.Equal(t, len(fromDir.Tables), len(fromS3.Tables))
			assert.Equal(t, "env/prod/stock_ticks/", fromS3.Location)
		})
	}
}

// TestSinkMetadata: the sink's S3 metadata, when present, must agree with
// the rows, and declares dead-lettered offsets so they are not gaps.
func TestSinkMetadata(t *testing.T) {
	ctx := context.Background()
	good := fixture(t, "good-parquet").Objects
	// bad-gap's partition-0 hour-11 object holds offsets 7–9 only.
	var short fixtures.Object
	for _, o := range fixture(t, "bad-gap").Objects {
		if strings.HasSuffix(o.Path, "+0+00000000000000000007.parquet") {
			short = o
		}
	}
	require.NotEmpty(t, short.Body)
	const dlqKey = "stock_ticks/dt=2024-01-05/hour=11/stock-ticks+0+00000000000000000005.parquet"
	meta := func(start, end, records, dlq string) map[string]string {
		return map[string]string{"tickflow-start-offset": start, "tickflow-end-offset": end, "tickflow-records": records, "tickflow-dlq": dlq}
	}
	expired := func(m map[string]string, n string) map[string]string { m["tickflow-expired"] = n; return m }
	cases := []struct {
		name  string
		meta  map[string]string
		rules []string
		msg   string
	}{
		{"dead letters declared", meta("5", "10", "3", "2"), nil, ""},
		{"no metadata: a gap", nil, []string{"L12"}, "offsets 5–6 are missing"},
		{"dlq count wrong", meta("5", "10", "3", "1"), []string{"L12"}, "1 dead-lettered records"},
		{"records wrong", meta("5", "10", "4", "2"), []string{"L12"}, "tickflow-records=4"},
		{"end too small", meta("5", "9", "3", "1"), []string{"L12"}, "tickflow-end-offset=9"},
		{"start differs from name", meta("4", "10", "3", "3"), []string{"L12"}, "the name says 5"},
		{"expired by retention", expired(meta("5", "10", "3", "1"), "1"), []string{"K01"}, "1 offset(s) of 5–9 were removed by Kafka retention"},
		{"expired count wrong", expired(meta("5", "10", "3", "0"), "1"), []string{"L12"}, "0 dead-lettered records (and 1 expired)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s3 := fakeS3(t, nil)
			for _, o := range good {
				if strings.HasSuffix(o.Path, "+0+00000000000000000005.parquet") {
					continue
				}
				require.NoError(t, s3.Put(ctx, o.Path, o.Body, nil))
			}
			require.NoError(t, s3.Put(ctx, dlqKey, short.Body, tc.meta))
			rep, err := lake.Check(ctx, s3, "")
			require.NoError(t, err)
			if tc.rules == nil {
				assert.Empty(t, rep.Violations)
				assert.Equal(t, int64(2), rep.Partitions[0].Skipped)
				return
			}
			assert.Equal(t, tc.rules, rep.Rules(), "%v", rep.Violations)
			if tc.rules[0] == "K01" {
				assert.Equal(t, int64(1), rep.Partitions[0].Expired)
				assert.True(t, rep.OK(), "expired offsets warn; the sink did not lose them")
			}
			var msgs []string
			for _, v := range rep.Violations {
				msgs = append(msgs, v.Message)
			}
			assert.Contains(t, strings.Join(msgs, "\n"), tc.msg)
		})
	}
}

func TestOptions(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name  string
		lake  string
		opts  []lake.Option
		rules []string
		ok    bool
	}{
		{"expect matches", "good-parquet", []lake.Option{lake.ExpectRecords(25)}, nil, true},
		{"expect more", "good-parquet", []lake.Option{lake.ExpectRecords(26)}, []string{"R01"}, false},
		{"overlap duplicates do not count", "bad-overlap", []lake.Option{lake.ExpectRecords(25)}, []string{"L12"}, false},
		{"gap declared skipped (DLQ)", "bad-gap", []lake.Option{lake.SkippedOffsets(0, 5, 6), lake.ExpectRecords(23)}, nil, true},
		{"gap partly declared", "bad-gap", []lake.Option{lake.SkippedOffsets(0, 5)}, []string{"L12"}, false},
		{"gaps allowed", "bad-gap", []lake.Option{lake.AllowOffsetGaps()}, nil, true},
		{"gaps allowed, overlaps still fail", "bad-overlap", []lake.Option{lake.AllowOffsetGaps()}, []string{"L12"}, false},
		{"production warns on small files", "good-parquet", []lake.Option{lake.Production(true)}, []string{"L15"}, true},
		{"production off by default", "good-json", nil, nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := lake.Check(ctx, fixtureStore(t, tc.lake), "", tc.opts...)
			require.NoError(t, err)
			if tc.rules == nil {
				assert.Empty(t, rep.Rules(), "%v", rep.Violations)
			} else {
				assert.Equal(t, tc.rules, rep.Rules(), "%v", rep.Violations)
			}
			assert.Equal(t, tc.ok, rep.OK())
		})
	}
}

func TestCoverage(t *testing.T) {
	rep, err := lake.Check(context.Background(), fixtureStore(t, "bad-gap"), "", lake.SkippedOffsets(0, 6))
	require.NoError(t, err)
	require.Len(t, rep.Partitions, 2)
	p0 := rep.Partitions[0]
	assert.Equal(t, int32(0), p0.Partition)
	assert.Equal(t, []lake.OffsetRange{{First: 5, Last: 5}}, p0.Gaps)
	assert.Equal(t, int64(1), p0.Skipped)
	assert.Equal(t, int64(0), p0.FirstOffset)
	assert.Equal(t, int64(14), p0.LastOffset)

	rep, err = lake.Check(context.Background(), fixtureStore(t, "bad-overlap"), "")
	require.NoError(t, err)
	assert.Equal(t, int64(5), rep.Duplicates)
	assert.Equal(t, int64(25), rep.Distinct)
	assert.Equal(t, 2, rep.Partitions[0].Overlaps) // 3–7 overlaps 0–4, 5–9 overlaps 3–7
}

// TestBadObjects: unreadable content is a violation naming the object, never
// a panic or an error.
func TestBadObjects(t *testing.T) {
	good := fixture(t, "good-json").Objects
	pq := fixture(t, "good-parquet").Objects
	const dir = "stock_ticks/dt=2024-01-05/hour=10/"
	cases := []struct {
		name  string
		base  []fixtures.Object
		key   string
		body  []byte
		rules []string
		msg   string
	}{
		{"zero-byte parquet", pq, dir + "stock-ticks+3+00000000000000000000.parquet", nil, []string{"L03"}, "zero-byte"},
		{"invalid UTF-8", good, dir + "stock-ticks+0+00000000000000000000.json",
			append(append([]byte(nil), good[0].Body...), []byte("{\"symbol\":\"\xff\xfe\"}\n")...), []string{"L06"}, "UTF-8"},
		{"non-JSON line", good, dir + "stock-ticks+0+00000000000000000000.json",
			append(append([]byte(nil), good[0].Body...), []byte("HSI,2010-01-04,1,2\n")...), []string{"L06"}, "line 6"},
		{"blank line", good, dir + "stock-ticks+0+00000000000000000000.json",
			append([]byte("\n"), good[0].Body...), []string{"L06"}, "blank"},
		{"garbage parquet", pq, dir + "stock-ticks+3+00000000000000000000.parquet", []byte("not parquet at all"), []string{"L04"}, "PAR1"},
		{"corrupt parquet footer", pq, dir + "stock-ticks+3+00000000000000000000.parquet", []byte("PAR1garbagegarbagePAR1"), []string{"L04"}, "footer"},
		{"not gzip", good, dir + "stock-ticks+3+00000000000000000000.json.gz", []byte("{}\n"), []string{"L04"}, "not gzip"},
		{"bad name", pq, dir + "part-0001.parquet", pq[0].Body, []string{"L12"}, "not <topic>"},
		{"tmp file", pq, dir + "stock-ticks+0+00000000000000000000.parquet.tmp", pq[0].Body, []string{"L03"}, "temporary"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, err := objstore.NewDir(t.TempDir())
			require.NoError(t, err)
			upload(t, st, "", tc.base, nil)
			require.NoError(t, st.Put(context.Background(), tc.key, tc.body, nil))
			rep, err := lake.Check(context.Background(), st, "")
			require.NoError(t, err)
			assert.Equal(t, tc.rules, rep.Rules(), "%v", rep.Violations)
			found := false
			for _, v := range rep.Violations {
				if v.Key == tc.key && strings.Contains(v.Message, tc.msg) {
					found = true
				}
			}
			assert.True(t, found, "no violation on %s mentioning %q: %v", tc.key, tc.msg, rep.Violations)
		})
	}
}

// TestTruncatedParquetNeverPanics cuts a Parquet object at every length.
func TestTruncatedParquetNeverPanics(t *testing.T) {
	body := fixture(t, "good-parquet").Objects[0].Body
	for n := 0; n < len(body); n += 7 {
		st, err := objstore.NewDir(t.TempDir())
		require.NoError(t, err)
		require.NoError(t, st.Put(context.Background(), "stock_ticks/dt=2024-01-05/hour=10/stock-ticks+0+00000000000000000000.parquet", body[:n], nil))
		rep, err := lake.Check(context.Background(), st, "")
		require.NoError(t, err)
		assert.False(t, rep.OK(), "truncated at %d", n)
	}
}

func TestCheckErrors(t *testing.T) {
	ctx := context.Background()
	empty, err := objstore.NewDir(t.TempDir())
	require.NoError(t, err)
	_, err = lake.Check(ctx, empty, "")
	require.ErrorIs(t, err, lake.ErrEmptyLake)
	assert.Contains(t, err.Error(), "stock_ticks/")

	_, err = lake.Check(ctx, fixtureStore(t, "good-parquet"), "no/such/prefix")
	require.ErrorIs(t, err, lake.ErrEmptyLake)
	assert.Contains(t, err.Error(), "no/such/prefix/stock_ticks/")

	fileLake, err := objstore.NewDir(t.TempDir())
	require.NoError(t, err)
	require.NoError(t, fileLake.Put(ctx, "p/stock_ticks", []byte("x"), nil))
	_, err = lake.Check(ctx, fileLake, "p")
	require.ErrorIs(t, err, lake.ErrEmptyLake)
	assert.Contains(t, err.Error(), "is an object, not a folder")

	denied := fakeS3(t, func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidAccessKeyId</Code><Message>The AWS Access Key Id you provided does not exist in our records.</Message></Error>`))
		})
	})
	_, err = lake.Check(ctx, denied, "prod")
	require.Error(t, err)
	assert.NotErrorIs(t, err, lake.ErrEmptyLake)
	assert.Contains(t, err.Error(), "InvalidAccessKeyId")
	assert.Contains(t, err.Error(), "prod/stock_ticks/")

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = lake.Check(cancelled, fixtureStore(t, "good-parquet"), "")
	assert.ErrorIs(t, err, context.Canceled)
}

func TestLocationRules(t *testing.T) {
	ctx := context.Background()
	st := fakeS3(t, nil) // a folder cannot hold an empty path segment; S3 keys can
	upload(t, st, "a//b/", fixture(t, "good-parquet").Objects, nil)
	rep, err := lake.Check(ctx, st, "a//b")
	require.NoError(t, err)
	assert.Equal(t, []string{"L14"}, rep.Rules(), "%v", rep.Violations)

	st2 := fakeS3(t, nil) // a folder cannot hold a file and a folder of one name
	upload(t, st2, "", fixture(t, "good-parquet").Objects, nil)
	require.NoError(t, st2.Put(ctx, "stock_ticks", []byte("x"), nil))
	rep, err = lake.Check(ctx, st2, "")
	require.NoError(t, err)
	assert.Equal(t, []string{"L14"}, rep.Rules(), "%v", rep.Violations)
}

// TestReadRows: the Parquet and the JSON good lakes hold the same rows.
func TestReadRows(t *testing.T) {
	ctx := context.Background()
	pq, err := lake.ReadRows(ctx, fixtureStore(t, "good-parquet"), "")
	require.NoError(t, err)
	js, err := lake.ReadRows(ctx, fixtureStore(t, "good-json"), "")
	require.NoError(t, err)
	require.Len(t, pq, 25)
	assert.Equal(t, pq, js)
	assert.Equal(t, int32(0), pq[0].KafkaPartition)
	assert.Equal(t, int64(14), pq[14].KafkaOffset)

	_, err = lake.ReadRows(ctx, fixtureStore(t, "bad-truncated-parquet"), "")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "stock-ticks+0+00000000000000000010.parquet")
}

func TestMirror(t *testing.T) {
	ctx := context.Background()
	s3 := fakeS3(t, nil)
	upload(t, s3, "x/", fixture(t, "good-json").Objects, nil)
	dst := t.TempDir()
	n, err := lake.Mirror(ctx, s3, "x/", dst)
	require.NoError(t, err)
	assert.Equal(t, 5, n)
	local, err := objstore.NewDir(dst)
	require.NoError(t, err)
	rep, err := lake.Check(ctx, local, "", lake.ExpectRecords(25))
	require.NoError(t, err)
	assert.True(t, rep.OK(), "%v", rep.Violations)
	_, err = lake.Mirror(ctx, s3, "nope/", dst)
	assert.ErrorIs(t, err, lake.ErrEmptyLake)
}

func TestWriteText(t *testing.T) {
	rep, err := lake.Check(context.Background(), fixtureStore(t, "bad-non-hive"), "")
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, rep.WriteText(&buf))
	out := buf.String()
	for _, want := range []string{"L01 hive-partitions", "C01 crawler-one-table", "partition_0", "observed", "FAIL:", "OFFSET COVERAGE"} {
		assert.Contains(t, out, want)
	}
	rep, err = lake.Check(context.Background(), fixtureStore(t, "good-parquet"), "")
	require.NoError(t, err)
	buf.Reset()
	require.NoError(t, rep.WriteText(&buf))
	assert.Contains(t, buf.String(), "OK: the lake meets the contract")
	assert.NotContains(t, buf.String(), "VIOLATIONS")
}

func ExampleCheck() {
	st, _ := objstore.NewDir("../../testdata/lakes/bad-gap")
	rep, err := lake.Check(context.Background(), st, "", lake.ExpectRecords(25))
	if err != nil {
		panic(err)
	}
	for _, v := range rep.Violations {
		os.Stdout.WriteString(v.Rule + " " + v.Name + ": " + v.Message + "\n")
	}
	// Output:
	// L12 deterministic-names: Kafka partition 0: offsets 5–6 are missing between objects; if they went to the dead-letter topic, run verify with --brokers ADDRS (reads the dead-letter topic) or --skipped-offsets 0:5-6
	// R01 record-count: the lake holds 23 distinct (kafka_partition, kafka_offset) records in 23 rows, expected 25
}
