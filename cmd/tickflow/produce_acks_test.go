package main

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tickflow/tickflow/harness"
)

// produceWire is what the Produce requests of a run carried.
type produceWire struct {
	mu   sync.Mutex
	acks map[int16]bool
	pids map[bool]bool // producer id set (idempotent) or not
}

func watchProduce(t *testing.T, w *harness.World) *produceWire {
	pw := &produceWire{acks: map[int16]bool{}, pids: map[bool]bool{}}
	stop := w.Coordinator().WatchKafka(kmsg.Produce, func(req kmsg.Request) {
		r := req.(*kmsg.ProduceRequest)
		pw.mu.Lock()
		defer pw.mu.Unlock()
		pw.acks[r.Acks] = true
		for _, tp := range r.Topics {
			for _, p := range tp.Partitions {
				var b kmsg.RecordBatch
				if b.ReadFrom(p.Records) == nil {
					pw.pids[b.ProducerID >= 0] = true
				}
			}
		}
	})
	t.Cleanup(stop)
	return pw
}

// --acks and --idempotent reach the Produce requests, the summary says what
// was unsafe, and --acks 1 alone turns idempotence off with a note.
func TestProduceAcksFlags(t *testing.T) {
	for _, tc := range []struct {
		args       []string
		acks       int16
		jsonAcks   string
		idempotent bool
		line, note string
	}{
		{nil, -1, "all", true, "produced 30 records to %s, skipped 0 bad rows\n", ""},
		{[]string{"--idempotent=false"}, -1, "all", false, "(idempotence off)", ""},
		{[]string{"--acks", "1"}, 1, "1", false, "(acks=1: acknowledged by the leader alone; idempotence off)", "note: --acks 1 turns idempotence off"},
		{[]string{"--acks", "0", "--idempotent=false"}, 0, "0", false, "(acks=0: sent, never acknowledged; idempotence off)", ""},
	} {
		t.Run(strings.Join(append([]string{"args"}, tc.args...), " "), func(t *testing.T) {
			w := harness.Start(t, harness.Partitions(2))
			pw := watchProduce(t, w)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			args := append([]string{"produce", "--brokers", strings.Join(w.KafkaAddrs(), ","), "--topic", w.Topic(), "--synthetic", "30"}, tc.args...)
			out, stderr, msg, code := runCmdCtx(ctx, t, args...)
			require.Equal(t, exitOK, code, msg)
			line := tc.line
			if strings.Contains(line, "%s") {
				line = strings.Replace(line, "%s", w.Topic(), 1)
				assert.Equal(t, line, out)
			} else {
				assert.Contains(t, out, line)
			}
			if tc.note != "" {
				assert.Contains(t, stderr, tc.note)
			} else {
				assert.NotContains(t, stderr, "idempotence")
			}
			// acks=0 is answered by nothing: the requests may still be on
			// their way when produce returns.
			require.Eventually(t, func() bool {
				pw.mu.Lock()
				defer pw.mu.Unlock()
				return len(pw.acks) > 0
			}, 20*time.Second, 5*time.Millisecond)
			pw.mu.Lock()
			assert.Equal(t, map[int16]bool{tc.acks: true}, pw.acks)
			assert.Equal(t, map[bool]bool{tc.idempotent: true}, pw.pids)
			pw.mu.Unlock() // the watch takes it on the cluster's loop

			out, _, msg, code = runCmdCtx(ctx, t, append(args, "--json")...)
			require.Equal(t, exitOK, code, msg)
			var doc map[string]any
			require.NoError(t, json.Unmarshal([]byte(out), &doc), out)
			assert.Equal(t, tc.jsonAcks, doc["acks"])
			assert.Equal(t, tc.idempotent, doc["idempotent"])
		})
	}
}

// Bad --acks values and the one impossible combination name the flags and
// the fix, before anything connects.
func TestProduceAcksFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--acks", "2"}, `--acks "2": want all, 1 or 0`},
		{[]string{"--acks", "-1"}, `--acks "-1": want all, 1 or 0`},
		{[]string{"--acks", "1", "--idempotent"}, "--acks 1 with --idempotent: Kafka's idempotent producer needs --acks all; use --acks all, or --idempotent=false"},
		{[]string{"--acks", "0", "--idempotent=true"}, "--acks 0 with --idempotent"},
	} {
		_, _, msg, code := runCmdCtx(context.Background(), t, append([]string{"produce", "--brokers", "127.0.0.1:1"}, tc.args...)...)
		assert.Equal(t, exitUsage, code, msg)
		assert.Contains(t, msg, tc.want)
	}
}
