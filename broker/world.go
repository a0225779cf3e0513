package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ErrClosed is returned by Coordinator actions after World.Close.
var ErrClosed = errors.New("broker: world is closed")

// World is a running embedded Kafka cluster plus S3. Create it with Start
// and stop it with Close.
type World struct {
	cfg  config
	log  *slog.Logger
	done chan struct{} // closed by Close: wakes delays and hangs

	cluster *kfake.Cluster
	lns     *listenerSet
	kcl     *kgo.Client // the coordinator's own admin connection
	adm     *kadm.Client
	coord   *Coordinator

	s3  *s3Server
	tls *kafkaTLS // KafkaTLS's certificates; nil without it

	dd *dataDir

	closeOnce sync.Once
	closeErr  error
}

// Start starts a Kafka cluster and an S3 server on 127.0.0.1 and returns
// when both accept requests. ctx bounds start-up only; the world runs until
// Close. Invalid options give an error naming the option and the fix; a taken
// port gives an error wrapping ErrAddrInUse. On error nothing is left
// running.
func Start(ctx context.Context, opts ...Option) (*World, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("broker: start: %w", err)
	}
	log := cfg.logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w := &World{cfg: cfg, log: log, done: make(chan struct{})}
	if err := w.start(ctx); err != nil {
		w.Close()
		return nil, err
	}
	log.Info("broker: world started", "kafka", w.KafkaAddrs(), "s3", w.S3Endpoint(), "bucket", cfg.bucket)
	return w, nil
}

func (w *World) start(ctx context.Context) error {
	cfg := w.cfg
	if cfg.dataDir != "" {
		dd, err := openDataDir(cfg.dataDir)
		if err != nil {
			return err
		}
		w.dd = dd
	}
	if err := w.startKafka(ctx); err != nil {
		return err
	}
	s3, err := startS3(ctx, cfg, w.dd, w.log, w.done)
	if err != nil {
		return err
	}
	w.s3 = s3
	return nil
}

