package scenarios

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/tickflow/tickflow/harness/objstore"
	"github.com/tickflow/tickflow/harness/sink"
)

// errCrash is what a crash hook returns: the sink acts as if its process
// died right there.
var errCrash = errors.New("scenario: simulated crash")

// errStoreDead is what a dying store answers once it has "died".
var errStoreDead = errors.New("scenario: the sink's S3 connection died")

// crashMode is one way a sink dies mid-flush.
type crashMode int

const (
	crashBeforeUpload   crashMode = iota // hook: an object is about to be uploaded
	crashAfterUpload                     // hook: uploaded, offset not committed yet
	crashAfterCommit                     // hook: a partition's offset was committed
	crashStoreBeforePut                  // the store dies on its m-th PUT, which never lands
	crashStoreAfterPut                   // the m-th PUT lands, then the store dies (the sink sees an error)
	crashCancel                          // the context is cancelled at a random time (clean shutdown)
	numCrashModes
)

func (m crashMode) String() string {
	return [...]string{"before-upload", "after-upload", "after-commit", "store-dies-before-put", "store-dies-after-put", "cancel"}[m]
}

// dyingStore is an objstore.Store that dies at a chosen PUT: from then on
// every call fails, as if the process had lost its network.
type dyingStore struct {
	objstore.Store
	dieAt      int  // 1-based PUT number
	afterWrite bool // let that PUT land before dying

	mu   sync.Mutex
	puts int
	dead bool
}

func (d *dyingStore) check() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dead {
		return errStoreDead
	}
	return nil
}

func (d *dyingStore) Put(ctx context.Context, key string, body []byte, meta map[string]string) error {
	return d.put(ctx, func(ctx context.Context) error { return d.Store.Put(ctx, key, body, meta) })
}

func (d *dyingStore) PutIfAbsent(ctx context.Context, key string, body []byte, meta map[string]string) error {
	return d.put(ctx, func(ctx context.Context) error { return d.Store.PutIfAbsent(ctx, key, body, meta) })
}

// put counts a PUT and dies at dieAt, before or after write lands it.
func (d *dyingStore) put(ctx context.Context, write func(context.Context) error) error {
	d.mu.Lock()
	if d.dead {
		d.mu.Unlock()
		return errStoreDead
	}
	d.puts++
	dying := d.puts == d.dieAt
	if dying && !d.afterWrite {
		d.dead = true
	}
	d.mu.Unlock()
	if dying && !d.afterWrite {
		return errStoreDead
	}
	err := write(ctx)
	if dying {
		d.mu.Lock()
		d.dead = true
		d.mu.Unlock()
		return errStoreDead
	}
	return err
}

func (d *dyingStore) Get(ctx context.Context, key string) ([]byte, objstore.Object, error) {
	if err := d.check(); err != nil {
		return nil, objstore.Object{}, err
	}
	return d.Store.Get(ctx, key)
}

func (d *dyingStore) Head(ctx context.Context, key string) (objstore.Object, error) {
	if err := d.check(); err != nil {
		return objstore.Object{}, err
	}
	return d.Store.Head(ctx, key)
}

func (d *dyingStore) List(ctx context.Context, prefix string) ([]objstore.Object, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	return d.Store.List(ctx, prefix)
}

func (d *dyingStore) Delete(ctx context.Context, key string) error {
	if err := d.check(); err != nil {
		return err
	}
	return d.Store.Delete(ctx, key)
}

func (d *dyingStore) DeleteIfMatch(ctx context.Context, key, etag string) error {
	if err := d.check(); err != nil {
		return err
	}
	return d.Store.DeleteIfMatch(ctx, key, etag)
}

// crashingSink starts a sink that will die in the given mode at its m-th
// matching event.
func (e *env) crashingSink(ctx context.Context, mode crashMode, m int) (*sinkRun, error) {
	switch mode {
	case crashStoreBeforePut, crashStoreAfterPut:
		st := &dyingStore{Store: e.store, dieAt: m, afterWrite: mode == crashStoreAfterPut}
		// Few, fast retries: a dead store should end Run quickly.
		return e.startSink(ctx, st, sink.Retry(2, 5*time.Millisecond, 10*time.Millisecond))
	case crashCancel:
		r, err := e.startSink(ctx, nil)
		if err != nil {
			return nil, err
		}
		d := time.Duration(m) * 60 * time.Millisecond
		go func() {
			select {
			case <-time.After(d):
				r.cancel()
			case <-r.done:
			}
		}()
		return r, nil
	}
	point := map[crashMode]sink.HookPoint{crashBeforeUpload: sink.BeforeUpload, crashAfterUpload: sink.AfterUpload, crashAfterCommit: sink.AfterCommit}[mode]
	var (
		mu   sync.Mutex
		seen int
	)
	hook := sink.Hook(func(ev sink.HookEvent) error {
		if ev.Point != point {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		seen++
		if seen == m {
			return errCrash
		}
		return nil
	})
	return e.startSink(ctx, nil, hook)
}

// sinkCrashMidFlush: while the load is produced, sinks are started and die
// at seeded points one after the other; then a healthy sink drains and the
// lake is checked. The first crash of every iteration is between upload and
// commit, the window exactly-once sinks most often get wrong.
func sinkCrashMidFlush(ctx context.Context, e *env) error {
	n := scale(e, 1500, 6000)
	crashes := scale(e, 3, 6)
	load := e.produceAsync(ctx, n, loadOptions{rate: float64(n) / scale(e, 2.0, 4.0)})
	for i := 0; i < crashes; i++ {
		mode := crashAfterUpload
		if i > 0 {
			mode = crashMode(e.rng.IntN(int(numCrashModes)))
		}
		m := e.intn(1, 8)
		r, err := e.crashingSink(ctx, mode, m)
		if err != nil {
			_ = load.wait()
			return err
		}
		// Wait until it dies, or until there is nothing left to do (the
		// crash point was never reached: the load is in the lake).
		err = poll(ctx, func() bool {
			if r.exited() {
				return true
			}
			if load.finished() {
				b, err := e.behind(ctx)
				return err == nil && b == ""
			}
			return false
		})
		if err != nil {
			r.cancel()
			_ = load.wait()
			return err
		}
		if !r.exited() {
			_ = r.stop()
			e.notef("crash %d (%s #%d) not reached: the lake was complete first", i, mode, m)
			continue
		}
		if r.err != nil {
			e.mu.Lock()
			e.restarts++
			e.mu.Unlock()
		}
		e.notef("crash %d: %s #%d (%s)", i, mode, m, firstLine(r.err))
	}
	if err := load.wait(); err != nil {
		return err
	}
	sv := e.supervise(ctx, nil)
	derr := e.drain(ctx, scale(e, 60*time.Second, 180*time.Second))
	return scenarioErr(derr, nil, sv.stop())
}

// firstLine is an error's first line ("clean exit" for nil).
func firstLine(err error) string {
	if err == nil {
		return "clean exit"
	}
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}
