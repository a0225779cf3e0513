package dashboard

import (
	"fmt"
	"time"

	"github.com/tickflow/tickflow/harness/lake"
)

// Snapshot is one sample of the world plus what the dashboard itself holds
// (run status, verify result, event log). GET /api/state returns it as JSON
// and the page's event stream sends one per sample.
type Snapshot struct {
	Seq    uint64        `json:"seq"`
	Time   time.Time     `json:"time"`
	World  *WorldView    `json:"world,omitempty"` // nil: no world attached
	Run    *RunStatus    `json:"run,omitempty"`
	Verify *VerifyResult `json:"verify,omitempty"`
	Events []Event       `json:"events"`
	// Errors are what the last sample could not read (e.g. a stopped world).
	Errors []string `json:"errors,omitempty"`
}

// WorldView is the sampled state of a world.
type WorldView struct {
	Bootstrap  []string      `json:"bootstrap"`
	S3Endpoint string        `json:"s3_endpoint"`
	Bucket     string        `json:"bucket"`
	Prefix     string        `json:"prefix"`
	Controller int32         `json:"controller"`
	Brokers    []BrokerView  `json:"brokers"`
	Topics     []TopicView   `json:"topics"`
	Groups     []GroupView   `json:"groups"`
	Lake       LakeView      `json:"lake"`
	S3         []S3OpView    `json:"s3"`
	Faults     []ActiveFault `json:"faults"`
	SampleMS   float64       `json:"sample_ms"` // how long the sample took
}

// BrokerView is one broker.
type BrokerView struct {
	ID         int32  `json:"id"`
	Addr       string `json:"addr"`
	Up         bool   `json:"up"`
	Controller bool   `json:"controller"`
	Leaders    int    `json:"leaders"` // partitions it leads
}

// TopicView is a topic and its partitions.
type TopicView struct {
	Name       string          `json:"name"`
	Records    int64           `json:"records"` // sum of end - start
	Rate       float64         `json:"rate"`    // records/s over the last sample
	Partitions []PartitionView `json:"partitions"`
}

// PartitionView is one partition's leader and log offsets.
type PartitionView struct {
	Partition int32   `json:"partition"`
	Leader    int32   `json:"leader"`
	Start     int64   `json:"start"` // log start offset
	End       int64   `json:"end"`   // log end offset (high watermark)
	Rate      float64 `json:"rate"`  // records/s over the last sample
}

// GroupView is a consumer group with its lag now and over time.
type GroupView struct {
	Group   string `json:"group"`
	State   string `json:"state"`
	Members int    `json:"members"`
	// Lag is the total over the partitions whose lag is known; -1 when no
	// partition of the group is known (no member, nothing committed, never
	// seen subscribed).
	Lag int64 `json:"lag"`
	// Uncommitted counts the partitions with nothing committed: their lag
	// is every record from the log start.
	Uncommitted int `json:"uncommitted"`
	// Note says where the partitions come from when it is not obvious
	// (nothing committed, topics remembered, topics unknown).
	Note string `json:"note,omitempty"`
	// Error is what could not be read about this group.
	Error   string           `json:"error,omitempty"`
	Offsets []GroupPartition `json:"offsets"`
	History []LagPoint       `json:"history"` // oldest first
	// Trend is "falling", "rising", "flat" or "" (too few points), from the
	// last 10 s of History.
	Trend string `json:"trend"`
}

// GroupPartition is a group's committed offset and lag on one partition.
type GroupPartition struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Committed int64  `json:"committed"` // -1: nothing committed
	// NothingCommitted is true when the group has no commit for the
	// partition: Lag is then End − Start, every record still waiting.
	NothingCommitted bool  `json:"nothing_committed"`
	Start            int64 `json:"start"` // log start offset
	End              int64 `json:"end"`
	Lag              int64 `json:"lag"` // End − Committed (End − Start when nothing committed); -1: unknown
}

// LagPoint is a group's total lag at a time (Unix milliseconds).
type LagPoint struct {
	T   int64 `json:"t"`
	Lag int64 `json:"lag"`
}

// LakeView summarises the lake under the watched prefix.
type LakeView struct {
	// Location is the table root the counts are for: the watched prefix's
	// stock_ticks/ folder when it has one, else the prefix itself.
	Location string       `json:"location"`
	Objects  int64        `json:"objects"`
	Rows     int64        `json:"rows"` // from the sink's tickflow-records metadata
	Bytes    int64        `json:"bytes"`
	Pending  int          `json:"pending"` // objects whose metadata is not read yet
	Folders  []FolderView `json:"folders"` // the most recently written first, at most maxFolders
	// FolderCount is every dt/hour folder, shown or not.
	FolderCount int          `json:"folder_count"`
	Sizes       SizeSpread   `json:"sizes"`
	Newest      []ObjectView `json:"newest"` // the objects seen last, newest first
	Error       string       `json:"error,omitempty"`
	// Prefixes are the bucket's top-level folders ("" for objects at the
	// root), listed at most every 10 s, for the page's selector.
	Prefixes          []PrefixView `json:"prefixes"`
	PrefixesTruncated bool         `json:"prefixes_truncated,omitempty"` // more than 200
	PrefixesError     string       `json:"prefixes_error,omitempty"`
}

