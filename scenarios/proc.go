package scenarios

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tickflow/tickflow/broker"
)

// sinkProc is a `tickflow sink` child process.
type sinkProc struct {
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{}
	err  error
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 64<<10 {
		return len(p), nil // keep the head; enough to explain a failure
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.TrimSpace(l.b.String())
}

// tickflowBin is the binary sink-kill-9 runs.
func (e *env) tickflowBin() (string, error) {
	bin := e.cfg.TickflowBin
	if bin == "" {
		bin = os.Getenv("TICKFLOW_BIN")
	}
	if bin == "" {
		return "", precondition("sink-kill-9 needs the tickflow binary: set Config.TickflowBin or $TICKFLOW_BIN")
	}
	if _, err := os.Stat(bin); err != nil {
		return "", precondition("tickflow binary: %v", err)
	}
	return bin, nil
}

// startSinkProc starts `tickflow sink` against the env's world.
func (e *env) startSinkProc(bin string) (*sinkProc, error) {
	args := []string{"sink",
		"--brokers", strings.Join(e.w.KafkaAddrs(), ","),
		"--s3-endpoint", e.w.S3Endpoint(), "--bucket", e.w.Bucket(),
		"--topic", e.topic, "--group", e.group,
		"--region", e.w.Region(), "--access-key", broker.AccessKey, "--secret-key", broker.SecretKey,
		"--flush-records", "150", "--flush-interval", "200ms",
		// A killed process's partitions move on after this, as in
		// production (only shorter).
		"--session-timeout", killedSessionTimeout.String(), "--heartbeat-interval", "100ms",
	}
	cmd := exec.Command(bin, args...)
	p := &sinkProc{cmd: cmd, out: &lockedBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		return nil, precondition("start %s sink: %v", bin, err)
	}
	go func() {
		defer close(p.done)
		p.err = cmd.Wait()
	}()
	return p, nil
}

func (p *sinkProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *sinkProc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// terminate sends SIGTERM (a clean shutdown: flush, commit, leave) and
// returns the exit error; after 60s it kills.
func (p *sinkProc) terminate() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(60 * time.Second)
	defer t.Stop()
	select {
	case <-p.done:
		if p.err != nil {
			return fmt.Errorf("tickflow sink exited with %v: %s", p.err, p.out.String())
		}
		return nil
	case <-t.C:
		p.kill()
		return errors.New("tickflow sink did not stop within 60s of SIGTERM; killed")
	}
}

// sinkKill9 runs `tickflow sink` as a child process, kills it with SIGKILL
// at seeded times while the load is produced, restarts it, and finally lets
// one drain the backlog and shut down on SIGTERM.
func sinkKill9(ctx context.Context, e *env) error {
	bin, err := e.tickflowBin()
	if err != nil {
		return err
	}
	n := scale(e, 3000, 20_000)
	kills := scale(e, 3, 8)
	load := e.produceAsync(ctx, n, loadOptions{rate: float64(n) / scale(e, 3.0, 10.0)})
	for i := 0; i < kills; i++ {
		p, err := e.startSinkProc(bin)
		if err != nil {
			_ = load.wait()
			return err
		}
		d := time.Duration(e.intn(300, 1500)) * time.Millisecond
		serr := sleep(ctx, d)
		if p.exited() {
			_ = load.wait()
			return precondition("tickflow sink exited by itself (%v): %s", p.err, p.out.String())
		}
		p.kill()
		e.mu.Lock()
		e.restarts++
		e.mu.Unlock()
		e.notef("kill -9 #%d after %s", i, d)
		if serr != nil {
			_ = load.wait()
			return serr
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
	jctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	jerr := poll(jctx, func() bool {
		g, err := e.adm.DescribeGroups(jctx, e.group)
		return err == nil && len(g[e.group].Members) > 0 || p.exited()
	})
	cancel()
	if jerr != nil || p.exited() {
		p.kill()
		return precondition("the last tickflow sink never joined group %s (%v): %s", e.group, jerr, p.out.String())
	}
	derr := e.drain(ctx, scale(e, 90*time.Second, 180*time.Second))
	terr := p.terminate()
	if derr != nil {
		return fmt.Errorf("%w (sink output: %s)", derr, p.out.String())
	}
	return terr
}

// killedSessionTimeout is the session timeout of the sink processes: the
// group coordinator evicts a killed one after it, and the restarted sink
// gets its partitions.
const killedSessionTimeout = time.Second
