package broker

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// recordMetadataVersions observes the Metadata versions the cluster sees.
func recordMetadataVersions(w *World) func() []int16 {
	var mu sync.Mutex
	var vs []int16
	w.cluster.ControlKey(int16(kmsg.Metadata), func(req kmsg.Request) (kmsg.Response, error, bool) {
		mu.Lock()
		vs = append(vs, req.GetVersion())
		mu.Unlock()
		return nil, nil, false
	})
	return func() []int16 {
		mu.Lock()
		defer mu.Unlock()
		return append([]int16(nil), vs...)
	}
}

func TestAutoCreateOldMetadata(t *testing.T) {
	tests := []struct {
		name       string
		autoCreate bool
		version    *kversion.Versions // nil: the newest
		allowFlag  bool
		wantTopic  bool
	}{
		{"v1 request auto-creates like real Kafka", true, kversion.V0_10_0(), false, true},
		{"v2 request auto-creates", true, kversion.V0_10_1(), false, true},
		{"v4+ request honours the flag (set)", true, nil, true, true},
		{"v4+ request honours the flag (unset)", true, nil, false, false},
		{"auto-create off: v1 request does not create", false, kversion.V0_10_0(), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := startWorld(t, Brokers(1), Partitions(3), AutoCreateTopics(tt.autoCreate))
			versions := recordMetadataVersions(w)
			opts := []kgo.Opt{kgo.SeedBrokers(w.KafkaAddrs()...)}
			if tt.version != nil {
				opts = append(opts, kgo.MaxVersions(tt.version))
			}
			cl, err := kgo.NewClient(opts...)
			require.NoError(t, err)
			defer cl.Close()

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			req := kmsg.NewPtrMetadataRequest()
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = kmsg.StringPtr("new-topic")
			req.Topics = append(req.Topics, rt)
			req.AllowAutoTopicCreation = tt.allowFlag
			resp, err := req.RequestWith(ctx, cl)
			require.NoError(t, err)
			require.Len(t, resp.Topics, 1)
			if tt.version != nil {
				max, ok := tt.version.LookupMaxKeyVersion(int16(kmsg.Metadata))
				require.True(t, ok)
				require.Contains(t, versions(), max, "the request was not sent at the pinned version")
				require.Less(t, max, int16(4))
			}

			topics, err := w.Coordinator().Topics(ctx)
			require.NoError(t, err)
			created := false
			for _, tp := range topics {
				if tp.Name == "new-topic" {
					created = true
					assert.Len(t, tp.Partitions, 3, "auto-created topics get Partitions(n)")
				}
			}
			assert.Equal(t, tt.wantTopic, created)
			if !tt.wantTopic {
				assert.Equal(t, kerr.UnknownTopicOrPartition.Code, resp.Topics[0].ErrorCode)
			}
		})
	}
}

// A Metadata request naming a topic Kafka could never create gets
// INVALID_TOPIC_EXCEPTION for that name, and nothing is created; valid names
// in the same request are auto-created as usual.
func TestAutoCreateRefusesInvalidTopicNames(t *testing.T) {
	long := strings.Repeat("a", 250)
	for _, tt := range []struct {
		name    string
		version *kversion.Versions
	}{{"v1", kversion.V0_10_0()}, {"newest", nil}} {
		t.Run(tt.name, func(t *testing.T) {
			w := startWorld(t, Brokers(1), Partitions(2), AutoCreateTopics(true))
			opts := []kgo.Opt{kgo.SeedBrokers(w.KafkaAddrs()...)}
			if tt.version != nil {
				opts = append(opts, kgo.MaxVersions(tt.version))
			}
			cl, err := kgo.NewClient(opts...)
			require.NoError(t, err)
			defer cl.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()

			names := []string{"bad topic", "x/../y", ".", "..", long, "ok-topic", "bad topic"}
			req := kmsg.NewPtrMetadataRequest()
			for _, n := range names {
				rt := kmsg.NewMetadataRequestTopic()
				rt.Topic = kmsg.StringPtr(n)
				req.Topics = append(req.Topics, rt)
			}
			req.AllowAutoTopicCreation = true
			resp, err := req.RequestWith(ctx, cl)
			require.NoError(t, err)
			got := map[string]int16{}
			for _, rt := range resp.Topics {
				got[*rt.Topic] = rt.ErrorCode
			}
			for _, n := range []string{"bad topic", "x/../y", ".", "..", long} {
				assert.Equal(t, kerr.InvalidTopicException.Code, got[n], "topic %.20q", n)
			}
			assert.Equal(t, int16(0), got["ok-topic"])

			topics, err := w.Coordinator().Topics(ctx)
			require.NoError(t, err)
			var created []string
			for _, tp := range topics {
				created = append(created, tp.Name)
			}
			assert.ElementsMatch(t, []string{DefaultTopic, "ok-topic"}, created)

			// The fault was for that request only: a later valid request is untouched.
			req2 := kmsg.NewPtrMetadataRequest()
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = kmsg.StringPtr("ok-topic")
			req2.Topics = append(req2.Topics, rt)
			resp2, err := req2.RequestWith(ctx, cl)
			require.NoError(t, err)
			require.Len(t, resp2.Topics, 1)
			assert.Equal(t, int16(0), resp2.Topics[0].ErrorCode)
		})
	}
}