func (w *World) startKafka(ctx context.Context) error {
	cfg := w.cfg
	host, port, _ := splitAddr(cfg.kafkaAddr, 9092) // validated
	if cfg.tls {
		kt, err := generateTLS(cfg.tlsDir, host)
		if err != nil {
			return err
		}
		w.tls = kt
	}
	w.lns = newListenerSet(host)
	if w.tls != nil {
		w.lns.tls = w.tls.server
	}
	w.lns.sasl = cfg.sasl != nil
	if logsKafka(w.log) {
		w.lns.rl = &requestLog{log: w.log}
	}
	kopts := []kfake.Opt{
		kfake.NumBrokers(cfg.brokers),
		kfake.ListenFn(w.lns.listen),
		kfake.DefaultNumPartitions(cfg.partitions),
		kfake.ClusterID("tickflow"),
		kfake.GroupMinSessionTimeout(cfg.minSession),
	}
	kopts = append(kopts, w.kfakeSecurity()...)
	if port != 0 {
		ports := make([]int, cfg.brokers)
		for i := range ports {
			ports[i] = port + i
		}
		kopts = append(kopts, kfake.Ports(ports...))
	}
	for _, t := range cfg.topicList() {
		kopts = append(kopts, kfake.SeedTopics(int32(t.partitions), t.name))
	}
	if cfg.autoCreate {
		kopts = append(kopts, kfake.AllowAutoTopicCreation())
	}
	if w.dd != nil {
		kopts = append(kopts, kfake.DataDir(w.dd.kafkaDir()))
	}
	if w.log.Enabled(ctx, slog.LevelDebug) {
		kopts = append(kopts, kfake.WithLogger(kfakeLogger{w.log}))
	}
	c, err := kfake.NewCluster(kopts...)
	if err != nil {
		w.lns.cutAll()
		if isAddrInUse(err) {
			last := port + cfg.brokers - 1
			return configError("KafkaAddr", "--kafka-addr", cfg.kafkaAddr, "a port in %d..%d is taken (%w); pick another address or stop what holds it: %w",
				port, last, err, ErrAddrInUse)
		}
		return fmt.Errorf("broker: start kafka: %w", err)
	}
	w.cluster = c
	// Real Kafka answers INVALID_TOPIC_EXCEPTION for a Metadata request
	// naming a topic it could never create ("bad topic", "x/../y"), with or
	// without auto-creation; kfake would auto-create it. A one-request fault
	// per invalid name gives the same answer, leaving valid names alone.
	c.ControlKey(int16(kmsg.Metadata), func(req kmsg.Request) (kmsg.Response, error, bool) {
		m, ok := req.(*kmsg.MetadataRequest)
		if !ok {
			return nil, nil, false
		}
		invalid := map[string]int{}
		for _, t := range m.Topics {
			if t.Topic != nil && validTopic(*t.Topic) != nil {
				invalid[*t.Topic]++
			}
		}
		for name, n := range invalid {
			w.log.Debug("broker: metadata for an invalid topic name", "topic", name)
			c.Fault(kfake.Fault{
				Keys:  []kmsg.Key{kmsg.Metadata},
				Topic: name,
				Err:   kerr.InvalidTopicException,
				Count: n,
				When:  func(r kmsg.Request) bool { return r == req },
			})
		}
		return nil, nil, false
	})
	if cfg.autoCreate {
		// kfake auto-creates only when a Metadata request carries the v4+
		// AllowAutoTopicCreation flag. Real Kafka auto-creates for v0–v3
		// requests too (they have no flag), and old clients such as
		// kafka-python 2.0.2 rely on it: set the flag on their behalf and
		// let kfake handle the request as usual.
		c.ControlKey(int16(kmsg.Metadata), func(req kmsg.Request) (kmsg.Response, error, bool) {
			if m, ok := req.(*kmsg.MetadataRequest); ok && m.Version < 4 {
				m.AllowAutoTopicCreation = true
			}
			return nil, nil, false
		})
	}

	addrs := c.ListenAddrs() // broker ids are 0..n-1 in this order
	w.coord = &Coordinator{w: w, controller: int32(len(addrs) - 1)}
	for i, a := range addrs {
		w.coord.brokers = append(w.coord.brokers, &brokerState{id: int32(i), addr: a, up: true})
	}

	kcl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(addrs...),
		kgo.MetadataMinAge(100 * time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }),
		kgo.DialTimeout(2 * time.Second),
		kgo.RetryTimeout(10 * time.Second),
	}, w.KafkaClientOptions()...)...)
	if err != nil {
		return fmt.Errorf("broker: admin client: %w", err)
	}
	w.kcl = kcl
	w.adm = kadm.NewClient(kcl)
	newJoinKeepAlive(w.coord, kcl, w.done)
	if w.lns.rl != nil {
		lookup := w.topicIDs
		w.lns.rl.lookup.Store(&lookup)
	}

	if w.dd != nil {
		// Persisted state replaces seed topics: create configured topics that
		// the previous run did not have.
		for _, t := range cfg.topicList() {
			err := w.coord.CreateTopic(ctx, t.name, t.partitions)
			if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
				return err
			}
		}
	}
	return nil
}