// PrefixView is one top-level folder of the bucket.
type PrefixView struct {
	Prefix  string `json:"prefix"` // "clicks/"; "" for objects at the root
	Objects int64  `json:"objects"`
	Bytes   int64  `json:"bytes"`
}

// FolderView is one dt=YYYY-MM-DD/hour=HH folder.
type FolderView struct {
	Dt      string `json:"dt"`
	Hour    string `json:"hour"`
	Objects int64  `json:"objects"`
	Rows    int64  `json:"rows"`
	Bytes   int64  `json:"bytes"`
}

// SizeSpread is the object size distribution in bytes.
type SizeSpread struct {
	Min int64 `json:"min"`
	P50 int64 `json:"p50"`
	P90 int64 `json:"p90"`
	Max int64 `json:"max"`
}

// ObjectView is one lake object.
type ObjectView struct {
	Key       string    `json:"key"`
	Size      int64     `json:"size"`
	Rows      int64     `json:"rows"` // -1 until its metadata is read
	Partition int32     `json:"partition"`
	Start     int64     `json:"start"`
	End       int64     `json:"end"` // exclusive; -1 until its metadata is read
	Seen      time.Time `json:"seen"`
}

// S3OpView counts the fake S3's requests of one operation.
type S3OpView struct {
	Op       string        `json:"op"`
	Requests int64         `json:"requests"`
	Errors   int64         `json:"errors"`
	ByStatus map[int]int64 `json:"by_status,omitempty"`
	Injected int64         `json:"injected"`
}

// ActiveFault is a fault the dashboard turned on.
type ActiveFault struct {
	Kind string `json:"kind"` // "s3-errors", "s3-latency", "kafka-errors" or "kafka-latency"
	Desc string `json:"desc"`
	Hits int    `json:"hits"`
}

// Event is one line of the page's event log.
type Event struct {
	Time   time.Time `json:"time"`
	Action string    `json:"action"`
	Detail string    `json:"detail"`
	OK     bool      `json:"ok"`
	Error  string    `json:"error,omitempty"`
}

// RunStatus is what a scenario run or demo is doing, for the run panel.
type RunStatus struct {
	Kind       string    `json:"kind"` // "scenario" or "demo"
	Name       string    `json:"name"`
	Seed       int64     `json:"seed,omitempty"`
	Iteration  int       `json:"iteration"`  // 0-based
	Iterations int       `json:"iterations"` // 0: unknown
	Phase      string    `json:"phase"`
	Detail     string    `json:"detail,omitempty"`
	Checks     []Check   `json:"checks,omitempty"`
	Finished   []RunDone `json:"finished,omitempty"` // earlier scenarios of the run
}

// Check is one invariant and its state: "pending", "pass" or "fail".
type Check struct {
	Name   string `json:"name"`
	State  string `json:"state"`
	Detail string `json:"detail,omitempty"`
}

// RunDone is a finished scenario's verdict.
type RunDone struct {
	Name   string `json:"name"`
	Status string `json:"status"` // pass, FAIL, ERROR
	Detail string `json:"detail,omitempty"`
}

// VerifyResult is the latest lake check.
type VerifyResult struct {
	Running    bool             `json:"running"`
	Started    time.Time        `json:"started"`
	Seconds    float64          `json:"seconds"`
	OK         bool             `json:"ok"`
	Error      string           `json:"error,omitempty"` // the check could not run (e.g. empty lake)
	Objects    int              `json:"objects"`
	Rows       int64            `json:"rows"`
	Distinct   int64            `json:"distinct"`
	Duplicates int64            `json:"duplicates"`
	Rules      []string         `json:"rules"` // rule IDs violated
	Violations []lake.Violation `json:"violations"`
	Tables     int              `json:"tables"` // tables a crawler would create
}

const maxViolations = 50

func (v *VerifyResult) fill(rep *lake.Report) {
	v.OK = rep.OK()
	v.Objects = rep.DataObjects
	v.Rows, v.Distinct, v.Duplicates = rep.Rows, rep.Distinct, rep.Duplicates
	v.Rules = rep.Rules()
	if v.Rules == nil {
		v.Rules = []string{}
	}
	v.Violations = rep.Violations
	if len(v.Violations) > maxViolations {
		v.Violations = v.Violations[:maxViolations]
	}
	v.Tables = len(rep.Tables)
}

func (v *VerifyResult) summary() string {
	switch {
	case v.Error != "":
		return "lake check could not run"
	case v.OK && len(v.Rules) == 0:
		return fmt.Sprintf("lake check OK: %d rows in %d objects, no violations", v.Rows, v.Objects)
	case v.OK:
		return fmt.Sprintf("lake check OK with warnings %v: %d rows in %d objects", v.Rules, v.Rows, v.Objects)
	}
	return fmt.Sprintf("lake check FAILED: rules %v violated; %d rows in %d objects", v.Rules, v.Rows, v.Objects)
}
