package harness

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/goccy/go-json"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickflow/tickflow"
	"github.com/tickflow/tickflow/harness/produce"
	"github.com/tickflow/tickflow/harness/tick"
)

// ProduceTimeout bounds each Produce call (and ReadTopic): records not
// acknowledged by then fail the test instead of hanging it.
const ProduceTimeout = 60 * time.Second

// Produced is one tick record as stored in Kafka: where it landed and what
// it holds. The Produce helpers return them for assertions such as
// Lake.RequireComplete.
type Produced struct {
	Partition int32
	Offset    int64
	Key       string
	Timestamp time.Time // the record timestamp; the lake's event_time
	Tick      tick.Tick
}

// Row is the lake row the sink should write for p.
func (p Produced) Row() (tick.Row, error) {
	return tick.RowFrom(p.Tick, p.Timestamp, p.Partition, p.Offset)
}

func (p Produced) String() string {
	return fmt.Sprintf("%d/%d %s %s", p.Partition, p.Offset, p.Tick.Symbol, p.Tick.TradeDate)
}

// Produce writes ticks to the world's topic the way tickflow's producer
// does (key = symbol, JSON value with the lake's column names, acks=all,
// idempotent) and returns them with their partitions and offsets, in the
// order given. Any record not acknowledged within ProduceTimeout fails t.
func (w *World) Produce(t testing.TB, ticks ...tick.Tick) []Produced {
	t.Helper()
	cl := w.producer(t)
	ctx, cancel := context.WithTimeout(context.Background(), ProduceTimeout)
	defer cancel()
	out := make([]Produced, len(ticks))
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for i, tk := range ticks {
		val, err := tick.Marshal(tk)
		if err != nil {
			t.Fatalf("harness: Produce: encode tick %d (%+v): %v", i, tk, err)
		}
		wg.Add(1)
		cl.Produce(ctx, &kgo.Record{Key: []byte(tk.Symbol), Value: val}, func(r *kgo.Record, err error) {
			defer wg.Done()
			if err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("tick %d (%s %s): %w", i, tk.Symbol, tk.TradeDate, err))
				mu.Unlock()
				return
			}
			// Kafka stores milliseconds: report the timestamp as stored.
			out[i] = Produced{Partition: r.Partition, Offset: r.Offset, Key: string(r.Key), Timestamp: time.UnixMilli(r.Timestamp.UnixMilli()), Tick: tk}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("harness: Produce: %d of %d records not acknowledged by %s; first: %v", len(errs), len(ticks), w.Topic(), errs[0])
	}
	return out
}

// ProduceSample produces the embedded Hang Seng sample, the good rows of
// tickflow.SampleCSV (bad rows are skipped, as tickflow's producer does).
func (w *World) ProduceSample(t testing.TB) []Produced {
	t.Helper()
	ticks, _, err := produce.ReadAll(bytes.NewReader(tickflow.SampleCSV), "indexProcessed-HSI.csv")
	if err != nil {
		t.Fatalf("harness: ProduceSample: %v", err)
	}
	return w.Produce(t, ticks...)
}

// ProduceSynthetic produces n deterministic synthetic ticks (the same n and
// seed always give the same ticks; see produce.Synthetic).
func (w *World) ProduceSynthetic(t testing.TB, n int, seed uint64) []Produced {
	t.Helper()
	return w.Produce(t, SyntheticTicks(t, n, seed)...)
}

// SyntheticTicks returns the n ticks ProduceSynthetic(n, seed) produces,
// without producing them: the expected input for your own producer.
func SyntheticTicks(t testing.TB, n int, seed uint64) []tick.Tick {
	t.Helper()
	src := produce.Synthetic(n, seed)
	ticks := make([]tick.Tick, 0, n)
	for {
		tk, err := src.Next()
		if err == io.EOF {
			return ticks
		}
		if err != nil {
			t.Fatalf("harness: synthetic ticks: %v", err)
		}
		ticks = append(ticks, tk)
	}
}

// producer is the world's own producing (and admin) client, made on first
// use and closed with the world.
func (w *World) producer(t testing.TB) *kgo.Client {
	t.Helper()
	cl, err := w.client()
	if err != nil {
		t.Fatalf("harness: producer client for %v: %v", w.KafkaAddrs(), err)
	}
	return cl
}

func (w *World) client() (*kgo.Client, error) {
	w.prodOnce.Do(func() {
		w.do(func() {
			w.prod, w.prodErr = kgo.NewClient(append(w.KafkaOptions(),
				kgo.RequiredAcks(kgo.AllISRAcks()),
				kgo.ProducerLinger(time.Millisecond),
				kgo.RecordDeliveryTimeout(ProduceTimeout),
			)...)
		})
	})
	return w.prod, w.prodErr
}

// ReadTopic returns every record of the world's topic that is there when it
// is called, decoded as ticks and ordered by partition and offset: what a
// producer under test actually wrote. A value that is not tick JSON fails t
// with its partition and offset.
func (w *World) ReadTopic(t testing.TB) []Produced {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ProduceTimeout)
	defer cancel()
	adm := w.producer(t)
	ends, err := listEnds(ctx, adm, w.Topic())
	if err != nil {
		t.Fatalf("harness: ReadTopic %s: %v", w.Topic(), err)
	}
	want := map[int32]int64{}
	start := map[string]map[int32]kgo.Offset{w.Topic(): {}}
	for p, end := range ends {
		if end > 0 {
			want[p] = end
			start[w.Topic()][p] = kgo.NewOffset().AtStart()
		}
	}
	var out []Produced
	if len(want) == 0 {
		return out
	}
	var cl *kgo.Client
	w.do(func() {
		cl, err = kgo.NewClient(append(w.KafkaOptions(), kgo.ConsumePartitions(start))...)
	})
	if err != nil {
		t.Fatalf("harness: ReadTopic %s: %v", w.Topic(), err)
	}
	defer cl.Close()
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("harness: ReadTopic %s: not every record read within %s; still waiting for partitions %v", w.Topic(), ProduceTimeout, want)
		}
		var bad error
		fs.EachRecord(func(r *kgo.Record) {
			if end, ok := want[r.Partition]; ok && r.Offset >= end {
				return
			}
			var tk tick.Tick
			if err := json.Unmarshal(r.Value, &tk); err != nil && bad == nil {
				bad = fmt.Errorf("record %d/%d is not tick JSON: %w", r.Partition, r.Offset, err)
			}
			out = append(out, Produced{Partition: r.Partition, Offset: r.Offset, Key: string(r.Key), Timestamp: time.UnixMilli(r.Timestamp.UnixMilli()), Tick: tk})
			if end, ok := want[r.Partition]; ok && r.Offset+1 >= end {
				delete(want, r.Partition)
			}
		})
		if bad != nil {
			t.Fatalf("harness: ReadTopic %s: %v", w.Topic(), bad)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Partition != out[j].Partition {
			return out[i].Partition < out[j].Partition
		}
		return out[i].Offset < out[j].Offset
	})
	return out
}
