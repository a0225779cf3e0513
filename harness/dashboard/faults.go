package dashboard

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tickflow/tickflow/broker"
)

// maxEvents bounds the event log the page shows.
const maxEvents = 200

// Action is a fault action, as POST /api/faults takes it (JSON). Every action
// goes through the broker Coordinator, exactly like the Go API.
type Action struct {
	// Action is one of: stop-broker, restart-broker, move-leader,
	// shuffle-leaders, s3-errors, s3-latency, kafka-errors, kafka-latency.
	Action string `json:"action"`
	// Broker is the broker id for stop-broker, restart-broker and
	// move-leader (the new leader).
	Broker *int32 `json:"broker,omitempty"`
	// Topic and Partition select the partition for move-leader.
	Topic     string `json:"topic,omitempty"`
	Partition *int32 `json:"partition,omitempty"`
	// On turns s3-errors / s3-latency on (true) or off (false).
	On bool `json:"on"`
	// Op limits an S3 fault to one operation (PUT, GET, HEAD, LIST, DELETE,
	// MULTIPART); "" is every operation.
	Op string `json:"op,omitempty"`
	// Share is the fraction of matching S3 requests to fail (default 0.5).
	Share float64 `json:"share,omitempty"`
	// Status is the HTTP status failed S3 requests get (default 503,
	// SlowDown).
	Status int `json:"status,omitempty"`
	// LatencyMS is the delay s3-latency and kafka-latency add (default 200).
	LatencyMS int `json:"latency_ms,omitempty"`
	// API is the Kafka request kafka-errors / kafka-latency act on, by its
	// protocol name (Produce, Fetch, OffsetCommit, JoinGroup, Metadata, ...).
	API string `json:"api,omitempty"`
	// Error is the Kafka error kafka-errors answers with, by its protocol
	// name (NOT_LEADER_FOR_PARTITION, REBALANCE_IN_PROGRESS, ...); default
	// NOT_LEADER_FOR_PARTITION for Produce and Fetch, REBALANCE_IN_PROGRESS
	// for OffsetCommit and JoinGroup, else UNKNOWN_SERVER_ERROR.
	Error string `json:"error,omitempty"`
}

const actionList = "stop-broker, restart-broker, move-leader, shuffle-leaders, s3-errors, s3-latency, kafka-errors or kafka-latency"

// Actions are every fault action, as Action.Action names them.
var Actions = []string{"stop-broker", "restart-broker", "move-leader", "shuffle-leaders", "s3-errors", "s3-latency", "kafka-errors", "kafka-latency"}

// errBadAction marks an action that was malformed (HTTP 400) rather than
// refused by the Coordinator (HTTP 409).
var errBadAction = errors.New("bad action")

func badAction(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errBadAction, fmt.Sprintf(format, args...))
}

// Do performs a fault action on the watched world and logs it in the event
// log. The page's buttons call it through POST /api/faults.
func (s *Server) Do(a Action) (string, error) {
	// Noted before the action, so a sample taken meanwhile does not log it
	// as an outside change; withdrawn when it fails.
	t := s.current()
	if t != nil {
		t.expect(a, true)
	}
	msg, err := s.do(a)
	if t != nil && err != nil {
		t.expect(a, false)
	}
	s.logEvent(a.Action, msg, err)
	if err == nil {
		s.mu.Lock()
		s.actions[a.Action]++
		s.mu.Unlock()
	}
	s.Refresh()
	return msg, err
}

