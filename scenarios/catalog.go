package scenarios

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tickflow/tickflow/broker"
)

// catalog is every scenario. Record counts and durations come in a short
// form (go test, CI) and a long form (Config.Long).
func catalog() []Scenario {
	return []Scenario{
		{Name: "happy-path", Description: "produce, sink, drain: no faults; the baseline every other scenario is compared with",
			env: envOptions{instances: 1}, run: happyPath},
		{Name: "sink-crash-mid-flush", Description: "the sink dies at seeded points of its write path (before upload, between upload and commit, after commit, a store that dies mid-PUT, a cancelled context), is restarted, and the next owner reconciles",
			short: 3, long: 40, builtin: true, run: sinkCrashMidFlush},
		{Name: "sink-kill-9", Description: "a real `tickflow sink` OS process is killed with SIGKILL at seeded times while it consumes and restarted; the group hands its partitions on after its 1s session timeout",
			short: 1, long: 5, proc: true, run: sinkKill9},
		{Name: "crash-mid-join", Description: "while one `tickflow sink` process owns the topic, others join and are killed with SIGKILL at seeded points of the join/sync protocol (JoinGroup or SyncGroup held, mid-rebalance, 1-4s after start); reports how long until the survivor owns every partition again (fails beyond 3 × (session + rebalance timeout)), then drains", short: 1, long: 5, proc: true, builtin: true, run: crashMidJoin},
		{Name: "zombie-sink", Description: "a `tickflow sink` process is frozen (SIGSTOP) past its session timeout while its PUTs are held on the way, a second process takes over, then the first is thawed (SIGCONT): its PUTs land after ownership moved and it rejoins as a second live owner",
			short: 1, long: 30, proc: true, run: zombieSink},
		{Name: "rolling-restart-slow-s3", Description: "sink processes are replaced one at a time (start the new one, SIGTERM the old one) while every PUT takes 150-600ms, so old members are still flushing when their partitions move",
			short: 1, long: 30, proc: true, run: rollingRestartSlowS3},
		{Name: "kill-after-put", Description: "a consumer process is killed (SIGKILL) the moment one of its PUTs lands in S3, before S3's answer reaches it and before it commits; restarted, several times: the next owner re-reads those records",
			short: 1, long: 5, proc: true, run: killAfterPut},
		{Name: "kill-after-commit", Description: "a consumer process is killed (SIGKILL) the moment one of its OffsetCommits reaches the broker, before its next PUT; restarted, several times: records it committed but had not written are lost",
			short: 1, long: 5, proc: true, run: killAfterCommit},
		{Name: "hung-put", Description: "a sink process is killed while one of its PUTs is held at a proxy; the held PUT lands at a seeded moment before or after the next owner writes the same key",
			short: 1, long: 10, proc: true, run: hungPut},
		{Name: "two-owner-soak", Description: "the exactly-once soak on market.ticks: sink processes behind proxies that hold PUTs (seconds; one much longer), rounds of SIGTERM-a-slow-member-while-a-fast-one-joins and SIGSTOP-with-PUTs-in-flight/SIGCONT, a final drain (long form: 200,000 records at 1,800/s, 3-5s and 12-15s PUTs, 3 rounds, 16s freezes)",
			short: 1, long: 1, proc: true, env: envOptions{topic: "market.ticks"}, run: twoOwnerSoak},
		{Name: "dotted-topic", Description: "sink-crash-mid-flush on a topic whose name has dots (market.ticks): object names must still parse, or reconciliation sees nothing",
			short: 2, long: 10, builtin: true, env: envOptions{topic: "market.ticks"}, run: sinkCrashMidFlush},
		{Name: "broker-stop-during-produce", Description: "a (non-controller) broker is stopped while the producer writes, then restarted",
			run: brokerStopDuringProduce},
		{Name: "broker-stop-during-consume", Description: "a (non-controller) broker is stopped while the sink catches up on a backlog, then restarted",
			run: brokerStopDuringConsume},
		{Name: "leader-shuffle-under-load", Description: "partition leaders are shuffled and moved repeatedly while producing and consuming",
			run: leaderShuffleUnderLoad},
		{Name: "rebalance-scale-out", Description: "the sink group scales 1 → 3 consumers and back to 1 under load",
			env: envOptions{instances: 1}, run: rebalanceScaleOut},
		{Name: "s3-throttling", Description: "30% of S3 requests answer 503 SlowDown for 10s (2s short) under load",
			run: s3Throttling},
		{Name: "s3-outage", Description: "every S3 request answers 500 for 5s (1.5s short), then S3 recovers; the sink is restarted if it gives up",
			run: s3Outage},
		{Name: "s3-latency", Description: "S3 latency spikes (half the requests +300ms) and two PUTs that hang until the client's timeout",
			run: s3Latency},
		{Name: "poison-records", Description: "undecodable records between good ones go to <topic>.dlq, counted exactly, and their offsets stay covered",
			run: poisonRecords},
		{Name: "producer-retries", Description: "Produce requests fail with NOT_LEADER_FOR_PARTITION; the idempotent producer retries without duplicates",
			run: producerRetries},
		{Name: "produce-timeout-retries", Description: "the producer runs twice, idempotent and not, while Produce requests are appended and then answered REQUEST_TIMED_OUT; reading the topic back, the idempotent run has no duplicates and the other one has (passes only when both hold); no sink",
			producer: true, run: produceTimeoutRetries},
		{Name: "partitions-added-mid-run", Description: "the topic grows from 6 to 9 partitions while producing; the sink picks the new ones up",
			run: partitionsAddedMidRun},
		{Name: "slow-consumer", Description: "S3 PUTs slow the sink down until it falls behind, then it catches up",
			run: slowConsumer},
	}
}

