// Package myconsumer is an example of a user's own Kafka consumer, tested
// with tickflow's harness (see consumer_test.go): a consumer group member
// that reads stock ticks and keeps each symbol's highest close and how many
// distinct records it has seen.
package myconsumer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
)

// tick is the part of a tickflow tick record this consumer needs.
type tick struct {
	Symbol string  `json:"symbol"`
	Close  float64 `json:"close"`
}

type recordID struct {
	partition int32
	offset    int64
}

// Highs consumes ticks and tracks the highest close per symbol. Kafka
// delivers at least once (a rebalance can replay records), so it counts
// each (partition, offset) once and the maximum is idempotent anyway.
type Highs struct {
	cl *kgo.Client

	mu   sync.Mutex
	high map[string]float64
	seen map[recordID]bool
}

// New joins group on topic at brokers; extra options are added last (the
// test passes the harness's fast timings).
func New(brokers []string, topic, group string, extra ...kgo.Opt) (*Highs, error) {
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(), // commit only what has been processed
	}, extra...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("myconsumer: %w", err)
	}
	return &Highs{cl: cl, high: map[string]float64{}, seen: map[recordID]bool{}}, nil
}

// Run consumes until ctx is done, committing after each processed poll,
// then leaves the group and closes the client.
func (h *Highs) Run(ctx context.Context) error {
	defer h.cl.Close()
	for {
		fs := h.cl.PollFetches(ctx)
		if ctx.Err() != nil || fs.IsClientClosed() {
			return nil
		}
		fs.EachError(func(t string, p int32, err error) {
			// Retriable errors (a stopped broker, a moved leader) are
			// handled by the client; nothing to do but keep polling.
			_ = err
		})
		var bad error
		fs.EachRecord(func(r *kgo.Record) {
			var tk tick
			if err := json.Unmarshal(r.Value, &tk); err != nil {
				bad = errors.Join(bad, fmt.Errorf("record %d/%d: %w", r.Partition, r.Offset, err))
				return
			}
			h.mu.Lock()
			h.seen[recordID{r.Partition, r.Offset}] = true
			if c, ok := h.high[tk.Symbol]; !ok || tk.Close > c {
				h.high[tk.Symbol] = tk.Close
			}
			h.mu.Unlock()
		})
		if bad != nil {
			return fmt.Errorf("myconsumer: %w", bad)
		}
		// A failed commit (say, during a rebalance) only means some records
		// are seen again: the result does not change.
		_ = h.cl.CommitUncommittedOffsets(context.WithoutCancel(ctx))
	}
}

// Seen is the number of distinct records processed.
func (h *Highs) Seen() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.seen)
}

// High returns the highest close seen per symbol.
func (h *Highs) High() map[string]float64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string]float64, len(h.high))
	for k, v := range h.high {
		out[k] = v
	}
	return out
}