func (s *Server) do(a Action) (string, error) {
	t := s.current()
	if t == nil {
		return "", errors.New("no world is attached")
	}
	c := t.coord
	needBroker := func() (int32, error) {
		if a.Broker == nil {
			return 0, badAction("%s needs \"broker\" (a broker id)", a.Action)
		}
		return *a.Broker, nil
	}
	switch a.Action {
	case "stop-broker":
		id, err := needBroker()
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("stopped broker %d", id), c.StopBroker(id)
	case "restart-broker":
		id, err := needBroker()
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("restarted broker %d", id), c.RestartBroker(id)
	case "move-leader":
		id, err := needBroker()
		if err != nil {
			return "", err
		}
		if a.Topic == "" || a.Partition == nil {
			return "", badAction("move-leader needs \"topic\" and \"partition\"")
		}
		return fmt.Sprintf("moved the leader of %s/%d to broker %d", a.Topic, *a.Partition, id), c.MoveLeader(a.Topic, *a.Partition, id)
	case "shuffle-leaders":
		return "shuffled every partition's leader", c.ShuffleLeaders()
	case "s3-errors", "s3-latency":
		return t.s3Fault(a)
	case "kafka-errors", "kafka-latency":
		return t.kafkaFault(a)
	case "":
		return "", badAction("no \"action\" given: use %s", actionList)
	}
	return "", badAction("unknown action %q: use %s", a.Action, actionList)
}

