package scenarios

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tickflow/tickflow/harness/lake"
	"github.com/tickflow/tickflow/harness/lake/rowid"
	"github.com/tickflow/tickflow/harness/program"
)

// Consumer is a consumer program of your own that the scenarios run in
// place of tickflow's built-in sink: any language, any client, started as
// OS processes (each in its own process group) with the world's
// coordinates in its environment and in {placeholders} of Command, as
// program.Coordinates lists them, and S3 credentials of its own per
// instance, so the verdict can say which process wrote each object. A
// process must stop cleanly on SIGTERM and may be killed (SIGKILL) or
// frozen (SIGSTOP) at any moment; that is the point.
type Consumer struct {
	// Command runs with `sh -c`, once per instance.
	Command string
	// Instances is how many processes run at once in the scenarios that
	// keep a steady group (0: the scenario's own number, 2 where two
	// members matter). Scenarios that kill or replace one member at a time
	// run theirs one after the other whatever this says.
	Instances int
	// Dir is the processes' working directory (default: the current one).
	Dir string
	// Prefix is TICKFLOW_PREFIX; the verdict reads every object under it
	// (default "": the whole bucket).
	Prefix string
	// DrainTimeout bounds the wait, after the load and the faults, for the
	// group to commit every partition's end and the lake to stop changing
	// (default 2 minutes; 5 with Config.Long). When it passes, the verdict
	// is made on what is there.
	DrainTimeout time.Duration
	// StopTimeout is how long a process gets after SIGTERM before SIGKILL
	// (default 20s).
	StopTimeout time.Duration
	// Table, when set, is the table the consumer writes (a Glue or Athena
	// definition, lake.ParseTable with lake.AcceptText): the verdict reads
	// delimited-text objects the way its SerDe splits them (header-less
	// CSV, TSV, Ctrl-A; the rows are named by its columns, one of them
	// volume), and checks a Parquet or JSON lake against it with
	// lake.Check, whose errors fail the iteration. Its Location's path is
	// where that check looks in the world's bucket. Without a table the
	// verdict reads JSON, Parquet and CSV with a header, and predicts what
	// a Glue crawler would make of the lake.
	Table *lake.TableDef
	// Out, when set, keeps each iteration's lake, the produced records, the
	// writes, the commits, the instances' output and the verdict under
	// Out/<scenario>/<iteration>/.
	Out string
}

// quietFor is how long the lake must stay unchanged for the drain to end
// with every partition committed; idleFor, with commits short of the end
// (a consumer that never commits, or commits elsewhere).
const (
	quietFor = 2 * time.Second
	idleFor  = 15 * time.Second
)

func (c *Consumer) instances(def int) int {
	if c.Instances > 0 {
		return c.Instances
	}
	return def
}

func (c *Consumer) drainTimeout(long bool) time.Duration {
	switch {
	case c.DrainTimeout > 0:
		return c.DrainTimeout
	case long:
		return 5 * time.Minute
	}
	return 2 * time.Minute
}

func (c *Consumer) stopTimeout() time.Duration {
	if c.StopTimeout > 0 {
		return c.StopTimeout
	}
	return 20 * time.Second
}

// Validate reports a Consumer that cannot run: no command, a working
// directory that is not one.
func (c *Consumer) Validate() error {
	if strings.TrimSpace(c.Command) == "" {
		return errors.New("consumer: empty command: give the program to run, e.g. 'python3 consumer.py'")
	}
	if c.Instances < 0 {
		return fmt.Errorf("consumer: %d instances: want 1 or more (0 for the scenario's own number)", c.Instances)
	}
	if _, err := c.text(); err != nil {
		return err
	}
	if c.Dir != "" {
		st, err := os.Stat(c.Dir)
		if err != nil {
			return fmt.Errorf("consumer: working directory %s: %w", c.Dir, err)
		}
		if !st.IsDir() {
			return fmt.Errorf("consumer: working directory %s is not a directory", c.Dir)
		}
	}
	return nil
}

