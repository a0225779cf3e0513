package demo_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tickflow/tickflow"
	"github.com/tickflow/tickflow/harness/demo"
	"github.com/tickflow/tickflow/harness/objstore"
	"github.com/tickflow/tickflow/harness/produce"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// lakeRow is the part of a lake row this test reads: its Kafka coordinates.
// The test's own type, so the read does not share the sink's row type.
type lakeRow struct {
	Partition int32 `parquet:"kafka_partition" json:"kafka_partition"`
	Offset    int64 `parquet:"kafka_offset" json:"kafka_offset"`
}

// independentLake is what the test itself finds in the lake, reading every
// object with parquet-go (or a JSON decoder) through objstore.
type independentLake struct {
	objects    int
	rows       int64
	distinct   int64
	duplicates int64
	maxOffset  map[int32]int64 // highest offset per partition
	tiles      bool            // every partition holds exactly offsets 0..max
}

func readLake(ctx context.Context, t *testing.T, st objstore.Store, format string) independentLake {
	t.Helper()
	objs, err := st.List(ctx, "stock_ticks/")
	require.NoError(t, err)
	require.NotEmpty(t, objs, "the lake is empty")
	seen := map[lakeRow]int{}
	l := independentLake{maxOffset: map[int32]int64{}}
	for _, o := range objs {
		require.True(t, strings.HasSuffix(o.Key, "."+format), "object %s is not .%s", o.Key, format)
		body, _, err := st.Get(ctx, o.Key)
		require.NoError(t, err, o.Key)
		var rows []lakeRow
		switch format {
		case demo.FormatParquet:
			rows, err = parquet.Read[lakeRow](bytes.NewReader(body), int64(len(body)))
			require.NoError(t, err, o.Key)
		case demo.FormatJSON:
			sc := bufio.NewScanner(bytes.NewReader(body))
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				var r lakeRow
				require.NoError(t, json.Unmarshal(sc.Bytes(), &r), o.Key)
				rows = append(rows, r)
			}
			require.NoError(t, sc.Err())
		}
		l.objects++
		for _, r := range rows {
			l.rows++
			seen[r]++
			if r.Offset > l.maxOffset[r.Partition] {
				l.maxOffset[r.Partition] = r.Offset
			}
		}
	}
	perPart := map[int32]int64{}
	for r, n := range seen {
		l.distinct++
		l.duplicates += int64(n - 1)
		perPart[r.Partition]++
	}
	l.tiles = true
	for p, max := range l.maxOffset {
		if perPart[p] != max+1 {
			l.tiles = false
		}
	}
	return l
}

// holdReader returns a Hold that reads the lake through a fresh S3 client
// while the world is still up.
func holdReader(t *testing.T, format string, got *independentLake, live **demo.Live) func(context.Context, *demo.Live, *demo.Summary) error {
	return func(ctx context.Context, l *demo.Live, _ *demo.Summary) error {
		st, err := objstore.NewS3(ctx, objstore.S3Config{Endpoint: l.S3Endpoint, Bucket: l.Bucket,
			Region: l.Region, AccessKey: l.AccessKey, SecretKey: l.SecretKey})
		require.NoError(t, err)
		*got = readLake(ctx, t, st, format)
		*live = l
		return nil
	}
}

func assertConsistent(t *testing.T, sum *demo.Summary, got independentLake) {
	t.Helper()
	assert.True(t, sum.OK, "problems: %v", sum.Problems)
	assert.Empty(t, sum.Problems)
	assert.Equal(t, got.rows, sum.Produced, "rows in the lake vs produced")
	assert.Equal(t, got.rows, sum.LandedRows)
	assert.Equal(t, got.distinct, sum.Distinct)
	assert.Equal(t, got.duplicates, sum.Duplicates)
	assert.Zero(t, got.duplicates)
	assert.True(t, got.tiles, "offsets do not tile every partition: %v", got.maxOffset)
	assert.Equal(t, got.objects, sum.Objects)
	assert.Zero(t, sum.Gaps)
	assert.Zero(t, sum.Overlaps)
	assert.Zero(t, sum.Violations)
	assert.Zero(t, sum.DLQ)
	assert.Len(t, sum.PerConsumer, sum.Consumers)
	var consumed int64
	for _, c := range sum.PerConsumer {
		consumed += c.Consumed
	}
	assert.Equal(t, sum.Consumed, consumed)
	assert.GreaterOrEqual(t, sum.Consumed, sum.Produced, "the consumers received fewer records than were produced")
	assert.Equal(t, len(got.maxOffset), sum.PartitionsUsed)
	assert.Positive(t, sum.Duration)
	assert.Positive(t, sum.RecordsPerSecond)
}