// s3Fault turns the dashboard's one S3 error fault or one S3 latency fault
// on (replacing an earlier one) or off.
func (t *target) s3Fault(a Action) (string, error) {
	slot, desc := &t.s3Errors, &t.s3Errs
	if a.Action == "s3-latency" {
		slot, desc = &t.s3Delay, &t.s3Delays
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !a.On {
		if *slot == nil {
			return fmt.Sprintf("%s already off", a.Action), nil
		}
		hits := (*slot).Hits()
		(*slot).Remove()
		*slot = nil
		return fmt.Sprintf("%s off (%s; it answered %d requests)", a.Action, *desc, hits), nil
	}
	op := strings.ToUpper(a.Op)
	what := op
	if what == "" {
		what = "every operation"
	}
	f := broker.S3Fault{Op: op, Seed: time.Now().UnixNano()}
	if a.Action == "s3-errors" {
		f.Status, f.Share = a.Status, a.Share
		if f.Status == 0 {
			f.Status = 503
		}
		if f.Share == 0 {
			f.Share = 0.5
		}
		*desc = fmt.Sprintf("HTTP %d on %.0f%% of %s", f.Status, f.Share*100, what)
	} else {
		ms := a.LatencyMS
		if ms == 0 {
			ms = 200
		}
		if ms < 0 || ms > 60_000 {
			return "", badAction("latency_ms %d: use 1..60000", ms)
		}
		f.Latency = time.Duration(ms) * time.Millisecond
		*desc = fmt.Sprintf("+%s on %s", f.Latency, what)
	}
	nf := t.coord.FailS3(f)
	if err := nf.Err(); err != nil {
		return "", fmt.Errorf("%w: %w", errBadAction, err)
	}
	if *slot != nil {
		(*slot).Remove()
	}
	*slot = nf
	return fmt.Sprintf("%s on: %s", a.Action, *desc), nil
}

// kafkaFault turns the dashboard's one Kafka error fault or one Kafka
// latency fault on (replacing an earlier one) or off.
func (t *target) kafkaFault(a Action) (string, error) {
	slot, desc := &t.kafkaErrors, &t.kafkaErrs
	if a.Action == "kafka-latency" {
		slot, desc = &t.kafkaDelay, &t.kafkaDelays
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !a.On {
		if *slot == nil {
			return fmt.Sprintf("%s already off", a.Action), nil
		}
		hits := (*slot).Hits()
		(*slot).Remove()
		*slot = nil
		return fmt.Sprintf("%s off (%s; it answered %d requests)", a.Action, *desc, hits), nil
	}
	if a.API == "" {
		return "", badAction("%s needs \"api\", a Kafka request name such as Produce, Fetch or OffsetCommit", a.Action)
	}
	key, ok := apiKey(a.API)
	if !ok {
		return "", badAction("api %q is not a Kafka request name: use e.g. Produce, Fetch, OffsetCommit, JoinGroup, Metadata", a.API)
	}
	var f *broker.Fault
	if a.Action == "kafka-errors" {
		name := strings.ToUpper(a.Error)
		if name == "" {
			name = defaultKafkaError(key)
		}
		ke, ok := kafkaError(name)
		if !ok {
			return "", badAction("error %q is not a Kafka error name: use e.g. NOT_LEADER_FOR_PARTITION, REBALANCE_IN_PROGRESS, REQUEST_TIMED_OUT", a.Error)
		}
		f = t.coord.FailKafka(key, ke, 0)
		*desc = fmt.Sprintf("%s on every %s request", ke.Message, kmsg.NameForKey(int16(key)))
	} else {
		ms := a.LatencyMS
		if ms == 0 {
			ms = 200
		}
		if ms < 0 || ms > 60_000 {
			return "", badAction("latency_ms %d: use 1..60000", ms)
		}
		d := time.Duration(ms) * time.Millisecond
		f = t.coord.DelayKafka(key, d)
		*desc = fmt.Sprintf("+%s on every %s request", d, kmsg.NameForKey(int16(key)))
	}
	if *slot != nil {
		(*slot).Remove()
	}
	*slot = f
	return fmt.Sprintf("%s on: %s", a.Action, *desc), nil
}

// apiKey finds a Kafka request by its protocol name, case-insensitively.
func apiKey(name string) (kmsg.Key, bool) {
	for k := int16(0); k < 200; k++ {
		if n := kmsg.NameForKey(k); n != "" && n != "Unknown" && strings.EqualFold(n, name) {
			return kmsg.Key(k), true
		}
	}
	return 0, false
}

// kafkaError finds a Kafka error by its protocol name.
func kafkaError(name string) (*kerr.Error, bool) {
	for c := int16(-1); c < 200; c++ {
		if e := kerr.TypedErrorForCode(c); e != nil && e.Message == name {
			return e, true
		}
	}
	return nil, false
}

func defaultKafkaError(k kmsg.Key) string {
	switch k {
	case kmsg.Produce, kmsg.Fetch:
		return kerr.NotLeaderForPartition.Message
	case kmsg.OffsetCommit, kmsg.JoinGroup:
		return kerr.RebalanceInProgress.Message
	}
	return kerr.UnknownServerError.Message
}

// logEvent appends to the event log shown on the page.
func (s *Server) logEvent(action, detail string, err error) {
	e := Event{Time: time.Now(), Action: action, Detail: detail, OK: err == nil}
	if err != nil {
		e.Error = err.Error()
		s.cfg.log.Warn("dashboard: action failed", "action", action, "err", err)
	} else {
		s.cfg.log.Info("dashboard: "+action, "detail", detail)
	}
	s.mu.Lock()
	s.events = append(s.events, e)
	if len(s.events) > maxEvents {
		s.events = s.events[len(s.events)-maxEvents:]
	}
	s.mu.Unlock()
}

// SetRun shows what a scenario run or demo is doing (nil clears the panel)
// and logs phase changes in the event log.
func (s *Server) SetRun(r *RunStatus) {
	s.mu.Lock()
	prev := s.run
	if r != nil {
		c := *r
		c.Checks = append([]Check(nil), r.Checks...)
		c.Finished = append([]RunDone(nil), r.Finished...)
		r = &c
	}
	s.run = r
	s.mu.Unlock()
	if r != nil && (prev == nil || prev.Name != r.Name || prev.Phase != r.Phase || prev.Iteration != r.Iteration) {
		it := ""
		if r.Iterations > 1 {
			it = fmt.Sprintf(" (iteration %d of %d)", r.Iteration+1, r.Iterations)
		}
		s.logEvent(r.Kind, fmt.Sprintf("%s%s: %s", r.Name, it, r.Phase), nil)
	}
	// Push at once what a person waits for (a new phase, a check's verdict);
	// a changed Detail (progress counts) waits for the next sample.
	if runKey(prev) != runKey(r) {
		s.notify()
	}
}

func runKey(r *RunStatus) string {
	if r == nil {
		return ""
	}
	return fmt.Sprintf("%s|%s|%d|%s|%v|%v", r.Kind, r.Name, r.Iteration, r.Phase, r.Checks, r.Finished)
}