// text is how the verdict splits the objects of a delimited text Table
// (nil for none, or a Parquet or JSON table).
func (c *Consumer) text() (*rowid.Text, error) {
	if c == nil || c.Table == nil || c.Table.Format != lake.FormatCSV {
		return nil, nil
	}
	f, err := c.Table.Text()
	if err != nil {
		return nil, fmt.Errorf("consumer: %w", err)
	}
	t := &rowid.Text{Delim: f.Delim, Quote: f.Quote, Escape: f.Escape, Null: f.Null, Skip: f.SkipHeader}
	for _, col := range c.Table.Columns {
		t.Columns = append(t.Columns, col.Name)
	}
	if err := t.Validate(); err != nil {
		return nil, fmt.Errorf("consumer: table %s (%s): %w", c.Table.Name, c.Table.Source, err)
	}
	return t, nil
}

// coordinates are where consumer instances find the world; endpoint is
// the S3 endpoint they write to (the recording proxy or a fault proxy).
func (e *env) coordinates(endpoint string) program.Coordinates {
	return program.Coordinates{Brokers: e.w.KafkaAddrs(), Topic: e.topic, Group: e.group,
		S3Endpoint: endpoint, Bucket: e.w.Bucket(), Prefix: e.cfg.Consumer.Prefix, Region: e.w.Region()}
}

// startConsumerProc starts the next instance of the user's command, its S3
// endpoint set to endpoint (the recording proxy, or a fault proxy in front
// of it).
func (e *env) startConsumerProc(endpoint string) (*sinkProc, error) {
	c := e.cfg.Consumer
	e.mu.Lock()
	i := e.nextInstance
	e.nextInstance++
	e.mu.Unlock()
	co := e.coordinates(endpoint)
	pp, err := program.Start(co.Expand(c.Command, i), c.Dir, co.Env(os.Environ(), i, e.emptyFile))
	if err != nil {
		return nil, precondition("start consumer instance %d (%s): %v", i, c.Command, err)
	}
	p := &sinkProc{Process: pp, instance: i}
	e.mu.Lock()
	e.procs = append(e.procs, p)
	e.mu.Unlock()
	e.track(p)
	return p, nil
}

// consumerRun wraps a consumer process as a sinkRun, so the scenarios that
// supervise in-process sinks run it unchanged: cancel is SIGTERM (then
// SIGKILL after StopTimeout), err is a non-zero exit.
func (e *env) consumerRun(ctx context.Context) (*sinkRun, error) {
	p, err := e.startConsumerProc(e.s3Direct())
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithCancel(ctx)
	r := &sinkRun{proc: p, cancel: cancel, done: make(chan struct{})}
	go func() {
		select {
		case <-rctx.Done():
			_ = p.terminateWithin(e.cfg.Consumer.stopTimeout())
		case <-p.Done():
		}
	}()
	go func() {
		defer close(r.done)
		<-p.Done()
		if p.Err() != nil && !program.KilledBySignal(p.Err()) {
			r.err = fmt.Errorf("%s exited: %v", p.name(), p.Err())
		}
	}()
	return r, nil
}

// consumerTails is the end of every instance's output, for a failed run.
func (e *env) consumerTails(n int) []string {
	e.mu.Lock()
	procs := append([]*sinkProc(nil), e.procs...)
	e.mu.Unlock()
	var out []string
	for _, p := range procs {
		status := "running"
		if p.exited() {
			status = "exit: " + program.ExitText(p.Err())
		}
		out = append(out, fmt.Sprintf("instance %d (%s): %s", p.instance, status, p.Tail(n)))
	}
	return out
}

// writeInstanceLogs keeps every instance's output under dir.
func (e *env) writeInstanceLogs(dir string) error {
	e.mu.Lock()
	procs := append([]*sinkProc(nil), e.procs...)
	e.mu.Unlock()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, p := range procs {
		status := "still running"
		if p.exited() {
			status = program.ExitText(p.Err())
		}
		body := fmt.Sprintf("# instance %d, started %s, exit %s\n%s\n", p.instance, p.Started().Format(time.RFC3339Nano), status, p.Output())
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("instance-%d.log", p.instance)), []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
}
