package scenarios

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tickflow/tickflow/harness/sink"
)

// joinStage is a point of the group protocol where crashMidJoin kills a
// `tickflow sink` process.
type joinStage int

const (
	stageJoinHeld    joinStage = iota // its first JoinGroup (no member ID yet) is held on the way to the coordinator
	stageRejoinHeld                   // its second JoinGroup (with the member ID the first one got) is held
	stageSyncHeld                     // it got its JoinGroup answer; its SyncGroup is held on the way
	stageRebalancing                  // the group left Stable after the process started (join or sync under way)
	stageAfterStart                   // 1-4s after the process started, wherever the protocol is (the reproduction)
	numJoinStages
)

func (s joinStage) String() string {
	return [...]string{"in its first JoinGroup", "in its second JoinGroup", "in SyncGroup", "while the group rebalances", "1-4s after start"}[s]
}

// crashMidJoin is issue 21's reproduction of a kill -9 during a rebalance:
// one `tickflow sink` process (the survivor) owns the topic; then, one
// after another, other sink processes join the group and are killed with
// SIGKILL at a seeded point of the join/sync protocol (a JoinGroup or
// SyncGroup held at the coordinator, the group mid-rebalance, or 1-4s
// after start). After each kill the scenario measures how long until the
// survivor is again the group's only member and owns every partition: a
// member that joined and never synced costs the whole group up to the
// rebalance timeout (kfake, like Kafka, waits that long for it). The times
// are reported as notes; the scenario fails only beyond a generous cap
// (3 × (session timeout + rebalance timeout)), then drains and checks the
// lake like every other.
func crashMidJoin(ctx context.Context, e *env) error {
	bin, err := e.tickflowBin()
	if err != nil {
		return err
	}
	n := scale(e, 3000, 20_000)
	kills := scale(e, 4, 8)
	load := e.produceAsync(ctx, n, loadOptions{rate: float64(n) / scale(e, 4.0, 12.0)})
	fail := func(err error) error {
		_ = load.wait()
		return err
	}
	// --verbose: its "sink: assigned" lines tell the survivor from a
	// killed member the group still lists.
	p, err := e.startSinkProcVia(bin, e.w.S3Endpoint(), "--verbose")
	if err != nil {
		return fail(err)
	}
	capacity := 3 * (killedSessionTimeout + sink.DefaultRebalanceTimeout)
	if _, err := e.awaitOwnsAll(ctx, p, joinTimeout); err != nil {
		p.kill()
		return fail(err)
	}
	var worst time.Duration
	var times []string
	for i := 0; i < kills; i++ {
		stage := joinStage(e.rng.IntN(int(numJoinStages)))
		note, err := e.killInJoin(ctx, bin, stage)
		if err != nil {
			p.kill()
			return fail(err)
		}
		e.mu.Lock()
		e.restarts++
		e.mu.Unlock()
		took, err := e.awaitOwnsAll(ctx, p, max(capacity, 5*time.Minute))
		if err != nil {
			p.kill()
			return fail(err)
		}
		worst = max(worst, took)
		times = append(times, took.Round(100*time.Millisecond).String())
		e.notef("kill -9 #%d %s: %s; the survivor owned all %d partitions again %s later", i, stage, note, e.partitions, took.Round(100*time.Millisecond))
	}
	e.notef("recovery after each kill: %s (worst %s; session timeout %s, the binary's default rebalance timeout; cap %s)",
		strings.Join(times, " "), worst.Round(100*time.Millisecond), killedSessionTimeout, capacity)
	if err := load.wait(); err != nil {
		p.kill()
		return err
	}
	derr := e.drain(ctx, scale(e, 90*time.Second, 180*time.Second))
	terr := p.terminate()
	if derr != nil {
		return fmt.Errorf("%w (sink output: %s)", derr, p.Output())
	}
	if worst > capacity {
		return fmt.Errorf("after a kill -9 during a rebalance the surviving sink owned all partitions again only %s later, beyond %s (3 × (session timeout + rebalance timeout))",
			worst.Round(100*time.Millisecond), capacity)
	}
	return terr
}

