package scenarios

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
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
			_ = p.cmd.Process.Signal(syscall.SIGCONT)
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
			return precondition("tickflow sink exited (%v): %s", p.err, p.out.String())
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var outs []string
		for i, p := range procs {
			outs = append(outs, fmt.Sprintf("sink %d: %s", i, tail(p.out.String(), 600)))
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
		if err := survivor.terminate(); err != nil {
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
		return fmt.Errorf("%w (sink output: %s)", derr, survivor.out.String())
	}
	return errors.Join(errs...)
}

// zombieSink freezes a sink process (SIGSTOP) past its session timeout
// while its PUT is held on the way, lets a second process take its
// partitions, then thaws it (SIGCONT): the thawed member's PUT lands after
// ownership moved, and it rejoins the group as a second live owner.
func zombieSink(ctx context.Context, e *env) error {
	bin, err := e.tickflowBin()
	if err != nil {
		return err
	}
	px, err := e.startS3Proxy()
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
	_ = a.cmd.Process.Signal(syscall.SIGSTOP)
	frozen := time.Now()
	b, err := e.sinkProcVia(bin, e.w.S3Endpoint())
	if err != nil {
		return fail(err)
	}
	serr := sleep(ctx, freeze-time.Since(frozen))
	px.holdPUTs(nil) // PUTs already held still land late
	_ = a.cmd.Process.Signal(syscall.SIGCONT)
	e.mu.Lock()
	e.restarts++
	e.mu.Unlock()
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
	bin, err := e.tickflowBin()
	if err != nil {
		return err
	}
	px, err := e.startS3Proxy()
	if err != nil {
		return err
	}
	// The proxy calls this under its own lock: give it its own seeded
	// generator (e.rng belongs to the scenario goroutine).
	prng := rand.New(rand.NewPCG(uint64(e.intn(0, 1<<30)), 1))
	px.holdPUTs(func() time.Duration { return time.Duration(150+prng.IntN(450)) * time.Millisecond })
	n := scale(e, 4000, 6000)
	rounds := scale(e, 2, 3)
	load := e.produceAsync(ctx, n, loadOptions{rate: float64(n) / 5})
	fail := func(err error) error { _ = load.wait(); return err }
	old, err := e.sinkProcVia(bin, px.url())
	if err != nil {
		return fail(err)
	}
	if err := e.awaitMembers(ctx, 1, old); err != nil {
		return fail(err)
	}
	var notes []string
	for i := 0; i < rounds; i++ {
		next, err := e.sinkProcVia(bin, px.url())
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
		if err := old.terminate(); err != nil {
			return fail(fmt.Errorf("rolling restart %d: the old sink did not stop cleanly: %w", i, err))
		}
		notes = append(notes, fmt.Sprintf("#%d with %d PUTs held", i, held))
		e.mu.Lock()
		e.restarts++
		e.mu.Unlock()
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
	bin, err := e.tickflowBin()
	if err != nil {
		return err
	}
	px, err := e.startS3Proxy()
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
		return fail(precondition("no PUT of the first sink reached the S3 proxy (%v): %s", err, a.out.String()))
	}
	a.kill()
	e.mu.Lock()
	e.restarts++
	e.mu.Unlock()
	if _, err := e.awaitEmptyGroup(ctx); err != nil {
		return fail(err)
	}
	b, err := e.sinkProcVia(bin, e.w.S3Endpoint(), bFlags...)
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

// tail is the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
