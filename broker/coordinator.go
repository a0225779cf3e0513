package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ErrController is returned by StopBroker for the controller broker (the
// highest id): kfake cannot elect a new controller, so with it gone
// CreateTopics and CreatePartitions would fail with NOT_CONTROLLER forever.
var ErrController = errors.New("broker is the controller")

// BrokerInfo describes one broker.
type BrokerInfo struct {
	ID   int32
	Addr string // "127.0.0.1:port"; kept while the broker is down
	Up   bool
}

// PartitionInfo is one partition and its leader's broker id.
type PartitionInfo struct {
	Partition int32
	Leader    int32
}

// TopicInfo is a topic with its partitions ordered by number.
type TopicInfo struct {
	Name       string
	Partitions []PartitionInfo
}

// GroupOffset is a consumer group's committed offset for one partition, the
// partition's end offset and the difference.
type GroupOffset struct {
	Topic     string
	Partition int32
	Committed int64 // -1 when nothing is committed
	End       int64
	Lag       int64 // -1 when it cannot be computed
}

// GroupInfo is a consumer group's state (Empty, Stable, ...), its member
// count and its offsets ordered by topic and partition.
type GroupInfo struct {
	Group   string
	State   string
	Members int
	Offsets []GroupOffset
}

// Coordinator is the ZooKeeper-free owner of cluster state: it reports
// brokers, topics and groups and acts on them (stop, restart, move leaders,
// add partitions, inject faults). All methods are safe for concurrent use.
type Coordinator struct {
	w          *World
	controller int32

	mu      sync.Mutex // serialises actions; guards brokers and closed
	brokers []*brokerState
	closed  bool
}

type brokerState struct {
	id   int32
	addr string
	up   bool
}

// Brokers returns every broker, up or down, ordered by id.
func (c *Coordinator) Brokers() []BrokerInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	return sortedBrokers(c.brokers)
}

// Controller returns the id of the controller broker, which StopBroker
// refuses to stop (see ErrController).
func (c *Coordinator) Controller() int32 { return c.controller }

// Topics returns the topics (internal ones excluded) ordered by name, with
// their partitions' current leaders, as the brokers report them.
func (c *Coordinator) Topics(ctx context.Context) ([]TopicInfo, error) {
	// A raw request, not kadm: kadm answers from kgo's metadata cache,
	// which could hide a leader move made a moment ago.
	req := kmsg.NewPtrMetadataRequest()
	resp, err := req.RequestWith(ctx, c.w.kcl)
	if err != nil {
		return nil, fmt.Errorf("broker: list topics: %w", err)
	}
	var out []TopicInfo
	for _, t := range resp.Topics {
		if t.Topic == nil || t.IsInternal {
			continue
		}
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			return nil, fmt.Errorf("broker: list topics: %s: %w", *t.Topic, err)
		}
		ti := TopicInfo{Name: *t.Topic}
		for _, p := range t.Partitions {
			ti.Partitions = append(ti.Partitions, PartitionInfo{Partition: p.Partition, Leader: p.Leader})
		}
		sort.Slice(ti.Partitions, func(i, j int) bool { return ti.Partitions[i].Partition < ti.Partitions[j].Partition })
		out = append(out, ti)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Groups returns every consumer group ordered by name, with committed
// offsets, end offsets and lag per partition.
func (c *Coordinator) Groups(ctx context.Context) ([]GroupInfo, error) {
	listed, err := c.w.adm.ListGroups(ctx)
	if err != nil {
		return nil, fmt.Errorf("broker: list groups: %w", err)
	}
	names := listed.Groups()
	if len(names) == 0 {
		return nil, nil
	}
	lags, err := c.w.adm.Lag(ctx, names...)
	if err != nil {
		return nil, fmt.Errorf("broker: group lag: %w", err)
	}
	var out []GroupInfo
	for _, name := range names {
		l, ok := lags[name]
		if !ok {
			continue
		}
		if err := l.Error(); err != nil {
			return nil, fmt.Errorf("broker: describe group %q: %w", name, err)
		}
		gi := GroupInfo{Group: name, State: l.State, Members: len(l.Members)}
		for _, ml := range l.Lag.Sorted() {
			gi.Offsets = append(gi.Offsets, GroupOffset{
				Topic:     ml.Topic,
				Partition: ml.Partition,
				Committed: ml.Commit.At,
				End:       ml.End.Offset,
				Lag:       ml.Lag,
			})
		}
		out = append(out, gi)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Group < out[j].Group })
	return out, nil
}

