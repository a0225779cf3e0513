package bench

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickflow/tickflow/broker"
	"github.com/tickflow/tickflow/harness/objstore"
	"github.com/tickflow/tickflow/harness/produce"
	"github.com/tickflow/tickflow/harness/program"
	"github.com/tickflow/tickflow/harness/tick"
)

// mainTopic holds the N records every throughput phase reads.
const mainTopic = "bench-ticks"

// world is one embedded world plus the clients the phases share.
type world struct {
	w      *broker.World
	store  objstore.Store
	admin  *kadm.Client
	adminC *kgo.Client
}

func startWorld(ctx context.Context, cfg *config, opts ...broker.Option) (*world, error) {
	opts = append([]broker.Option{broker.Partitions(cfg.partitions), broker.Topic(mainTopic, cfg.partitions),
		broker.Logger(cfg.log)}, opts...)
	w, err := broker.Start(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("bench: start the embedded world: %w", err)
	}
	st, err := objstore.NewS3(ctx, objstore.S3Config{Endpoint: w.S3Endpoint(), Bucket: w.Bucket(), Region: w.Region(),
		AccessKey: broker.AccessKey, SecretKey: broker.SecretKey})
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("bench: S3 client: %w", err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.KafkaAddrs()...), kgo.MetadataMinAge(100*time.Millisecond))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("bench: kafka admin client: %w", err)
	}
	return &world{w: w, store: st, admin: kadm.NewClient(cl), adminC: cl}, nil
}

func (w *world) Close() {
	w.adminC.Close()
	w.w.Close()
}

// numbered numbers the synthetic ticks' volume volumeBase+i, so every
// record of a topic can be found in a lake of any layout (lakeCount).
type numbered struct {
	src *produce.SyntheticSource
	i   int64
}

func (s *numbered) Next() (tick.Tick, error) {
	t, err := s.src.Next()
	if err != nil {
		return t, err
	}
	t.Volume = volumeBase + s.i
	s.i++
	return t, nil
}

// produce writes n synthetic ticks to topic, unpaced, and times it. Each
// tick's volume is volumeBase + its index.
func (w *world) produce(ctx context.Context, topic string, n int, seed uint64, opts ...produce.Option) (Trial, error) {
	opts = append([]produce.Option{produce.Topic(topic), produce.KafkaOptions(kgo.MetadataMinAge(100 * time.Millisecond))}, opts...)
	p, err := produce.New(ctx, w.w.KafkaAddrs(), opts...)
	if err != nil {
		return Trial{}, fmt.Errorf("bench: producer: %w", err)
	}
	defer p.Close()
	start := time.Now()
	res, err := p.Produce(ctx, &numbered{src: produce.Synthetic(n, seed)})
	if err != nil {
		return Trial{}, fmt.Errorf("bench: produce %d ticks to %s: %w", n, topic, err)
	}
	if res.Produced != int64(n) {
		return Trial{}, fmt.Errorf("bench: produced %d of %d ticks to %s", res.Produced, n, topic)
	}
	return Trial{Records: res.Produced, Seconds: time.Since(start).Seconds()}, nil
}

// endOffsets returns the end offset of every partition of topic.
func (w *world) endOffsets(ctx context.Context, topic string) (map[int32]int64, error) {
	ends, err := w.admin.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("bench: end offsets of %s: %w", topic, err)
	}
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out, nil
}

// createTopic creates a topic with the bench's partition count.
func (w *world) createTopic(ctx context.Context, topic string, partitions int) error {
	if err := w.w.Coordinator().CreateTopic(ctx, topic, partitions); err != nil {
		return fmt.Errorf("bench: create topic %s: %w", topic, err)
	}
	return nil
}

// Validate checks options without running anything; the error is a
// *ConfigError naming the bad option.
func Validate(opts ...Option) error {
	cfg := defaults()
	for _, o := range opts {
		o(&cfg)
	}
	return cfg.validate()
}

// Run runs the whole benchmark in a fresh embedded world and returns the
// report. It takes roughly (runs × 3 + 6) × N / sink rate seconds, plus
// the latency phase. Bad options give a *ConfigError.
//
//	rep, err := bench.Run(ctx, bench.Records(200_000))
//	rep.WriteTable(os.Stdout)
func Run(ctx context.Context, opts ...Option) (*Report, error) {
	cfg := defaults()
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	began := time.Now()
	rep := &Report{Records: cfg.records, Partitions: cfg.partitions, Consumers: cfg.consumers, Format: string(cfg.format),
		Runs: cfg.runs, GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version()}
	if err := throughput(ctx, &cfg, rep); err != nil {
		return nil, err
	}
	if !cfg.skipMemory {
		m, err := memory(ctx, &cfg)
		if err != nil {
			return nil, err
		}
		rep.Memory = m
	}
	rep.Seconds = time.Since(began).Seconds()
	rep.Compute()
	return rep, nil
}

