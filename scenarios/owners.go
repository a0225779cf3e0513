package scenarios

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Scenarios where two live members own a partition at once: a frozen
// member whose PUT lands after the group moved on, a rolling deploy over a
// slow S3, a PUT held past its writer's death. All run real `tickflow
// sink` processes, because the faults are process faults.

// ownerFlags are the extra flags of the sink processes here: kfake waits a
// member's whole rebalance timeout for it to rejoin, and a frozen member
// never does, so keep it short (production derives it from the S3 budget).
var ownerFlags = []string{"--rebalance-timeout", "4s"}

// track kills p when the iteration ends, whatever happened (SIGCONT first:
// a stopped process must not linger).
func (e *env) track(p *sinkProc) *sinkProc {
	e.closers = append(e.closers, func() {
		if !p.exited() {
			p.Signal(syscall.SIGCONT)
			p.kill()
		}
	})
	return p
}

func (e *env) sinkProcVia(bin, endpoint string, extra ...string) (*sinkProc, error) {
	p, err := e.startSinkProcVia(bin, endpoint, append(append([]string(nil), ownerFlags...), extra...)...)
	if err != nil {
		return nil, err
	}
	return e.track(p), nil
}

// awaitMembers waits until the group is Stable with exactly n members.
func (e *env) awaitMembers(ctx context.Context, n int, procs ...*sinkProc) error {
	jctx, cancel := context.WithTimeout(ctx, joinTimeout)
	defer cancel()
	var last string
	err := poll(jctx, func() bool {
		for _, p := range procs {
			if p.exited() {
				return true
			}
		}
		st, ids, err := e.describeGroup(jctx)
		if err != nil {
			return false
		}
		last = fmt.Sprintf("state %s, %d members", st, len(ids))
		return st == "Stable" && len(ids) == n
	})
	for _, p := range procs {
		if p.exited() {
			return precondition("tickflow sink exited (%v): %s", p.Err(), p.Output())
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var outs []string
		for i, p := range procs {
			outs = append(outs, fmt.Sprintf("sink %d: %s", i, p.Tail(600)))
		}
		return precondition("group %s did not become Stable with %d members within %s (last seen: %s); %s", e.group, n, joinTimeout, last, strings.Join(outs, "; "))
	}
	return nil
}

// finish drains the group, stops every process with SIGTERM, waits for
// held PUTs to land, and reports the zombies' exits as notes (a member
// that lost its partitions may exit non-zero: it could not commit what it
// had; the invariants decide whether anything was lost).
func (e *env) finish(ctx context.Context, px *s3Proxy, survivor *sinkProc, others ...*sinkProc) error {
	derr := e.drain(ctx, scale(e, 90*time.Second, 180*time.Second))
	var errs []error
	for _, p := range others {
		if !p.exited() {
			if err := p.terminate(); err != nil {
				e.notef("a former owner exited non-zero after SIGTERM: %s", firstLine(err))
			}
		}
	}
	if survivor != nil {
		if err := e.stopMember(survivor); err != nil {
			errs = append(errs, err)
		}
	}
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := px.settle(sctx); err != nil {
		errs = append(errs, precondition("held PUTs did not land: %v", err))
	}
	e.notef("S3 proxy: %s", px.summary())
	if derr != nil {
		return fmt.Errorf("%w (sink output: %s)", derr, survivor.Output())
	}
	return errors.Join(errs...)
}

// stopMember stops p with SIGTERM. For tickflow sink a non-zero exit is an
// error; a user's consumer that exits non-zero (or must be killed) is only
// noted: what it did to the records is the verdict's to judge.
func (e *env) stopMember(p *sinkProc) error {
	if !e.user() {
		return p.terminate()
	}
	if err := p.terminateWithin(e.cfg.Consumer.stopTimeout()); err != nil {
		e.notef("%s", firstLine(err))
	}
	return nil
}

// zombieSink freezes a sink process (SIGSTOP) past its session timeout
// while its PUT is held on the way, lets a second process take its
// partitions, then thaws it (SIGCONT): the thawed member's PUT lands after
// ownership moved, and it rejoins the group as a second live owner.
func zombieSink(ctx context.Context, e *env) error {
	bin, px, err := e.binAndProxy()
	if err != nil {
		return err
	}
	n := scale(e, 4000, 6000)
	load := e.produceAsync(ctx, n, loadOptions{rate: float64(n) / 5})
	fail := func(err error) error { _ = load.wait(); return err }
	a, err := e.sinkProcVia(bin, px.url())
	if err != nil {
		return fail(err)
	}
	if err := e.awaitMembers(ctx, 1, a); err != nil {
		return fail(err)
	}
	_, ids, err := e.describeGroup(ctx)
	if err != nil || len(ids) != 1 {
		return fail(precondition("the first member's ID: %v (members %v)", err, ids))
	}
	frozenID := ids[0]
	if err := sleep(ctx, time.Duration(e.intn(200, 800))*time.Millisecond); err != nil {
		return fail(err)
	}
	hold := time.Duration(e.intn(1500, 4500)) * time.Millisecond
	px.holdPUTs(func() time.Duration { return hold })
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err = poll(wctx, func() bool { return px.held.Load() > 0 })
	cancel()
	if err != nil {
		return fail(precondition("no PUT of the first sink reached the S3 proxy within 10s"))
	}
	freeze := killedSessionTimeout + time.Duration(e.intn(500, 2500))*time.Millisecond
	a.Signal(syscall.SIGSTOP)
	frozen := time.Now()
	b, err := e.sinkProcVia(bin, e.s3Direct())
	if err != nil {
		return fail(err)
	}
	var serr error
	if e.user() {
		// The user's session timeout is theirs: stay frozen until the
		// group has dropped the frozen member, however long that takes.
		freeze, serr = e.awaitEvicted(ctx, frozenID)
	} else {
		serr = sleep(ctx, freeze-time.Since(frozen))
	}
	px.holdPUTs(nil) // PUTs already held still land late
	a.Signal(syscall.SIGCONT)
	e.restarted(1)
	e.notef("froze the first sink %s with PUTs held %s at the proxy; second sink started meanwhile", freeze.Round(time.Millisecond), hold)
	if serr != nil {
		return fail(serr)
	}
	if err := load.wait(); err != nil {
		return err
	}
	return e.finish(ctx, px, b, a)
}

// rollingRestartSlowS3 replaces the group's sink process one at a time, as
// a deploy does — start the new one, wait until it shares the partitions,
// SIGTERM the old one — while every PUT is slow, so the old member is
// still flushing when its partitions move.
func rollingRestartSlowS3(ctx context.Context, e *env) error {
	bin, px, err := e.binAndProxy()
	if err != nil {
		return err
	}
	px.holdPUTs(e.delays(150*time.Millisecond, 600*time.Millisecond))
	n := scale(e, 4000, 6000)
	rounds := scale(e, 2, 3)
	load := e.produceAsync(ctx, n, loadOptions{rate: float64(n) / 5})
	fail := func(err error) error { _ = load.wait(); return err }
	// No member freezes here: give the group the time a slow revocation
	// flush needs, as the sink's derived default would (only shorter).
	rolling := []string{"--rebalance-timeout", "30s"}
	old, err := e.sinkProcVia(bin, px.url(), rolling...)
	if err != nil {
		return fail(err)
	}
	if err := e.awaitMembers(ctx, 1, old); err != nil {
		return fail(err)
	}
	var notes []string
	for i := 0; i < rounds; i++ {
		next, err := e.sinkProcVia(bin, px.url(), rolling...)
		if err != nil {
			return fail(err)
		}
		if err := e.awaitMembers(ctx, 2, old, next); err != nil {
			return fail(err)
		}
		if err := sleep(ctx, time.Duration(e.intn(100, 600))*time.Millisecond); err != nil {
			return fail(err)
		}
		held := px.held.Load()
		if err := e.stopMember(old); err != nil {
			return fail(fmt.Errorf("rolling restart %d: the old sink did not stop cleanly: %w", i, err))
		}
		notes = append(notes, fmt.Sprintf("#%d with %d PUTs held", i, held))
		e.restarted(1)
		old = next
	}
	e.notef("rolling restarts over a slow S3: %s", strings.Join(notes, ", "))
	if err := load.wait(); err != nil {
		return err
	}
	px.holdPUTs(nil)
	return e.finish(ctx, px, old)
}

// hungPut holds one PUT of a sink process at the proxy, kills the process
// (SIGKILL) while it is held, lets a second process take over and write,
// and releases the held PUT at a seeded moment: before or after the new
// owner wrote the same key.
func hungPut(ctx context.Context, e *env) error {
	hold := time.Duration(e.intn(1500, 5000)) * time.Millisecond
	return e.hungPutWith(ctx, hold, nil, nil, false)
}

// hungPutWith is hungPut with the hold, extra flags for the first (a) and
// the second (b) sink, and whether the whole load is produced before the
// first sink starts (so its cuts follow --flush-records exactly).
func (e *env) hungPutWith(ctx context.Context, hold time.Duration, aFlags, bFlags []string, preload bool) error {
	bin, px, err := e.binAndProxy()
	if err != nil {
		return err
	}
	n := scale(e, 3000, 5000)
	var load *loadRun
	if preload {
		if err := e.produce(ctx, n, loadOptions{}); err != nil {
			return err
		}
	} else {
		load = e.produceAsync(ctx, n, loadOptions{rate: float64(n) / 4})
	}
	fail := func(err error) error {
		if load != nil {
			_ = load.wait()
		}
		return err
	}
	px.holdNextPUT(hold)
	a, err := e.sinkProcVia(bin, px.url(), aFlags...)
	if err != nil {
		return fail(err)
	}
	wctx, cancel := context.WithTimeout(ctx, joinTimeout)
	err = poll(wctx, func() bool { return px.held.Load() > 0 || a.exited() })
	cancel()
	if err != nil || a.exited() {
		return fail(precondition("no PUT of the first sink reached the S3 proxy (%v): %s", err, a.Output()))
	}
	a.kill()
	e.restarted(1)
	if _, err := e.awaitEmptyGroup(ctx); err != nil {
		return fail(err)
	}
	b, err := e.sinkProcVia(bin, e.s3Direct(), bFlags...)
	if err != nil {
		return fail(err)
	}
	e.notef("killed a sink with a PUT held %s at the proxy; the next sink took over", hold)
	if load != nil {
		if err := load.wait(); err != nil {
			return err
		}
	}
	return e.finish(ctx, px, b)
}

// twoOwnerSoak is the run issue 11 measured, as a scenario: a dotted topic,
// a paced load, sink processes writing through proxies that hold PUTs
// (some seconds, one much longer), and rounds of "SIGTERM a slow member
// while a fast one joins" and "freeze a member with PUTs in flight, then
// thaw it"; a final drain by one sink straight to S3. The long form is the
// issue's: 200,000 records at 1,800/s, PUTs held 3–5 s and 12–15 s, three
// rounds with 16 s freezes.
func twoOwnerSoak(ctx context.Context, e *env) error {
	bin, err := e.tickflowBin()
	if err != nil {
		return err
	}
	slow, err := e.startS3Proxy()
	if err != nil {
		return err
	}
	stall, err := e.startS3Proxy()
	if err != nil {
		return err
	}
	slow.holdPUTs(e.delays(scale(e, 500*time.Millisecond, 3*time.Second), scale(e, time.Second, 5*time.Second)))
	stall.holdPUTs(e.delays(scale(e, 2*time.Second, 12*time.Second), scale(e, 3*time.Second, 15*time.Second)))
	n := scale(e, 12_000, 200_000)
	rate := scale(e, 3000.0, 1800.0)
	rounds := scale(e, 1, 3)
	freeze := scale(e, 3*time.Second, 16*time.Second)
	load := e.produceAsync(ctx, n, loadOptions{rate: rate})
	fail := func(err error) error { _ = load.wait(); return err }

	var members []*sinkProc
	start := func(endpoint string) (*sinkProc, error) {
		p, err := e.sinkProcVia(bin, endpoint)
		if err == nil {
			members = append(members, p)
		}
		return p, err
	}
	fast, err := start(e.s3Direct())
	if err != nil {
		return fail(err)
	}
	if err := e.awaitMembers(ctx, 1, fast); err != nil {
		return fail(err)
	}
	slowM, err := start(slow.url())
	if err != nil {
		return fail(err)
	}
	stallM, err := start(stall.url())
	if err != nil {
		return fail(err)
	}
	if err := e.awaitMembers(ctx, 3, fast, slowM, stallM); err != nil {
		return fail(err)
	}
	for r := 0; r < rounds; r++ {
		// SIGTERM the slow member while a fast one joins.
		if _, err := start(e.s3Direct()); err != nil {
			return fail(err)
		}
		if err := slowM.terminate(); err != nil {
			e.notef("round %d: the slow member exited non-zero after SIGTERM: %s", r, firstLine(err))
		}
		slowM, err = start(slow.url())
		if err != nil {
			return fail(err)
		}
		// Freeze the member whose PUTs are stalled, with PUTs in flight.
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err = poll(wctx, func() bool { return stall.held.Load() > 0 || load.finished() })
		cancel()
		if err != nil {
			return fail(precondition("round %d: no PUT of the stalled member in flight within 30s", r))
		}
		held := stall.held.Load()
		stallM.Signal(syscall.SIGSTOP)
		serr := sleep(ctx, freeze)
		stallM.Signal(syscall.SIGCONT)
		e.restarted(2)
		e.notef("round %d: SIGTERM a slow member while a fast one joined; froze the stalled member %s with %d PUTs in flight", r, freeze, held)
		if serr != nil {
			return fail(serr)
		}
	}
	if err := load.wait(); err != nil {
		return err
	}
	// The final drain: every member but the first fast one stops.
	var others []*sinkProc
	for _, p := range members[1:] {
		if !p.exited() {
			others = append(others, p)
		}
	}
	for _, p := range others {
		if err := p.terminate(); err != nil {
			e.notef("a member exited non-zero after SIGTERM: %s", firstLine(err))
		}
	}
	slow.holdPUTs(nil)
	stall.holdPUTs(nil)
	err = e.finish(ctx, slow, fast)
	if serr := stall.settle(ctx); serr != nil && err == nil {
		err = precondition("held PUTs did not land: %v", serr)
	}
	e.notef("stall proxy: %s", stall.summary())
	return err
}

// delays returns seeded random durations in [lo, hi) for a proxy's holds.
// The proxy calls it under its own lock, so it gets a generator of its own
// (e.rng belongs to the scenario goroutine).
func (e *env) delays(lo, hi time.Duration) func() time.Duration {
	prng := rand.New(rand.NewPCG(uint64(e.intn(0, 1<<30)), 1))
	return func() time.Duration { return lo + time.Duration(prng.Int64N(int64(hi-lo))) }
}

// restarted counts n process faults (kills, SIGTERMs, freezes) the scenario caused.
func (e *env) restarted(n int) {
	e.mu.Lock()
	e.restarts += n
	e.mu.Unlock()
}

// binAndProxy returns the tickflow binary the sink processes run and an S3
// proxy in front of the world's S3.
func (e *env) binAndProxy() (string, *s3Proxy, error) {
	bin, err := e.tickflowBin()
	if err != nil {
		return "", nil, err
	}
	px, err := e.startS3Proxy()
	return bin, px, err
}

// evictTimeout bounds how long a frozen user consumer may stay in its
// group: a session timeout longer than this makes zombie-sink an error.
const evictTimeout = 2 * time.Minute

// awaitEvicted waits until member id has left the group and the group is
// Stable again (a frozen member's session timed out and the others took
// its partitions), and returns how long that took.
func (e *env) awaitEvicted(ctx context.Context, id string) (time.Duration, error) {
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, evictTimeout)
	defer cancel()
	var last string
	err := poll(wctx, func() bool {
		st, ids, err := e.describeGroup(wctx)
		if err != nil {
			return false
		}
		last = fmt.Sprintf("state %s, members %v", st, ids)
		return st == "Stable" && len(ids) > 0 && !slices.Contains(ids, id)
	})
	if err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, precondition("the frozen member %s was still in group %s after %s (last seen: %s): its session timeout is longer; honour KAFKA_SESSION_TIMEOUT_MS", id, e.group, evictTimeout, last)
	}
	return time.Since(start), nil
}
