package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickflow/tickflow/harness"
	"github.com/tickflow/tickflow/harness/lake"
	"github.com/tickflow/tickflow/harness/sink"
)

// runVerifyDLQ runs the CLI in-process and returns stdout, stderr (with the
// exit error's message) and the exit code.
func runVerifyDLQ(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	root := newRoot()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	if err == nil {
		return out.String(), errOut.String(), exitOK
	}
	var ee *exitError
	require.True(t, errors.As(err, &ee), "plain error %v", err)
	return out.String(), errOut.String() + ee.Error(), ee.code
}

// deadLetterLake runs a world where the sink dead-letters poison records in
// the middle of each partition, mirrors the lake to a folder (no S3
// metadata, like aws s3 sync) and returns the world, the folder and the
// poisoned (partition, offset) pairs.
func deadLetterLake(t *testing.T) (*harness.World, string, map[int32][]int64) {
	t.Helper()
	w := harness.Start(t, harness.Partitions(2))
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.KafkaAddrs()...), kgo.DefaultProduceTopic(w.Topic()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.MetadataMinAge(100*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	ctx, cancel := context.WithTimeout(context.Background(), harness.ProduceTimeout)
	defer cancel()

	ticks := harness.SyntheticTicks(t, 24, 7)
	poison := map[int32][]int64{}
	// Per partition: 4 ticks, a poison value, 4 ticks, a tick without a
	// symbol, 4 ticks: both poison offsets are holes between good rows.
	for p := int32(0); p < 2; p++ {
		next := 0
		for step := 0; step < 5; step++ {
			var recs []*kgo.Record
			switch step {
			case 1:
				recs = []*kgo.Record{{Partition: p, Value: []byte("not json")}}
			case 3:
				recs = []*kgo.Record{{Partition: p, Value: []byte(`{"trade_date":"2024-01-02"}`)}}
			default:
				for i := 0; i < 4; i++ {
					val, err := json.Marshal(ticks[int(p)*12+next])
					require.NoError(t, err)
					next++
					recs = append(recs, &kgo.Record{Partition: p, Value: val})
				}
			}
			res := cl.ProduceSync(ctx, recs...)
			require.NoError(t, res.FirstErr())
			if step == 1 || step == 3 {
				poison[p] = append(poison[p], res[0].Record.Offset)
			}
		}
	}

	s := w.StartSink(t, sink.Topic(w.Topic()))
	w.WaitCaughtUp(t, harness.SinkGroup, 60*time.Second)
	require.NoError(t, s.Stop())
	require.EqualValues(t, 4, s.Stats().DLQ, "the sink dead-lettered the poison records")

	// Noise on the dead-letter topic that verify must not count: a record
	// of another source topic and two without usable headers.
	noise := []*kgo.Record{
		{Topic: w.Topic() + ".dlq", Value: []byte("x"), Headers: []kgo.RecordHeader{
			{Key: sink.HeaderTopic, Value: []byte("other-topic")}, {Key: sink.HeaderPartition, Value: []byte("0")}, {Key: sink.HeaderOffset, Value: []byte("5")}}},
		{Topic: w.Topic() + ".dlq", Value: []byte("y")},
		{Topic: w.Topic() + ".dlq", Value: []byte("z"), Headers: []kgo.RecordHeader{
			{Key: sink.HeaderTopic, Value: []byte(w.Topic())}, {Key: sink.HeaderPartition, Value: []byte("zero")}, {Key: sink.HeaderOffset, Value: []byte("5")}}},
	}
	require.NoError(t, cl.ProduceSync(ctx, noise...).FirstErr())

	dir := t.TempDir()
	_, err = lake.Mirror(ctx, w.Store(), "", dir)
	require.NoError(t, err)
	return w, dir, poison
}

func skippedFlag(m map[int32][]int64) string {
	var items []string
	for p, offs := range m {
		for _, o := range offs {
			items = append(items, fmt.Sprintf("%d:%d", p, o))
		}
	}
	return strings.Join(items, ",")
}

func TestVerifyDeadLettersInFolder(t *testing.T) {
	w, dir, poison := deadLetterLake(t)
	brokers := strings.Join(w.KafkaAddrs(), ",")
	onlyFirst := map[int32][]int64{0: poison[0][:1]}

	cases := []struct {
		name    string
		args    []string
		code    int
		want    []string
		notWant []string
	}{
		{"no dead letters declared: L12 gaps", nil, exitViolation,
			[]string{"L12", "are missing between objects"}, []string{"DEAD LETTERS"}},
		{"dead-letter topic read: R01 counts dead letters as delivered", []string{"--brokers", brokers, "--expect-records", "28"}, exitOK,
			[]string{"OK", "DEAD LETTERS: 4 offsets of " + w.Topic(), "all 4 fill holes between the lake's objects", "1 record of other source topics", "2 malformed records",
				"no tickflow-source-topic header", `tickflow-source-partition="zero"`}, []string{"L12"}},
		{"dead letters read: the lake's records alone do not make the count", []string{"--brokers", brokers, "--expect-records", "24"}, exitViolation,
			[]string{"R01", "24 distinct", "4 dead letters of the dead-letter topic not in the lake (28 in all), expected 24"}, []string{"OK:"}},
		{"explicit dlq topic", []string{"--brokers", brokers, "--dlq-topic", w.Topic() + ".dlq"}, exitOK,
			[]string{"OK", "all 4 fill holes between the lake's objects"}, []string{"L12"}},
		{"wrong source topic: Kafka has no such topic to compare with", []string{"--brokers", brokers, "--topic", "other-topic", "--dlq-topic", w.Topic() + ".dlq"}, exitUsage,
			[]string{"topic other-topic", "does not exist", "--topic"}, []string{"OK"}},
		{"missing dlq topic", []string{"--brokers", brokers, "--dlq-topic", "no-such-topic"}, exitViolation,
			[]string{"L12", "topic no-such-topic does not exist"}, nil},
		{"skipped offsets flag", []string{"--skipped-offsets", skippedFlag(poison)}, exitOK,
			[]string{"OK"}, []string{"L12"}},
		{"skipped offsets as ranges", []string{"--skipped-offsets", fmt.Sprintf("0:%d-%d,1:%d,1:%d", poison[0][0], poison[0][0], poison[1][0], poison[1][1]) + fmt.Sprintf(",0:%d", poison[0][1])}, exitOK,
			[]string{"OK"}, []string{"L12"}},
		{"a real gap still fails", []string{"--skipped-offsets", skippedFlag(onlyFirst)}, exitViolation,
			[]string{"L12"}, nil},
		{"bad skipped offsets", []string{"--skipped-offsets", "0:x"}, exitUsage,
			[]string{"--skipped-offsets", `"0:x"`, "PARTITION:OFFSET"}, nil},
		{"bad dlq timeout", []string{"--brokers", brokers, "--dlq-timeout", "0s"}, exitUsage,
			[]string{"--dlq-timeout"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runVerifyDLQ(t, append([]string{"verify", "--dir", dir}, tc.args...)...)
			all := out + errOut
			assert.Equal(t, tc.code, code, all)
			for _, s := range tc.want {
				assert.Contains(t, all, s)
			}
			for _, s := range tc.notWant {
				assert.NotContains(t, all, s)
			}
		})
	}

	t.Run("json report stays JSON", func(t *testing.T) {
		out, errOut, code := runVerifyDLQ(t, "verify", "--dir", dir, "--brokers", brokers, "--json")
		require.Equal(t, exitOK, code, out+errOut)
		var rep lake.Report
		require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
		var skipped int64
		for _, p := range rep.Partitions {
			skipped += p.Skipped
		}
		assert.EqualValues(t, 4, skipped)
		assert.Contains(t, errOut, "all 4 fill holes between the lake's objects")
	})
}

func TestVerifyUnreachableBrokers(t *testing.T) {
	// A port nothing listens on: bind, note it, close.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	refused := l.Addr().String()
	require.NoError(t, l.Close())

	// A listener that accepts and never answers: only --dlq-timeout ends it.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	accepted := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	t.Cleanup(func() {
		_ = silent.Close()
		for {
			select {
			case c := <-accepted:
				_ = c.Close()
			default:
				return
			}
		}
	})

	for name, addr := range map[string]string{"refused": refused, "silent": silent.Addr().String()} {
		t.Run(name, func(t *testing.T) {
			out, errOut, code := runVerifyDLQ(t, "verify", "--dir", "../../testdata/lakes/good-json", "--brokers", addr, "--dlq-timeout", "1s")
			assert.Equal(t, exitUsage, code, out+errOut)
			assert.Contains(t, errOut, addr, "the error names the brokers")
			assert.Contains(t, errOut, "stock-ticks.dlq")
			assert.Contains(t, errOut, "--skipped-offsets", "the error names the way out without Kafka")
			assert.Empty(t, out, "no report when the dead letters could not be read")
		})
	}
}