// killInJoin starts a sink process and kills it at stage; it returns what
// happened, for the report.
func (e *env) killInJoin(ctx context.Context, bin string, stage joinStage) (string, error) {
	var (
		key  kmsg.Key
		hold = true
	)
	switch stage {
	case stageJoinHeld, stageRejoinHeld:
		key = kmsg.JoinGroup
	case stageSyncHeld:
		key = kmsg.SyncGroup
	default:
		hold = false
	}
	var held interface {
		Hits() int
		Remove()
	}
	if hold {
		held = e.coord.DelayKafka(key, 3*time.Second)
		defer held.Remove()
	}
	p, err := e.startSinkProc(bin)
	if err != nil {
		return "", err
	}
	started := time.Now()
	// Generous: a member killed earlier may hold the group for a whole
	// rebalance timeout before this one gets through (the note reports it).
	wctx, cancel := context.WithTimeout(ctx, reachLimit)
	defer cancel()
	switch stage {
	case stageJoinHeld, stageRejoinHeld, stageSyncHeld:
		// A new member's first JoinGroup only gets a member ID back
		// (MEMBER_ID_REQUIRED); its second one makes it a member.
		before, want := held.Hits(), 1
		if stage == stageRejoinHeld {
			want = 2
		}
		err = poll(wctx, func() bool { return p.exited() || held.Hits() >= before+want })
	case stageRebalancing:
		err = poll(wctx, func() bool {
			if p.exited() {
				return true
			}
			// Its JoinGroup is parked until the survivor rejoins: kill it there.
			st, _, err := e.describeGroup(wctx)
			return err == nil && st == "PreparingRebalance"
		})
	case stageAfterStart:
		err = sleep(wctx, time.Duration(e.intn(1000, 4000))*time.Millisecond)
	}
	if err == nil && !p.exited() && stage != stageAfterStart && stage != stageRebalancing {
		err = sleep(wctx, time.Duration(e.intn(0, 200))*time.Millisecond)
	}
	if p.exited() {
		return "", precondition("tickflow sink exited by itself (%v): %s", p.Err(), p.Output())
	}
	p.kill()
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", precondition("tickflow sink did not reach the point %q within %s: %v", stage, reachLimit, err)
	}
	st, ids, _ := e.describeGroup(ctx)
	return fmt.Sprintf("reached %s after its start (group then %s with %d members)", time.Since(started).Round(time.Millisecond), st, len(ids)), nil
}

// reachLimit bounds how long a started process may take to reach its
// kill point.
const reachLimit = 5 * time.Minute

// awaitOwnsAll waits until the group is Stable with p as its only member
// and p is assigned every partition of the topic, and returns how long
// that took; it gives up after limit.
func (e *env) awaitOwnsAll(ctx context.Context, p *sinkProc, limit time.Duration) (time.Duration, error) {
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var last string
	err := poll(wctx, func() bool {
		if p.exited() {
			return true
		}
		gs, err := e.adm.DescribeGroups(wctx, e.group)
		if err != nil {
			return false
		}
		g := gs[e.group]
		owned := 0
		for _, ps := range g.AssignedPartitions() {
			for range ps {
				owned++
			}
		}
		mine := assignedIn(p.Output())
		last = fmt.Sprintf("state %s, %d members, %d of %d partitions assigned, %d ever to the survivor", g.State, len(g.Members), owned, e.partitions, mine)
		// The survivor is alive, so once it was assigned every
		// partition, a Stable group with one member owning them all is it.
		return g.State == "Stable" && len(g.Members) == 1 && owned == e.partitions && mine == e.partitions
	})
	took := time.Since(start)
	switch {
	case p.exited():
		return took, precondition("the surviving tickflow sink exited (%v): %s", p.Err(), p.Output())
	case err != nil && ctx.Err() != nil:
		return took, ctx.Err()
	case err != nil:
		return took, fmt.Errorf("after a kill -9 during a rebalance the surviving sink did not own all %d partitions within %s (last seen: %s)", e.partitions, limit, last)
	}
	return took, nil
}

// assignedRE matches the sink's --verbose log line for an assigned partition.
var assignedRE = regexp.MustCompile(`msg="sink: assigned" partition=([0-9]+) `)

// assignedIn counts the distinct partitions a sink process's output says
// it was assigned.
func assignedIn(out string) int {
	seen := map[string]bool{}
	for _, m := range assignedRE.FindAllStringSubmatch(out, -1) {
		seen[m[1]] = true
	}
	return len(seen)
}
