package broker

import (
	"context"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// joinKeepAlive makes the embedded cluster keep a member alive while its
// JoinGroup waits for the rebalance, as Kafka does.
//
// Kafka's group coordinator does not expire a member that is waiting in
// JoinGroup: the join phase ends when every known member has rejoined or
// the rebalance timeout passes, and only then are the members that did not
// rejoin removed. kfake keeps the member's session timer running while its
// JoinGroup is parked, so a member that rejoins promptly (kafkajs,
// librdkafka and kafka-python do) is dropped when another member takes
// longer than the session timeout to rejoin (busy finishing a batch), and
// its JoinGroup is never answered: the client waits for its request
// timeout (kafkajs 65 s, librdkafka and kafka-python about 5 minutes) with
// partitions that nobody consumes. Every client that rejoins while a slower
// one is still at work hits it.
//
// The fix, without changing kfake: the world watches JoinGroup requests of
// known members and, while one waits, heartbeats for it with the group's
// current generation, which kfake answers REBALANCE_IN_PROGRESS after
// resetting the member's session timer (what Kafka's coordinator does for a
// member awaiting a join). It stops when the member's own next request
// arrives (its SyncGroup, Heartbeat or LeaveGroup: it got its answer), when
// any member syncs a newer generation (the join phase is over), when kfake
// says the member is unknown, and at the latest after the member's
// rebalance timeout (Kafka's bound on the join phase).
type joinKeepAlive struct {
	cl   *kgo.Client
	done <-chan struct{}

	mu     sync.Mutex
	gen    map[string]int32 // group → newest generation seen in a request
	parked map[parkedKey]*parkedJoin
	wake   chan struct{}
}

type parkedKey struct{ group, member string }

type parkedJoin struct {
	gen      int32 // the group's generation when the JoinGroup came
	until    time.Time
	every    time.Duration
	next     time.Time
	instance *string
}

func newJoinKeepAlive(c *Coordinator, cl *kgo.Client, done <-chan struct{}) *joinKeepAlive {
	k := &joinKeepAlive{cl: cl, done: done, gen: map[string]int32{}, parked: map[parkedKey]*parkedJoin{}, wake: make(chan struct{}, 1)}
	// For the world's life: the watches end with the cluster.
	observe := func(key kmsg.Key, fn func(kmsg.Request)) { _ = c.WatchKafka(key, fn) }
	observe(kmsg.JoinGroup, func(r kmsg.Request) {
		if req, ok := r.(*kmsg.JoinGroupRequest); ok {
			k.joining(req)
		}
	})
	observe(kmsg.SyncGroup, func(r kmsg.Request) {
		if req, ok := r.(*kmsg.SyncGroupRequest); ok {
			k.seen(req.Group, req.MemberID, req.Generation, true)
		}
	})
	// A member's own heartbeats tell the generation (ours are sent with
	// the one we know, so they cannot be told apart and need not be).
	observe(kmsg.Heartbeat, func(r kmsg.Request) {
		if req, ok := r.(*kmsg.HeartbeatRequest); ok {
			k.seen(req.Group, "", req.Generation, false)
		}
	})
	observe(kmsg.LeaveGroup, func(r kmsg.Request) {
		if req, ok := r.(*kmsg.LeaveGroupRequest); ok {
			k.mu.Lock()
			delete(k.parked, parkedKey{req.Group, req.MemberID})
			for _, m := range req.Members {
				delete(k.parked, parkedKey{req.Group, m.MemberID})
			}
			k.mu.Unlock()
		}
	})
	go k.run()
	return k
}

// joining records a known member's JoinGroup (a new member has no session
// timer in kfake until it is answered, so it needs nothing).
func (k *joinKeepAlive) joining(req *kmsg.JoinGroupRequest) {
	if req.MemberID == "" {
		return
	}
	session := time.Duration(req.SessionTimeoutMillis) * time.Millisecond
	rebalance := time.Duration(req.RebalanceTimeoutMillis) * time.Millisecond
	if req.Version == 0 || rebalance <= 0 {
		rebalance = session
	}
	every := min(max(session/4, 50*time.Millisecond), time.Second)
	now := time.Now()
	k.mu.Lock()
	k.parked[parkedKey{req.Group, req.MemberID}] = &parkedJoin{
		gen: k.gen[req.Group], until: now.Add(rebalance), every: every, next: now.Add(every), instance: req.InstanceID,
	}
	k.mu.Unlock()
	select {
	case k.wake <- struct{}{}:
	default:
	}
}

// seen notes a request carrying the group's generation; a member's own
// SyncGroup says it got its JoinGroup answer, and one of a newer
// generation ends the join phase for everyone parked in that group.
func (k *joinKeepAlive) seen(group, member string, gen int32, sync bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if member != "" {
		delete(k.parked, parkedKey{group, member})
	}
	if gen > k.gen[group] {
		k.gen[group] = gen
	}
	if !sync {
		return
	}
	for pk, p := range k.parked {
		if pk.group == group && gen > p.gen {
			delete(k.parked, pk)
		}
	}
}

func (k *joinKeepAlive) run() {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		wait := k.beat()
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(wait)
		select {
		case <-k.done:
			return
		case <-k.wake:
		case <-t.C:
		}
	}
}

// beat heartbeats for every parked member that is due and returns how
// long until the next one is.
func (k *joinKeepAlive) beat() time.Duration {
	now := time.Now()
	type due struct {
		key      parkedKey
		gen      int32
		instance *string
	}
	var todo []due
	wait := time.Hour
	k.mu.Lock()
	for pk, p := range k.parked {
		if now.After(p.until) {
			delete(k.parked, pk)
			continue
		}
		if !now.Before(p.next) {
			todo = append(todo, due{pk, k.gen[pk.group], p.instance})
			p.next = now.Add(p.every)
		}
		wait = min(wait, p.next.Sub(now))
	}
	k.mu.Unlock()
	for _, d := range todo {
		req := kmsg.NewPtrHeartbeatRequest()
		req.Group, req.MemberID, req.Generation, req.InstanceID = d.key.group, d.key.member, d.gen, d.instance
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		resp, err := req.RequestWith(ctx, k.cl)
		cancel()
		k.mu.Lock()
		if err == nil {
			switch kerr.ErrorForCode(resp.ErrorCode) {
			case kerr.UnknownMemberID, kerr.FencedInstanceID, kerr.GroupIDNotFound:
				delete(k.parked, d.key)
			case kerr.IllegalGeneration:
				// The join phase is over (the generation moved on) or the
				// member joined a generation we never saw: either way
				// its session timer is kfake's own again.
				delete(k.parked, d.key)
			}
		}
		k.mu.Unlock()
	}
	return max(wait, 10*time.Millisecond)
}
