package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickflow/tickflow/broker"
	"github.com/tickflow/tickflow/harness"
	"github.com/tickflow/tickflow/harness/lake"
	"github.com/tickflow/tickflow/harness/sink"
)

// kafkaLake is a world whose sink wrote records records, spread evenly over
// partitions partitions, into objects of at most 1,000 records; the sink
// caught up and stopped, and the lake was mirrored to dir (no S3 metadata,
// like aws s3 sync).
type kafkaLake struct {
	w    *harness.World
	cl   *kgo.Client
	adm  *kadm.Client
	dir  string
	ends map[int32]int64 // per partition: the end offset = the sink's commit
}

func newKafkaLake(t *testing.T, records, partitions int) *kafkaLake {
	t.Helper()
	w := harness.Start(t, harness.Partitions(partitions))
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.KafkaAddrs()...), kgo.DefaultProduceTopic(w.Topic()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.MetadataMinAge(100*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	ctx, cancel := context.WithTimeout(context.Background(), harness.ProduceTimeout)
	defer cancel()

	ticks := harness.SyntheticTicks(t, records, 20)
	recs := make([]*kgo.Record, len(ticks))
	for i, tk := range ticks {
		val, err := json.Marshal(tk)
		require.NoError(t, err)
		recs[i] = &kgo.Record{Partition: int32(i % partitions), Value: val}
	}
	require.NoError(t, cl.ProduceSync(ctx, recs...).FirstErr())

	s := w.StartSink(t, sink.Topic(w.Topic()), sink.FlushRecords(1000))
	w.WaitCaughtUp(t, harness.SinkGroup, 2*time.Minute)
	require.NoError(t, s.Stop())

	k := &kafkaLake{w: w, cl: cl, adm: kadm.NewClient(cl), dir: t.TempDir(), ends: map[int32]int64{}}
	ends, err := k.adm.ListEndOffsets(ctx, w.Topic())
	require.NoError(t, err)
	ends.Each(func(o kadm.ListedOffset) { k.ends[o.Partition] = o.Offset })
	require.Len(t, k.ends, partitions)
	_, err = lake.Mirror(ctx, w.Store(), "", k.dir)
	require.NoError(t, err)
	return k
}

// objectOf is one object of the lake: its path and Kafka range.
type objectOf struct {
	path        string
	first, last int64 // inclusive, from the name and the next object's start
}

var sinkObjectName = regexp.MustCompile(`\+(\d+)\+(\d+)\.parquet$`)

// objects lists partition p's objects in dir, in offset order; the last
// one ends at end-1.
func objects(t *testing.T, dir string, p int32, end int64) []objectOf {
	t.Helper()
	var objs []objectOf
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		m := sinkObjectName.FindStringSubmatch(path)
		if m == nil || m[1] != strconv.Itoa(int(p)) {
			return nil
		}
		start, err := strconv.ParseInt(m[2], 10, 64)
		objs = append(objs, objectOf{path: path, first: start})
		return err
	})
	require.NoError(t, err)
	sort.Slice(objs, func(i, j int) bool { return objs[i].first < objs[j].first })
	for i := range objs {
		objs[i].last = end - 1
		if i+1 < len(objs) {
			objs[i].last = objs[i+1].first - 1
		}
	}
	require.Greater(t, len(objs), 2, "partition %d should have several objects", p)
	return objs
}

// copyLake copies the mirrored lake so a case can delete from its copy.
func copyLake(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	require.NoError(t, err)
	return dst
}

// verifyJSON runs verify with --json and returns the report and the exit code.
func verifyJSON(t *testing.T, args ...string) (*lake.Report, string, int) {
	t.Helper()
	out, errOut, code := runVerifyDLQ(t, append([]string{"verify", "--json"}, args...)...)
	if code == exitUsage {
		t.Fatalf("verify %v: exit 2: %s", args, errOut)
	}
	var rep lake.Report
	require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
	assertSnakeKeys(t, "verify --json --brokers", []byte(out))
	return &rep, errOut, code
}

// missingOf returns partition p's missing ranges of rule in the report's
// Kafka section.
func missingOf(rep *lake.Report, p int32, rule string) []lake.OffsetRange {
	var out []lake.OffsetRange
	if rep.Kafka == nil {
		return nil
	}
	for _, kp := range rep.Kafka.Partitions {
		if kp.Partition != p {
			continue
		}
		for _, m := range kp.Missing {
			if m.Rule == rule {
				out = append(out, m.OffsetRange)
			}
		}
	}
	return out
}

// violated reports whether rule has a violation naming Kafka partition p.
func violated(rep *lake.Report, rule string, p int32) bool {
	for _, v := range rep.Violations {
		if v.Rule == rule && v.Severity == lake.Error && strings.Contains(v.Message, fmt.Sprintf("Kafka partition %d:", p)) {
			return true
		}
	}
	return false
}

