package broker_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tickflow/tickflow/broker"
)

func joinGroup(ctx context.Context, cl *kgo.Client, member string, session time.Duration) (*kmsg.JoinGroupResponse, error) {
	req := kmsg.NewPtrJoinGroupRequest()
	req.Group = "g"
	req.SessionTimeoutMillis = int32(session / time.Millisecond)
	req.RebalanceTimeoutMillis = 30_000
	req.MemberID = member
	req.ProtocolType = "consumer"
	p := kmsg.NewJoinGroupRequestProtocol()
	p.Name = "range"
	p.Metadata = []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	req.Protocols = append(req.Protocols, p)
	return req.RequestWith(ctx, cl)
}

func syncGroup(t *testing.T, cl *kgo.Client, member string, gen int32, leader bool, members ...string) {
	req := kmsg.NewPtrSyncGroupRequest()
	req.Group, req.MemberID, req.Generation = "g", member, gen
	if leader {
		for _, m := range members {
			a := kmsg.NewSyncGroupRequestGroupAssignment()
			a.MemberID = m
			req.GroupAssignment = append(req.GroupAssignment, a)
		}
	}
	r, err := req.RequestWith(context.Background(), cl)
	require.NoError(t, err)
	require.Zero(t, r.ErrorCode, "sync %s", member)
}

// A member waiting in JoinGroup stays in the group, as Kafka keeps it,
// however long another member takes to rejoin: A rejoins at once, C keeps
// heartbeating for three of A's session timeouts before it rejoins. Without
// the world's keep-alive kfake dropped A when its session timer ran out and
// never answered its JoinGroup (the client hung until its request timeout:
// 65 s for kafkajs, minutes for librdkafka).
func TestMemberWaitingInJoinStaysInTheGroup(t *testing.T) {
	const session = time.Second
	w, err := broker.Start(context.Background(), broker.GroupMinSessionTimeout(500*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(func() { _ = w.Close() })
	newClient := func() *kgo.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(w.KafkaAddrs()...))
		require.NoError(t, err)
		t.Cleanup(cl.Close)
		return cl
	}
	cla, clc := newClient(), newClient()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// A alone, generation 1; then C joins and A rejoins: generation 2.
	r, err := joinGroup(ctx, cla, "", session)
	require.NoError(t, err)
	a := r.MemberID
	r, err = joinGroup(ctx, cla, a, session)
	require.NoError(t, err)
	require.Zero(t, r.ErrorCode)
	syncGroup(t, cla, a, r.Generation, true, a)
	r, err = joinGroup(ctx, clc, "", session)
	require.NoError(t, err)
	c := r.MemberID
	type answer struct {
		r   *kmsg.JoinGroupResponse
		err error
	}
	both := make(chan answer, 2)
	// C's join first (it starts the rebalance A then joins), else A alone
	// could complete a generation C is not in.
	go func() { r, err := joinGroup(ctx, clc, c, session); both <- answer{r, err} }()
	adm := kadm.NewClient(cla)
	require.Eventually(t, func() bool {
		d, err := adm.DescribeGroups(ctx, "g")
		return err == nil && d["g"].State == "PreparingRebalance"
	}, 10*time.Second, 5*time.Millisecond)
	go func() { r, err := joinGroup(ctx, cla, a, session); both <- answer{r, err} }()
	j1, j2 := <-both, <-both
	require.NoError(t, j1.err)
	require.NoError(t, j2.err)
	gen, leader := j1.r.Generation, j1.r.LeaderID
	go syncGroup(t, clc, c, gen, leader == c, a, c)
	syncGroup(t, cla, a, gen, leader == a, a, c)

	// A rejoins at once; C heartbeats (REBALANCE_IN_PROGRESS) for 3 s.
	held := make(chan answer, 1)
	go func() {
		// Answered within a second of C's join with the keep-alive;
		// never without it.
		jctx, cancel := context.WithTimeout(ctx, 10*session)
		defer cancel()
		r, err := joinGroup(jctx, cla, a, session)
		held <- answer{r, err}
	}()
	start := time.Now()
	for time.Since(start) < 3*session {
		hb := kmsg.NewPtrHeartbeatRequest()
		hb.Group, hb.MemberID, hb.Generation = "g", c, gen
		_, err := hb.RequestWith(ctx, clc)
		require.NoError(t, err)
		time.Sleep(200 * time.Millisecond)
	}
	rc, err := joinGroup(ctx, clc, c, session)
	require.NoError(t, err)
	require.Zero(t, rc.ErrorCode)
	ra := <-held
	require.NoError(t, ra.err, "A's JoinGroup must be answered")
	assert.Zero(t, ra.r.ErrorCode)
	assert.Equal(t, gen+1, ra.r.Generation)
	assert.Equal(t, gen+1, rc.Generation)
	var members []string
	for _, m := range append(ra.r.Members, rc.Members...) { // the leader's answer lists them
		members = append(members, m.MemberID)
	}
	assert.ElementsMatch(t, []string{a, c}, members, "both members are in the new generation")
}