// scale picks the short or the long value.
func scale[T any](e *env, short, long T) T {
	if e.cfg.Long {
		return long
	}
	return short
}

// pipeline runs load and faults concurrently with one supervised sink, then
// drains and stops the sink cleanly. faults runs while the load is produced.
func (e *env) pipeline(ctx context.Context, n int, lo loadOptions, faults func(ctx context.Context) error) error {
	return e.pipelineThen(ctx, n, lo, faults, nil)
}

// pipelineThen is pipeline with afterLoad run once the whole load is
// acknowledged and before the drain (nil: nothing).
func (e *env) pipelineThen(ctx context.Context, n int, lo loadOptions, faults, afterLoad func(ctx context.Context) error) error {
	sv := e.supervise(ctx, nil)
	load := e.produceAsync(ctx, n, lo)
	var ferr error
	if faults != nil {
		ferr = faults(ctx)
	}
	perr := load.wait()
	if ferr == nil && perr == nil && afterLoad != nil {
		ferr = afterLoad(ctx)
	}
	if ferr == nil && perr == nil {
		ferr = e.drain(ctx, scale(e, 60*time.Second, 180*time.Second))
	}
	return scenarioErr(ferr, perr, sv.stop())
}

// scenarioErr picks what a scenario reports: its faults' or drain's error
// first, then the load's, then the sink's shutdown.
func scenarioErr(ferr, perr, serr error) error {
	switch {
	case ferr != nil:
		return ferr
	case perr != nil:
		return perr
	case serr != nil:
		return fmt.Errorf("sink shutdown: %w", serr)
	}
	return nil
}

func happyPath(ctx context.Context, e *env) error {
	return e.pipeline(ctx, scale(e, 3000, 100_000), loadOptions{}, nil)
}

// liveNonController picks a seeded random live broker that may be stopped.
func (e *env) liveNonController() (int32, error) {
	var ids []int32
	for _, b := range e.coord.Brokers() {
		if b.Up && b.ID != e.coord.Controller() {
			ids = append(ids, b.ID)
		}
	}
	if len(ids) == 0 {
		return 0, precondition("no live broker other than the controller to stop")
	}
	return ids[e.rng.IntN(len(ids))], nil
}

// stopBroker stops a broker for d, then restarts it.
func (e *env) stopBroker(ctx context.Context, d time.Duration, when string) error {
	id, err := e.liveNonController()
	if err != nil {
		return err
	}
	if err := e.coord.StopBroker(id); err != nil {
		return precondition("stop broker %d: %v", id, err)
	}
	e.notef("stopped broker %d %s for %s", id, when, d)
	serr := sleep(ctx, d)
	if err := e.coord.RestartBroker(id); err != nil {
		return precondition("restart broker %d: %v", id, err)
	}
	return serr
}

