package sink

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/tickflow/tickflow/harness/objstore"
)

// retry runs op up to attempts times with exponential backoff and full
// jitter, each attempt bounded by callTimeout. It gives up early when ctx
// ends, and at once when op answers ErrPreconditionFailed or errNotOwned. The error names what was being done (what) and the last cause.
func (s *Sink) retry(ctx context.Context, what string, op func(ctx context.Context) error) error {
	var err error
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, s.cfg.callTimeout)
		err = op(actx)
		cancel()
		if err == nil || errors.Is(err, objstore.ErrPreconditionFailed) || errors.Is(err, errNotOwned) {
			return err // a 412 is an answer, not a failure to retry; so is losing the partition
		}
		if attempt >= s.cfg.retryAttempts || ctx.Err() != nil {
			return fmt.Errorf("sink: %s failed after %d attempts: %w", what, attempt, err)
		}
		s.stats.retries.Add(1)
		backoff := s.cfg.retryBase << min(attempt-1, 20)
		if backoff > s.cfg.retryMax || backoff <= 0 {
			backoff = s.cfg.retryMax
		}
		wait := time.Duration(rand.Int64N(int64(backoff) + 1))
		s.cfg.log.Warn("sink: retrying", "op", what, "attempt", attempt, "wait", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("sink: %s: %w (last error: %v)", what, ctx.Err(), err)
		}
	}
}

func (s *Sink) put(ctx context.Context, key string, body []byte, meta map[string]string) error {
	return s.retry(ctx, "upload "+key+" to "+s.store.String(), func(ctx context.Context) error {
		return s.store.Put(ctx, key, body, meta)
	})
}

func (s *Sink) head(ctx context.Context, key string) (objstore.Object, error) {
	var o objstore.Object
	err := s.retry(ctx, "head "+key, func(ctx context.Context) error {
		var err error
		o, err = s.store.Head(ctx, key)
		return err
	})
	return o, err
}
