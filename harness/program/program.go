// Package program runs a consumer program of your own — any language, any
// Kafka and S3 client — as OS processes pointed at a tickflow world, the
// way the scenarios (`tickflow scenario run --consumer`) and the bench
// (`tickflow bench --consumer`) run it.
//
// A program gets the world's coordinates in its environment and as
// {placeholders} in its command line (see Coordinates), S3 credentials of
// its own per instance (so every S3 write can be attributed to the process
// that made it), and never a real AWS profile. Each instance runs with
// `sh -c` in a process group of its own, so a signal reaches a wrapper
// script's children too.
//
//	c := program.Coordinates{Brokers: w.KafkaAddrs(), Topic: "stock-ticks", Group: "mine",
//		S3Endpoint: w.S3Endpoint(), Bucket: w.Bucket(), Region: "us-east-1"}
//	p, err := program.Start("python3 consumer.py", "", c.Env(os.Environ(), 0))
//	...
//	p.Signal(syscall.SIGKILL) // the whole group
//	<-p.Done()
package program

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// SessionHint is the session timeout suggested to programs in
// KAFKA_SESSION_TIMEOUT_MS: Kafka's default group.min.session.timeout.ms,
// so a killed member is noticed in seconds, not in a client's default 10–45.
const SessionHint = 6 * time.Second

// Coordinates are where a program finds the world. In the environment and
// as placeholders:
//
//	KAFKA_BOOTSTRAP_SERVERS  {brokers}   host:port,host:port,…
//	KAFKA_TOPIC              {topic}
//	KAFKA_GROUP_ID           {group}
//	AWS_ENDPOINT_URL_S3      {s3}        http://127.0.0.1:PORT (an IP address: SDKs use path-style)
//	AWS_ENDPOINT_URL         {s3}
//	TICKFLOW_BUCKET          {bucket}
//	TICKFLOW_PREFIX          {prefix}    prepend to object keys ("" = the bucket root)
//	TICKFLOW_INSTANCE        {instance}  0, 1, 2, … one per process started
//	AWS_REGION, AWS_DEFAULT_REGION  {region}
//	AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY  different for every instance (Credentials)
//	KAFKA_SESSION_TIMEOUT_MS  a suggestion (SessionHint)
//
// plus AWS_EC2_METADATA_DISABLED=true and AWS_CONFIG_FILE /
// AWS_SHARED_CREDENTIALS_FILE pointing at an empty file, so no SDK falls
// back to a real AWS account.
type Coordinates struct {
	Brokers    []string
	Topic      string
	Group      string
	S3Endpoint string
	Bucket     string
	Prefix     string
	Region     string
}

// vars are the placeholder values of instance i.
func (c Coordinates) vars(i int) map[string]string {
	return map[string]string{
		"brokers": strings.Join(c.Brokers, ","), "topic": c.Topic, "group": c.Group,
		"s3": c.S3Endpoint, "bucket": c.Bucket, "prefix": c.Prefix,
		"instance": strconv.Itoa(i), "region": c.Region,
	}
}

// Expand replaces the {placeholders} of cmd with instance i's values.
func (c Coordinates) Expand(cmd string, i int) string {
	vars := c.vars(i)
	pairs := make([]string, 0, 2*len(vars))
	for k, v := range vars {
		pairs = append(pairs, "{"+k+"}", v)
	}
	return strings.NewReplacer(pairs...).Replace(cmd)
}