func brokerStopDuringProduce(ctx context.Context, e *env) error {
	n := scale(e, 4000, 100_000)
	return e.pipeline(ctx, n, loadOptions{rate: scale(e, 2000.0, 5000.0)}, func(ctx context.Context) error {
		at := int64(e.intn(n/5, n/2))
		if err := e.waitSent(ctx, at); err != nil {
			return err
		}
		return e.stopBroker(ctx, scale(e, time.Second, 5*time.Second), fmt.Sprintf("after %d records sent", at))
	})
}

func brokerStopDuringConsume(ctx context.Context, e *env) error {
	n := scale(e, 4000, 100_000)
	if err := e.produce(ctx, n, loadOptions{}); err != nil {
		return err
	}
	// Slow PUTs a little so the backlog takes a while to drain.
	slow := e.coord.FailS3(broker.S3Fault{Op: "PUT", Latency: 20 * time.Millisecond})
	defer slow.Remove()
	sv := e.supervise(ctx, nil)
	ferr := func() error {
		// Stop a broker once the sink has committed part of the backlog.
		target := int64(e.intn(n/10, n/3))
		err := poll(ctx, func() bool {
			lag, err := e.lag(ctx)
			return err == nil && int64(n)-lag >= target
		})
		if err != nil {
			return err
		}
		if err := e.stopBroker(ctx, scale(e, time.Second, 5*time.Second), fmt.Sprintf("after ~%d records committed", target)); err != nil {
			return err
		}
		return e.drain(ctx, scale(e, 60*time.Second, 180*time.Second))
	}()
	return scenarioErr(ferr, nil, sv.stop())
}

func leaderShuffleUnderLoad(ctx context.Context, e *env) error {
	n := scale(e, 4000, 100_000)
	return e.pipeline(ctx, n, loadOptions{rate: scale(e, 2000.0, 5000.0)}, func(ctx context.Context) error {
		moves := scale(e, 8, 60)
		for i := 0; i < moves; i++ {
			if err := sleep(ctx, time.Duration(e.intn(100, 300))*time.Millisecond); err != nil {
				return err
			}
			if e.rng.IntN(2) == 0 {
				if err := e.coord.ShuffleLeaders(); err != nil {
					return precondition("shuffle leaders: %v", err)
				}
				continue
			}
			p := int32(e.rng.IntN(e.partitions))
			to := int32(e.rng.IntN(len(e.coord.Brokers())))
			if err := e.coord.MoveLeader(e.topic, p, to); err != nil {
				return precondition("move leader of %d to %d: %v", p, to, err)
			}
		}
		e.notef("%d leader shuffles/moves under load", moves)
		return nil
	})
}

func rebalanceScaleOut(ctx context.Context, e *env) error {
	n := scale(e, 6000, 100_000)
	var extra []*sinkRun
	err := e.pipeline(ctx, n, loadOptions{rate: scale(e, 2000.0, 5000.0)}, func(ctx context.Context) error {
		if err := e.waitSent(ctx, int64(n/5)); err != nil {
			return err
		}
		for i := 0; i < 2; i++ {
			r, err := e.startSink(ctx, nil)
			if err != nil {
				return err
			}
			extra = append(extra, r)
		}
		e.notef("scaled out to 3 consumers after %d records", n/5)
		if e.user() {
			if err := e.awaitScaledOut(ctx, extra, int64(n)); err != nil {
				return err
			}
		}
		if err := e.waitSent(ctx, int64(n*3/5)); err != nil {
			return err
		}
		var errs []error
		for _, r := range extra {
			if err := r.stop(); err != nil {
				errs = append(errs, fmt.Errorf("stop an extra sink: %w", err))
			}
		}
		extra = nil
		e.notef("scaled back to 1 consumer after %d records", n*3/5)
		return errors.Join(errs...)
	})
	for _, r := range extra {
		_ = r.stop()
	}
	return err
}