// topicIDs lists the cluster's topics by id for the request log, or nil
// once the world is closing or when the cluster does not answer in time.
func (w *World) topicIDs() map[[16]byte]string {
	select {
	case <-w.done:
		return nil
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	td, err := w.adm.ListTopics(ctx)
	if err != nil {
		return nil
	}
	out := make(map[[16]byte]string, len(td))
	for name, d := range td {
		out[d.ID] = name
	}
	return out
}

// KafkaAddrs returns the "127.0.0.1:port" bootstrap addresses of the brokers
// that are up, ordered by broker id.
func (w *World) KafkaAddrs() []string {
	var out []string
	for _, b := range w.coord.Brokers() {
		if b.Up {
			out = append(out, b.Addr)
		}
	}
	return out
}

// S3Endpoint returns the S3 endpoint URL, "http://127.0.0.1:port". Use
// path-style addressing.
func (w *World) S3Endpoint() string { return "http://" + w.s3.addr }

// Bucket returns the bucket created at start.
func (w *World) Bucket() string { return w.cfg.bucket }

// Region returns the S3 region (DefaultRegion).
func (w *World) Region() string { return DefaultRegion }

// Coordinator returns the owner of cluster state and fault knobs.
func (w *World) Coordinator() *Coordinator { return w.coord }

// Close stops the S3 server, every broker and every goroutine the world
// started, and with DataDir saves Kafka state to disk. It is idempotent and
// safe to call concurrently; every call returns the first call's result.
func (w *World) Close() error {
	w.closeOnce.Do(func() { w.closeErr = w.close() })
	return w.closeErr
}

func (w *World) close() error {
	close(w.done)
	var errs []error
	if w.coord != nil {
		w.coord.mu.Lock()
		w.coord.closed = true
		w.coord.mu.Unlock()
	}
	if w.s3 != nil {
		errs = append(errs, w.s3.close())
	}
	if w.kcl != nil {
		w.kcl.Close()
	}
	if w.cluster != nil {
		w.cluster.Close()
	}
	if w.lns != nil {
		// kfake closes its listeners but not the connections clients
		// still hold; cut them so their goroutines end.
		w.lns.cutAll()
	}
	if w.dd != nil {
		errs = append(errs, w.dd.close())
	}
	if w.tls != nil && w.tls.tempDir != "" {
		errs = append(errs, os.RemoveAll(w.tls.tempDir))
	}
	w.log.Info("broker: world closed")
	return errors.Join(errs...)
}

// dataDir is a locked directory holding kafka/ and s3/.
type dataDir struct {
	root string
	lock *os.File
}

func openDataDir(root string) (*dataDir, error) {
	fix := "pass a directory you can write to (DataDir / --data-dir)"
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, configError("DataDir", "--data-dir", root, "cannot create it: %w; %s", err, fix)
	}
	for _, sub := range []string{"kafka", "s3"} {
		if err := os.MkdirAll(filepath.Join(root, sub), 0o755); err != nil {
			return nil, configError("DataDir", "--data-dir", root, "cannot create %s/: %w; %s", sub, err, fix)
		}
	}
	probe, err := os.CreateTemp(root, ".write-probe-*")
	if err != nil {
		return nil, configError("DataDir", "--data-dir", root, "not writable: %w; %s", err, fix)
	}
	probe.Close()
	os.Remove(probe.Name())
	lock, err := os.OpenFile(filepath.Join(root, "tickflow.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, configError("DataDir", "--data-dir", root, "lock file: %w; %s", err, fix)
	}
	if err := lockFile(lock); err != nil {
		lock.Close()
		return nil, configError("DataDir", "--data-dir", root, "in use by another running world (%v): stop it or use another directory", err)
	}
	return &dataDir{root: root, lock: lock}, nil
}

func (d *dataDir) kafkaDir() string { return filepath.Join(d.root, "kafka") }
func (d *dataDir) s3File() string   { return filepath.Join(d.root, "s3", "objects.bolt") }

func (d *dataDir) close() error {
	unlockFile(d.lock)
	return d.lock.Close()
}

// kfakeLogger forwards kfake's messages to slog at debug level (errors at
// warn): they are about the fake, not about the user's data.
type kfakeLogger struct{ l *slog.Logger }

func (k kfakeLogger) Logf(level kfake.LogLevel, format string, args ...any) {
	lv := slog.LevelDebug
	if level == kfake.LogLevelError {
		lv = slog.LevelWarn
	}
	if !k.l.Enabled(context.Background(), lv) {
		return
	}
	k.l.Log(context.Background(), lv, fmt.Sprintf(format, args...), "component", "kfake")
}

// sortedBrokers returns a copy of states ordered by id.
func sortedBrokers(bs []*brokerState) []BrokerInfo {
	out := make([]BrokerInfo, 0, len(bs))
	for _, b := range bs {
		out = append(out, BrokerInfo{ID: b.id, Addr: b.addr, Up: b.up})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
