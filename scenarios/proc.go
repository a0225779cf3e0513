package scenarios

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tickflow/tickflow/broker"
	"github.com/tickflow/tickflow/harness/program"
)

// sinkProc is a consumer child process: `tickflow sink`, or an instance of
// the user's Consumer command, each in a process group of its own.
type sinkProc struct {
	*program.Process
	instance int // user consumers: TICKFLOW_INSTANCE; -1 for tickflow sink
}

// tickflowBin is the binary sink-kill-9 runs.
func (e *env) tickflowBin() (string, error) {
	if e.user() {
		return "", nil // the user's consumer runs instead
	}
	bin := e.cfg.TickflowBin
	if bin == "" {
		bin = os.Getenv("TICKFLOW_BIN")
	}
	if bin == "" {
		return "", precondition("this scenario runs `tickflow sink` processes and needs the binary: set Config.TickflowBin or $TICKFLOW_BIN")
	}
	if _, err := os.Stat(bin); err != nil {
		return "", precondition("tickflow binary: %v", err)
	}
	return bin, nil
}

// startSinkProc starts `tickflow sink` against the env's world.
func (e *env) startSinkProc(bin string) (*sinkProc, error) {
	return e.startSinkProcVia(bin, e.s3Direct())
}

// startSinkProcVia starts `tickflow sink` writing to S3 at endpoint (the
// world's, or a proxy in front of it), with extra flags appended.
//
// With a user's Consumer it starts the next instance of that instead (bin
// and extra are tickflow sink's and do not apply).
func (e *env) startSinkProcVia(bin, endpoint string, extra ...string) (*sinkProc, error) {
	if e.user() {
		return e.startConsumerProc(endpoint)
	}
	args := []string{"sink",
		"--brokers", strings.Join(e.w.KafkaAddrs(), ","),
		"--s3-endpoint", endpoint, "--bucket", e.w.Bucket(),
		"--topic", e.topic, "--group", e.group,
		"--region", e.w.Region(), "--access-key", broker.AccessKey, "--secret-key", broker.SecretKey,
		"--flush-records", "150", "--flush-interval", "200ms",
		// A killed process's partitions move on after this, as in
		// production (only shorter).
		"--session-timeout", killedSessionTimeout.String(), "--heartbeat-interval", "100ms",
	}
	pp, err := program.StartCmd(exec.Command(bin, append(args, extra...)...), "", nil)
	if err != nil {
		return nil, precondition("start %s sink: %v", bin, err)
	}
	return &sinkProc{Process: pp, instance: -1}, nil
}

// name says which process this is, for messages.
func (p *sinkProc) name() string {
	if p.instance < 0 {
		return "tickflow sink"
	}
	return fmt.Sprintf("consumer instance %d", p.instance)
}

func (p *sinkProc) exited() bool { return p.Exited() }

// kill sends SIGKILL to the process group and waits for the process to be
// gone.
func (p *sinkProc) kill() { p.Kill() }

// terminate sends SIGTERM (a clean shutdown: flush, commit, leave) and
// returns the exit error; after 60s it kills.
func (p *sinkProc) terminate() error { return p.terminateWithin(60 * time.Second) }

// terminateWithin is terminate with a grace period of d before the kill.
func (p *sinkProc) terminateWithin(d time.Duration) error {
	if err := p.Terminate(d); err != nil {
		return fmt.Errorf("%s %w", p.name(), err)
	}
	return nil
}