// Env is base (typically os.Environ()) without any AWS_*, KAFKA_* or
// TICKFLOW_* variable, plus instance i's coordinates and credentials.
// emptyFile is an empty file for AWS_CONFIG_FILE and
// AWS_SHARED_CREDENTIALS_FILE ("" → /dev/null).
func (c Coordinates) Env(base []string, i int, emptyFile string) []string {
	if emptyFile == "" {
		emptyFile = os.DevNull
	}
	var out []string
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "KAFKA_") || strings.HasPrefix(k, "TICKFLOW_") {
			continue
		}
		out = append(out, kv)
	}
	v := c.vars(i)
	access, secret := Credentials(i)
	return append(out,
		"KAFKA_BOOTSTRAP_SERVERS="+v["brokers"], "KAFKA_TOPIC="+v["topic"], "KAFKA_GROUP_ID="+v["group"],
		"KAFKA_SESSION_TIMEOUT_MS="+strconv.FormatInt(SessionHint.Milliseconds(), 10),
		"AWS_ENDPOINT_URL_S3="+v["s3"], "AWS_ENDPOINT_URL="+v["s3"],
		"TICKFLOW_BUCKET="+v["bucket"], "TICKFLOW_PREFIX="+v["prefix"], "TICKFLOW_INSTANCE="+v["instance"],
		"AWS_REGION="+v["region"], "AWS_DEFAULT_REGION="+v["region"],
		"AWS_ACCESS_KEY_ID="+access, "AWS_SECRET_ACCESS_KEY="+secret,
		"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE="+emptyFile, "AWS_SHARED_CREDENTIALS_FILE="+emptyFile,
	)
}

// Credentials are instance i's S3 keys. A world whose S3 checks no
// signatures (broker.S3Auth(false)) accepts them; InstanceOf maps the
// access key of a signed request back to i.
func Credentials(i int) (access, secret string) {
	return fmt.Sprintf("TICKFLOW%012d", i), fmt.Sprintf("tickflow-instance-%d-secret", i)
}