func TestRunEmbeddedSample(t *testing.T) {
	ctx := t.Context()
	// What the sample holds, from the CSV parser alone.
	good, csv, err := produce.ReadAll(bytes.NewReader(tickflow.SampleCSV), "sample")
	require.NoError(t, err)
	require.Equal(t, 1, csv.Skipped(), "the sample's cut-off last line")
	lastLine := bytes.Count(tickflow.SampleCSV, []byte("\n")) + 1

	var phases []demo.Phase
	var last demo.Progress
	var got independentLake
	var live *demo.Live
	sum, err := demo.Run(ctx, demo.Config{Hold: holdReader(t, demo.FormatParquet, &got, &live)}, func(p demo.Progress) {
		if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
			phases = append(phases, p.Phase)
		}
		last = p
	})
	require.NoError(t, err)
	require.NotNil(t, sum)

	assert.Equal(t, int64(len(good)), sum.Produced)
	assert.Equal(t, 1, sum.SkippedBadRows)
	require.Len(t, sum.BadRows, 1)
	assert.Equal(t, lastLine, sum.BadRows[0].Line)
	assertConsistent(t, sum, got)
	assert.Equal(t, demo.DefaultConsumers, sum.Consumers)
	assert.Equal(t, demo.FormatParquet, sum.Format)
	assert.Equal(t, []string{"stock_ticks (parquet, 12 columns, partitioned by dt, hour)"}, sum.GlueTables)
	assert.Equal(t, "s3://"+live.Bucket+"/stock_ticks/", sum.Lake.URL)
	assert.Equal(t, live.S3Endpoint, sum.Lake.Endpoint)

	assert.Equal(t, []demo.Phase{demo.PhaseStarting, demo.PhaseJoining, demo.PhaseProducing,
		demo.PhaseDraining, demo.PhaseChecking, demo.PhaseDone}, phases)
	assert.Equal(t, sum.Produced, last.Produced)
	assert.Equal(t, sum.Produced, last.Target)

	var text bytes.Buffer
	require.NoError(t, sum.WriteText(&text))
	assert.Contains(t, text.String(), "1 bad row skipped (line ")
	assert.Contains(t, text.String(), sum.Lake.URL)
	assert.Contains(t, text.String(), "\nOK: ")
}

func TestRunSyntheticTwoConsumers(t *testing.T) {
	var got independentLake
	var live *demo.Live
	sum, err := demo.Run(t.Context(), demo.Config{Records: 3000, Seed: 7, Consumers: 2, Partitions: 4,
		Hold: holdReader(t, demo.FormatParquet, &got, &live)}, nil)
	require.NoError(t, err)
	assert.Equal(t, int64(3000), sum.Produced)
	assert.Zero(t, sum.SkippedBadRows)
	assertConsistent(t, sum, got)
	require.Len(t, sum.PerConsumer, 2)
	// 14 symbols over 4 partitions, both members assigned before producing:
	// each consumer did part of the work.
	assert.Equal(t, 4, sum.PartitionsUsed)
	for _, c := range sum.PerConsumer {
		assert.Positive(t, c.Consumed, "consumer %d did nothing", c.Consumer)
		assert.Positive(t, c.Objects, "consumer %d wrote nothing", c.Consumer)
	}
}

func TestRunJSONWithLocalCopy(t *testing.T) {
	out := filepath.Join(t.TempDir(), "lake")
	var got independentLake
	var live *demo.Live
	sum, err := demo.Run(t.Context(), demo.Config{Records: 2000, Format: demo.FormatJSON, Out: out,
		Hold: holdReader(t, demo.FormatJSON, &got, &live)}, nil)
	require.NoError(t, err)
	assertConsistent(t, sum, got)
	assert.Equal(t, demo.FormatJSON, sum.Format)
	assert.Equal(t, out+"/stock_ticks/", sum.Lake.Local)

	// The local copy holds the same lake.
	dir, err := objstore.NewDir(out)
	require.NoError(t, err)
	local := readLake(t.Context(), t, dir, demo.FormatJSON)
	assert.Equal(t, got, local)

	b, err := json.Marshal(sum)
	require.NoError(t, err)
	var back map[string]any
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, true, back["ok"])
	assert.EqualValues(t, 2000, back["landed_rows"])
}

