package scenarios

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickflow/tickflow/broker"
	"github.com/tickflow/tickflow/harness/tick"
)

// ProducerRun is what one producer run of a producer scenario did to the
// log, judged by reading the topic back: each record carries a sequence
// number unique in the run (the tick's volume), so a record present twice
// is a duplicate and an acknowledged one absent is lost.
type ProducerRun struct {
	Name         string `json:"name"` // e.g. "idempotent", "not idempotent"
	Acks         string `json:"acks"` // all, 1, 0
	Idempotent   bool   `json:"idempotent"`
	Acknowledged int64  `json:"acknowledged"` // records the producer was told were written
	InLog        int64  `json:"in_log"`       // records of this run found in the topic, copies included
	Distinct     int64  `json:"distinct"`     // acknowledged records found at least once
	Duplicated   int64  `json:"duplicated"`   // copies beyond the first
	Lost         int64  `json:"lost"`         // acknowledged records in no partition
	// OutOfOrder counts records whose first copy sits after the first copy
	// of a later record of the same key and partition.
	OutOfOrder int64 `json:"out_of_order"`
	FaultHits  int   `json:"fault_hits"` // Produce requests the fault answered
	// DuplicateExamples are up to 5 duplicated records with every offset
	// holding a copy.
	DuplicateExamples []string `json:"duplicate_examples,omitempty"`
}

// Line is the run in one line of English.
func (r ProducerRun) Line() string {
	return fmt.Sprintf("%s producer (acks=%s): %d acknowledged, %d in the log, %d duplicated, %d lost, %d out of order, after %d Produce requests answered REQUEST_TIMED_OUT after the append",
		r.Name, r.Acks, r.Acknowledged, r.InLog, r.Duplicated, r.Lost, r.OutOfOrder, r.FaultHits)
}

// seqRange is the sequence numbers [from, to) one producer run sent.
type seqRange struct{ from, to int64 }

// judgeProducerRuns reads the topic back once and fills in each run's
// counts from the records of its sequence range.
func (e *env) judgeProducerRuns(ctx context.Context, runs []ProducerRun, ranges []seqRange) error {
	type copyAt struct {
		p   int32
		off int64
		key string
	}
	copies := map[int64][]copyAt{}
	err := e.readTopic(ctx, e.topic, func(r *kgo.Record) {
		var t tick.Tick
		if tick.Decode(r.Value, &t) != nil {
			return
		}
		copies[t.Volume] = append(copies[t.Volume], copyAt{r.Partition, r.Offset, string(r.Key)})
	})
	if err != nil {
		return precondition("read %s back: %v", e.topic, err)
	}
	for i := range runs {
		run, rg := &runs[i], ranges[i]
		type pk struct {
			p   int32
			key string
		}
		type first struct {
			seq, off int64
			key      pk
		}
		var firsts []first
		for seq := rg.from; seq < rg.to; seq++ {
			cs := copies[seq]
			run.InLog += int64(len(cs))
			if len(cs) == 0 {
				run.Lost++
				continue
			}
			run.Distinct++
			run.Duplicated += int64(len(cs) - 1)
			if len(cs) > 1 && len(run.DuplicateExamples) < 5 {
				offs := ""
				for j, c := range cs {
					if j > 0 {
						offs += ", "
					}
					offs += fmt.Sprint(c.off)
				}
				run.DuplicateExamples = append(run.DuplicateExamples,
					fmt.Sprintf("sequence %d key %s: %d copies in partition %d at offsets %s", seq, cs[0].key, len(cs), cs[0].p, offs))
			}
			firsts = append(firsts, first{seq, cs[0].off, pk{cs[0].p, cs[0].key}})
		}
		// Order per key: walk first copies by offset; a sequence lower
		// than one already seen for the key is out of order.
		sort.Slice(firsts, func(a, b int) bool { return firsts[a].off < firsts[b].off })
		highest := map[pk]int64{}
		for _, f := range firsts {
			if h, ok := highest[f.key]; ok && f.seq < h {
				run.OutOfOrder++
				continue
			}
			highest[f.key] = f.seq
		}
	}
	return nil
}