// throughput runs every phase but memory in one in-memory world.
func throughput(ctx context.Context, cfg *config, rep *Report) error {
	cfg.progress("starting the embedded world")
	var wopts []broker.Option
	if cfg.consumerCmd != "" {
		// One world for every phase, so the user's program reads the very
		// records the ceiling and the sink read, in the same brokers; its
		// S3 takes any signature, so each instance can sign with
		// credentials of its own (program.Credentials), as in the
		// scenarios. The sink phases then skip the signature check too.
		wopts = append(wopts, broker.S3Auth(false))
	}
	w, err := startWorld(ctx, cfg, wopts...)
	if err != nil {
		return err
	}
	defer w.Close()
	cfg.progress(fmt.Sprintf("producing %s synthetic ticks", count(int64(cfg.records))))
	rep.Produce, err = w.produce(ctx, mainTopic, cfg.records, cfg.seed)
	if err != nil {
		return err
	}
	ends, err := w.endOffsets(ctx, mainTopic)
	if err != nil {
		return err
	}
	total := sum(ends)
	if total != int64(cfg.records) {
		return fmt.Errorf("bench: topic %s holds %d records, want %d", mainTopic, total, cfg.records)
	}
	b := &phaser{cfg: cfg, w: w}
	type phaseFn func(ctx context.Context, run int) (Trial, error)
	phases := []struct {
		name string
		fn   phaseFn
	}{
		{PhaseCeiling, func(ctx context.Context, i int) (Trial, error) { return b.ceiling(ctx, i, false) }},
		{PhaseDecode, func(ctx context.Context, i int) (Trial, error) { return b.ceiling(ctx, i, true) }},
		{PhaseSink, func(ctx context.Context, i int) (Trial, error) { return b.sinkRun(ctx, i, ends) }},
		{PhaseSeed, b.seed},
	}
	for _, ph := range phases {
		p := &Phase{Name: ph.name}
		for i := range cfg.runs {
			r, err := ph.fn(ctx, i)
			if err != nil {
				return fmt.Errorf("bench: %s phase, run %d: %w", ph.name, i+1, err)
			}
			r.finish()
			cfg.progress(fmt.Sprintf("%-8s run %d/%d: %s records in %.2fs = %s records/s", ph.name, i+1, cfg.runs,
				count(r.Records), r.Seconds, count(int64(r.Rate))))
			p.Runs = append(p.Runs, r)
		}
		rep.Phases = append(rep.Phases, p)
		if ph.name == PhaseCeiling {
			c := p.Runs[0]
			rep.RecordBytes = float64(c.Bytes) / float64(c.Records)
			rep.Produce.Bytes = int64(rep.RecordBytes * float64(rep.Produce.Records))
		}
	}
	if cfg.consumerCmd != "" {
		st, err := b.consumer(ctx, ends)
		if err != nil {
			return err
		}
		rep.Consumer = st
		if st.Drained {
			cfg.progress(fmt.Sprintf("consumer: drained by its %s: %s records in %.2fs from its first fetch = %s records/s; %.2fs from its start",
				st.DrainedBy, count(st.Records), st.ConsumeSeconds, count(int64(st.Rate)), st.DrainSeconds))
			rep.Phases = append(rep.Phases, &Phase{Name: PhaseConsumer, Runs: []Trial{st.Run}})
		} else {
			cfg.progress(fmt.Sprintf("consumer: timed out after %s with %s of %s records done", cfg.drainTimeout, count(st.Records), count(total)))
		}
	}
	rep.Compute()
	lat, err := b.latency(ctx, rep.Phase(PhaseSink).MedianRate)
	if err != nil {
		return fmt.Errorf("bench: latency phase: %w", err)
	}
	rep.Latency = lat
	return nil
}

func sum(m map[int32]int64) int64 {
	var t int64
	for _, v := range m {
		t += v
	}
	return t
}

// runTimeout bounds one phase run: generous (a stall must end the bench
// with an error, not hang it), proportional to the records.
func runTimeout(records int64) time.Duration {
	return 60*time.Second + time.Duration(records)*20*time.Microsecond
}

var errStalled = errors.New("no progress before the run's deadline")

// procStatus reads a "Vm…:  123 kB" field of /proc/self/status in bytes;
// 0 where /proc is not available.
func procStatus(field string) uint64 { return program.StatusField(0, field) }
