package scenarios

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tickflow/tickflow/broker"
)

// TestWorldEvictsMemberKilledInJoin: a member whose process dies while its
// JoinGroup is parked (the group waits for an older member to rejoin) is
// evicted once its session times out after the rebalance, as Kafka evicts
// it. Bare kfake armed such a member's session timer only when it thought
// the join response was delivered (a coin flip between its buffered
// response channel and the closed connection), so half the time the dead
// member stayed in the group with no timer and every later join waited the
// rebalance timeout (kgo's default 60 s) for it: sink-kill-9 took 65 s
// instead of 5, and sinkKill9 kills a sink only once it is the group's
// stable member. The world's join keep-alive (broker/joinkeepalive.go)
// heartbeats for parked members, which arms their timers: with 16 dead
// members the bare kfake left some in the group (p = 1 - 2^-16); now none
// stays.
func TestWorldEvictsMemberKilledInJoin(t *testing.T) {
	const (
		topic   = "limbo"
		group   = "limbo-group"
		session = time.Second
		// dead members parked in the join; see below for why several
		parkedMembers = 16
	)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w, err := broker.Start(ctx, broker.Brokers(1), broker.Topic(topic, 1), broker.GroupMinSessionTimeout(500*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(func() { _ = w.Close() })
	client := func() *kgo.Client {
		cl, err := kgo.NewClient(append(fastKafka(), kgo.SeedBrokers(w.KafkaAddrs()...))...)
		require.NoError(t, err)
		t.Cleanup(cl.Close)
		return cl
	}
	adm := kadm.NewClient(client())
	members := func() (string, []string) {
		gs, err := adm.DescribeGroups(ctx, group)
		if err != nil {
			return err.Error(), nil
		}
		var ids []string
		for _, m := range gs[group].Members {
			ids = append(ids, m.MemberID)
		}
		return gs[group].State, ids
	}
	joinReq := func(memberID string) *kmsg.JoinGroupRequest {
		req := kmsg.NewPtrJoinGroupRequest()
		req.Group, req.MemberID, req.ProtocolType = group, memberID, "consumer"
		req.SessionTimeoutMillis = int32(session / time.Millisecond)
		req.RebalanceTimeoutMillis = 60_000
		meta := kmsg.NewConsumerMemberMetadata()
		meta.Topics = []string{topic}
		p := kmsg.NewJoinGroupRequestProtocol()
		p.Name, p.Metadata = "range", meta.AppendTo(nil)
		req.Protocols = append(req.Protocols, p)
		return req
	}
	// memberID is the first step of a JoinGroup v4+: the coordinator hands
	// out the ID with MEMBER_ID_REQUIRED.
	memberID := func(cl *kgo.Client) string {
		resp, err := joinReq("").RequestWith(ctx, cl)
		require.NoError(t, err)
		require.ErrorIs(t, kerr.ErrorForCode(resp.ErrorCode), kerr.MemberIDRequired)
		return resp.MemberID
	}

	// A joins alone, syncs and keeps heartbeating: the group is stable.
	clA := client()
	idA := memberID(clA)
	jr, err := joinReq(idA).RequestWith(ctx, clA)
	require.NoError(t, err)
	require.NoError(t, kerr.ErrorForCode(jr.ErrorCode))
	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Group, sync.MemberID, sync.Generation = group, idA, jr.Generation
	sync.ProtocolType, sync.Protocol = kmsg.StringPtr("consumer"), jr.Protocol
	sr, err := sync.RequestWith(ctx, clA)
	require.NoError(t, err)
	require.NoError(t, kerr.ErrorForCode(sr.ErrorCode))
	hctx, stopA := context.WithCancel(ctx)
	defer stopA()
	heartbeats := make(chan struct{})
	go func() {
		defer close(heartbeats)
		for hctx.Err() == nil {
			hb := kmsg.NewPtrHeartbeatRequest()
			hb.Group, hb.MemberID, hb.Generation = group, idA, jr.Generation
			_, _ = hb.RequestWith(hctx, clA)
			_ = sleep(hctx, 100*time.Millisecond)
		}
	}()

	// The Bs join; their JoinGroups park because A (alive, not rejoining)
	// is still a member. Their processes then die: connections close.
	var bs []string
	for i := 0; i < parkedMembers; i++ {
		cl, err := kgo.NewClient(append(fastKafka(), kgo.SeedBrokers(w.KafkaAddrs()...))...)
		require.NoError(t, err)
		id := memberID(cl)
		bs = append(bs, id)
		parked := make(chan error, 1)
		go func() {
			_, err := joinReq(id).RequestWith(ctx, cl)
			parked <- err
		}()
		require.Eventually(t, func() bool {
			st, ids := members()
			return st == "PreparingRebalance" && slices.Contains(ids, id)
		}, 10*time.Second, 10*time.Millisecond, "B%d's JoinGroup never parked", i)
		cl.Close()
		require.Error(t, <-parked, "B%d's parked JoinGroup must end with its connection", i)
	}

	// A dies too (stops heartbeating): its session times out and the
	// rebalance completes with the Bs, whose join responses go to closed
	// connections.
	stopA()
	<-heartbeats
	require.Eventually(t, func() bool {
		st, ids := members()
		return st == "CompletingRebalance" && !slices.Contains(ids, idA)
	}, 10*time.Second, 20*time.Millisecond, "A's session never timed out")

	// Every B's session times out: none is left in the group.
	stuck := func() int {
		_, left := members()
		n := 0
		for _, id := range bs {
			if slices.Contains(left, id) {
				n++
			}
		}
		return n
	}
	assert.Eventually(t, func() bool { return stuck() == 0 }, 10*session, 20*time.Millisecond,
		"dead members parked in a join stay in the group without a session timer (bare kfake's behaviour)")
	t.Logf("%d of %d dead members still in the group after A's session timed out", stuck(), len(bs))
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatal("test deadline exceeded")
	}
}