// produceTimeoutRetries runs the scenario producer twice against Produce
// requests answered REQUEST_TIMED_OUT after the append: idempotent (the
// broker recognises each retry: no duplicates) and not (each retry is
// appended again: duplicates). It passes only when both happen, so it
// fails if idempotence stops preventing duplicates and if the fault stops
// producing them.
func produceTimeoutRetries(ctx context.Context, e *env) error {
	n := scale(e, 2000, 50_000)
	faults := scale(e, 5, 40)
	rate := scale(e, 2000.0, 5000.0)
	var (
		runs   []ProducerRun
		ranges []seqRange
	)
	for _, idem := range []bool{true, false} {
		run := ProducerRun{Name: "idempotent", Acks: "all", Idempotent: idem}
		if !idem {
			run.Name = "not idempotent"
		}
		from := e.seq.Load()
		notIdem := !idem || (e.cfg.hooks != nil && e.cfg.hooks.noIdempotence)
		load := e.produceAsync(ctx, n, loadOptions{rate: rate, notIdempotent: notIdem})
		install := func() *broker.Fault { return e.coord.FailProduceAfterAppend(e.topic, kerr.RequestTimedOut, 1) }
		if e.cfg.hooks != nil && e.cfg.hooks.produceFault != nil {
			install = func() *broker.Fault { return e.cfg.hooks.produceFault(e) }
		}
		// One fault at each of `faults` seeded points of the run, each
		// waited for: a Produce request appended, then answered with
		// REQUEST_TIMED_OUT.
		var ferr error
		for i := 0; i < faults && ferr == nil; i++ {
			at := from + int64(e.intn(n*(i+1)/(faults+2), n*(i+2)/(faults+2)))
			if ferr = e.waitSent(ctx, at); ferr != nil {
				break
			}
			f := install()
			wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			if err := f.Wait(wctx, 1); err != nil && !load.finished() {
				ferr = precondition("the %s producer's Produce fault %d did not fire: %v", run.Name, i, err)
			}
			cancel()
			run.FaultHits += f.Hits()
			f.Remove()
		}
		perr := load.wait()
		if err := scenarioErr(ferr, perr, nil); err != nil {
			return err
		}
		if run.FaultHits == 0 {
			return precondition("the fault never fired during the %s producer's run", run.Name)
		}
		run.Acknowledged = int64(n)
		runs = append(runs, run)
		ranges = append(ranges, seqRange{from, e.seq.Load()})
	}
	if err := e.judgeProducerRuns(ctx, runs, ranges); err != nil {
		return err
	}
	for _, r := range runs {
		e.notef("%s", r.Line())
	}
	e.producerCounts = judgeTimeoutRetries(runs)
	return nil
}

// judgeTimeoutRetries fails produce-timeout-retries unless the idempotent
// run (runs[0]) has no duplicates and the other (runs[1]) has some, and no
// run lost an acknowledged record.
func judgeTimeoutRetries(runs []ProducerRun) *counts {
	var c counts
	for _, r := range runs {
		c.records += r.Acknowledged
		c.rows += r.InLog
		c.lost += r.Lost
		if r.Lost > 0 {
			c.failf("%s producer: %d acknowledged records are not in the log", r.Name, r.Lost)
		}
	}
	idem, unsafe := runs[0], runs[1]
	// Only the idempotent run's duplicates are a failure; the other run's
	// are the hazard this scenario shows.
	c.duplicated = idem.Duplicated
	if idem.Duplicated > 0 {
		c.failf("idempotent producer: %d duplicated records after retries of appended Produce requests (idempotence did not deduplicate), e.g. %v", idem.Duplicated, idem.DuplicateExamples)
	}
	if unsafe.Duplicated == 0 {
		c.failf("producer without idempotence: no duplicates although %d Produce requests were answered REQUEST_TIMED_OUT after the append (the fault no longer shows the hazard)", unsafe.FaultHits)
	}
	if idem.OutOfOrder > 0 {
		c.failf("idempotent producer: %d records out of order per key", idem.OutOfOrder)
	}
	c.producerRuns = runs
	return &c
}