// awaitScaledOut waits, for a user's consumer, until the extra instances
// have joined and written. A program takes seconds to start (an
// interpreter, an SDK) and to join (the first member must rejoin too); at
// 2,000 records/s the load is sent in 3 s, and the extras would be stopped
// before they had joined, leaving one member that never rebalanced. So:
// the group Stable with all 3 members, then a write from each extra, or
// the group's lag gone (nothing left for it to write; noted).
func (e *env) awaitScaledOut(ctx context.Context, extra []*sinkRun, n int64) error {
	start := time.Now()
	var procs []*sinkProc
	for _, r := range extra {
		procs = append(procs, r.proc)
	}
	if err := e.awaitMembers(ctx, 3, procs...); err != nil {
		return err
	}
	joined := time.Now()
	wctx, cancel := context.WithTimeout(ctx, joinTimeout)
	defer cancel()
	idle := false
	var checked time.Time
	err := poll(wctx, func() bool {
		wrote := true
		for _, p := range procs {
			wrote = wrote && e.rec.writesBy(p.instance, joined) > 0
		}
		if wrote {
			return true
		}
		if e.seq.Load() < n || time.Since(checked) < 250*time.Millisecond {
			return false
		}
		checked = time.Now()
		lag, err := e.lag(wctx)
		idle = err == nil && lag == 0
		return idle
	})
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	switch {
	case err != nil:
		e.notef("the 3 members joined %s after the scale-out; the extras had written nothing %s later", joined.Sub(start).Round(time.Millisecond), joinTimeout)
	case idle:
		e.notef("the 3 members joined %s after the scale-out, when the group had nothing left to read", joined.Sub(start).Round(time.Millisecond))
	default:
		e.notef("the 3 members joined %s after the scale-out; each extra wrote %s later", joined.Sub(start).Round(time.Millisecond), time.Since(joined).Round(time.Millisecond))
	}
	return nil
}

// faultFor installs an S3 fault while the load runs, for d, and checks it
// fired.
func (e *env) s3FaultFor(ctx context.Context, f broker.S3Fault, d time.Duration, what string) error {
	h := e.coord.FailS3(f)
	if err := h.Err(); err != nil {
		return precondition("install S3 fault: %v", err)
	}
	start := time.Now()
	err := sleep(ctx, d)
	if err == nil && h.Hits() == 0 {
		// A loaded machine may not have reached S3 yet: keep the fault on
		// until it fires (bounded), rather than call the run an error.
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_ = poll(wctx, func() bool { return h.Hits() > 0 })
		cancel()
		err = ctx.Err()
	}
	h.Remove()
	if err != nil {
		return err
	}
	e.notef("%s for %s: %d requests faulted", what, time.Since(start).Round(100*time.Millisecond), h.Hits())
	if h.Hits() == 0 {
		return precondition("the S3 fault (%s) never fired: the sink did not reach S3 while it was on", what)
	}
	return nil
}

func s3Throttling(ctx context.Context, e *env) error {
	d := scale(e, 2*time.Second, 10*time.Second)
	n := scale(e, 4000, 60_000)
	return e.pipeline(ctx, n, loadOptions{rate: float64(n) / (d.Seconds() + 1)}, func(ctx context.Context) error {
		return e.s3FaultFor(ctx, broker.S3Fault{Status: 503, Share: 0.3, Seed: e.cfg.Seed}, d, "30% 503 SlowDown")
	})
}

func s3Outage(ctx context.Context, e *env) error {
	d := scale(e, 1500*time.Millisecond, 5*time.Second)
	n := scale(e, 4000, 60_000)
	return e.pipeline(ctx, n, loadOptions{rate: float64(n) / (d.Seconds() + 2)}, func(ctx context.Context) error {
		if err := e.waitSent(ctx, int64(n/5)); err != nil {
			return err
		}
		return e.s3FaultFor(ctx, broker.S3Fault{Status: 500}, d, "all S3 requests 500")
	})
}

func s3Latency(ctx context.Context, e *env) error {
	d := scale(e, 2*time.Second, 10*time.Second)
	n := scale(e, 3000, 50_000)
	return e.pipeline(ctx, n, loadOptions{rate: float64(n) / (d.Seconds() + 1)}, func(ctx context.Context) error {
		if err := e.s3FaultFor(ctx, broker.S3Fault{Latency: 300 * time.Millisecond, Share: 0.5, Seed: e.cfg.Seed}, d, "+300ms on half the S3 requests"); err != nil {
			return err
		}
		// Then two PUTs hang until the sink's CallTimeout gives up on them.
		hang := e.coord.FailS3(broker.S3Fault{Op: "PUT", Hang: true, Count: 2})
		defer hang.Remove()
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := hang.Wait(wctx, 2); err != nil {
			return precondition("hang two PUTs: %v", err)
		}
		e.notef("%d PUTs hung until the client's timeout", hang.Hits())
		return nil
	})
}