// InstanceOf is the instance whose access key this is, or -1.
func InstanceOf(access string) int {
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

// Process is one running instance of a program.
type Process struct {
	cmd     *exec.Cmd
	out     *output
	done    chan struct{}
	err     error
	started time.Time
}

// Start runs command with `sh -c` in dir ("" = the current directory) with
// env, in a process group of its own, its stdout and stderr captured. A
// simple command (one program and its arguments, no pipes, lists,
// redirections or substitutions) replaces the shell (`exec`), so the exit
// status is the program's own: a shell that does not exec its last command
// (dash) would otherwise die of the SIGTERM sent to the group while the
// program itself stops cleanly, and every clean stop would read "killed by
// SIGTERM".
func Start(command, dir string, env []string) (*Process, error) {
	if simpleCommand(command) {
		command = execCommand(command)
	}
	return StartCmd(exec.Command("/bin/sh", "-c", command), dir, env)
}

// execCommand puts exec after the variable assignments a simple command
// starts with (`FOO=1 exec prog`: the shell exports them to prog; `exec
// FOO=1 prog` would look for a program named FOO=1).
func execCommand(command string) string {
	f := strings.Fields(command)
	i := 0
	for i < len(f) && isAssignment(f[i]) {
		i++
	}
	return strings.Join(append(append(f[:i:i], "exec"), f[i:]...), " ")
}

// isAssignment reports a shell variable assignment word (NAME=value).
func isAssignment(w string) bool {
	name, _, ok := strings.Cut(w, "=")
	if !ok || name == "" {
		return false
	}
	for i, r := range name {
		if r != '_' && (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (i == 0 || r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// simpleCommand reports a command that is one program with its arguments
// (variable assignments before it are fine): nothing a shell would run as
// more than one process or after the program ends.
func simpleCommand(command string) bool {
	c := strings.TrimSpace(command)
	if c == "" || strings.ContainsAny(c, ";&|<>()`\n{}!") || strings.Contains(c, "$(") {
		return false
	}
	f := strings.Fields(c)
	i := 0
	for i < len(f) && isAssignment(f[i]) {
		i++
	}
	if i == len(f) || strings.ContainsAny(c, "'\"") {
		return false // only assignments; or quoting, which Fields would break
	}
	switch f[i] {
	case "exec", "cd", "export", "set", "if", "for", "while", "case", "until", "source", ".", "eval", "trap", "ulimit", "umask":
		return false
	}
	return true
}

// StartCmd starts cmd like Start does (own process group, output captured);
// dir and env replace cmd's when not empty/nil.
func StartCmd(cmd *exec.Cmd, dir string, env []string) (*Process, error) {
	p := &Process{cmd: cmd, out: &output{}, done: make(chan struct{})}
	if dir != "" {
		cmd.Dir = dir
	}
	if env != nil {
		cmd.Env = env
	}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("program: start %s: %w", strings.Join(cmd.Args, " "), err)
	}
	p.started = time.Now()
	go func() {
		defer close(p.done)
		p.err = cmd.Wait()
	}()
	return p, nil
}

// Pid is the process's (and its group's) id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Started is when the process was started.
func (p *Process) Started() time.Time { return p.started }

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Err is the exit error (nil: exit 0); valid once Done is closed.
func (p *Process) Err() error { return p.err }

// Output is the head and the tail (64 KiB each) of what the process wrote
// to stdout and stderr.
func (p *Process) Output() string { return p.out.String() }

// Tail is the end of the output, at most n bytes, cut at a line start
// ("(no output)" when there is none): what an error message shows.
func (p *Process) Tail(n int) string {
	s := strings.TrimSpace(p.Output())
	if s == "" {
		return "(no output)"
	}
	if len(s) <= n {
		return s
	}
	s = s[len(s)-n:]
	if i := strings.IndexByte(s, '\n'); i >= 0 && i < len(s)-1 {
		s = s[i+1:]
	}
	return "…\n" + s
}

// Signal sends sig to the process's whole group. A group already gone is
// not an error.
func (p *Process) Signal(sig syscall.Signal) {
	if err := syscall.Kill(-p.cmd.Process.Pid, sig); err != nil {
		_ = p.cmd.Process.Signal(sig)
	}
}

// Kill sends SIGKILL to the group and waits for the process to be gone.
func (p *Process) Kill() {
	p.Signal(syscall.SIGKILL)
	<-p.done
}

// Terminate sends SIGTERM to the group and waits up to grace for the
// process to exit, then kills it. It returns an error when the process had
// to be killed or exited non-zero, with its output.
func (p *Process) Terminate(grace time.Duration) error {
	p.Signal(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
		if p.err != nil {
			return fmt.Errorf("exited (%s): %s", ExitText(p.err), p.Output())
		}
		return nil
	case <-t.C:
		p.Kill()
		return stopTimeout(grace)
	}
}

// ErrStopTimeout matches (errors.Is) Terminate's error when the process
// had to be killed after its grace period.
var ErrStopTimeout = errors.New("stop timeout")

type stopTimeout time.Duration

func (d stopTimeout) Error() string {
	return fmt.Sprintf("did not stop within %s of SIGTERM; killed", time.Duration(d))
}

func (stopTimeout) Is(target error) bool { return target == ErrStopTimeout }

// KilledBySignal reports an exit by SIGKILL or SIGTERM.
func KilledBySignal(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && (ws.Signal() == syscall.SIGKILL || ws.Signal() == syscall.SIGTERM)
}

// ExitText says how a process ended: "0", "3", "killed by SIGKILL".
func ExitText(err error) string {
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

// output keeps the head and the tail of a process's output: enough to
// explain a failure however long the process ran.
type output struct {
	mu      sync.Mutex
	head    bytes.Buffer
	tail    []byte
	dropped int64
}

const outputKeep = 64 << 10

func (l *output) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(p)
	if room := outputKeep - l.head.Len(); room > 0 {
		k := min(room, len(p))
		l.head.Write(p[:k])
		p = p[k:]
	}
	if len(p) > 0 {
		l.tail = append(l.tail, p...)
		if over := len(l.tail) - outputKeep; over > 0 {
			l.dropped += int64(over)
			l.tail = append(l.tail[:0], l.tail[over:]...)
		}
	}
	return n, nil
}

func (l *output) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.head.String()
	if l.dropped > 0 {
		s += fmt.Sprintf("\n… (%d bytes not kept) …\n", l.dropped)
	}
	return strings.TrimSpace(s + string(l.tail))
}