// CreateTopic creates a topic. An existing topic gives an error wrapping
// kerr.TopicAlreadyExists.
func (c *Coordinator) CreateTopic(ctx context.Context, name string, partitions int) error {
	if err := validTopic(name); err != nil {
		return fmt.Errorf("broker: create topic %q: %w", name, err)
	}
	if partitions < 1 {
		return fmt.Errorf("broker: create topic %q: partitions must be at least 1, got %d", name, partitions)
	}
	resp, err := c.w.adm.CreateTopic(ctx, int32(partitions), -1, nil, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return fmt.Errorf("broker: create topic %q: %w", name, err)
	}
	return nil
}

// AddPartitions adds add partitions to topic. Their leaders are spread over
// the live brokers by kfake.
func (c *Coordinator) AddPartitions(ctx context.Context, topic string, add int) error {
	if add < 1 {
		return fmt.Errorf("broker: add partitions to %q: add must be at least 1, got %d", topic, add)
	}
	resps, err := c.w.adm.CreatePartitions(ctx, add, topic)
	if err == nil {
		for _, r := range resps {
			if r.Err != nil {
				err = r.Err
				break
			}
		}
	}
	if err != nil {
		return fmt.Errorf("broker: add %d partitions to %q: %w", add, topic, err)
	}
	return nil
}

// StopBroker takes a broker down: its port refuses connections, connections
// already open to it are cut (so requests in flight on them fail), it leaves
// the metadata, and its partitions get new leaders among the live brokers.
// kfake has no replication, so nothing acknowledged is lost: only leadership
// moves. The last live broker and the controller (see ErrController) cannot
// be stopped.
func (c *Coordinator) StopBroker(id int32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, err := c.brokerLocked(id)
	if err != nil {
		return err
	}
	if !b.up {
		return fmt.Errorf("broker: stop broker %d: it is already down", id)
	}
	if id == c.controller {
		return fmt.Errorf("broker: stop broker %d: %w (kfake cannot elect a new one, so topic creation would fail); stop another broker", id, ErrController)
	}
	live := 0
	for _, o := range c.brokers {
		if o.up {
			live++
		}
	}
	if live <= 1 {
		return fmt.Errorf("broker: stop broker %d: it is the last live broker", id)
	}
	if err := c.w.cluster.RemoveNode(id); err != nil {
		return fmt.Errorf("broker: stop broker %d: %w", id, err)
	}
	c.w.lns.cut(b.addr)
	b.up = false
	c.w.log.Info("broker: broker stopped", "id", id, "addr", b.addr)
	return nil
}

// RestartBroker brings a stopped broker back with the same id and address.
// kfake then re-elects leaders for all partitions across the live brokers.
// If its port was taken meanwhile the error wraps ErrAddrInUse.
func (c *Coordinator) RestartBroker(id int32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, err := c.brokerLocked(id)
	if err != nil {
		return err
	}
	if b.up {
		return fmt.Errorf("broker: restart broker %d: it is already up", id)
	}
	_, port, _ := net.SplitHostPort(b.addr)
	p, _ := strconv.Atoi(port)
	if _, _, err := c.w.cluster.AddNode(id, p); err != nil {
		if isAddrInUse(err) {
			return fmt.Errorf("broker: restart broker %d: its address %s is taken: %w", id, b.addr, ErrAddrInUse)
		}
		return fmt.Errorf("broker: restart broker %d: %w", id, err)
	}
	b.up = true
	c.w.log.Info("broker: broker restarted", "id", id, "addr", b.addr)
	return nil
}

// MoveLeader makes broker the leader of topic/partition. The broker must be
// up.
func (c *Coordinator) MoveLeader(topic string, partition int32, broker int32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, err := c.brokerLocked(broker)
	if err != nil {
		return err
	}
	if !b.up {
		return fmt.Errorf("broker: move leader of %s/%d to broker %d: that broker is down; restart it first", topic, partition, broker)
	}
	if err := c.w.cluster.MoveTopicPartition(topic, partition, broker); err != nil {
		return fmt.Errorf("broker: move leader of %s/%d to broker %d: %w", topic, partition, broker, err)
	}
	return nil
}

// ShuffleLeaders simulates a leader election for every partition: each gets
// a random live leader and a new leader epoch.
func (c *Coordinator) ShuffleLeaders() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	c.w.cluster.ShufflePartitionLeaders()
	return nil
}

// brokerLocked finds broker id for a verb that acts on it (c.mu held); it
// returns ErrClosed once the world is closed.
func (c *Coordinator) brokerLocked(id int32) (*brokerState, error) {
	if c.closed {
		return nil, ErrClosed
	}
	for _, b := range c.brokers {
		if b.id == id {
			return b, nil
		}
	}
	return nil, fmt.Errorf("broker: no broker with id %d (ids are 0..%d)", id, len(c.brokers)-1)
}