func poisonRecords(ctx context.Context, e *env) error {
	n := scale(e, 3000, 60_000)
	k := scale(e, 12, 200)
	// Poison goes in the middle of the load, so good records of the same
	// partitions follow it...
	during := func(ctx context.Context) error {
		if err := e.waitSent(ctx, int64(n/4)); err != nil {
			return err
		}
		if err := e.injectPoison(ctx, k); err != nil {
			return err
		}
		e.notef("injected %d poison records after %d records", k, n/4)
		return nil
	}
	// ...and after it, so partitions end in dead letters: the sink must
	// still commit to their end (the drain finishes) and the lake tile.
	after := func(ctx context.Context) error {
		k2 := scale(e, 8, 40)
		if err := e.injectPoison(ctx, k2); err != nil {
			return err
		}
		e.notef("injected %d poison records at the end of the partitions", k2)
		return nil
	}
	return e.pipelineThen(ctx, n, loadOptions{rate: scale(e, 2000.0, 5000.0)}, during, after)
}

func producerRetries(ctx context.Context, e *env) error {
	n := scale(e, 3000, 60_000)
	bursts := scale(e, 2, 20)
	// Bursts of 10 failed Produce requests: the producer retries each
	// record up to 30 times, so a burst must stay below that to be
	// survivable; the point is retries, not giving up.
	const burst = 10
	hits := 0
	err := e.pipeline(ctx, n, loadOptions{rate: scale(e, 2000.0, 5000.0)}, func(ctx context.Context) error {
		for i := 0; i < bursts; i++ {
			f := e.coord.FailKafka(kmsg.Produce, kerr.NotLeaderForPartition, burst)
			wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			werr := f.Wait(wctx, burst)
			cancel()
			hits += f.Hits()
			f.Remove()
			if werr != nil {
				return precondition("Produce fault burst %d: %v", i, werr)
			}
			if err := sleep(ctx, time.Duration(e.intn(50, 300))*time.Millisecond); err != nil {
				return err
			}
		}
		return nil
	})
	e.notef("%d Produce requests answered NOT_LEADER_FOR_PARTITION in %d bursts", hits, bursts)
	return err
}

func partitionsAddedMidRun(ctx context.Context, e *env) error {
	n := scale(e, 4000, 100_000)
	const add = 3
	err := e.pipeline(ctx, n, loadOptions{rate: scale(e, 2000.0, 5000.0)}, func(ctx context.Context) error {
		at := int64(e.intn(n/6, n/3))
		if err := e.waitSent(ctx, at); err != nil {
			return err
		}
		if err := e.coord.AddPartitions(ctx, e.topic, add); err != nil {
			return precondition("add partitions: %v", err)
		}
		e.notef("added %d partitions after %d records", add, at)
		return nil
	})
	if err != nil {
		return err
	}
	ends, err := e.adm.ListEndOffsets(ctx, e.topic)
	if err != nil {
		return precondition("end offsets: %v", err)
	}
	var inNew int64
	ends.Each(func(o kadm.ListedOffset) {
		if int(o.Partition) >= e.partitions {
			inNew += o.Offset
		}
	})
	if inNew == 0 {
		return precondition("no record landed in the added partitions")
	}
	e.notef("%d records went to the added partitions", inNew)
	return nil
}

func slowConsumer(ctx context.Context, e *env) error {
	n := scale(e, 4000, 60_000)
	d := scale(e, 2*time.Second, 15*time.Second)
	var maxLag int64
	err := e.pipeline(ctx, n, loadOptions{rate: float64(n) / (d.Seconds() + 1)}, func(ctx context.Context) error {
		f := e.coord.FailS3(broker.S3Fault{Op: "PUT", Latency: 400 * time.Millisecond})
		defer f.Remove()
		deadline := time.Now().Add(d)
		for time.Now().Before(deadline) {
			if lag, err := e.lag(ctx); err == nil {
				maxLag = max(maxLag, lag)
			}
			if err := sleep(ctx, 50*time.Millisecond); err != nil {
				return err
			}
		}
		e.notef("S3 PUTs +400ms for %s: %d PUTs slowed, the group fell %d records behind", d, f.Hits(), maxLag)
		return nil
	})
	if err != nil {
		return err
	}
	if maxLag < int64(n/10) {
		return precondition("the consumer never fell behind (max lag %d of %d records)", maxLag, n)
	}
	return nil
}