// sinkKill9 runs `tickflow sink` as a child process, kills it with SIGKILL
// at seeded times while the load is produced, restarts it, and finally lets
// one drain the backlog and shut down on SIGTERM.
//
// The killed process's member leaves the group when its 1 s session times
// out, as in production (only shorter); the next process starts once the
// group is empty, so the scenario knows the group's next member is that
// process. The seeded kill delay counts from the moment the process is the
// group's stable member, i.e. while it consumes, uploads and commits, which
// is where a kill can lose or repeat records. (Killing a process earlier,
// while its JoinGroup is parked, tests nothing of the sink, which owns no
// partitions yet; crash-mid-join does that. It also used to hit a kfake
// limitation, now covered by the world's join keep-alive: see
// TestWorldEvictsMemberKilledInJoin.)
func sinkKill9(ctx context.Context, e *env) error {
	bin, err := e.tickflowBin()
	if err != nil {
		return err
	}
	n := scale(e, 3000, 20_000)
	kills := scale(e, 3, 8)
	// A user's consumer also gets records after every kill: a consumer
	// fast enough to read the whole first load before its first
	// auto-commit would otherwise commit the end of the topic, and its
	// successors, with nothing left to read, could never show what a
	// restart does to its lake (seen in CI: the seed consumer, which
	// overwrites its own objects on restart, found 0 lost).
	var after int
	if e.user() {
		after = n / (2 * kills)
	}
	load := e.produceAsync(ctx, n-after*kills, loadOptions{rate: float64(n) / scale(e, 3.0, 10.0)})
	fail := func(err error) error {
		_ = load.wait()
		return err
	}
	for i := 0; i < kills; i++ {
		p, err := e.startSinkProc(bin)
		if err != nil {
			return fail(err)
		}
		started := time.Now()
		if err := e.awaitSoleMember(ctx, p); err != nil {
			p.kill()
			return fail(err)
		}
		joined := time.Since(started)
		d := time.Duration(e.intn(300, 1500)) * time.Millisecond
		if e.user() {
			// A user's consumer may commit on a timer (kafka-python,
			// librdkafka and franz-go auto-commit every 5 s): the first kill
			// comes before its first commit, the second well after it (the
			// window where auto-commit loses records), the others anywhere.
			switch i {
			case 0:
				d = time.Duration(e.intn(1000, 4500)) * time.Millisecond
			case 1:
				// After its first commit, however long that takes.
				d = time.Duration(e.intn(300, 2500)) * time.Millisecond
				wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
				_ = poll(wctx, func() bool { return e.rec.commitsSince(started) > 0 || p.exited() })
				cancel()
				if e.rec.commitsSince(started) == 0 {
					e.notef("kill -9 #%d: the consumer had not committed within 20s of its start", i)
				}
			default:
				d = time.Duration(e.intn(1000, 9000)) * time.Millisecond
			}
		}
		serr := sleep(ctx, d)
		if p.exited() {
			return fail(precondition("tickflow sink exited by itself (%v): %s", p.Err(), p.Output()))
		}
		p.kill()
		killed := time.Now()
		e.mu.Lock()
		e.restarts++
		e.mu.Unlock()
		if serr != nil {
			return fail(serr)
		}
		evicted, err := e.awaitEmptyGroup(ctx)
		if err != nil {
			return fail(err)
		}
		when := "the sink joined"
		if e.user() && i == 1 {
			when = "its first commit"
		}
		note := fmt.Sprintf("kill -9 #%d %s after %s (joined %s after its start); group empty %s later",
			i, d, when, joined.Round(time.Millisecond), time.Since(killed).Round(time.Millisecond))
		if evicted > 0 {
			note += fmt.Sprintf(" after evicting %d member(s) that outlived their session timeout", evicted)
		}
		e.notef("%s", note)
		if after > 0 {
			// Before the next process starts, so that it has records to
			// write whatever its predecessor committed; after the first
			// load, so that the sequence numbers stay seeded.
			if err := load.wait(); err != nil {
				return err
			}
			if err := e.produce(ctx, after, loadOptions{}); err != nil {
				return err
			}
		}
	}
	if err := load.wait(); err != nil {
		return err
	}
	p, err := e.startSinkProc(bin)
	if err != nil {
		return err
	}
	// Let it join the group first: SIGTERM before the process has set up
	// its signal handling would kill it, not stop it cleanly.
	if err := e.awaitSoleMember(ctx, p); err != nil {
		p.kill()
		return err
	}
	derr := e.drain(ctx, scale(e, 90*time.Second, 180*time.Second))
	terr := e.stopMember(p)
	if derr != nil {
		return fmt.Errorf("%w (sink output: %s)", derr, p.Output())
	}
	return terr
}

