// Package myproducer is an example of a user's own Kafka producer, tested
// with tickflow's harness (see producer_test.go): it publishes stock ticks
// keyed by symbol and returns only when every one is acknowledged.
package myproducer

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickflow/tickflow/harness/tick"
)

// Publish sends ticks to topic on cl and waits for all acknowledgements. It
// relies on the client's idempotent producer (franz-go's default with
// acks=all): retries after NOT_LEADER_FOR_PARTITION or a leader move
// neither lose nor duplicate a record.
func Publish(ctx context.Context, cl *kgo.Client, topic string, ticks []tick.Tick) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for _, t := range ticks {
		val, err := json.Marshal(t)
		if err != nil {
			return fmt.Errorf("myproducer: encode %s %s: %w", t.Symbol, t.TradeDate, err)
		}
		wg.Add(1)
		cl.Produce(ctx, &kgo.Record{Topic: topic, Key: []byte(t.Symbol), Value: val}, func(_ *kgo.Record, err error) {
			defer wg.Done()
			if err != nil {
				mu.Lock()
				if first == nil {
					first = fmt.Errorf("myproducer: publish %s %s: %w", t.Symbol, t.TradeDate, err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return first
}
