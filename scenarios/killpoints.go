package scenarios

import (
	"context"
	"fmt"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tickflow/tickflow/harness/program"
)

// Event-triggered kills: the world sees every S3 write (the recording
// proxy) and every OffsetCommit (the broker), so it can SIGKILL a consumer
// in the two windows where most consumers lose or duplicate records:
//
//   - kill-after-put: an object has landed in S3 and the consumer has not
//     committed the offsets it covers (it does not even get S3's answer):
//     the next owner re-reads those records. A consumer whose object names
//     do not follow from the records writes them again under another name
//     (duplicates); one with a per-process counter overwrites an older
//     object (loss).
//   - kill-after-commit: the offsets are committed and the consumer dies
//     before its next PUT: a consumer that committed records it had not
//     written yet (auto-commit, commit before PUT) loses them.
//
// One consumer process runs at a time, so the one that wrote or committed
// is the one killed; the next starts once the group is empty.

// killPoint is where killAt kills.
type killPoint string

const (
	afterPut    killPoint = "put"
	afterCommit killPoint = "commit"
)

func killAfterPut(ctx context.Context, e *env) error    { return e.killAt(ctx, afterPut) }
func killAfterCommit(ctx context.Context, e *env) error { return e.killAt(ctx, afterCommit) }

func (e *env) killAt(ctx context.Context, point killPoint) error {
	bin, err := e.tickflowBin()
	if err != nil {
		return err
	}
	if err := e.recording(ctx); err != nil {
		return err
	}
	n := scale(e, 3000, 20_000)
	kills := scale(e, 3, 8)
	// PUTs come by the hundred; commits may come only every few seconds
	// (auto-commit timers): the load lasts long enough for every kill to
	// find one, and the kill comes at one of the first two.
	span, most := scale(e, 5.0, 15.0), 5
	if point == afterCommit {
		span, most = scale(e, 25.0, 60.0), 2
	}
	load := e.produceAsync(ctx, n, loadOptions{rate: float64(n) / span})
	fail := func(err error) error {
		_ = load.wait()
		return err
	}
	fired := 0
	for i := 0; i < kills; i++ {
		p, err := e.startSinkProc(bin)
		if err != nil {
			return fail(err)
		}
		e.track(p)
		m := e.intn(1, most)
		var seen atomic.Int32
		var killed atomic.Bool
		trigger := func() {
			if int(seen.Add(1)) == m && killed.CompareAndSwap(false, true) {
				p.Signal(syscall.SIGKILL)
			}
		}
		stop := func() {}
		switch point {
		case afterPut:
			e.rec.setOnWrite(func(w s3Write) {
				if w.Op != "delete" {
					trigger()
				}
			})
			stop = func() { e.rec.setOnWrite(nil) }
		case afterCommit:
			stop = e.coord.WatchKafka(kmsg.OffsetCommit, func(req kmsg.Request) {
				if oc, ok := req.(*kmsg.OffsetCommitRequest); ok && oc.Group == e.group && len(oc.Topics) > 0 {
					trigger()
				}
			})
		}
		caughtUp := func() bool {
			if !load.finished() {
				return false
			}
			b, err := e.behind(ctx)
			return err == nil && b == ""
		}
		err = poll(ctx, func() bool { return p.exited() || caughtUp() })
		stop()
		if err != nil {
			p.kill()
			return fail(err)
		}
		if !killed.Load() {
			if !p.exited() {
				if err := e.stopMember(p); err != nil {
					return fail(err)
				}
				e.notef("kill %d (after %s #%d) not reached: the group had committed everything first", i, point, m)
				continue
			}
			e.notef("the consumer exited by itself before kill %d (%s): %s", i, program.ExitText(p.Err()), p.Tail(300))
		} else {
			<-p.Done()
			fired++
			e.restarted(1)
			e.notef("kill -9 #%d at the process's event %d: right after %s (%s after it started)", i, m, describePoint(point), time.Since(p.Started()).Round(time.Millisecond))
		}
		if _, err := e.awaitEmptyGroup(ctx); err != nil {
			return fail(err)
		}
	}
	if err := load.wait(); err != nil {
		return err
	}
	if fired == 0 {
		return precondition("no kill fired: the consumer caught up every time before its %s #1-%d (does it %s?)", point, most,
			map[killPoint]string{afterPut: "write to S3 through AWS_ENDPOINT_URL_S3", afterCommit: "commit offsets to Kafka"}[point])
	}
	p, err := e.startSinkProc(bin)
	if err != nil {
		return err
	}
	e.track(p)
	if err := e.awaitSoleMember(ctx, p); err != nil {
		p.kill()
		return err
	}
	derr := e.drain(ctx, scale(e, 90*time.Second, 180*time.Second))
	serr := e.stopMember(p)
	if derr != nil {
		return fmt.Errorf("%w (sink output: %s)", derr, p.Tail(2000))
	}
	return serr
}

func describePoint(p killPoint) string {
	if p == afterPut {
		return "its PUT landed in S3 (before S3's answer reached it)"
	}
	return "its OffsetCommit reached the broker"
}