// TestVerifyAgainstKafka is issue 20's measured case: a 60,000-record lake
// with the first object of partition 0, the last of partition 1 and all of
// partition 4 deleted passed verify --brokers (OK, exit 0). Each hidden loss,
// and losses only Kafka can show (committed but never written, expired
// before the group read them), must be reported by rule and partition.
func TestVerifyAgainstKafka(t *testing.T) {
	const records, partitions = 60000, 6
	k := newKafkaLake(t, records, partitions)
	w := k.w
	brokers := strings.Join(w.KafkaAddrs(), ",")
	kafka := []string{"--brokers", brokers, "--topic", w.Topic()}
	per := int64(records / partitions)
	for p, e := range k.ends {
		require.EqualValues(t, per, e, "partition %d", p)
	}

	t.Run("the complete lake passes, strict, counted and compared with Kafka", func(t *testing.T) {
		rep, errOut, code := verifyJSON(t, append([]string{"--dir", k.dir, "--expect-records", fmt.Sprint(records), "--strict", "--expect-drained"}, kafka...)...)
		assert.Equal(t, exitOK, code, errOut)
		assert.Empty(t, rep.Violations)
		assert.Empty(t, rep.Unchecked)
		require.NotNil(t, rep.Kafka)
		assert.Equal(t, harness.SinkGroup, rep.Kafka.Group)
		assert.Len(t, rep.Kafka.Partitions, partitions)
	})

	// Lakes with objects deleted: each case deletes from its own copy.
	cases := []struct {
		name   string
		delete func(t *testing.T, dir string) (int32, lake.OffsetRange)
		where  string
	}{
		{"missing first object", func(t *testing.T, dir string) (int32, lake.OffsetRange) {
			o := objects(t, dir, 0, per)[0]
			require.NoError(t, os.Remove(o.path))
			return 0, lake.OffsetRange{First: o.first, Last: o.last}
		}, "before the lake's first offset"},
		{"missing last object", func(t *testing.T, dir string) (int32, lake.OffsetRange) {
			objs := objects(t, dir, 1, per)
			o := objs[len(objs)-1]
			require.NoError(t, os.Remove(o.path))
			return 1, lake.OffsetRange{First: o.first, Last: o.last}
		}, "after the lake's last offset"},
		{"whole partition missing", func(t *testing.T, dir string) (int32, lake.OffsetRange) {
			for _, o := range objects(t, dir, 4, per) {
				require.NoError(t, os.Remove(o.path))
			}
			return 4, lake.OffsetRange{First: 0, Last: per - 1}
		}, "the lake holds none of this partition"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyLake(t, k.dir)
			p, gone := tc.delete(t, dir)
			rep, errOut, code := verifyJSON(t, append([]string{"--dir", dir}, kafka...)...)
			assert.Equal(t, exitViolation, code, errOut)
			assert.False(t, rep.OK())
			assert.True(t, violated(rep, "K03", p), "K03 names partition %d: %v", p, rep.Violations)
			assert.Equal(t, []lake.OffsetRange{gone}, missingOf(rep, p, "K03"))
			text, _, _ := runVerifyDLQ(t, append([]string{"verify", "--dir", dir}, kafka...)...)
			assert.Contains(t, text, "K03 committed-not-in-lake")
			assert.Contains(t, text, tc.where)
			assert.Contains(t, text, "offsets committed by group "+harness.SinkGroup)
			assert.NotContains(t, text, "OK: the lake meets the contract")
		})
	}

	t.Run("the measured case on S3: first of 0, last of 1, all of 4", func(t *testing.T) {
		ctx := context.Background()
		st := w.Store()
		var deleted int64
		for _, c := range []struct {
			p    int32
			pick func([]objectOf) []objectOf
		}{
			{0, func(o []objectOf) []objectOf { return o[:1] }},
			{1, func(o []objectOf) []objectOf { return o[len(o)-1:] }},
			{4, func(o []objectOf) []objectOf { return o }},
		} {
			for _, o := range c.pick(objects(t, k.dir, c.p, per)) {
				key, err := filepath.Rel(k.dir, o.path)
				require.NoError(t, err)
				require.NoError(t, st.Delete(ctx, filepath.ToSlash(key)))
				deleted += o.last - o.first + 1
			}
		}
		s3 := []string{"--s3-endpoint", w.S3Endpoint(), "--bucket", w.Bucket(), "--access-key", broker.AccessKey, "--secret-key", broker.SecretKey}
		rep, errOut, code := verifyJSON(t, append(s3, kafka...)...)
		assert.Equal(t, exitViolation, code, errOut)
		for _, p := range []int32{0, 1, 4} {
			assert.True(t, violated(rep, "K03", p), "K03 names partition %d", p)
		}
		var missing int64
		for _, kp := range rep.Kafka.Partitions {
			for _, m := range kp.Missing {
				missing += m.Last - m.First + 1
			}
		}
		assert.Equal(t, deleted, missing, "every deleted record is in a missing range")
		text, _, _ := runVerifyDLQ(t, append(append([]string{"verify"}, s3...), kafka...)...)
		t.Logf("deleted %d of %d records; verify says:\n%s", deleted, records, text)
		assert.Contains(t, text, "FAIL")
	})

	// From here on Kafka changes: 300 more records in partitions 2 and 3
	// that the sink never reads.
	ctx, cancel := context.WithTimeout(context.Background(), harness.ProduceTimeout)
	defer cancel()
	var more []*kgo.Record
	for _, p := range []int32{2, 3} {
		for i := 0; i < 300; i++ {
			more = append(more, &kgo.Record{Partition: p, Value: []byte(`{}`)})
		}
	}
	require.NoError(t, k.cl.ProduceSync(ctx, more...).FirstErr())

	t.Run("records produced after the sink stopped are fine until --expect-drained", func(t *testing.T) {
		_, errOut, code := verifyJSON(t, append([]string{"--dir", k.dir}, kafka...)...)
		assert.Equal(t, exitOK, code, errOut)
		rep, errOut, code := verifyJSON(t, append([]string{"--dir", k.dir, "--expect-drained"}, kafka...)...)
		assert.Equal(t, exitViolation, code, errOut)
		for _, p := range []int32{2, 3} {
			assert.True(t, violated(rep, "K02", p))
			assert.Equal(t, []lake.OffsetRange{{First: per, Last: per + 299}}, missingOf(rep, p, "K02"))
		}
		assert.Equal(t, "end", rep.Kafka.Target)
	})

	t.Run("committed but never written", func(t *testing.T) {
		// Another group that claims partition 2 up to its new end: a sink
		// that committed without uploading.
		const group = "committed-ahead"
		offs := kadm.Offsets{}
		for p, e := range k.ends {
			if p == 2 {
				e += 300
			}
			offs.Add(kadm.Offset{Topic: w.Topic(), Partition: p, At: e})
		}
		res, err := k.adm.CommitOffsets(ctx, group, offs)
		require.NoError(t, err)
		require.NoError(t, res.Error())
		rep, errOut, code := verifyJSON(t, append([]string{"--dir", k.dir, "--group", group}, kafka...)...)
		assert.Equal(t, exitViolation, code, errOut)
		assert.Equal(t, group, rep.Kafka.Group)
		assert.True(t, violated(rep, "K03", 2))
		assert.Equal(t, []lake.OffsetRange{{First: per, Last: per + 299}}, missingOf(rep, 2, "K03"))
		assert.Equal(t, []string{"K03"}, rep.Rules())
	})

	t.Run("a group with no commits is said, and fails --strict", func(t *testing.T) {
		rep, errOut, code := verifyJSON(t, append([]string{"--dir", k.dir, "--group", "nobody", "--expect-records", fmt.Sprint(records)}, kafka...)...)
		assert.Equal(t, exitOK, code, errOut)
		assert.Contains(t, rep.Unchecked, lake.Unchecked{Rule: "K03",
			Reason: "group nobody has no committed offsets for topic " + w.Topic() + " (is --group right? tickflow sink's default group is tickflow-sink)"})
		_, errOut, code = verifyJSON(t, append([]string{"--dir", k.dir, "--group", "nobody", "--expect-records", fmt.Sprint(records), "--strict"}, kafka...)...)
		assert.Equal(t, exitViolation, code)
		assert.Contains(t, errOut, "--strict: rules not checked: K03")
	})

	t.Run("expired before the group read them", func(t *testing.T) {
		// Retention removes partition 3 up to 100 records past the sink's
		// commit: those 100 are in neither the lake nor Kafka.
		del := kadm.Offsets{}
		del.Add(kadm.Offset{Topic: w.Topic(), Partition: 3, At: per + 100})
		res, err := k.adm.DeleteRecords(ctx, del)
		require.NoError(t, err)
		require.NoError(t, res.Error())
		rep, errOut, code := verifyJSON(t, append([]string{"--dir", k.dir}, kafka...)...)
		assert.Equal(t, exitViolation, code, errOut)
		assert.True(t, violated(rep, "K01", 3), "K01 is an error for partition 3: %v", rep.Violations)
		assert.Equal(t, []lake.OffsetRange{{First: per, Last: per + 99}}, missingOf(rep, 3, "K01"))
		assert.Equal(t, []string{"K01"}, rep.Rules())
	})
}
