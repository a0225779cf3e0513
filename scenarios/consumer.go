package scenarios

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Consumer is a consumer program of your own that the scenarios run in
// place of tickflow's built-in sink: any language, any client, started as
// OS processes (each in its own process group) with the world's
// coordinates in its environment and in {placeholders} of Command:
//
//	KAFKA_BOOTSTRAP_SERVERS  {brokers}   host:port,host:port,…
//	KAFKA_TOPIC              {topic}
//	KAFKA_GROUP_ID           {group}
//	AWS_ENDPOINT_URL_S3      {s3}        http://127.0.0.1:PORT (an IP: SDKs use path-style)
//	AWS_ENDPOINT_URL         {s3}
//	TICKFLOW_BUCKET          {bucket}
//	TICKFLOW_PREFIX          {prefix}    prepend to your object keys ("" = bucket root)
//	TICKFLOW_INSTANCE        {instance}  0, 1, 2, … one per process started
//	AWS_REGION, AWS_DEFAULT_REGION  {region}
//	AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY  different for every instance
//	KAFKA_SESSION_TIMEOUT_MS a suggestion (6000): dead members are noticed sooner
//
// plus AWS_EC2_METADATA_DISABLED=true and empty AWS_CONFIG_FILE and
// AWS_SHARED_CREDENTIALS_FILE, so a real AWS profile is never used. The
// per-instance credentials let the verdict say which process wrote each
// object. A process must stop cleanly on SIGTERM and may be killed
// (SIGKILL) or frozen (SIGSTOP) at any moment; that is the point.
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
	// Out, when set, keeps each iteration's lake, the produced records, the
	// writes, the commits, the instances' output and the verdict under
	// Out/<scenario>/<iteration>/.
	Out string
}

// sessionHint is the session timeout suggested to consumers
// (KAFKA_SESSION_TIMEOUT_MS): Kafka's group.min.session.timeout.ms.
const sessionHint = 6 * time.Second

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

// instanceKeys are the credentials of instance i: the fake S3 accepts any,
// and the recorder attributes each write to its instance by the key.
func instanceKeys(i int) (access, secret string) {
	return fmt.Sprintf("TICKFLOW%012d", i), fmt.Sprintf("tickflow-instance-%d-secret", i)
}

// instanceOf maps an access key back to its instance (-1: not one of ours).
func instanceOf(access string) int {
	n, ok := strings.CutPrefix(access, "TICKFLOW")
	if !ok || len(n) != 12 {
		return -1
	}
	i, err := strconv.Atoi(n)
	if err != nil {
		return -1
	}
	return i
}

// consumerVars are the coordinates instance i gets, by placeholder name.
func (e *env) consumerVars(endpoint string, i int) map[string]string {
	return map[string]string{
		"brokers": strings.Join(e.w.KafkaAddrs(), ","), "topic": e.topic, "group": e.group,
		"s3": endpoint, "bucket": e.w.Bucket(), "prefix": e.cfg.Consumer.Prefix,
		"instance": strconv.Itoa(i), "region": e.w.Region(),
	}
}

// expand replaces {name} placeholders in cmd.
func expand(cmd string, vars map[string]string) string {
	pairs := make([]string, 0, 2*len(vars))
	for k, v := range vars {
		pairs = append(pairs, "{"+k+"}", v)
	}
	return strings.NewReplacer(pairs...).Replace(cmd)
}

// consumerEnv is the process environment of instance i: the parent's,
// without anything that could point an SDK at a real AWS account, plus the
// world's coordinates.
func (e *env) consumerEnv(vars map[string]string, i int, emptyFile string) []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "KAFKA_") || strings.HasPrefix(k, "TICKFLOW_") {
			continue
		}
		out = append(out, kv)
	}
	access, secret := instanceKeys(i)
	return append(out,
		"KAFKA_BOOTSTRAP_SERVERS="+vars["brokers"], "KAFKA_TOPIC="+vars["topic"], "KAFKA_GROUP_ID="+vars["group"],
		"KAFKA_SESSION_TIMEOUT_MS="+strconv.FormatInt(sessionHint.Milliseconds(), 10),
		"AWS_ENDPOINT_URL_S3="+vars["s3"], "AWS_ENDPOINT_URL="+vars["s3"],
		"TICKFLOW_BUCKET="+vars["bucket"], "TICKFLOW_PREFIX="+vars["prefix"], "TICKFLOW_INSTANCE="+vars["instance"],
		"AWS_REGION="+vars["region"], "AWS_DEFAULT_REGION="+vars["region"],
		"AWS_ACCESS_KEY_ID="+access, "AWS_SECRET_ACCESS_KEY="+secret,
		"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE="+emptyFile, "AWS_SHARED_CREDENTIALS_FILE="+emptyFile,
	)
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
	vars := e.consumerVars(endpoint, i)
	cmd := exec.Command("/bin/sh", "-c", expand(c.Command, vars))
	cmd.Dir = c.Dir
	cmd.Env = e.consumerEnv(vars, i, e.emptyFile)
	p, err := startProc(cmd, i)
	if err != nil {
		return nil, precondition("start consumer instance %d (%s): %v", i, c.Command, err)
	}
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
	r := &sinkRun{cancel: cancel, done: make(chan struct{})}
	go func() {
		select {
		case <-rctx.Done():
			_ = p.terminateWithin(e.cfg.Consumer.stopTimeout())
		case <-p.done:
		}
	}()
	go func() {
		defer close(r.done)
		<-p.done
		if p.err != nil && !killedByUs(p) {
			r.err = fmt.Errorf("%s exited: %v", p.name(), p.err)
		}
	}()
	return r, nil
}

// killedByUs reports an exit by SIGKILL or SIGTERM (the scenario's own
// doing), which the supervisor should not count as the program failing.
func killedByUs(p *sinkProc) bool {
	var ee *exec.ExitError
	if !errors.As(p.err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && (ws.Signal() == syscall.SIGKILL || ws.Signal() == syscall.SIGTERM)
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
			status = "exit: " + exitText(p.err)
		}
		out = append(out, fmt.Sprintf("instance %d (%s): %s", p.instance, status, tail(p.out.String(), n)))
	}
	return out
}

// exitText says how a process ended.
func exitText(err error) string {
	if err == nil {
		return "0"
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "killed by " + signalName(ws.Signal())
		}
		return strconv.Itoa(ee.ExitCode())
	}
	return err.Error()
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
			status = exitText(p.err)
		}
		body := fmt.Sprintf("# instance %d, started %s, exit %s\n%s\n", p.instance, p.started.Format(time.RFC3339Nano), status, p.out.String())
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("instance-%d.log", p.instance)), []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// signalName is a signal's conventional name (SIGKILL, not "killed").
func signalName(s syscall.Signal) string {
	switch s {
	case syscall.SIGKILL:
		return "SIGKILL"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGSEGV:
		return "SIGSEGV"
	case syscall.SIGABRT:
		return "SIGABRT"
	}
	return s.String()
}