func TestRunInvalidConfig(t *testing.T) {
	dir := t.TempDir()
	badHeader := filepath.Join(dir, "bad-header.csv")
	require.NoError(t, os.WriteFile(badHeader, []byte("a,b,c\n1,2,3\n"), 0o644))
	onlyBad := filepath.Join(dir, "only-bad.csv")
	require.NoError(t, os.WriteFile(onlyBad,
		[]byte("Index,Date,Open,High,Low,Close,Adj Close,Volume,CloseUSD\nHSI,not-a-date,1,2,3,4,5,6,7\n"), 0o644))
	used := filepath.Join(dir, "used")
	require.NoError(t, os.MkdirAll(filepath.Join(used, "stock_ticks", "dt=2024-01-01"), 0o755))
	tests := []struct {
		name string
		cfg  demo.Config
		want string
	}{
		{"negative records", demo.Config{Records: -1}, "records -1"},
		{"records and csv", demo.Config{Records: 10, CSV: badHeader}, "not both"},
		{"negative consumers", demo.Config{Consumers: -2}, "consumers -2"},
		{"too many consumers", demo.Config{Consumers: 1000}, "consumers 1000"},
		{"negative partitions", demo.Config{Partitions: -1}, "partitions -1"},
		{"negative rate", demo.Config{Rate: -5}, "rate -5"},
		{"unknown format", demo.Config{Format: "avro"}, `format "avro"`},
		{"missing csv", demo.Config{CSV: filepath.Join(dir, "nope.csv")}, "nope.csv"},
		{"csv is a directory", demo.Config{CSV: dir}, "is a directory"},
		{"csv bad header", demo.Config{CSV: badHeader}, "unexpected header"},
		{"csv without good rows", demo.Config{CSV: onlyBad}, "no good rows"},
		{"out is a file", demo.Config{Records: 10, Out: badHeader}, "is a file"},
		{"out holds a lake", demo.Config{Records: 10, Out: used}, "already holds a lake"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sum, err := demo.Run(t.Context(), tc.cfg, nil)
			require.Error(t, err)
			assert.ErrorIs(t, err, demo.ErrInvalid)
			assert.Contains(t, err.Error(), tc.want)
			assert.Nil(t, sum)
		})
	}
}

func TestRunFailures(t *testing.T) {
	t.Run("cancelled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		sum, err := demo.Run(ctx, demo.Config{}, nil)
		require.Error(t, err)
		assert.ErrorIs(t, err, context.Canceled)
		assert.NotErrorIs(t, err, demo.ErrFailed)
		assert.Nil(t, sum)
	})
	t.Run("drain timeout", func(t *testing.T) {
		// A deadline that has passed before the first look: the run must
		// fail and say so, even though the lake may be complete later.
		sum, err := demo.Run(t.Context(), demo.Config{Records: 500, DrainTimeout: time.Nanosecond}, nil)
		require.ErrorIs(t, err, demo.ErrFailed)
		require.NotNil(t, sum)
		assert.False(t, sum.OK)
		assert.True(t, containsAny(sum.Problems, "timed out after 1ns waiting for the sink"), "problems: %v", sum.Problems)
		var text bytes.Buffer
		require.NoError(t, sum.WriteText(&text))
		assert.Contains(t, text.String(), "FAIL:")
	})
	t.Run("hold error", func(t *testing.T) {
		boom := errors.New("boom")
		sum, err := demo.Run(t.Context(), demo.Config{Records: 100,
			Hold: func(context.Context, *demo.Live, *demo.Summary) error { return boom }}, nil)
		require.ErrorIs(t, err, boom)
		require.NotNil(t, sum)
		assert.True(t, sum.OK, "the lake itself was fine: %v", sum.Problems)
	})
}

func containsAny(ss []string, sub string) bool {
	for _, s := range ss {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