// joinTimeout bounds how long a started sink process may take to become
// the group's stable member: process start-up and one rebalance, with room
// for a loaded CI machine.
const joinTimeout = 60 * time.Second

// describeGroup returns the group's state and member IDs.
func (e *env) describeGroup(ctx context.Context) (state string, members []string, err error) {
	gs, err := e.adm.DescribeGroups(ctx, e.group)
	if err != nil {
		return "", nil, err
	}
	g := gs[e.group]
	if g.Err != nil && !errors.Is(g.Err, kerr.GroupIDNotFound) {
		return "", nil, g.Err
	}
	for _, m := range g.Members {
		members = append(members, m.MemberID)
	}
	return g.State, members, nil
}

// awaitSoleMember waits until the group, empty when p started, is Stable
// with exactly one member: p has joined and owns every partition. It fails
// if p exits or the deadline passes, with the group's last state in the
// error.
func (e *env) awaitSoleMember(ctx context.Context, p *sinkProc) error {
	jctx, cancel := context.WithTimeout(ctx, joinTimeout)
	defer cancel()
	var last string
	err := poll(jctx, func() bool {
		if p.exited() {
			return true
		}
		st, ids, err := e.describeGroup(jctx)
		if err != nil {
			if jctx.Err() == nil {
				last = err.Error()
			}
			return false
		}
		last = fmt.Sprintf("state %s, members %v", st, ids)
		return st == "Stable" && len(ids) == 1
	})
	switch {
	case p.exited():
		return precondition("tickflow sink exited before it joined group %s (%v): %s", e.group, p.Err(), p.Output())
	case err != nil && ctx.Err() != nil:
		return ctx.Err()
	case err != nil:
		return precondition("tickflow sink did not become the stable member of group %s within %s (last seen: %s): %s",
			e.group, joinTimeout, last, p.Output())
	}
	return nil
}

// awaitEmptyGroup waits, with no sink process running, until the killed
// processes' members have left the group. Their session timeout removes
// them; a member still there well after it (kfake keeps one whose join
// response could not be delivered) is evicted with a LeaveGroup naming it,
// which is safe because no process is alive. It returns how many members it
// evicted.
func (e *env) awaitEmptyGroup(ctx context.Context) (int, error) {
	empty := func(ctx context.Context) ([]string, error) {
		var ids []string
		err := poll(ctx, func() bool {
			_, m, err := e.describeGroup(ctx)
			if err == nil {
				ids = m
			}
			return err == nil && len(m) == 0
		})
		return ids, err
	}
	wctx, cancel := context.WithTimeout(ctx, 5*killedSessionTimeout)
	left, err := empty(wctx)
	cancel()
	if err == nil {
		return 0, nil
	}
	if ctx.Err() != nil {
		return 0, ctx.Err()
	}
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Group = e.group
	for _, id := range left {
		m := kmsg.NewLeaveGroupRequestMember()
		m.MemberID = id
		req.Members = append(req.Members, m)
	}
	resp, err := req.RequestWith(lctx, e.kcl)
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
	}
	if err != nil {
		return 0, precondition("evict the killed sinks' members %v, still in group %s %s after the kill: %v", left, e.group, 5*killedSessionTimeout, err)
	}
	if still, err := empty(lctx); err != nil {
		return 0, precondition("group %s still has members %v after evicting the killed sinks' members: %v", e.group, still, err)
	}
	return len(left), nil
}

// killedSessionTimeout is the session timeout of the sink processes: the
// group coordinator evicts a killed one after it, and the restarted sink
// gets its partitions.
const killedSessionTimeout = time.Second
