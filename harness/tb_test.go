package harness_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// recordingTB is a testing.TB for running harness code where no *testing.T
// exists (testable examples) or where a test must see a failure the harness
// reports (bad options, assertion messages). Fatal stops the function like
// t.Fatal does; cleanups run when the function returns.
type recordingTB struct {
	testing.TB // nil: calling a method not overridden here panics
	name       string
	echo       bool // print failures to stdout (examples show them)

	mu       sync.Mutex
	msgs     []string
	failed   bool
	cleanups []func()
}

// run calls fn with a fresh recordingTB in its own goroutine (so FailNow
// can end it with runtime.Goexit), then runs its cleanups.
func run(name string, fn func(t testing.TB)) *recordingTB {
	r := &recordingTB{name: name}
	r.run(fn)
	return r
}

// runTest runs fn like a test for a testable example; a failure is printed,
// so the example's output no longer matches.
func runTest(fn func(t testing.TB)) {
	r := &recordingTB{name: "Example", echo: true}
	r.run(fn)
}

func (r *recordingTB) run(fn func(t testing.TB)) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer r.runCleanups()
		fn(r)
	}()
	<-done
}

func (r *recordingTB) runCleanups() {
	for {
		r.mu.Lock()
		n := len(r.cleanups)
		if n == 0 {
			r.mu.Unlock()
			return
		}
		f := r.cleanups[n-1]
		r.cleanups = r.cleanups[:n-1]
		r.mu.Unlock()
		f()
	}
}

func (r *recordingTB) record(msg string) {
	r.mu.Lock()
	r.msgs = append(r.msgs, msg)
	r.failed = true
	r.mu.Unlock()
	if r.echo {
		fmt.Println("FAIL:", msg)
	}
}

// Messages returns every failure message so far, joined.
func (r *recordingTB) Messages() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.msgs, "\n")
}

func (r *recordingTB) Helper()      {}
func (r *recordingTB) Name() string { return r.name }
func (r *recordingTB) Cleanup(f func()) {
	r.mu.Lock()
	r.cleanups = append(r.cleanups, f)
	r.mu.Unlock()
}
func (r *recordingTB) Errorf(format string, args ...any) { r.record(fmt.Sprintf(format, args...)) }
func (r *recordingTB) Error(args ...any)                 { r.record(fmt.Sprint(args...)) }
func (r *recordingTB) Fatalf(format string, args ...any) { r.Errorf(format, args...); r.FailNow() }
func (r *recordingTB) Fatal(args ...any)                 { r.Error(args...); r.FailNow() }
func (r *recordingTB) Fail()                             { r.mu.Lock(); r.failed = true; r.mu.Unlock() }
func (r *recordingTB) FailNow()                          { r.Fail(); runtime.Goexit() }
func (r *recordingTB) Logf(string, ...any)               {}
func (r *recordingTB) Log(...any)                        {}
func (r *recordingTB) Context() context.Context          { return context.Background() }
func (r *recordingTB) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
